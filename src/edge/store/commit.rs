//! The one write path: an input's effects, in one transaction with what the
//! input itself leaves behind (an inbound message's identity, or the
//! outbox entries it finished).
//!
//! Each history event is chained here too (`audit::append`): its place and
//! the hash before it are read from the chain's head inside the
//! transaction, so concurrent commits for one reference line up.

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, abort};

use super::{
    OutboxEntry, Seen, StateOnly, Store, StoreError, be_u64, history_key, index_keys, sent_key,
    sequence_key, sign_link_entry, unwrap_tx,
};
use super::{audit, pin_links};
use crate::core::Folder;
use crate::core::SentEmail;
use crate::core::case::{Actor, CaseState, Event, EventKind};
use crate::core::effects::Effects;
use crate::core::reply_rate;
use crate::edge::documents::Location;
use crate::edge::render::Outgoing;

/// Where the effects being committed came from, and what that source
/// itself leaves in the store.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// An inbound message: its identity is recorded with its effects, so
    /// that it takes effect once however often it is delivered or decided.
    Message { key: &'a str },
    /// The outbox: these entries leave it, each outcome recorded on its
    /// case before what the effects add.
    Outbox {
        finished: &'a [(OutboxEntry, EventKind)],
    },
    /// The daemon's clock.
    Clock,
    /// A visit to a set-PIN link on the web, by the SHA-256 of its token.
    /// With `uses_link` (the PIN is being set) the commit checks, inside
    /// its transaction, that the link is still its case's current one,
    /// unused and unexpired, and the case still `pin_pending`; otherwise
    /// nothing is written ([`StoreError::LinkSpent`]). Two submissions
    /// racing on one link so set the PIN once.
    PinLink {
        token_sha256: &'a str,
        uses_link: bool,
    },
    /// A visit to a signing link on the web. Nothing of its own is
    /// written: the eSPA's version ([`crate::core::espa::Espa::version`])
    /// orders it after any other write decided on the same record.
    SignLink,
}

/// Result of [`Store::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Written now, with these emails queued in the outbox (their first
    /// attempt counted) and these cases moved between states.
    Now {
        queued: Vec<u64>,
        moved: Vec<StateMove>,
    },
    /// The message had already taken effect earlier; nothing was written.
    Already(Folder),
}

/// A case written in another state than it had (`from: None`: a new
/// case), as the transaction saw it: the apply path keeps the count of
/// cases by state with these, without reading the store again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateMove {
    pub from: Option<CaseState>,
    pub to: CaseState,
}

/// The rows of one commit, encoded before the transaction (which may run
/// its closure more than once).
struct Rows {
    seen: Option<(String, Vec<u8>)>,
    cases: Vec<CaseRow>,
    /// Reference, key, event: chained inside the transaction, where the
    /// chain's head is read.
    history: Vec<(String, Vec<u8>, Event)>,
    /// Id, entry, body.
    outbox: Vec<([u8; 8], Vec<u8>, Vec<u8>)>,
    finished: Vec<[u8; 8]>,
    index: Vec<(String, Vec<u8>)>,
    counters: Vec<String>,
    /// Set-PIN links of the cases written: token SHA-256, reference.
    pin_links: Vec<(String, String)>,
    /// The link this commit uses (see [`Origin::PinLink`]).
    uses_link: Option<String>,
    /// eSPAs: reference, record, whether it is new (then the reference
    /// must still be free), and the version written (the stored one must
    /// be the one before).
    espas: Vec<(String, Vec<u8>, bool, u64)>,
    /// Signing links of the eSPAs written: token SHA-256, index value.
    sign_links: Vec<(String, Vec<u8>)>,
}

/// An eSPA record read for its version alone.
#[derive(serde::Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: u64,
}

/// A case to write: reference, record, index keys, for a new case the key
/// of its year's sequence and its number, and the state it is written in.
type CaseRow = (
    String,
    Vec<u8>,
    Vec<String>,
    Option<(String, u64)>,
    CaseState,
);

impl Store {
    /// Stores the effects of one input — cases, history, documents (where
    /// `stored` says they were written) and the rendered `emails` — in one
    /// transaction with what `origin` leaves. Durable after the next
    /// [`Store::flush`]; the caller files a message only then.
    ///
    /// A new case whose reference is taken, or whose sequence number is not
    /// past the year's last, is a [`StoreError::Conflict`]: nothing is
    /// written, and the input is decided again. So is a case written as it
    /// was before a set-PIN link was issued or used on it meanwhile (the
    /// web changes cases beside the mailbox: see `core::pin::behind`).
    pub fn commit(
        &self,
        origin: Origin<'_>,
        effects: &Effects,
        stored: &[(String, Location)],
        emails: &[Outgoing],
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        if let Some(before) = effects.forget_reply_counters_before {
            let forgotten = self.forget_past_reply_counters(before)?;
            if forgotten > 0 {
                tracing::info!(forgotten, "past reply counters forgotten");
            }
        }
        if let Some(before) = effects.forget_messages_before {
            let (seen, sent) = self.forget_messages_before(before)?;
            if seen + sent > 0 {
                tracing::info!(seen, sent, "old message records forgotten");
            }
        }
        let rows = self.rows(origin, effects, emails, now)?;
        let result = (
            &self.seen,
            &self.cases,
            &self.index,
            &self.history,
            &self.outbox,
            &self.outbox_body,
            &self.meta,
            &self.documents,
            &self.purge_pending,
            &self.pin_links,
            &self.espas,
            &self.sign_links,
            // Last: sled applies the trees in this order, so a reader that
            // reads a head first finds every record it counts
            // (`audit::Store::trail`).
            &self.chain_heads,
        )
            .transaction(
                |(
                    seen_t,
                    cases_t,
                    index_t,
                    history_t,
                    outbox_t,
                    body_t,
                    meta_t,
                    documents_t,
                    pending_t,
                    links_t,
                    espas_t,
                    sign_links_t,
                    heads_t,
                )| {
                    if let Some(token_sha256) = &rows.uses_link {
                        pin_links::check_current(links_t, cases_t, token_sha256, now)?;
                    }
                    for (reference, record, _, new, _) in &rows.cases {
                        if new.is_none() {
                            pin_links::check_not_behind(cases_t, reference, record)?;
                        }
                    }
                    for (token_sha256, reference) in &rows.pin_links {
                        links_t.insert(token_sha256.as_bytes(), reference.as_bytes())?;
                    }
                    if let Some((key, seen)) = &rows.seen {
                        if let Some(old) = seen_t.get(key.as_bytes())? {
                            let folder = serde_json::from_slice::<Seen>(&old)
                                .map(|s| s.folder)
                                .unwrap_or(Folder::Quarantine);
                            return Ok(Committed::Already(folder));
                        }
                        seen_t.insert(key.as_bytes(), seen.as_slice())?;
                    }
                    let mut moved = Vec::new();
                    for (reference, record, keys, new, to) in &rows.cases {
                        // What it was, read in the transaction: exact
                        // whatever else commits meanwhile.
                        let old = cases_t.get(reference.as_bytes())?;
                        let from = old
                            .as_ref()
                            .and_then(|old| serde_json::from_slice::<StateOnly>(old).ok())
                            .map(|old| old.state);
                        if from != Some(*to) {
                            moved.push(StateMove { from, to: *to });
                        }
                        if let Some((seq_key, sequence)) = new {
                            let last = meta_t
                                .get(seq_key.as_bytes())?
                                .and_then(|v| be_u64(&v))
                                .unwrap_or(0);
                            if old.is_some() || *sequence <= last {
                                return abort(StoreError::Conflict(format!(
                                    "new case {reference} (sequence {sequence}, last {last}) \
                                     is already taken"
                                )));
                            }
                            meta_t.insert(seq_key.as_bytes(), &sequence.to_be_bytes()[..])?;
                        }
                        cases_t.insert(reference.as_bytes(), record.as_slice())?;
                        for k in keys {
                            index_t.insert(k.as_bytes(), reference.as_bytes())?;
                        }
                    }
                    for (reference, record, new, version) in &rows.espas {
                        let stored = espas_t.get(reference.as_bytes())?;
                        if *new && stored.is_some() {
                            return abort(StoreError::Conflict(format!(
                                "new eSPA {reference} is already registered"
                            )));
                        }
                        if let Some(stored) = stored {
                            let stored = serde_json::from_slice::<VersionOnly>(&stored)
                                .map_or(0, |v| v.version);
                            // A record written before versions (0) is
                            // taken over by any write.
                            if stored != 0 && stored + 1 != *version {
                                return abort(StoreError::Conflict(format!(
                                    "eSPA {reference} changed since it was read \
                                     (version {stored}, writing {version})"
                                )));
                            }
                        }
                        espas_t.insert(reference.as_bytes(), record.as_slice())?;
                    }
                    for (token_sha256, value) in &rows.sign_links {
                        sign_links_t.insert(token_sha256.as_bytes(), value.as_slice())?;
                    }
                    for id in &rows.finished {
                        outbox_t.remove(&id[..])?;
                        body_t.remove(&id[..])?;
                    }
                    for (k, v) in &rows.index {
                        index_t.insert(k.as_bytes(), v.as_slice())?;
                    }
                    for (reference, key, event) in &rows.history {
                        audit::append(heads_t, history_t, reference, key, event)?;
                    }
                    for (id, entry, body) in &rows.outbox {
                        outbox_t.insert(&id[..], entry.as_slice())?;
                        body_t.insert(&id[..], body.as_slice())?;
                    }
                    for (sha256, at) in stored {
                        documents_t.insert(sha256.as_bytes(), &at.to_bytes()[..])?;
                    }
                    for sha256 in &effects.destroy_documents {
                        if let Some(at) = documents_t.remove(sha256.as_bytes())? {
                            pending_t.insert(sha256.as_bytes(), at)?;
                        }
                    }
                    for k in &rows.counters {
                        let n = meta_t
                            .get(k.as_bytes())?
                            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
                            .map(u32::from_be_bytes)
                            .unwrap_or(0);
                        meta_t.insert(k.as_bytes(), &(n + 1).to_be_bytes()[..])?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(Committed::Now {
                        queued: rows
                            .outbox
                            .iter()
                            .map(|(id, _, _)| u64::from_be_bytes(*id))
                            .collect(),
                        moved,
                    })
                },
            );
        unwrap_tx(result)
    }

    fn rows(
        &self,
        origin: Origin<'_>,
        effects: &Effects,
        emails: &[Outgoing],
        now: DateTime<Utc>,
    ) -> Result<Rows, StoreError> {
        let mut rows = Rows {
            seen: None,
            cases: Vec::new(),
            history: Vec::new(),
            outbox: Vec::new(),
            finished: Vec::new(),
            index: Vec::new(),
            counters: Vec::new(),
            pin_links: Vec::new(),
            uses_link: None,
            espas: Vec::new(),
            sign_links: Vec::new(),
        };
        match origin {
            Origin::Message { key } => {
                let seen = Seen {
                    folder: effects.filing.unwrap_or(Folder::Quarantine),
                    reference: effects.main_case().map(str::to_string),
                    at: now,
                };
                rows.seen = Some((key.to_string(), serde_json::to_vec(&seen)?));
            }
            Origin::Outbox { finished } => {
                // Outcomes first, so that their lines come first on the case.
                for (entry, outcome) in finished {
                    rows.finished.push(entry.id.to_be_bytes());
                    if let Some(reference) = &entry.case_ref {
                        self.push_event(&mut rows, reference, Actor::System, outcome, now)?;
                    }
                }
            }
            Origin::Clock | Origin::SignLink => {}
            Origin::PinLink {
                token_sha256,
                uses_link,
            } => {
                rows.uses_link = uses_link.then(|| token_sha256.to_string());
            }
        }
        for write in &effects.cases {
            let case = &write.case;
            if let Some(link) = &case.pin.link
                && !link.token_sha256.is_empty()
            {
                rows.pin_links
                    .push((link.token_sha256.clone(), case.reference.clone()));
            }
            rows.cases.push((
                case.reference.clone(),
                serde_json::to_vec(case)?,
                index_keys(case),
                write.new.map(|new| (sequence_key(new.year), new.sequence)),
                case.state,
            ));
        }
        for write in &effects.espas {
            let espa = &write.espa;
            rows.espas.push((
                espa.reference.clone(),
                serde_json::to_vec(espa)?,
                write.new,
                espa.version,
            ));
            for signee in &espa.signees {
                if let Some(link) = &signee.sign_link
                    && !link.token_sha256.is_empty()
                {
                    rows.sign_links.push((
                        link.token_sha256.clone(),
                        sign_link_entry(&espa.reference, signee.order),
                    ));
                }
            }
        }
        for (reference, event) in &effects.events {
            rows.history.push((
                reference.clone(),
                history_key(reference, self.db.generate_id()?),
                event.clone(),
            ));
        }
        for email in emails {
            self.queue(&mut rows, email, now)?;
        }
        Ok(rows)
    }

    /// Queues one email with its first attempt counted (see `outbox`):
    /// entry and body, the line on its case that says it was queued, the
    /// sent index that finds the case and recipients from a reply, and one
    /// reply counter per recipient.
    fn queue(
        &self,
        rows: &mut Rows,
        email: &Outgoing,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
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
            let queued = EventKind::EmailQueued {
                template: email.template.name().to_string(),
                to: entry.envelope_to.clone(),
                message_id: entry.message_id.clone(),
            };
            self.push_event(rows, reference, Actor::System, &queued, now)?;
            let to: Vec<String> = entry.envelope_to.iter().map(|a| a.to_lowercase()).collect();
            for address in &to {
                rows.counters
                    .push(reply_rate::counter_key(address, reference, now));
            }
            let sent = SentEmail {
                case_ref: reference.clone(),
                to,
                at: Some(now),
            };
            rows.index
                .push((sent_key(&entry.message_id), serde_json::to_vec(&sent)?));
        }
        rows.outbox.push((
            id.to_be_bytes(),
            serde_json::to_vec(&entry)?,
            email.rendered.bytes.clone(),
        ));
        Ok(())
    }

    fn push_event(
        &self,
        rows: &mut Rows,
        reference: &str,
        actor: Actor,
        what: &EventKind,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let event = Event {
            at,
            actor,
            what: what.clone(),
        };
        rows.history.push((
            reference.to_string(),
            history_key(reference, self.db.generate_id()?),
            event,
        ));
        Ok(())
    }
}
