//! The store opens its own old versions (after chatmail/core's
//! migrations): a schema number in `meta`, and one step per version, each
//! run once, in order, when a store older than [`SCHEMA`] is opened. Each
//! step is idempotent (a crash during it runs it again at the next open),
//! and the new number is written only after the step has been flushed.
//!
//! | version | what it holds |
//! |---|---|
//! | 1 | the first slice (no schema number written) |
//! | 2 | the sent index maps a Message-ID to its case *and recipients*; a secret keys our Message-IDs |
//! | 3 | history is hash-chained: each record has `seq` and `prev`, `chain_heads` holds each chain's head (see `audit`) |

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::audit::{self, GENESIS, Head};
use super::{SENT_PREFIX, Store, StoreError, be_u64};
use crate::core::SentEmail;
use crate::core::case::{Event, EventKind};

/// The version this build writes.
pub const SCHEMA: u32 = 3;

const SCHEMA_KEY: &str = "schema";
const MESSAGE_ID_KEY: &str = "secret/message-id";
const FORM_KEY: &str = "secret/pin-form";

type Step = fn(&Store) -> Result<(), StoreError>;

/// Each step brings the store from the version before it to its own.
const STEPS: [(u32, Step); 2] = [(2, sent_index_with_recipients), (3, chain_history)];

/// The version written in the store; 0 when none is (a new store, or
/// one of version 1: [`to_current`] tells them apart).
pub(super) fn version(meta: &sled::Tree) -> Result<u32, StoreError> {
    match meta.get(SCHEMA_KEY)? {
        Some(v) => be_u64(&v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| StoreError::Corrupt {
                key: format!("meta/{SCHEMA_KEY}"),
                error: format!("{} bytes, not a version", v.len()),
            }),
        None => Ok(0),
    }
}

/// Runs the steps the store needs and returns the Message-ID secret.
pub(super) fn to_current(store: &Store) -> Result<[u8; 32], StoreError> {
    let mut at = version(&store.meta)?;
    if at == 0 {
        at = if is_empty(store)? { SCHEMA } else { 1 };
        if at == SCHEMA {
            message_id_secret(store)?;
            set_version(store, SCHEMA)?;
        }
    }
    if at > SCHEMA {
        return Err(StoreError::TooNew {
            found: at,
            known: SCHEMA,
        });
    }
    for (to, step) in STEPS {
        if to > at {
            tracing::info!(from = at, to, "migrating the store");
            step(store)?;
            store.db.flush()?;
            set_version(store, to)?;
            at = to;
        }
    }
    message_id_secret(store)
}

fn is_empty(store: &Store) -> Result<bool, StoreError> {
    Ok(store.cases.is_empty()
        && store.seen.is_empty()
        && store.outbox.is_empty()
        && store.history.is_empty()
        && store.index.is_empty())
}

fn set_version(store: &Store, version: u32) -> Result<(), StoreError> {
    store
        .meta
        .insert(SCHEMA_KEY, &u64::from(version).to_be_bytes()[..])?;
    store.db.flush()?;
    Ok(())
}

/// The Message-ID secret, made on first use.
fn message_id_secret(store: &Store) -> Result<[u8; 32], StoreError> {
    secret(store, MESSAGE_ID_KEY)
}

/// The secret of the PIN page's form tokens, made on first use: a store
/// of any version simply lacks it until then, so it needs no step.
pub(super) fn form_secret(store: &Store) -> Result<[u8; 32], StoreError> {
    secret(store, FORM_KEY)
}

fn secret(store: &Store, key: &str) -> Result<[u8; 32], StoreError> {
    if let Some(v) = store.meta.get(key)? {
        return <[u8; 32]>::try_from(v.as_ref()).map_err(|_| StoreError::Corrupt {
            key: format!("meta/{key}"),
            error: format!("{} bytes, not a 32-byte secret", v.len()),
        });
    }
    let secret: [u8; 32] = rand::random();
    store.meta.insert(key, &secret[..])?;
    store.db.flush()?;
    Ok(secret)
}

/// 1 → 2: a sent-index entry held only the case reference; it now holds
/// the recipients and the time it was queued too, found in the case
/// history's "email queued" lines.
/// (The secret is made by [`to_current`] either way; the old Message-IDs
/// stay what they were, and are still found.)
fn sent_index_with_recipients(store: &Store) -> Result<(), StoreError> {
    let mut recipients: HashMap<String, (Vec<String>, DateTime<Utc>)> = HashMap::new();
    for kv in store.history.iter() {
        let (_, v) = kv?;
        // A line this version cannot read is left for the reader to report.
        if let Ok(Event {
            at,
            what: EventKind::EmailQueued { to, message_id, .. },
            ..
        }) = serde_json::from_slice::<Event>(&v)
        {
            let to = to.iter().map(|a| a.to_lowercase()).collect();
            recipients.insert(message_id, (to, at));
        }
    }
    let mut batch = sled::Batch::default();
    let mut rewritten = 0usize;
    for kv in store.index.scan_prefix(SENT_PREFIX) {
        let (k, v) = kv?;
        if serde_json::from_slice::<SentEmail>(&v).is_ok() {
            continue;
        }
        let message_id = String::from_utf8_lossy(&k[SENT_PREFIX.len()..]).into_owned();
        let (to, at) = match recipients.remove(&message_id) {
            Some((to, at)) => (to, Some(at)),
            None => (Vec::new(), None),
        };
        let sent = SentEmail {
            case_ref: String::from_utf8_lossy(&v).into_owned(),
            to,
            at,
        };
        batch.insert(k, serde_json::to_vec(&sent)?);
        rewritten += 1;
    }
    store.index.apply_batch(batch)?;
    tracing::info!(rewritten, "sent index: recipients added");
    Ok(())
}

/// 2 → 3: each reference's history becomes a hash chain, in the order
/// [`Store::history`] read it until now (key order), and gets its head.
/// Run again after a crash, it chains the same records the same way (a
/// record's old chain fields are replaced).
fn chain_history(store: &Store) -> Result<(), StoreError> {
    let mut chains = 0usize;
    let mut chain: Option<(Vec<u8>, Head)> = None;
    let mut batch = sled::Batch::default();
    for kv in store.history.iter() {
        let (k, v) = kv?;
        let Some(end) = k.iter().position(|&b| b == 0) else {
            tracing::warn!(key = %String::from_utf8_lossy(&k), "history key without a reference: left as it is");
            continue;
        };
        let reference = &k[..end];
        if chain
            .as_ref()
            .is_none_or(|(r, _)| r.as_slice() != reference)
        {
            if let Some((r, head)) = chain.take() {
                end_chain(store, &r, &head, std::mem::take(&mut batch))?;
                chains += 1;
            }
            let head = Head {
                seq: 0,
                hash: GENESIS.to_string(),
            };
            chain = Some((reference.to_vec(), head));
        }
        let Some((_, head)) = chain.as_mut() else {
            continue;
        };
        // Not even a JSON object: left unchained, for the check to name.
        let Some(record) = audit::chained(head.seq + 1, &head.hash, &v) else {
            tracing::warn!(key = %String::from_utf8_lossy(&k), "history record not JSON: left unchained");
            continue;
        };
        head.seq += 1;
        head.hash = crate::edge::inbound::sha256_hex(&record);
        batch.insert(k, record);
    }
    if let Some((r, head)) = chain {
        end_chain(store, &r, &head, batch)?;
        chains += 1;
    }
    tracing::info!(chains, "history: hash-chained");
    Ok(())
}

/// Writes one reference's chained records, then its head.
fn end_chain(
    store: &Store,
    reference: &[u8],
    head: &Head,
    batch: sled::Batch,
) -> Result<(), StoreError> {
    store.history.apply_batch(batch)?;
    store
        .chain_heads
        .insert(reference, serde_json::to_vec(head)?)?;
    Ok(())
}
