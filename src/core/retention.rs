//! What is kept, and for how long (SPEC §8; PDPA).
//!
//! **Documents.** `store.purge_after_days` after a case ends (signed,
//! rejected, withdrawn; an `incomplete` case counts as ended once left
//! untouched for `store.abandon_after_days`), its ID copies, application
//! form and any document of unknown kind (it may be an ID copy under
//! another name) are destroyed; the LOA, the developer's letter, is kept.
//! What stays is the history and each document's name, size and SHA-256.
//! A document whose bytes another case still holds (the same scan sent
//! again for a new case) is marked purged on this case but its bytes stay
//! until no live case holds them.
//!
//! **Indexes.** The record of inbound messages (exactly-once) and the sent
//! index are kept `store.remember_messages_days`: a duplicate of a message
//! delivered again within that window is recognised and only filed; after
//! it, the same Message-ID counts as new. Sent-index entries of cases that
//! are still alive are kept whatever their age (a reply to a case email
//! must still find its case); reply counters of past hours are forgotten.
//!
//! Decided on a [`crate::core::Input::Tick`]; `now` is the tick's time.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Config;
use crate::core::case::{Actor, Case, Document, Event, EventKind, PurgedDocument};
use crate::core::effects::{CaseWrite, Effects};
use crate::core::view::{View, ViewResult};
use crate::pack_check::attachment::DocKind;

/// One case's documents due for destruction.
#[derive(Debug, Clone, PartialEq)]
pub struct Purge {
    pub reference: String,
    /// When the case ended (see [`Case::ended_at`]).
    pub ended_at: DateTime<Utc>,
    /// Its documents to purge (not yet purged, not kept by kind).
    pub documents: Vec<Document>,
}

/// Whether a document of this kind is destroyed with its case.
fn is_purged_kind(kind: Option<DocKind>) -> bool {
    kind != Some(DocKind::Loa)
}

/// The cases whose documents are due for destruction at `now`.
pub fn due(view: &impl View, cfg: &Config, now: DateTime<Utc>) -> ViewResult<Vec<Purge>> {
    let abandon = TimeDelta::days(i64::from(cfg.store.abandon_after_days));
    let keep = TimeDelta::days(i64::from(cfg.store.purge_after_days));
    let mut due = Vec::new();
    view.for_each_case(&mut |case: &Case| {
        let Some(ended_at) = case.ended_at(abandon) else {
            return;
        };
        if ended_at + keep > now {
            return;
        }
        let documents: Vec<Document> = case
            .documents
            .iter()
            .filter(|d| d.purged_at.is_none() && is_purged_kind(d.kind))
            .cloned()
            .collect();
        if !documents.is_empty() {
            due.push(Purge {
                reference: case.reference.clone(),
                ended_at,
                documents,
            });
        }
    })?;
    Ok(due)
}

/// The effects of purging `due`: each case written with its documents
/// marked purged (their sniffing head dropped), a history line naming
/// them, and the bytes to destroy — those no other case still holds.
pub fn purge(due: &[Purge], view: &impl View, now: DateTime<Utc>) -> ViewResult<Effects> {
    let mut effects = Effects {
        reason: "purge",
        ..Effects::default()
    };
    if due.is_empty() {
        return Ok(effects);
    }
    let purging: HashSet<&str> = due.iter().map(|p| p.reference.as_str()).collect();
    let mut still_held: HashSet<String> = HashSet::new();
    view.for_each_case(&mut |case: &Case| {
        for d in &case.documents {
            let purged_here = purging.contains(case.reference.as_str()) && is_purged_kind(d.kind);
            if d.purged_at.is_none() && !purged_here {
                still_held.insert(d.sha256.clone());
            }
        }
    })?;
    for p in due {
        let Some(mut case) = view.case(&p.reference)? else {
            continue;
        };
        for d in case.documents.iter_mut() {
            if d.purged_at.is_none() && is_purged_kind(d.kind) {
                d.purged_at = Some(now);
                d.head.clear();
                if !still_held.contains(&d.sha256) && !effects.destroy_documents.contains(&d.sha256)
                {
                    effects.destroy_documents.push(d.sha256.clone());
                }
            }
        }
        effects.events.push((
            case.reference.clone(),
            Event {
                at: now,
                actor: Actor::System,
                what: EventKind::DocumentsPurged {
                    documents: p
                        .documents
                        .iter()
                        .map(|d| PurgedDocument {
                            name: d.name.clone(),
                            size: d.size,
                            sha256: d.sha256.clone(),
                        })
                        .collect(),
                },
            },
        ));
        effects.cases.push(CaseWrite { case, new: None });
    }
    Ok(effects)
}

/// Inbound messages and sent emails older than this are forgotten.
pub fn remember_since(cfg: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(cfg.store.remember_messages_days))
}
