//! A signee's X.509 signing certificate, issued on `QC-PASS` for the key
//! made when they set their PIN: subject from the verified case (full name,
//! ID kind, nationality, a keyed hash of the ID number — never the number),
//! keyUsage digitalSignature + nonRepudiation, extendedKeyUsage document
//! signing (RFC 9336), two years as roaming certificates are, and a random
//! 127-bit serial.

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose, SerialNumber,
    SubjectPublicKeyInfo,
};
use sha2::{Digest, Sha256};

use super::authority::{Authority, CaError, offset};

/// id-kp-documentSigning (RFC 9336).
pub const DOCUMENT_SIGNING: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 36];

/// How long a signee's certificate is valid.
pub const VALID_DAYS: i64 = 730;

/// What the certificate says of its holder.
pub struct Subject<'a> {
    pub full_name: &'a str,
    /// e.g. `MyKad`, `Passport`.
    pub id_kind: &'a str,
    pub nationality: &'a str,
    /// Hex of a keyed hash of the ID number (the store's secret).
    pub id_digest: &'a str,
}

/// An issued certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub der: Vec<u8>,
    /// Upper-case hex, no separators.
    pub serial: String,
    /// SHA-256 of the DER, upper-case hex in colon-separated pairs.
    pub fingerprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Authority {
    /// Issues the certificate for the public key `spki_der` (DER
    /// SubjectPublicKeyInfo).
    pub fn issue(
        &self,
        subject: &Subject<'_>,
        spki_der: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Issued, CaError> {
        let public = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| CaError::Issue(format!("the signee's public key: {e}")))?;
        let mut params = CertificateParams::default();
        let dn = &mut params.distinguished_name;
        dn.push(DnType::CommonName, subject.full_name);
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            format!(
                "IDH-{}",
                &subject.id_digest[..subject.id_digest.len().min(40)]
            ),
        );
        dn.push(
            DnType::OrganizationalUnitName,
            format!("{}; {}", subject.id_kind, subject.nationality),
        );
        if let Some(code) = country_code(subject.nationality) {
            dn.push(DnType::CountryName, code);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::Other(DOCUMENT_SIGNING.to_vec()),
            // What NSS (poppler's pdfsig, Firefox) checks a PDF signer's
            // certificate for.
            ExtendedKeyUsagePurpose::EmailProtection,
        ];
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial().map_err(CaError::Issue)?;
        params.serial_number = Some(serial.clone());
        let not_before = now - Duration::minutes(5);
        let not_after = now + Duration::days(VALID_DAYS);
        params.not_before = offset(not_before);
        params.not_after = offset(not_after);
        let issuer = self.issuer()?;
        let cert = params
            .signed_by(&public, &issuer)
            .map_err(|e| CaError::Issue(e.to_string()))?;
        let der = cert.der().to_vec();
        Ok(Issued {
            fingerprint: fingerprint(&der),
            serial: hex::encode_upper(serial.to_bytes()),
            der,
            not_before,
            not_after,
        })
    }
}

/// SHA-256 of a certificate's DER, as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// 16 random bytes, the first bit clear (a positive INTEGER) and the first
/// byte non-zero (no shorter encoding): unique by chance of 2^-127.
pub(super) fn random_serial() -> Result<SerialNumber, String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("no randomness from the OS: {e}"))?;
    bytes[0] = (bytes[0] & 0x7f).max(1);
    Ok(SerialNumber::from_slice(&bytes))
}

/// ISO 3166 alpha-2 for the nationalities packs name most; none for the
/// rest (the nationality stays in the OU in words).
fn country_code(nationality: &str) -> Option<&'static str> {
    let n = nationality.trim().to_ascii_lowercase();
    let table: &[(&[&str], &str)] = &[
        (&["malaysia", "malaysian", "warganegara malaysia"], "MY"),
        (&["singapore", "singaporean"], "SG"),
        (&["indonesia", "indonesian"], "ID"),
        (&["brunei", "bruneian"], "BN"),
        (&["thailand", "thai"], "TH"),
        (&["china", "chinese"], "CN"),
        (&["india", "indian"], "IN"),
        (&["united kingdom", "british", "uk"], "GB"),
        (&["australia", "australian"], "AU"),
        (&["united arab emirates", "uae", "emirati"], "AE"),
        (&["united states", "american", "usa"], "US"),
        (&["japan", "japanese"], "JP"),
    ];
    table
        .iter()
        .find(|(names, _)| names.contains(&n.as_str()))
        .map(|(_, code)| *code)
}
