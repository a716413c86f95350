//! Outages (issue 5, part 2), on the real Dovecot and Postfix: the SMTP
//! server away during a burst (mail waits in the outbox and leaves once when
//! it is back), a permanent 5xx refusal (recorded on the case), the IMAP
//! server away while the daemon idles (capped back-off, no busy loop, what
//! arrived meanwhile is processed), and an inbox recreated with a new
//! UIDVALIDITY (nothing processed twice).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use sijil::core::case::EventKind;
use sijil::edge::store::Store;
use support::{
    DEVELOPER, Daemon, MailServers, Pack, RA_ADDRESS, REJECTING_DOMAIN, VERIFIER, until,
};

const WAIT: Duration = Duration::from_secs(60);

/// Copies per Message-ID in `user`'s inbox, read from disk; with
/// `in_reply_to`, only the answers to that message.
fn copies(servers: &MailServers, user: &str, in_reply_to: Option<&str>) -> BTreeMap<String, usize> {
    support::copies(&servers.maildir(user), in_reply_to)
}

/// CPU time (user + system) the process has used so far, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3 of the file; utime and stime
    // are fields 14 and 15, in clock ticks (100 per second on Linux).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Postfix away during a burst: the answers wait in the outbox, nothing is
/// lost, and each leaves exactly once when Postfix is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_during_a_burst_delays_mail_then_delivers_it_once() {
    const BURST: usize = 10;
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    // One pack before the outage, fully delivered: nothing is in flight
    // when Postfix stops (a delivery cut short could arrive twice).
    let first = Pack::numbered(800_000, 0);
    servers.send(&first.build(), DEVELOPER, &[RA_ADDRESS]).await;
    servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await;
    servers
        .wait_for(&support::numbered_signee(0), "INBOX", 1, WAIT)
        .await;

    let offset = sijil.log_offset();
    servers.stop_smtp();
    let down = Instant::now();
    // The burst keeps arriving during the outage, as mail does: each pack
    // is decided on its own and queues its emails while Postfix is away.
    let burst: Vec<Pack> = (1..=BURST).map(|i| Pack::numbered(800_000, i)).collect();
    for p in &burst {
        servers.append(RA_ADDRESS, "INBOX", &p.build()).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let processed = servers.maildir(RA_ADDRESS).join(".Processed");
    until("the burst filed", WAIT, || {
        support::maildir_files(&processed).len() == BURST + 1
    })
    .await;
    until("a failed send logged", WAIT, || {
        sijil
            .log_since(offset)
            .contains("email not sent, will retry")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(down.elapsed())).await;
    assert_eq!(
        copies(&servers, DEVELOPER, None).len(),
        1,
        "nothing left while Postfix was away"
    );
    let outage = down.elapsed();
    servers.start_smtp();
    let up = Instant::now();

    let all_delivered = || {
        burst
            .iter()
            .all(|p| !copies(&servers, DEVELOPER, Some(p.id())).is_empty())
            && copies(&servers, VERIFIER, None).len() == BURST + 1
            && (1..=BURST).all(|i| !copies(&servers, &support::numbered_signee(i), None).is_empty())
    };
    until(
        "everything delivered after Postfix returned",
        Duration::from_secs(60),
        all_delivered,
    )
    .await;
    let delay = up.elapsed();
    // Copies still in Postfix's queue would show up within a second or two.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let retries = sijil
        .log_since(offset)
        .matches("email not sent, will retry")
        .count();
    eprintln!(
        "OUTAGE smtp: down {outage:.1?}, {retries} failed attempts logged, all {} emails \
         delivered {delay:.1?} after Postfix returned",
        3 * BURST
    );

    for p in &burst {
        let acks = copies(&servers, DEVELOPER, Some(p.id()));
        assert_eq!(acks.len(), 1, "one ACK for {}", p.id());
        assert!(
            acks.values().all(|&n| n == 1),
            "ACK delivered twice: {acks:?}"
        );
    }
    for i in 1..=BURST {
        let emel1 = copies(&servers, &support::numbered_signee(i), None);
        assert_eq!(
            emel1.values().copied().collect::<Vec<_>>(),
            [1],
            "signee {i}"
        );
    }
    let staff = copies(&servers, VERIFIER, None);
    assert_eq!(staff.len(), BURST + 1);
    assert!(staff.values().all(|&n| n == 1), "{staff:?}");
    assert!(sijil.stop().success());
    let store = Store::open(&sijil.store_path()).unwrap();
    assert_eq!(store.outbox().count(), 0, "the outbox is empty");
}

/// Postfix refuses the signee's address for good (550): the refusal is
/// recorded on the case, it is not retried, the developer's ACK and the
/// verifier's email still leave, and both are told that the signee's
/// address bounced, as a delivery report would have them told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_recorded_on_the_case() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    let refused = format!("ali@{REJECTING_DOMAIN}");
    let pack = Pack::mykad_valid().field("Emel / Email", &refused);
    servers.send(&pack.build(), DEVELOPER, &[RA_ADDRESS]).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let subject = support::parse(&dev[0])
        .subject()
        .unwrap_or_default()
        .to_string();
    let reference = regex::Regex::new(r"SJL-\d{4}-\d{6}")
        .unwrap()
        .find(&subject)
        .unwrap_or_else(|| panic!("no case reference in {subject:?}"))
        .as_str()
        .to_string();
    // The ACK, then the notice that the signee's address bounced, to the
    // developer and to the verifier who holds the case.
    let dev = servers.wait_for(DEVELOPER, "INBOX", 2, WAIT).await;
    let staff = servers.wait_for(VERIFIER, "INBOX", 2, WAIT).await;
    for inbox in [&dev, &staff] {
        // Postfix may deliver the two in either order.
        let subjects = support::subjects(inbox);
        let notice = inbox
            .iter()
            .find(|raw| {
                let m = support::parse(raw);
                let subject = m.subject().unwrap_or_default();
                subject.starts_with(&format!("[{reference}] "))
                    && subject.contains("Signee's email bounced")
            })
            .unwrap_or_else(|| panic!("no notice among {subjects:?}"));
        let m = support::parse(notice);
        let text = m.body_text(0).unwrap_or_default();
        assert!(
            text.contains(&refused) && text.contains("(code 550)"),
            "{text}"
        );
    }
    assert!(sijil.log().contains("email refused permanently"));
    assert!(sijil.stop().success());

    let out = sijil.command(&["case", &reference]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(shown.contains("failed for good"), "{shown}");
    assert!(
        shown.contains("550"),
        "the server's answer is kept: {shown}"
    );

    let store = Store::open(&sijil.store_path()).unwrap();
    let history = store.history(&reference).unwrap();
    let emel1 = history
        .iter()
        .find_map(|e| match &e.what {
            EventKind::EmailQueued {
                template,
                to,
                message_id,
            } if template == "emel1" => {
                assert_eq!(to, std::slice::from_ref(&refused));
                Some(message_id.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no EMEL 1 queued: {history:?}"));
    let failed: Vec<&String> = history
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::EmailFailed { message_id, .. } => Some(message_id),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [&emel1], "{history:?}");
    let sent = history
        .iter()
        .filter(|e| matches!(e.what, EventKind::EmailSent { .. }))
        .count();
    assert_eq!(sent, 4, "ACK, STAFF-VERIFY and two notices: {history:?}");
    let notices = history
        .iter()
        .filter(
            |e| matches!(&e.what, EventKind::EmailQueued { template, .. } if template == "bounce"),
        )
        .count();
    assert_eq!(notices, 2, "{history:?}");
    assert_eq!(store.outbox().count(), 0, "not retried");
}

/// Dovecot stopped for 10 s while the daemon idles: it retries with a
/// growing, capped delay (a handful of attempts, little CPU), reconnects
/// when Dovecot is back and processes the pack that arrived meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_outage_while_idle_is_ridden_out_with_backoff() {
    let servers = MailServers::start();
    let sijil = Daemon::start(&servers);
    until("the daemon idles", WAIT, || {
        sijil.log().contains("IDLE started")
    })
    .await;
    let pid = sijil.pid().unwrap();
    let offset = sijil.log_offset();
    let cpu_before = cpu_time(pid);
    servers.stop_imap();
    let down = Instant::now();
    // Postfix takes the pack and holds it until Dovecot is back.
    let pack = Pack::mykad_valid();
    servers.send(&pack.build(), DEVELOPER, &[RA_ADDRESS]).await;
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(down.elapsed())).await;
    let during = sijil.log_since(offset);
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let outage = down.elapsed();
    servers.start_imap();
    let up = Instant::now();

    let attempts: Vec<u64> = during
        .lines()
        .filter(|l| l.contains("IMAP connection failed"))
        .map(|l| {
            let ms = l.split("retry_in_ms=").nth(1).unwrap_or("0");
            ms.split_whitespace()
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0)
        })
        .collect();
    eprintln!(
        "OUTAGE imap: down {outage:.1?}: {} failed connection attempts, next waits {attempts:?} ms, \
         {cpu:?} CPU",
        attempts.len()
    );
    assert!(during.contains("IMAP connection lost"), "{during}");
    assert!(!attempts.is_empty(), "it kept trying: {during}");
    assert!(attempts.len() <= 6, "busy reconnecting: {during}");
    assert!(
        attempts.windows(2).all(|w| w[1] >= w[0]),
        "the wait grows: {attempts:?}"
    );
    assert!(cpu < Duration::from_secs(1), "{cpu:?} CPU while waiting");

    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    eprintln!(
        "OUTAGE imap: the pack answered {:.1?} after Dovecot returned",
        up.elapsed()
    );
    assert!(support::header_lowercase(&dev[0], "In-Reply-To").contains(&pack.id().to_lowercase()));
    servers.wait_for(RA_ADDRESS, "Processed", 1, WAIT).await;
    assert!(servers.messages(RA_ADDRESS, "INBOX").await.is_empty());
    assert!(sijil.log_since(offset).contains("IMAP mailbox ready"));
}

/// The inbox's UIDVALIDITY, by IMAP.
async fn uidvalidity(servers: &MailServers) -> u32 {
    let mut s = servers.imap(RA_ADDRESS).await;
    let mailbox = s.examine("INBOX").await.unwrap();
    let _ = s.logout().await;
    mailbox.uid_validity.unwrap()
}

/// Recreates the RA inbox's identity the way a restored or rebuilt mail
/// store does: Dovecot stopped, its UID list and indexes of INBOX deleted
/// (the messages stay), Dovecot started. Returns the new UIDVALIDITY.
async fn recreate_inbox(servers: &MailServers, old: u32) -> u32 {
    let root = servers.maildir(RA_ADDRESS);
    for _ in 0..5 {
        servers.stop_imap();
        for entry in fs::read_dir(&root).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_file()
                && (name.starts_with("dovecot-uidlist")
                    || name.starts_with("dovecot-uidvalidity")
                    || name.starts_with("dovecot.index"))
            {
                fs::remove_file(entry.path()).unwrap();
            }
        }
        servers.start_imap();
        let new = uidvalidity(servers).await;
        if new != old {
            return new;
        }
        // Dovecot derives a fresh UIDVALIDITY from the clock: same second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    panic!("the UIDVALIDITY of the inbox did not change");
}

/// A pack whose effect was stored but which was still in the inbox when
/// the daemon died, and then the inbox got a new UIDVALIDITY: under its new
/// UID it is recognised and only filed — no second case, no second ACK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_uidvalidity_processes_nothing_twice() {
    let servers = MailServers::start();
    let mut sijil = Daemon::configure(&servers, |_| {});
    let committed = Pack::numbered(800_000, 0);
    servers
        .append(RA_ADDRESS, "INBOX", &committed.build())
        .await;

    sijil.spawn_with(&[("SIJIL_FAILPOINTS", "after_commit=1")]);
    let mut status = None;
    until("after_commit=1 reached", WAIT, || {
        status = sijil.exited();
        status.is_some()
    })
    .await;
    let status = status.unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");
    assert_eq!(
        servers.messages(RA_ADDRESS, "INBOX").await.len(),
        1,
        "stored but not filed"
    );

    let old = uidvalidity(&servers).await;
    let new = recreate_inbox(&servers, old).await;
    assert_eq!(servers.messages(RA_ADDRESS, "INBOX").await.len(), 1);
    let fresh = Pack::numbered(800_000, 1);
    servers.append(RA_ADDRESS, "INBOX", &fresh.build()).await;

    let offset = sijil.log_offset();
    sijil.spawn_and_wait();
    servers.wait_for(RA_ADDRESS, "Processed", 2, WAIT).await;
    until("both ACKs", WAIT, || {
        [&committed, &fresh]
            .iter()
            .all(|p| !copies(&servers, DEVELOPER, Some(p.id())).is_empty())
    })
    .await;
    // Anything sent twice would have followed within a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sijil.stop().success());
    eprintln!("OUTAGE uidvalidity: {old} -> {new}");

    let log = sijil.log_since(offset);
    assert!(log.contains("UIDVALIDITY changed"), "{log}");
    assert!(log.contains("already handled; filing only"), "{log}");
    let key = format!("key=mid:{}", committed.id().trim_matches(['<', '>']));
    let handled = sijil
        .log()
        .lines()
        .filter(|l| l.contains("message handled") && l.contains(&key))
        .count();
    assert_eq!(handled, 1, "the stored pack decided once");
    for p in [&committed, &fresh] {
        assert_eq!(
            copies(&servers, DEVELOPER, Some(p.id())).len(),
            1,
            "one ACK for {}",
            p.id()
        );
    }
    assert_eq!(
        copies(&servers, &support::numbered_signee(0), None).len(),
        1,
        "one EMEL 1"
    );
    assert!(servers.messages(RA_ADDRESS, "INBOX").await.is_empty());
    let processed: BTreeSet<String> = servers
        .messages(RA_ADDRESS, "Processed")
        .await
        .iter()
        .map(|m| support::header_lowercase(m, "Message-ID"))
        .collect();
    assert_eq!(processed.len(), 2);
    let store = Store::open(&sijil.store_path()).unwrap();
    assert_eq!(store.cases().count(), 2, "one case per pack");
}
