//! The check of an application pack (SPEC §4) that needs no database: the
//! field lines, the attachments, and the rules that tie them together.
//!
//! [`check`] is pure and collects every problem rather than stopping at the
//! first, because the developer gets one INCOMPLETE email listing all of
//! them. Each [`Problem`] has a stable [`Code`] and one sentence in Malay and
//! one in English for that email. The rules that need the store (the eSPA
//! registration agrees, no duplicate case) are the caller's; their codes are
//! here too so every problem reads the same.
//!
//! Readings chosen where the SPEC leaves room:
//! - Nationality: `Malaysia`, `Malaysian`, `Warganegara Malaysia`, `MY`, `MYS`
//!   (and a few spellings of "Malaysian citizen") mean a citizen. A line that
//!   also says `PR`, `Permanent Resident`, `Pemastautin Tetap` or `Penduduk
//!   Tetap` (e.g. `Indonesia (PR)`) means a permanent resident, who is not a
//!   citizen, whatever country it names.
//! - MyPR ⇒ permanent resident: the card itself proves the status, so a MyPR
//!   applicant may write just their country; only a nationality that says
//!   Malaysian citizen contradicts it.
//! - A pack attachment that is refused or faulty still counts as "sent" for
//!   the missing-document rules, so the reply names the fault once instead of
//!   also calling the document missing; it is not in [`Checked::documents`].
//!
//! Here: the entry [`check`], its inputs and outcome. Beside it: `fields`
//! (the label lines), `readers` and `field_rules` (each field, then the
//! rules between them), `eligibility` (who may take the manual route),
//! `attachment` and `attachment_rules` (one file, then the set), `choices`
//! (ID Type, role, reason and their labels), `problems` (codes) and
//! `sentences` (their words), `display_name` (file names safe to show),
//! `mykad`, `phone`.

mod attachment_rules;
mod choices;
mod display_name;
mod eligibility;
mod field_rules;
mod problems;
mod readers;
mod sentences;
#[cfg(test)]
mod tests;

pub mod attachment;
pub mod fields;
pub mod mykad;
pub mod phone;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use attachment::DocKind;
use attachment_rules::check_attachments;
use field_rules::check_fields;
use fields::Fields;

pub use choices::{IdType, Reason, SigneeRole};
pub use problems::{Code, Problem};
pub use readers::{Nationality, email, espa_ref, nationality, passport_number};

/// What the check needs of one attachment.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentMeta<'a> {
    pub name: &'a str,
    pub size: u64,
    /// The first ≥ 8 KiB of the content, for sniffing.
    pub head: &'a [u8],
    /// Hex SHA-256 of the whole content: one scan sent as two documents is
    /// found by it. Empty when unknown (then nothing is compared).
    pub sha256: &'a str,
}

/// The most attachments read from one message. A pack has five documents
/// and a reply a few more; thousands of tiny parts would otherwise each
/// become a document and a problem line, turning a 0.5 MB message into an
/// 8 MB answer and as much in the store. Those past it are named
/// ([`Code::TooManyAttachments`]), not read.
pub const MAX_ATTACHMENTS: usize = 50;

/// What the check needs of the message a pack (or a supplement) came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageMeta {
    /// The whole message's size in bytes.
    pub size: u64,
    /// Attachments past [`MAX_ATTACHMENTS`], not read.
    pub attachments_unread: usize,
}

/// Size limits (SPEC §4), configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub attachment_max: u64,
    pub message_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attachment_max: 10 * 1024 * 1024,
            message_max: 25 * 1024 * 1024,
        }
    }
}

/// A pack that passed: every field read and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Upper case, e.g. `HDA-2026-000123`.
    pub espa_ref: String,
    pub order: u32,
    pub full_name: String,
    pub id_type: IdType,
    /// `YYMMDD-PB-###G` for MyKad and MyPR; upper case, no spaces for a passport.
    pub id_number: String,
    /// `Malaysia` for a citizen; otherwise as written, tidily capitalised.
    pub nationality: String,
    pub malaysian: bool,
    pub permanent_resident: bool,
    /// Lower case.
    pub email: String,
    /// E.164.
    pub phone: String,
    pub role: SigneeRole,
    pub reason: Reason,
}

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// Present only when `problems` is empty.
    pub application: Option<Application>,
    /// What is named but does not stand in the way ([`Code::is_notice`]).
    pub notices: Vec<Problem>,
    /// Per attachment, in input order: its kind when it is an acceptable
    /// document of the pack, `None` when it is refused, faulty, or ignored (a
    /// mail client's signature picture).
    pub documents: Vec<Option<DocKind>>,
    pub problems: Vec<Problem>,
}

impl Checked {
    /// The problems that make the signee not eligible for the manual
    /// route ([`Code::is_final`]): the pack is refused for good, not
    /// returned as incomplete.
    pub fn ineligible(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_final())
    }
}

/// Checks a pack: the (merged) field lines, every attachment, and the
/// message it came in (its size, the attachments not read). `today`
/// decides the century of a MyKad birth date.
pub fn check(
    fields: &Fields,
    attachments: &[AttachmentMeta],
    message: MessageMeta,
    limits: &Limits,
    today: NaiveDate,
) -> Checked {
    let mut problems = Vec::new();
    if message.size > limits.message_max {
        problems.push(too_large(limits));
    }
    if message.attachments_unread > 0 {
        problems.push(Problem::new(
            Code::TooManyAttachments,
            Some(MAX_ATTACHMENTS.to_string()),
        ));
    }
    let (application, id_type) = check_fields(fields, today, &mut problems);
    let documents = check_attachments(attachments, limits, id_type, &mut problems);
    tracing::debug!(
        problems = problems.len(),
        attachments = attachments.len(),
        "pack checked"
    );
    let (notices, problems): (Vec<Problem>, Vec<Problem>) =
        problems.into_iter().partition(|p| p.code.is_notice());
    Checked {
        application: application.filter(|_| problems.is_empty()),
        notices,
        documents,
        problems,
    }
}

/// The check of a pack whose message was over the size limit, so never
/// read (SPEC §8): nothing is known of its fields and documents, and
/// saying that they are missing would be wrong; the size is the problem.
pub fn unread(limits: &Limits) -> Checked {
    Checked {
        application: None,
        notices: Vec::new(),
        documents: Vec::new(),
        problems: vec![too_large(limits)],
    }
}

/// MESSAGE_TOO_LARGE, naming the limit in MiB.
fn too_large(limits: &Limits) -> Problem {
    Problem::new(Code::MessageTooLarge, Some(mib(limits.message_max)))
}

/// `25 MiB`; `1.5 MiB` for a limit that is not whole mebibytes.
fn mib(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}
