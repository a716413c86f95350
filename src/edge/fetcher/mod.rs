//! The mailbox side of the message loop, as a task of its own.
//!
//! It fetches messages ahead of the worker that decides them, within a
//! budget of raw bytes, and starts parsing and classifying each on the
//! blocking pool the moment it arrives, so that fetching, parsing and
//! deciding overlap instead of taking turns. It files a message only when
//! the worker says so, which the worker does only after the message's
//! effect is durable: a crash at any point leaves every unfiled message in
//! the inbox, to be offered again.
//!
//! The mailbox is used by this task alone, one command at a time, so the
//! worker never waits on IMAP and filing never interrupts a fetch.
//!
//! While a backlog drains, decided messages are filed together, up to
//! [`FILE_TOGETHER`] at once: for an IMAP server each `UID MOVE` costs a
//! sync of both folders and an index commit whatever its size (Dovecot's
//! Maildir: a lock file, a uidlist rewrite and a directory scan each), so
//! the batch is what the server's work per message depends on. As soon as
//! the fetcher has nothing in flight (the backlog is drained, or a single
//! message has been handled) it files what it holds, so an idle daemon
//! files every message at once; under a steady stream, none waits longer
//! than [`FILE_WITHIN`].
//!
//! The reading of each message (parse, classify) is the [`Parser`], in
//! `parser`; the tests of the filing rule are in `tests`.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::core::Folder;
use crate::edge::mailbox::{Fetched, Locator, Mailbox};
pub use parser::{Parsed, Parser};

mod parser;

/// Raw bytes fetched but not yet filed (or given back) at most; one
/// message more may be in flight, since a size is known only once fetched.
/// Two batches' worth: the next batch is fetched while one is decided.
pub const FETCH_AHEAD_BYTES: usize = 24 << 20;

/// Most decided messages held back from filing while more are in flight.
pub const FILE_TOGETHER: usize = 64;

/// ... and for at most this long: under a steady stream of mail the
/// fetcher may never be without a message in flight.
pub const FILE_WITHIN: Duration = Duration::from_secs(2);

/// A message fetched and on its way to being parsed.
pub struct Arrival {
    pub locator: Locator,
    /// Size of the raw bytes read (only the header of a message over the
    /// limit), for the worker's batch limit and the budget.
    pub bytes: usize,
    /// Parsing and classifying, on the blocking pool.
    pub parsed: JoinHandle<Parsed>,
}

/// The worker's word on a batch: file these, and the budget they held
/// (every message of the batch, filed or not) is free again.
pub struct Filing {
    pub items: Vec<(Locator, Folder)>,
    pub messages: usize,
    pub bytes: usize,
}

/// Runs the mailbox until shutdown: fetches into `arrivals`, files what
/// comes back on `filings`. After shutdown it keeps filing until the worker
/// has dropped its end of `filings`, then logs out.
pub async fn run<M: Mailbox>(
    mut mailbox: M,
    parser: Parser,
    arrivals: mpsc::UnboundedSender<Arrival>,
    mut filings: mpsc::UnboundedReceiver<Filing>,
    shutdown: CancellationToken,
) {
    let mut budget = Budget::default();
    let mut unfiled = Unfiled::default();
    let mut pause = Duration::ZERO;
    loop {
        // Filing first: it moves decided mail out and frees the budget.
        while let Ok(filing) = filings.try_recv() {
            budget.settle(filing, &mut unfiled);
        }
        file(&mut mailbox, unfiled.due(budget.messages > 0)).await;
        if shutdown.is_cancelled() {
            break;
        }
        if !pause.is_zero() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        let fetched = if budget.messages == 0 {
            // Nothing in flight, so nothing to file meanwhile: wait for mail.
            mailbox.next(&shutdown).await
        } else if budget.bytes < FETCH_AHEAD_BYTES {
            mailbox.next_ready().await
        } else {
            Ok(None)
        };
        match fetched {
            Ok(Some(fetched)) => {
                pause = Duration::ZERO;
                let Fetched {
                    locator,
                    raw,
                    oversize,
                } = fetched;
                let bytes = raw.len();
                budget.messages += 1;
                budget.bytes += bytes;
                let parsed = parser.spawn(raw, oversize);
                if arrivals
                    .send(Arrival {
                        locator,
                        bytes,
                        parsed,
                    })
                    .is_err()
                {
                    break;
                }
            }
            Ok(None) if budget.messages == 0 => {
                // `next` gives nothing only once shut down.
                break;
            }
            Ok(None) => {
                // Nothing more to fetch for now, or the budget is spent:
                // wait for the worker's next filing.
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    filing = filings.recv() => match filing {
                        Some(filing) => budget.settle(filing, &mut unfiled),
                        None => break,
                    },
                }
            }
            Err(e) => {
                pause = next_pause(pause);
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "mailbox error");
            }
        }
    }
    // The worker finishes the batch in hand; file it before logging out.
    drop(arrivals);
    while let Some(filing) = filings.recv().await {
        budget.settle(filing, &mut unfiled);
    }
    file(&mut mailbox, unfiled.items).await;
    mailbox.close().await;
}

/// Messages and raw bytes handed to the worker and not yet given back.
#[derive(Debug, Default)]
struct Budget {
    messages: usize,
    bytes: usize,
}

impl Budget {
    /// Takes the worker's word on a batch: its budget is free again, and
    /// its messages join those waiting to be filed.
    fn settle(&mut self, filing: Filing, unfiled: &mut Unfiled) {
        self.messages = self.messages.saturating_sub(filing.messages);
        self.bytes = self.bytes.saturating_sub(filing.bytes);
        unfiled.add(filing.items);
    }
}

/// Decided messages not filed yet, oldest first.
#[derive(Debug, Default)]
struct Unfiled {
    items: Vec<(Locator, Folder)>,
    /// When the oldest of them was decided.
    since: Option<Instant>,
}

impl Unfiled {
    fn add(&mut self, items: Vec<(Locator, Folder)>) {
        if self.items.is_empty() && !items.is_empty() {
            self.since = Some(Instant::now());
        }
        self.items.extend(items);
    }

    /// Takes what is due for filing: whole moves while more mail is in
    /// flight; everything once nothing is, or once the oldest has waited
    /// [`FILE_WITHIN`].
    fn due(&mut self, in_flight: bool) -> Vec<(Locator, Folder)> {
        let waited = self.since.is_some_and(|t| t.elapsed() >= FILE_WITHIN);
        let n = if !in_flight || waited {
            self.items.len()
        } else {
            self.items.len() - self.items.len() % FILE_TOGETHER
        };
        let due = self.items.drain(..n).collect();
        if self.items.is_empty() {
            self.since = None;
        }
        due
    }
}

/// Files `items`, at most [`FILE_TOGETHER`] in one go.
async fn file<M: Mailbox>(mailbox: &mut M, items: Vec<(Locator, Folder)>) {
    for chunk in items.chunks(FILE_TOGETHER) {
        if let Err(e) = mailbox.file_all(chunk).await {
            // Their effect is stored: they are filed (only) when offered again.
            tracing::warn!(error = %e, "could not file every message, will retry");
        }
    }
}

/// Back-off after a mailbox error.
pub fn next_pause(p: Duration) -> Duration {
    (p * 2).clamp(Duration::from_millis(500), Duration::from_secs(30))
}

#[cfg(test)]
mod tests;
