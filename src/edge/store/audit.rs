//! The audit trail: every case's and every eSPA's history is a hash chain,
//! and this module writes its links and checks them (`sijil audit verify`).
//!
//! Each history record carries, beside its [`Event`], its place in the
//! chain: `seq` (1, 2, 3… per reference) and `prev`, the SHA-256 (hex) of
//! the exact stored bytes of the record before it ([`GENESIS`] for the
//! first). The tree `chain_heads` holds, per reference, the last `seq` and
//! the hash of that last record, so that removing the last event, which no
//! later record points at, is caught too. A record and its head are
//! written in the commit's one transaction ([`append`]); sled runs write
//! transactions one at a time, so two commits for one reference never
//! fork the chain.
//!
//! History keys are ids taken before the transaction, so under a race
//! their order may differ from the chain's: readers follow `seq`.
//!
//! The core never sees any of this: it reads and writes plain [`Event`]s.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{Store, StoreError, be_u64};
use crate::core::case::Event;
use crate::edge::inbound::sha256_hex;

/// The `prev` of a chain's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A history record as written: the event's own fields, after its place
/// in the chain.
#[derive(Serialize)]
struct ChainedRef<'a> {
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// A history record as [`Store::history`] reads it. `seq` defaults so a
/// record written before the chain still reads (it sorts first).
#[derive(Deserialize)]
pub(super) struct Stored {
    #[serde(default)]
    pub(super) seq: u64,
    #[serde(flatten)]
    pub(super) event: Event,
}

/// A reference's entry in `chain_heads`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Head {
    pub(super) seq: u64,
    pub(super) hash: String,
}

/// One record with its place in the chain, as the completion certificate
/// lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainedEvent {
    pub seq: u64,
    /// The SHA-256 (hex) of the record before ([`GENESIS`] for the first).
    pub prev: String,
    /// The SHA-256 (hex) of this record's stored bytes.
    pub hash: String,
    pub event: Event,
}

/// What [`Store::audit`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    /// The history reference checked (`SJL-…`, or `eSPA HDA-…`).
    pub reference: String,
    /// Records read.
    pub checked: u64,
    /// The first broken place, if any: none means the chain is intact.
    pub problem: Option<Break>,
}

/// Where a chain is broken, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Break {
    /// The event named (none for a record whose place cannot be read).
    pub seq: Option<u64>,
    /// Its time and kind (`state_changed`), as far as they can be read:
    /// a removed event has neither.
    pub at: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub flaw: Flaw,
    /// What is wrong, in words.
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// The event's stored bytes changed after they were written.
    Edited,
    /// The event is gone.
    Removed,
    /// A record that is not JSON, or has no place in the chain.
    Unreadable,
    /// Two records hold the same place.
    Forked,
    /// A record beyond the chain's head, or a chain without one.
    OutsideChain,
}

/// A reference's whole trail: the check, and the events it read, in chain
/// order (those that could not be read as events are left out; the report
/// names the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub report: AuditReport,
    pub events: Vec<ChainedEvent>,
}

/// Appends `event` to `reference`'s chain under history key `key`, inside
/// the commit's transaction (`heads` is `chain_heads`).
pub(super) fn append(
    heads: &TransactionalTree,
    history: &TransactionalTree,
    reference: &str,
    key: &[u8],
    event: &Event,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let head = match heads.get(reference.as_bytes())? {
        Some(v) => Some(decode_head(reference, &v).map_err(ConflictableTransactionError::Abort)?),
        None => None,
    };
    let (seq, prev) = head.map_or((1, GENESIS.to_string()), |h| (h.seq + 1, h.hash));
    let record = serde_json::to_vec(&ChainedRef {
        seq,
        prev: &prev,
        event,
    })
    .map_err(|e| ConflictableTransactionError::Abort(e.into()))?;
    let head = Head {
        seq,
        hash: sha256_hex(&record),
    };
    let head =
        serde_json::to_vec(&head).map_err(|e| ConflictableTransactionError::Abort(e.into()))?;
    history.insert(key, record)?;
    heads.insert(reference.as_bytes(), head)?;
    Ok(())
}

/// `record` (an [`Event`]'s stored bytes, with or without chain fields)
/// given place `seq` after `prev`: what the migration writes.
pub(super) fn chained(seq: u64, prev: &str, record: &[u8]) -> Option<Vec<u8>> {
    if let Ok(event) = serde_json::from_slice::<Event>(record) {
        return serde_json::to_vec(&ChainedRef {
            seq,
            prev,
            event: &event,
        })
        .ok();
    }
    // An event this version cannot read keeps its fields as they are.
    let mut object = match serde_json::from_slice::<serde_json::Value>(record) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => return None,
    };
    object.insert("seq".into(), seq.into());
    object.insert("prev".into(), prev.into());
    serde_json::to_vec(&object).ok()
}

pub(super) fn decode_head(reference: &str, bytes: &[u8]) -> Result<Head, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: format!("chain_heads/{reference}"),
        error: e.to_string(),
    })
}

/// One record as the check reads it: only what the chain needs, so an
/// edit that leaves it unreadable as an [`Event`] is still placed.
struct Link {
    id: u64,
    seq: u64,
    prev: String,
    hash: String,
    at: Option<DateTime<Utc>>,
    kind: Option<String>,
    event: Option<Event>,
}

/// How often [`Store::trail`] reads again when it found records past the
/// head: a commit may have landed between reading the head and the scan.
const READS: usize = 3;

impl Store {
    /// A case's (or an eSPA's) history, in the order of its chain: the
    /// order the commits took effect in, which key order need not be.
    pub fn history(&self, reference: &str) -> Result<Vec<Event>, StoreError> {
        let mut prefix = reference.as_bytes().to_vec();
        prefix.push(0);
        let mut stored = self
            .history
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                super::decode::<Stored>(&String::from_utf8_lossy(&k), &v)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Stable: records of equal place (none in a sound chain) keep key
        // order.
        stored.sort_by_key(|s| s.seq);
        Ok(stored.into_iter().map(|s| s.event).collect())
    }

    /// Checks `reference`'s chain (a case `SJL-…`, or an eSPA's history,
    /// `core::espa::thread_ref`): `None` when nothing was ever recorded
    /// under it.
    pub fn audit(&self, reference: &str) -> Result<Option<AuditReport>, StoreError> {
        Ok(self.trail(reference)?.map(|t| t.report))
    }

    /// `reference`'s events in chain order, each with its `seq`, `prev`
    /// and hash, with the check of the chain they were read from.
    pub fn trail(&self, reference: &str) -> Result<Option<Trail>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let head = self.head(reference)?;
            let (links, unreadable) = self.links(reference)?;
            if links.is_empty() && unreadable.is_none() && head.is_none() {
                return Ok(None);
            }
            let past_head = links.last().map(|l| l.seq) > head.as_ref().map(|h| h.seq);
            if past_head
                && attempt < READS
                && self.head(reference)?.map(|h| h.seq) != head.as_ref().map(|h| h.seq)
            {
                continue;
            }
            let checked = (links.len() + usize::from(unreadable.is_some())) as u64;
            let problem = unreadable.or_else(|| walk(&links, head.as_ref()));
            let events = links
                .into_iter()
                .filter_map(|l| {
                    Some(ChainedEvent {
                        seq: l.seq,
                        prev: l.prev,
                        hash: l.hash,
                        event: l.event?,
                    })
                })
                .collect();
            let report = AuditReport {
                reference: reference.to_string(),
                checked,
                problem,
            };
            return Ok(Some(Trail { report, events }));
        }
    }

    fn head(&self, reference: &str) -> Result<Option<Head>, StoreError> {
        self.chain_heads
            .get(reference.as_bytes())?
            .map(|v| decode_head(reference, &v))
            .transpose()
    }

    /// The records under `reference`, in chain order, and the first that
    /// has no readable place in it, if any.
    fn links(&self, reference: &str) -> Result<(Vec<Link>, Option<Break>), StoreError> {
        let mut prefix = reference.as_bytes().to_vec();
        prefix.push(0);
        let mut links: Vec<Link> = Vec::new();
        let mut unreadable = None;
        for kv in self.history.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let id = be_u64(&k[prefix.len()..]).unwrap_or_default();
            let after = links
                .last()
                .map(|l| format!("stored after event {}", l.seq))
                .unwrap_or_else(|| "stored first".into());
            let value = match serde_json::from_slice::<serde_json::Value>(&v) {
                Ok(value) => value,
                Err(e) => {
                    unreadable.get_or_insert_with(|| Break {
                        seq: None,
                        at: None,
                        kind: None,
                        flaw: Flaw::Unreadable,
                        why: format!("the record {after} (id {id}) is not valid JSON: {e}"),
                    });
                    continue;
                }
            };
            let at = value["at"].as_str().and_then(|t| t.parse().ok());
            let kind = value["what"]["event"].as_str().map(str::to_string);
            let (Some(seq), Some(prev)) = (value["seq"].as_u64(), value["prev"].as_str()) else {
                unreadable.get_or_insert_with(|| Break {
                    seq: None,
                    at,
                    kind: kind.clone(),
                    flaw: Flaw::Unreadable,
                    why: format!("the record {after} (id {id}) has no place in the chain"),
                });
                continue;
            };
            links.push(Link {
                id,
                seq,
                prev: prev.to_string(),
                hash: sha256_hex(&v),
                at,
                kind,
                event: serde_json::from_slice(&v).ok(),
            });
        }
        links.sort_by_key(|l| (l.seq, l.id));
        Ok((links, unreadable))
    }
}

/// The first broken place of a chain read in `seq` order, ending at
/// `head`.
fn walk(links: &[Link], head: Option<&Head>) -> Option<Break> {
    let named = |link: &Link, flaw, why: String| Break {
        seq: Some(link.seq),
        at: link.at,
        kind: link.kind.clone(),
        flaw,
        why,
    };
    let removed = |seq, why| Break {
        seq: Some(seq),
        at: None,
        kind: None,
        flaw: Flaw::Removed,
        why,
    };
    let mut prev = GENESIS;
    let mut expected = 1;
    for (i, link) in links.iter().enumerate() {
        if link.seq < expected {
            let why = format!("two records hold event {}", link.seq);
            return Some(named(link, Flaw::Forked, why));
        }
        if link.seq > expected {
            let why = match expected {
                1 => format!("it is missing: the chain starts at event {}", link.seq),
                _ => format!(
                    "it is missing: the chain goes from event {} to event {}",
                    expected - 1,
                    link.seq
                ),
            };
            return Some(removed(expected, why));
        }
        if link.prev != prev {
            // Either this record's own link was changed (then its bytes
            // no longer match what the next one recorded either), or the
            // record before it was.
            let next = links
                .get(i + 1)
                .map(|n| n.prev.as_str())
                .or(head.map(|h| h.hash.as_str()));
            if i == 0 || next.is_some_and(|n| n != link.hash) {
                let why = format!(
                    "it was changed after it was written: it records {} before it, not {}",
                    short(&link.prev),
                    short(prev)
                );
                return Some(named(link, Flaw::Edited, why));
            }
            let before = &links[i - 1];
            let why = format!(
                "it was changed after it was written: its bytes hash to {}, event {} recorded {}",
                short(&before.hash),
                link.seq,
                short(&link.prev)
            );
            return Some(named(before, Flaw::Edited, why));
        }
        prev = &link.hash;
        expected += 1;
    }
    let last = expected - 1;
    let Some(head) = head else {
        let why = "the chain has no head: its last event cannot be checked".to_string();
        return links.last().map(|l| named(l, Flaw::OutsideChain, why));
    };
    if head.seq > last {
        let why = match head.seq - last {
            1 => format!(
                "it is missing: the chain's head records {} events, the last found is event {last}",
                head.seq
            ),
            _ => format!(
                "events {} to {} are missing: the chain's head records {} events",
                last + 1,
                head.seq,
                head.seq
            ),
        };
        return Some(removed(last + 1, why));
    }
    if head.seq < last {
        let extra = links.iter().find(|l| l.seq == head.seq + 1)?;
        let why = format!(
            "it was written outside the chain: its head records {} events",
            head.seq
        );
        return Some(named(extra, Flaw::OutsideChain, why));
    }
    if head.hash != prev {
        let link = links.last()?;
        let why = format!(
            "it was changed after it was written: its bytes hash to {}, the chain's head recorded {}",
            short(prev),
            short(&head.hash)
        );
        return Some(named(link, Flaw::Edited, why));
    }
    None
}

/// The first 12 hex digits of a hash, enough to tell two apart.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
