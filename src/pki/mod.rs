//! The RA's public-key infrastructure (SPEC §7a), apart from the core
//! because it is all keys and bytes: the issuing CA (`authority`), the
//! certificates it issues (`certificate`) and revokes (`crl`), a signee's
//! private key sealed under their PIN (`seal`), the PAdES signature added
//! to the eSPA PDF (`pades`), and the check of a signed PDF anyone can run
//! (`verify`).
//!
//! Keys are ECDSA P-256 throughout. RSA-3072 would take 0.3–2 s to make on
//! the PIN-set path, one core each, where P-256 takes well under a
//! millisecond; its signatures are 64 bytes against 384, and every PDF
//! reader and `openssl` verify it.

pub mod authority;
pub mod certificate;
pub mod crl;
pub mod pades;
pub mod repair;
pub mod seal;
pub mod verify;

pub use authority::{Authority, CaError};

#[cfg(test)]
mod tests;
