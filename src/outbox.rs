//! The outbox sender: delivers what the store's outbox holds, once each,
//! retrying with back-off while the SMTP server is away.
//!
//! After chatmail's `smtp.rs`: an attempt is counted in the store *before*
//! it is made, so an email that somehow kills the sender cannot be retried
//! forever. Transient or permanent is decided by the transport from lettre's
//! own classification; a permanent refusal is recorded on the case.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
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
    /// Consecutive transient failures: the server, not one email, is away.
    failures: u32,
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

    /// Sends every due entry; returns how long until the next one is due.
    async fn send_due(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Duration>, StoreError> {
        let now = Utc::now();
        let entries: Vec<OutboxEntry> = self.store.outbox().collect::<Result<_, _>>()?;
        let mut next: Option<DateTime<Utc>> = None;
        for entry in entries {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            if entry.next_attempt > now {
                next = Some(next.map_or(entry.next_attempt, |n| n.min(entry.next_attempt)));
                continue;
            }
            if !self.attempt(entry).await? {
                // The server is away: wait before trying anything else.
                return Ok(Some(backoff(self.failures)));
            }
        }
        Ok(next.map(|n| (n - Utc::now()).to_std().unwrap_or(Duration::ZERO)))
    }

    /// One attempt. Returns false when the server seems to be away.
    async fn attempt(&mut self, mut entry: OutboxEntry) -> Result<bool, StoreError> {
        entry.attempts += 1;
        self.store.update_outbox(&entry).await?;
        let Some(body) = self.store.outbox_body(entry.id)? else {
            let error = "outbox body missing".to_string();
            tracing::error!(message_id = %entry.message_id, "outbox body missing");
            self.store
                .finish_outbox(
                    &entry,
                    EventKind::EmailFailed {
                        message_id: entry.message_id.clone(),
                        error,
                    },
                )
                .await?;
            return Ok(true);
        };
        let result = self
            .transport
            .send(&entry.envelope_from, &entry.envelope_to, &body)
            .await;
        if result.is_ok() {
            crate::failpoint::hit("after_send");
        }
        let now = Utc::now();
        match result {
            Ok(()) => {
                self.failures = 0;
                self.stats
                    .sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                self.store.finish_outbox(&entry, sent).await?;
                Ok(true)
            }
            Err(SendError::Permanent(error)) => {
                self.failures = 0;
                self.stats
                    .failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(message_id = %entry.message_id, %error, "email refused permanently");
                let failed = EventKind::EmailFailed {
                    message_id: entry.message_id.clone(),
                    error,
                };
                self.store.finish_outbox(&entry, failed).await?;
                Ok(true)
            }
            Err(SendError::Transient(error)) => {
                self.failures += 1;
                self.stats
                    .retried
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if now - entry.created_at > GIVE_UP_AFTER {
                    tracing::warn!(message_id = %entry.message_id, %error, "email given up");
                    let failed = EventKind::EmailFailed {
                        message_id: entry.message_id.clone(),
                        error,
                    };
                    self.store.finish_outbox(&entry, failed).await?;
                    return Ok(false);
                }
                let wait = backoff(self.failures);
                tracing::warn!(
                    message_id = %entry.message_id,
                    attempts = entry.attempts,
                    retry_in_s = wait.as_secs(),
                    %error,
                    "email not sent, will retry"
                );
                entry.last_error = Some(error);
                entry.next_attempt = now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                self.store.update_outbox(&entry).await?;
                Ok(false)
            }
        }
    }
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
