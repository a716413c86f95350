//! The embedded default, as the README runs it: no configuration file, no
//! mail server — Maildir in (`var/mail`), Maildir out (`var/outbox`) under
//! the working directory.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Daemon, TestDir, maildir_files as files};

/// How long each wait on the daemon may take.
const WAIT: Duration = Duration::from_secs(20);

/// `sijil run` with no configuration, in a fresh working directory, ready.
fn start() -> Daemon {
    let dir = TestDir::new();
    let mut sijil = Daemon::embedded(dir.path()).owning(dir);
    sijil.ready_within = WAIT;
    sijil.started()
}

/// Delivers into the embedded default's inbox, `var/mail`.
fn deliver(sijil: &Daemon, name: &str, raw: &[u8]) {
    sijil.deliver("var/mail", name, raw);
}

fn recipients(dir: &Path) -> Vec<String> {
    let outbox = support::maildir_messages(dir);
    outbox.iter().map(|raw| support::first_to(raw)).collect()
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .unwrap()
}

#[test]
fn the_readme_sample_pack_yields_ack_emel1_and_staff_verify() {
    let mut sijil = start();
    deliver(&sijil, "1764000000.sample.pack", &example("pack-mykad.eml"));
    let outbox = sijil.path("var/outbox");
    sijil.until("three emails in the outbox", WAIT, |_| {
        files(&outbox).len() >= 3
    });
    let mut to = recipients(&outbox);
    to.sort();
    assert_eq!(
        to,
        [
            "aina@ra.example.my",
            "ali@buyer.example.com",
            "pemaju@example.my"
        ]
    );
    sijil.until("the pack filed in Processed", WAIT, |s| {
        files(&s.path("var/mail/.Processed")).len() == 1
    });
    assert!(
        files(&sijil.path("var/mail")).is_empty(),
        "the inbox is empty"
    );

    // The same message delivered again takes effect once only.
    deliver(
        &sijil,
        "1764000001.sample.again",
        &example("pack-mykad.eml"),
    );
    sijil.until("the copy filed", WAIT, |s| {
        files(&s.path("var/mail/.Processed")).len() == 2
    });
    assert_eq!(files(&outbox).len(), 3, "nothing sent twice");
    assert!(sijil.stop().success());
}

#[test]
fn an_incomplete_example_pack_gets_the_problem_list() {
    let mut sijil = start();
    deliver(&sijil, "1764000000.noloa", &example("pack-without-loa.eml"));
    let outbox = sijil.path("var/outbox");
    sijil.until("the INCOMPLETE email", WAIT, |_| !files(&outbox).is_empty());
    let raw = std::fs::read(&files(&outbox)[0]).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("LOA_MISSING"), "{text}");
    assert_eq!(recipients(&outbox), ["pemaju@example.my"]);
    assert!(sijil.stop().success());
}

/// Broken and hostile MIME never stops the daemon: from a stranger or a
/// robot it is quarantined without a reply; from the registered developer it
/// is a pack with problems and gets the coded list. Then the next good pack
/// is handled as usual.
#[test]
fn malformed_mail_is_quarantined_and_the_daemon_goes_on() {
    let mut sijil = start();
    let nested = format!(
        "From: pemaju@example.my\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n{}",
        (0..400)
            .map(|i| format!(
                "--b{i}\r\nContent-Type: multipart/mixed; boundary=b{}\r\n\r\n",
                i + 1
            ))
            .collect::<String>()
    );
    let silent: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\0\0\0\0\0".to_vec(),
        b"this is not a message at all".to_vec(),
        b"From: MAILER-DAEMON@mx.example.my\r\nSubject: Undelivered Mail\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nbounced\r\n--r--\r\n".to_vec(),
        b"From: stranger@\xff\xfe.example\r\nSubject: =?utf-8?B?!!!?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n".to_vec(),
    ];
    let from_developer: Vec<Vec<u8>> = vec![
        b"From: pemaju@example.my\r\nSubject: Permohonan\r\nContent-Type: multipart/mixed; boundary=never\r\n\r\n--never\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64@@@@".to_vec(),
        nested.into_bytes(),
        format!("From: pemaju@example.my\r\nSubject: {}\r\n\r\nx", "A".repeat(100_000)).into_bytes(),
    ];
    for (i, raw) in silent.iter().chain(&from_developer).enumerate() {
        deliver(&sijil, &format!("1764000000.bad{i:02}"), raw);
    }
    deliver(&sijil, "1764000099.good", &example("pack-mykad.eml"));
    let outbox = sijil.path("var/outbox");
    let expected = from_developer.len() + 3;
    sijil.until("every answer", WAIT, |_| files(&outbox).len() >= expected);
    sijil.until("everything filed", WAIT, |s| {
        files(&s.path("var/mail")).is_empty()
    });
    let to = recipients(&outbox);
    assert_eq!(to.len(), expected, "{to:?}");
    let to_developer = to.iter().filter(|a| *a == "pemaju@example.my").count();
    assert_eq!(
        to_developer,
        from_developer.len() + 1,
        "one coded answer each, plus the ACK"
    );
    assert_eq!(
        files(&sijil.path("var/mail/.Quarantine")).len(),
        silent.len()
    );
    assert_eq!(
        files(&sijil.path("var/mail/.Processed")).len(),
        from_developer.len() + 1
    );
    assert!(sijil.stop().success(), "the daemon survived");
}
