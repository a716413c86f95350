//! The `web` phase: [`SIGNEES`] signees set their certificate PIN at once against the release
//! daemon while its mailbox takes a steady stream of packs.
//!
//! The cases reach `pin_pending` by the real flow: packs APPENDed, then for each the verifier's
//! `VERIFIED` in reply to its STAFF-VERIFY and the officer's `APPROVED` in reply to its
//! STAFF-GENERATE, both APPENDed to the RA inbox as threaded replies; the links are read from
//! the EMEL 2s Dovecot delivered. Twice [`SIGNEES`] cases: the first set GETs their pages (for
//! the form tokens) and POSTs their PINs at the same instant with the mailbox idle; then packs
//! (200 KB–2 MB) are APPENDed at `--rate` a second for [`STREAM_SECS`], and [`WARM_UP`] into
//! the stream the second set does the same.
//!
//! Measured: per signee, the time from sending the POST to the end of the confirmation page;
//! the daemon's peak RSS (`VmHWM`) once the stream is filed; and the packs per second the
//! mailbox files during the burst (and as long before and after it), from `/metrics` sampled
//! every [`SAMPLE`].
//!
//! Its section of `docs/benchmarks.md` is its own (`web_report.rs`).

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{
    Cpu, MailServers, PackSpec, Report, Verdict, load, maildir_files, mixed_specs, percentile,
    proc_cpu, proc_status_bytes, settle_disk, start_daemon,
};
use crate::support::{self, OFFICER, Pack, RA_ADDRESS, VERIFIER};

/// Signees setting their PIN at the same instant.
pub const SIGNEES: usize = 64;
/// How long packs are APPENDed at the steady rate, and for how long before the burst.
pub const STREAM_SECS: u64 = 10;
pub const WARM_UP: Duration = Duration::from_secs(3);
/// Hashes timed in the bench process before the burst.
const CALIBRATION: usize = 8;
/// The signees' set and index range (apart from every other phase's signees).
const BASE_USER: &str = "web";
const OFFSET: u64 = 80_000;
/// How often `/metrics` is read during the burst.
pub const SAMPLE: Duration = Duration::from_millis(50);
/// How long each step of the flow may take.
const STEP: Duration = Duration::from_secs(180);

const P99: &str = "PIN set, POST → confirmation page, p99";
const RSS: &str = "peak RSS (VmHWM) of the daemon, burst and stream";
const MAILBOX: &str = "mailbox meanwhile (packs/s)";

/// Runs the phase into `report` (its rows and notes are the section's), the mailbox offered
/// `rate` packs a second meanwhile.
pub fn run(rt: &tokio::runtime::Runtime, rate: u32, report: &mut Report) {
    if let Err(e) = phase(rt, rate, report) {
        eprintln!("web: {e:?}");
        report.error(P99, "< 1 s", &e);
    }
}

fn phase(rt: &tokio::runtime::Runtime, rate: u32, report: &mut Report) -> anyhow::Result<()> {
    let servers = MailServers::start();
    let daemon = start_daemon(&servers)?;
    let pid = daemon
        .pid()
        .ok_or_else(|| anyhow!("the daemon is not running"))?;
    let port = daemon.web_port;
    // Two sets of signees: one sets its PIN with the mailbox idle, the other during the stream.
    let specs: Vec<PackSpec> = (0..2 * SIGNEES as u64)
        .map(|i| PackSpec {
            base_user: BASE_USER,
            index: OFFSET + i,
            attachments: 200_000,
        })
        .collect();
    eprintln!(
        "web: {} packs, then VERIFIED and APPROVED for each, by email",
        2 * SIGNEES
    );
    let flow = Instant::now();
    rt.block_on(load(&servers, specs, "web packs"))?;
    let verify = wait_for(&servers, VERIFIER, "Panggilan pengesahan", 2 * SIGNEES)?;
    rt.block_on(reply_all(&servers, &verify, VERIFIER, "VERIFIED"))?;
    let generate = wait_for(&servers, OFFICER, "", 2 * SIGNEES)?;
    rt.block_on(reply_all(&servers, &generate, OFFICER, "APPROVED"))?;
    let signees = format!("{BASE_USER}@{}", super::SIGNEE_DOMAIN);
    let emel2 = wait_for(&servers, &signees, "Tetapkan PIN", 2 * SIGNEES)?;
    let mut links: Vec<String> = emel2
        .iter()
        .map(|raw| link_in(raw, &daemon.base_url))
        .collect::<anyhow::Result<_>>()?;
    let flow_secs = flow.elapsed().as_secs_f64();
    let idle_links = links.split_off(SIGNEES);

    eprintln!("web: {SIGNEES} signees set their PIN at once, the mailbox idle");
    settle_disk();
    let idle_forms = rt.block_on(open_all(port, &idle_links))?;
    let (cpu0, t0) = (proc_cpu(pid), Instant::now());
    let idle_times = rt.block_on(post_all(port, &idle_links, &idle_forms))?;
    let idle_wall = t0.elapsed();
    let idle_share = share(cpu0, proc_cpu(pid), idle_wall);
    // The daemon's CPU per PIN set (page, hash, commit, STAFF-QC), whatever else the machine
    // runs: what the burst costs on cores of its own.
    let cpu_per_pin = idle_share * idle_wall.as_secs_f64() * 1000.0 / SIGNEES as f64;
    let mut idle_ms: Vec<f64> = idle_times
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    idle_ms.sort_by(f64::total_cmp);

    let stream_n = rate as usize * STREAM_SECS as usize;
    eprintln!("web: {stream_n} packs to stream at {rate}/s while the signees set their PIN");
    let stream = rt.block_on(generate_packs(mixed_specs(
        "webload",
        OFFSET + 1_000,
        stream_n,
        7,
    )))?;
    settle_disk();
    // What one hash costs on this machine right now, in this process: the burst cannot beat
    // SIGNEES / slots of these, whatever else runs.
    let one_hash = {
        let t = Instant::now();
        for _ in 0..CALIBRATION {
            sijil::web::hashing::argon2id(b"284917").map_err(|e| anyhow!(e))?;
        }
        t.elapsed().as_secs_f64() * 1000.0 / CALIBRATION as f64
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    let filed_before = processed(port).ok_or_else(|| anyhow!("no /metrics"))?;
    let sampler = Sampler::start(port);
    let appending = rt.spawn(append_steadily(
        servers.imap_port,
        servers.password.clone(),
        stream,
        rate,
    ));
    // The mailbox in its stride first; then every signee opens their page and all post at once.
    std::thread::sleep(WARM_UP);
    let forms = rt.block_on(open_all(port, &links))?;
    let (cpu0, burst_start) = (proc_cpu(pid), Instant::now());
    let times = rt.block_on(post_all(port, &links, &forms))?;
    let burst = burst_start.elapsed();
    let burst_share = share(cpu0, proc_cpu(pid), burst);
    rt.block_on(appending)??;
    let deadline = Instant::now() + STEP;
    while sampler.processed() < filed_before + stream_n as u64 && Instant::now() < deadline {
        std::thread::sleep(SAMPLE);
    }
    let samples = sampler.stop();
    let hwm = proc_status_bytes(pid, "VmHWM:").unwrap_or(0) as f64 / 1048576.0;
    let qc = wait_for(&servers, support::QC, "Semakan kualiti", 2 * SIGNEES)?;
    drop(daemon);

    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        ms[ms.len() - 1],
    );
    let filed =
        |from: Duration, to: Duration| at(&samples, to).saturating_sub(at(&samples, from)) as f64;
    let start = burst_start.duration_since(samples.start);
    let end = start + burst;
    // A window of at least a second on each side: the worker files in batches.
    let window = burst.max(Duration::from_secs(1));
    let per_s = |from: Duration, to: Duration| filed(from, to) / (to - from).as_secs_f64();
    let during = per_s(start, end);
    let before = per_s(start.saturating_sub(window), start);
    let after = per_s(end, end + window);
    let drained = samples
        .points
        .iter()
        .find(|(_, n)| *n >= filed_before + stream_n as u64)
        .map(|(t, _)| t.as_secs_f64());

    report.row(
        "web: the flow to pin_pending",
        format!(
            "{} packs, {} VERIFIED and {} APPROVED replies by email, {} EMEL 2 links, in {flow_secs:.1} s",
            2 * SIGNEES,
            verify.len(),
            generate.len(),
            emel2.len()
        ),
        "",
        Verdict::Info,
    );
    report.row(
        "PIN set with the mailbox idle, p50 / p99",
        format!(
            "{:.0} ms / {:.0} ms ({SIGNEES} signees at once; the daemon had {idle_share:.2} \
             of the 2 cores)",
            percentile(&idle_ms, 50.0),
            percentile(&idle_ms, 99.0)
        ),
        "",
        Verdict::Info,
    );
    report.row(
        "daemon CPU per PIN set (POST: rules, hash, commit, STAFF-QC)",
        format!(
            "{cpu_per_pin:.1} ms: {SIGNEES} at once need {:.0} ms of two free cores",
            cpu_per_pin * SIGNEES as f64 / 2.0
        ),
        "",
        Verdict::Info,
    );
    report.row(
        "PIN set, POST → confirmation page, p50",
        format!(
            "{p50:.0} ms ({SIGNEES} signees at once, the mailbox busy; max {max:.0} ms; the \
             daemon had {burst_share:.2} of the 2 cores)"
        ),
        "",
        Verdict::Info,
    );
    report.row(
        P99,
        format!("{p99:.0} ms"),
        "< 1 s",
        Verdict::of(p99 < 1000.0),
    );
    report.row(
        RSS,
        format!("{hwm:.1} MiB"),
        "< 256 MiB",
        Verdict::of(hwm < 256.0),
    );
    report.row(
        MAILBOX,
        format!(
            "{during:.1} packs/s filed during the burst ({:.1} s); {before:.1} before, {after:.1} \
             after; {rate}/s offered",
            burst.as_secs_f64()
        ),
        "not stalled (≥ half the offered rate)",
        Verdict::of(during >= rate as f64 / 2.0),
    );
    report.notes.push(format!(
        "Web burst: the {SIGNEES} POSTs, released together, took {:.2} s to the last \
         confirmation; {} STAFF-QC emails (both sets) reached the QC officer. The mailbox was offered \
         {stream_n} packs at {rate}/s from {:.1} s before the burst; every one was filed {}.",
        burst.as_secs_f64(),
        qc.len(),
        start.as_secs_f64(),
        drained.map_or(
            "(not all within the time allowed)".to_string(),
            |t| format!(
                "{:.1} s after the stream began (the stream itself lasts {STREAM_SECS} s)",
                t
            )
        ),
    ));
    let slots = sijil::web::hashing::slots();
    report.notes.push(format!(
        "Web: PINs are hashed {slots} at a time (one per core, `web::hashing::slots`); Argon2id \
         m = 19 MiB, t = 2, p = 1 took {one_hash:.1} ms a hash in the bench process just before \
         the burst (load average {load} then), so {SIGNEES} PINs need at least {:.0} ms of two \
         cores' time, before the mailbox's share and anything else the machine runs. The daemon \
         logs each PIN set with its hash (queueing included), commit and durable times \
         (`pin page: PIN set`).",
        one_hash * SIGNEES as f64 / slots as f64
    ));
    Ok(())
}

/// How many cores' worth of CPU the daemon used over `wall`.
pub fn share(before: Option<Cpu>, after: Option<Cpu>, wall: Duration) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) => a.since(b).total() / wall.as_secs_f64().max(1e-9),
        _ => f64::NAN,
    }
}

/// The packs of `specs`, built on the blocking pool before the clock starts.
async fn generate_packs(specs: Vec<PackSpec>) -> anyhow::Result<Vec<Vec<u8>>> {
    let built = specs
        .into_iter()
        .map(|spec| tokio::task::spawn_blocking(move || spec.build()));
    Ok(futures::future::try_join_all(built).await?)
}

/// APPENDs `packs` to the RA inbox at a steady `rate` per second, over two IMAP sessions.
async fn append_steadily(
    imap_port: u16,
    password: String,
    packs: Vec<Vec<u8>>,
    rate: u32,
) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    let packs = std::sync::Arc::new(packs);
    let mut tasks = Vec::new();
    for lane in 0..2usize {
        let packs = packs.clone();
        let password = password.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", imap_port)).await?;
            let mut client = async_imap::Client::new(stream);
            client.read_response().await?;
            let mut session = client
                .login(RA_ADDRESS, &password)
                .await
                .map_err(|(e, _)| anyhow!("login: {e}"))?;
            for i in (lane..packs.len()).step_by(2) {
                let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until(due).await;
                session.append("INBOX", None, None, &packs[i]).await?;
            }
            let _ = session.logout().await;
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// The raw messages in `user`'s Maildir whose subject contains `words`, once there are `n`.
pub fn wait_for(
    servers: &MailServers,
    user: &str,
    words: &str,
    n: usize,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let dir = servers.maildir(user);
    let deadline = Instant::now() + STEP;
    loop {
        let found: Vec<Vec<u8>> = maildir_files(&dir)
            .iter()
            .filter_map(|f| std::fs::read(f).ok())
            .filter(|raw| support::subject(raw).contains(words))
            .collect();
        if found.len() >= n {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("{} of {n} emails to {user} about {words:?}", found.len());
        }
        std::thread::sleep(super::POLL);
    }
}

/// APPENDs to the RA inbox, for each of `parents`, a reply from `from` whose first line is
/// `line`, threaded to it as a mail client does.
pub async fn reply_all(
    servers: &MailServers,
    parents: &[Vec<u8>],
    from: &str,
    line: &str,
) -> anyhow::Result<()> {
    let mut session = servers.try_imap(RA_ADDRESS).await?;
    for parent in parents {
        let id = support::parse(parent)
            .header_raw("Message-ID")
            .unwrap_or_default()
            .trim()
            .to_string();
        let reply = Pack::reply(&support::subject(parent), &id, line).from(from);
        session
            .append("INBOX", None, None, &reply.build())
            .await
            .context("APPEND of a staff reply")?;
    }
    let _ = session.logout().await;
    Ok(())
}

fn link_in(emel2: &[u8], base_url: &str) -> anyhow::Result<String> {
    let text = support::parse(emel2)
        .body_text(0)
        .unwrap_or_default()
        .to_string();
    text.split_whitespace()
        .find(|w| w.starts_with(&format!("{base_url}/pin/")))
        .map(|l| l.trim_start_matches(base_url).to_string())
        .ok_or_else(|| anyhow!("an EMEL 2 without a link"))
}

/// One HTTP/1.1 exchange on a new connection: the status and the body.
pub async fn http(port: u16, request: String) -> anyhow::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, answer))
}

/// Every signee opens their page; the form token of each.
async fn open_all(port: u16, links: &[String]) -> anyhow::Result<Vec<String>> {
    let gets = links.iter().map(|path| {
        http(
            port,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        )
    });
    let pages = futures::future::try_join_all(gets).await?;
    pages
        .into_iter()
        .map(|(status, page)| {
            let token = page
                .split_once("name=\"form_token\" value=\"")
                .and_then(|(_, rest)| rest.split('"').next())
                .filter(|_| status == 200);
            token
                .map(str::to_string)
                .ok_or_else(|| anyhow!("the PIN page answered {status}"))
        })
        .collect()
}

/// Every signee posts a good PIN at the same instant; the time each took to the confirmation.
async fn post_all(port: u16, links: &[String], forms: &[String]) -> anyhow::Result<Vec<Duration>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(links.len()));
    let tasks: Vec<_> = links
        .iter()
        .zip(forms)
        .enumerate()
        .map(|(i, (path, form))| {
            // A different acceptable PIN for each signee (never a run, never one digit).
            let pin = format!("{:06}", 284_917 + 7 * i);
            let body = format!("pin={pin}&pin2={pin}&form_token={form}");
            let request = format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let sent = Instant::now();
                let (status, page) = http(port, request).await?;
                if status != 200 || !page.contains("telah ditetapkan") {
                    bail!("a POST answered {status}");
                }
                Ok(sent.elapsed())
            })
        })
        .collect();
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await??);
    }
    Ok(times)
}

/// Reads the daemon's count of filed messages from `/metrics` every [`SAMPLE`] on a thread of
/// its own.
struct Sampler {
    start: Instant,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(Duration, u64)>>>,
    thread: std::thread::JoinHandle<()>,
}

struct Samples {
    start: Instant,
    points: Vec<(Duration, u64)>,
}

impl Sampler {
    fn start(port: u16) -> Sampler {
        let start = Instant::now();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(n) = processed(port) {
                    v.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((start.elapsed(), n));
                }
                std::thread::sleep(SAMPLE);
            }
        });
        Sampler {
            start,
            stop,
            seen,
            thread,
        }
    }

    fn processed(&self) -> u64 {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.last().map_or(0, |(_, n)| *n)
    }

    fn stop(self) -> Samples {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
        let points = std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()));
        Samples {
            start: self.start,
            points,
        }
    }
}

/// Packs filed at `t` after the sampler started (the last sample at or before it).
fn at(samples: &Samples, t: Duration) -> u64 {
    samples
        .points
        .iter()
        .take_while(|(when, _)| *when <= t)
        .last()
        .map_or(0, |(_, n)| *n)
}

/// The daemon's `sijil_messages_total{folder="processed"}`.
fn processed(port: u16) -> Option<u64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.lines()
        .find_map(|l| l.strip_prefix("sijil_messages_total{folder=\"processed\"} "))
        .and_then(|n| n.trim().parse().ok())
}
