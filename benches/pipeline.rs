//! `cargo bench --bench pipeline` (run it through `scripts/bench`): how fast sijil turns
//! application packs into cases and notifications on a real Dovecot + Postfix, measured as
//! ratios against a raw IMAP fetch taken in the same run, so the verdicts hold on a noisy
//! machine.
//!
//! Phases (all by default; `--only` picks some):
//! - `ceiling` — a plain IMAP client (a socket, no parser) `UID FETCH 1:* BODY.PEEK[]`s every
//!   message of the backlog once, skipping the literals; and, for information, the same fetch
//!   through async-imap (the library sijil uses);
//! - `getmail` — getmail6 (Debian package) retrieving the same backlog into a Maildir;
//! - `sijil` — the daemon started on the backlog, timed until every pack is filed and its ACK,
//!   EMEL 1 and STAFF-VERIFY have been delivered;
//! - `latency` — the daemon idle in IMAP IDLE, packs APPENDed at a steady rate; time from each
//!   APPEND to its EMEL 1 landing in the signee's Maildir;
//! - `rss` — peak RSS (VmHWM) of a fresh daemon draining a backlog of 2 MB packs;
//! - `stages` — sijil's pure core in this process, no server: time per pack to parse, classify,
//!   decide and render, the steps whose cost does not depend on the machine's noise as much;
//! - `web` — 64 signees setting their certificate PIN at once while the mailbox drains a
//!   backlog (`pipeline/web.rs`; its own section of the report, `pipeline/web_report.rs`);
//! - `sign` — 64 signees asking for a code and signing their eSPA at once (`pipeline/sign.rs`;
//!   its own section of the report, `pipeline/sign_report.rs`).
//!
//! Flags: `--n N`, `--rss-n N`, `--latency-seconds S`, `--rate R`, `--quick`, `--only LIST`,
//! `--no-write`, `--out PATH`. The results table is printed and written to
//! `docs/benchmarks.md` with the machine it ran on.

// The harness module carries helpers only the integration tests use.
#![allow(dead_code)]

#[path = "pipeline/sign.rs"]
mod sign;
#[path = "pipeline/sign_report.rs"]
mod sign_report;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "pipeline/web.rs"]
mod web;
#[path = "pipeline/web_report.rs"]
mod web_report;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use futures::TryStreamExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use support::{DEVELOPER, Daemon, MailServers, RA_ADDRESS, VERIFIER};

/// Seed of every pseudo-random choice (sizes, names, file contents): a run is reproducible.
const SEED: u64 = 0x5131_1a2b_2026_0006;
/// Smallest and largest pack (sum of the four attachments, before base64).
const PACK_MIN: usize = 200_000;
const PACK_MAX: usize = 2_000_000;
/// Every pack of the memory backlog has this size.
const RSS_PACK: usize = 2_000_000;
/// Domain of every signee; each set of packs uses one base user with `+detail` addresses, so
/// every signee has a distinct address while all EMEL 1s of a set land in one Dovecot mailbox
/// (Dovecot's LMTP strips the detail, `recipient_delimiter = +`).
const SIGNEE_DOMAIN: &str = "buyer.example.com";
/// Index offsets keep the signees (ID number, eSPA reference, address) of the throughput and the
/// latency sets apart: both go to the same daemon, which would answer a repeat as a duplicate.
const LATENCY_OFFSET: u64 = 50_000;
/// The drain is declared stuck when no counter moved for this long.
const STALL: Duration = Duration::from_secs(120);
/// How often the drain and the latency phase look at the Maildirs.
const POLL: Duration = Duration::from_millis(50);
/// The raw fetch is repeated this many times; the median is the ceiling.
const CEILING_RUNS: usize = 3;
/// Parallel IMAP sessions used to load a backlog.
const LOADERS: usize = 2;
/// Tries of the IDLE notification probe.
const IDLE_PROBES: usize = 5;
/// Parallel IMAP sessions used by the latency phase's APPENDs.
const APPENDERS: usize = 4;
/// Margin on the disk estimate of the memory backlog.
const DISK_MARGIN: f64 = 1.10;
/// Disk left free for everyone else on the machine when sizing the memory backlog.
const DISK_RESERVE: u64 = 8_000_000_000;

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Ceiling,
    Getmail,
    Sijil,
    Latency,
    Rss,
    Stages,
    Web,
    Sign,
}

impl Phase {
    const ALL: [Phase; 8] = [
        Phase::Ceiling,
        Phase::Getmail,
        Phase::Sijil,
        Phase::Latency,
        Phase::Rss,
        Phase::Stages,
        Phase::Web,
        Phase::Sign,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Ceiling => "ceiling",
            Phase::Getmail => "getmail",
            Phase::Sijil => "sijil",
            Phase::Latency => "latency",
            Phase::Rss => "rss",
            Phase::Stages => "stages",
            Phase::Web => "web",
            Phase::Sign => "sign",
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    n: usize,
    /// Times the daemon drains the throughput backlog; the median run is reported.
    sijil_runs: usize,
    rss_n: usize,
    latency_seconds: u64,
    rate: u32,
    quick: bool,
    phases: Vec<Phase>,
    write: bool,
    out: PathBuf,
    args: String,
}

const USAGE: &str = "\
usage: scripts/bench [--quick] [--n N] [--sijil-runs K] [--rss-n N] [--latency-seconds S]
                     [--rate R] [--only ceiling,getmail,sijil,latency,rss,stages,web,sign]
                     [--no-write] [--out PATH]
  --n N                 packs in the throughput backlog (default 300; quick 40)
  --sijil-runs K        times sijil drains that backlog, each with an empty store; the
                        median is reported (default 3; quick 1)
  --rss-n N             2 MB packs in the memory backlog (default 10000; quick 200)
  --latency-seconds S   length of the steady APPEND stream (default 60; quick 10)
  --rate R              APPENDs per second in the latency phase (default 20)
  --quick               small everything (about two minutes)
  --only LIST           run only these phases (latency without sijil starts an idle daemon;
                        web and sign alone rewrite only their own sections of the report)
  --no-write            print the table only, leave docs/benchmarks.md alone
  --out PATH            write the report here instead of docs/benchmarks.md";

/// The options, or `None` when only the usage was asked for.
fn parse_options() -> anyhow::Result<Option<Options>> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let quick = raw.iter().any(|a| a == "--quick");
    let mut o = Options {
        n: if quick { 40 } else { 300 },
        sijil_runs: if quick { 1 } else { 3 },
        rss_n: if quick { 200 } else { 10_000 },
        latency_seconds: if quick { 10 } else { 60 },
        rate: 20,
        quick,
        phases: Phase::ALL.to_vec(),
        write: true,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md"),
        args: String::new(),
    };
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            // cargo bench passes --bench to every harness = false target.
            "--bench" => continue,
            "--quick" => {}
            "--no-write" => o.write = false,
            "--n" => o.n = value("--n")?.parse().context("--n")?,
            "--sijil-runs" => {
                o.sijil_runs = value("--sijil-runs")?.parse().context("--sijil-runs")?
            }
            "--rss-n" => o.rss_n = value("--rss-n")?.parse().context("--rss-n")?,
            "--latency-seconds" => {
                o.latency_seconds = value("--latency-seconds")?
                    .parse()
                    .context("--latency-seconds")?
            }
            "--rate" => o.rate = value("--rate")?.parse().context("--rate")?,
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--only" => {
                let list = value("--only")?;
                let mut phases = Vec::new();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let p = Phase::ALL
                        .into_iter()
                        .find(|p| p.name() == name)
                        .ok_or_else(|| anyhow!("unknown phase {name:?}\n{USAGE}"))?;
                    phases.push(p);
                }
                phases.sort();
                phases.dedup();
                o.phases = phases;
            }
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if o.n == 0 || o.rss_n == 0 || o.rate == 0 || o.latency_seconds == 0 {
        bail!("--n, --sijil-runs, --rss-n, --rate and --latency-seconds must be positive\n{USAGE}");
    }
    let given: Vec<&str> = raw
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    o.args = if given.is_empty() {
        "(defaults)".into()
    } else {
        given.join(" ")
    };
    Ok(Some(o))
}

impl Options {
    fn has(&self, p: Phase) -> bool {
        self.phases.contains(&p)
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic packs

/// SplitMix64: tiny, fast, and good enough for sizes, names and incompressible filler.
struct Prng(u64);

impl Prng {
    fn new(seed: u64) -> Prng {
        Prng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        out.reserve(len);
        let mut left = len;
        while left >= 8 {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
            left -= 8;
        }
        let last = self.next_u64().to_le_bytes();
        out.extend_from_slice(&last[..left]);
    }
}

/// One pack to generate: which set (its signees' base user), its global index (unique within one
/// daemon's life) and the total size of its four attachments.
#[derive(Debug, Clone)]
struct PackSpec {
    base_user: &'static str,
    index: u64,
    attachments: usize,
}

/// `count` specs with sizes drawn uniformly from [PACK_MIN, PACK_MAX] (seeded by `stream`).
fn mixed_specs(base_user: &'static str, offset: u64, count: usize, stream: u64) -> Vec<PackSpec> {
    let mut rng = Prng::new(SEED ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
    (0..count as u64)
        .map(|i| PackSpec {
            base_user,
            index: offset + i,
            attachments: rng.range(PACK_MIN as u64, PACK_MAX as u64) as usize,
        })
        .collect()
}

const GIVEN: [&str; 16] = [
    "Ahmad", "Siti", "Muhammad", "Nurul", "Aisyah", "Hafiz", "Farah", "Amirul", "Zainab", "Ismail",
    "Haslinda", "Rizal", "Aminah", "Faizal", "Rosnah", "Kamal",
];
const FATHER: [&str; 12] = [
    "Abdullah", "Hassan", "Ibrahim", "Osman", "Yusof", "Rahman", "Salleh", "Omar", "Ali", "Bakar",
    "Hamid", "Idris",
];
/// Place-of-birth codes JPN issues (Johor, Perak, Selangor, Kuala Lumpur).
const PLACES: [&str; 4] = ["01", "08", "10", "14"];

impl PackSpec {
    /// The signee's own address: `<base>+<index>@buyer.example.com`.
    fn signee(&self) -> String {
        format!("{}+{:06}@{SIGNEE_DOMAIN}", self.base_user, self.index)
    }

    fn name(&self) -> String {
        let mut rng = Prng::new(SEED ^ self.index.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let given = GIVEN[(rng.next_u64() % GIVEN.len() as u64) as usize];
        let father = FATHER[(rng.next_u64() % FATHER.len() as u64) as usize];
        let link = if rng.next_u64().is_multiple_of(2) {
            "bin"
        } else {
            "binti"
        };
        format!("{given} {link} {father}")
    }

    /// A MyKad number with a real birth date and an issued place code, unique per index:
    /// the date walks 20 000 days from 1950, the serial counts the laps.
    fn mykad(&self) -> String {
        let base = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default();
        let born = base + chrono::Duration::days((self.index % 20_000) as i64);
        let serial = (self.index / 20_000) % 1000;
        let place = PLACES[(self.index % PLACES.len() as u64) as usize];
        format!(
            "{}-{place}-{serial:03}{}",
            born.format("%y%m%d"),
            self.index % 10
        )
    }

    /// The raw RFC 5322 message: SPEC §4 fields, then the form (PDF), MyKad front and back
    /// (JPEG) and the LOA (PDF), base64 in 76-column lines. Same spec, same bytes.
    fn build(&self) -> Vec<u8> {
        let name = self.name();
        let mut rng = Prng::new(SEED ^ self.index.wrapping_mul(0x9FB2_1C65_1E98_DF25) ^ 0x77);
        // Split the total over the four files with random weights (each at least 10 %).
        let weights: Vec<u64> = (0..4).map(|_| rng.range(10, 30)).collect();
        let sum: u64 = weights.iter().sum();
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| (self.attachments as u64 * w / sum) as usize)
            .collect();
        let used: usize = sizes.iter().sum();
        sizes[3] += self.attachments - used;

        let boundary = format!("=_bench_{:06}_{:016x}", self.index, rng.next_u64());
        let date = chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00+08:00")
            .map(|d| d + chrono::Duration::seconds(self.index as i64))
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        let phone = format!("+97150{:07}", (1_234_567 + self.index * 7) % 10_000_000);
        let body = [
            (
                "Rujukan eSPA / eSPA Reference",
                format!("HDA-2026-{:06}", self.index),
            ),
            ("Turutan / Signing Order", "2".into()),
            ("Nama Penuh / Full Name", name.clone()),
            ("Jenis Pengenalan / ID Type", "MyKad".into()),
            ("No. Pengenalan / ID Number", self.mykad()),
            ("Warganegara / Nationality", "Malaysia".into()),
            ("Emel / Email", self.signee()),
            ("Telefon / Phone", phone),
            ("Peranan / Role", "Pembeli".into()),
            ("Sebab / Reason", "LUAR_NEGARA".into()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect::<String>();

        let mut out = Vec::with_capacity(self.attachments * 4 / 3 + 8192);
        let _ = write!(
            Sink(&mut out),
            "From: Seri Indah Development <{DEVELOPER}>\r\n\
             To: {RA_ADDRESS}\r\n\
             Subject: Permohonan Sijil Digital - {name}\r\n\
             Date: {date}\r\n\
             Message-ID: <bench.{}.{:06}@seriindah.my>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
             This is a multi-part message in MIME format.\r\n\r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n\
             {body}\r\nTerima kasih.\r\nSeri Indah Development Sdn Bhd\r\n",
            self.base_user,
            self.index
        );
        let files = [
            (
                "Borang Permohonan PDF Signing Certificate (AATL).pdf",
                "application/pdf",
                pdf(&mut rng, sizes[0], &format!("Borang Permohonan {name}")),
            ),
            ("MyKad depan.jpg", "image/jpeg", jpeg(&mut rng, sizes[1])),
            ("MyKad belakang.jpg", "image/jpeg", jpeg(&mut rng, sizes[2])),
            (
                "Letter of Authorisation.pdf",
                "application/pdf",
                pdf(&mut rng, sizes[3], &format!("LOA Seri Indah for {name}")),
            ),
        ];
        for (file, mime, bytes) in files {
            let _ = write!(
                Sink(&mut out),
                "--{boundary}\r\n\
                 Content-Type: {mime}; name=\"{file}\"\r\n\
                 Content-Disposition: attachment; filename=\"{file}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n"
            );
            base64_lines(&bytes, &mut out);
        }
        let _ = write!(Sink(&mut out), "--{boundary}--\r\n");
        out
    }
}

/// `fmt::Write` into a byte vector (the message is ASCII).
struct Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A PDF of exactly `size` bytes: a real header and trailer around one stream of filler (what a
/// scanned, compressed page looks like to anyone who does not render it).
fn pdf(rng: &mut Prng, size: usize, title: &str) -> Vec<u8> {
    let head = format!(
        "%PDF-1.4\n%\u{e2}\u{e3}\n1 0 obj << /Type /Catalog /Pages 2 0 R /Title ({title}) >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n3 0 obj << /Length "
    );
    let tail = b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let fixed = head.len() + 24 + tail.len();
    let filler = size.saturating_sub(fixed).max(16);
    let mut out = Vec::with_capacity(size + 64);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(format!("{filler:>10} >> stream\n").as_bytes());
    rng.fill(&mut out, filler);
    out.extend_from_slice(tail);
    out
}

/// A JPEG of exactly `size` bytes: JFIF start-of-image header, filler, end-of-image marker.
fn jpeg(rng: &mut Prng, size: usize) -> Vec<u8> {
    const HEAD: [u8; 20] = [
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    let filler = size.saturating_sub(HEAD.len() + 2).max(16);
    let mut out = Vec::with_capacity(size + 8);
    out.extend_from_slice(&HEAD);
    rng.fill(&mut out, filler);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// Standard base64 folded at 76 columns with CRLF (57 input bytes per line).
fn base64_lines(data: &[u8], out: &mut Vec<u8>) {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut line = [0u8; 76];
    for chunk in data.chunks(57) {
        let n = engine.encode_slice(chunk, &mut line).unwrap_or_default();
        out.extend_from_slice(&line[..n]);
        out.extend_from_slice(b"\r\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Mailbox plumbing

/// Messages (files) in one Maildir folder: `cur/` plus `new/`. 0 when it does not exist.
fn maildir_count(folder: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|sub| {
            fs::read_dir(folder.join(sub))
                .map(|d| {
                    d.flatten()
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .count()
                })
                .unwrap_or(0)
        })
        .sum()
}

/// The message files of one Maildir folder.
fn maildir_files(folder: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(d) = fs::read_dir(folder.join(sub)) {
            out.extend(
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path()),
            );
        }
    }
    out
}

/// Where the EMEL 1s of a set land (see [`SIGNEE_DOMAIN`]).
fn signee_maildir(servers: &MailServers, base_user: &str) -> PathBuf {
    servers.maildir(&format!("{base_user}@{SIGNEE_DOMAIN}"))
}

#[derive(Debug, Clone, Copy, Default)]
struct Loaded {
    messages: usize,
    bytes: u64,
    secs: f64,
}

/// APPENDs the packs of `specs` to the RA inbox over [`LOADERS`] IMAP sessions, generating each
/// on a blocking thread just before it is sent. Prints progress for long loads.
async fn load(servers: &MailServers, specs: Vec<PackSpec>, what: &str) -> anyhow::Result<Loaded> {
    let start = Instant::now();
    let specs = Arc::new(specs);
    let next = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = specs.len();
    let mut tasks = Vec::new();
    for _ in 0..LOADERS {
        let mut session = servers.try_imap(RA_ADDRESS).await?;
        let (specs, next, bytes) = (specs.clone(), next.clone(), bytes.clone());
        let announce = (total / 10).max(1);
        let what = what.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(spec) = specs.get(i).cloned() else {
                    break;
                };
                let raw = tokio::task::spawn_blocking(move || spec.build()).await?;
                session
                    .append("INBOX", None, None, &raw)
                    .await
                    .with_context(|| format!("APPEND of pack {i}"))?;
                bytes.fetch_add(raw.len() as u64, Ordering::Relaxed);
                if total >= 1000 && (i + 1) % announce == 0 {
                    eprintln!(
                        "  {what}: loaded {}/{total} ({:.0} s)",
                        i + 1,
                        start.elapsed().as_secs_f64()
                    );
                }
            }
            let _ = session.logout().await;
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(Loaded {
        messages: total,
        bytes: bytes.load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------------------
// Ceiling

#[derive(Debug, Clone, Copy)]
struct Rate {
    messages: usize,
    bytes: u64,
    secs: f64,
}

impl Rate {
    fn per_sec(&self) -> f64 {
        self.messages as f64 / self.secs.max(1e-9)
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs.max(1e-9)
    }

    fn show(&self) -> String {
        format!(
            "{:.1} msg/s, {:.1} MB/s ({} msgs, {:.1} MB in {:.2} s)",
            self.per_sec(),
            self.mb_per_sec(),
            self.messages,
            self.bytes as f64 / 1e6,
            self.secs
        )
    }
}

/// An IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The byte count of a literal announced at the end of `line` (`… {1234}\r\n`).
fn literal_len(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

/// Sends `tag command` and reads until the tagged reply, which must be OK. Untagged lines (and
/// any literal in them) are skipped.
async fn raw_command<R, W>(
    r: &mut BufReader<R>,
    w: &mut W,
    tag: &str,
    cmd: &str,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            bail!("connection closed during {tag}");
        }
        if let Some(n) = literal_len(&line) {
            tokio::io::copy_buf(&mut (&mut *r).take(n), &mut tokio::io::sink()).await?;
            continue;
        }
        if line.starts_with(format!("{tag} ").as_bytes()) {
            if line[tag.len() + 1..].starts_with(b"OK") {
                return Ok(());
            }
            bail!(
                "{tag} refused: {}",
                String::from_utf8_lossy(&line).trim_end()
            );
        }
    }
}

/// The ceiling: one socket, `UID FETCH 1:* BODY.PEEK[]`, each literal read and thrown away. No
/// IMAP parser beyond finding `{n}` at line ends, no storing.
async fn raw_fetch(servers: &MailServers) -> anyhow::Result<Rate> {
    Ok(fetch_every_body(servers, async |_| Ok(())).await?.0)
}

/// One socket, LOGIN, EXAMINE INBOX, then the clock: `UID FETCH 1:* BODY.PEEK[]`, each literal
/// read and thrown away, `each(n)` awaited after the n-th. The rate covers the FETCH and `each`;
/// the instant is when the clock started, for a caller with more to wait for.
async fn fetch_every_body(
    servers: &MailServers,
    mut each: impl AsyncFnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<(Rate, Instant)> {
    let stream = TcpStream::connect(("127.0.0.1", servers.imap_port)).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).await?;
    if !line.starts_with(b"* OK") {
        bail!("unexpected greeting {:?}", String::from_utf8_lossy(&line));
    }
    let login = format!("LOGIN {} {}", quoted(RA_ADDRESS), quoted(&servers.password));
    raw_command(&mut r, &mut w, "a1", &login).await?;
    raw_command(&mut r, &mut w, "a2", "EXAMINE INBOX").await?;

    let start = Instant::now();
    w.write_all(b"a3 UID FETCH 1:* BODY.PEEK[]\r\n").await?;
    let (mut messages, mut bytes) = (0usize, 0u64);
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            bail!("connection closed during the FETCH");
        }
        if let Some(n) = literal_len(&line) {
            let got = tokio::io::copy_buf(&mut (&mut r).take(n), &mut tokio::io::sink()).await?;
            if got != n {
                bail!("literal cut short: {got} of {n} bytes");
            }
            each(messages).await?;
            messages += 1;
            bytes += n;
        } else if line.starts_with(b"a3 ") {
            if !line[3..].starts_with(b"OK") {
                bail!(
                    "FETCH refused: {}",
                    String::from_utf8_lossy(&line).trim_end()
                );
            }
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = raw_command(&mut r, &mut w, "a4", "LOGOUT").await;
    let rate = Rate {
        messages,
        bytes,
        secs,
    };
    Ok((rate, start))
}

/// The most any daemon could do on this machine: the ceiling's FETCH, and for every message
/// three small emails handed to Postfix (which holds them) over sijil's own SMTP pool, eight at
/// a time; nothing parsed, stored or filed. Ends when the last email is accepted.
/// The three emails sijil sends for the throughput set's first pack (ACK, EMEL 1, STAFF-VERIFY),
/// decided and rendered in this process by sijil's own core and templates, so that the bare relay
/// hands Postfix what sijil hands it: bilingual text and HTML, 11 to 16 KB each.
fn sijil_emails() -> anyhow::Result<Vec<Vec<u8>>> {
    let cfg = bench_config();
    let raw = mixed_specs("signee", 0, 1, 1)
        .first()
        .map(PackSpec::build)
        .unwrap_or_default();
    let msg = sijil::edge::inbound::parse(&raw);
    let class = sijil::core::classify::Classifier::new(&cfg).classify(&msg, &cfg);
    let store = sijil::edge::store::Store::temporary()?;
    let now = chrono::Utc::now();
    let input = sijil::core::Input::Message {
        msg: &msg,
        class: &class,
    };
    let decision = sijil::core::handle(input, &store, &cfg, now)?;
    let emails = sijil::edge::render::Renderer::new()?
        .render_all(
            &decision.emails,
            &cfg.outbound,
            store.message_id_key(),
            &msg.key,
            now,
            &[],
        )
        .map_err(|e| anyhow!(e))?;
    if emails.len() != 3 {
        bail!(
            "sijil would send {} emails for a pack, not 3 ({})",
            emails.len(),
            decision.reason
        );
    }
    Ok(emails.into_iter().map(|e| e.rendered.bytes).collect())
}

/// The daemon's settings as the harness writes them, for the core run in this process: the
/// embedded default with the test developer and verifier.
fn bench_config() -> sijil::config::Config {
    use sijil::config::{Config, Developer, Staff, StaffRole};
    let mut cfg = Config::embedded_default();
    cfg.developers = vec![Developer {
        company: support::DEVELOPER_COMPANY.into(),
        addresses: vec![DEVELOPER.to_lowercase()],
        domain: None,
    }];
    cfg.staff = vec![Staff {
        name: "Aina".into(),
        address: VERIFIER.to_lowercase(),
        roles: vec![StaffRole::Verifier],
    }];
    cfg
}

async fn bare_relay(
    servers: &MailServers,
    emails: Arc<Vec<Vec<u8>>>,
) -> anyhow::Result<(Rate, Cpu)> {
    use sijil::config::{OutboundConfig, SmtpConfig, TlsMode};
    use sijil::edge::transport::Transport;

    let transport = Arc::new(
        Transport::from_config(&OutboundConfig::Smtp(SmtpConfig {
            host: "127.0.0.1".into(),
            port: servers.smtp_port,
            tls: TlsMode::None,
            username: None,
            password: None,
            tls_ca_file: None,
        }))
        .map_err(|e| anyhow!("SMTP transport: {e:#}"))?,
    );
    let cpu_before = own_cpu();
    let (tx, rx) = tokio::sync::mpsc::channel::<usize>(64);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (rx, transport, emails) = (rx.clone(), transport.clone(), emails.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let Some(n) = rx.lock().await.recv().await else {
                    return Ok::<_, anyhow::Error>(());
                };
                let email = emails.get(n % 3).map(Vec::as_slice).unwrap_or_default();
                transport
                    .send(
                        "kpkt.retail@ra.example.my",
                        &["bare@buyer.example.com".to_string()],
                        email,
                    )
                    .await
                    .map_err(|e| anyhow!("bare relay send: {e}"))?;
            }
        }));
    }

    let (fetched, started) = fetch_every_body(servers, async |n| {
        for k in 0..3 {
            tx.send(n * 3 + k).await?;
        }
        Ok(())
    })
    .await?;
    drop(tx);
    for s in senders {
        s.await??;
    }
    // Until the last email is accepted, not only the last message fetched.
    let secs = started.elapsed().as_secs_f64();
    let cpu = own_cpu().since(cpu_before);
    transport.shutdown().await;
    Ok((Rate { secs, ..fetched }, cpu))
}

/// For information: the same fetch through async-imap (parsed responses, bodies dropped).
async fn library_fetch(servers: &MailServers) -> anyhow::Result<Rate> {
    let mut s = servers.try_imap(RA_ADDRESS).await?;
    s.examine("INBOX").await?;
    let start = Instant::now();
    let (mut messages, mut bytes) = (0usize, 0u64);
    {
        let mut fetches = s.uid_fetch("1:*", "BODY.PEEK[]").await?;
        while let Some(f) = fetches.try_next().await? {
            if let Some(b) = f.body() {
                messages += 1;
                bytes += b.len() as u64;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = s.logout().await;
    Ok(Rate {
        messages,
        bytes,
        secs,
    })
}

// ---------------------------------------------------------------------------------------------
// getmail6

/// getmail6 retrieving the whole inbox (read_all, delete false) into a fresh Maildir; the
/// subprocess's wall time; `messages` is what it delivered.
fn getmail(servers: &MailServers, expected_bytes: u64) -> anyhow::Result<Rate> {
    let program = support::process::find_program("getmail").ok_or_else(|| {
        anyhow!("getmail not installed (scripts/bench installs the getmail6 package)")
    })?;
    // getmail refuses to deliver as root: it runs as the unprivileged `mail` user, which owns
    // its state directory and Maildir.
    let (uid, gid) = support::process::user_ids("mail")
        .ok_or_else(|| anyhow!("no `mail` system user to run getmail as"))?;
    let dir = servers.dir.join("getmail");
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub))?;
    }
    for d in [
        &dir,
        &maildir,
        &maildir.join("cur"),
        &maildir.join("new"),
        &maildir.join("tmp"),
    ] {
        std::os::unix::fs::chown(d, Some(uid), Some(gid))?;
    }
    let rc = dir.join("getmailrc");
    fs::write(
        &rc,
        format!(
            "[retriever]\n\
             type = SimpleIMAPRetriever\n\
             server = 127.0.0.1\n\
             port = {port}\n\
             username = {RA_ADDRESS}\n\
             password = {password}\n\
             mailboxes = (\"INBOX\",)\n\n\
             [destination]\n\
             type = Maildir\n\
             path = {maildir}/\n\n\
             [options]\n\
             read_all = true\n\
             delete = false\n\
             verbose = 0\n\
             message_log_verbose = false\n",
            port = servers.imap_port,
            password = servers.password,
            maildir = maildir.display(),
        ),
    )?;
    let start = Instant::now();
    let out = Command::new(&program)
        .uid(uid)
        .gid(gid)
        .env("HOME", &dir)
        .arg("--rcfile")
        .arg(&rc)
        .arg("--getmaildir")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .context("run getmail")?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "getmail failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // getmail adds its own Delivered-To/Return-Path/Received headers: count the backlog's bytes,
    // not the copies', so its MB/s compares with the ceiling's.
    Ok(Rate {
        messages: maildir_count(&maildir),
        bytes: expected_bytes,
        secs,
    })
}

// ---------------------------------------------------------------------------------------------
// sijil drain

/// What a drained backlog must have produced.
struct Expect<'a> {
    packs: usize,
    /// Emails of each kind (ACK, STAFF-VERIFY, EMEL 1) to be delivered: `packs` times the
    /// daemon runs that answered them.
    answered: usize,
    signee_base: &'a str,
    until: Until,
    /// Emails already on the hold queue when the daemon started (the bare relay's).
    held_before: usize,
}

/// When a drain counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Every pack filed and its three emails accepted by Postfix (they sit on its hold queue):
    /// issue 6's definition of "processed", timed without Postfix's deliveries on the CPU.
    Accepted,
    /// Every pack filed and its three emails delivered into the recipients' Maildirs.
    Delivered,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    inbox: usize,
    processed: usize,
    rejected: usize,
    quarantine: usize,
    acks: usize,
    staff: usize,
    emel1: usize,
    /// Messages on Postfix's hold queue.
    held: usize,
}

impl Counts {
    fn read(servers: &MailServers, signee_base: &str) -> Counts {
        let ra = servers.maildir(RA_ADDRESS);
        Counts {
            inbox: maildir_count(&ra),
            processed: maildir_count(&ra.join(".Processed")),
            rejected: maildir_count(&ra.join(".Rejected")),
            quarantine: maildir_count(&ra.join(".Quarantine")),
            acks: maildir_count(&servers.maildir(DEVELOPER)),
            staff: maildir_count(&servers.maildir(VERIFIER)),
            emel1: maildir_count(&signee_maildir(servers, signee_base)),
            held: servers.held(),
        }
    }

    fn done(&self, expect: &Expect<'_>) -> bool {
        let filed = self.inbox == 0 && self.processed >= expect.packs;
        filed
            && match expect.until {
                Until::Accepted => self.held >= expect.held_before + 3 * expect.packs,
                Until::Delivered => {
                    self.acks >= expect.answered
                        && self.staff >= expect.answered
                        && self.emel1 >= expect.answered
                }
            }
    }

    fn show(&self) -> String {
        format!(
            "inbox {}, Processed {}, Rejected {}, Quarantine {}; delivered: ACK {}, STAFF-VERIFY {}, EMEL 1 {}; held {}",
            self.inbox,
            self.processed,
            self.rejected,
            self.quarantine,
            self.acks,
            self.staff,
            self.emel1,
            self.held
        )
    }
}

/// Whether process `pid` is alive (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// A `kB` field of /proc/PID/status, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time a process has used so far, user and system, in seconds (`/proc/PID/stat`, whose
/// clock ticks are always 1/100 s).
fn proc_cpu(pid: u32) -> Option<Cpu> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let user: f64 = fields.nth(11)?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some(Cpu {
        user: user / 100.0,
        system: system / 100.0,
    })
}

/// CPU this bench process has used so far (every thread), user and system, in seconds.
fn own_cpu() -> Cpu {
    // SAFETY: `usage` is a plain struct getrusage fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cpu {
        user: secs(usage.ru_utime),
        system: secs(usage.ru_stime),
    }
}

/// CPU seconds, user and system.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    user: f64,
    system: f64,
}

impl Cpu {
    fn total(self) -> f64 {
        self.user + self.system
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            user: self.user - start.user,
            system: self.system - start.system,
        }
    }

    /// "X ms of CPU per message (user U, system S)".
    fn per_message(self, messages: usize) -> String {
        let ms = |s: f64| 1000.0 * s / messages.max(1) as f64;
        format!(
            "{:.1} ms of CPU per message (user {:.1}, system {:.1})",
            ms(self.user + self.system),
            ms(self.user),
            ms(self.system)
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Drained {
    secs: f64,
    /// When the inbox was first seen empty with every pack filed: the intake's own pace, before
    /// the outbox has caught up.
    filed_secs: f64,
    counts: Counts,
    /// Largest VmRSS seen by the poller (VmHWM is the authoritative peak).
    max_rss: u64,
    /// CPU the daemon had used when the drain ended.
    cpu: Option<Cpu>,
}

/// Waits until the daemon (pid) has emptied the inbox, filed `packs` messages and every ACK,
/// STAFF-VERIFY and EMEL 1 has been accepted or delivered (`expect.until`); `since` is when the
/// daemon was started. Fails
/// fast when a pack was rejected or quarantined, when the daemon dies, or when nothing moves
/// for [`STALL`].
async fn drain(
    servers: &MailServers,
    pid: u32,
    since: Instant,
    expect: &Expect<'_>,
    what: &str,
) -> anyhow::Result<Drained> {
    let mut last = Counts::read(servers, expect.signee_base);
    let mut moved = Instant::now();
    let mut announced = Instant::now();
    let mut max_rss = 0;
    let mut filed_secs = None;
    loop {
        let c = Counts::read(servers, expect.signee_base);
        max_rss = max_rss.max(proc_status_bytes(pid, "VmRSS:").unwrap_or(0));
        if filed_secs.is_none() && c.inbox == 0 && c.processed >= expect.packs {
            filed_secs = Some(since.elapsed().as_secs_f64());
        }
        if c.done(expect) {
            let secs = since.elapsed().as_secs_f64();
            return Ok(Drained {
                secs,
                filed_secs: filed_secs.unwrap_or(secs),
                counts: c,
                max_rss,
                cpu: proc_cpu(pid),
            });
        }
        if c.rejected + c.quarantine > 0 {
            bail!(
                "sijil did not accept every pack ({}); latest developer mail:\n{}",
                c.show(),
                latest_text(&servers.maildir(DEVELOPER))
            );
        }
        if !alive(pid) {
            bail!("the daemon exited during the {what} ({})", c.show());
        }
        if c != last {
            last = c;
            moved = Instant::now();
        } else if moved.elapsed() > STALL {
            bail!("no progress for {STALL:?} during the {what} ({})", c.show());
        }
        if announced.elapsed() > Duration::from_secs(30) {
            announced = Instant::now();
            eprintln!(
                "  {what}: {:.0} s, {}",
                since.elapsed().as_secs_f64(),
                c.show()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Subject and first body lines of the newest message in a Maildir folder (for failures).
fn latest_text(folder: &Path) -> String {
    let newest = maildir_files(folder)
        .into_iter()
        .filter_map(|p| fs::metadata(&p).ok().map(|m| (m.modified().ok(), p)))
        .max_by_key(|(t, _)| *t);
    let Some((_, path)) = newest else {
        return "(none)".into();
    };
    let raw = fs::read(&path).unwrap_or_default();
    let Some(msg) = mail_parser::MessageParser::default().parse(&raw) else {
        return "(unparseable)".into();
    };
    let text = msg.body_text(0).unwrap_or_default();
    format!(
        "Subject: {}\n{}",
        msg.subject().unwrap_or(""),
        text.lines().take(30).collect::<Vec<_>>().join("\n")
    )
}

/// Makes Postfix hold what it accepts from now on, proven with a probe message (then deleted),
/// so that the throughput figure is sijil's own: its end is "accepted by Postfix" (issue 6), and
/// Postfix delivering into Dovecot meanwhile would take CPU the ceiling never had to share.
async fn hold_outgoing(servers: &MailServers) -> anyhow::Result<()> {
    const PROBE: &[u8] = b"From: hold-probe@bench.invalid\r\nTo: hold-probe@buyer.example.com\r\n\
        Subject: hold probe\r\n\r\nprobe\r\n";
    servers.hold_accepted_mail();
    // Postfix's master applies a reload asynchronously; a probe that is accepted and lands on
    // the hold queue shows that new SMTP sessions hold.
    for _ in 0..200 {
        servers
            .try_send(
                PROBE,
                "hold-probe@bench.invalid",
                &["hold-probe@buyer.example.com"],
            )
            .await?;
        if servers.held() > 0 {
            servers.delete_held_mail();
            if servers.held() == 0 {
                return Ok(());
            }
            bail!("Postfix's hold queue could not be emptied");
        }
    }
    bail!("Postfix did not start holding accepted mail after a reload")
}

/// One drain of the throughput backlog by a fresh daemon.
struct SijilRun {
    rate: Rate,
    /// The daemon's CPU from ready to the last email accepted.
    cpu: Option<Cpu>,
    drained: Drained,
}

impl SijilRun {
    /// The run with the median rate, and the median CPU (taken apart: on a noisy machine the
    /// fastest run is not always the cheapest). `runs` is not empty.
    fn medians(runs: &[SijilRun]) -> (&SijilRun, Option<Cpu>) {
        let mut by_rate: Vec<&SijilRun> = runs.iter().collect();
        by_rate.sort_by(|a, b| a.rate.secs.total_cmp(&b.rate.secs));
        let mut cpus: Vec<Cpu> = runs.iter().filter_map(|r| r.cpu).collect();
        cpus.sort_by(|a, b| a.total().total_cmp(&b.total()));
        (
            by_rate[by_rate.len() / 2],
            cpus.get(cpus.len() / 2).copied(),
        )
    }
}

/// Clears `\Seen` on every message of the selected folder.
async fn mark_unread(s: &mut support::ImapSession) -> anyhow::Result<()> {
    let updates: Vec<_> = s
        .uid_store("1:*", "-FLAGS.SILENT (\\Seen)")
        .await?
        .try_collect()
        .await?;
    drop(updates);
    Ok(())
}

/// Puts the backlog a run filed back into the inbox, unread, as it was loaded: one IMAP MOVE
/// of the Processed folder.
async fn refile_backlog(servers: &MailServers, expected: usize) -> anyhow::Result<()> {
    let mut s = servers.try_imap(RA_ADDRESS).await?;
    s.select("Processed").await?;
    s.uid_mv("1:*", "INBOX").await?;
    let inbox = s.select("INBOX").await?;
    mark_unread(&mut s).await?;
    let _ = s.logout().await;
    if inbox.exists as usize != expected {
        bail!(
            "{} messages back in the inbox, not {expected}",
            inbox.exists
        );
    }
    Ok(())
}

/// Writes every dirty page of every file system to disk before a timed phase, so that no phase
/// pays for an earlier one's writes: the kernel's writeback of getmail's 460 MB Maildir, say,
/// would otherwise run inside sijil's window.
fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Starts the daemon on `servers` (panics of the harness become errors).
fn start_daemon(servers: &MailServers) -> anyhow::Result<Daemon> {
    std::panic::catch_unwind(AssertUnwindSafe(|| Daemon::start(servers)))
        .map_err(|p| anyhow!("the daemon did not start: {}", panic_text(&p)))
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(panic)".into())
}

/// Last lines of the daemon's log, for failures.
fn daemon_tail(daemon: &Daemon) -> String {
    support::process::tail(daemon.log_path(), 25)
}

// ---------------------------------------------------------------------------------------------
// Latency

#[derive(Debug, Clone)]
struct Latency {
    sent: usize,
    delivered: usize,
    rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
    append_p50: f64,
}

/// Epoch time in nanoseconds.
fn epoch_ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// APPENDs `seconds × rate` packs at a steady `rate` to the inbox of an idle daemon and measures,
/// per pack, the time from issuing its APPEND to its EMEL 1 file appearing in the signee's
/// Maildir (the file's ctime: set by the kernel when Dovecot's LMTP links it into place).
async fn latency(
    servers: &MailServers,
    pid: u32,
    seconds: u64,
    rate: u32,
) -> anyhow::Result<Latency> {
    let count = (seconds * u64::from(rate)) as usize;
    let specs = mixed_specs("late", LATENCY_OFFSET, count, 2);
    eprintln!("  latency: generating {count} packs before the clock starts");
    let packs: Vec<Vec<u8>> =
        tokio::task::spawn_blocking(move || specs.iter().map(PackSpec::build).collect::<Vec<_>>())
            .await?;
    let packs = Arc::new(packs);
    let mut sessions = Vec::new();
    for _ in 0..APPENDERS {
        let s = servers.try_imap(RA_ADDRESS).await?;
        sessions.push(Arc::new(tokio::sync::Mutex::new(s)));
    }
    let folder = signee_maildir(servers, "late");
    let before = maildir_count(&folder);
    // Let the daemon settle into IDLE after whatever it did before.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        ticks.tick().await;
        let session = sessions[i % APPENDERS].clone();
        let (packs, tx) = (packs.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = session.lock().await;
            let sent = SystemTime::now();
            let t0 = Instant::now();
            s.append("INBOX", None, None, &packs[i])
                .await
                .with_context(|| format!("APPEND of latency pack {i}"))?;
            let _ = tx.send((i, sent, t0.elapsed().as_secs_f64()));
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let sending = started.elapsed().as_secs_f64();
    drop(tx);
    let mut sent: BTreeMap<usize, (SystemTime, f64)> = BTreeMap::new();
    while let Some((i, at, took)) = rx.recv().await {
        sent.insert(i, (at, took));
    }

    // Wait for the stragglers: a daemon slower than the APPEND rate is still working through a
    // queue. Bounded: an EMEL 1 that has not come 60 s after the previous one counts as missing.
    let mut seen = maildir_count(&folder);
    let mut moved = Instant::now();
    while seen < before + count && moved.elapsed() < Duration::from_secs(60) && alive(pid) {
        tokio::time::sleep(POLL).await;
        let now = maildir_count(&folder);
        if now != seen {
            seen = now;
            moved = Instant::now();
        }
    }

    let re = regex::bytes::Regex::new(r"(?i)late\+(\d{6})@").context("regex")?;
    let mut arrived: BTreeMap<usize, i128> = BTreeMap::new();
    for file in maildir_files(&folder) {
        let Ok(meta) = fs::metadata(&file) else {
            continue;
        };
        let ctime = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
        let Ok(raw) = fs::read(&file) else {
            continue;
        };
        let head_end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n" || w.starts_with(b"\n\n"))
            .unwrap_or(raw.len());
        let Some(index) = re
            .captures(&raw[..head_end])
            .and_then(|c| std::str::from_utf8(&c[1]).ok()?.parse::<u64>().ok())
        else {
            continue;
        };
        let Some(i) = index.checked_sub(LATENCY_OFFSET).map(|i| i as usize) else {
            continue;
        };
        let slot = arrived.entry(i).or_insert(ctime);
        *slot = (*slot).min(ctime);
    }
    let mut lat: Vec<f64> = sent
        .iter()
        .filter_map(|(i, (at, _))| arrived.get(i).map(|ct| (ct - epoch_ns(*at)) as f64 / 1e9))
        .collect();
    lat.sort_by(f64::total_cmp);
    let mut appends: Vec<f64> = sent.values().map(|(_, took)| *took).collect();
    appends.sort_by(f64::total_cmp);
    Ok(Latency {
        sent: sent.len(),
        delivered: lat.len(),
        rate: sent.len() as f64 / sending.max(1e-9),
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        max: lat.last().copied().unwrap_or(f64::NAN),
        append_p50: percentile(&appends, 50.0),
    })
}

/// The server's own share of any IDLE client's latency: a raw session IDLEs on an empty mailbox,
/// another APPENDs a tiny message to it, and the time until `* n EXISTS` arrives is taken; the
/// median of [`IDLE_PROBES`] tries. (Dovecot batches change notifications for about 0.5 s.)
async fn idle_floor(servers: &MailServers) -> anyhow::Result<f64> {
    const PROBE: &str = "idle.probe@ra.example.my";
    let mut writer = servers.try_imap(PROBE).await?;
    let stream = TcpStream::connect(("127.0.0.1", servers.imap_port)).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).await?;
    let login = format!("LOGIN {} {}", quoted(PROBE), quoted(&servers.password));
    raw_command(&mut r, &mut w, "p1", &login).await?;
    raw_command(&mut r, &mut w, "p2", "SELECT INBOX").await?;
    let mut delays = Vec::new();
    for i in 0..IDLE_PROBES {
        let tag = format!("i{i}");
        w.write_all(format!("{tag} IDLE\r\n").as_bytes()).await?;
        line.clear();
        r.read_until(b'\n', &mut line).await?;
        if !line.starts_with(b"+") {
            bail!(
                "IDLE refused: {}",
                String::from_utf8_lossy(&line).trim_end()
            );
        }
        // Let the server settle into IDLE before the change.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = Instant::now();
        writer
            .append("INBOX", None, None, b"Subject: probe\r\n\r\nprobe\r\n")
            .await?;
        loop {
            line.clear();
            let read =
                tokio::time::timeout(Duration::from_secs(35), r.read_until(b'\n', &mut line));
            if read.await?? == 0 {
                bail!("connection closed during IDLE");
            }
            if line.ends_with(b"EXISTS\r\n") {
                break;
            }
        }
        delays.push(start.elapsed().as_secs_f64());
        w.write_all(b"DONE\r\n").await?;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).await? == 0 {
                bail!("connection closed after IDLE");
            }
            if line.starts_with(tag.as_bytes()) {
                break;
            }
        }
    }
    let _ = writer.logout().await;
    let _ = raw_command(&mut r, &mut w, "p3", "LOGOUT").await;
    delays.sort_by(f64::total_cmp);
    Ok(percentile(&delays, 50.0))
}

// ---------------------------------------------------------------------------------------------
// Report

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Info,
    Error,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Info => "",
            Verdict::Error => "ERROR",
        }
    }

    fn of(ok: bool) -> Verdict {
        if ok { Verdict::Pass } else { Verdict::Fail }
    }
}

struct Row {
    metric: String,
    value: String,
    target: String,
    verdict: Verdict,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, metric: &str, value: String, target: &str, verdict: Verdict) {
        eprintln!(
            "  => {metric}: {value}{}",
            if verdict == Verdict::Info {
                String::new()
            } else {
                format!("  [{}; target {target}]", verdict.text())
            }
        );
        self.rows.push(Row {
            metric: metric.into(),
            value,
            target: target.into(),
            verdict,
        });
    }

    fn error(&mut self, metric: &str, target: &str, e: &anyhow::Error) {
        let first = format!("{e:#}");
        let short: String = first
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        eprintln!("  => {metric}: ERROR: {first}");
        self.rows.push(Row {
            metric: metric.into(),
            value: format!("error: {short}"),
            target: target.into(),
            verdict: Verdict::Error,
        });
    }

    fn table(&self) -> String {
        let mut out = String::from("| metric | value | target | result |\n|---|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.metric,
                r.value.replace('|', "\\|"),
                r.target,
                r.verdict.text()
            );
        }
        out
    }

    fn ok(&self) -> bool {
        !self
            .rows
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
    }
}

/// The machine and the software versions, for the report header.
fn machine() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let run = |cmd: &str, args: &[&str]| -> String {
        support::process::find_program(cmd)
            .and_then(|p| {
                Command::new(p)
                    .args(args)
                    .stdin(Stdio::null())
                    .output()
                    .ok()
            })
            .map(|o| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                text.lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_else(|| "not found".into())
    };
    let dir = env!("CARGO_MANIFEST_DIR");
    let commit = run("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let dirty = support::process::find_program("git")
        .and_then(|g| {
            Command::new(g)
                .args(["-C", dir, "status", "--porcelain", "--untracked-files=no"])
                .output()
                .ok()
        })
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    vec![
        (
            "date".into(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("cpu".into(), format!("{cores} × {model}")),
        ("memory".into(), mem),
        ("kernel".into(), format!("Linux {kernel}")),
        (
            "servers".into(),
            format!(
                "Dovecot {}, Postfix {}, {}",
                run("dovecot", &["--version"]),
                run("postconf", &["-d", "-h", "mail_version"]),
                run("getmail", &["--version"])
            ),
        ),
        (
            "sijil".into(),
            format!(
                "commit {commit}{}, release build",
                if dirty { " + uncommitted changes" } else { "" }
            ),
        ),
    ]
}

fn markdown(
    o: &Options,
    report: &Report,
    machine: &[(String, String)],
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# sijil benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `scripts/bench` ([benches/pipeline.rs](../benches/pipeline.rs)); re-run it to \
         refresh this file. Throughput verdicts are ratios taken in the same run, so they hold on a \
         noisy machine; latency and memory are absolute.\n"
    );
    let _ = writeln!(
        out,
        "Run: `{}` (took {:.0} min){}\n",
        if o.args == "(defaults)" {
            "scripts/bench".to_string()
        } else {
            format!("scripts/bench {}", o.args)
        },
        elapsed.as_secs_f64() / 60.0,
        if o.quick {
            " — **quick run** (small backlogs: indicative only)"
        } else {
            ""
        }
    );
    for (k, v) in machine {
        let _ = writeln!(out, "- **{k}**: {v}");
    }
    let _ = writeln!(out, "\n## Results\n");
    out.push_str(&report.table());
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    let _ = write!(
        out,
        r#"
## Method

Everything runs on this one machine: a private Dovecot (IMAP, LMTP; Maildir) and Postfix
(relaying every domain into Dovecot's LMTP) started by the integration-test harness
(`tests/support`), and the release build of `sijil run` configured by the same harness (IMAP in
without TLS on loopback, SMTP out to Postfix, default settings, `RUST_LOG=info`).

**Packs.** Each pack is an SPEC §4 application (MyKad, LUAR_NEGARA, +971 phone, role Pembeli,
order 2 of its own eSPA reference) for a distinct signee, with four attachments: the application
form (PDF), MyKad front and back (JPEG), and the LOA (PDF). File contents are a real header and
trailer around incompressible filler. A pack's size is the sum of its attachments before base64
(the message is about 1.37 × larger): uniform between 200 KB and 2 MB for the throughput and
latency sets, exactly 2 MB for the memory backlog. Everything (sizes, names, MyKad numbers,
contents, MIME boundaries) comes from a fixed seed, so every run sends the same bytes. Backlogs
are loaded with IMAP APPEND into the RA inbox before the clock starts. Every signee has its own
address `<set>+<n>@{SIGNEE_DOMAIN}`; Dovecot's LMTP strips the `+<n>` detail, so a set's EMEL 1s
land in one Maildir that the bench can watch.

**Ceiling.** One TCP connection, LOGIN, EXAMINE INBOX, one `UID FETCH 1:* BODY.PEEK[]`; the client
only looks for `{{n}}` at line ends and reads the n bytes into nothing. Messages and bytes per
second over the FETCH alone; run {ceiling_runs} times, the median counts. The async-imap row is the same FETCH through the IMAP library sijil
uses (responses parsed, bodies dropped), for information.

**getmail6.** The Debian package, `SimpleIMAPRetriever`, `read_all = true`, `delete = false`,
into a fresh Maildir; wall time of the `getmail` process (start-up, login and its per-message
`UID FETCH` included). MB/s counts the backlog's bytes.

**Bare relay.** The bound on this machine for any daemon doing sijil's job: the ceiling's single
FETCH, and for each message fetched three emails handed to Postfix through sijil's own SMTP
pool, eight at a time, while Postfix holds what it accepts; nothing parsed, stored, rendered or
filed. The three emails are the ones sijil sends for a pack (ACK, EMEL 1, STAFF-VERIFY), decided
and rendered once by sijil's own code before the clock starts, so Postfix gets the same sizes. Wall time until the last email is accepted. The
difference to the ceiling is Postfix's acceptance sharing the two cores with Dovecot. Its CPU
(the bench process's, from `getrusage`) is shown per message; its emails stay on the hold queue,
counted apart, rather than being deleted just before sijil starts: on ext4 without a journal,
as here, every file created in the next 5 s would scan past the freed inodes.

**sijil throughput.** Wall time from spawning the daemon (start-up included) until the inbox is
empty, every pack is filed in Processed, and the developer's ACK, the signee's EMEL 1 and the
verifier's STAFF-VERIFY of every pack have been accepted by Postfix — issue 6's definition. For
this phase Postfix puts what it accepts on its hold queue (`smtpd_data_restrictions =
check_client_access static:HOLD`, proven by a probe message before the daemon starts), so its
relaying and Dovecot's LMTP deliveries do not take CPU that the ceiling never had to share: the
end is 3 × N messages on the hold queue. Then the hold is lifted and the bench waits until every
email has been delivered into its Maildir, which checks that none was lost and is shown as
"delivered after". Postfix's own acceptance (smtpd, cleanup with its fsync, qmgr) stays inside
the measurement. The bench polls every {poll} ms. A rejected or quarantined pack aborts the run.
The daemon's own CPU (user and system, from `/proc/PID/stat`) from ready to the end is shown per
pack. The backlog is drained {sijil_runs}; every drain is by a new daemon with an empty store,
the later ones after one IMAP MOVE put the filed backlog back into the inbox, unread. The drain
with the median msg/s is reported, and the median CPU (one noisy run on a shared machine moves a
single figure by a fifth). The ratios compare messages per second on the same backlog in the same run.

**Before every timed phase** the bench calls `sync(2)`, so that no phase pays for an earlier
one's writes (getmail6's 460 MB Maildir, an earlier run's documents).

**Latency.** After the throughput drain, the same daemon sits idle in IMAP IDLE. Packs (a fresh
set, generated before the clock starts) are APPENDed at a steady rate over {appenders} IMAP sessions.
Latency = the ctime of the EMEL 1 file in the signee's Maildir (set by the kernel when Dovecot's
LMTP links the delivered file into place) minus the wall-clock time at which the bench issued
that pack's APPEND, so the APPEND upload itself counts. Resolution: the kernel's coarse file
timestamps (one tick, ≤ 4 ms) against a nanosecond clock; the error is below 5 ms and can only
make latencies look smaller by that much. No IMAP client opens the signee mailbox during the
phase, so nothing renames the files afterwards. The IDLE row measures the server's part alone:
a bare client IDLEs on an empty mailbox while another session APPENDs to it, and the time to the
`EXISTS` notification is taken ({idle_probes} tries, median) — Dovecot batches change
notifications, so no IDLE client can beat it. The bench waits for every EMEL 1; one still
missing when no EMEL 1 has arrived for 60 s counts as missing.

**Memory.** A fresh server pair and a fresh daemon; the backlog of 2 MB packs is APPENDed before
the daemon starts; the daemon drains it until every email is delivered (no hold queue here); its peak resident set
is read from `VmHWM` in `/proc/<pid>/status` before it is stopped. The drain's throughput is shown
too.

**Core per pack.** No server: this process runs sijil's pure core on the throughput set's first
{stage_packs} packs, one thread, and times each step per pack — `inbound::parse` (MIME, base64,
SHA-256 of every document), classify, `core::handle` (against an empty store, so every pack is
new) and rendering its three emails. {stage_rounds} rounds; the round with the median total is
shown. It is the part of sijil's CPU that the machine's noise moves least.
"#,
        poll = POLL.as_millis(),
        appenders = APPENDERS,
        ceiling_runs = CEILING_RUNS,
        sijil_runs = match o.sijil_runs {
            1 => "once".to_string(),
            n => format!("{n} times"),
        },
        idle_probes = IDLE_PROBES,
        stage_packs = STAGE_PACKS,
        stage_rounds = STAGE_ROUNDS,
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Phases

/// Free bytes on the file system holding `path` (`df -Pk`).
fn free_bytes(path: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(path).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let kb: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Throughput (ceiling, getmail6, sijil) and latency, on one server pair.
fn throughput_and_latency(o: &Options, rt: &tokio::runtime::Runtime, report: &mut Report) {
    let servers = MailServers::start();
    let needs_backlog = o.has(Phase::Ceiling) || o.has(Phase::Getmail) || o.has(Phase::Sijil);
    let mut loaded = Loaded::default();
    if needs_backlog {
        eprintln!("throughput: loading {} packs into the RA inbox", o.n);
        match rt.block_on(load(
            &servers,
            mixed_specs("signee", 0, o.n, 1),
            "throughput",
        )) {
            Ok(l) => loaded = l,
            Err(e) => {
                report.error("backlog load", "", &e);
                return;
            }
        }
        report.row(
            "throughput backlog",
            format!(
                "{} packs, {:.1} MB as messages (avg {:.2} MB); APPEND load {:.1} msg/s",
                loaded.messages,
                loaded.bytes as f64 / 1e6,
                loaded.bytes as f64 / 1e6 / loaded.messages.max(1) as f64,
                loaded.messages as f64 / loaded.secs.max(1e-9)
            ),
            "",
            Verdict::Info,
        );
    }

    let mut ceiling: Option<Rate> = None;
    if o.has(Phase::Ceiling) {
        eprintln!("ceiling: raw UID FETCH of the backlog, {CEILING_RUNS} times");
        let runs: anyhow::Result<Vec<Rate>> = rt.block_on(async {
            let mut runs = Vec::new();
            for _ in 0..CEILING_RUNS {
                settle_disk();
                let r = raw_fetch(&servers).await?;
                if r.messages != loaded.messages {
                    bail!("fetched {} of {} messages", r.messages, loaded.messages);
                }
                runs.push(r);
            }
            Ok(runs)
        });
        match runs {
            Ok(mut runs) => {
                runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
                let median = runs[runs.len() / 2];
                report.row(
                    "ceiling: raw IMAP UID FETCH (median)",
                    median.show(),
                    "",
                    Verdict::Info,
                );
                report.notes.push(format!(
                    "Ceiling runs (msg/s): {}.",
                    runs.iter()
                        .map(|r| format!("{:.1}", r.per_sec()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                ceiling = Some(median);
            }
            Err(e) => report.error("ceiling: raw IMAP UID FETCH (median)", "", &e),
        }
        match rt.block_on(library_fetch(&servers)) {
            Ok(r) => report.row(
                "async-imap UID FETCH (information)",
                r.show(),
                "",
                Verdict::Info,
            ),
            Err(e) => report.error("async-imap UID FETCH (information)", "", &e),
        }
    }

    let mut peer: Option<Rate> = None;
    if o.has(Phase::Getmail) {
        eprintln!("getmail6: retrieving the backlog into a Maildir");
        settle_disk();
        match getmail(&servers, loaded.bytes) {
            Ok(r) if r.messages == loaded.messages => {
                report.row("getmail6 → Maildir", r.show(), "", Verdict::Info);
                peer = Some(r);
            }
            Ok(r) => report.error(
                "getmail6 → Maildir",
                "",
                &anyhow!("delivered {} of {} messages", r.messages, loaded.messages),
            ),
            Err(e) => report.error("getmail6 → Maildir", "", &e),
        }
        // getmail peeks, but make sure sijil finds the inbox exactly as the ceiling did.
        let _ = rt.block_on(async {
            let mut s = servers.try_imap(RA_ADDRESS).await?;
            s.select("INBOX").await?;
            mark_unread(&mut s).await?;
            let _ = s.logout().await;
            Ok::<_, anyhow::Error>(())
        });
    }

    if !(o.has(Phase::Sijil) || o.has(Phase::Latency)) {
        return;
    }
    if o.has(Phase::Sijil)
        && let Err(e) = rt.block_on(hold_outgoing(&servers))
    {
        for (metric, target) in sijil_metrics(o) {
            report.error(metric, target, &e);
        }
        return;
    }
    if o.has(Phase::Sijil) {
        eprintln!("bare relay: the ceiling's FETCH plus three emails per message to Postfix");
        let relayed = sijil_emails().map(Arc::new);
        settle_disk();
        let relay = relayed.and_then(|emails| {
            let sizes: Vec<String> = emails.iter().map(|e| e.len().to_string()).collect();
            let (r, cpu) = rt.block_on(bare_relay(&servers, emails))?;
            Ok((r, cpu, sizes))
        });
        match relay {
            Ok((r, cpu, sizes)) => {
                let ratio = ceiling.map(|c| {
                    format!(
                        "; {:.1} % of the ceiling",
                        100.0 * r.per_sec() / c.per_sec()
                    )
                });
                report.row(
                    "bare relay: FETCH + 3 emails accepted, nothing else (bound on this machine)",
                    format!("{}{}", r.show(), ratio.unwrap_or_default()),
                    "",
                    Verdict::Info,
                );
                report.notes.push(format!(
                    "Bare relay client (the bench process): {}; the emails it relays are the \
                     ACK, EMEL 1 and STAFF-VERIFY sijil renders for the first pack ({} bytes).",
                    cpu.per_message(r.messages),
                    sizes.join(", ")
                ));
            }
            Err(e) => report.error(
                "bare relay: FETCH + 3 emails accepted, nothing else (bound on this machine)",
                "",
                &e,
            ),
        }
        // The bare relay's emails stay on the hold queue, counted apart, and are delivered with
        // sijil's: deleting them here would leave hundreds of just-freed inodes, which ext4
        // without a journal (this machine's root file system) scans past for 5 s on every file
        // created after, so the daemon's first seconds would pay for the bench's own cleanup.
    }
    // The bare relay's emails, held since: they are released and delivered with sijil's.
    let relay_held = servers.held();
    let mut held_before = relay_held;
    eprintln!("sijil: starting the daemon on the backlog");
    settle_disk();
    let mut since = Instant::now();
    let mut daemon = match start_daemon(&servers) {
        Ok(d) => d,
        Err(e) => {
            for (metric, target) in sijil_metrics(o) {
                report.error(metric, target, &e);
            }
            return;
        }
    };
    let Some(mut pid) = daemon.pid() else {
        return;
    };
    let mut cpu_at_ready = proc_cpu(pid);
    let mut throughput_ok = true;
    let mut sijil_rate: Option<f64> = None;
    if o.has(Phase::Sijil) {
        let mut runs: Vec<SijilRun> = Vec::new();
        let mut failed: Option<anyhow::Error> = None;
        for run in 0..o.sijil_runs {
            if run > 0 {
                // Each run starts as the first did: the whole backlog in the inbox, and a new
                // daemon with an empty store.
                eprintln!("sijil: run {} of {}", run + 1, o.sijil_runs);
                daemon.stop();
                if let Err(e) = rt.block_on(refile_backlog(&servers, loaded.messages)) {
                    failed = Some(e);
                    break;
                }
                held_before = servers.held();
                settle_disk();
                since = Instant::now();
                daemon = match start_daemon(&servers) {
                    Ok(d) => d,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                let Some(p) = daemon.pid() else {
                    failed = Some(anyhow!("the daemon has no process id"));
                    break;
                };
                pid = p;
                cpu_at_ready = proc_cpu(pid);
            }
            let expect = Expect {
                packs: loaded.messages,
                answered: loaded.messages,
                signee_base: "signee",
                until: Until::Accepted,
                held_before,
            };
            match rt.block_on(drain(&servers, pid, since, &expect, "throughput drain")) {
                Ok(d) => runs.push(SijilRun {
                    rate: Rate {
                        messages: loaded.messages,
                        bytes: loaded.bytes,
                        secs: d.secs,
                    },
                    cpu: d.cpu.zip(cpu_at_ready).map(|(end, start)| end.since(start)),
                    drained: d,
                }),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Every figure is taken; now every email must really arrive.
        let delivered = match failed {
            Some(e) => Err(e),
            None => {
                servers.release_held_mail();
                let expect = Expect {
                    packs: loaded.messages,
                    answered: loaded.messages * runs.len(),
                    signee_base: "signee",
                    until: Until::Delivered,
                    held_before: 0,
                };
                rt.block_on(drain(&servers, pid, since, &expect, "delivery"))
            }
        };
        match delivered {
            Ok(delivered) => {
                let (median, cpu) = SijilRun::medians(&runs);
                let r = median.rate;
                let d = median.drained;
                sijil_rate = Some(r.per_sec());
                let shown = if runs.len() > 1 {
                    format!("{} (median of {} runs)", r.show(), runs.len())
                } else {
                    r.show()
                };
                report.row("sijil: packs → cases + 3 emails", shown, "", Verdict::Info);
                match ceiling {
                    Some(c) => {
                        let ratio = r.per_sec() / c.per_sec();
                        report.row(
                            "sijil ÷ ceiling (msg/s)",
                            format!("{:.1} %", ratio * 100.0),
                            "≥ 50 %",
                            Verdict::of(ratio >= 0.5),
                        );
                    }
                    None => report.row(
                        "sijil ÷ ceiling (msg/s)",
                        "not measured".into(),
                        "≥ 50 %",
                        missing(o, Phase::Ceiling),
                    ),
                }
                match peer {
                    Some(p) => {
                        let ratio = r.per_sec() / p.per_sec();
                        report.row(
                            "sijil ÷ getmail6 (msg/s)",
                            format!("{ratio:.2} ×"),
                            "> 1.00 ×",
                            Verdict::of(ratio > 1.0),
                        );
                    }
                    None => report.row(
                        "sijil ÷ getmail6 (msg/s)",
                        "not measured".into(),
                        "> 1.00 ×",
                        missing(o, Phase::Getmail),
                    ),
                }
                if let Some(cpu) = cpu {
                    report.notes.push(format!(
                        "sijil's own CPU from ready to the last email accepted{}: {}.",
                        if runs.len() > 1 {
                            " (median of the runs)"
                        } else {
                            ""
                        },
                        cpu.per_message(loaded.messages)
                    ));
                }
                if runs.len() > 1 {
                    report.notes.push(format!(
                        "sijil runs, each on the whole backlog with an empty store (msg/s; ms of \
                         CPU per message): {}.",
                        runs.iter()
                            .map(|run| format!(
                                "{:.1}; {}",
                                run.rate.per_sec(),
                                run.cpu.map_or("-".into(), |c| format!(
                                    "{:.1}",
                                    1000.0 * c.total() / loaded.messages.max(1) as f64
                                ))
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                report.notes.push(format!(
                    "Throughput drain (the median run): every pack filed after {:.2} s ({:.1} \
                     msg/s, the intake's own pace), its {} emails accepted by Postfix (on hold) \
                     after {:.2} s; largest VmRSS seen {:.1} MiB. Released with the other runs' \
                     and the bare relay's {}, they were all delivered {:.2} s after the last run \
                     started ({}).",
                    d.filed_secs,
                    loaded.messages as f64 / d.filed_secs.max(1e-9),
                    3 * loaded.messages,
                    d.secs,
                    d.max_rss.max(delivered.max_rss) as f64 / 1048576.0,
                    relay_held,
                    delivered.secs,
                    delivered.counts.show(),
                ));
            }
            Err(e) => {
                throughput_ok = false;
                let e = e.context(format!("daemon log tail:\n{}", daemon_tail(&daemon)));
                eprintln!("{e:?}");
                for (metric, target) in sijil_metrics(o)
                    .into_iter()
                    .filter(|(m, _)| !m.starts_with("latency"))
                {
                    report.error(metric, target, &e);
                }
            }
        }
    }
    if o.has(Phase::Latency) {
        if !throughput_ok {
            report.error(
                "latency APPEND → EMEL 1, p99",
                "< 1 s",
                &anyhow!("skipped: the throughput drain failed"),
            );
            return;
        }
        let floor = rt.block_on(idle_floor(&servers));
        match &floor {
            Ok(d) => report.row(
                "Dovecot IDLE notification delay (floor of any IDLE client)",
                format!("{:.0} ms (median of {IDLE_PROBES})", d * 1e3),
                "",
                Verdict::Info,
            ),
            Err(e) => report.error(
                "Dovecot IDLE notification delay (floor of any IDLE client)",
                "",
                e,
            ),
        }
        eprintln!(
            "latency: {} s of APPENDs at {}/s to the idle daemon",
            o.latency_seconds, o.rate
        );
        match rt.block_on(latency(&servers, pid, o.latency_seconds, o.rate)) {
            Ok(l) => {
                report.row(
                    "latency: packs APPENDed",
                    format!(
                        "{} at {:.1}/s (APPEND itself p50 {:.0} ms); EMEL 1 delivered for {}",
                        l.sent,
                        l.rate,
                        l.append_p50 * 1e3,
                        l.delivered
                    ),
                    "all delivered",
                    Verdict::of(l.delivered == l.sent),
                );
                report.row(
                    "latency APPEND → EMEL 1, p50",
                    format!("{:.0} ms", l.p50 * 1e3),
                    "",
                    Verdict::Info,
                );
                report.row(
                    "latency APPEND → EMEL 1, p99",
                    format!("{:.0} ms", l.p99 * 1e3),
                    "< 1 s",
                    Verdict::of(l.p99 < 1.0 && l.delivered == l.sent),
                );
                report.row(
                    "latency APPEND → EMEL 1, max",
                    format!("{:.0} ms", l.max * 1e3),
                    "",
                    Verdict::Info,
                );
                if let Ok(&d) = floor.as_ref()
                    && l.p50 < d
                {
                    report.notes.push(format!(
                        "Latency: the p50 ({:.0} ms) is below Dovecot's IDLE notification delay \
                         ({:.0} ms) because at this rate the daemon is seldom idle: it finds the \
                         next packs when it looks again after a batch, without waiting for IDLE. \
                         A pack that reaches an idle daemon pays the IDLE delay in full.",
                        l.p50 * 1e3,
                        d * 1e3
                    ));
                }
                if let Some(r) = sijil_rate.filter(|r| *r < f64::from(o.rate)) {
                    report.notes.push(format!(
                        "Latency: the offered {} packs/s is above sijil's measured throughput \
                         ({r:.1} msg/s), so the daemon falls behind and the latencies are mostly \
                         queueing time; they grow with --latency-seconds.",
                        o.rate
                    ));
                }
            }
            Err(e) => {
                let e = e.context(format!("daemon log tail:\n{}", daemon_tail(&daemon)));
                report.error("latency APPEND → EMEL 1, p99", "< 1 s", &e);
            }
        }
    }
    drop(daemon);
}

/// The verdict of a ratio whose reference was not measured: an error when its phase ran (and
/// failed), information when it was left out with `--only`.
fn missing(o: &Options, reference: Phase) -> Verdict {
    if o.has(reference) {
        Verdict::Error
    } else {
        Verdict::Info
    }
}

fn sijil_metrics(o: &Options) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if o.has(Phase::Sijil) {
        out.push(("sijil ÷ ceiling (msg/s)", "≥ 50 %"));
        out.push(("sijil ÷ getmail6 (msg/s)", "> 1.00 ×"));
    }
    if o.has(Phase::Latency) {
        out.push(("latency APPEND → EMEL 1, p99", "< 1 s"));
    }
    out
}

/// Peak RSS of a fresh daemon draining `rss_n` packs of 2 MB.
fn memory(o: &Options, rt: &tokio::runtime::Runtime, report: &mut Report) {
    const METRIC: &str = "peak RSS (VmHWM) draining the 2 MB backlog";
    const TARGET: &str = "< 128 MiB";
    let servers = MailServers::start();
    // Per pack: the message in the inbox (then Processed: a rename), the documents in sijil's
    // store, Dovecot's indexes and three small notifications.
    let message = RSS_PACK as f64 * 1.37 + 4096.0;
    let per_pack = (message + RSS_PACK as f64 + 16_384.0) * DISK_MARGIN;
    let mut n = o.rss_n;
    if let Some(free) = free_bytes(&servers.dir) {
        let usable = free.saturating_sub(DISK_RESERVE) as f64;
        let fits = (usable / per_pack) as usize;
        if fits < n {
            report.notes.push(format!(
                "Disk: {:.1} GB free where the mail lives; the memory backlog was cut from {} to {fits} packs (about {:.1} MB of disk each).",
                free as f64 / 1e9,
                n,
                per_pack / 1e6
            ));
            n = fits;
        }
    }
    if n == 0 {
        report.error(METRIC, TARGET, &anyhow!("no disk space for the backlog"));
        return;
    }
    eprintln!("memory: loading {n} packs of 2 MB into a fresh RA inbox");
    let specs: Vec<PackSpec> = (0..n as u64)
        .map(|i| PackSpec {
            base_user: "rss",
            index: i,
            attachments: RSS_PACK,
        })
        .collect();
    let loaded = match rt.block_on(load(&servers, specs, "memory backlog")) {
        Ok(l) => l,
        Err(e) => {
            report.error(METRIC, TARGET, &e);
            return;
        }
    };
    report.row(
        "memory backlog",
        format!(
            "{} packs × 2 MB, {:.1} GB as messages; APPEND load {:.1} msg/s",
            loaded.messages,
            loaded.bytes as f64 / 1e9,
            loaded.messages as f64 / loaded.secs.max(1e-9)
        ),
        "",
        Verdict::Info,
    );
    eprintln!("memory: starting the daemon on the backlog");
    settle_disk();
    let since = Instant::now();
    let daemon = match start_daemon(&servers) {
        Ok(d) => d,
        Err(e) => {
            report.error(METRIC, TARGET, &e);
            return;
        }
    };
    let Some(pid) = daemon.pid() else {
        return;
    };
    let expect = Expect {
        packs: n,
        answered: n,
        signee_base: "rss",
        until: Until::Delivered,
        held_before: 0,
    };
    match rt.block_on(drain(&servers, pid, since, &expect, "memory drain")) {
        Ok(d) => {
            let hwm = proc_status_bytes(pid, "VmHWM:").unwrap_or(d.max_rss);
            let mib = hwm as f64 / 1048576.0;
            report.row(
                METRIC,
                format!("{mib:.1} MiB ({n} packs)"),
                TARGET,
                Verdict::of(mib < 128.0),
            );
            let r = Rate {
                messages: n,
                bytes: loaded.bytes,
                secs: d.secs,
            };
            report.row(
                "sijil drain of the 2 MB backlog",
                r.show(),
                "",
                Verdict::Info,
            );
            report.notes.push(format!(
                "Memory drain: every pack filed after {:.1} s ({:.1} msg/s), last notification \
                 delivered after {:.1} s.",
                d.filed_secs,
                n as f64 / d.filed_secs.max(1e-9),
                d.secs
            ));
        }
        Err(e) => {
            let e = e.context(format!("daemon log tail:\n{}", daemon_tail(&daemon)));
            eprintln!("{e:?}");
            report.error(METRIC, TARGET, &e);
        }
    }
    drop(daemon);
}

/// Packs of the throughput set the `stages` phase runs through the core, and how many times.
const STAGE_PACKS: usize = 40;
const STAGE_ROUNDS: usize = 5;

/// sijil's pure core in this process, one thread, no server: for the throughput set's first
/// packs, the time each step takes per pack (parse, classify, decide, render the three emails).
/// Each round times every pack once; the median round counts. Nothing is stored, so every pack
/// is decided as new, as in the throughput phase.
fn stages(report: &mut Report) -> anyhow::Result<()> {
    let cfg = bench_config();
    let packs: Vec<Vec<u8>> = mixed_specs("signee", 0, STAGE_PACKS, 1)
        .iter()
        .map(PackSpec::build)
        .collect();
    let bytes: usize = packs.iter().map(Vec::len).sum();
    let classifier = sijil::core::classify::Classifier::new(&cfg);
    let renderer = sijil::edge::render::Renderer::new()?;
    let store = sijil::edge::store::Store::temporary()?;
    const STEPS: [&str; 4] = ["parse", "classify", "decide", "render"];
    let mut rounds: Vec<[f64; 4]> = Vec::new();
    for _ in 0..STAGE_ROUNDS {
        let mut spent = [Duration::ZERO; 4];
        for raw in &packs {
            let t0 = Instant::now();
            let msg = sijil::edge::inbound::parse(raw);
            let t1 = Instant::now();
            let class = classifier.classify(&msg, &cfg);
            let t2 = Instant::now();
            let now = chrono::Utc::now();
            let input = sijil::core::Input::Message {
                msg: &msg,
                class: &class,
            };
            let decision = sijil::core::handle(input, &store, &cfg, now)?;
            let t3 = Instant::now();
            let emails = renderer
                .render_all(
                    &decision.emails,
                    &cfg.outbound,
                    store.message_id_key(),
                    &msg.key,
                    now,
                    &[],
                )
                .map_err(|e| anyhow!(e))?;
            let t4 = Instant::now();
            if emails.len() != 3 {
                bail!(
                    "a pack decided to {} emails, not 3 ({})",
                    emails.len(),
                    decision.reason
                );
            }
            for (slot, d) in spent.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
                *slot += d;
            }
        }
        let per_pack = spent.map(|d| 1000.0 * d.as_secs_f64() / packs.len() as f64);
        rounds.push(per_pack);
    }
    rounds.sort_by(|a, b| a.iter().sum::<f64>().total_cmp(&b.iter().sum::<f64>()));
    let median = rounds[rounds.len() / 2];
    report.row(
        "core per pack, in process (median round)",
        format!(
            "{:.2} ms: {} ({} packs, avg {:.2} MB, {} rounds)",
            median.iter().sum::<f64>(),
            STEPS
                .iter()
                .zip(median)
                .map(|(step, ms)| format!("{step} {ms:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            packs.len(),
            bytes as f64 / 1e6 / packs.len() as f64,
            STAGE_ROUNDS
        ),
        "",
        Verdict::Info,
    );
    Ok(())
}

fn main() -> ExitCode {
    let o = match parse_options() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: nothing else runs yet (no runtime, no threads): no one can read the
        // environment concurrently. The daemon inherits it; `info` is what operators run.
        unsafe { std::env::set_var("RUST_LOG", "info") };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot build the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let machine = machine();
    eprintln!(
        "sijil pipeline bench: phases {:?}, n {}, rss-n {}, latency {} s at {}/s",
        o.phases.iter().map(|p| p.name()).collect::<Vec<_>>(),
        o.n,
        o.rss_n,
        o.latency_seconds,
        o.rate
    );
    let mut report = Report::default();
    // First, on a quiet machine: the later phases leave the kernel writing
    // gigabytes back for minutes after they end.
    if o.has(Phase::Stages) {
        eprintln!("stages: the core in this process, {STAGE_PACKS} packs × {STAGE_ROUNDS}");
        if let Err(e) = stages(&mut report) {
            report.error("core per pack, in process (median round)", "", &e);
        }
    }
    if [Phase::Ceiling, Phase::Getmail, Phase::Sijil, Phase::Latency]
        .iter()
        .any(|p| o.has(*p))
    {
        throughput_and_latency(&o, &rt, &mut report);
    }
    if o.has(Phase::Rss) {
        memory(&o, &rt, &mut report);
    }
    let mut web_report = Report::default();
    let web_started = Instant::now();
    if o.has(Phase::Web) {
        eprintln!("web: {} signees setting their PIN at once", web::SIGNEES);
        web::run(&rt, o.rate, &mut web_report);
    }
    let web_section = o
        .has(Phase::Web)
        .then(|| web_report::section(&web_report, &machine, web_started.elapsed()));
    let mut sign_report = Report::default();
    let sign_started = Instant::now();
    if o.has(Phase::Sign) {
        eprintln!("sign: {} signees signing at once", sign::SIGNEES);
        sign::run(&rt, &mut sign_report);
    }
    let sign_section = o
        .has(Phase::Sign)
        .then(|| sign_report::section(&sign_report, &machine, sign_started.elapsed()));

    let table = report.table();
    println!(
        "\n{}",
        machine
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("\n{table}");
    for n in &report.notes {
        println!("note: {n}");
    }
    if let Some(section) = &web_section {
        println!("{section}");
    }
    if let Some(section) = &sign_section {
        println!("{section}");
    }
    if o.write {
        let existing = fs::read_to_string(&o.out).unwrap_or_default();
        // The web and sign phases alone rewrite only their own sections.
        let own_sections_only = o
            .phases
            .iter()
            .all(|p| matches!(p, Phase::Web | Phase::Sign));
        let mut text = if own_sections_only {
            existing.clone()
        } else {
            markdown(&o, &report, &machine, started.elapsed())
        };
        match &web_section {
            Some(section) => text = web_report::splice(&text, section),
            None if !own_sections_only => {
                if let Some(kept) = web_report::section_of(&existing) {
                    text = format!("{}\n\n{kept}\n", text.trim_end());
                }
            }
            None => {}
        }
        match &sign_section {
            Some(section) => text = sign_report::splice(&text, section),
            None if !own_sections_only => {
                if let Some(kept) = sign_report::section_of(&existing) {
                    text = format!("{}\n\n{kept}\n", text.trim_end());
                }
            }
            None => {}
        }
        let written = o
            .out
            .parent()
            .map(fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|()| fs::File::create(&o.out))
            .and_then(|mut f| f.write_all(text.as_bytes()));
        match written {
            Ok(()) => eprintln!("wrote {}", o.out.display()),
            Err(e) => {
                eprintln!("cannot write {}: {e}", o.out.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if report.ok() && web_report.ok() && sign_report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
