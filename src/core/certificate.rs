//! What a case keeps of its signee's key and certificate (SPEC §7a): the
//! private key only sealed under the PIN, the certificate the CA issued on
//! `QC-PASS`, and the certificates `RESET-PIN` revoked. Data only: the
//! sealing and the issuing are done by `crate::pki`, on the edges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A private key (PKCS#8) sealed with AES-256-GCM under Argon2id(PIN, its
/// own salt), the case reference as associated data: it opens only with
/// the PIN, and only for this case.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    /// e.g. `ECDSA-P256`.
    pub algorithm: String,
    /// The key derivation and its parameters, e.g. `argon2id m=19456 t=2 p=1`.
    pub kdf: String,
    /// base64: the KDF's salt, the AEAD nonce, the sealed key.
    pub salt: String,
    pub nonce: String,
    pub sealed: String,
    /// base64 DER SubjectPublicKeyInfo: what the certificate is issued for.
    pub public_key: String,
    pub made_at: DateTime<Utc>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKey")
            .field("algorithm", &self.algorithm)
            .field("made_at", &self.made_at)
            .finish_non_exhaustive()
    }
}

/// A certificate the CA issued for the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// Upper-case hex.
    pub serial: String,
    /// SHA-256 of the DER, `AB:CD:…`.
    pub fingerprint: String,
    /// base64 DER.
    pub der: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The case's key and certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// Made when the PIN was set; dropped by `RESET-PIN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedKey>,
    /// Issued on `QC-PASS` for `sealed`'s public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<IssuedCertificate>,
    /// Certificates revoked by `RESET-PIN`, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<IssuedCertificate>,
}

impl Keys {
    pub fn is_empty(&self) -> bool {
        *self == Keys::default()
    }

    /// `RESET-PIN`: the certificate is revoked and the key dropped, so the
    /// next PIN set makes a new key and the next `QC-PASS` a new certificate.
    pub fn revoke(&mut self, now: DateTime<Utc>) -> Option<String> {
        self.sealed = None;
        let mut cert = self.certificate.take()?;
        cert.revoked_at = Some(now);
        let serial = cert.serial.clone();
        self.revoked.push(cert);
        Some(serial)
    }

    /// The certificate in force (issued, not revoked).
    pub fn current(&self) -> Option<&IssuedCertificate> {
        self.certificate.as_ref().filter(|c| c.revoked_at.is_none())
    }
}
