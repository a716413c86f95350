//! The outbox sender: delivers what the store's outbox holds, once each,
//! retrying with back-off while the SMTP server is away.
//!
//! After chatmail's `smtp.rs`: an attempt is counted in the store *before*
//! it is made, so an email that somehow kills the sender cannot be retried
//! forever. Transient or permanent is decided by the transport from lettre's
//! own classification; a permanent refusal is recorded on the case.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::case::EventKind;
use crate::store::{OutboxEntry, Store, StoreError};
use crate::transport::{SendError, Transport};

/// First wait after a transient failure; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// An email still undelivered after this long is given up and recorded.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(3);
/// Emails sent at once; the SMTP transport keeps a pool of this many
/// connections.
pub const PARALLEL: usize = 8;
/// Emails whose attempts are counted with one flush before any of them is
/// tried, then sent `PARALLEL` at a time: a round. A flush costs an fsync,
/// so counting per email would cost more than the sending.
const ROUND: usize = 64;

/// Back-off after `failures` consecutive transient failures.
pub fn backoff(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Counters the web edge exposes on `/metrics`.
#[derive(Debug, Default)]
pub struct OutboxStats {
    pub sent: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
    pub retried: std::sync::atomic::AtomicU64,
}

pub struct Sender {
    store: Store,
    transport: Transport,
    wake: Arc<Notify>,
    stats: Arc<OutboxStats>,
    /// Consecutive rounds in which nothing got through: the server, not one
    /// email, is away. Counted once per round, not once per email, so a long
    /// queue does not stretch the back-off.
    failures: u32,
    /// While the server is away no attempt is made before this, whatever
    /// wakes the sender: mail queued during an outage is no new evidence.
    retry_at: Option<DateTime<Utc>>,
}

impl Sender {
    pub fn new(
        store: Store,
        transport: Transport,
        wake: Arc<Notify>,
        stats: Arc<OutboxStats>,
    ) -> Sender {
        Sender {
            store,
            transport,
            wake,
            stats,
            failures: 0,
            retry_at: None,
        }
    }

    /// Sends until `shutdown`; an email in flight is finished first.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let wait = match self.send_due(&shutdown).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "outbox store error");
                    Some(MAX_BACKOFF)
                }
            };
            let sleep = async {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = sleep => {}
            }
        }
    }

    /// Sends every due entry, round by round, `PARALLEL` at a time over the
    /// transport's pooled connections; returns how long until the next one
    /// is due.
    async fn send_due(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Duration>, StoreError> {
        let now = Utc::now();
        if let Some(at) = self.retry_at.filter(|at| *at > now) {
            return Ok(Some((at - now).to_std().unwrap_or(Duration::ZERO)));
        }
        let entries: Vec<OutboxEntry> = self.store.outbox().collect::<Result<_, _>>()?;
        let (due, later): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| e.next_attempt <= now);
        let next = later.iter().map(|e| e.next_attempt).min();
        for batch in due.chunks(ROUND) {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            // Counted before trying (see the module doc), in one flush.
            let mut batch = batch.to_vec();
            for entry in &mut batch {
                entry.attempts += 1;
            }
            self.store.update_outbox_all(&batch).await?;
            let attempts: Vec<_> = batch.iter().map(|e| Box::pin(self.deliver(e))).collect();
            let results: Vec<_> = futures::stream::iter(attempts)
                .buffered(PARALLEL)
                .collect()
                .await;
            let got_through = results.iter().any(Result::is_ok);
            let mut finished = Vec::new();
            let mut retry = Vec::new();
            for (entry, result) in batch.into_iter().zip(results) {
                match self.settle(entry, result) {
                    Settled::Finished(entry, outcome) => finished.push((entry, outcome)),
                    Settled::Retry(entry) => retry.push(entry),
                }
            }
            self.store.finish_outbox_all(&finished).await?;
            if got_through {
                self.failures = 0;
                self.retry_at = None;
            } else if !retry.is_empty() {
                // Nothing got through: the server is away. One more failed
                // round; nothing is tried before the back-off is over.
                self.failures = self.failures.saturating_add(1);
                let wait = backoff(self.failures);
                let at = Utc::now() + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                for entry in &mut retry {
                    entry.next_attempt = at;
                }
                self.retry_at = Some(at);
                self.store.update_outbox_all(&retry).await?;
                tracing::warn!(
                    emails = retry.len(),
                    retry_in_s = wait.as_secs(),
                    "SMTP server away; outbox waits"
                );
                return Ok(Some(wait));
            }
            // The server answers but deferred some emails (4xx): each waits
            // by its own attempts; the rest of the queue goes on.
            if !retry.is_empty() {
                self.store.update_outbox_all(&retry).await?;
            }
        }
        Ok(next.map(|n| (n - Utc::now()).to_std().unwrap_or(Duration::ZERO)))
    }

    /// One delivery attempt.
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), SendError> {
        let body = match self.store.outbox_body(entry.id) {
            Ok(Some(body)) => body,
            Ok(None) => return Err(SendError::Permanent("outbox body missing".into())),
            Err(e) => return Err(SendError::Transient(e.to_string())),
        };
        let result = self
            .transport
            .send(&entry.envelope_from, &entry.envelope_to, &body)
            .await;
        if result.is_ok() {
            crate::failpoint::hit("after_send");
        }
        result
    }

    /// What an attempt's result means for its entry.
    fn settle(&mut self, mut entry: OutboxEntry, result: Result<(), SendError>) -> Settled {
        let now = Utc::now();
        match result {
            Ok(()) => {
                self.failures = 0;
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    message_id = %entry.message_id,
                    case = entry.case_ref.as_deref().unwrap_or("-"),
                    template = entry.template.name(),
                    attempts = entry.attempts,
                    "email sent"
                );
                let sent = EventKind::EmailSent {
                    message_id: entry.message_id.clone(),
                };
                Settled::Finished(entry, sent)
            }
            Err(SendError::Permanent(error)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(message_id = %entry.message_id, %error, "email refused permanently");
                let failed = EventKind::EmailFailed {
                    message_id: entry.message_id.clone(),
                    error,
                };
                Settled::Finished(entry, failed)
            }
            Err(SendError::Transient(error)) => {
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
                if now - entry.created_at > GIVE_UP_AFTER {
                    tracing::warn!(message_id = %entry.message_id, %error, "email given up");
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    let failed = EventKind::EmailFailed {
                        message_id: entry.message_id.clone(),
                        error,
                    };
                    return Settled::Finished(entry, failed);
                }
                // This email's own back-off; a round in which nothing got
                // through replaces it by the server's (see `send_due`).
                let wait = backoff(entry.attempts);
                tracing::warn!(
                    message_id = %entry.message_id,
                    attempts = entry.attempts,
                    retry_in_s = wait.as_secs(),
                    %error,
                    "email not sent, will retry"
                );
                entry.last_error = Some(error);
                entry.next_attempt = now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                Settled::Retry(entry)
            }
        }
    }
}

/// The outcome of one attempt for the store.
enum Settled {
    /// Delivered, or failed for good: leaves the outbox, recorded on the case.
    Finished(OutboxEntry, EventKind),
    /// Stays in the outbox for a later attempt.
    Retry(OutboxEntry),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
