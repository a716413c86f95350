//! The durable store (sled): cases, their history, the outbox, and the
//! record of which inbound messages have taken effect.
//!
//! Exactly-once hinges on [`Store::commit`]: a message's case change, its
//! history and its outgoing emails are written in one transaction together
//! with the message's key, and made durable by [`Store::flush`] before the
//! message is moved out of the inbox. Seeing the key again means "already
//! done, just file it". A commit is visible to reads at once, so a batch of
//! messages can be decided one after the other and flushed together.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::case::{Actor, Case, Event, EventKind};
use crate::documents::Location;
use crate::email::Template;
use crate::intake::{Cases, Decision};
use crate::mailbox::Folder;
use crate::render::RenderedEmail;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt record {key}: {error}")]
    Corrupt { key: String, error: String },
    #[error("store: encoding: {0}")]
    Encode(#[from] serde_json::Error),
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
    /// sender (see `outbox`).
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

/// Result of [`Store::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Written now, with these emails queued in the outbox (their first
    /// attempt counted).
    Now { queued: Vec<u64> },
    /// The message had already taken effect earlier; nothing was written.
    Already(Folder),
}

/// The store's page cache: cases, history and the outbox are small, and
/// every megabyte here is resident (the memory target is 128 MiB in all).
const CACHE_BYTES: u64 = 16 << 20;

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    cases: sled::Tree,
    history: sled::Tree,
    index: sled::Tree,
    seen: sled::Tree,
    outbox: sled::Tree,
    outbox_body: sled::Tree,
    meta: sled::Tree,
    /// A document's SHA-256 → its [`Location`] in the segments.
    documents: sled::Tree,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // sled's page cache defaults to 1 GiB; the working set (open cases,
        // the outbox) is far smaller, and the daemon's memory must stay
        // bounded however many cases the store holds.
        let config = sled::Config::new().path(path).cache_capacity(CACHE_BYTES);
        Self::from_db(config.open()?)
    }

    /// A throw-away store for tests.
    pub fn temporary() -> Result<Store, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Store, StoreError> {
        Ok(Store {
            cases: db.open_tree("cases")?,
            history: db.open_tree("history")?,
            index: db.open_tree("index")?,
            seen: db.open_tree("seen")?,
            outbox: db.open_tree("outbox")?,
            outbox_body: db.open_tree("outbox_body")?,
            meta: db.open_tree("meta")?,
            documents: db.open_tree("documents")?,
            db,
        })
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
        let hour = crate::intake::counter_hour(now);
        let mut batch = sled::Batch::default();
        let mut forgotten = 0;
        for kv in self.meta.scan_prefix(crate::intake::REPLY_COUNTER_PREFIX) {
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

    /// Stores a decision, where its documents were stored and its rendered
    /// emails atomically. Durable after the next [`Store::flush`]; the
    /// caller files the message only then.
    pub async fn commit(
        &self,
        key: &str,
        decision: &Decision,
        stored: &[(String, Location)],
        emails: &[Outgoing],
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        let case_ref = decision.case.as_ref().map(|c| c.reference.clone());
        let seen = serde_json::to_vec(&Seen {
            folder: decision.folder,
            reference: case_ref
                .clone()
                .or_else(|| decision.events.first().map(|(r, _)| r.clone())),
            at: now,
        })?;
        let case = match &decision.case {
            Some(c) => Some((c.reference.clone(), serde_json::to_vec(c)?, index_keys(c))),
            None => None,
        };
        let mut history = Vec::new();
        for (reference, event) in &decision.events {
            history.push((
                history_key(reference, self.db.generate_id()?),
                serde_json::to_vec(event)?,
            ));
        }
        let Queue {
            rows: outgoing,
            history: queued_history,
            sent_index,
        } = self.queue(emails, now)?;
        history.extend(queued_history);
        // Answers counted for the reply rate limit, one per recipient.
        let counters: Vec<String> = emails
            .iter()
            .filter_map(|e| e.case_ref.as_ref().map(|r| (r, &e.rendered.envelope_to)))
            .flat_map(|(r, to)| {
                to.iter()
                    .map(move |a| crate::intake::reply_counter(&a.to_lowercase(), r, now))
            })
            .collect();
        let sequence = decision
            .new_sequence
            .map(|(year, n)| (format!("seq/{year}"), n.to_be_bytes()));

        let result = (
            &self.seen,
            &self.cases,
            &self.index,
            &self.history,
            &self.outbox,
            &self.outbox_body,
            &self.meta,
            &self.documents,
        )
            .transaction(
                |(seen_t, cases_t, index_t, history_t, outbox_t, body_t, meta_t, documents_t)| {
                    if let Some(old) = seen_t.get(key)? {
                        let folder = serde_json::from_slice::<Seen>(&old)
                            .map(|s| s.folder)
                            .unwrap_or(decision.folder);
                        return Ok(Committed::Already(folder));
                    }
                    if let Some((reference, bytes, keys)) = &case {
                        cases_t.insert(reference.as_bytes(), bytes.as_slice())?;
                        for k in keys {
                            index_t.insert(k.as_bytes(), reference.as_bytes())?;
                        }
                    }
                    for (k, reference) in &sent_index {
                        index_t.insert(k.as_bytes(), reference.as_bytes())?;
                    }
                    for (k, v) in &history {
                        history_t.insert(k.as_slice(), v.as_slice())?;
                    }
                    for (id, entry, body) in &outgoing {
                        outbox_t.insert(&id[..], entry.as_slice())?;
                        body_t.insert(&id[..], body.as_slice())?;
                    }
                    for (sha256, at) in stored {
                        documents_t.insert(sha256.as_bytes(), &at.to_bytes()[..])?;
                    }
                    if let Some((k, n)) = &sequence {
                        meta_t.insert(k.as_bytes(), &n[..])?;
                    }
                    for k in &counters {
                        let n = meta_t
                            .get(k.as_bytes())?
                            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
                            .map(u32::from_be_bytes)
                            .unwrap_or(0);
                        meta_t.insert(k.as_bytes(), &(n + 1).to_be_bytes()[..])?;
                    }
                    seen_t.insert(key.as_bytes(), seen.as_slice())?;
                    Ok::<_, ConflictableTransactionError<StoreError>>(Committed::Now {
                        queued: outgoing
                            .iter()
                            .map(|(id, _, _)| u64::from_be_bytes(*id))
                            .collect(),
                    })
                },
            );
        unwrap_tx(result)
    }

    /// The rows that queue `emails` in the outbox at `now`, each with its
    /// first attempt counted (see `outbox`): entry and body, the line on its
    /// case that says it was queued, and the index that finds the case from
    /// a reply to it.
    fn queue(&self, emails: &[Outgoing], now: DateTime<Utc>) -> Result<Queue, StoreError> {
        let mut q = Queue::default();
        for email in emails {
            let id = self.db.generate_id()?;
            let entry = OutboxEntry {
                id,
                case_ref: email.case_ref.clone(),
                template: email.template,
                message_id: email.rendered.message_id.clone(),
                envelope_from: email.rendered.envelope_from.clone(),
                envelope_to: email.rendered.envelope_to.clone(),
                subject: email.rendered.subject.clone(),
                attempts: 1,
                settled: 0,
                next_attempt: now,
                created_at: now,
                last_error: None,
            };
            if let Some(reference) = &email.case_ref {
                let queued = Event {
                    at: now,
                    actor: Actor::System,
                    what: EventKind::EmailQueued {
                        template: email.template.name().to_string(),
                        to: entry.envelope_to.clone(),
                        message_id: entry.message_id.clone(),
                    },
                };
                q.history.push((
                    history_key(reference, self.db.generate_id()?),
                    serde_json::to_vec(&queued)?,
                ));
                q.sent_index
                    .push((sent_key(&entry.message_id), reference.clone()));
            }
            q.rows.push((
                id.to_be_bytes(),
                serde_json::to_vec(&entry)?,
                email.rendered.bytes.clone(),
            ));
        }
        Ok(q)
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

    /// A case's history, oldest first.
    pub fn history(&self, reference: &str) -> Result<Vec<Event>, StoreError> {
        let mut prefix = reference.as_bytes().to_vec();
        prefix.push(0);
        self.history
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&String::from_utf8_lossy(&k), &v)
            })
            .collect()
    }

    /// Appends one event to a case's history (used by the outbox).
    pub fn append(&self, reference: &str, event: &Event) -> Result<(), StoreError> {
        let key = history_key(reference, self.db.generate_id()?);
        self.history.insert(key, serde_json::to_vec(event)?)?;
        Ok(())
    }

    /// Outbox entries, oldest first.
    pub fn outbox(&self) -> impl Iterator<Item = Result<OutboxEntry, StoreError>> + '_ {
        self.outbox.iter().map(|kv| {
            let (k, v) = kv?;
            decode(&hex::encode(&k), &v)
        })
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

    /// Removes entries that were delivered or failed for good, recording
    /// each outcome on its case, and queues the emails those outcomes call
    /// for (`follow_up`, queued at `now`), in one transaction and one flush.
    /// Returns the ids of the emails queued.
    pub async fn finish_outbox_all(
        &self,
        finished: &[(OutboxEntry, EventKind)],
        follow_up: &[Outgoing],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, StoreError> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        for (entry, outcome) in finished {
            if let Some(reference) = &entry.case_ref {
                let e = Event {
                    at: now,
                    actor: Actor::System,
                    what: outcome.clone(),
                };
                events.push((
                    history_key(reference, self.db.generate_id()?),
                    serde_json::to_vec(&e)?,
                ));
            }
        }
        // After the outcomes, so that their lines come first on the case.
        let queue = self.queue(follow_up, now)?;
        events.extend(queue.history);
        let result = (&self.outbox, &self.outbox_body, &self.history, &self.index).transaction(
            |(o, b, h, index)| {
                for (entry, _) in finished {
                    let id = entry.id.to_be_bytes();
                    o.remove(&id[..])?;
                    b.remove(&id[..])?;
                }
                for (id, entry, body) in &queue.rows {
                    o.insert(&id[..], entry.as_slice())?;
                    b.insert(&id[..], body.as_slice())?;
                }
                for (k, reference) in &queue.sent_index {
                    index.insert(k.as_bytes(), reference.as_bytes())?;
                }
                for (k, v) in &events {
                    h.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            },
        );
        unwrap_tx(result)?;
        self.flush().await?;
        Ok(queue
            .rows
            .iter()
            .map(|(id, _, _)| u64::from_be_bytes(*id))
            .collect())
    }
}

/// Rows that put emails in the outbox; see [`Store::queue`].
#[derive(Default)]
struct Queue {
    /// Id, entry, body.
    rows: Vec<([u8; 8], Vec<u8>, Vec<u8>)>,
    history: Vec<(Vec<u8>, Vec<u8>)>,
    sent_index: Vec<(String, String)>,
}

/// A rendered email together with what the outbox records about it.
pub struct Outgoing {
    pub case_ref: Option<String>,
    pub template: Template,
    pub rendered: RenderedEmail,
}

impl Cases for Store {
    fn get(&self, reference: &str) -> Option<Case> {
        self.case(reference).ok().flatten()
    }

    fn open_for_order(&self, espa: &str, order: u32) -> Option<Case> {
        self.indexed(&order_key(espa, order))
            .filter(|c| c.espa_order() == Some((espa.to_string(), order)))
    }

    fn open_for_id(&self, espa: &str, id_number: &str) -> Option<Case> {
        self.indexed(&id_key(espa, id_number)).filter(|c| {
            c.application
                .as_ref()
                .is_some_and(|a| a.espa_ref == espa && a.id_number == id_number)
        })
    }

    fn replies_this_hour(&self, address: &str, reference: &str, now: DateTime<Utc>) -> u32 {
        self.meta
            .get(crate::intake::reply_counter(address, reference, now))
            .ok()
            .flatten()
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0)
    }

    fn case_for_email(&self, message_id: &str) -> Option<Case> {
        let id = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let reference = self.index.get(sent_key(id)).ok().flatten()?;
        self.case(&String::from_utf8_lossy(&reference))
            .ok()
            .flatten()
    }

    fn next_sequence(&self, year: i32) -> u64 {
        let last = self
            .meta
            .get(format!("seq/{year}"))
            .ok()
            .flatten()
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        last + 1
    }
}

impl Store {
    /// The open case an index key points to. Index entries are never
    /// removed; a stale one (the case closed or was corrected) is filtered
    /// out by the caller's check against the case itself.
    fn indexed(&self, key: &str) -> Option<Case> {
        let reference = self.index.get(key).ok().flatten()?;
        let case = self
            .case(&String::from_utf8_lossy(&reference))
            .ok()
            .flatten()?;
        (!case.state.is_closed()).then_some(case)
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

/// Our outgoing Message-IDs, so a delivery report finds its case.
fn sent_key(message_id: &str) -> String {
    format!("sent\0{message_id}")
}

fn order_key(espa: &str, order: u32) -> String {
    format!("order\0{espa}\0{order}")
}

/// ID numbers are personal data: the index holds only their digest.
fn id_key(espa: &str, id_number: &str) -> String {
    format!(
        "id\0{espa}\0{}",
        crate::inbound::sha256_hex(id_number.as_bytes())
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::CaseState;
    use crate::email::Thread;
    use crate::pack_check::fields::{Field, Fields};

    fn case(reference: &str, state: CaseState) -> Case {
        let mut fields = Fields::default();
        fields.0.insert(Field::EspaRef, "HDA-2026-000123".into());
        fields.0.insert(Field::Order, "2".into());
        Case {
            reference: reference.into(),
            state,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            company: "Seri Indah".into(),
            developer_address: "submit@seriindah.my".into(),
            fields,
            application: None,
            documents: Vec::new(),
            problems: Vec::new(),
            thread: Thread::default(),
        }
    }

    fn decision(case: Case) -> Decision {
        Decision {
            folder: Folder::Processed,
            reason: "test",
            events: vec![(
                case.reference.clone(),
                Event {
                    at: Utc::now(),
                    actor: Actor::System,
                    what: EventKind::StateChanged {
                        from: None,
                        to: case.state,
                    },
                },
            )],
            new_sequence: Some((2026, 1)),
            case: Some(case),
            emails: Vec::new(),
            keep_attachments: Vec::new(),
        }
    }

    fn outgoing(reference: &str, id: &str) -> Outgoing {
        Outgoing {
            case_ref: Some(reference.into()),
            template: Template::Ack,
            rendered: RenderedEmail {
                message_id: id.into(),
                envelope_from: "ra@x.my".into(),
                envelope_to: vec!["Submit@SeriIndah.my".into()],
                subject: "s".into(),
                bytes: b"Subject: s\r\n\r\nbody\r\n".to_vec(),
            },
        }
    }

    #[tokio::test]
    async fn a_message_takes_effect_once() {
        let store = Store::temporary().unwrap();
        let d = decision(case("SJL-2026-000001", CaseState::Received));
        let out = [outgoing("SJL-2026-000001", "m1@x")];
        let now = Utc::now();
        let Committed::Now { queued } = store.commit("mid:a", &d, &[], &out, now).await.unwrap()
        else {
            panic!("the first commit must take effect");
        };
        assert_eq!(
            store.commit("mid:a", &d, &[], &out, now).await.unwrap(),
            Committed::Already(Folder::Processed)
        );
        let entries: Vec<_> = store.outbox().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 1, "the email is queued once");
        assert_eq!(queued, [entries[0].id]);
        assert_eq!(
            (entries[0].attempts, entries[0].settled),
            (1, 0),
            "the first attempt is counted with the commit"
        );
        assert_eq!(
            store.history("SJL-2026-000001").unwrap().len(),
            2,
            "state + queued"
        );
        assert_eq!(
            store.seen("mid:a").unwrap().map(|s| s.folder),
            Some(Folder::Processed)
        );
        assert_eq!(store.next_sequence(2026), 2);
        assert_eq!(
            store.case_for_email("<m1@x>").map(|c| c.reference),
            Some("SJL-2026-000001".into())
        );
        assert_eq!(
            store.replies_this_hour("submit@seriindah.my", "SJL-2026-000001", now),
            1
        );
    }

    #[tokio::test]
    async fn past_reply_counters_are_forgotten_the_current_hour_kept() {
        let store = Store::temporary().unwrap();
        let now = Utc::now();
        let earlier = now - chrono::TimeDelta::hours(2);
        let d = decision(case("SJL-2026-000001", CaseState::Received));
        let out = [outgoing("SJL-2026-000001", "m1@x")];
        store.commit("mid:a", &d, &[], &out, earlier).await.unwrap();
        let out = [outgoing("SJL-2026-000001", "m2@x")];
        store.commit("mid:b", &d, &[], &out, now).await.unwrap();
        let who = ("submit@seriindah.my", "SJL-2026-000001");
        assert_eq!(store.replies_this_hour(who.0, who.1, earlier), 1);
        assert_eq!(store.forget_past_reply_counters(now).unwrap(), 1);
        assert_eq!(store.replies_this_hour(who.0, who.1, earlier), 0);
        assert_eq!(store.replies_this_hour(who.0, who.1, now), 1);
        assert_eq!(store.forget_past_reply_counters(now).unwrap(), 0);
        // The case sequence beside them is left alone.
        assert_eq!(store.next_sequence(2026), 2);
    }

    #[tokio::test]
    async fn documents_are_indexed_with_their_case() {
        let store = Store::temporary().unwrap();
        let d = decision(case("SJL-2026-000001", CaseState::Received));
        let at = Location {
            segment: 1,
            offset: 0,
            len: 10,
        };
        let stored = [("ab".repeat(32), at)];
        store
            .commit("mid:a", &d, &stored, &[], Utc::now())
            .await
            .unwrap();
        assert_eq!(store.document(&"ab".repeat(32)).unwrap(), Some(at));
        assert_eq!(store.document(&"cd".repeat(32)).unwrap(), None);
        // A message that already took effect indexes nothing more.
        let elsewhere = Location { segment: 2, ..at };
        let again = [("ab".repeat(32), elsewhere), ("cd".repeat(32), elsewhere)];
        store
            .commit("mid:a", &d, &again, &[], Utc::now())
            .await
            .unwrap();
        assert_eq!(store.document(&"ab".repeat(32)).unwrap(), Some(at));
        assert_eq!(store.document(&"cd".repeat(32)).unwrap(), None);
        // ... unless its documents had to be stored again.
        store.relocate_documents(&again[..1]).unwrap();
        assert_eq!(store.document(&"ab".repeat(32)).unwrap(), Some(elsewhere));
    }

    #[tokio::test]
    async fn only_open_cases_count_as_duplicates() {
        let store = Store::temporary().unwrap();
        let d = decision(case("SJL-2026-000001", CaseState::Incomplete));
        store
            .commit("mid:a", &d, &[], &[], Utc::now())
            .await
            .unwrap();
        assert!(store.open_for_order("HDA-2026-000123", 2).is_some());
        assert!(store.open_for_order("HDA-2026-000123", 3).is_none());
        let d = decision(case("SJL-2026-000001", CaseState::Withdrawn));
        store
            .commit("mid:b", &d, &[], &[], Utc::now())
            .await
            .unwrap();
        assert!(store.open_for_order("HDA-2026-000123", 2).is_none());
    }

    #[tokio::test]
    async fn a_finished_email_leaves_the_outbox_and_is_recorded_with_what_it_calls_for() {
        let store = Store::temporary().unwrap();
        let d = decision(case("SJL-2026-000001", CaseState::Received));
        store
            .commit(
                "mid:a",
                &d,
                &[],
                &[outgoing("SJL-2026-000001", "m1@x")],
                Utc::now(),
            )
            .await
            .unwrap();
        let entry = store.outbox().next().unwrap().unwrap();
        assert!(store.outbox_body(entry.id).unwrap().is_some());
        let sent = EventKind::EmailSent {
            message_id: entry.message_id.clone(),
        };
        let follow_up = [outgoing("SJL-2026-000001", "notice@x")];
        let queued = store
            .finish_outbox_all(&[(entry.clone(), sent.clone())], &follow_up, Utc::now())
            .await
            .unwrap();
        assert!(store.outbox_body(entry.id).unwrap().is_none());
        let left: Vec<_> = store.outbox().map(Result::unwrap).collect();
        assert_eq!(left.len(), 1, "only the follow-up is left");
        assert_eq!(queued, [left[0].id]);
        assert_eq!(
            (left[0].message_id.as_str(), left[0].attempts),
            ("notice@x", 1)
        );
        assert!(store.outbox_body(left[0].id).unwrap().is_some());
        let history = store.history("SJL-2026-000001").unwrap();
        let n = history.len();
        assert_eq!(history[n - 2].what, sent, "the outcome first");
        assert!(
            matches!(&history[n - 1].what, EventKind::EmailQueued { message_id, .. } if message_id == "notice@x")
        );
        assert_eq!(
            store.case_for_email("<notice@x>").map(|c| c.reference),
            Some("SJL-2026-000001".into()),
            "a reply to the follow-up finds its case"
        );
    }
}
