//! The core's read-only view of the store, and an in-memory one.
//!
//! Every read returns a `Result`: a store that cannot be read must stop the
//! input it was deciding (it is tried again), never look like "no such
//! case" — a missing sequence number would otherwise reuse the first
//! reference of the year.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::case::{Case, Event};
use crate::core::effects::Effects;
use crate::core::espa::Espa;
use crate::core::reply_rate;

/// A read of the store failed; the input is not decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store unreadable: {0}")]
pub struct ViewError(pub String);

pub type ViewResult<T> = Result<T, ViewError>;

/// One email we sent, as the sent index knows it: the case it was about and
/// to whom it went (a reply counts as a command only when it threads to an
/// email sent to the replying address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentEmail {
    pub case_ref: String,
    /// Envelope recipients, lowercased.
    pub to: Vec<String>,
    /// When it was queued; absent for emails indexed before the store
    /// recorded it.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// What the core may read.
pub trait View {
    fn case(&self, reference: &str) -> ViewResult<Option<Case>>;
    /// An open (not rejected or withdrawn) case for this eSPA signee order.
    fn open_for_order(&self, espa: &str, order: u32) -> ViewResult<Option<Case>>;
    /// An open case for this ID number on this eSPA.
    fn open_for_id(&self, espa: &str, id_number: &str) -> ViewResult<Option<Case>>;
    /// The sequence number the next case of `year` will get (the commit
    /// checks it is still free).
    fn next_sequence(&self, year: i32) -> ViewResult<u64>;
    /// One of our emails, by its Message-ID (with or without `<>`).
    fn sent_email(&self, message_id: &str) -> ViewResult<Option<SentEmail>>;
    /// How many answers `address` got on the thread of case `reference`
    /// in the clock hour of `now`.
    fn replies_this_hour(
        &self,
        address: &str,
        reference: &str,
        now: DateTime<Utc>,
    ) -> ViewResult<u32>;
    /// Every case, one at a time (the retention sweep; the store is never
    /// read whole into memory).
    fn for_each_case(&self, f: &mut dyn FnMut(&Case)) -> ViewResult<()>;
    /// A case's history, oldest first (a `STATUS` answer shows it whole).
    fn history(&self, reference: &str) -> ViewResult<Vec<Event>>;
    /// The case a set-PIN link was issued for, by the SHA-256 of its token
    /// (whether or not it is still the case's current link). A view that
    /// holds no links knows none.
    fn case_for_pin_link(&self, token_sha256: &str) -> ViewResult<Option<Case>> {
        let _ = token_sha256;
        Ok(None)
    }
    /// The eSPA registered under this reference (upper case,
    /// `HDA-2026-000123`).
    fn espa(&self, reference: &str) -> ViewResult<Option<Espa>>;
    /// The eSPA and signee order a signing link was issued for, by the
    /// SHA-256 of its token (whether or not it is still their current one).
    fn espa_for_sign_link(&self, token_sha256: &str) -> ViewResult<Option<(Espa, u32)>> {
        let _ = token_sha256;
        Ok(None)
    }
}

/// The store's view, in memory: for the core's unit tests and the fuzz
/// targets, never for the daemon. [`MemView::apply`] writes effects the way
/// the store's commit does.
#[derive(Debug, Default, Clone)]
pub struct MemView {
    pub cases: Vec<Case>,
    /// Our emails' Message-IDs and what the sent index holds for each.
    pub sent: Vec<(String, SentEmail)>,
    /// One counter key per answer counted, as the store counts them.
    pub replies: Vec<String>,
    /// The last sequence number used, per year.
    pub sequences: Vec<(i32, u64)>,
    /// History appended, by case reference, in order.
    pub history: Vec<(String, Event)>,
    /// Set-PIN links issued: token SHA-256 and case reference.
    pub pin_links: Vec<(String, String)>,
    /// eSPAs registered.
    pub espas: Vec<Espa>,
    /// Signing links issued: token SHA-256, eSPA reference, order.
    pub sign_links: Vec<(String, String, u32)>,
}

impl MemView {
    /// Applies effects as the store would; `message_ids` are the rendered
    /// emails' ids, in the order of `effects.emails` (tests may pass none).
    pub fn apply(&mut self, effects: &Effects, message_ids: &[String], now: DateTime<Utc>) {
        for (i, email) in effects.emails.iter().enumerate() {
            let Some(reference) = &email.case_ref else {
                continue;
            };
            for r in &email.to {
                self.replies.push(reply_rate::counter_key(
                    &r.email.to_lowercase(),
                    reference,
                    now,
                ));
            }
            if let Some(id) = message_ids.get(i) {
                self.sent.push((
                    id.clone(),
                    SentEmail {
                        case_ref: reference.clone(),
                        to: email.to.iter().map(|r| r.email.to_lowercase()).collect(),
                        at: Some(now),
                    },
                ));
            }
        }
        self.history.extend(effects.events.iter().cloned());
        for write in &effects.cases {
            if let Some(new) = write.new {
                self.sequences.retain(|(y, _)| *y != new.year);
                self.sequences.push((new.year, new.sequence));
            }
            if let Some(link) = &write.case.pin.link
                && !link.token_sha256.is_empty()
            {
                self.pin_links
                    .push((link.token_sha256.clone(), write.case.reference.clone()));
            }
            self.cases.retain(|c| c.reference != write.case.reference);
            self.cases.push(write.case.clone());
        }
        for write in &effects.espas {
            for s in &write.espa.signees {
                if let Some(link) = &s.sign_link
                    && !link.token_sha256.is_empty()
                    && !self
                        .sign_links
                        .iter()
                        .any(|(t, _, _)| *t == link.token_sha256)
                {
                    self.sign_links.push((
                        link.token_sha256.clone(),
                        write.espa.reference.clone(),
                        s.order,
                    ));
                }
            }
            self.espas.retain(|e| e.reference != write.espa.reference);
            self.espas.push(write.espa.clone());
        }
    }
}

impl View for MemView {
    fn case(&self, reference: &str) -> ViewResult<Option<Case>> {
        Ok(self
            .cases
            .iter()
            .find(|c| c.reference == reference)
            .cloned())
    }

    fn open_for_order(&self, espa: &str, order: u32) -> ViewResult<Option<Case>> {
        Ok(self
            .cases
            .iter()
            .find(|c| !c.state.is_closed() && c.espa_order() == Some((espa.to_string(), order)))
            .cloned())
    }

    fn open_for_id(&self, espa: &str, id_number: &str) -> ViewResult<Option<Case>> {
        Ok(self
            .cases
            .iter()
            .find(|c| {
                !c.state.is_closed()
                    && c.application
                        .as_ref()
                        .is_some_and(|a| a.espa_ref == espa && a.id_number == id_number)
            })
            .cloned())
    }

    fn next_sequence(&self, year: i32) -> ViewResult<u64> {
        let last = self
            .sequences
            .iter()
            .find(|(y, _)| *y == year)
            .map_or(0, |(_, n)| *n);
        Ok(last + 1)
    }

    fn sent_email(&self, message_id: &str) -> ViewResult<Option<SentEmail>> {
        let id = bare_message_id(message_id);
        Ok(self
            .sent
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, s)| s.clone()))
    }

    fn replies_this_hour(
        &self,
        address: &str,
        reference: &str,
        now: DateTime<Utc>,
    ) -> ViewResult<u32> {
        let key = reply_rate::counter_key(address, reference, now);
        Ok(self.replies.iter().filter(|k| **k == key).count() as u32)
    }

    fn for_each_case(&self, f: &mut dyn FnMut(&Case)) -> ViewResult<()> {
        self.cases.iter().for_each(f);
        Ok(())
    }

    fn history(&self, reference: &str) -> ViewResult<Vec<Event>> {
        Ok(self
            .history
            .iter()
            .filter(|(r, _)| r == reference)
            .map(|(_, e)| e.clone())
            .collect())
    }

    fn espa(&self, reference: &str) -> ViewResult<Option<Espa>> {
        Ok(self
            .espas
            .iter()
            .find(|e| e.reference == reference)
            .cloned())
    }

    fn espa_for_sign_link(&self, token_sha256: &str) -> ViewResult<Option<(Espa, u32)>> {
        match self.sign_links.iter().find(|(t, _, _)| t == token_sha256) {
            Some((_, reference, order)) => Ok(self.espa(reference)?.map(|e| (e, *order))),
            None => Ok(None),
        }
    }

    fn case_for_pin_link(&self, token_sha256: &str) -> ViewResult<Option<Case>> {
        match self.pin_links.iter().find(|(t, _)| t == token_sha256) {
            Some((_, reference)) => self.case(reference),
            None => Ok(None),
        }
    }
}

/// A Message-ID without its angle brackets or surrounding space.
pub fn bare_message_id(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}
