//! Seals a signee's private key under their PIN, and opens it again for
//! the moment of signing: Argon2id(PIN, a salt of the key's own — not the
//! PIN hash's) gives an AES-256-GCM key; the case reference is the
//! associated data, so a sealed key copied to another case does not open.
//! A wrong PIN is a key that does not open. The PKCS#8 bytes and the
//! derived key are zeroed when dropped.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::core::certificate::SealedKey;

pub const ALGORITHM: &str = "ECDSA-P256";

/// The same cost as the PIN hash: a guess at a sealed key costs what a
/// guess at the PIN hash does.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;

fn kdf_name() -> String {
    format!("argon2id m={MEMORY_KIB} t={PASSES} p=1")
}

/// Makes a P-256 key pair and seals its private key under `pin` for the
/// case `reference`, in the Argon2 working memory `blocks`.
pub fn make_sealed(
    pin: &[u8],
    reference: &str,
    blocks: &mut [Block],
    now: DateTime<Utc>,
) -> Result<SealedKey, String> {
    let secret = loop {
        // A draw at or past the group order (odds about 2^-128) is drawn again.
        let bytes = Zeroizing::new(random::<32>()?);
        if let Ok(secret) = p256::SecretKey::from_slice(bytes.as_ref()) {
            break secret;
        }
    };
    let pkcs8 = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
    let public = secret
        .public_key()
        .to_public_key_der()
        .map_err(|e| e.to_string())?;
    let salt = random::<16>()?;
    let nonce = random::<12>()?;
    let key = derive(pin, &salt, blocks)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|e| e.to_string())?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: pkcs8.as_bytes(),
                aad: &aad(reference),
            },
        )
        .map_err(|_| "sealing failed".to_string())?;
    Ok(SealedKey {
        algorithm: ALGORITHM.into(),
        kdf: kdf_name(),
        salt: B64.encode(salt),
        nonce: B64.encode(nonce),
        sealed: B64.encode(sealed),
        public_key: B64.encode(public.as_bytes()),
        made_at: now,
    })
}

/// The PKCS#8 private key, if `pin` opens `sealed` for `reference`; `None`
/// for a wrong PIN (or a key sealed for another case).
pub fn unseal(
    sealed: &SealedKey,
    pin: &[u8],
    reference: &str,
    blocks: &mut [Block],
) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    if sealed.algorithm != ALGORITHM || sealed.kdf != kdf_name() {
        return Err(format!(
            "a sealed key of another kind ({}, {})",
            sealed.algorithm, sealed.kdf
        ));
    }
    let decode = |s: &str| B64.decode(s).map_err(|e| e.to_string());
    let salt = decode(&sealed.salt)?;
    let nonce = decode(&sealed.nonce)?;
    let body = decode(&sealed.sealed)?;
    if nonce.len() != 12 {
        return Err("a sealed key with a malformed nonce".into());
    }
    let key = derive(pin, &salt, blocks)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|e| e.to_string())?;
    Ok(cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &body,
                aad: &aad(reference),
            },
        )
        .ok()
        .map(Zeroizing::new))
}

/// The DER public key a sealed key carries.
pub fn public_key(sealed: &SealedKey) -> Result<Vec<u8>, String> {
    B64.decode(&sealed.public_key).map_err(|e| e.to_string())
}

fn aad(reference: &str) -> Vec<u8> {
    let mut aad = b"sijil sealed key v1\0".to_vec();
    aad.extend_from_slice(reference.as_bytes());
    aad
}

fn derive(pin: &[u8], salt: &[u8], blocks: &mut [Block]) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = Params::new(MEMORY_KIB, PASSES, 1, Some(32)).map_err(|e| e.to_string())?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(pin, salt, out.as_mut(), blocks)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(bytes)
}

/// Working memory for one derivation (tests and tools; the daemon reuses
/// its hashing slots').
pub fn blocks() -> Vec<Block> {
    vec![Block::default(); MEMORY_KIB as usize]
}
