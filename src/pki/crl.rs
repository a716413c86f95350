//! The CA's certificate revocation list: every certificate `RESET-PIN`
//! revoked, signed by the CA (`sijil ca crl`).

use chrono::{DateTime, Duration, Utc};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};

use super::authority::{Authority, CaError, offset};

/// A revoked certificate: its serial (hex) and when.
pub struct Revoked<'a> {
    pub serial: &'a str,
    pub at: DateTime<Utc>,
}

/// How long a CRL is current; `sijil ca crl` is run again before then.
const NEXT_UPDATE_DAYS: i64 = 7;

impl Authority {
    /// The CRL (PEM) listing `revoked`, numbered `number`.
    pub fn crl(
        &self,
        revoked: &[Revoked<'_>],
        number: u64,
        now: DateTime<Utc>,
    ) -> Result<String, CaError> {
        let revoked_certs = revoked
            .iter()
            .map(|r| {
                let bytes = hex::decode(r.serial)
                    .map_err(|e| CaError::Issue(format!("serial {}: {e}", r.serial)))?;
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&bytes),
                    revocation_time: offset(r.at),
                    reason_code: Some(rcgen::RevocationReason::Superseded),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let params = CertificateRevocationListParams {
            this_update: offset(now),
            next_update: offset(now + Duration::days(NEXT_UPDATE_DAYS)),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer()?)
            .map_err(|e| CaError::Issue(e.to_string()))?;
        crl.pem().map_err(|e| CaError::Issue(e.to_string()))
    }
}
