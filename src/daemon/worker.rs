//! The mailbox worker: takes parsed messages in arrival order, in batches;
//! for each, the core decides ([`core::handle`]), the documents it keeps
//! are appended, and the apply path renders and commits; then one barrier
//! makes the whole batch durable, and only then does the fetcher file its
//! messages.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::apply::Applier;
use crate::core::Folder;
use crate::core::message::Attachment;
use crate::core::{self, Class, Effects, Input};
use crate::edge::documents::{Documents, Location};
use crate::edge::fetcher::{self, Arrival, Filing, Parsed};
use crate::edge::store::{Committed, Origin};
use crate::metrics::InboundStats;

/// The most messages decided before one flush makes them durable.
const BATCH: usize = 32;
/// ... and at most this many bytes of raw mail held at once: memory stays
/// bounded whatever the size of the backlog's messages.
const BATCH_BYTES: usize = 16 << 20;

pub struct Worker {
    pub applier: Applier,
    pub documents: Documents,
    pub stats: Arc<InboundStats>,
    /// Emails committed since the outbox was last told.
    pub announce: Vec<u64>,
}

impl Worker {
    /// Handles arrivals until `shutdown` or until the fetcher is gone; each
    /// batch's filing goes back to the fetcher once it is durable.
    pub async fn run(
        mut self,
        mut arrivals: mpsc::UnboundedReceiver<Arrival>,
        filings: mpsc::UnboundedSender<Filing>,
        shutdown: CancellationToken,
    ) {
        let mut pause = Duration::ZERO;
        loop {
            if !pause.is_zero() {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                arrival = arrivals.recv() => match arrival {
                    Some(arrival) => arrival,
                    None => break,
                },
            };
            // Whatever else has arrived comes along, so that one flush makes
            // the whole batch durable.
            let mut bytes = first.bytes;
            let mut batch = vec![first];
            while batch.len() < BATCH && bytes < BATCH_BYTES {
                match arrivals.try_recv() {
                    Ok(arrival) => {
                        bytes += arrival.bytes;
                        batch.push(arrival);
                    }
                    Err(_) => break,
                }
            }
            let (filing, trouble) = self.batch(batch, bytes).await;
            if filings.send(filing).is_err() {
                break;
            }
            pause = if trouble {
                fetcher::next_pause(pause)
            } else {
                Duration::ZERO
            };
        }
    }

    /// Decides and commits a batch, makes it durable, and says what to file
    /// (nothing of a message whose handling failed: it stays in the inbox
    /// and is tried again), and whether anything went wrong.
    async fn batch(&mut self, batch: Vec<Arrival>, bytes: usize) -> (Filing, bool) {
        let started = std::time::Instant::now();
        let messages = batch.len();
        let mut handled = Vec::with_capacity(messages);
        let mut trouble = false;
        for arrival in batch {
            crate::failpoint::hit("after_fetch");
            let parsed = match arrival.parsed.await {
                Ok(parsed) => parsed,
                Err(e) => {
                    trouble = true;
                    tracing::error!(error = %e, "message not parsed, will retry");
                    continue;
                }
            };
            match self.handle(parsed) {
                Ok(folder) => handled.push((arrival.locator, folder)),
                // Nothing of it is committed: it stays in the inbox.
                Err(e) => {
                    trouble = true;
                    tracing::error!(error = %e, "message not handled, will retry");
                }
            }
        }
        let decided = started.elapsed();
        if let Err(e) = self.make_durable().await {
            trouble = true;
            tracing::error!(error = %e, "cannot make the batch durable; nothing filed");
            handled.clear();
        } else {
            crate::failpoint::hit("after_commit");
        }
        let durable = started.elapsed();
        tracing::debug!(
            messages,
            decide_ms = decided.as_millis() as u64,
            durable_ms = (durable - decided).as_millis() as u64,
            "batch done"
        );
        let filing = Filing {
            items: handled,
            messages,
            bytes,
        };
        (filing, trouble)
    }

    /// Makes everything the batch committed durable: the documents first
    /// (a durable case must never point at lost bytes), then the store.
    /// Only then may the messages be filed, and the outbox send.
    async fn make_durable(&mut self) -> Result<(), String> {
        let segments = self.documents.unsynced();
        if !segments.is_empty() {
            tokio::task::spawn_blocking(move || segments.iter().try_for_each(|f| f.sync_data()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("documents: {e}"))?;
            self.documents.synced();
        }
        let queued = std::mem::take(&mut self.announce);
        self.applier
            .durable(queued)
            .await
            .map_err(|e| e.to_string())
    }

    /// Makes one message take effect (once) and says where to file it. An
    /// error (the store unreadable, a conflict at commit) leaves nothing
    /// of it behind.
    fn handle(&mut self, parsed: Parsed) -> Result<Folder, String> {
        let Parsed {
            msg,
            class,
            panicked,
        } = parsed;
        let store = self.applier.store();
        if let Some(seen) = store.seen(&msg.key).map_err(|e| e.to_string())? {
            // A crash may have kept the case but not its documents' bytes;
            // the message is still here to write them again.
            let indexed = self.keep(msg.attachments.iter(), false)?;
            self.applier
                .store()
                .relocate_documents(&indexed)
                .map_err(|e| e.to_string())?;
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::info!(key = %short(&msg.key), folder = ?seen.folder, "already handled; filing only");
            return Ok(seen.folder);
        }
        let now = Utc::now();
        let decided = if panicked {
            None
        } else {
            let input = Input::Message {
                msg: &msg,
                class: &class,
            };
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                core::handle(input, store, self.applier.cfg(), now)
            }))
            .map_err(|_| {
                tracing::error!(key = %short(&msg.key), "core panicked; quarantining the message");
            })
            .ok()
        };
        let effects = match decided {
            Some(Ok(effects)) => effects,
            // Never decided on missing data: tried again later.
            Some(Err(e)) => return Err(e.to_string()),
            None => Effects::only_filing(Folder::Quarantine, "internal error"),
        };

        let kept = effects
            .keep_attachments
            .iter()
            .filter_map(|&i| msg.attachments.get(i));
        let stored = self.keep(kept, true)?;
        let committed = self
            .applier
            .apply(
                Origin::Message { key: &msg.key },
                &msg.key,
                &effects,
                &stored,
                now,
            )
            .map_err(|e| e.to_string())?;
        let folder = match committed {
            Committed::Now { queued, .. } => {
                self.announce.extend(queued);
                effects.filing.unwrap_or(Folder::Quarantine)
            }
            Committed::Already(folder) => folder,
        };
        let counter = match folder {
            Folder::Processed => &self.stats.processed,
            Folder::Rejected => &self.stats.rejected,
            Folder::Quarantine => &self.stats.quarantined,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let case = effects.written_case();
        tracing::info!(
            key = %short(&msg.key),
            from = msg.from.as_deref().unwrap_or("-"),
            class = class_name(&class),
            case = case.map(|c| c.reference.as_str()).unwrap_or("-"),
            state = case.map(|c| c.state.as_str()).unwrap_or("-"),
            emails = effects.emails.len(),
            ?folder,
            reason = effects.reason,
            "message handled"
        );
        Ok(folder)
    }

    /// Makes sure the documents are held, writing those whose bytes are not
    /// where the store says (or, with `new`, that the store has never
    /// seen). Returns what was written, for the store to index.
    fn keep<'a>(
        &mut self,
        attachments: impl Iterator<Item = &'a Attachment>,
        new: bool,
    ) -> Result<Vec<(String, Location)>, String> {
        let mut stored: Vec<(String, Location)> = Vec::new();
        let mut checked: Vec<&str> = Vec::new();
        for a in attachments {
            if checked.contains(&a.sha256.as_str()) {
                continue;
            }
            checked.push(&a.sha256);
            let known = self
                .applier
                .store()
                .document(&a.sha256)
                .map_err(|e| e.to_string())?;
            if known.is_none() && !new {
                continue;
            }
            let written = self
                .documents
                .ensure(&a.sha256, &a.bytes, known.as_ref())
                .map_err(|e| format!("documents: {e}"))?;
            if let Some(at) = written {
                stored.push((a.sha256.clone(), at));
            }
        }
        Ok(stored)
    }
}

fn class_name(class: &Class) -> &'static str {
    match class {
        Class::Malformed => "malformed",
        Class::Automated { .. } => "automated",
        Class::CaseReply { .. } => "case-reply",
        Class::EspaReply { .. } => "espa-reply",
        Class::Registration => "registration",
        Class::Pack => "pack",
        Class::Unknown => "unknown",
    }
}

/// Message keys can be long Message-IDs; logs need only enough to find it.
fn short(key: &str) -> &str {
    key.get(..key.len().min(80)).unwrap_or(key)
}
