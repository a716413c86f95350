//! An email the core has decided to send, before it is rendered.
//!
//! The core names a template and gives it a JSON context; [`crate::edge::render`]
//! turns that into an RFC 5322 message, which is stored in the outbox in the
//! same transaction as the case change that caused it.

use serde::{Deserialize, Serialize};

/// Every email sijil sends (SPEC §6). The file names under `templates/` are
/// [`Template::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Template {
    /// Developer: pack accepted, with the case reference.
    Ack,
    /// Developer: the coded list of problems to fix.
    Incomplete,
    /// Developer: this pack duplicates an existing case (named).
    Duplicate,
    /// Developer: the signee is not eligible for the manual route (why,
    /// and that iDsaya is theirs); the case is closed as rejected.
    Ineligible,
    /// Signee: application submitted, expect a verification call.
    Emel1,
    /// Verifiers: a case is waiting for their call.
    StaffVerify,
    /// Developer and the staff holding the case: the signee's address bounced.
    Bounce,
    /// Officers: a verified case is waiting for its certificate.
    StaffGenerate,
    /// Signee: QC done, the Roaming Certificate is ready (EMEL 3).
    Emel3,
    /// Developer and signee: the case was rejected, and why.
    Rejected,
    /// Developer: the verifier could not reach the signee, three times.
    Unreachable,
    /// The staff holding the case: the developer withdrew it.
    Withdrawn,
    /// The answer to `STATUS`: the case, its documents and its history.
    Status,
    /// The answer to an accepted command: what it did, the state now.
    CommandAck,
    /// The answer to a refused command: why, and what may be given.
    CommandError,
    /// The staff holding the case: the signee wrote back (forwarded).
    SigneeMessage,
    /// Signee: verified and approved, set your certificate PIN (the link).
    Emel2,
    /// QC officers: the PIN is set, the certificate waits for its check.
    StaffQc,
    /// Developer: the eSPA registration (or correction) was not taken: the
    /// coded problems; nothing changed.
    EspaIncomplete,
    /// Developer: the eSPA is registered (or corrected): every signee's
    /// order, role, name, route and state, the document's SHA-256.
    EspaAck,
    /// `idsaya` signee: complete eKYC in the iDsaya app (EMEL 0), or the
    /// manual route if they cannot.
    Emel0,
    /// The answer to `STATUS` on an eSPA thread.
    EspaStatus,
    /// Signee (from the HIMS address): your turn to sign the eSPA (EMEL 4),
    /// with the signing link.
    Emel4,
    /// Signee (from the HIMS address): the 6-digit verification code asked
    /// for on the signing page (CODE).
    SignCode,
    /// Signee: their signature is recorded (SIGNED).
    Signed,
    /// Developer: one more signee has signed; who is next.
    EspaProgress,
    /// Developer and every signee (from the HIMS address): every signee has
    /// signed (COMPLETED).
    Completed,
    /// Developer and the staff holding the signee's case: a signee declined
    /// to sign, and why; nobody after them is asked.
    EspaDeclined,
    /// The staff holding a case: five wrong PINs locked the certificate
    /// until `RESET-PIN`.
    PinLocked,
}

impl Template {
    pub const ALL: [Template; 29] = [
        Template::Ack,
        Template::Incomplete,
        Template::Ineligible,
        Template::Duplicate,
        Template::Emel1,
        Template::StaffVerify,
        Template::Bounce,
        Template::StaffGenerate,
        Template::Emel3,
        Template::Rejected,
        Template::Unreachable,
        Template::Withdrawn,
        Template::Status,
        Template::CommandAck,
        Template::CommandError,
        Template::SigneeMessage,
        Template::Emel2,
        Template::StaffQc,
        Template::EspaIncomplete,
        Template::EspaAck,
        Template::Emel0,
        Template::EspaStatus,
        Template::Emel4,
        Template::SignCode,
        Template::Signed,
        Template::EspaProgress,
        Template::Completed,
        Template::EspaDeclined,
        Template::PinLocked,
    ];

    /// The template's file stem under `templates/`.
    pub fn name(self) -> &'static str {
        match self {
            Template::Ack => "ack",
            Template::Incomplete => "incomplete",
            Template::Ineligible => "ineligible",
            Template::Duplicate => "duplicate",
            Template::Emel1 => "emel1",
            Template::StaffVerify => "staff-verify",
            Template::Bounce => "bounce",
            Template::StaffGenerate => "staff-generate",
            Template::Emel3 => "emel3",
            Template::Rejected => "rejected",
            Template::Unreachable => "unreachable",
            Template::Withdrawn => "withdrawn",
            Template::Status => "status",
            Template::CommandAck => "command-ack",
            Template::CommandError => "command-error",
            Template::SigneeMessage => "signee-message",
            Template::Emel2 => "emel2",
            Template::StaffQc => "staff-qc",
            Template::EspaIncomplete => "espa-incomplete",
            Template::EspaAck => "espa-ack",
            Template::Emel0 => "emel0",
            Template::EspaStatus => "espa-status",
            Template::Emel4 => "emel4",
            Template::SignCode => "sign-code",
            Template::Signed => "signed",
            Template::EspaProgress => "espa-progress",
            Template::Completed => "completed",
            Template::EspaDeclined => "espa-declined",
            Template::PinLocked => "pin-locked",
        }
    }
}

/// Which configured address an email is sent from (SPEC §6: EMEL 0 and 4,
/// CODE and COMPLETED from HIMS, the rest from the RA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromAddress {
    Ra,
    Hims,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: Option<String>,
    pub email: String,
}

/// Threading: the message that started the thread and the chain so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

impl Thread {
    /// The thread of an answer to `msg`: in reply to it, its references
    /// followed by its own Message-ID.
    pub fn replying_to(msg: &crate::core::message::Inbound) -> Thread {
        let mut references = msg.references.clone();
        if let Some(id) = &msg.message_id {
            references.push(id.clone());
        }
        Thread {
            in_reply_to: msg.message_id.clone(),
            references,
        }
    }
}

/// An email decided by the core, not yet rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    pub template: Template,
    pub from: FromAddress,
    pub to: Vec<Recipient>,
    /// The case reference shown in the subject, e.g. `SJL-2026-000123`.
    pub case_ref: Option<String>,
    pub thread: Thread,
    /// What the template sees. See `templates/README.md` for its shape.
    pub context: serde_json::Value,
}
