//! The IMAP mailbox edge (src/mailbox/imap.rs) against a real Dovecot from the
//! test harness, plus a small scripted server for what Dovecot will not do
//! (refuse one FETCH, greet with garbage, hide UIDVALIDITY).
//!
//! Tests that must act while `next` waits (in IDLE, or in the reconnect
//! back-off) learn that moment from the edge's own log events (a tracing
//! layer records them), so no test sleeps to synchronise.

mod support;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sijil::config::{Folders, ImapConfig, Secret, TlsMode};
use sijil::core::Folder;
use sijil::edge::mailbox::imap::ImapMailbox;
use sijil::edge::mailbox::{Fetched, Locator, Mailbox, MailboxError};
use support::{MailServers, free_port, subject, subjects};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

const USER: &str = "kpkt.retail@ra.example.my";

fn config(servers: &MailServers) -> ImapConfig {
    ImapConfig {
        host: "127.0.0.1".into(),
        port: servers.imap_port,
        tls: TlsMode::None,
        username: USER.into(),
        password: Secret::new(servers.password.clone()),
        folders: Folders::default(),
        // Long, so a test passing on time proves IDLE did the waking.
        poll_interval: Duration::from_secs(3600),
        tls_ca_file: None,
    }
}

fn state() -> sled::Tree {
    let db = sled::Config::new().temporary(true).open().unwrap();
    db.open_tree("imap").unwrap()
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Dev <submit@seriindah.my>\r\nTo: {USER}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@test.sijil>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0800\r\n\r\n\
         body of {subject}\r\n"
    )
    .into_bytes()
}

fn uid_of(f: &Fetched) -> (u32, u32) {
    match f.locator {
        Locator::Imap { uidvalidity, uid } => (uidvalidity, uid),
        ref other => panic!("not an IMAP id: {other:?}"),
    }
}

/// Awaits `fut`, failing the test after `secs` seconds.
async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("no result within {secs}s"))
}

async fn next_message(mb: &mut ImapMailbox, token: &CancellationToken) -> Fetched {
    within(30, mb.next(token))
        .await
        .expect("next failed")
        .expect("next returned None")
}

/// Records the message of every event the edge logs (and prints logs when
/// RUST_LOG is set), so a test can act exactly when the edge reached a
/// given point. The guard keeps it installed on this (current-thread) test.
struct EventWatch(watch::Sender<Vec<String>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventWatch {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(Option<String>);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut m = Message(None);
        event.record(&mut m);
        if let Some(text) = m.0 {
            self.0.send_modify(|seen| seen.push(text));
        }
    }
}

type Events = watch::Receiver<Vec<String>>;

fn watch_events() -> (tracing::subscriber::DefaultGuard, Events) {
    let (tx, rx) = watch::channel(Vec::new());
    let subscriber = tracing_subscriber::registry().with(EventWatch(tx)).with(
        tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
    );
    (tracing::subscriber::set_default(subscriber), rx)
}

fn count(events: &[String], message: &str) -> usize {
    events.iter().filter(|m| *m == message).count()
}

/// Waits until the edge has logged `message` `n` times in all.
async fn logged(rx: &mut Events, message: &str, n: usize) {
    within(30, rx.wait_for(|seen| count(seen, message) >= n))
        .await
        .expect("watch closed");
}

/// Calls `next` and cancels it once the edge logged `message`, failing
/// the test after `secs` seconds; returns what `next` returned and how long
/// after the cancel it did.
async fn cancelled_once_logged(
    mb: &mut ImapMailbox,
    events: &mut Events,
    message: &str,
    secs: u64,
) -> (Result<Option<Fetched>, MailboxError>, Duration) {
    let token = CancellationToken::new();
    let ((result, returned_at), cancelled_at) = tokio::join!(
        async {
            let r = within(secs, mb.next(&token)).await;
            (r, Instant::now())
        },
        async {
            logged(events, message, 1).await;
            token.cancel();
            Instant::now()
        }
    );
    (result, returned_at.saturating_duration_since(cancelled_at))
}

#[tokio::test]
async fn open_creates_folders_then_messages_come_in_order_and_are_filed() {
    let servers = MailServers::start();
    for s in ["one", "two", "three"] {
        servers.append(USER, "INBOX", &message(s)).await;
    }
    let mut mb = ImapMailbox::new(config(&servers), state());
    within(30, mb.open()).await.unwrap();
    let names = servers.folder_names(USER).await;
    for folder in ["INBOX", "Processed", "Quarantine", "Rejected"] {
        assert!(
            names.iter().any(|n| n == folder),
            "{folder} missing: {names:?}"
        );
    }
    // Opening twice (a restart) finds them and creates nothing new.
    within(30, mb.open()).await.unwrap();
    assert_eq!(servers.folder_names(USER).await, names);

    let token = CancellationToken::new();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_message(&mut mb, &token).await);
    }
    assert_eq!(
        got.iter().map(|f| subject(&f.raw)).collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    let uids: Vec<u32> = got.iter().map(|f| uid_of(f).1).collect();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");

    // Fetching did not mark anything \Seen.
    let mut s = servers.imap(USER).await;
    s.examine("INBOX").await.unwrap();
    let flags: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(s.fetch("1:*", "FLAGS").await.unwrap())
            .await
            .unwrap();
    assert_eq!(flags.len(), 3);
    for f in &flags {
        assert!(
            !f.flags().any(|fl| fl == async_imap::types::Flag::Seen),
            "a message was marked \\Seen"
        );
    }
    s.logout().await.unwrap();

    within(30, mb.file(&got[0].locator, Folder::Processed))
        .await
        .unwrap();
    within(30, mb.file(&got[1].locator, Folder::Rejected))
        .await
        .unwrap();
    within(30, mb.file(&got[2].locator, Folder::Quarantine))
        .await
        .unwrap();
    // Filing again is harmless.
    within(30, mb.file(&got[0].locator, Folder::Processed))
        .await
        .unwrap();

    assert!(servers.messages(USER, "INBOX").await.is_empty());
    assert_eq!(
        subjects(&servers.messages(USER, "Processed").await),
        ["one"]
    );
    assert_eq!(subjects(&servers.messages(USER, "Rejected").await), ["two"]);
    assert_eq!(
        subjects(&servers.messages(USER, "Quarantine").await),
        ["three"]
    );
    mb.close().await;
}

#[tokio::test]
async fn idle_wakes_next_promptly_when_mail_arrives() {
    let servers = MailServers::start();
    let (_guard, mut events) = watch_events();
    let mut mb = ImapMailbox::new(config(&servers), state());
    within(30, mb.open()).await.unwrap();
    let token = CancellationToken::new();

    let (fetched, appended_at) = tokio::join!(
        async {
            let r = next_message(&mut mb, &token).await;
            (r, Instant::now())
        },
        async {
            logged(&mut events, "IDLE started", 1).await;
            servers.append(USER, "INBOX", &message("late")).await;
            Instant::now()
        }
    );
    let (fetched, fetched_at) = fetched;
    assert_eq!(subject(&fetched.raw), "late");
    let latency = fetched_at.saturating_duration_since(appended_at);
    eprintln!("IDLE wake-up latency after APPEND: {latency:?}");
    // Dovecot itself holds IDLE notifications back 0.5 s to batch changes
    // (its NOTIFY_DELAY_MSECS); the edge adds a few milliseconds. Polling
    // (poll_interval is an hour here) could not come near this.
    assert!(
        latency < Duration::from_millis(900),
        "IDLE woke after {latency:?}"
    );
    mb.close().await;
}

#[tokio::test]
async fn cancelling_during_idle_returns_none_quickly() {
    let servers = MailServers::start();
    let (_guard, mut events) = watch_events();
    let mut mb = ImapMailbox::new(config(&servers), state());
    within(30, mb.open()).await.unwrap();
    let (result, latency) = cancelled_once_logged(&mut mb, &mut events, "IDLE started", 30).await;
    assert!(matches!(result, Ok(None)), "{result:?}");
    assert!(latency < Duration::from_millis(500), "took {latency:?}");
    // The session was left cleanly (DONE confirmed): it still works.
    servers.append(USER, "INBOX", &message("after")).await;
    let fresh = CancellationToken::new();
    assert_eq!(subject(&next_message(&mut mb, &fresh).await.raw), "after");
    mb.close().await;
}

#[tokio::test]
async fn wrong_password_is_login_refused() {
    let servers = MailServers::start();
    let mut cfg = config(&servers);
    cfg.password = Secret::new("not the password");
    let mut mb = ImapMailbox::new(cfg, state());
    match within(30, mb.open()).await {
        Err(MailboxError::LoginRefused(m)) => {
            assert!(!m.contains("not the password"), "password echoed: {m}")
        }
        other => panic!("expected LoginRefused, got {other:?}"),
    }
}

#[tokio::test]
async fn reconnects_after_the_server_restarts_and_delivers_what_came_meanwhile() {
    let servers = MailServers::start();
    let (_guard, mut events) = watch_events();
    let mut mb = ImapMailbox::new(config(&servers), state());
    within(30, mb.open()).await.unwrap();
    let token = CancellationToken::new();

    let (fetched, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(90), mb.next(&token)),
        async {
            logged(&mut events, "IDLE started", 1).await;
            // Blocking calls: the edge is not polled meanwhile, which is fine.
            servers.stop_imap();
            // Postfix queues it while Dovecot is down and delivers it after.
            servers
                .send(&message("meanwhile"), "submit@seriindah.my", &[USER])
                .await;
            servers.start_imap();
        }
    );
    let Ok(fetched) = fetched else {
        panic!(
            "nothing within 90s; the edge logged {:#?}\n{}",
            events.borrow(),
            servers.logs()
        );
    };
    let fetched = fetched.unwrap().expect("a message");
    assert_eq!(subject(&fetched.raw), "meanwhile");
    within(30, mb.file(&fetched.locator, Folder::Processed))
        .await
        .unwrap();
    assert_eq!(
        subjects(&servers.messages(USER, "Processed").await),
        ["meanwhile"]
    );
    mb.close().await;
}

#[tokio::test]
async fn uidvalidity_change_drops_the_checkpoint_and_offers_the_new_inbox() {
    let servers = MailServers::start();
    let (_guard, _) = watch_events();
    let mut cfg = config(&servers);
    cfg.folders.inbox = "Inbox2".into();
    servers.append(USER, "Inbox2", &message("a")).await;
    servers.append(USER, "Inbox2", &message("b")).await;
    let mut mb = ImapMailbox::new(cfg, state());
    within(30, mb.open()).await.unwrap();
    let token = CancellationToken::new();

    let a = next_message(&mut mb, &token).await;
    assert_eq!(subject(&a.raw), "a");
    within(30, mb.file(&a.locator, Folder::Processed))
        .await
        .unwrap();
    let b = next_message(&mut mb, &token).await;
    assert_eq!(subject(&b.raw), "b");
    let (old_validity, _) = uid_of(&b);

    // The folder is replaced under the edge: same name, new UIDVALIDITY,
    // and its UIDs start again at 1 (which the old checkpoint had passed).
    let mut s = servers.imap(USER).await;
    s.delete("Inbox2").await.unwrap();
    s.create("Inbox2").await.unwrap();
    s.logout().await.unwrap();
    servers.append(USER, "Inbox2", &message("c")).await;
    servers.append(USER, "Inbox2", &message("d")).await;

    let c = within(60, mb.next(&token)).await.unwrap().expect("c");
    assert_eq!(subject(&c.raw), "c");
    let (new_validity, uid) = uid_of(&c);
    assert_ne!(new_validity, old_validity);
    assert_eq!(uid, 1);
    // A filing from the old UIDVALIDITY means nothing any more: no error,
    // and nothing in the new folder moves.
    within(30, mb.file(&b.locator, Folder::Processed))
        .await
        .unwrap();
    let d = next_message(&mut mb, &token).await;
    assert_eq!(subject(&d.raw), "d");
    within(30, mb.file(&c.locator, Folder::Processed))
        .await
        .unwrap();
    within(30, mb.file(&d.locator, Folder::Processed))
        .await
        .unwrap();
    assert!(servers.messages(USER, "Inbox2").await.is_empty());
    assert_eq!(
        subjects(&servers.messages(USER, "Processed").await),
        ["a", "c", "d"]
    );
    mb.close().await;
}

#[tokio::test]
async fn an_unconfirmed_filing_is_not_refetched_and_completes_after_restart() {
    let servers = MailServers::start();
    servers.append(USER, "INBOX", &message("one")).await;
    servers.append(USER, "INBOX", &message("two")).await;
    let tree = state();
    let mut mb = ImapMailbox::new(config(&servers), tree.clone());
    within(30, mb.open()).await.unwrap();
    let token = CancellationToken::new();
    let one = next_message(&mut mb, &token).await;
    assert_eq!(subject(&one.raw), "one");

    // The destination vanishes: the MOVE is refused, the filing stays
    // recorded.
    let mut s = servers.imap(USER).await;
    s.delete("Rejected").await.unwrap();
    s.logout().await.unwrap();
    let refused = within(30, mb.file(&one.locator, Folder::Rejected)).await;
    assert!(refused.is_err(), "{refused:?}");
    let two = next_message(&mut mb, &token).await;
    assert_eq!(subject(&two.raw), "two");
    mb.close().await;

    // A restart on the same checkpoint: the folder is created again and the
    // recorded filing completes; "one" is never handed out again.
    let mut mb = ImapMailbox::new(config(&servers), tree);
    within(30, mb.open()).await.unwrap();
    assert_eq!(subjects(&servers.messages(USER, "Rejected").await), ["one"]);
    let again = next_message(&mut mb, &token).await;
    assert_eq!(subject(&again.raw), "two");
    mb.close().await;
}

#[tokio::test]
async fn implicit_tls_and_starttls_with_a_private_ca() {
    let servers = MailServers::start();
    servers.append(USER, "INBOX", &message("secret")).await;
    let token = CancellationToken::new();
    for (tls, port) in [
        (TlsMode::Tls, servers.imaps_port),
        (TlsMode::StartTls, servers.imap_port),
    ] {
        let mut cfg = config(&servers);
        cfg.tls = tls;
        cfg.port = port;
        cfg.tls_ca_file = Some(servers.ca_cert_path.clone());
        let mut mb = ImapMailbox::new(cfg.clone(), state());
        within(30, mb.open())
            .await
            .unwrap_or_else(|e| panic!("{tls}: {e}"));
        assert_eq!(subject(&next_message(&mut mb, &token).await.raw), "secret");
        mb.close().await;

        // Without the private CA the certificate is not trusted.
        cfg.tls_ca_file = None;
        let mut mb = ImapMailbox::new(cfg, state());
        match within(30, mb.open()).await {
            Err(MailboxError::Other(m)) => assert!(m.contains("certificate"), "{tls}: {m}"),
            other => panic!("{tls}: expected a TLS failure, got {other:?}"),
        }
    }
}

/// What the scripted server does wrong.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Answers `UID FETCH 1` with NO every time; UID 2 is fine.
    RefusesFetchOfUid1,
    /// Greets with bytes that are not IMAP.
    GarbageGreeting,
    /// SELECT carries no UIDVALIDITY.
    NoUidValidity,
    /// No MOVE: filing is COPY + STORE + UID EXPUNGE.
    NoMove,
    /// Neither MOVE nor UIDPLUS: filing ends with a plain EXPUNGE.
    NoMoveNoUidplus,
    /// No IDLE (no fault as such): UID 3 turns up once a NOOP was seen.
    Polling,
}

/// A tiny scripted IMAP server on a free loopback port; records every
/// command line it receives.
async fn scripted_server(fault: Fault) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, fault, log.clone()));
        }
    });
    (port, seen)
}

async fn serve(sock: TcpStream, fault: Fault, seen: Arc<Mutex<Vec<String>>>) {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    let greeting = if fault == Fault::GarbageGreeting {
        "\x01\x02 this is not IMAP (((\r\n"
    } else {
        "* OK scripted IMAP ready\r\n"
    };
    if w.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut polled = false;
    while let Ok(Some(line)) = lines.next_line().await {
        seen.lock().unwrap().push(line.clone());
        let mut parts = line.splitn(3, ' ');
        let tag = parts.next().unwrap_or("*");
        let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
        let rest = parts.next().unwrap_or("");
        let reply = match cmd.as_str() {
            "LOGIN" | "SUBSCRIBE" | "CREATE" | "EXPUNGE" => format!("{tag} OK done\r\n"),
            "NOOP" => {
                polled = true;
                format!("{tag} OK done\r\n")
            }
            "CAPABILITY" => {
                let caps = match fault {
                    Fault::NoMove => "IMAP4rev1 UIDPLUS",
                    Fault::NoMoveNoUidplus => "IMAP4rev1",
                    _ => "IMAP4rev1 MOVE UIDPLUS",
                };
                format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n")
            }
            "LIST" => {
                // `LIST "" <quoted name>`: echo the name back, as it exists.
                let name = rest.strip_prefix("\"\" ").unwrap_or("\"x\"");
                format!("* LIST () \".\" {name}\r\n{tag} OK done\r\n")
            }
            "SELECT" if fault == Fault::NoUidValidity => {
                format!("* 2 EXISTS\r\n{tag} OK [READ-WRITE] done\r\n")
            }
            "SELECT" => {
                format!("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] done\r\n")
            }
            "UID" if rest.starts_with("SEARCH") => {
                let uids = if polled { "1 2 3" } else { "1 2" };
                format!("* SEARCH {uids}\r\n{tag} OK done\r\n")
            }
            "UID" if fault == Fault::RefusesFetchOfUid1 && rest.starts_with("FETCH 1 ") => {
                format!("{tag} NO [SERVERBUG] cannot read this message\r\n")
            }
            "UID" if rest.starts_with("FETCH ") => {
                let uid = rest.split(' ').nth(1).unwrap_or("0");
                let name = ["zero", "one", "two", "three"]
                    .get(uid.parse::<usize>().unwrap_or(0))
                    .unwrap_or(&"zero");
                let body = format!("Subject: {name}\r\n\r\nhello\r\n");
                format!(
                    "* {uid} FETCH (UID {uid} BODY[] {{{}}}\r\n{body})\r\n{tag} OK done\r\n",
                    body.len()
                )
            }
            "UID"
                if ["MOVE ", "COPY ", "STORE ", "EXPUNGE "]
                    .iter()
                    .any(|c| rest.starts_with(c)) =>
            {
                format!("{tag} OK done\r\n")
            }
            "LOGOUT" => {
                let _ = w
                    .write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes())
                    .await;
                return;
            }
            _ => format!("{tag} BAD unknown command\r\n"),
        };
        if w.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn scripted_config(port: u16) -> ImapConfig {
    ImapConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        username: USER.into(),
        password: Secret::new("pw"),
        folders: Folders::default(),
        poll_interval: Duration::from_secs(1),
        tls_ca_file: None,
    }
}

#[tokio::test]
async fn a_message_the_server_will_not_fetch_is_skipped_not_retried_forever() {
    let (port, seen) = scripted_server(Fault::RefusesFetchOfUid1).await;
    let mut mb = ImapMailbox::new(scripted_config(port), state());
    within(10, mb.open()).await.unwrap();
    let token = CancellationToken::new();
    let two = next_message(&mut mb, &token).await;
    assert_eq!(subject(&two.raw), "two");
    assert_eq!(uid_of(&two), (7, 2));
    let fetches_of_1 = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("UID FETCH 1 "))
        .count();
    assert_eq!(fetches_of_1, 3);
    within(10, mb.file(&two.locator, Folder::Processed))
        .await
        .unwrap();

    // Nothing new: it polls, and cancellation ends the wait.
    let (result, ()) = tokio::join!(within(10, mb.next(&token)), async {
        tokio::task::yield_now().await;
        token.cancel();
    });
    assert!(matches!(result, Ok(None)), "{result:?}");
}

#[tokio::test]
async fn hostile_greetings_and_missing_uidvalidity_are_errors_not_panics() {
    for fault in [Fault::GarbageGreeting, Fault::NoUidValidity] {
        let (port, _) = scripted_server(fault).await;
        let mut mb = ImapMailbox::new(scripted_config(port), state());
        match within(10, mb.open()).await {
            Err(MailboxError::Other(_)) => {}
            other => panic!("expected an error, got {other:?}"),
        }
    }
    // Nothing listens: an error, not a hang.
    let mut mb = ImapMailbox::new(scripted_config(free_port()), state());
    assert!(matches!(
        within(10, mb.open()).await,
        Err(MailboxError::Other(_))
    ));
}

#[tokio::test]
async fn cancelling_during_the_reconnect_back_off_returns_none_quickly() {
    let (_guard, mut events) = watch_events();
    // Nothing listens there: every attempt fails at once.
    let mut mb = ImapMailbox::new(scripted_config(free_port()), state());
    let (result, latency) =
        cancelled_once_logged(&mut mb, &mut events, "IMAP connection failed", 10).await;
    assert!(matches!(result, Ok(None)), "{result:?}");
    assert!(latency < Duration::from_millis(200), "took {latency:?}");
    // It waited after the failure instead of hammering the port.
    assert_eq!(count(&events.borrow(), "IMAP connection failed"), 1);
}

#[tokio::test]
async fn without_move_filing_copies_flags_and_expunges_only_its_message() {
    for (fault, expunge) in [
        (Fault::NoMove, "UID EXPUNGE 2"),
        (Fault::NoMoveNoUidplus, "EXPUNGE"),
    ] {
        let (port, seen) = scripted_server(fault).await;
        let mut cfg = scripted_config(port);
        cfg.folders.rejected = "Re \"jected\"".into();
        let mut mb = ImapMailbox::new(cfg, state());
        within(10, mb.open()).await.unwrap();
        let locator = Locator::Imap {
            uidvalidity: 7,
            uid: 2,
        };
        within(10, mb.file(&locator, Folder::Rejected))
            .await
            .unwrap();
        let commands: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.split_once(' ').map(|(_, c)| c.to_string()))
            .skip_while(|c| !c.starts_with("UID COPY"))
            .collect();
        assert_eq!(
            commands,
            [
                "UID COPY 2 \"Re \\\"jected\\\"\"",
                "UID STORE 2 +FLAGS.SILENT (\\Deleted)",
                expunge,
            ]
        );
        mb.close().await;
    }
}

#[tokio::test]
async fn without_idle_it_polls_for_new_mail() {
    let (port, seen) = scripted_server(Fault::Polling).await;
    let mut mb = ImapMailbox::new(scripted_config(port), state());
    within(10, mb.open()).await.unwrap();
    let token = CancellationToken::new();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(subject(&next_message(&mut mb, &token).await.raw));
    }
    assert_eq!(got, ["one", "two", "three"]);
    assert!(seen.lock().unwrap().iter().any(|l| l.ends_with(" NOOP")));
    assert!(!seen.lock().unwrap().iter().any(|l| l.ends_with(" IDLE")));
}
