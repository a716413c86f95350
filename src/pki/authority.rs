//! The issuing CA: its certificate and key read from `[ca]` (checked: a CA
//! certificate, in its validity, the key its own), a self-signed test CA
//! made by `sijil ca init DIR`, and the RA's attestation certificate that
//! seals an iDsaya signee's consent into the PDF.
//!
//! The attestation key is derived from the CA key (HMAC-SHA256 under the CA
//! key's PKCS#8 bytes), so it needs no file of its own and is the same
//! after every restart; its certificate, issued by the CA at load, names
//! the RA and says what it is for.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::certificate::{DOCUMENT_SIGNING, random_serial};
use crate::config::CaConfig;

/// How long a CA made by `sijil ca init` is valid.
const TEST_CA_YEARS: i64 = 10;

/// Why the CA cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("{path} is not a PEM certificate: {error}")]
    NotCertificate { path: PathBuf, error: String },
    #[error("{path} holds no usable private key (PKCS#8 PEM, ECDSA P-256): {error}")]
    NotKey { path: PathBuf, error: String },
    #[error("the CA certificate is not a CA (basicConstraints cA is not set)")]
    NotCa,
    #[error("the CA certificate expired on {0}")]
    Expired(DateTime<Utc>),
    #[error("the CA certificate is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("the CA key is not the key of the CA certificate (they do not match)")]
    Mismatch,
    #[error("{0} exists already: a CA is never overwritten")]
    Exists(PathBuf),
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: String },
    #[error("issuing: {0}")]
    Issue(String),
}

/// The loaded CA.
pub struct Authority {
    cert_der: Vec<u8>,
    key: KeyPair,
    subject: String,
    not_after: DateTime<Utc>,
    attestation: Attestation,
}

/// The RA's own signing identity for attestations.
pub struct Attestation {
    pub key: p256::ecdsa::SigningKey,
    pub cert_der: Vec<u8>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Reads and checks the CA `[ca]` names; `ra_name` goes into the
    /// attestation certificate.
    pub fn load(cfg: &CaConfig, ra_name: &str, now: DateTime<Utc>) -> Result<Authority, CaError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| CaError::Read {
                path: path.to_path_buf(),
                error: e.to_string(),
            })
        };
        let cert_pem = read(&cfg.certificate)?;
        let key_pem = Zeroizing::new(read(&cfg.key)?);
        Authority::from_pem(
            &cfg.certificate,
            &cert_pem,
            &cfg.key,
            &key_pem,
            ra_name,
            now,
        )
    }

    fn from_pem(
        cert_path: &Path,
        cert_pem: &str,
        key_path: &Path,
        key_pem: &str,
        ra_name: &str,
        now: DateTime<Utc>,
    ) -> Result<Authority, CaError> {
        let not_cert = |error: String| CaError::NotCertificate {
            path: cert_path.to_path_buf(),
            error,
        };
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| not_cert(e.to_string()))?;
        let cert = pem.parse_x509().map_err(|e| not_cert(e.to_string()))?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| CaError::NotKey {
            path: key_path.to_path_buf(),
            error: e.to_string(),
        })?;
        if !key.is_compatible(&PKCS_ECDSA_P256_SHA256) {
            return Err(CaError::NotKey {
                path: key_path.to_path_buf(),
                error: "not an ECDSA P-256 key".into(),
            });
        }
        if !cert.is_ca() {
            return Err(CaError::NotCa);
        }
        let time = |t: x509_parser::time::ASN1Time| {
            Utc.timestamp_opt(t.timestamp(), 0)
                .single()
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let not_before = time(cert.validity().not_before);
        let not_after = time(cert.validity().not_after);
        if now >= not_after {
            return Err(CaError::Expired(not_after));
        }
        if now < not_before {
            return Err(CaError::NotYetValid(not_before));
        }
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(CaError::Mismatch);
        }
        let subject = cert.subject().to_string();
        let cert_der = pem.contents.clone();
        let attestation = attestation(&cert_der, &key, ra_name, not_after, now)?;
        Ok(Authority {
            cert_der,
            key,
            subject,
            not_after,
            attestation,
        })
    }

    /// Makes a self-signed test CA in `dir`: `ca.pem` and `ca.key` (0600).
    /// Refuses to overwrite either.
    pub fn init(dir: &Path, name: &str, now: DateTime<Utc>) -> Result<CaConfig, CaError> {
        let cfg = CaConfig {
            certificate: dir.join("ca.pem"),
            key: dir.join("ca.key"),
        };
        for path in [&cfg.certificate, &cfg.key] {
            if path.exists() {
                return Err(CaError::Exists(path.clone()));
            }
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CaError::Issue(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.distinguished_name.push(
            DnType::OrganizationName,
            "sijil test CA (not for production)",
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial().map_err(CaError::Issue)?);
        params.not_before = offset(now - Duration::minutes(5));
        params.not_after = offset(now + Duration::days(365 * TEST_CA_YEARS));
        let cert = params
            .self_signed(&key)
            .map_err(|e| CaError::Issue(e.to_string()))?;
        let write = |path: &Path, text: &str, mode: u32| -> Result<(), CaError> {
            let failed = |e: std::io::Error| CaError::Write {
                path: path.to_path_buf(),
                error: e.to_string(),
            };
            std::fs::create_dir_all(dir).map_err(failed)?;
            write_new(path, text.as_bytes(), mode).map_err(failed)
        };
        write(&cfg.key, &Zeroizing::new(key.serialize_pem()), 0o600)?;
        write(&cfg.certificate, &cert.pem(), 0o644)?;
        Ok(cfg)
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    pub fn attestation(&self) -> &Attestation {
        &self.attestation
    }

    /// Signs what the CA issues.
    pub(super) fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, CaError> {
        let der = rustls::pki_types::CertificateDer::from(self.cert_der.clone());
        Issuer::from_ca_cert_der(&der, &self.key).map_err(|e| CaError::Issue(e.to_string()))
    }
}

/// Writes a file that must not exist yet, with `mode` from its creation.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

pub(super) fn offset(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The RA's attestation key (derived from the CA key) and its certificate.
fn attestation(
    ca_der: &[u8],
    ca_key: &KeyPair,
    ra_name: &str,
    ca_not_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Attestation, CaError> {
    use p256::pkcs8::EncodePrivateKey;
    let secret = Zeroizing::new(ca_key.serialize_der());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret)
        .map_err(|e| CaError::Issue(e.to_string()))?;
    mac.update(b"sijil RA attestation key v1");
    let seed = Zeroizing::new(mac.finalize().into_bytes());
    let signing = p256::ecdsa::SigningKey::from_slice(&seed)
        .map_err(|e| CaError::Issue(format!("attestation key: {e}")))?;
    let pkcs8 = signing
        .to_pkcs8_der()
        .map_err(|e| CaError::Issue(format!("attestation key: {e}")))?;
    let pair = KeyPair::try_from(pkcs8.as_bytes()).map_err(|e| CaError::Issue(e.to_string()))?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{ra_name} (RA attestation)"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, ra_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::Other(DOCUMENT_SIGNING.to_vec()),
        // What NSS (poppler's pdfsig, Firefox) and Acrobat check a PDF
        // signer's certificate for.
        ExtendedKeyUsagePurpose::EmailProtection,
    ];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial().map_err(CaError::Issue)?);
    params.not_before = offset(now - Duration::minutes(5));
    params.not_after = offset(ca_not_after.min(now + Duration::days(730)));
    let der = rustls::pki_types::CertificateDer::from(ca_der.to_vec());
    let issuer =
        Issuer::from_ca_cert_der(&der, ca_key).map_err(|e| CaError::Issue(e.to_string()))?;
    let cert = params
        .signed_by(&pair, &issuer)
        .map_err(|e| CaError::Issue(e.to_string()))?;
    Ok(Attestation {
        key: signing,
        cert_der: cert.der().to_vec(),
    })
}
