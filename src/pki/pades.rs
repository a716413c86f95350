//! Adds a PAdES B-B signature (`ETSI.CAdES.detached`) to a PDF as an
//! incremental update, so every earlier signature stays valid: the
//! signee's own key and certificate (the `manual` route), or the RA's
//! attestation key for an iDsaya signee's consent. Built on `underskrift`
//! (BSD-2-Clause: several signatures, incremental updates, a signer trait
//! for a key held only for the moment of signing); the key is ours.

use chrono::{DateTime, Utc};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::DecodePrivateKey;
use underskrift::error::CryptoError;
use underskrift::{
    CryptoSigner, DigestAlgorithm, PdfSigner, SignatureAlgorithm, SigningOptions, SubFilter,
};

/// A P-256 key with its certificate chain (its own first, the CA last).
pub struct KeySigner {
    key: p256::ecdsa::SigningKey,
    chain: Vec<Vec<u8>>,
}

impl KeySigner {
    /// From an unsealed PKCS#8 key; the key is zeroed when the signer drops.
    pub fn from_pkcs8(pkcs8: &[u8], chain: Vec<Vec<u8>>) -> Result<KeySigner, String> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(|e| e.to_string())?;
        KeySigner::new(key, chain)
    }

    pub fn new(key: p256::ecdsa::SigningKey, chain: Vec<Vec<u8>>) -> Result<KeySigner, String> {
        if chain.is_empty() {
            return Err("no certificate to sign with".into());
        }
        Ok(KeySigner { key, chain })
    }
}

impl CryptoSigner for KeySigner {
    /// The digest of the signed attributes, signed as it is (ECDSA over a
    /// prehash: hashing it again would sign the wrong value).
    fn sign_hash(&self, hash: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let signature: p256::ecdsa::Signature = self
            .key
            .sign_prehash(hash)
            .map_err(|e| CryptoError::SigningFailed(e.to_string()))?;
        Ok(signature.to_der().as_bytes().to_vec())
    }

    fn certificate_der(&self) -> &[u8] {
        &self.chain[0]
    }

    fn certificate_chain_der(&self) -> Vec<&[u8]> {
        self.chain.iter().map(Vec::as_slice).collect()
    }

    fn digest_algorithm(&self) -> DigestAlgorithm {
        DigestAlgorithm::Sha256
    }

    fn signature_algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256
    }
}

/// What the signature dictionary says.
pub struct Placement<'a> {
    /// Unique in the document, e.g. `Signee2`.
    pub field: &'a str,
    pub reason: &'a str,
    pub location: &'a str,
    pub contact: &'a str,
    pub at: DateTime<Utc>,
}

/// `pdf` with one more signature.
pub fn sign(pdf: &[u8], signer: &KeySigner, placement: &Placement<'_>) -> Result<Vec<u8>, String> {
    let options = SigningOptions {
        sub_filter: SubFilter::Pades,
        field_name: placement.field.to_string(),
        reason: Some(pdf_text(placement.reason)),
        location: Some(pdf_text(placement.location)),
        contact_info: Some(pdf_text(placement.contact)),
        // No signingTime: PAdES forbids it among the signed attributes, and
        // OpenSSL refuses a CMS that carries it unsigned. The time of each
        // signature is in the completion certificate and the audit trail.
        ..SigningOptions::default()
    };
    let pdf = super::repair::readable(pdf)
        .ok_or("the PDF cannot be read (no objects or no catalogue found)")?;
    // Nothing in it waits on I/O (no timestamp authority is asked).
    futures::executor::block_on(PdfSigner::new().options(options).sign(&pdf, signer))
        .map_err(|e| e.to_string())
}

/// PDF literal strings here are written as bytes: keep them printable
/// ASCII so every reader shows the same thing.
fn pdf_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
