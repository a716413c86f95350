//! Hashing PINs with Argon2id (m = 19 MiB, t = 2, p = 1: OWASP's minimum
//! for Argon2id), on the blocking pool, a bounded number at a time.
//!
//! Each hash is one core's work for its whole run and needs 19 MiB of
//! working memory. So [`slots`] hashes run at once, one per core (at most
//! four): more would only multiply the memory without finishing any
//! sooner, fewer would leave a core idle while signees wait. Each slot
//! keeps its 19 MiB and reuses it: allocated anew for every hash, the
//! memory would land in whichever blocking thread's malloc arena ran it,
//! and glibc keeps freed chunks of that size per arena — hundreds of MiB
//! after a burst. Beyond [`MAX_WAITING`] waiting posts, a post is told the
//! server is busy rather than queued.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::core::certificate::SealedKey;

/// Argon2id's memory cost, in KiB (1 KiB blocks).
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;

/// Posts waiting for a slot beyond this get "busy, try again": 256
/// waiting at two hashes a time (about 25 ms each) is three seconds of
/// work already.
pub const MAX_WAITING: usize = 256;

/// How many PINs are hashed at once: one per core, at most four (76 MiB of
/// working memory at most, whatever the machine).
pub fn slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// Why a PIN was not hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many PINs waiting to be hashed")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

/// The bounded hasher the PIN routes share.
pub struct Hasher {
    slots: Semaphore,
    waiting: AtomicUsize,
    /// Working memory of the slots not hashing now.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher {
            slots: Semaphore::new(slots()),
            waiting: AtomicUsize::new(0),
            memory: Arc::default(),
        }
    }
}

impl Hasher {
    /// The PIN's Argon2id PHC string, once a slot is free.
    pub async fn hash(&self, pin: String) -> Result<String, HashError> {
        self.in_slot(move |blocks| argon2id_with(pin.as_bytes(), blocks))
            .await
    }

    /// Whether `pin` is the one whose PHC string is `phc`, once a slot is
    /// free (the same cost as a hash: a wrong guess is as slow as setting).
    pub async fn verify(&self, pin: String, phc: String) -> Result<bool, HashError> {
        self.in_slot(move |blocks| verify_with(pin.as_bytes(), &phc, blocks))
            .await
    }

    /// A PIN set: the PIN's PHC string, and a new key pair whose private
    /// key is sealed under the PIN for `reference` (`crate::pki::seal`):
    /// two Argon2id runs, each with its own salt, in one slot.
    pub async fn set_pin(
        &self,
        pin: String,
        reference: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(String, SealedKey), HashError> {
        let pin = Zeroizing::new(pin);
        self.in_slot(move |blocks| {
            let phc = argon2id_with(pin.as_bytes(), blocks)?;
            let sealed = crate::pki::seal::make_sealed(pin.as_bytes(), &reference, blocks, now)?;
            Ok((phc, sealed))
        })
        .await
    }

    /// The private key `sealed` holds, if `pin` opens it for `reference`
    /// (`None`: a wrong PIN); the same cost as a hash.
    pub async fn unseal(
        &self,
        pin: String,
        sealed: SealedKey,
        reference: String,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, HashError> {
        let pin = Zeroizing::new(pin);
        self.in_slot(move |blocks| {
            crate::pki::seal::unseal(&sealed, pin.as_bytes(), &reference, blocks)
        })
        .await
    }

    /// Runs `work` in a slot's working memory on the blocking pool.
    async fn in_slot<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> Result<T, String> + Send + 'static,
    ) -> Result<T, HashError> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
            return Err(HashError::Busy);
        }
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| HashError::Failed(e.to_string()))?;
        drop(waiting);
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let lock = |m: &Mutex<Vec<Vec<Block>>>| {
                let mut free = m.lock().unwrap_or_else(|e| e.into_inner());
                free.pop()
            };
            let mut blocks =
                lock(&memory).unwrap_or_else(|| vec![Block::default(); MEMORY_KIB as usize]);
            let done = work(&mut blocks);
            memory
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(blocks);
            done
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
        .map_err(HashError::Failed)
    }
}

/// [`Hasher::verify`] in the working memory `blocks`: the PHC string's own
/// parameters and salt, the outputs compared in constant time.
fn verify_with(pin: &[u8], phc: &str, blocks: &mut [Block]) -> Result<bool, String> {
    use subtle::ConstantTimeEq;
    let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
    if params.m_cost() > MEMORY_KIB {
        return Err(format!(
            "a PIN hash costs {} KiB, more than a slot",
            params.m_cost()
        ));
    }
    let salt = parsed.salt.ok_or("a PIN hash without a salt")?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let expected = parsed.hash.ok_or("a PIN hash without its output")?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(pin, salt, &mut out, blocks)
        .map_err(|e| e.to_string())?;
    Ok(out.ct_eq(expected.as_bytes()).into())
}

/// The PIN's Argon2id PHC string, with a fresh 16-byte salt from the OS
/// (allocating its working memory: for tests and tools).
pub fn argon2id(pin: &[u8]) -> Result<String, String> {
    argon2id_with(pin, &mut vec![Block::default(); MEMORY_KIB as usize])
}

/// [`argon2id`] in the working memory `blocks` (at least [`MEMORY_KIB`]).
fn argon2id_with(pin: &[u8], blocks: &mut [Block]) -> Result<String, String> {
    use rand::TryRngCore;

    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).map_err(|e| e.to_string())?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| format!("no randomness from the OS: {e}"))?;
    let mut out = [0u8; OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(pin, &salt, &mut out, blocks)
        .map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn the_phc_string_verifies_and_reused_memory_gives_the_same_kind() {
        let hasher = Hasher::default();
        let one = hasher.hash("482915".into()).await.unwrap();
        let two = hasher.hash("482915".into()).await.unwrap();
        assert_ne!(one, two, "a fresh salt each time");
        for phc in [&one, &two, &argon2id(b"482915").unwrap()] {
            assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
            let parsed = PasswordHash::new(phc).unwrap();
            Argon2::default()
                .verify_password(b"482915", &parsed)
                .expect("the PIN verifies");
            assert!(
                Argon2::default()
                    .verify_password(b"482916", &parsed)
                    .is_err()
            );
            assert!(hasher.verify("482915".into(), phc.clone()).await.unwrap());
            assert!(!hasher.verify("482916".into(), phc.clone()).await.unwrap());
        }
        assert!(hasher.verify("482915".into(), "junk".into()).await.is_err());
    }
}
