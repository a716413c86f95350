//! What the eSPA keeps of a signee's signing: the link, the code (its
//! keyed hash only), the signed PDF, the signature or the decline; and
//! what a link is worth now ([`status`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::core::case::{Case, CaseState};
use crate::core::espa::turn;
use crate::core::espa::{Espa, Route, SigneeState};

/// One signing link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignLink {
    /// Hex SHA-256 of the token. Empty in the core's decision; the apply
    /// path mints the token and sets it before the commit.
    pub token_sha256: String,
    pub number: u32,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

/// The verification code last sent to a signee: its keyed hash only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignCode {
    /// Hex HMAC-SHA256 of the code under the store's secret (a plain hash
    /// of six digits is undone by trying a million); empty in the core's
    /// decision, set by the apply path.
    pub mac: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub wrong: u32,
    /// Voided by [`MAX_WRONG_CODES`] wrong tries.
    #[serde(default)]
    pub void: bool,
}

impl std::fmt::Debug for SignCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignCode")
            .field("mac", &"***")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("wrong", &self.wrong)
            .field("void", &self.void)
            .finish()
    }
}

/// The eSPA PDF as a signature left it: the bytes the web edge signed
/// (PAdES, an incremental update of `base_sha256`), kept by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPdf {
    pub sha256: String,
    pub size: u64,
    /// The PDF the signature was added to (the original, or the one the
    /// signee before produced).
    pub base_sha256: String,
    /// The signing certificate's serial: the signee's own (`manual`), or
    /// the RA's attestation certificate (`idsaya`).
    pub certificate_serial: String,
}

/// A signature as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub at: DateTime<Utc>,
    /// The SHA-256 of the document signed (as the signee was shown it).
    pub document_sha256: String,
    /// The SHA-256 of the PDF with this signature in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_serial: Option<String>,
    pub route: Route,
    pub client_ip: String,
    pub user_agent: String,
}

/// A decline as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decline {
    pub at: DateTime<Utc>,
    pub reason: String,
    pub client_ip: String,
    pub user_agent: String,
}

/// Who made the request, as the web edge saw it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// What the link is worth now, for this signee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It may sign.
    Current,
    /// It signed already.
    Used,
    Expired,
    /// A newer link was issued.
    Replaced,
    /// Someone before them has not signed: such a link is never sent, so
    /// only a correction that moved the signee can make one.
    NotYourTurn,
    /// This signee declined.
    Declined,
    /// Another signee declined: signing is stopped.
    Halted,
    /// Everyone has signed.
    Completed,
    /// Their certificate application was rejected or withdrawn.
    CaseClosed,
    /// Five wrong PINs: the certificate is locked until `RESET-PIN`.
    Locked,
    /// Not ready at the moment (the certificate left `active`).
    NotReady,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Used => "used",
            Status::Expired => "expired",
            Status::Replaced => "replaced",
            Status::NotYourTurn => "not_your_turn",
            Status::Declined => "declined",
            Status::Halted => "halted",
            Status::Completed => "completed",
            Status::CaseClosed => "case_closed",
            Status::Locked => "locked",
            Status::NotReady => "not_ready",
        }
    }

    /// The HTTP status of the page that says so: 410 for a link that is
    /// gone for good, 409 for one whose moment is not now, 423 for a
    /// locked certificate.
    pub fn http(self) -> u16 {
        match self {
            Status::Current => 200,
            Status::NotYourTurn | Status::Halted | Status::NotReady => 409,
            Status::Locked => 423,
            _ => 410,
        }
    }
}

/// What the link whose token hashes to `token_sha256` is worth for signee
/// `order` of `espa` at `now`; `case` is their manual case, if any.
pub fn status(
    espa: &Espa,
    order: u32,
    case: Option<&Case>,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> Status {
    let Some(signee) = espa.signee(order) else {
        return Status::Replaced;
    };
    let Some(link) = signee
        .sign_link
        .as_ref()
        .filter(|l| !l.token_sha256.is_empty() && l.token_sha256 == token_sha256)
    else {
        return Status::Replaced;
    };
    if signee.state == SigneeState::Declined {
        return Status::Declined;
    }
    if link.used_at.is_some() || signee.state == SigneeState::Signed {
        return Status::Used;
    }
    if espa.completed_at.is_some() {
        return Status::Completed;
    }
    if espa.declined().is_some() {
        return Status::Halted;
    }
    if now >= link.expires_at {
        return Status::Expired;
    }
    if turn::next(espa) != Some(order) {
        return Status::NotYourTurn;
    }
    if signee.route == Route::Manual {
        let Some(case) = case else {
            return Status::NotReady;
        };
        if matches!(case.state, CaseState::Rejected | CaseState::Withdrawn) {
            return Status::CaseClosed;
        }
        if case.pin.locked_at.is_some() {
            return Status::Locked;
        }
        if case.state != CaseState::Active {
            return Status::NotReady;
        }
    }
    if signee.state != SigneeState::Ready {
        return Status::NotReady;
    }
    Status::Current
}

/// Whether the typed code's keyed hash is the one sent; in constant time.
pub fn code_matches(stored_mac: &str, typed_mac: &str) -> bool {
    !stored_mac.is_empty()
        && stored_mac.len() == typed_mac.len()
        && bool::from(stored_mac.as_bytes().ct_eq(typed_mac.as_bytes()))
}

/// Whether a typed code has the shape of one: six digits (spaces and a
/// dash people type between groups aside).
pub fn normalize_code(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}
