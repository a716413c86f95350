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
//! files every message at once.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::classify::{Class, Classifier};
use crate::config::Config;
use crate::inbound::{self, Inbound};
use crate::mailbox::{Fetched, Folder, Mailbox, MessageId};

/// Raw bytes fetched but not yet filed (or given back) at most; one
/// message more may be in flight, since a size is known only once fetched.
/// Two batches' worth: the next batch is fetched while one is decided.
pub const FETCH_AHEAD_BYTES: usize = 24 << 20;

/// Most decided messages held back from filing while more are in flight.
pub const FILE_TOGETHER: usize = 64;

/// A message fetched and on its way to being parsed.
pub struct Arrival {
    pub id: MessageId,
    /// Size of the raw message, for the worker's batch limit and the budget.
    pub bytes: usize,
    /// Parsing and classifying, on the blocking pool.
    pub parsed: JoinHandle<Parsed>,
}

/// A message read and classified: what the core decides on.
pub struct Parsed {
    pub msg: Inbound,
    pub class: Class,
    /// The classifier panicked on this message: quarantine it undecided.
    /// (A parser panic yields a malformed message, which is decided as such.)
    pub panicked: bool,
}

/// The worker's word on a batch: file these, and the budget they held
/// (every message of the batch, filed or not) is free again.
pub struct Filing {
    pub items: Vec<(MessageId, Folder)>,
    pub messages: usize,
    pub bytes: usize,
}

/// Parses and classifies on the blocking pool, a few at a time.
#[derive(Clone)]
pub struct Parser {
    cfg: Arc<Config>,
    classifier: Arc<Classifier>,
    /// One message per core at once: more would only compete for the CPU
    /// with each other and with the mail server.
    slots: Arc<Semaphore>,
}

impl Parser {
    pub fn new(cfg: Arc<Config>) -> Parser {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Parser {
            classifier: Arc::new(Classifier::new(&cfg)),
            cfg,
            slots: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Starts reading `raw`; the handle yields the parsed message.
    pub fn spawn(&self, raw: Vec<u8>) -> JoinHandle<Parsed> {
        let parser = self.clone();
        tokio::spawn(async move {
            // The semaphore is never closed, so this cannot fail.
            let _slot = parser.slots.clone().acquire_owned().await;
            let worker = parser.clone();
            match tokio::task::spawn_blocking(move || worker.parse(&raw)).await {
                Ok(parsed) => parsed,
                // `parse` catches panics, so this is a cancelled task: the
                // runtime is shutting down.
                Err(e) => {
                    tracing::error!(error = %e, "parser task failed");
                    Parsed {
                        msg: Inbound {
                            malformed: true,
                            ..Inbound::default()
                        },
                        class: Class::Malformed,
                        panicked: true,
                    }
                }
            }
        })
    }

    /// Parses and classifies one message. The core is pure and should never
    /// panic; if it does on some odd message, that message is quarantined
    /// instead of crashing the daemon into a restart loop on the same input.
    pub fn parse(&self, raw: &[u8]) -> Parsed {
        let parsed = std::panic::catch_unwind(|| inbound::parse(raw));
        let msg = parsed.unwrap_or_else(|_| {
            tracing::error!("parser panicked; quarantining the message");
            Inbound {
                key: format!("sha256:{}", inbound::sha256_hex(raw)),
                size: raw.len() as u64,
                malformed: true,
                ..Inbound::default()
            }
        });
        let mut panicked = false;
        let class = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.classifier.classify(&msg, &self.cfg)
        }))
        .unwrap_or_else(|_| {
            tracing::error!("classifier panicked; quarantining the message");
            panicked = true;
            Class::Malformed
        });
        Parsed {
            msg,
            class,
            panicked,
        }
    }
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
    let mut unfiled = Vec::new();
    let mut pause = Duration::ZERO;
    loop {
        // Filing first: it moves decided mail out and frees the budget.
        while let Ok(filing) = filings.try_recv() {
            budget.settle(filing, &mut unfiled);
        }
        if unfiled.len() >= FILE_TOGETHER || (budget.messages == 0 && !unfiled.is_empty()) {
            file(&mut mailbox, std::mem::take(&mut unfiled)).await;
        }
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
                let Fetched { id, raw } = fetched;
                let bytes = raw.len();
                budget.messages += 1;
                budget.bytes += bytes;
                let parsed = parser.spawn(raw);
                if arrivals.send(Arrival { id, bytes, parsed }).is_err() {
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
    file(&mut mailbox, unfiled).await;
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
    fn settle(&mut self, filing: Filing, unfiled: &mut Vec<(MessageId, Folder)>) {
        self.messages = self.messages.saturating_sub(filing.messages);
        self.bytes = self.bytes.saturating_sub(filing.bytes);
        unfiled.extend(filing.items);
    }
}

async fn file<M: Mailbox>(mailbox: &mut M, items: Vec<(MessageId, Folder)>) {
    if items.is_empty() {
        return;
    }
    if let Err(e) = mailbox.file_all(&items).await {
        // Their effect is stored: they are filed (only) when offered again.
        tracing::warn!(error = %e, "could not file every message, will retry");
    }
}

/// Back-off after a mailbox error.
pub fn next_pause(p: Duration) -> Duration {
    (p * 2).clamp(Duration::from_millis(500), Duration::from_secs(30))
}
