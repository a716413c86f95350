//! The outbox courier: delivers what the store's outbox holds, once each,
//! retrying with back-off while the SMTP server is away.
//!
//! After chatmail's `smtp.rs`: an attempt is counted in the store *before*
//! it is made, so an email that kills the courier cannot be retried forever.
//! The first attempt is counted by the commit that queues the email (no
//! flush of its own); the courier counts the others, a round at a time. An
//! attempt counted but never settled was cut short. An email cut short
//! twice is tried alone from then on, so that it alone is blamed if it
//! happens again; cut short eight times (six of them alone), it is given up
//! and recorded as failed on its case. The margin is wide on purpose: a
//! round is counted whole, so one crash cuts short emails that were only
//! waiting their turn, and a crash just after the server accepted an email
//! cuts it short too.
//!
//! Transient or permanent is decided by the transport from lettre's own
//! classification; a permanent refusal is recorded on the case. A refusal
//! is an input of the core like any other ([`core::Input::Refused`]): when
//! the server refused the signee's address outright, the developer and the
//! staff holding the case are told, as when a delivery report says it
//! bounced later. Every outcome is written through the one apply path
//! ([`Applier`]), in the same transaction as what it calls for.
//!
//! The clock is the courier's `clock` (the system's, or a test's): nothing
//! here reads the time another way.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use crate::apply::{Applier, ApplyError, Doorbell};
use crate::core::case::EventKind;
use crate::core::{self, Effects, Input, Refusal};
use crate::edge::store::{Origin, OutboxEntry, StoreError};
use crate::edge::transport::{CONNECTIONS, SendError, Transport};
use crate::metrics::OutboxStats;

/// First wait after a transient failure; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// An email still undelivered after this long is given up and recorded.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(3);
/// Emails whose attempts are counted with one flush before any of them is
/// tried, then sent `CONNECTIONS` at a time: a round. A flush costs an fsync,
/// so counting per email would cost more than the sending.
const ROUND: usize = 64;
/// Attempts cut short (see the module doc) after which an email is tried
/// alone, and after which it is given up.
const TRY_ALONE_AFTER: u32 = 2;
const GIVE_UP_CUT_SHORT: u32 = 8;

/// Back-off after `failures` consecutive transient failures.
pub fn backoff(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Delivers the outbox.
pub struct Courier {
    applier: Applier,
    transport: Transport,
    doorbell: Arc<Doorbell>,
    stats: Arc<OutboxStats>,
    clock: fn() -> DateTime<Utc>,
    /// Consecutive rounds in which nothing got through: the server, not one
    /// email, is away. Counted once per round, not once per email, so a long
    /// queue does not stretch the back-off.
    failures: u32,
    /// While the server is away no attempt is made before this, whatever
    /// wakes the courier: mail queued during an outage is no new evidence.
    retry_at: Option<DateTime<Utc>>,
}

impl Courier {
    /// A courier on the system clock.
    pub fn new(
        applier: Applier,
        transport: Transport,
        doorbell: Arc<Doorbell>,
        stats: Arc<OutboxStats>,
    ) -> Courier {
        Courier {
            applier,
            transport,
            doorbell,
            stats,
            clock: Utc::now,
            failures: 0,
            retry_at: None,
        }
    }

    /// The same courier on another clock (tests drive time with it).
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Courier {
        self.clock = clock;
        self
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
                _ = self.doorbell.rung() => {}
                _ = sleep => {}
            }
        }
    }

    /// Sends every due entry, round by round, `CONNECTIONS` at a time over the
    /// transport's pooled connections; returns how long until the next one
    /// is due.
    async fn send_due(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Duration>, ApplyError> {
        let now = (self.clock)();
        if let Some(at) = self.retry_at.filter(|at| *at > now) {
            return Ok(Some((at - now).to_std().unwrap_or(Duration::ZERO)));
        }
        let announced = self.doorbell.take_all();
        let store = self.applier.store();
        let entries: Vec<OutboxEntry> = store.outbox().collect::<Result<_, _>>()?;
        let (due, later): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| e.next_attempt <= now);
        let next = later.iter().map(|e| e.next_attempt).min();
        let Plan { give_up, rounds } = plan(due);
        self.give_up(give_up, now).await?;
        for mut batch in rounds {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            // Counted before trying (see the module doc), in one flush;
            // the first attempt was counted by the commit that queued it.
            let mut counted = Vec::new();
            for entry in &mut batch {
                if !announced.contains(&entry.id) {
                    entry.attempts += 1;
                    counted.push(entry.clone());
                }
            }
            if !counted.is_empty() {
                self.applier.store().update_outbox_all(&counted).await?;
            }
            let Round {
                mut retry,
                got_through,
            } = self.send_round(batch).await?;
            let now = (self.clock)();
            if got_through {
                self.failures = 0;
                self.retry_at = None;
            } else if !retry.is_empty() {
                // Nothing got through: the server is away. One more failed
                // round; nothing is tried before the back-off is over.
                self.failures = self.failures.saturating_add(1);
                let wait = backoff(self.failures);
                let at = now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                for entry in &mut retry {
                    entry.next_attempt = at;
                }
                self.retry_at = Some(at);
                self.applier.store().update_outbox_all(&retry).await?;
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
                self.applier.store().update_outbox_all(&retry).await?;
            }
        }
        let now = (self.clock)();
        Ok(next.map(|n| (n - now).to_std().unwrap_or(Duration::ZERO)))
    }

    /// Sends one round, `CONNECTIONS` at a time, and records each outcome
    /// as soon as it is known: the outcomes that arrive while the store is
    /// flushing are committed together and made durable by the next flush,
    /// while the rest of the round is still being sent. So an email the
    /// server accepted is recorded as sent within about one flush (a crash
    /// in that window sends it again, with the same Message-ID), never
    /// only at the end of its round.
    ///
    /// The window is capped: no new attempt starts while `CONNECTIONS`
    /// outcomes are waiting to be made durable (taken but not yet flushed).
    /// So a crash can re-send at most the emails in flight plus those
    /// waiting — about `2 × CONNECTIONS` — however long an fsync takes;
    /// without the cap, every acceptance that arrived during a slow flush
    /// widened it.
    async fn send_round(&self, batch: Vec<OutboxEntry>) -> Result<Round, ApplyError> {
        let mut waiting = batch.into_iter().peekable();
        let mut in_flight = FuturesUnordered::new();
        let mut round = Round::default();
        let mut finished: Vec<(OutboxEntry, EventKind)> = Vec::new();
        let mut refused: Vec<(OutboxEntry, EventKind, String)> = Vec::new();
        let mut flushing: Option<Flush<'_>> = None;
        // Emails queued by the commits the running flush makes durable.
        let mut covered: Vec<u64> = Vec::new();
        // Outcomes the running flush makes durable.
        let mut in_flush = 0usize;
        loop {
            while in_flight.len() < CONNECTIONS
                && finished.len() + refused.len() + in_flush < CONNECTIONS
                && let Some(next) = waiting.next()
            {
                in_flight.push(self.attempt(next));
            }
            if flushing.is_none() && (!finished.is_empty() || !refused.is_empty()) {
                let now = (self.clock)();
                in_flush = finished.len() + refused.len();
                covered = self.finish(&finished, now)?;
                finished.clear();
                for (entry, outcome, code) in refused.drain(..) {
                    match self.refused(entry, outcome, &code, now) {
                        Ok(more) => covered.extend(more),
                        // The case could not be read: the notices cannot be
                        // decided, so the email stays and is tried again later.
                        Err(undecided) => {
                            let RefusalUndecided(mut entry, e) = *undecided;
                            tracing::error!(message_id = %entry.message_id, error = %e, "refusal not recorded yet");
                            entry.settled = entry.attempts;
                            entry.next_attempt =
                                now + chrono::TimeDelta::from_std(MAX_BACKOFF).unwrap_or_default();
                            round.retry.push(entry);
                        }
                    }
                }
                flushing = Some(Box::pin(self.applier.store().flush()));
            }
            if in_flight.is_empty() && flushing.is_none() && waiting.peek().is_none() {
                return Ok(round);
            }
            let flushed = async {
                match flushing.as_mut() {
                    Some(flush) => flush.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some((entry, result)) = in_flight.next(), if !in_flight.is_empty() => {
                    round.got_through |= result.is_ok();
                    match self.outcome_of(entry, result, (self.clock)()) {
                        Outcome::Finished(entry, outcome) => finished.push((entry, outcome)),
                        Outcome::Refused(entry, outcome, code) => refused.push((entry, outcome, code)),
                        Outcome::Retry(entry) => round.retry.push(entry),
                    }
                }
                done = flushed => {
                    flushing = None;
                    in_flush = 0;
                    done?;
                    if !covered.is_empty() {
                        self.doorbell.announce(std::mem::take(&mut covered));
                    }
                }
            }
        }
    }

    /// One attempt, with its entry back for the outcome.
    async fn attempt(&self, entry: OutboxEntry) -> (OutboxEntry, Result<(), SendError>) {
        let result = self.deliver(&entry).await;
        (entry, result)
    }

    /// Records `finished` (delivered, or failed for good) through the apply
    /// path: each leaves the outbox, its outcome on its case. Returns the
    /// ids of any emails queued (none: these outcomes call for nothing).
    fn finish(
        &self,
        finished: &[(OutboxEntry, EventKind)],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, ApplyError> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let origin = Origin::Outbox { finished };
        Ok(queued_by(self.applier.apply(
            origin,
            "",
            &Effects::default(),
            &[],
            now,
        )?))
    }

    /// A permanent refusal, decided by the core (the notices to the
    /// developer and staff when it was the signee's address) and applied
    /// with the refused email's outcome, in one transaction. Their
    /// Message-IDs derive from the refused email's, so that they are the
    /// same whenever decided.
    fn refused(
        &self,
        entry: OutboxEntry,
        outcome: EventKind,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, Box<RefusalUndecided>> {
        let refusal = Refusal {
            case_ref: entry.case_ref.as_deref(),
            recipients: &entry.envelope_to,
            code,
        };
        let decided = core::handle(
            Input::Refused(refusal),
            self.applier.store(),
            self.applier.cfg(),
            now,
        );
        let effects = match decided {
            Ok(effects) => effects,
            Err(e) => return Err(Box::new(RefusalUndecided(entry, e.to_string()))),
        };
        let seed = format!("refused:{}", entry.message_id);
        let finished = [(entry, outcome)];
        match self.applier.apply(
            Origin::Outbox {
                finished: &finished,
            },
            &seed,
            &effects,
            &[],
            now,
        ) {
            Ok(committed) => Ok(queued_by(committed)),
            Err(e) => {
                let [(entry, _)] = finished;
                Err(Box::new(RefusalUndecided(entry, e.to_string())))
            }
        }
    }

    /// Records emails whose attempts were cut short too often as failed.
    async fn give_up(
        &mut self,
        entries: Vec<OutboxEntry>,
        now: DateTime<Utc>,
    ) -> Result<(), ApplyError> {
        let mut failed = Vec::new();
        for entry in entries {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            let error = format!(
                "given up: sending was cut short {} times (the daemon stopped during each try)",
                cut_short(&entry)
            );
            tracing::error!(message_id = %entry.message_id, %error, "email given up");
            let what = EventKind::EmailFailed {
                message_id: entry.message_id.clone(),
                error,
            };
            failed.push((entry, what));
        }
        let queued = self.finish(&failed, now)?;
        Ok(self.applier.durable(queued).await?)
    }

    /// One delivery attempt.
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), SendError> {
        let body = match self.applier.store().outbox_body(entry.id) {
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

    /// What an attempt's result, known at `now`, means for its entry.
    fn outcome_of(
        &self,
        mut entry: OutboxEntry,
        result: Result<(), SendError>,
        now: DateTime<Utc>,
    ) -> Outcome {
        match result {
            Ok(()) => {
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
                Outcome::Finished(entry, sent)
            }
            Err(SendError::Refused { code, reason }) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(message_id = %entry.message_id, error = %reason, "email refused permanently");
                let failed = EventKind::EmailFailed {
                    message_id: entry.message_id.clone(),
                    error: reason,
                };
                Outcome::Refused(entry, failed, code)
            }
            Err(SendError::Permanent(error)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(message_id = %entry.message_id, %error, "email cannot be sent");
                let failed = EventKind::EmailFailed {
                    message_id: entry.message_id.clone(),
                    error,
                };
                Outcome::Finished(entry, failed)
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
                    return Outcome::Finished(entry, failed);
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
                entry.settled = entry.attempts;
                entry.next_attempt = now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                Outcome::Retry(entry)
            }
        }
    }
}

/// A refusal whose effects could not be decided or applied (the store did
/// not read or write): the entry, back, and why.
struct RefusalUndecided(OutboxEntry, String);

fn queued_by(committed: crate::edge::store::Committed) -> Vec<u64> {
    match committed {
        crate::edge::store::Committed::Now { queued, .. } => queued,
        crate::edge::store::Committed::Already(_) => Vec::new(),
    }
}

/// Attempts counted whose outcome was never recorded.
fn cut_short(entry: &OutboxEntry) -> u32 {
    entry.attempts.saturating_sub(entry.settled)
}

/// What to do with the due emails.
struct Plan {
    /// Cut short too often: recorded as failed, not tried.
    give_up: Vec<OutboxEntry>,
    /// In the order tried: rounds of up to `ROUND`, then each email cut
    /// short twice in a round of its own (if it stops the daemon again, the
    /// others are not blamed with it).
    rounds: Vec<Vec<OutboxEntry>>,
}

fn plan(due: Vec<OutboxEntry>) -> Plan {
    let (give_up, due): (Vec<_>, Vec<_>) = due
        .into_iter()
        .partition(|e| cut_short(e) >= GIVE_UP_CUT_SHORT);
    let (alone, together): (Vec<_>, Vec<_>) = due
        .into_iter()
        .partition(|e| cut_short(e) >= TRY_ALONE_AFTER);
    let rounds = together
        .chunks(ROUND)
        .chain(alone.chunks(1))
        .map(<[OutboxEntry]>::to_vec)
        .collect();
    Plan { give_up, rounds }
}

/// A store flush in progress, beside the round's sending.
type Flush<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// What a round leaves: the emails to try again, and whether any got
/// through (else the server, not one email, is away).
#[derive(Default)]
struct Round {
    retry: Vec<OutboxEntry>,
    got_through: bool,
}

/// What one attempt means for its entry.
enum Outcome {
    /// Delivered, or failed for good: leaves the outbox, recorded on the case.
    Finished(OutboxEntry, EventKind),
    /// Refused for good by the server, with its reply code: as `Finished`,
    /// and may call for notices.
    Refused(OutboxEntry, EventKind, String),
    /// Stays in the outbox for a later attempt.
    Retry(OutboxEntry),
}

#[cfg(test)]
mod tests;
