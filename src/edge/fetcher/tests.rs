//! The filing rule, against an in-memory inbox: what the fetcher files
//! and when, not how a server moves mail (the IMAP and Maildir edges
//! have their own tests against real folders).

use std::collections::VecDeque;
use std::sync::Arc;

use super::*;
use crate::config::Config;

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
            oversize: None,
        })
    }
}

impl Mailbox for FakeInbox {
    async fn open(&mut self) -> Result<(), crate::edge::mailbox::MailboxError> {
        Ok(())
    }

    async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Fetched>, crate::edge::mailbox::MailboxError> {
        match self.take() {
            Some(fetched) => Ok(Some(fetched)),
            None => {
                shutdown.cancelled().await;
                Ok(None)
            }
        }
    }

    async fn next_ready(&mut self) -> Result<Option<Fetched>, crate::edge::mailbox::MailboxError> {
        Ok(self.take())
    }

    async fn file(
        &mut self,
        locator: &Locator,
        folder: Folder,
    ) -> Result<(), crate::edge::mailbox::MailboxError> {
        self.file_all(&[(locator.clone(), folder)]).await
    }

    async fn file_all(
        &mut self,
        items: &[(Locator, Folder)],
    ) -> Result<(), crate::edge::mailbox::MailboxError> {
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
