//! What the core decided, for the apply path to carry out: the cases to
//! write, the history to append, the emails to send, the documents to keep
//! and where to file the input. Generic: the store writes it without
//! knowing which part of the core produced it.

use chrono::{DateTime, Utc};

use crate::core::case::{Case, Event};
use crate::core::email::Email;
use crate::core::espa::EspaWrite;

/// Where a handled message ends up (SPEC §2). Nothing is ever deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Folder {
    /// Its effect is stored and it was answered normally.
    Processed,
    /// Answered with an error.
    Rejected,
    /// Not answered: unknown sender, automated mail, unsupported for now.
    Quarantine,
}

/// The effects of one input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effects {
    /// Where the input is filed, for an inbound message.
    pub filing: Option<Folder>,
    /// Why, in a few words, for the log.
    pub reason: &'static str,
    /// Cases created or changed, each stored as it is here. A decision may
    /// touch several (an eSPA registration links the packs before it).
    pub cases: Vec<CaseWrite>,
    /// History to append, by case reference.
    pub events: Vec<(String, Event)>,
    pub emails: Vec<Email>,
    /// Indexes into the inbound message's attachments to keep.
    pub keep_attachments: Vec<usize>,
    /// Reply counters of the hours before this one are forgotten.
    pub forget_reply_counters_before: Option<DateTime<Utc>>,
    /// Inbound messages handled, and sent emails of ended cases, before
    /// this are forgotten (see `core::retention`).
    pub forget_messages_before: Option<DateTime<Utc>>,
    /// Documents (by SHA-256) whose bytes are destroyed: their index entry
    /// becomes a pending destruction in the same commit, carried out once
    /// it is durable, and resumed after a crash.
    pub destroy_documents: Vec<String>,
    /// Cases (by reference) whose new set-PIN link (`core::pin::issue_link`)
    /// needs its token: the apply path mints it, sets its SHA-256 on the
    /// case written here and the link in that case's EMEL 2.
    pub pin_links: Vec<String>,
    /// eSPAs registered or changed, each stored as it is here (see
    /// [`crate::core::espa`]).
    pub espas: Vec<EspaWrite>,
    /// Signing links to mint, as eSPA reference and signee order: the apply
    /// path sets the token's SHA-256 on the signee written here and the
    /// link in their EMEL 4 (see `core::espa::turn`).
    pub sign_links: Vec<(String, u32)>,
    /// Verification codes to mint, as eSPA reference and signee order: the
    /// apply path draws six digits, sets their keyed hash on the signee
    /// written here and the digits in their CODE email.
    pub sign_codes: Vec<(String, u32)>,
    /// Cases whose certificate the CA issues on the apply path (`QC-PASS`),
    /// for the public key of the case's sealed key; the case written and
    /// its EMEL 3 get the certificate.
    pub certificates: Vec<String>,
}

/// One case to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseWrite {
    pub case: Case,
    /// Set when the case is new: the sequence number it takes, which the
    /// commit checks is still free.
    pub new: Option<NewCase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewCase {
    pub year: i32,
    pub sequence: u64,
}

impl Effects {
    /// An inbound message that changes nothing: only filed.
    pub fn only_filing(folder: Folder, reason: &'static str) -> Effects {
        Effects {
            filing: Some(folder),
            reason,
            ..Effects::default()
        }
    }

    /// The case this input is mostly about: the first written, else the
    /// first with history (for the log and the record of the input).
    pub fn main_case(&self) -> Option<&str> {
        self.cases
            .first()
            .map(|w| w.case.reference.as_str())
            .or_else(|| self.events.first().map(|(r, _)| r.as_str()))
    }

    /// The first case written, if any.
    pub fn written_case(&self) -> Option<&Case> {
        self.cases.first().map(|w| &w.case)
    }
}
