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

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::classify::{Class, Classifier};
use crate::config::Config;
use crate::inbound::{self, Inbound};
use crate::mailbox::{Fetched, Folder, Locator, Mailbox};

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
    pub items: Vec<(Locator, Folder)>,
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
                let Fetched { locator, raw } = fetched;
                let bytes = raw.len();
                budget.messages += 1;
                budget.bytes += bytes;
                let parsed = parser.spawn(raw);
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
mod tests {
    //! The filing rule, against an in-memory inbox: what the fetcher files
    //! and when, not how a server moves mail (the IMAP and Maildir edges
    //! have their own tests against real folders).

    use std::collections::VecDeque;

    use super::*;

    /// What the fake inbox was asked to do, in order.
    #[derive(Debug, PartialEq)]
    enum Call {
        Filed(Vec<u32>),
        Closed,
    }

    struct FakeInbox {
        waiting: VecDeque<u32>,
        calls: mpsc::UnboundedSender<Call>,
    }

    impl FakeInbox {
        fn with(uids: impl IntoIterator<Item = u32>) -> (FakeInbox, Calls) {
            let (tx, rx) = mpsc::unbounded_channel();
            let inbox = FakeInbox {
                waiting: uids.into_iter().collect(),
                calls: tx,
            };
            (inbox, Calls(rx))
        }

        fn take(&mut self) -> Option<Fetched> {
            self.waiting.pop_front().map(|uid| Fetched {
                locator: locator(uid),
                raw: format!("From: a@b.example\r\nSubject: {uid}\r\n\r\nhi\r\n").into_bytes(),
            })
        }
    }

    impl Mailbox for FakeInbox {
        async fn open(&mut self) -> Result<(), crate::mailbox::MailboxError> {
            Ok(())
        }

        async fn next(
            &mut self,
            shutdown: &CancellationToken,
        ) -> Result<Option<Fetched>, crate::mailbox::MailboxError> {
            match self.take() {
                Some(fetched) => Ok(Some(fetched)),
                None => {
                    shutdown.cancelled().await;
                    Ok(None)
                }
            }
        }

        async fn next_ready(&mut self) -> Result<Option<Fetched>, crate::mailbox::MailboxError> {
            Ok(self.take())
        }

        async fn file(
            &mut self,
            locator: &Locator,
            folder: Folder,
        ) -> Result<(), crate::mailbox::MailboxError> {
            self.file_all(&[(locator.clone(), folder)]).await
        }

        async fn file_all(
            &mut self,
            items: &[(Locator, Folder)],
        ) -> Result<(), crate::mailbox::MailboxError> {
            let uids = items.iter().map(|(locator, _)| uid(locator)).collect();
            let _ = self.calls.send(Call::Filed(uids));
            Ok(())
        }

        async fn close(&mut self) {
            let _ = self.calls.send(Call::Closed);
        }
    }

    struct Calls(mpsc::UnboundedReceiver<Call>);

    impl Calls {
        /// The next call, failing the test if none comes within 10 s.
        async fn next(&mut self) -> Call {
            match tokio::time::timeout(Duration::from_secs(10), self.0.recv()).await {
                Ok(Some(call)) => call,
                Ok(None) => panic!("the fetcher dropped the inbox without closing it"),
                Err(_) => panic!("the fetcher did nothing for 10 s"),
            }
        }
    }

    fn parser() -> Parser {
        Parser::new(Arc::new(Config::embedded_default()))
    }

    fn locator(uid: u32) -> Locator {
        Locator::Imap {
            uidvalidity: 1,
            uid,
        }
    }

    fn uid(locator: &Locator) -> u32 {
        match locator {
            Locator::Imap { uid, .. } => *uid,
            Locator::Maildir { .. } => 0,
        }
    }

    /// A fetcher running over a fake inbox holding `uids`, and the ends the
    /// daemon's worker would hold.
    struct Running {
        calls: Calls,
        arrivals: mpsc::UnboundedReceiver<Arrival>,
        filings: mpsc::UnboundedSender<Filing>,
        shutdown: CancellationToken,
        fetcher: JoinHandle<()>,
    }

    fn start(uids: impl IntoIterator<Item = u32>) -> Running {
        let (inbox, calls) = FakeInbox::with(uids);
        let (arrivals_tx, arrivals) = mpsc::unbounded_channel();
        let (filings, filings_rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let fetcher = tokio::spawn(run(
            inbox,
            parser(),
            arrivals_tx,
            filings_rx,
            shutdown.clone(),
        ));
        Running {
            calls,
            arrivals,
            filings,
            shutdown,
            fetcher,
        }
    }

    /// The worker's word on `held`: all of them decided into `folder`.
    fn filing_of(held: Vec<Arrival>, folder: Folder) -> Filing {
        Filing {
            messages: held.len(),
            bytes: held.iter().map(|a| a.bytes).sum(),
            items: held.into_iter().map(|a| (a.locator, folder)).collect(),
        }
    }

    /// Stands in for the daemon's worker: answers each arrival with a
    /// filing of its own, as a worker whose batches hold one message would.
    async fn answer_each(
        mut arrivals: mpsc::UnboundedReceiver<Arrival>,
        filings: mpsc::UnboundedSender<Filing>,
        count: usize,
    ) -> mpsc::UnboundedSender<Filing> {
        for _ in 0..count {
            let Some(mut arrival) = arrivals.recv().await else {
                panic!("the fetcher stopped handing out messages");
            };
            let _ = (&mut arrival.parsed).await;
            filings
                .send(filing_of(vec![arrival], Folder::Processed))
                .unwrap();
        }
        filings
    }

    fn decided(n: u32) -> Filing {
        Filing {
            items: (1..=n)
                .map(|uid| (locator(uid), Folder::Processed))
                .collect(),
            messages: n as usize,
            bytes: 0,
        }
    }

    #[test]
    fn whole_moves_while_in_flight_everything_when_idle_or_waited() {
        let mut budget = Budget::default();
        let mut unfiled = Unfiled::default();
        budget.settle(decided(70), &mut unfiled);
        let due = unfiled.due(true);
        assert_eq!(due.len(), FILE_TOGETHER);
        assert_eq!(uid(&due[0].0), 1, "oldest first");
        assert_eq!(unfiled.items.len(), 6);
        assert!(unfiled.due(true).is_empty(), "six wait for company");
        assert_eq!(unfiled.due(false).len(), 6, "nothing in flight: all go");
        assert!(unfiled.since.is_none());

        budget.settle(decided(3), &mut unfiled);
        assert!(unfiled.due(true).is_empty());
        unfiled.since = Instant::now().checked_sub(FILE_WITHIN);
        assert_eq!(unfiled.due(true).len(), 3, "waited long enough: all go");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlog_is_filed_in_moves_of_at_most_file_together() {
        let total = 3 * FILE_TOGETHER as u32 + 5;
        let Running {
            mut calls,
            arrivals,
            filings,
            shutdown,
            fetcher,
        } = start(1..=total);
        let worker = tokio::spawn(answer_each(arrivals, filings, total as usize));

        let mut filed = Vec::new();
        let mut moves = 0;
        while filed.len() < total as usize {
            match calls.next().await {
                Call::Filed(uids) => {
                    assert!(!uids.is_empty());
                    assert!(uids.len() <= FILE_TOGETHER, "{} in one move", uids.len());
                    moves += 1;
                    filed.extend(uids);
                }
                Call::Closed => panic!("closed before every message was filed"),
            }
        }
        assert_eq!(
            filed,
            (1..=total).collect::<Vec<_>>(),
            "each once, in order"
        );
        // One move per message would be `total`; the fake inbox hands
        // everything out at once, so the fetcher is always ahead.
        assert!(moves <= 8, "{moves} moves for {total} messages");

        shutdown.cancel();
        drop(worker.await.unwrap());
        assert_eq!(calls.next().await, Call::Closed);
        fetcher.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_message_is_filed_as_soon_as_it_is_decided() {
        let Running {
            mut calls,
            mut arrivals,
            filings,
            shutdown,
            fetcher,
        } = start([7]);
        let arrival: Arrival = arrivals.recv().await.unwrap();
        assert_eq!(uid(&arrival.locator), 7);
        filings
            .send(filing_of(vec![arrival], Folder::Rejected))
            .unwrap();
        // The daemon is still running and the inbox is empty: the move does
        // not wait for company.
        assert_eq!(calls.next().await, Call::Filed(vec![7]));
        shutdown.cancel();
        drop(filings);
        assert_eq!(calls.next().await, Call::Closed);
        fetcher.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_is_decided_during_shutdown_is_filed_before_logout() {
        let Running {
            mut calls,
            mut arrivals,
            filings,
            shutdown,
            fetcher,
        } = start(1..=3);
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(arrivals.recv().await.unwrap());
        }
        // SIGTERM while the worker holds all three: it finishes them, and
        // their filing still reaches the inbox before LOGOUT.
        shutdown.cancel();
        filings.send(filing_of(held, Folder::Processed)).unwrap();
        drop(filings);
        assert_eq!(calls.next().await, Call::Filed(vec![1, 2, 3]));
        assert_eq!(calls.next().await, Call::Closed);
        fetcher.await.unwrap();
    }
}
