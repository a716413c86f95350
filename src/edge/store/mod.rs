//! The durable store (sled): cases, their history, the outbox, the document
//! index, the sent index and the record of which inputs have taken effect.
//!
//! Exactly-once hinges on [`Store::commit`] (`commit.rs`): an input's
//! effects — cases, history, outgoing emails, documents — are written in one
//! transaction together with the input's identity, and made durable by
//! [`Store::flush`] before the message is moved out of the inbox. Seeing
//! the identity again means "already done, just file it". A commit is
//! visible to reads at once, so a batch of messages can be decided one
//! after the other and flushed together.
//!
//! History is a hash chain per reference (`audit.rs`): [`Store::audit`]
//! checks it, [`Store::trail`] reads it with each event's place and hash.
//!
//! The store keeps its shape over time: `migrate.rs` brings a store written
//! by an older version to [`migrate::SCHEMA`] when it is opened.

mod audit;
mod commit;
mod migrate;
mod pin_links;
mod view;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionError;

use crate::core::Folder;
use crate::core::case::{Case, CaseState};
use crate::core::email::Template;
use crate::edge::documents::Location;

pub use audit::{AuditReport, Break, ChainedEvent, Flaw, GENESIS, Trail};
pub use commit::{Committed, Origin, StateMove};
pub use migrate::SCHEMA;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt record {key}: {error}")]
    Corrupt { key: String, error: String },
    #[error("store: encoding: {0}")]
    Encode(#[from] serde_json::Error),
    /// What the commit was to write contradicts what is stored (a new case
    /// whose reference is taken): nothing was written; decide again.
    #[error("store: conflict: {0}")]
    Conflict(String),
    /// A commit that uses a set-PIN link found it no longer current (used,
    /// expired or replaced meanwhile, or its case moved on): nothing was
    /// written.
    #[error("store: the PIN link is no longer current")]
    LinkSpent,
    #[error(
        "store: written by a newer sijil (schema {found}, this one knows up to {known}); \
         refusing to open it"
    )]
    TooNew { found: u32, known: u32 },
}

/// What became of an inbound message, keyed by its identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub folder: Folder,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// One email waiting in the outbox. The rendered bytes are stored apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: u64,
    pub case_ref: Option<String>,
    pub template: Template,
    pub message_id: String,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub subject: String,
    /// Attempts started so far, each counted durably before it is made:
    /// the first by the commit that queues the email, the others by the
    /// outbox (see `outbox`).
    pub attempts: u32,
    /// Attempts whose outcome was recorded. Any beyond this were cut short:
    /// the process stopped during the try, or (at most once, for the count
    /// the queueing commit made) before it.
    #[serde(default)]
    pub settled: u32,
    pub next_attempt: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// How long [`Store::open`] waits for a lock a closing store still holds,
/// and how often it tries again meanwhile.
const LOCK_WAIT: Duration = Duration::from_secs(3);
const LOCK_RETRY: Duration = Duration::from_millis(50);
/// The store's page cache: cases, history and the outbox are small, and
/// every megabyte here is resident (the memory target is 128 MiB in all).
const CACHE_BYTES: u64 = 16 << 20;

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    cases: sled::Tree,
    history: sled::Tree,
    /// Lookups: open cases by eSPA order and by ID digest, our emails by
    /// Message-ID (`sent\0…` → [`crate::core::SentEmail`]).
    index: sled::Tree,
    seen: sled::Tree,
    outbox: sled::Tree,
    outbox_body: sled::Tree,
    /// The schema version, the secret, case sequences, reply counters.
    meta: sled::Tree,
    /// A document's SHA-256 → its [`Location`] in the segments.
    documents: sled::Tree,
    /// Documents whose bytes are to be destroyed (SHA-256 → [`Location`]):
    /// written by the commit that purges them, removed once destroyed.
    purge_pending: sled::Tree,
    /// Set-PIN links: the SHA-256 of a token (hex) → its case reference.
    /// Kept when a newer link replaces one, so the old one is told
    /// "replaced".
    pin_links: sled::Tree,
    /// eSPAs: the reference (`HDA-2026-000123`) → [`crate::core::espa::Espa`].
    /// A new tree needs no migration: an older store has no eSPA.
    espas: sled::Tree,
    /// Signing links: the SHA-256 of a token (hex) → `REFERENCE\0order`.
    /// Kept when a newer link replaces one, as set-PIN links are.
    sign_links: sled::Tree,
    /// The eSPA PDFs signatures produced, by SHA-256 (see `put_signed_pdf`).
    signed_pdfs: sled::Tree,
    /// Each history chain's head: the reference → its last `seq` and the
    /// hash of that record (see `audit`). Written only with the history,
    /// in the same transaction.
    chain_heads: sled::Tree,
    /// Keys our outgoing Message-IDs (see [`Store::message_id_key`]).
    message_id_key: [u8; 32],
    /// Keys the PIN page's form tokens (see [`Store::form_key`]).
    form_key: [u8; 32],
}

/// Whether another open store holds the lock on sled's file `db` (absent:
/// a new store, nobody holds it).
fn lock_is_held(db: &Path) -> bool {
    match std::fs::File::open(db) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

impl Store {
    /// Opens the store at `path`, bringing an older one up to
    /// [`SCHEMA`] first.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // sled's page cache defaults to 1 GiB; the working set (open cases,
        // the outbox) is far smaller, and the daemon's memory must stay
        // bounded however many cases the store holds.
        let config = sled::Config::new().path(path).cache_capacity(CACHE_BYTES);
        // A store just closed (by this process, or a daemon that has just
        // exited) keeps its file lock until sled's flusher thread has let go
        // of it, a moment later: wait for that, boundedly, rather than fail.
        // (sled's own error for it is only text, so the lock is tried here
        // first, the way sled takes it: flock on `<path>/db`.)
        let mut waited = Duration::ZERO;
        while waited < LOCK_WAIT && lock_is_held(&path.join("db")) {
            std::thread::sleep(LOCK_RETRY);
            waited += LOCK_RETRY;
        }
        Self::from_db(config.open()?)
    }

    /// A throw-away store for tests.
    pub fn temporary() -> Result<Store, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Store, StoreError> {
        let mut store = Store {
            cases: db.open_tree("cases")?,
            history: db.open_tree("history")?,
            index: db.open_tree("index")?,
            seen: db.open_tree("seen")?,
            outbox: db.open_tree("outbox")?,
            outbox_body: db.open_tree("outbox_body")?,
            meta: db.open_tree("meta")?,
            documents: db.open_tree("documents")?,
            purge_pending: db.open_tree("purge_pending")?,
            pin_links: db.open_tree("pin_links")?,
            espas: db.open_tree("espas")?,
            sign_links: db.open_tree("sign_links")?,
            signed_pdfs: db.open_tree("signed_pdfs")?,
            chain_heads: db.open_tree("chain_heads")?,
            db,
            message_id_key: [0; 32],
            form_key: [0; 32],
        };
        store.message_id_key = migrate::to_current(&store)?;
        store.form_key = migrate::form_secret(&store)?;
        Ok(store)
    }

    /// The schema version the store is at.
    pub fn schema(&self) -> Result<u32, StoreError> {
        migrate::version(&self.meta)
    }

    /// The secret our outgoing Message-IDs are keyed with: made once per
    /// store, never leaves it, so nobody who did not receive one of our
    /// emails can guess its Message-ID (a command must thread to one), while
    /// the same input still yields the same Message-IDs after a crash.
    pub fn message_id_key(&self) -> &[u8; 32] {
        &self.message_id_key
    }

    /// The secret the set-PIN page's form tokens are keyed with (an HMAC of
    /// the link's token hash): made once per store, apart from the
    /// Message-ID secret, never leaves it.
    pub fn form_key(&self) -> &[u8; 32] {
        &self.form_key
    }

    /// The keyed hash a signing code is kept as (and a typed one compared
    /// by): HMAC-SHA256 under the store's form secret, of the eSPA, the
    /// signee's order and the digits. Six digits hashed plainly would be
    /// undone by trying a million.
    pub fn code_mac(&self, reference: &str, order: u32, code: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.form_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(format!("sign-code\0{reference}\0{order}\0{code}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The keyed hash of an ID number a certificate names instead of the
    /// number (a plain hash of a MyKad number is undone by trying them).
    pub fn id_mac(&self, id_number: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.form_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(format!("certificate-id\0{id_number}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Keeps a signed eSPA PDF by its SHA-256, before the commit that
    /// records the signature: content-addressed, so a PDF whose commit lost
    /// a race is only bytes nobody names (and is forgotten by the loser).
    pub fn put_signed_pdf(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.signed_pdfs.insert(sha256.as_bytes(), bytes)?;
        Ok(())
    }

    pub fn signed_pdf(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.signed_pdfs.get(sha256.as_bytes())?.map(|v| v.to_vec()))
    }

    pub fn forget_signed_pdf(&self, sha256: &str) -> Result<(), StoreError> {
        self.signed_pdfs.remove(sha256.as_bytes())?;
        Ok(())
    }

    /// A tree of its own for an edge's private state (the IMAP checkpoint).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Whether the message with this key has already taken effect.
    pub fn seen(&self, key: &str) -> Result<Option<Seen>, StoreError> {
        self.seen.get(key)?.map(|v| decode(key, &v)).transpose()
    }

    /// Forgets the reply counters of the hours before `now`'s: only the
    /// current hour's count limits anything, and each answer adds a key.
    /// Returns how many were forgotten; durable with the next flush (a
    /// counter that comes back after a crash is forgotten next time).
    pub fn forget_past_reply_counters(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let hour = crate::core::reply_rate::counter_hour(now);
        let mut batch = sled::Batch::default();
        let mut forgotten = 0;
        for kv in self
            .meta
            .scan_prefix(crate::core::reply_rate::COUNTER_PREFIX)
        {
            let (key, _) = kv?;
            let counted = key.rsplit(|&b| b == 0).next().unwrap_or_default();
            if counted < hour.as_bytes() {
                batch.remove(key);
                forgotten += 1;
            }
        }
        self.meta.apply_batch(batch)?;
        Ok(forgotten)
    }

    /// Forgets what is older than `before`: the record of inbound messages
    /// (a message delivered again after that counts as new) and the sent
    /// index entries of cases that have ended (a live case's emails may
    /// still be replied to). Returns how many of each were forgotten;
    /// durable with the next flush (anything that comes back after a crash
    /// is forgotten next time).
    pub fn forget_messages_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let mut batch = sled::Batch::default();
        let mut seen = 0;
        for kv in self.seen.iter() {
            let (k, v) = kv?;
            let record: Seen = decode(&String::from_utf8_lossy(&k), &v)?;
            if record.at < before {
                batch.remove(k);
                seen += 1;
            }
        }
        self.seen.apply_batch(batch)?;
        let mut batch = sled::Batch::default();
        let mut sent = 0;
        let mut ended: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
        for kv in self.index.scan_prefix(SENT_PREFIX) {
            let (k, v) = kv?;
            let email: crate::core::SentEmail = decode(&String::from_utf8_lossy(&k), &v)?;
            if email.at.is_none_or(|at| at >= before) {
                continue;
            }
            let gone = match ended.get(&email.case_ref) {
                Some(gone) => *gone,
                None if email.case_ref.starts_with("eSPA ") => {
                    // An eSPA's thread lives as long as the eSPA (its end,
                    // the last signature, is later work).
                    let reference = email.case_ref.trim_start_matches("eSPA ");
                    let gone = self.espa(reference)?.is_none();
                    ended.insert(email.case_ref.clone(), gone);
                    gone
                }
                None => {
                    let gone = self.case(&email.case_ref)?.is_none_or(|c| {
                        matches!(
                            c.state,
                            CaseState::Signed | CaseState::Rejected | CaseState::Withdrawn
                        )
                    });
                    ended.insert(email.case_ref.clone(), gone);
                    gone
                }
            };
            if gone {
                batch.remove(k);
                sent += 1;
            }
        }
        self.index.apply_batch(batch)?;
        Ok((seen, sent))
    }

    /// How many inbound messages are remembered, and how many of our emails
    /// the sent index holds.
    pub fn remembered(&self) -> (usize, usize) {
        (self.seen.len(), self.index.scan_prefix(SENT_PREFIX).count())
    }

    /// How many reply counters are kept.
    pub fn reply_counters(&self) -> usize {
        self.meta
            .scan_prefix(crate::core::reply_rate::COUNTER_PREFIX)
            .count()
    }

    /// Documents whose destruction a commit recorded and that are not yet
    /// destroyed.
    pub fn pending_purges(&self) -> Result<Vec<(String, Location)>, StoreError> {
        self.purge_pending
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let sha256 = String::from_utf8_lossy(&k).into_owned();
                let at = Location::from_bytes(&v).ok_or_else(|| StoreError::Corrupt {
                    key: format!("purge_pending/{sha256}"),
                    error: format!("{} bytes, not a location", v.len()),
                })?;
                Ok((sha256, at))
            })
            .collect()
    }

    /// These documents' bytes are destroyed: their pending records go.
    pub async fn purged(&self, sha256s: &[String]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for sha in sha256s {
            batch.remove(sha.as_bytes());
        }
        self.purge_pending.apply_batch(batch)?;
        self.flush().await
    }

    /// Where the document with this SHA-256 was stored, if it was.
    pub fn document(&self, sha256: &str) -> Result<Option<Location>, StoreError> {
        self.documents
            .get(sha256)?
            .map(|v| {
                Location::from_bytes(&v).ok_or_else(|| StoreError::Corrupt {
                    key: format!("documents/{sha256}"),
                    error: format!("{} bytes, not a location", v.len()),
                })
            })
            .transpose()
    }

    /// Records where documents were stored again (their old location had
    /// lost its bytes). Durable after the next [`Store::flush`].
    pub fn relocate_documents(&self, stored: &[(String, Location)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (sha256, at) in stored {
            batch.insert(sha256.as_bytes(), &at.to_bytes()[..]);
        }
        Ok(self.documents.apply_batch(batch)?)
    }

    /// The eSPA registered under `reference`.
    pub fn espa(&self, reference: &str) -> Result<Option<crate::core::espa::Espa>, StoreError> {
        self.espas
            .get(reference)?
            .map(|v| decode(reference, &v))
            .transpose()
    }

    pub fn case(&self, reference: &str) -> Result<Option<Case>, StoreError> {
        self.cases
            .get(reference)?
            .map(|v| decode(reference, &v))
            .transpose()
    }

    /// Every case, in reference order.
    pub fn cases(&self) -> impl Iterator<Item = Result<Case, StoreError>> + '_ {
        self.cases.iter().map(|kv| {
            let (k, v) = kv?;
            decode(&String::from_utf8_lossy(&k), &v)
        })
    }

    /// Every case's state, decoding nothing else: what `/metrics` counts
    /// from at start (see `crate::metrics::CaseStats`).
    pub fn case_states(&self) -> impl Iterator<Item = Result<CaseState, StoreError>> + '_ {
        self.cases.iter().map(|kv| {
            let (k, v) = kv?;
            decode::<StateOnly>(&String::from_utf8_lossy(&k), &v).map(|s| s.state)
        })
    }

    /// Outbox entries, oldest first.
    pub fn outbox(&self) -> impl Iterator<Item = Result<OutboxEntry, StoreError>> + '_ {
        self.outbox.iter().map(|kv| {
            let (k, v) = kv?;
            decode(&hex::encode(&k), &v)
        })
    }

    /// How many emails wait in the outbox (one pass over its keys; the
    /// daemon reads it once at start and keeps the count after that).
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub fn outbox_body(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.outbox_body.get(id.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// Rewrites entries (attempt counted, next attempt moved), one flush.
    pub async fn update_outbox_all(&self, entries: &[OutboxEntry]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for entry in entries {
            batch.insert(&entry.id.to_be_bytes(), serde_json::to_vec(entry)?);
        }
        self.outbox.apply_batch(batch)?;
        self.flush().await
    }
}

fn index_keys(case: &Case) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some((espa, order)) = case.espa_order() {
        keys.push(order_key(&espa, order));
    }
    if let Some(a) = &case.application {
        keys.push(id_key(&a.espa_ref, &a.id_number));
    }
    keys
}

/// Our outgoing Message-IDs, so a reply or a delivery report finds its
/// email's case and recipients.
fn sent_key(message_id: &str) -> String {
    format!("{SENT_PREFIX}{message_id}")
}

const SENT_PREFIX: &str = "sent\0";

fn order_key(espa: &str, order: u32) -> String {
    format!("order\0{espa}\0{order}")
}

/// ID numbers are personal data: the index holds only their digest.
fn id_key(espa: &str, id_number: &str) -> String {
    format!(
        "id\0{espa}\0{}",
        crate::edge::inbound::sha256_hex(id_number.as_bytes())
    )
}

fn sequence_key(year: i32) -> String {
    format!("seq/{year}")
}

/// A case record read for its state only (serde skips the rest).
#[derive(Deserialize)]
struct StateOnly {
    state: CaseState,
}

fn history_key(reference: &str, id: u64) -> Vec<u8> {
    let mut k = reference.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        error: e.to_string(),
    })
}

fn unwrap_tx<T>(r: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    match r {
        Ok(v) => Ok(v),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(StoreError::Sled(e)),
    }
}

fn be_u64(v: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes)
}

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod tests;

/// A signing link's index value: the eSPA reference, a NUL, the order.
fn sign_link_entry(reference: &str, order: u32) -> Vec<u8> {
    format!("{reference}\0{order}").into_bytes()
}

/// The eSPA reference and signee order of a signing link's index value.
fn sign_link_value(value: &[u8]) -> Option<(String, u32)> {
    let text = std::str::from_utf8(value).ok()?;
    let (reference, order) = text.split_once('\0')?;
    Some((reference.to_string(), order.parse().ok()?))
}
