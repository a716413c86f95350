//! The embedded default, as the README runs it: no configuration file, no
//! mail server — Maildir in (`var/mail`), Maildir out (`var/outbox`) under
//! the working directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Sijil {
    child: Child,
    dir: tempfile::TempDir,
    _port: std::sync::MutexGuard<'static, ()>,
}

/// The embedded default listens on 127.0.0.1:8080: one daemon at a time.
static PORT_8080: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Sijil {
    /// `sijil run` with no configuration, in a fresh working directory.
    fn start() -> Sijil {
        let port = PORT_8080
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("sijil.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sijil"))
            .arg("run")
            .current_dir(dir.path())
            .env_remove("SIJIL_CONFIG")
            // The daemon's default log level: the test reads its info lines.
            .env_remove("SIJIL_LOG")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Sijil {
            child,
            dir,
            _port: port,
        };
        s.until("the daemon is ready", || s.log().contains("sijil ready"));
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("sijil.log")).unwrap_or_default()
    }

    /// Delivers like an MTA: write into tmp/, rename into new/.
    fn deliver(&self, name: &str, raw: &[u8]) {
        let tmp = self.path("var/mail/tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, self.path("var/mail/new").join(name)).unwrap();
    }

    /// Waits for a condition on the files the daemon writes, up to 20 s.
    fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Sijil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|s| std::fs::read_dir(dir.join(s)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    out
}

fn recipients(dir: &Path) -> Vec<String> {
    files(dir)
        .iter()
        .map(|f| {
            let raw = std::fs::read(f).unwrap();
            let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let to = msg
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or("");
            to.to_string()
        })
        .collect()
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
    let sijil = Sijil::start();
    sijil.deliver("1764000000.sample.pack", &example("pack-mykad.eml"));
    let outbox = sijil.path("var/outbox");
    sijil.until("three emails in the outbox", || files(&outbox).len() >= 3);
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
    sijil.until("the pack filed in Processed", || {
        files(&sijil.path("var/mail/.Processed")).len() == 1
    });
    assert!(
        files(&sijil.path("var/mail")).is_empty(),
        "the inbox is empty"
    );

    // The same message delivered again takes effect once only.
    sijil.deliver("1764000001.sample.again", &example("pack-mykad.eml"));
    sijil.until("the copy filed", || {
        files(&sijil.path("var/mail/.Processed")).len() == 2
    });
    assert_eq!(files(&outbox).len(), 3, "nothing sent twice");
    assert!(sijil.stop().success());
}

#[test]
fn an_incomplete_example_pack_gets_the_problem_list() {
    let sijil = Sijil::start();
    sijil.deliver("1764000000.noloa", &example("pack-without-loa.eml"));
    let outbox = sijil.path("var/outbox");
    sijil.until("the INCOMPLETE email", || !files(&outbox).is_empty());
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
    let sijil = Sijil::start();
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
        sijil.deliver(&format!("1764000000.bad{i:02}"), raw);
    }
    sijil.deliver("1764000099.good", &example("pack-mykad.eml"));
    let outbox = sijil.path("var/outbox");
    let expected = from_developer.len() + 3;
    sijil.until("every answer", || files(&outbox).len() >= expected);
    sijil.until("everything filed", || {
        files(&sijil.path("var/mail")).is_empty()
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
