//! Crash anywhere (issue 5, part 1): a burst of packs is loaded into the
//! inbox while the real daemon is killed with SIGKILL again and again —
//! by its own failpoints (`SIJIL_FAILPOINTS`: right after a message was
//! fetched, between the store commit and the move to its folder, between
//! the SMTP server's acceptance and the outbox's record of it) and by the
//! test at seeded random moments — and restarted each time. At the end every
//! pack has exactly one case, one ACK and one EMEL 1 (counted by Message-ID
//! in the recipients' real mailboxes), the inbox is empty and the store is
//! consistent. Once on IMAP + SMTP (real Dovecot and Postfix), once on the
//! Maildir in / Maildir out of the embedded default; and a smaller burst on
//! IMAP + SMTP killed many times at random moments while the outbox sends
//! (issue 16, item 1), whose physical copies are the emails whose
//! acceptance was not yet recorded at the kills.
//!
//! SMTP is at-least-once: a kill after the server accepted an email but
//! before the outbox recorded it sends the same bytes (same Message-ID)
//! again. Those physical copies are counted and reported apart; what must
//! be exactly one is the number of distinct Message-IDs per pack.
//!
//! `SIJIL_CRASH_SEED=<u64>` replays one schedule; run with `--nocapture`
//! to see the summary line each variant prints.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use sijil::core::case::{CaseState, EventKind};
use sijil::edge::store::Store;
use support::{DEVELOPER, Daemon, MailServers, Pack, RA_ADDRESS, VERIFIER};

/// The sizes of one burst.
#[derive(Debug, Clone, Copy)]
struct Burst {
    /// Packs in the burst.
    packs: usize,
    /// Of those, how many are in the inbox before the first start; the
    /// rest arrive in portions during the kill phase (the daemon handles 20
    /// to 50 packs a second, so a burst loaded at once would be gone after
    /// a few rounds, and the failpoints need messages to pass).
    preloaded: usize,
    /// Kills by failpoint, per point.
    failpoint_kills: usize,
    /// Kills by the test at random moments.
    random_kills: usize,
    /// When in a run those random kills come.
    moment: Moment,
}

/// When in its run a random kill comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// Anywhere: alternately 50–3000 ms after ready and 0–1500 ms after
    /// the run's first decision; the round's portion arrives while the
    /// daemon runs.
    Anywhere,
    /// While the outbox sends: 0–[`SENDING_WINDOW_MS`] ms after the run's
    /// first SMTP acceptance ([`ACCEPTED`]); the round's portion is in the
    /// inbox before the start (one batch, fetched at once), so the run has
    /// its emails and whatever the last kill left in the outbox to send.
    WhileSending,
}

impl Burst {
    fn kills(&self) -> usize {
        3 * self.failpoint_kills + self.random_kills
    }
}

/// Crash anywhere (issue 5): at least 300 packs, every failpoint at least
/// 3 times, at least 10 kills in all.
const KILLS_ANYWHERE: Burst = Burst {
    packs: 300,
    preloaded: 100,
    failpoint_kills: 3,
    random_kills: 5,
    moment: Moment::Anywhere,
};
const _: () = assert!(
    KILLS_ANYWHERE.packs >= 300
        && KILLS_ANYWHERE.failpoint_kills >= 3
        && 3 * KILLS_ANYWHERE.failpoint_kills + KILLS_ANYWHERE.random_kills >= 10
);

/// Many kills while the outbox sends (issue 16, item 1): 120 packs, 25
/// kills each at a random moment shortly after its run's first SMTP
/// acceptance, no failpoint. The outbox records acceptances as they arrive
/// (grouped flushes), so a kill re-sends only what was accepted and not
/// yet recorded at that moment, not the whole round. The first run has the
/// preloaded packs and its portion (a long stretch of sending), each other
/// one its portion of 4 and what the kill before it left unsent.
const MANY_RANDOM_KILLS: Burst = Burst {
    packs: 120,
    preloaded: 20,
    failpoint_kills: 0,
    random_kills: 25,
    moment: Moment::WhileSending,
};

/// [`Moment::WhileSending`]: a kill comes up to this many ms after the
/// run's first SMTP acceptance.
const SENDING_WINDOW_MS: u64 = 300;
/// [`Moment::WhileSending`]: longest wait for a run's first acceptance
/// (the kill comes then anyway, and is not counted as one after it).
const FIRST_SEND: Duration = Duration::from_secs(20);
/// The transport's log line for an email the SMTP server accepted, written
/// as the acceptance arrives. The outbox's `email sent` is no clock for
/// that: a build that records a whole round at once (before issue 16) logs
/// it for every email of the round together, once the last was accepted.
const ACCEPTED: &str = "smtp: message accepted";
/// The outbox's log line for an email it counts as sent.
const SENT: &str = "email sent";

/// A failpoint round starts with at least this many packs in the inbox.
const FAILPOINT_BACKLOG: usize = 8;
/// Packs kept for each failpoint round still to come: its backlog, plus a
/// few to hand in while it runs (`after_commit` counts batches, and a
/// batch takes the whole inbox: a second batch needs new mail).
const FAILPOINT_RESERVE: usize = FAILPOINT_BACKLOG + 8;
/// Longest wait for a start's ready line.
const READY: Duration = Duration::from_secs(60);
/// Longest wait for the last run to drain inbox and outbox.
const DRAIN: Duration = Duration::from_secs(200);

/// Where a kill happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kill {
    /// `after_fetch`: a message read, nothing decided.
    Fetch,
    /// `after_commit`: a batch's effects stored and flushed, none of its
    /// messages moved out of the inbox yet.
    Commit,
    /// `after_send`: SMTP (or the outbox Maildir) accepted an email, the
    /// outbox not yet told.
    Send,
    /// SIGKILL from the test, at a seeded random moment.
    Random,
}

impl Kill {
    fn failpoint(self) -> Option<&'static str> {
        match self {
            Kill::Fetch => Some("after_fetch"),
            Kill::Commit => Some("after_commit"),
            Kill::Send => Some("after_send"),
            Kill::Random => None,
        }
    }
}

/// xorshift64: a tiny seeded PRNG, so a failing schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn seeded(variant: u64) -> Rng {
        let seed = std::env::var("SIJIL_CRASH_SEED")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0x5111_1e20_2605);
        eprintln!("crash test seed {seed} (SIJIL_CRASH_SEED)");
        Rng((seed ^ variant.wrapping_mul(0x9e37_79b9_7f4a_7c15)).max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.range(0, i as u64) as usize;
            items.swap(i, j);
        }
    }
}

/// The kill schedule: every failpoint [`Burst::failpoint_kills`] times and
/// [`Burst::random_kills`] random kills, in a seeded random order.
fn schedule(rng: &mut Rng, burst: Burst) -> Vec<Kill> {
    let mut kills: Vec<Kill> = [Kill::Fetch, Kill::Commit, Kill::Send]
        .iter()
        .flat_map(|k| std::iter::repeat_n(*k, burst.failpoint_kills))
        .chain(std::iter::repeat_n(Kill::Random, burst.random_kills))
        .collect();
    rng.shuffle(&mut kills);
    kills
}

/// Starts `sijil` with `failpoints` armed (none when empty), not waiting
/// for readiness; returns the log offset this run starts at.
fn spawn(sijil: &mut Daemon, failpoints: &str) -> u64 {
    let offset = sijil.log_offset();
    if failpoints.is_empty() {
        sijil.spawn();
    } else {
        sijil.spawn_with(&[("SIJIL_FAILPOINTS", failpoints)]);
    }
    offset
}

/// Starts `sijil` without failpoints and waits for its ready line; returns
/// the log offset this run starts at.
fn start(sijil: &mut Daemon) -> u64 {
    let offset = sijil.log_offset();
    sijil.spawn_and_wait();
    offset
}

/// The last lines of the daemon's log, for a failure message.
fn tail(sijil: &Daemon) -> String {
    support::process::tail(sijil.log_path(), 40)
}

/// The headers the counting needs, from a delivered email.
#[derive(Debug, Clone)]
struct Delivered {
    message_id: String,
    in_reply_to: String,
    to: String,
}

fn delivered(raw: &[u8]) -> Delivered {
    let msg = support::parse(raw);
    let header = |name: &str| {
        msg.header_raw(name)
            .unwrap_or_default()
            .trim()
            .to_lowercase()
    };
    let to = support::first_to(raw).to_lowercase();
    Delivered {
        message_id: header("Message-ID"),
        in_reply_to: header("In-Reply-To"),
        to,
    }
}

/// What arrived for one kind of email: copies per Message-ID.
#[derive(Default)]
struct Tally {
    copies: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, id: &str) {
        *self.copies.entry(id.to_string()).or_default() += 1;
    }
    fn distinct(&self) -> usize {
        self.copies.len()
    }
    /// Physical copies beyond the first, summed over Message-IDs (each
    /// counted under its Message-ID: a copy has its first's by construction).
    fn extra_copies(&self) -> usize {
        self.copies.values().map(|n| n - 1).sum()
    }
    /// Message-IDs that arrived more than once.
    fn copied(&self) -> usize {
        self.copies.values().filter(|&&n| n > 1).count()
    }
}

/// Everything the daemon sent, grouped for the assertions.
struct Outcome {
    /// Per pack (by its Message-ID): the ACK Message-IDs answering it.
    acks: HashMap<String, Tally>,
    /// Per signee address: the EMEL 1 Message-IDs.
    emel1: HashMap<String, Tally>,
    staff: Tally,
    /// Anything else (must stay empty).
    other: Vec<String>,
}

impl Outcome {
    fn new(emails: impl IntoIterator<Item = Delivered>) -> Outcome {
        let mut out = Outcome {
            acks: HashMap::new(),
            emel1: HashMap::new(),
            staff: Tally::default(),
            other: Vec::new(),
        };
        for e in emails {
            if e.to == DEVELOPER {
                out.acks
                    .entry(e.in_reply_to)
                    .or_default()
                    .add(&e.message_id);
            } else if e.to == VERIFIER {
                out.staff.add(&e.message_id);
            } else if e.to.starts_with("signee") {
                out.emel1.entry(e.to).or_default().add(&e.message_id);
            } else {
                out.other.push(format!("{} to {}", e.message_id, e.to));
            }
        }
        out
    }

    fn distinct(&self) -> usize {
        self.acks.values().map(Tally::distinct).sum::<usize>()
            + self.emel1.values().map(Tally::distinct).sum::<usize>()
            + self.staff.distinct()
    }
}

/// The findings of one variant, printed and then asserted.
struct Report {
    variant: &'static str,
    burst: Burst,
    kills: BTreeMap<Kill, usize>,
    random_moments: Vec<String>,
    cases: usize,
    missing_acks: usize,
    doubled_acks: usize,
    missing_emel1: usize,
    doubled_emel1: usize,
    staff_distinct: usize,
    /// Physical copies beyond the first (ACK, EMEL 1, STAFF-VERIFY).
    extra_copies: (usize, usize, usize),
    /// Emails (Message-IDs) that arrived more than once (ACK, EMEL 1,
    /// STAFF-VERIFY): e.g. developers who got one answer twice.
    copied: (usize, usize, usize),
    /// Emails the outbox logged as sent (its outcome taken and committed)
    /// more than once: re-sent because the kill came before the flush that
    /// made the record durable. The other extra copies were never recorded:
    /// the server had the whole message when the kill came, before its
    /// `250` was read — SMTP's own in-flight window.
    recorded_then_resent: usize,
    /// Random kills that came after their run's first SMTP acceptance.
    after_first_accepted: usize,
    /// Random kills that came after their run's first `email sent`.
    after_first_send: usize,
    /// [`Moment::WhileSending`]: random kills a moment before which the
    /// outbox still held emails (`sijil_outbox_queued` > 0).
    outbox_held: usize,
    /// Packs loaded when the last kill happened (the rest came after).
    loaded_during_kills: usize,
    /// Packs filed when the kill phase ended (the rest: by the last run).
    filed_after_kills: usize,
    elapsed: Duration,
}

impl Report {
    fn print(&self) {
        eprintln!(
            "CRASH {}: packs={} cases={} kills={:?} (total {}; {} packs loaded and {} filed by the last kill; \
             random kills after their run's first SMTP acceptance={} and first email sent={} of {}, \
             with the outbox not empty={}); ACK missing={} doubled={}; \
             EMEL1 missing={} doubled={}; STAFF-VERIFY distinct={}; physical duplicate copies \
             (same Message-ID) ack={} emel1={} staff={} (every copy counted under its Message-ID, \
             so each has its first's; emails that came more than once ack={} emel1={} staff={}; \
             of them re-sent after being recorded as sent, before that record's flush={}, the rest \
             never recorded: in flight at SMTP); {:.0?}",
            self.variant,
            self.burst.packs,
            self.cases,
            self.kills,
            self.kills.values().sum::<usize>(),
            self.loaded_during_kills,
            self.filed_after_kills,
            self.after_first_accepted,
            self.after_first_send,
            self.random_moments.len(),
            match self.burst.moment {
                Moment::WhileSending => self.outbox_held.to_string(),
                Moment::Anywhere => "-".to_string(),
            },
            self.missing_acks,
            self.doubled_acks,
            self.missing_emel1,
            self.doubled_emel1,
            self.staff_distinct,
            self.extra_copies.0,
            self.extra_copies.1,
            self.extra_copies.2,
            self.copied.0,
            self.copied.1,
            self.copied.2,
            self.recorded_then_resent,
            self.elapsed,
        );
        for m in &self.random_moments {
            eprintln!("CRASH {}: random kill {m}", self.variant);
        }
    }
}

/// The last thing the daemon logged before a random kill: what it was
/// doing at that moment (for the report).
fn last_activity(log: &str) -> String {
    let line = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(nothing logged yet)");
    // Drop the timestamp and level; keep the target and the message.
    line.split_whitespace()
        .skip(2)
        .take(4)
        .collect::<Vec<_>>()
        .join(" ")
}

/// How packs reach the inbox under test.
enum Feed<'a> {
    /// Dovecot: IMAP APPEND (at once, for a round that needs a backlog) or
    /// SMTP through Postfix (while the daemon runs).
    Imap(&'a MailServers),
    /// The inbox Maildir: written into `tmp/`, renamed into `new/`.
    Maildir(&'a Path),
}

impl Feed<'_> {
    /// Puts `packs[range]` into the inbox; `live` while the daemon runs.
    async fn deliver(&self, packs: &[Pack], range: std::ops::Range<usize>, live: bool) {
        match self {
            Feed::Imap(servers) if live => {
                for p in &packs[range] {
                    servers
                        .send(&p.build(), p.sender_address(), &[RA_ADDRESS])
                        .await;
                }
            }
            Feed::Imap(servers) => {
                let mut session = servers.imap(RA_ADDRESS).await;
                for p in &packs[range] {
                    session
                        .append("INBOX", None, None, p.build())
                        .await
                        .unwrap();
                }
                let _ = session.logout().await;
            }
            Feed::Maildir(mail) => {
                for i in range {
                    let name = format!("1764000000.P{i:05}.crash");
                    support::deliver(mail, &name, &packs[i].build());
                }
            }
        }
    }

    /// Messages in the inbox now.
    fn inbox(&self) -> usize {
        match self {
            Feed::Imap(servers) => support::maildir_files(&servers.maildir(RA_ADDRESS)).len(),
            Feed::Maildir(mail) => support::maildir_files(mail).len(),
        }
    }
}

/// The kill phase: one start per planned kill, each ended by a failpoint
/// or by SIGKILL from here. The packs after [`Burst::preloaded`] are loaded in
/// portions along the way, the rest after the last kill; returns how many
/// were loaded by then.
async fn kill_rounds(
    sijil: &mut Daemon,
    rng: &mut Rng,
    report: &mut Report,
    feed: &Feed<'_>,
    packs: &[Pack],
) -> usize {
    let burst = report.burst;
    let plan = schedule(rng, burst);
    let portion = (burst.packs - burst.preloaded).div_ceil(plan.len());
    let mut loaded = burst.preloaded;
    for (round, &kill) in plan.iter().enumerate() {
        // Packs kept for the failpoint rounds still to come, so that each
        // finds a backlog however fast the rounds before it were.
        let reserve = plan[round + 1..]
            .iter()
            .filter(|k| k.failpoint().is_some())
            .count()
            * FAILPOINT_RESERVE;
        let spare = burst.packs - reserve;
        let due = (burst.preloaded + (round + 1) * portion).min(spare);
        match kill.failpoint() {
            Some(point) => {
                // This round's portion, and more if needed for a backlog.
                let upfront = spare - (FAILPOINT_RESERVE - FAILPOINT_BACKLOG);
                let short = FAILPOINT_BACKLOG.saturating_sub(feed.inbox());
                let upto = due.max(loaded + short).min(upfront).max(loaded);
                feed.deliver(packs, loaded..upto, false).await;
                loaded = upto;
                // Small counts: the point is reached soon after the start,
                // while the backlog is still there. `after_fetch` counts
                // messages, `after_commit` batches (a batch is what the
                // inbox holds, up to 32), `after_send` emails.
                let n = match kill {
                    Kill::Fetch => rng.range(1, FAILPOINT_BACKLOG as u64 - 2),
                    Kill::Commit => rng.range(1, 3),
                    _ => rng.range(1, 12),
                };
                let offset = spawn(sijil, &format!("{point}={n}"));
                // Whenever the inbox runs dry before the point is reached,
                // two more packs arrive (from this round's reserve).
                let budget = spare;
                let deadline = Instant::now() + Duration::from_secs(120);
                let status = loop {
                    if let Some(status) = sijil.exited() {
                        break status;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{point}={n} never reached; the run's log:\n{}",
                        tail(sijil)
                    );
                    if feed.inbox() == 0 && loaded < budget {
                        let upto = (loaded + 2).min(budget);
                        feed.deliver(packs, loaded..upto, true).await;
                        loaded = upto;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                };
                let log = sijil.log_since(offset);
                assert_eq!(status.signal(), Some(9), "{point}={n}: {status}");
                assert!(
                    log.contains("failpoint reached") && log.contains(point),
                    "killed, but not by {point}:\n{log}"
                );
            }
            None if burst.moment == Moment::WhileSending => {
                // The portion is in the inbox before the start: one batch.
                let upto = due.max(loaded);
                feed.deliver(packs, loaded..upto, false).await;
                loaded = upto;
                let offset = start(sijil);
                let limit = Instant::now() + FIRST_SEND;
                let accepted = || sijil.log_since(offset).contains(ACCEPTED);
                while !accepted() && Instant::now() < limit {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let sending = accepted();
                let ms = rng.range(0, SENDING_WINDOW_MS);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if let Some(status) = sijil.exited() {
                    panic!("sijil died by itself ({status}):\n{}", tail(sijil));
                }
                // What the outbox still held (sent but not recorded, or not
                // sent yet) a moment before the kill.
                let queued = sijil.metric("sijil_outbox_queued");
                sijil.kill();
                let log = sijil.log_since(offset);
                report.after_first_accepted += usize::from(log.contains(ACCEPTED));
                report.after_first_send += usize::from(log.contains(SENT));
                report.outbox_held += usize::from(queued.is_some_and(|q| q > 0));
                let origin = if sending {
                    "the first acceptance"
                } else {
                    "no acceptance yet"
                };
                report.random_moments.push(format!(
                    "{ms} ms after {origin}, outbox {}, {} accepted and {} sent in this run, last: {}",
                    queued.map_or("?".to_string(), |q| q.to_string()),
                    log.matches(ACCEPTED).count(),
                    log.matches(SENT).count(),
                    last_activity(&log)
                ));
            }
            None => {
                let offset = start(sijil);
                // The portion arrives while the daemon runs.
                let t0 = Instant::now();
                let upto = due.max(loaded);
                feed.deliver(packs, loaded..upto, true).await;
                loaded = upto;
                // The first pack check of a run is slow in a debug build
                // (lazy tables, a second or two): every other random kill
                // counts from the run's first decision instead of its
                // start, so that moments land in deciding, committing and
                // filing too, not only in that warm-up.
                let from_decision = report.random_moments.len() % 2 == 1;
                let (ms, t0) = if from_decision {
                    let limit = Instant::now() + Duration::from_secs(10);
                    while !sijil.log_since(offset).contains("message handled")
                        && Instant::now() < limit
                    {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    (rng.range(0, 1500), Instant::now())
                } else {
                    (rng.range(50, 3000), t0)
                };
                tokio::time::sleep(Duration::from_millis(ms).saturating_sub(t0.elapsed())).await;
                if let Some(status) = sijil.exited() {
                    panic!("sijil died by itself ({status}):\n{}", tail(sijil));
                }
                sijil.kill();
                let log = sijil.log_since(offset);
                report.after_first_accepted += usize::from(log.contains(ACCEPTED));
                report.after_first_send += usize::from(log.contains(SENT));
                let moment = last_activity(&log);
                let origin = if from_decision {
                    "the first decision"
                } else {
                    "ready"
                };
                report
                    .random_moments
                    .push(format!("{ms} ms after {origin}, last: {moment}"));
            }
        }
        *report.kills.entry(kill).or_default() += 1;
    }
    let loaded_by_then = loaded;
    feed.deliver(packs, loaded..burst.packs, false).await;
    loaded_by_then
}

/// The burst: [`Burst::packs`] packs, the first [`Burst::preloaded`] of
/// them in the inbox before the first start, the rest loaded along
/// [`kill_rounds`]; returns them and the report of the kill phase.
async fn burst(
    variant: &'static str,
    sizes: Burst,
    sijil: &mut Daemon,
    rng: &mut Rng,
    feed: &Feed<'_>,
) -> (Vec<Pack>, Report) {
    sijil.ready_within = READY;
    let packs: Vec<Pack> = (0..sizes.packs)
        .map(|i| Pack::numbered(700_000, i))
        .collect();
    feed.deliver(&packs, 0..sizes.preloaded, false).await;
    let mut report = new_report(variant, sizes);
    report.loaded_during_kills = kill_rounds(sijil, rng, &mut report, feed, &packs).await;
    (packs, report)
}

/// Starts the last run (no failpoints) and waits until the inbox is empty,
/// all `packs` are filed and the outbox is drained.
async fn drain(sijil: &mut Daemon, inbox_dir: &Path, packs: usize) {
    let filed = || support::maildir_files(&inbox_dir.join(".Processed")).len();
    let inbox = || support::maildir_files(inbox_dir).len();
    start(sijil);
    let deadline = Instant::now() + DRAIN;
    loop {
        if let Some(status) = sijil.exited() {
            panic!("sijil died ({status}):\n{}", tail(sijil));
        }
        if filed() == packs && inbox() == 0 && sijil.metric("sijil_outbox_queued") == Some(0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not drained after {DRAIN:?}: {} filed, {} in the inbox, outbox {:?}",
            filed(),
            inbox(),
            sijil.metric("sijil_outbox_queued")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until `count()` reaches `want` and then stays put for a second
/// (copies still in Postfix's queue arrive too).
async fn settle(what: &str, want: usize, count: impl Fn() -> usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < want {
        assert!(Instant::now() < deadline, "{what}: {} of {want}", count());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut last = count();
    loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let now = count();
        if now == last {
            return;
        }
        last = now;
    }
}

/// The store, opened after the daemon stopped: one `received` case per
/// pack, each with its three emails queued and sent exactly once, nothing
/// failed, the outbox empty, every document readable. Returns the number of
/// cases.
fn check_store(path: &Path, pack_refs: &BTreeSet<String>) -> usize {
    let store = Store::open(path).unwrap();
    let cases: Vec<_> = store.cases().map(Result::unwrap).collect();
    let mut espas = BTreeSet::new();
    for case in &cases {
        assert_eq!(case.state, CaseState::Received, "{}", case.reference);
        let app = case.application.as_ref().expect("an application");
        assert!(
            espas.insert(app.espa_ref.clone()),
            "two cases for {}",
            app.espa_ref
        );
        let history = store.history(&case.reference).unwrap();
        let mut queued = BTreeMap::new();
        let mut sent = BTreeMap::new();
        for event in &history {
            match &event.what {
                EventKind::EmailQueued { message_id, .. } => {
                    *queued.entry(message_id.clone()).or_insert(0) += 1
                }
                EventKind::EmailSent { message_id } => {
                    *sent.entry(message_id.clone()).or_insert(0) += 1
                }
                EventKind::EmailFailed { message_id, error } => {
                    panic!("{}: {message_id} failed: {error}", case.reference)
                }
                EventKind::DuplicateRefused { .. } => {
                    panic!("{}: a duplicate was refused", case.reference)
                }
                _ => {}
            }
        }
        assert_eq!(queued.len(), 3, "{}: {history:?}", case.reference);
        assert!(queued.values().all(|&n| n == 1), "{}", case.reference);
        assert_eq!(
            queued, sent,
            "{}: every queued email sent once",
            case.reference
        );
    }
    assert_eq!(&espas, pack_refs, "one case per pack, no other");
    let left: Vec<_> = store.outbox().map(Result::unwrap).collect();
    assert!(left.is_empty(), "the outbox still holds {left:?}");
    drop(store);
    assert!(
        support::check_documents(path) >= cases.len(),
        "every case keeps its documents"
    );
    cases.len()
}

/// `sijil cases` on the stopped daemon's store agrees: every line `received`.
fn check_cli(sijil: &Daemon) -> usize {
    let out = sijil.command(&["cases"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert!(rows.iter().all(|r| r.contains(" received ")), "{text}");
    rows.len()
}

/// The assertions common to all variants, after the report was printed.
fn assert_exactly_once(report: &Report, outcome: &Outcome) {
    let burst = report.burst;
    assert!(outcome.other.is_empty(), "unexpected: {:?}", outcome.other);
    assert_eq!(report.cases, burst.packs, "one case per pack");
    assert_eq!(report.missing_acks, 0, "packs without ACK");
    assert_eq!(report.doubled_acks, 0, "packs answered twice");
    assert_eq!(report.missing_emel1, 0, "signees without EMEL 1");
    assert_eq!(report.doubled_emel1, 0, "signees told twice");
    assert_eq!(
        report.staff_distinct, burst.packs,
        "one STAFF-VERIFY per pack"
    );
    let kills = |kill| report.kills.get(&kill).copied().unwrap_or(0);
    for kill in [Kill::Fetch, Kill::Commit, Kill::Send] {
        assert_eq!(kills(kill), burst.failpoint_kills, "{kill:?}");
    }
    assert_eq!(kills(Kill::Random), burst.random_kills, "random kills");
    assert_eq!(report.kills.values().sum::<usize>(), burst.kills());
}

/// Emails the daemon's `log` shows recorded as sent more than once.
fn recorded_more_than_once(log: &str) -> usize {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains(SENT)) {
        if let Some(id) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("message_id="))
        {
            *seen.entry(id).or_default() += 1;
        }
    }
    seen.values().filter(|n| **n > 1).count()
}

/// Fills `report`'s counts from `outcome` for `packs`.
fn count(report: &mut Report, outcome: &Outcome, packs: &[Pack]) {
    for (i, p) in packs.iter().enumerate() {
        let id = p.id().to_lowercase();
        match outcome.acks.get(&id).map(Tally::distinct).unwrap_or(0) {
            0 => report.missing_acks += 1,
            1 => {}
            _ => report.doubled_acks += 1,
        }
        match outcome
            .emel1
            .get(&support::numbered_signee(i))
            .map(Tally::distinct)
            .unwrap_or(0)
        {
            0 => report.missing_emel1 += 1,
            1 => {}
            _ => report.doubled_emel1 += 1,
        }
    }
    report.staff_distinct = outcome.staff.distinct();
    report.extra_copies = (
        outcome.acks.values().map(Tally::extra_copies).sum(),
        outcome.emel1.values().map(Tally::extra_copies).sum(),
        outcome.staff.extra_copies(),
    );
    report.copied = (
        outcome.acks.values().map(Tally::copied).sum(),
        outcome.emel1.values().map(Tally::copied).sum(),
        outcome.staff.copied(),
    );
}

fn espa_refs(packs: &[Pack]) -> BTreeSet<String> {
    packs
        .iter()
        .map(|p| {
            p.field_value("Rujukan eSPA / eSPA Reference")
                .unwrap()
                .to_string()
        })
        .collect()
}

fn new_report(variant: &'static str, burst: Burst) -> Report {
    Report {
        variant,
        burst,
        kills: BTreeMap::new(),
        random_moments: Vec::new(),
        cases: 0,
        missing_acks: 0,
        doubled_acks: 0,
        missing_emel1: 0,
        doubled_emel1: 0,
        staff_distinct: 0,
        extra_copies: (0, 0, 0),
        copied: (0, 0, 0),
        recorded_then_resent: 0,
        after_first_accepted: 0,
        after_first_send: 0,
        outbox_held: 0,
        loaded_during_kills: 0,
        filed_after_kills: 0,
        elapsed: Duration::ZERO,
    }
}

/// Every delivered email in the Dovecot mailboxes of the developer, the
/// verifier and the signees of `packs` packs, read from disk (Dovecot
/// stores Maildir).
fn dovecot_deliveries(servers: &MailServers, packs: usize) -> Vec<Delivered> {
    let mut users = vec![DEVELOPER.to_string(), VERIFIER.to_string()];
    users.extend((0..packs).map(support::numbered_signee));
    users
        .iter()
        .flat_map(|u| support::maildir_messages(&servers.maildir(u)))
        .map(|raw| delivered(&raw))
        .collect()
}

/// The IMAP + SMTP variant: `sizes` on real Dovecot and Postfix, seeded
/// with `variant`; prints the report and asserts exactly-once per pack.
async fn imap_burst(name: &'static str, variant: u64, sizes: Burst) {
    let t0 = Instant::now();
    let mut rng = Rng::seeded(variant);
    let servers = MailServers::start();
    let mut sijil = Daemon::configure(&servers, |_| {});
    let feed = Feed::Imap(&servers);
    let (packs, mut report) = burst(name, sizes, &mut sijil, &mut rng, &feed).await;
    let n = sizes.packs;

    let ra = servers.maildir(RA_ADDRESS);
    report.filed_after_kills = support::maildir_files(&ra.join(".Processed")).len();
    drain(&mut sijil, &ra, n).await;
    let count_distinct = || Outcome::new(dovecot_deliveries(&servers, n)).distinct();
    settle("distinct emails delivered", 3 * n, count_distinct).await;
    let status = sijil.stop();
    assert!(status.success(), "{status}");

    let outcome = Outcome::new(dovecot_deliveries(&servers, n));
    count(&mut report, &outcome, &packs);
    report.recorded_then_resent = recorded_more_than_once(&sijil.log());
    // The binary's own `sijil cases` first: `check_store` opens the store
    // with this build, which migrates the store of an older one
    // (`SIJIL_TEST_BIN`) to its schema.
    assert_eq!(check_cli(&sijil), n);
    report.cases = check_store(&sijil.store_path(), &espa_refs(&packs));
    report.elapsed = t0.elapsed();
    report.print();

    assert!(servers.messages(RA_ADDRESS, "INBOX").await.is_empty());
    assert_eq!(servers.messages(RA_ADDRESS, "Processed").await.len(), n);
    for folder in ["Rejected", "Quarantine"] {
        assert!(
            servers.messages(RA_ADDRESS, folder).await.is_empty(),
            "{folder}"
        );
    }
    assert_exactly_once(&report, &outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_burst_survives_kills_anywhere() {
    imap_burst("imap", 1, KILLS_ANYWHERE).await;
}

/// Issue 16, item 1: 120 packs over IMAP + SMTP, 25 kills at random
/// moments 0–300 ms after each run's first SMTP acceptance, no failpoint. Still one case, one ACK and one EMEL 1 per
/// pack by distinct Message-ID (a pack with two distinct ACK or EMEL 1
/// Message-IDs fails the test); the physical copies re-sent because a kill
/// came between the server's acceptance and the outbox's record — the
/// emails in flight at that moment — are printed in the summary line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_burst_with_many_random_kills_doubles_only_what_was_in_flight() {
    imap_burst("imap-random", 3, MANY_RANDOM_KILLS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_burst_survives_kills_anywhere() {
    let sizes = KILLS_ANYWHERE;
    let t0 = Instant::now();
    let mut rng = Rng::seeded(2);
    let dir = support::TestDir::new();
    let root = dir.path();
    let mut sijil = Daemon::maildir(root);
    let mail = root.join("mail");
    let feed = Feed::Maildir(&mail);
    let (packs, mut report) = burst("maildir", sizes, &mut sijil, &mut rng, &feed).await;

    report.filed_after_kills = support::maildir_files(&mail.join(".Processed")).len();
    drain(&mut sijil, &mail, sizes.packs).await;
    let status = sijil.stop();
    assert!(status.success(), "{status}");

    let outbox: Vec<Delivered> = support::maildir_messages(&root.join("outbox"))
        .iter()
        .map(|raw| delivered(raw))
        .collect();
    let outcome = Outcome::new(outbox);
    count(&mut report, &outcome, &packs);
    report.cases = check_store(&sijil.store_path(), &espa_refs(&packs));
    assert_eq!(check_cli(&sijil), sizes.packs);
    report.elapsed = t0.elapsed();
    report.print();

    assert!(
        support::maildir_files(&mail).is_empty(),
        "the inbox is empty"
    );
    assert_eq!(
        support::maildir_files(&mail.join(".Processed")).len(),
        sizes.packs
    );
    for folder in [".Rejected", ".Quarantine"] {
        assert!(
            support::maildir_files(&mail.join(folder)).is_empty(),
            "{folder}"
        );
    }
    assert_exactly_once(&report, &outcome);
}
