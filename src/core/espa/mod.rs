//! The eSPA: one agreement to be signed, its ordered signees and its
//! document (SPEC §3), an aggregate of its own beside the case.
//!
//! | module | its job |
//! |---|---|
//! | [`problems`] | what a registration check reports: stable codes, a Malay and an English sentence |
//! | [`registration`] | reading a registration (or a correction) as developers write it, and checking it |
//! | [`handle`] | a registration email, and the owning developer's replies on the eSPA thread (`STATUS`, a correction) |
//! | [`link`] | packs linked to their signee (on arrival or when the registration comes); the eSPA following its cases |
//! | [`turn`] | who signs next: EMEL 4 when it is someone's turn and they are ready, COMPLETED after the last |
//! | [`signing`] | the signing page's decisions: the code, the signature, a decline |
//! | [`context`] | what the eSPA emails' templates see |
//! | `refusal` | a reply not carried out: recorded, answered with the command ERROR |
//!
//! Pure like the rest of the core. An eSPA's emails and history carry
//! [`thread_ref`] (`eSPA HDA-2026-000123`) where a case's carry its
//! reference: the renderer puts it in brackets in the subject, which is the
//! tag `classify` reads replies by, and the sent index knows each email by
//! it, so a reply threads to an eSPA email sent to its author.

pub mod context;
mod ekyc;
pub mod handle;
pub mod link;
pub mod problems;
mod refusal;
pub mod registration;
pub mod signing;
pub mod turn;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::email::Thread;
use crate::pack_check::SigneeRole;

pub use problems::{EspaCode, EspaProblem};

/// The reference an eSPA's emails and history are kept under, and the tag
/// its subjects carry in brackets: `eSPA HDA-2026-000123`.
pub fn thread_ref(reference: &str) -> String {
    format!("eSPA {reference}")
}

/// How a signee becomes ready to sign (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// eKYC in the iDsaya app; the developer confirms it (`EKYC-OK`).
    Idsaya,
    /// A certificate through the RA's manual application (a pack).
    Manual,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Idsaya => "idsaya",
            Route::Manual => "manual",
        }
    }

    /// `idsaya` or `manual`, as written (case, spaces, `iDsaya`).
    pub fn parse(raw: &str) -> Option<Route> {
        let key: String = raw
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        match key.as_str() {
            "idsaya" => Some(Route::Idsaya),
            "manual" | "manuall" => Some(Route::Manual),
            _ => None,
        }
    }
}

/// Where a signee stands in the signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigneeState {
    /// Not yet ready: eKYC not confirmed, or the certificate not active.
    Waiting,
    /// Ready to sign when their turn comes.
    Ready,
    Signed,
    /// Declined to sign, with a reason: nobody after them is asked until
    /// the developer corrects the signee list.
    Declined,
}

impl SigneeState {
    pub fn as_str(self) -> &'static str {
        match self {
            SigneeState::Waiting => "waiting",
            SigneeState::Ready => "ready",
            SigneeState::Signed => "signed",
            SigneeState::Declined => "declined",
        }
    }

    /// The state in words, Malay and English, for emails.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            SigneeState::Waiting => ("menunggu", "waiting"),
            SigneeState::Ready => ("sedia untuk menandatangani", "ready to sign"),
            SigneeState::Signed => ("telah menandatangani", "signed"),
            SigneeState::Declined => ("menolak untuk menandatangani", "declined to sign"),
        }
    }
}

/// One signee of the eSPA, in signing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signee {
    pub order: u32,
    pub role: SigneeRole,
    pub name: String,
    /// Lower case.
    pub email: String,
    pub route: Route,
    pub state: SigneeState,
    /// The case of their manual application, once a pack is linked.
    #[serde(default)]
    pub case_ref: Option<String>,
    /// Their signing link (EMEL 4), once their turn came; the last issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_link: Option<signing::SignLink>,
    /// How many signing links were issued to them, this one included.
    #[serde(default)]
    pub links_issued: u32,
    /// The verification code last sent (CODE), hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<signing::SignCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<signing::Signature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined: Option<signing::Decline>,
}

impl Signee {
    /// A signee as registered: waiting, nothing issued.
    pub fn registered(
        order: u32,
        role: SigneeRole,
        name: String,
        email: String,
        route: Route,
    ) -> Signee {
        Signee {
            order,
            role,
            name,
            email,
            route,
            state: SigneeState::Waiting,
            case_ref: None,
            sign_link: None,
            links_issued: 0,
            code: None,
            signature: None,
            declined: None,
        }
    }
}

/// The agreement to be signed. Its bytes are kept in the document store
/// under `sha256`, as a pack's documents are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspaDocument {
    pub name: String,
    pub size: u64,
    /// Lower-case hex SHA-256: shown to every signee, recorded with every
    /// signature.
    pub sha256: String,
}

/// A registered eSPA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Espa {
    /// Upper case, e.g. `HDA-2026-000123`.
    pub reference: String,
    pub project: String,
    /// The owning developer's company (from the configuration).
    pub company: String,
    /// The address that registered it; answers go there.
    pub developer_address: String,
    pub signees: Vec<Signee>,
    pub document: EspaDocument,
    /// Our emails about the eSPA thread to the registration message.
    pub thread: Thread,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the last signee signed (COMPLETED was sent then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Bumped by every write: the store's commit refuses a write that is
    /// not one past the stored version (the mailbox and the web both write
    /// eSPAs; a decision made on an older record is made again).
    #[serde(default)]
    pub version: u64,
    /// The PDF with every signature so far (`None` before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_pdf: Option<signing::SignedPdf>,
}

impl Espa {
    /// The SHA-256 of the PDF as it stands: with every signature so far,
    /// or the one registered.
    pub fn current_sha256(&self) -> &str {
        self.signed_pdf
            .as_ref()
            .map_or(&self.document.sha256, |p| &p.sha256)
    }

    /// Whether anybody has signed: after that, the signees and the document
    /// are fixed.
    pub fn any_signed(&self) -> bool {
        self.signees.iter().any(|s| s.state == SigneeState::Signed)
    }

    /// The signee with this order.
    pub fn signee(&self, order: u32) -> Option<&Signee> {
        self.signees.iter().find(|s| s.order == order)
    }

    pub fn signee_mut(&mut self, order: u32) -> Option<&mut Signee> {
        self.signees.iter_mut().find(|s| s.order == order)
    }

    /// The signee who declined, if one did (signing stops there).
    pub fn declined(&self) -> Option<&Signee> {
        self.signees
            .iter()
            .find(|s| s.state == SigneeState::Declined)
    }
}

/// One eSPA to store.
#[derive(Debug, Clone, PartialEq)]
pub struct EspaWrite {
    pub espa: Espa,
    /// A new registration: the commit checks the reference is still free.
    pub new: bool,
}
