//! Signing on the web (SPEC §7): what a visit to a signing link (EMEL 4)
//! decides — open the page, ask for a verification code (CODE), sign with
//! the code and, for a `manual` signee, the certificate PIN, or decline.
//!
//! Pure and secret-free like [`crate::core::pin`]: the link's token and the
//! code are minted by the apply path after the decision (only their hashes
//! reach the eSPA, see `Effects::sign_links` and `Effects::sign_codes`),
//! the typed code comes in as its keyed hash, and the PIN is checked by the
//! web edge, which unseals the signee's key with it and adds the PAdES
//! signature (only right or wrong, and the signed PDF's hashes, come in). The
//! PIN is checked only once the code is right, so a link alone cannot
//! lock anybody's certificate.
//!
//! Every decision that changes the eSPA writes it one version on; the
//! store refuses a write that is not, so two submissions racing on one
//! link are decided one after the other and sign once.

mod records;
mod visit;

pub use records::*;
pub use visit::*;

/// A code lasts this long.
pub const CODE_MINUTES: i64 = 10;
/// A new code is sent at most this often.
pub const CODE_EVERY_SECONDS: i64 = 60;
/// Wrong codes that void the code.
pub const MAX_WRONG_CODES: u32 = 5;
/// The longest reason for declining kept.
pub const MAX_REASON_CHARS: usize = 500;
