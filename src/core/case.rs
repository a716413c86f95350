//! The case: one signee's certificate application, as a state machine.
//!
//! A case only changes through [`Case::transition`], which checks the move
//! against the life cycle of SPEC §5; everything that happens to a case is
//! also written as an [`Event`] to its history (stored apart from the case
//! record, so appending history never races with a state change).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::email::Thread;
use crate::pack_check::attachment::DocKind;
use crate::pack_check::fields::Fields;
use crate::pack_check::{Application, Problem};

/// The life cycle of SPEC §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Incomplete,
    Received,
    Verified,
    PinPending,
    PinSet,
    Active,
    Signed,
    Rejected,
    Withdrawn,
}

impl CaseState {
    /// Every state, in the order of the life cycle (and of the variants).
    pub const ALL: [CaseState; 9] = [
        CaseState::Incomplete,
        CaseState::Received,
        CaseState::Verified,
        CaseState::PinPending,
        CaseState::PinSet,
        CaseState::Active,
        CaseState::Signed,
        CaseState::Rejected,
        CaseState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Incomplete => "incomplete",
            CaseState::Received => "received",
            CaseState::Verified => "verified",
            CaseState::PinPending => "pin_pending",
            CaseState::PinSet => "pin_set",
            CaseState::Active => "active",
            CaseState::Signed => "signed",
            CaseState::Rejected => "rejected",
            CaseState::Withdrawn => "withdrawn",
        }
    }

    /// A case that has ended no longer blocks a new pack for the same signee.
    pub fn is_closed(self) -> bool {
        matches!(self, CaseState::Rejected | CaseState::Withdrawn)
    }

    /// States from which a case may still be rejected or withdrawn.
    pub fn is_before_active(self) -> bool {
        matches!(
            self,
            CaseState::Incomplete
                | CaseState::Received
                | CaseState::Verified
                | CaseState::PinPending
                | CaseState::PinSet
        )
    }

    /// Whether the life cycle allows `self → to`.
    pub fn may_become(self, to: CaseState) -> bool {
        use CaseState::*;
        match (self, to) {
            (Incomplete, Incomplete | Received) => true,
            (Received, Verified) => true,
            (Verified, PinPending) => true,
            (PinPending, PinSet) => true,
            (PinSet, Active | PinPending) => true,
            (Active, PinPending | Signed) => true,
            (from, Rejected | Withdrawn) => from.is_before_active(),
            _ => false,
        }
    }
}

impl CaseState {
    /// The state in words, Malay and English, for emails.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            CaseState::Incomplete => ("tidak lengkap", "incomplete"),
            CaseState::Received => (
                "diterima, menunggu panggilan pengesahan",
                "received, waiting for the verification call",
            ),
            CaseState::Verified => (
                "disahkan, menunggu penjanaan sijil",
                "verified, waiting for the certificate to be generated",
            ),
            CaseState::PinPending => (
                "menunggu penandatangan menetapkan PIN",
                "waiting for the signee to set the PIN",
            ),
            CaseState::PinSet => (
                "PIN ditetapkan, menunggu semakan QC",
                "PIN set, waiting for the QC check",
            ),
            CaseState::Active => ("sijil aktif", "certificate active"),
            CaseState::Signed => ("ditandatangani", "signed"),
            CaseState::Rejected => ("ditolak", "rejected"),
            CaseState::Withdrawn => ("dibatalkan oleh pemaju", "withdrawn by the developer"),
        }
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document received for a case. The bytes live in the document segments
/// (`crate::edge::documents`), indexed under `sha256`; the sender's file name is
/// kept only for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub kind: Option<DocKind>,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    /// The first bytes, enough to sniff the type again when the pack is
    /// re-checked after a supplement, without reading the document back.
    #[serde(default)]
    pub head: Vec<u8>,
    pub received_at: DateTime<Utc>,
    /// When its bytes were destroyed (SPEC §8); what is left is this record:
    /// name, size and SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<DateTime<Utc>>,
}

/// Who did something on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "address", rename_all = "snake_case")]
pub enum Actor {
    Developer(String),
    Staff(String),
    Signee(String),
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Developer(a) => write!(f, "developer {a}"),
            Actor::Staff(a) => write!(f, "staff {a}"),
            Actor::Signee(a) => write!(f, "signee {a}"),
            Actor::System => f.write_str("sijil"),
        }
    }
}

/// One line of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub what: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A message that concerns the case arrived.
    MessageIn {
        message_id: Option<String>,
        subject: String,
    },
    /// The pack was checked; `problems` holds the codes that failed.
    PackChecked { problems: Vec<String> },
    /// Documents were added to the case.
    DocumentsAdded { names: Vec<String> },
    /// The case moved between states.
    StateChanged {
        from: Option<CaseState>,
        to: CaseState,
    },
    /// The case was closed as `rejected`: `codes` are the problem codes
    /// that decided it (empty for a staff REJECT), `reason` says why in
    /// words.
    Rejected {
        #[serde(default)]
        codes: Vec<String>,
        reason: String,
    },
    /// A pack for the same signee arrived again and was refused.
    DuplicateRefused { message_id: Option<String> },
    /// An email was queued in the outbox.
    EmailQueued {
        template: String,
        to: Vec<String>,
        message_id: String,
    },
    /// The SMTP server (or the outbox Maildir) accepted it.
    EmailSent { message_id: String },
    /// Delivery failed for good.
    EmailFailed { message_id: String, error: String },
    /// A delivery report said one of our emails did not reach `recipient`.
    DeliveryFailed {
        message_id: String,
        recipient: String,
        status: String,
    },
    /// An answer to the sender was held back: too many to them this hour
    /// (two robots answering each other must not loop).
    ReplySuppressed { template: String, to: String },
    /// The case had ended long enough ago: these documents' bytes were
    /// destroyed (SPEC §8). Their names, sizes and SHA-256 stay.
    DocumentsPurged { documents: Vec<PurgedDocument> },
    /// A command (SPEC §5) took effect; `argument` is the reason or note
    /// written after the keyword.
    CommandAccepted {
        command: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        argument: Option<String>,
    },
    /// A reply was read as a command and refused: nothing changed. `line`
    /// is what was read (shortened), `reason` why it was refused — a
    /// forged or unthreaded attempt among them.
    CommandRefused { line: String, reason: String },
    /// The signee wrote back; forwarded to the staff holding the case, its
    /// attachments listed, never read as a command.
    SigneeWrote {
        subject: String,
        #[serde(default)]
        attachments: Vec<String>,
    },
    /// A set-PIN link was issued (EMEL 2); `replaced` is the number of the
    /// link it made void. The token itself is never written here.
    PinLinkIssued {
        number: u32,
        expires_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaced: Option<u32>,
    },
    /// The signee opened the set-PIN page of the current link.
    PinLinkOpened { number: u32 },
    /// A visit (`open`, `weak_pin`, `set_pin`) to a link that is `used`,
    /// `expired`, `replaced` or whose case is `not_pending`: nothing changed.
    PinLinkRefused { why: String, visit: String },
    /// A PIN was sent that the rules refuse (the codes, never the PIN).
    PinRefused { codes: Vec<String> },
    /// The link set the PIN, and can never be used again.
    PinLinkUsed { number: u32 },
    /// The certificate PIN was set (only its Argon2id hash is kept).
    PinSet,
    /// A pack's case became signee `order`'s of an eSPA (on the eSPA's
    /// history and the case's).
    PackLinked {
        espa: String,
        order: u32,
        case: String,
    },
    /// Signee `order` became ready to sign: `how` is `ekyc_ok` (the
    /// developer confirmed their iDsaya eKYC) or `certificate_active`.
    SigneeReady { order: u32, how: String },
    /// Signee `order` is no longer ready (their certificate left `active`).
    SigneeNotReady { order: u32, why: String },
    /// A signing link (EMEL 4) was issued to signee `order`. Never the token.
    SignLinkIssued {
        order: u32,
        number: u32,
        expires_at: DateTime<Utc>,
    },
    /// Signee `order` opened their current signing link.
    SignLinkOpened { order: u32 },
    /// A visit (`open`, `code`, `sign`, `decline`) to a signing link that
    /// could not sign (`why`: used, expired, locked, …): nothing changed.
    SignLinkRefused {
        order: u32,
        why: String,
        visit: String,
    },
    /// A verification code was emailed to signee `order` (never the code).
    CodeSent { order: u32 },
    /// A code was refused: `why` is `wrong`, `expired`, `void`, `missing`
    /// or `too_soon` (a new one asked for within the minute).
    CodeRefused { order: u32, why: String },
    /// A wrong certificate PIN on the signing page (the right code given);
    /// `failures` so far; at the fifth the certificate is `locked`.
    PinWrong {
        order: u32,
        failures: u32,
        locked: bool,
    },
    /// Signee `order` signed: when is the event's time; the document's
    /// SHA-256, the route, and the request's client address and user agent.
    Signed {
        order: u32,
        route: String,
        document_sha256: String,
        client_ip: String,
        user_agent: String,
    },
    /// Signee `order` declined to sign, with their reason.
    SignDeclined { order: u32, reason: String },
    /// Every signee has signed; COMPLETED was sent.
    Completed,
    /// The CA issued the signee's certificate (on `QC-PASS`).
    CertificateIssued {
        serial: String,
        fingerprint: String,
        not_after: DateTime<Utc>,
    },
    /// `RESET-PIN` revoked the certificate; the key went with it.
    CertificateRevoked { serial: String },
    /// A PIN set made no key pair, or a `QC-PASS` found none to certify
    /// (a case from before keys were made): the signee cannot sign with
    /// a certificate until `RESET-PIN`.
    CertificateNotIssued { why: String },
}

/// What stays of a purged document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedDocument {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// A case record: everything needed to decide the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub reference: String,
    pub state: CaseState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The owning developer: company name and the address that sent the pack.
    pub company: String,
    pub developer_address: String,
    /// Every field line received so far, later corrections winning.
    pub fields: Fields,
    /// Present once the pack passed its check.
    pub application: Option<Application>,
    pub documents: Vec<Document>,
    /// The problems of the last check (empty once it passed).
    pub problems: Vec<Problem>,
    /// What the last check named without it standing in the way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Problem>,
    /// The thread our emails about this case belong to.
    pub thread: Thread,
    /// `UNREACHABLE` attempts so far (the developer is told at the third).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreachable: u32,
    /// The set-PIN link and the PIN's hash (`core::pin`); absent in
    /// records written before there were PINs.
    #[serde(default, skip_serializing_if = "crate::core::pin::Pin::is_empty")]
    pub pin: crate::core::pin::Pin,
    /// The signee's sealed key and certificates (`core::certificate`).
    #[serde(
        default,
        skip_serializing_if = "crate::core::certificate::Keys::is_empty"
    )]
    pub keys: crate::core::certificate::Keys,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A move the life cycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a case in state {from} cannot become {to}")]
pub struct IllegalTransition {
    pub from: CaseState,
    pub to: CaseState,
}

impl Case {
    /// Moves the case to `to`, or refuses without changing anything.
    pub fn transition(
        &mut self,
        to: CaseState,
        now: DateTime<Utc>,
    ) -> Result<EventKind, IllegalTransition> {
        if !self.state.may_become(to) {
            return Err(IllegalTransition {
                from: self.state,
                to,
            });
        }
        let from = self.state;
        self.state = to;
        self.updated_at = now;
        Ok(EventKind::StateChanged {
            from: Some(from),
            to,
        })
    }

    /// When the case ended, for retention: the last change of a signed,
    /// rejected or withdrawn case; for an `incomplete` one left untouched,
    /// `abandon_after` after its last change. `None` while it is alive.
    pub fn ended_at(&self, abandon_after: chrono::TimeDelta) -> Option<DateTime<Utc>> {
        match self.state {
            CaseState::Signed | CaseState::Rejected | CaseState::Withdrawn => Some(self.updated_at),
            CaseState::Incomplete => Some(self.updated_at + abandon_after),
            _ => None,
        }
    }

    /// The eSPA reference and signing order, when the pack gave them.
    pub fn espa_order(&self) -> Option<(String, u32)> {
        if let Some(app) = &self.application {
            return Some((app.espa_ref.clone(), app.order));
        }
        let espa = self.fields.get(crate::pack_check::fields::Field::EspaRef)?;
        let order = self
            .fields
            .get(crate::pack_check::fields::Field::Order)?
            .trim()
            .parse()
            .ok()?;
        Some((espa.trim().to_uppercase(), order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseState::*;

    #[test]
    fn life_cycle_allows_only_spec_moves() {
        let allowed = [
            (Incomplete, Received),
            (Incomplete, Incomplete),
            (Received, Verified),
            (Verified, PinPending),
            (PinPending, PinSet),
            (PinSet, Active),
            (PinSet, PinPending),
            (Active, PinPending),
            (Active, Signed),
            (Received, Rejected),
            (PinSet, Withdrawn),
        ];
        for (from, to) in allowed {
            assert!(from.may_become(to), "{from} → {to} must be allowed");
        }
        let refused = [
            (Incomplete, Verified),
            (Received, Active),
            (Active, Rejected),
            (Signed, Withdrawn),
            (Rejected, Received),
            (Withdrawn, Incomplete),
        ];
        for (from, to) in refused {
            assert!(!from.may_become(to), "{from} → {to} must be refused");
        }
    }
}
