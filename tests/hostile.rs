//! Hostile and broken mail (SPEC §8, issue 5 part 4): the real binary, on a
//! Maildir configuration, is given every message of `tests/corpus/hostile`
//! (written by `scripts/make-hostile-corpus`) plus two built here that are
//! too large to commit. Each must end either quarantined without a reply or
//! answered with INCOMPLETE naming the expected problem codes; the daemon
//! must stay up with bounded memory, exit 0 on SIGTERM, and store documents
//! only under digest names, mode 0600.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use support::{Daemon, maildir_files as files, peak_rss_kib};

const DEVELOPER: &str = "pemaju@example.my";

/// The whole corpus goes through a debug build; a 26 MiB message is among
/// it, but only its header is read (SPEC §8), and the 15 MiB message with
/// an 11 MiB LOA is the largest read whole.
const PEAK_RSS_LIMIT_KIB: u64 = 128 * 1024;

/// The longest one message may take (debug build, loaded machine). The
/// slowest now take about 3 s; 20 000 nested `<div>`s took half a minute
/// before HTML bodies were cut short (inbound::html_to_text).
const MESSAGE_TIME_LIMIT_SECS: f64 = 15.0;

/// The largest answer: a problem list, not an echo of the message. 3000
/// tiny attachments made a 5 MB answer before only the first 50 were read
/// (inbound::MAX_ATTACHMENTS).
const REPLY_SIZE_LIMIT: usize = 256 * 1024;

/// What must become of one message.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Filed in Quarantine; nobody is answered, no case is made.
    Quarantine,
    /// Filed in Processed with a case in state `incomplete`; the developer
    /// gets one INCOMPLETE email that names every code of `codes` and none
    /// of `not`.
    Incomplete {
        codes: &'static [&'static str],
        not: &'static [&'static str],
    },
}
use Outcome::{Incomplete, Quarantine};

/// The outcome of every message, by file name (without `.eml`). `not` lists
/// codes whose absence shows the hostile part was read as it should be: a
/// document found despite the broken MIME, a field read despite the charset.
const EXPECTED: &[(&str, Outcome)] = &[
    // Broken MIME structure.
    (
        "truncated-mime",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FORM_MISSING", "MYKAD_FRONT_MISSING", "FIELD_MISSING"],
        },
    ),
    (
        "truncated-base64",
        Incomplete {
            codes: &["LOA_MISSING", "ID_DOC_MISSING"],
            not: &["FIELD_MISSING"],
        },
    ),
    (
        "boundary-never-closes",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FORM_MISSING", "MYKAD_FRONT_MISSING", "MYKAD_BACK_MISSING"],
        },
    ),
    (
        "boundary-missing",
        Incomplete {
            codes: &["FORM_MISSING", "LOA_MISSING"],
            not: &[],
        },
    ),
    (
        "deep-nesting",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &[],
        },
    ),
    (
        "deep-nested-rfc822",
        Incomplete {
            codes: &["FORM_MISSING", "LOA_MISSING"],
            not: &["FIELD_MISSING"],
        },
    ),
    (
        "thousands-of-parts",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_NOT_ALLOWED", "TOO_MANY_ATTACHMENTS"],
            not: &["FORM_MISSING", "LOA_MISSING", "FIELD_MISSING"],
        },
    ),
    (
        "thousands-of-empty-parts",
        Incomplete {
            // Parts without headers are text, not attachments.
            codes: &["LOA_MISSING"],
            not: &["FORM_MISSING", "FIELD_MISSING"],
        },
    ),
    // Oversized headers and lines.
    (
        "long-headers",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FIELD_MISSING", "FORM_MISSING"],
        },
    ),
    (
        "long-message-id",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FIELD_MISSING", "FORM_MISSING"],
        },
    ),
    (
        "long-line",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FIELD_MISSING", "FORM_MISSING"],
        },
    ),
    (
        "many-encoded-words",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FIELD_MISSING", "FORM_MISSING"],
        },
    ),
    // Bad transfer encodings and charsets.
    (
        "bad-base64",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_MISMATCH"],
            not: &[],
        },
    ),
    (
        "bad-quoted-printable",
        Incomplete {
            codes: &["PHONE_INVALID"],
            not: &["LOA_MISSING"],
        },
    ),
    (
        "unknown-charset",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FIELD_MISSING"],
        },
    ),
    (
        "lying-charset",
        Incomplete {
            codes: &["FIELD_MISSING"],
            not: &["LOA_MISSING"],
        },
    ),
    (
        "nul-bytes",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &[],
        },
    ),
    // Hostile documents.
    (
        "compression-bomb",
        Incomplete {
            codes: &["MYKAD_BACK_MISSING"],
            not: &[
                "LOA_MISSING",
                "ATTACHMENT_TOO_LARGE",
                "ATTACHMENT_TYPE_MISMATCH",
                "MESSAGE_TOO_LARGE",
            ],
        },
    ),
    (
        "lying-attachment-types",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_MISMATCH"],
            not: &[],
        },
    ),
    // Hostile file names.
    (
        "path-traversal-names",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_NOT_ALLOWED"],
            not: &["FORM_MISSING", "LOA_MISSING", "MYKAD_FRONT_MISSING"],
        },
    ),
    (
        "absolute-paths",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_NOT_ALLOWED"],
            not: &["FORM_MISSING", "LOA_MISSING", "MYKAD_FRONT_MISSING"],
        },
    ),
    (
        "control-char-names",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_NOT_ALLOWED"],
            not: &["FORM_MISSING", "LOA_MISSING"],
        },
    ),
    (
        "rtl-override-names",
        Incomplete {
            codes: &["ATTACHMENT_TYPE_REFUSED"],
            not: &["FORM_MISSING"],
        },
    ),
    (
        "header-injection-subject",
        Incomplete {
            codes: &["LOA_MISSING"],
            not: &["FIELD_MISSING"],
        },
    ),
    // HTML-only bodies.
    (
        "html-deep-nesting",
        Incomplete {
            // Cut after its first tags (inbound::html_to_text): the field
            // lines at the bottom are not read.
            codes: &["FORM_MISSING", "FIELD_MISSING"],
            not: &[],
        },
    ),
    (
        "html-wide-table",
        Incomplete {
            codes: &["FORM_MISSING"],
            not: &["FIELD_MISSING"],
        },
    ),
    // Not the developer, or not a person: no reply to anyone.
    ("spoofed-display-name", Quarantine),
    ("two-senders", Quarantine),
    ("sender-double-at", Quarantine),
    ("no-sender", Quarantine),
    ("stranger-with-traversal", Quarantine),
    ("auto-submitted-pack", Quarantine),
    ("null-sender-pack", Quarantine),
    ("forged-staff-command", Quarantine),
    ("delivery-report-from-developer", Quarantine),
    ("binary-noise", Quarantine),
    ("only-nul-bytes", Quarantine),
    ("headers-only-no-body", Quarantine),
    // Built by `generated()`, too large to commit.
    (
        "over-limit-attachment",
        Incomplete {
            codes: &["ATTACHMENT_TOO_LARGE"],
            not: &["MESSAGE_TOO_LARGE", "FORM_MISSING"],
        },
    ),
    (
        "over-limit-message",
        Incomplete {
            // Only its header is read: the size is all the answer names
            // (with the limit), nothing is called missing.
            codes: &["MESSAGE_TOO_LARGE", "25 MiB"],
            not: &["ATTACHMENT_TOO_LARGE", "FIELD_MISSING", "FORM_MISSING"],
        },
    ),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile")
}

/// The committed corpus, by name.
fn corpus() -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_string();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn minimal_pdf(fill: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    pdf.resize(fill, b' ');
    pdf.extend_from_slice(b"\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    pdf
}

/// A pack from the developer with these attachments, as base64 parts.
fn pack(name: &str, espa: &str, attachments: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut raw = format!(
        "From: Contoh Pemaju <{DEVELOPER}>\r\nTo: kpkt.retail@ra.example.my\r\n\
         Subject: Permohonan Sijil Digital - Ali bin Abu\r\n\
         Message-ID: <hostile.{name}@example.my>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Rujukan eSPA / eSPA Reference: {espa}\r\nTurutan / Signing Order: 2\r\n\
         Nama Penuh / Full Name: Ali bin Abu\r\nJenis Pengenalan / ID Type: MyKad\r\n\
         No. Pengenalan / ID Number: 900101-14-5673\r\nWarganegara / Nationality: Malaysia\r\n\
         Emel / Email: ali@buyer.example.com\r\nTelefon / Phone: +971501234567\r\n\
         Peranan / Role: Pembeli\r\nSebab / Reason: LUAR_NEGARA\r\n"
    )
    .into_bytes();
    for (file, ctype, bytes) in attachments {
        raw.extend_from_slice(
            format!(
                "--b\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment; filename=\"{file}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        for line in text.as_bytes().chunks(76) {
            raw.extend_from_slice(line);
            raw.extend_from_slice(b"\r\n");
        }
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}

/// The messages too large to commit: an 11 MiB LOA (over the 10 MiB
/// attachment limit), and a message of about 26 MiB whose every attachment
/// is within the limit (over the 25 MiB message limit).
fn generated() -> BTreeMap<String, Vec<u8>> {
    const MIB: usize = 1024 * 1024;
    let jpeg = |tag: &[u8]| {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0];
        j.extend_from_slice(tag);
        j
    };
    let form = (
        "Borang Permohonan.pdf",
        "application/pdf",
        minimal_pdf(1000),
    );
    let front = ("MyKad depan.jpg", "image/jpeg", jpeg(b"front"));
    let back = ("MyKad belakang.jpg", "image/jpeg", jpeg(b"back"));
    let mut out = BTreeMap::new();
    out.insert(
        "over-limit-attachment".to_string(),
        pack(
            "over-limit-attachment",
            "HDA-2026-800001",
            &[
                form.clone(),
                front.clone(),
                back.clone(),
                (
                    "Letter of Authorisation.pdf",
                    "application/pdf",
                    minimal_pdf(11 * MIB),
                ),
            ],
        ),
    );
    out.insert(
        "over-limit-message".to_string(),
        pack(
            "over-limit-message",
            "HDA-2026-800002",
            &[
                form,
                front,
                back,
                (
                    "Letter of Authorisation.pdf",
                    "application/pdf",
                    minimal_pdf(9 * MIB + MIB / 2),
                ),
                (
                    "Surat Kuasa tambahan.pdf",
                    "application/pdf",
                    minimal_pdf(9 * MIB + MIB / 2),
                ),
            ],
        ),
    );
    out
}

/// A configured daemon (not started) whose inbox already holds `messages`,
/// so that the log's timestamps measure processing alone: Maildir in and
/// out under `root`, with the embedded default's developer and limits.
fn configured(root: &Path, messages: &BTreeMap<String, Vec<u8>>) -> Daemon {
    let mut sijil = Daemon::maildir(root);
    sijil.edit_config(|cfg| {
        cfg["developer"] = toml::toml! {
            [[developer]]
            company = "Contoh Pemaju Sdn Bhd"
            addresses = [DEVELOPER]
        }["developer"]
            .clone();
        // Aina and Badrul only, as this test always had them.
        if let Some(staff) = cfg["staff"].as_array_mut() {
            staff.truncate(2);
        }
        if let Some(security) = cfg["security"].as_table_mut() {
            security.remove("authserv_id");
        }
        support::set_limits(cfg, 10, 25);
    });
    sijil.log_filter = Some("info".into());
    sijil.ready_within = Duration::from_secs(60);
    for (name, raw) in messages {
        sijil.deliver("mail", name, raw);
    }
    sijil
}

/// Message name (the Maildir file name without its `:2,` flags) → folder.
fn filed(root: &Path) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for (folder, dir) in [
        ("Processed", ".Processed"),
        ("Rejected", ".Rejected"),
        ("Quarantine", ".Quarantine"),
        ("inbox", ""),
    ] {
        for f in files(&root.join(dir)) {
            let name = f.file_name().unwrap().to_str().unwrap();
            let name = name.split(":2,").next().unwrap().to_string();
            out.insert(name, folder);
        }
    }
    out
}

/// One email of the outbox: who it answers, to whom, what it says.
struct Reply {
    in_reply_to: String,
    to: Vec<String>,
    subject: String,
    text: String,
    header_lines: Vec<String>,
    size: usize,
}

fn replies(outbox: &Path) -> Vec<Reply> {
    support::maildir_messages(outbox)
        .iter()
        .map(|raw| {
            let msg = support::parse(raw);
            let head_end = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(raw.len());
            let header_lines = String::from_utf8_lossy(&raw[..head_end])
                .split("\r\n")
                .map(str::to_string)
                .collect();
            Reply {
                in_reply_to: msg.in_reply_to().as_text().unwrap_or_default().to_string(),
                to: msg
                    .to()
                    .map(|a| {
                        a.iter()
                            .filter_map(|a| a.address())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                subject: msg.subject().unwrap_or_default().to_string(),
                text: msg.body_text(0).unwrap_or_default().to_string(),
                header_lines,
                size: raw.len(),
            }
        })
        .collect()
}

/// The Message-ID a corpus message was given (see the generator).
fn message_id_of(raw: &[u8]) -> Option<String> {
    sijil::edge::inbound::parse(raw).message_id
}

/// Seconds since midnight of a log line's RFC 3339 timestamp.
fn log_time(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let t = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    Some(t.timestamp_micros() as f64 / 1e6)
}

/// Per message handled, in order: its key and how long it took (from the
/// previous "message handled" line, or from "sijil ready" for the first).
fn timings(log: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut last = None;
    for line in log.lines() {
        if line.contains("sijil ready") {
            last = log_time(line);
        } else if line.contains("message handled") {
            let now = log_time(line);
            let key = line
                .split(" key=")
                .nth(1)
                .and_then(|k| k.split_whitespace().next())
                .unwrap_or("?")
                .to_string();
            if let (Some(a), Some(b)) = (last, now) {
                out.push((key, b - a));
            }
            last = now;
        }
    }
    out
}

#[test]
fn every_hostile_message_is_answered_with_a_code_or_quarantined() {
    let committed = corpus();
    let generated = generated();
    let expected: BTreeMap<&str, Outcome> = EXPECTED.iter().copied().collect();
    assert_eq!(expected.len(), EXPECTED.len(), "a name twice in EXPECTED");
    let all_names: BTreeSet<&str> = committed
        .keys()
        .chain(generated.keys())
        .map(String::as_str)
        .collect();
    assert_eq!(
        all_names,
        expected.keys().copied().collect::<BTreeSet<_>>(),
        "every corpus file has an expectation and every expectation a file \
         (scripts/make-hostile-corpus and EXPECTED must agree)"
    );

    // Maildir names keep the corpus name readable; the prefix keeps the
    // delivery order stable.
    let mut inbox = BTreeMap::new();
    let mut name_of = BTreeMap::new();
    for (i, (name, raw)) in committed.iter().chain(&generated).enumerate() {
        let file = format!("17640{i:05}.{name}");
        name_of.insert(file.clone(), name.as_str());
        inbox.insert(file, raw.clone());
    }

    let dir = support::TestDir::new();
    let mut sijil = configured(dir.path(), &inbox);
    sijil.spawn_and_wait();
    let started = Instant::now();
    sijil.until("every message filed", Duration::from_secs(600), |s| {
        files(&s.path("mail")).is_empty()
    });
    let elapsed = started.elapsed();
    let replies_expected = EXPECTED
        .iter()
        .filter(|(_, o)| matches!(o, Incomplete { .. }))
        .count();
    sijil.until("every reply in the outbox", Duration::from_secs(60), |s| {
        files(&s.path("outbox")).len() >= replies_expected
    });
    // Anything sent by mistake would have been written by now too.
    std::thread::sleep(Duration::from_millis(500));
    assert!(sijil.is_running(), "the daemon is still running");
    let peak_kib = peak_rss_kib(sijil.pid().unwrap());
    let log = sijil.log();

    // Where each message went.
    let folders = filed(&sijil.path("mail"));
    let mut failures = Vec::new();
    for (file, name) in &name_of {
        let want = match expected[name] {
            Quarantine => "Quarantine",
            Incomplete { .. } => "Processed",
        };
        match folders.get(file) {
            Some(got) if *got == want => {}
            got => failures.push(format!("{name}: filed in {got:?}, expected {want}")),
        }
    }

    // Who was answered, and with what.
    let replies = replies(&sijil.path("outbox"));
    let raw_of = |name: &str| -> Vec<u8> {
        committed
            .get(name)
            .or_else(|| generated.get(name))
            .unwrap()
            .clone()
    };
    let mut answered = 0;
    for (name, outcome) in EXPECTED {
        let id = message_id_of(&raw_of(name));
        let mine: Vec<&Reply> = replies
            .iter()
            .filter(|r| id.as_deref().is_some_and(|id| r.in_reply_to == id))
            .collect();
        match outcome {
            Quarantine => {
                if !mine.is_empty() {
                    failures.push(format!("{name}: quarantined mail was answered"));
                }
            }
            Incomplete { codes, not } => {
                let [reply] = mine.as_slice() else {
                    failures.push(format!("{name}: {} replies, expected 1", mine.len()));
                    continue;
                };
                answered += 1;
                if reply.to != [DEVELOPER] {
                    failures.push(format!("{name}: reply to {:?}", reply.to));
                }
                if !reply.subject.contains("Application incomplete") {
                    failures.push(format!("{name}: reply {:?}", reply.subject));
                }
                for code in *codes {
                    if !reply.text.contains(code) {
                        failures.push(format!("{name}: the reply does not name {code}"));
                    }
                }
                for code in *not {
                    if reply.text.contains(code) {
                        failures.push(format!("{name}: the reply names {code}"));
                    }
                }
            }
        }
    }
    if answered != replies.len() {
        failures.push(format!(
            "{} emails in the outbox, {answered} of them expected",
            replies.len()
        ));
    }
    // No header of ours was forged from a subject or a file name.
    for r in &replies {
        for line in &r.header_lines {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("bcc:") || lower.starts_with("x-injected:") {
                failures.push(format!("injected header {line:?} in {:?}", r.subject));
            }
        }
    }

    // Processing time per message, from the log's timestamps.
    let name_by_key: BTreeMap<String, &str> = EXPECTED
        .iter()
        .filter_map(|(name, _)| {
            let key = sijil::edge::inbound::parse(&raw_of(name)).key;
            Some((key.get(..key.len().min(80))?.to_string(), *name))
        })
        .collect();
    eprintln!("hostile corpus: per-message processing time (ms), by the daemon's log");
    for (key, secs) in timings(&log) {
        let name = name_by_key.get(&key).copied().unwrap_or("?");
        eprintln!("  {:>8.1}  {name}", secs * 1000.0);
        if secs > MESSAGE_TIME_LIMIT_SECS {
            failures.push(format!("{name}: took {secs:.1} s"));
        }
    }
    for r in &replies {
        if r.size > REPLY_SIZE_LIMIT {
            failures.push(format!("a reply of {} bytes: {:?}", r.size, r.subject));
        }
    }
    let largest = replies.iter().map(|r| r.size).max().unwrap_or(0);
    eprintln!("hostile corpus: largest reply {largest} bytes");
    eprintln!(
        "hostile corpus: {} messages in {:.1} s; peak RSS (VmHWM) {} KiB = {:.1} MiB",
        EXPECTED.len(),
        elapsed.as_secs_f64(),
        peak_kib,
        peak_kib as f64 / 1024.0
    );

    let documents = sijil.path("store/sijil.db.documents");
    let db = sijil.store_path();
    let status = sijil.stop();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(status.success(), "SIGTERM: exit status {status}");
    assert!(
        peak_kib < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak_kib} KiB over {PEAK_RSS_LIMIT_KIB} KiB"
    );
    assert!(!log.contains("panicked"), "a panic was caught:\n{log}");

    // Documents: segment files only, readable by the daemon's user only.
    let mut segments = 0;
    for entry in std::fs::read_dir(&documents).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let digits = name.strip_suffix(".seg").unwrap_or("");
        assert!(
            digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{path:?} in the documents directory"
        );
        let mode = path.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path:?} mode {mode:o}");
        segments += 1;
    }
    assert!(segments > 0, "some documents were kept");
    // Nothing anywhere in the daemon's directory is named after a sender's
    // file, and nothing was written where the hostile names pointed.
    let mut stack = vec![sijil.dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_lowercase();
            for word in [
                "passwd",
                "borang",
                "mykad",
                "authorisation",
                "win.ini",
                "cron",
            ] {
                assert!(!name.contains(word), "{path:?} named after a sender's file");
            }
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    for outside in [
        "/tmp/Borang Permohonan.pdf",
        "/etc/cron.d/Borang Permohonan.pdf",
        "/etc/cron.daily/x",
        "/var/lib/sijil/MyKad belakang.jpg",
    ] {
        assert!(!Path::new(outside).exists(), "{outside} was written");
    }

    // The compression bomb was kept as sent: its compressed bytes, not 10 MiB.
    let bomb = sijil::edge::inbound::parse(&committed["compression-bomb"]);
    let loa = bomb
        .attachments
        .iter()
        .find(|a| a.name == "Letter of Authorisation.pdf")
        .unwrap();
    assert!(loa.bytes.len() < 64 * 1024, "{} bytes", loa.bytes.len());
    {
        let store = sijil::edge::store::Store::open(&db).unwrap();
        let docs = sijil::edge::documents::Documents::open(&documents).unwrap();
        let at = store
            .document(&loa.sha256)
            .unwrap()
            .expect("the bomb's LOA is kept");
        assert_eq!(
            docs.read(&at).unwrap(),
            loa.bytes,
            "the bomb is stored as sent"
        );
    }

    // Cases: one per answered pack, each `incomplete`; none for the rest.
    let out = sijil.command(&["cases"]);
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8_lossy(&out.stdout);
    let cases: Vec<&str> = listing.lines().skip(1).collect();
    assert_eq!(cases.len(), replies_expected, "{listing}");
    assert!(
        cases
            .iter()
            .all(|c| c.split_whitespace().nth(1) == Some("incomplete")),
        "{listing}"
    );
}

/// The fuzz targets' promises (fuzz/fuzz_targets), checked in process on
/// every corpus message and fuzz seed: the cheap, uninstrumented replay that
/// runs with every `cargo test`, so that an input that once crashed a
/// target (and was added to the corpus) stays fixed.
#[test]
fn the_fuzz_targets_promises_hold_on_the_corpus_and_seeds() {
    use sijil::pack_check::{AttachmentMeta, Limits};
    let config = sijil::config::Config::embedded_default();
    let classifier = sijil::core::classify::Classifier::new(&config);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<(String, Vec<u8>)> = corpus().into_iter().collect();
    for dir in ["examples", "fuzz/seeds/intake", "fuzz/seeds/reply_text"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            inputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    for (name, raw) in &inputs {
        let msg = sijil::edge::inbound::parse(raw);
        assert_eq!(msg.size, raw.len() as u64, "{name}");
        assert!(
            msg.attachments.len() <= sijil::edge::inbound::MAX_ATTACHMENTS,
            "{name}"
        );
        for a in &msg.attachments {
            assert_eq!(
                a.sha256,
                sijil::edge::inbound::sha256_hex(&a.bytes),
                "{name}"
            );
            assert!(
                !a.name.is_empty()
                    && !a.name.contains(['/', '\\'])
                    && !a.name.chars().any(|c| c.is_control()
                        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
                "{name}: unsafe display name {:?}",
                a.name
            );
        }
        let _ = classifier.classify(&msg, &config);
        let metas: Vec<AttachmentMeta<'_>> = msg
            .attachments
            .iter()
            .map(|a| AttachmentMeta {
                name: &a.name,
                size: a.bytes.len() as u64,
                head: &a.bytes[..a.bytes.len().min(8192)],
                sha256: &a.sha256,
            })
            .collect();
        let fields = sijil::pack_check::fields::Fields::parse(&msg.text);
        let message = sijil::pack_check::MessageMeta {
            size: msg.size,
            attachments_unread: msg.attachments_unread,
        };
        let checked = sijil::pack_check::check(&fields, &metas, message, &Limits::default(), today);
        assert_eq!(
            checked.application.is_some(),
            checked.problems.is_empty(),
            "{name}"
        );
        assert_eq!(checked.documents.len(), metas.len(), "{name}");
        let text = String::from_utf8_lossy(raw);
        let own = sijil::core::reply::own_text(&text);
        assert!(own.len() <= text.len(), "{name}");
        assert!(
            own.lines().all(|l| !l.trim_start().starts_with('>')),
            "{name}: a quoted line kept"
        );
    }
}
