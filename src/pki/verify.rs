//! Checks a signed PDF without trusting the store (`sijil verify`): for
//! each signature, who signed and when, the certificate's serial, whether
//! the bytes it covers are intact, whether its chain reaches the CA given,
//! whether the certificate is on a revocation list given, and whether the
//! document changed after it (other than by later signatures). The
//! cryptography is `underskrift`'s verifier, offline.

use chrono::{DateTime, Utc};
use underskrift::SignatureVerifier;
use underskrift::trust::{TrustStore, TrustStoreSet};

/// One signature's findings.
#[derive(Debug, Clone)]
pub struct Checked {
    pub field: String,
    pub signer: String,
    /// The time the signature claims (the CMS signing time).
    pub at: Option<DateTime<Utc>>,
    pub serial: Option<String>,
    pub intact: bool,
    pub chain_trusted: bool,
    pub revoked: bool,
    pub changed_after: bool,
    /// The verifier's own words where something failed.
    pub problems: Vec<String>,
}

impl Checked {
    pub fn holds(&self) -> bool {
        self.intact && self.chain_trusted && !self.revoked && !self.changed_after
    }
}

/// Every signature of one PDF.
#[derive(Debug, Clone)]
pub struct Report {
    pub signatures: Vec<Checked>,
}

impl Report {
    /// Only when every signature holds (and there is one).
    pub fn all_hold(&self) -> bool {
        !self.signatures.is_empty() && self.signatures.iter().all(Checked::holds)
    }
}

/// Checks `pdf` against the CA certificates `anchors` (DER) and the
/// revoked serials (upper-case hex) `revoked`.
pub fn verify(pdf: &[u8], anchors: &[Vec<u8>], revoked: &[String]) -> Result<Report, String> {
    let mut store = TrustStore::new();
    for der in anchors {
        store
            .add_der_certificate(der)
            .map_err(|e| format!("the CA certificate: {e}"))?;
    }
    let set = TrustStoreSet::new().with_sig_store(store);
    let report = match SignatureVerifier::new(&set).verify_pdf(pdf) {
        Ok(report) => report,
        Err(e) if e.to_string().to_lowercase().contains("no signature") => {
            return Ok(Report {
                signatures: Vec::new(),
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    let claimed = claimed_times(pdf);
    let count = report.signatures.len();
    let signatures = report
        .signatures
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let last = i + 1 == count;
            let (serial, subject) = s
                .signer_cert_der
                .as_deref()
                .and_then(certificate_names)
                .unzip();
            let intact = s.integrity_ok
                && s.digest_matches
                && s.cryptographic_validity == underskrift::verify::report::CryptoValidity::Valid;
            let changed_after = s.modifications_after_signing || (last && !s.covers_whole_document);
            let revoked = serial
                .as_ref()
                .is_some_and(|serial| revoked.iter().any(|r| r.eq_ignore_ascii_case(serial)));
            let mut problems = s.integrity_issues.clone();
            if !intact || !s.chain_trusted {
                problems.push(s.summary.clone());
            }
            Checked {
                field: s.field_name.clone(),
                signer: s.signer_name.clone().or(subject).unwrap_or_default(),
                at: s
                    .cms_signing_time
                    .or_else(|| claimed.get(&s.field_name).copied()),
                serial,
                intact,
                chain_trusted: s.chain_trusted,
                revoked,
                changed_after,
                problems,
            }
        })
        .collect();
    Ok(Report { signatures })
}

/// The time each signature field's dictionary claims in its /Reason
/// ("signed at …Z", as sijil writes it; covered by the signature).
fn claimed_times(pdf: &[u8]) -> std::collections::HashMap<String, DateTime<Utc>> {
    let mut out = std::collections::HashMap::new();
    let Some(pdf) = super::repair::readable(pdf) else {
        return out;
    };
    let Ok(doc) = lopdf::Document::load_mem(&pdf) else {
        return out;
    };
    let Ok(re) = regex::Regex::new(r"signed at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)") else {
        return out;
    };
    for object in doc.objects.values() {
        let Ok(field) = object.as_dict() else {
            continue;
        };
        if field.get(b"FT").and_then(|o| o.as_name()).ok() != Some(b"Sig".as_slice()) {
            continue;
        }
        let name = field.get(b"T").and_then(|o| o.as_str()).ok();
        let value = field
            .get(b"V")
            .and_then(|o| o.as_reference())
            .and_then(|id| doc.get_dictionary(id))
            .and_then(|sig| sig.get(b"Reason"))
            .and_then(|o| o.as_str())
            .ok();
        if let (Some(name), Some(reason)) = (name, value) {
            let reason = String::from_utf8_lossy(reason);
            if let Some(at) = re
                .captures(&reason)
                .and_then(|c| DateTime::parse_from_rfc3339(&c[1]).ok())
            {
                out.insert(
                    String::from_utf8_lossy(name).into_owned(),
                    at.with_timezone(&Utc),
                );
            }
        }
    }
    out
}

/// A certificate's serial (upper-case hex) and subject.
fn certificate_names(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let serial = hex::encode_upper(cert.raw_serial());
    let serial = serial.trim_start_matches("00").to_string();
    Some((serial, cert.subject().to_string()))
}

/// The serials a CRL (PEM or DER) lists, upper-case hex.
pub fn crl_serials(bytes: &[u8]) -> Result<Vec<String>, String> {
    let der = match x509_parser::pem::parse_x509_pem(bytes) {
        Ok((_, pem)) => pem.contents,
        Err(_) => bytes.to_vec(),
    };
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| format!("not a CRL: {e}"))?;
    Ok(crl
        .iter_revoked_certificates()
        .map(|r| {
            hex::encode_upper(r.raw_serial())
                .trim_start_matches("00")
                .to_string()
        })
        .collect())
}
