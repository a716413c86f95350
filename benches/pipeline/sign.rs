//! The `sign` phase: [`SIGNEES`] signees open their signing page and sign at once against the
//! release daemon, each asking for a code and then posting it (SPEC §7).
//!
//! The eSPAs reach "signee's turn" by the real flow: [`SIGNEES`] registrations, each of one
//! `idsaya` signee with their own address and eSPA reference, APPENDed to the RA inbox from the
//! registered developer; for each acknowledgement (`eSPA registered`) the developer's threaded
//! reply `EKYC-OK 1`; the links are read from the EMEL 4s Dovecot delivered. Then every signee
//! GETs their page (for the form token); [`SIGNEES`] tasks released by one barrier POST
//! `/sign/{token}/code`; once every CODE email is delivered, [`SIGNEES`] tasks released by
//! another barrier POST the signature with their code.
//!
//! Measured: per signee, the time from sending each POST to the end of its page; the daemon's
//! peak RSS (`VmHWM`) after the signatures; and what came of them: pages that say signed,
//! SIGNED to each signee, COMPLETED to each signee and to the developer (each eSPA has one
//! signee, so its signature completes it).
//!
//! Its section of `docs/benchmarks.md` is its own (`sign_report.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

use super::web::{http, reply_all, share, wait_for};
use super::{MailServers, Report, Verdict, percentile, proc_cpu, proc_status_bytes, settle_disk};
use crate::support::{self, DEVELOPER, Pack, RA_ADDRESS};

/// Signees signing at the same instant (one eSPA each).
pub const SIGNEES: usize = 64;
/// The signees' base user: `sign+NN@buyer.example.com`, all in one Dovecot mailbox.
const BASE_USER: &str = "sign";
/// eSPA references `HDA-2026-7000NN` (apart from every other phase's).
const REF_BASE: u64 = 700_000;
/// After the last expected email, how long more mail is waited for (so "exactly" holds).
const QUIET: Duration = Duration::from_secs(3);

const CODE_P99: &str = "code request, POST → page, p99";
const SIGN_P99: &str = "signature, POST → signed page, p99";
const RSS: &str = "peak RSS (VmHWM) of the daemon, after the signatures";
const COUNTS: &str = "signatures and their emails";

/// Runs the phase into `report` (its rows and notes are the section's).
pub fn run(rt: &tokio::runtime::Runtime, report: &mut Report) {
    if let Err(e) = phase(rt, report) {
        eprintln!("sign: {e:?}");
        report.error(SIGN_P99, "< 1 s", &e);
    }
}

fn reference(i: usize) -> String {
    format!("HDA-2026-{:06}", REF_BASE + i as u64)
}

fn signee(i: usize) -> String {
    format!("{BASE_USER}+{i:02}@{}", super::SIGNEE_DOMAIN)
}

/// The registration of eSPA `i`: one `idsaya` signee, the eSPA's own PDF.
fn registration(i: usize) -> Pack {
    let reference = reference(i);
    let name = format!("Pembeli {i:02} bin Abdullah");
    Pack::new(&format!("Daftar eSPA {reference}"))
        .field("Rujukan eSPA / eSPA Reference", &reference)
        .field(
            "Projek / Project",
            &format!("Taman Seri Indah Fasa 3, Lot {i}"),
        )
        .field("Penandatangan / Signees", "")
        .line(&format!("1. Pembeli | {name} | {} | idsaya", signee(i)))
        .attachment(
            &format!("eSPA {reference}.pdf"),
            support::packs::pdf(&format!("Perjanjian Jual Beli {reference}")),
            "application/pdf",
        )
}

fn text(raw: &[u8]) -> String {
    support::parse(raw)
        .body_text(0)
        .unwrap_or_default()
        .to_string()
}

/// Each message's first recipient, lower-cased, mapped to what `pick` finds in its text.
fn by_recipient(
    messages: &[Vec<u8>],
    pick: impl Fn(&str) -> Option<String>,
    what: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for m in messages {
        let to = support::first_to(m).to_lowercase();
        let found = pick(&text(m)).ok_or_else(|| anyhow!("{what} to {to} without its value"))?;
        if out.insert(to.clone(), found).is_some() {
            bail!("two {what} emails to {to}");
        }
    }
    Ok(out)
}

fn phase(rt: &tokio::runtime::Runtime, report: &mut Report) -> anyhow::Result<()> {
    let servers = MailServers::start();
    let daemon = super::start_daemon(&servers)?;
    let pid = daemon
        .pid()
        .ok_or_else(|| anyhow!("the daemon is not running"))?;
    let port = daemon.web_port;
    let signees_box = format!("{BASE_USER}@{}", super::SIGNEE_DOMAIN);
    let result = measure(
        rt,
        &servers,
        &daemon.base_url,
        port,
        pid,
        &signees_box,
        report,
    );
    let log = std::fs::read_to_string(daemon.log_path()).unwrap_or_default();
    drop(daemon);
    let troubles: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .collect();
    if troubles.is_empty() {
        report
            .notes
            .push("Sign: the daemon's log has no WARN or ERROR line.".into());
    } else {
        eprintln!(
            "sign: {} WARN/ERROR lines in the daemon's log:",
            troubles.len()
        );
        for l in troubles.iter().take(20) {
            eprintln!("  {l}");
        }
        report.notes.push(format!(
            "Sign: the daemon's log has {} WARN or ERROR lines; the first: `{}`.",
            troubles.len(),
            troubles[0].chars().take(300).collect::<String>()
        ));
    }
    result
}

fn measure(
    rt: &tokio::runtime::Runtime,
    servers: &MailServers,
    base_url: &str,
    port: u16,
    pid: u32,
    signees_box: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("sign: {SIGNEES} eSPA registrations, then EKYC-OK for each, by email");
    let flow = Instant::now();
    rt.block_on(async {
        let mut session = servers.try_imap(RA_ADDRESS).await?;
        for i in 0..SIGNEES {
            session
                .append("INBOX", None, None, &registration(i).build())
                .await
                .context("APPEND of a registration")?;
        }
        let _ = session.logout().await;
        Ok::<_, anyhow::Error>(())
    })?;
    let acks = wait_for(servers, DEVELOPER, "eSPA registered", SIGNEES)?;
    rt.block_on(reply_all(servers, &acks, DEVELOPER, "EKYC-OK 1"))?;
    let emel4 = wait_for(servers, signees_box, "EMEL 4", SIGNEES)?;
    let link_re = regex::Regex::new(r"/sign/[A-Za-z0-9_-]{43}")?;
    let links = by_recipient(
        &emel4,
        |t| {
            link_re
                .find(t)
                .filter(|_| t.contains(base_url))
                .map(|m| m.as_str().to_string())
        },
        "EMEL 4",
    )?;
    let flow_secs = flow.elapsed().as_secs_f64();
    let expected: BTreeSet<String> = (0..SIGNEES).map(signee).collect();
    let got: BTreeSet<String> = links.keys().cloned().collect();
    if got != expected {
        bail!(
            "EMEL 4 went to {} addresses, {} of them not signees",
            got.len(),
            got.difference(&expected).count()
        );
    }
    let (who, paths): (Vec<String>, Vec<String>) = links.into_iter().unzip();

    eprintln!("sign: {SIGNEES} signees open their page and ask for a code at once");
    settle_disk();
    let forms = rt.block_on(open_all(port, &paths))?;
    let code_requests: Vec<(String, String)> = paths
        .iter()
        .zip(&forms)
        .map(|(path, form)| (format!("{path}/code"), format!("form_token={form}")))
        .collect();
    let (cpu0, t0) = (proc_cpu(pid), Instant::now());
    let code_times = rt.block_on(post_all(port, code_requests, "telah dihantar"))?;
    let code_wall = t0.elapsed();
    let code_share = share(cpu0, proc_cpu(pid), code_wall);
    let code_mails = wait_for(servers, signees_box, "Verification code", SIGNEES)?;
    let code_delivered = t0.elapsed();
    let code_re = regex::Regex::new(r"(?m)^\s*(\d{6})\s*$")?;
    let codes = by_recipient(
        &code_mails,
        |t| code_re.captures(t).map(|c| c[1].to_string()),
        "CODE",
    )?;

    eprintln!("sign: {SIGNEES} signees sign at once");
    let sign_requests: Vec<(String, String)> = paths
        .iter()
        .zip(&forms)
        .zip(&who)
        .map(|((path, form), to)| {
            let code = codes
                .get(to)
                .ok_or_else(|| anyhow!("no CODE email to {to}"))?;
            Ok((path.clone(), format!("form_token={form}&code={code}")))
        })
        .collect::<anyhow::Result<_>>()?;
    settle_disk();
    let (cpu0, t1) = (proc_cpu(pid), Instant::now());
    let sign_outcomes = rt.block_on(post_all_counted(port, sign_requests, "id=\"signed\""))?;
    let sign_wall = t1.elapsed();
    let sign_share = share(cpu0, proc_cpu(pid), sign_wall);
    let hwm = proc_status_bytes(pid, "VmHWM:").unwrap_or(0) as f64 / 1048576.0;
    let signed_pages = sign_outcomes.iter().filter(|(_, ok)| *ok).count();
    let sign_times: Vec<Duration> = sign_outcomes.iter().map(|(d, _)| *d).collect();

    // What the signatures sent: wait for the expected number, then a little more for extras.
    let signed = wait_for(servers, signees_box, "Your signature is recorded", SIGNEES);
    let completed = wait_for(servers, signees_box, "eSPA fully signed", SIGNEES);
    let completed_dev = wait_for(servers, DEVELOPER, "eSPA fully signed", SIGNEES);
    let emails_done = t1.elapsed();
    std::thread::sleep(QUIET);
    let count = |user: &str, words: &str| -> (usize, usize) {
        let all = wait_for(servers, user, words, 0).unwrap_or_default();
        let distinct: BTreeSet<String> = all
            .iter()
            .map(|m| support::first_to(m).to_lowercase())
            .collect();
        (all.len(), distinct.len())
    };
    let (signed_n, signed_to) = count(signees_box, "Your signature is recorded");
    let (completed_n, completed_to) = count(signees_box, "eSPA fully signed");
    let (completed_dev_n, _) = count(DEVELOPER, "eSPA fully signed");
    let (codes_n, _) = count(signees_box, "Verification code");
    let (emel4_n, _) = count(signees_box, "EMEL 4");
    for (what, r) in [
        ("SIGNED", &signed),
        ("COMPLETED to signees", &completed),
        ("COMPLETED to the developer", &completed_dev),
    ] {
        if let Err(e) = r {
            eprintln!("sign: {what}: {e:#}");
        }
    }

    let ms = |times: &[Duration]| {
        let mut v: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let code_ms = ms(&code_times);
    let sign_ms = ms(&sign_times);
    let (c50, c99, cmax) = (
        percentile(&code_ms, 50.0),
        percentile(&code_ms, 99.0),
        code_ms[code_ms.len() - 1],
    );
    let (s50, s99, smax) = (
        percentile(&sign_ms, 50.0),
        percentile(&sign_ms, 99.0),
        sign_ms[sign_ms.len() - 1],
    );

    report.row(
        "sign: the flow to the signees' turn",
        format!(
            "{SIGNEES} registrations, {} acknowledgements, {SIGNEES} EKYC-OK replies by email, \
             {} EMEL 4 links, in {flow_secs:.1} s",
            acks.len(),
            emel4.len()
        ),
        "",
        Verdict::Info,
    );
    report.row(
        "code request, POST → page, p50",
        format!(
            "{c50:.0} ms ({SIGNEES} signees at once; max {cmax:.0} ms; the daemon had \
             {code_share:.2} of the 2 cores)"
        ),
        "",
        Verdict::Info,
    );
    report.row(
        CODE_P99,
        format!("{c99:.0} ms"),
        "< 1 s",
        Verdict::of(c99 < 1000.0),
    );
    report.row(
        "signature, POST → signed page, p50",
        format!(
            "{s50:.0} ms ({SIGNEES} signees at once; max {smax:.0} ms; the daemon had \
             {sign_share:.2} of the 2 cores)"
        ),
        "",
        Verdict::Info,
    );
    report.row(
        SIGN_P99,
        format!("{s99:.0} ms"),
        "< 1 s",
        Verdict::of(s99 < 1000.0 && signed_pages == SIGNEES),
    );
    report.row(
        RSS,
        format!("{hwm:.1} MiB"),
        "< 256 MiB",
        Verdict::of(hwm < 256.0),
    );
    let exact = signed_pages == SIGNEES
        && signed_n == SIGNEES
        && signed_to == SIGNEES
        && completed_n == SIGNEES
        && completed_to == SIGNEES
        && completed_dev_n == SIGNEES
        && codes_n == SIGNEES
        && emel4_n == SIGNEES;
    report.row(
        COUNTS,
        format!(
            "{signed_pages} signed pages; {codes_n} CODE, {signed_n} SIGNED ({signed_to} \
             signees), {completed_n} COMPLETED to {completed_to} signees, {completed_dev_n} \
             COMPLETED to the developer"
        ),
        &format!("exactly {SIGNEES} of each"),
        Verdict::of(exact),
    );
    report.notes.push(format!(
        "Sign burst: the {SIGNEES} code requests, released together, took {:.2} s to the last \
         page, and every CODE email was in the signees' mailbox {:.2} s after the release. The \
         {SIGNEES} signatures took {:.2} s to the last signed page; every SIGNED and COMPLETED \
         email had been delivered {:.2} s after their release ({} s more were waited for \
         extras).",
        code_wall.as_secs_f64(),
        code_delivered.as_secs_f64(),
        sign_wall.as_secs_f64(),
        emails_done.as_secs_f64(),
        QUIET.as_secs()
    ));
    Ok(())
}

/// Every signee opens their page; the form token of each.
async fn open_all(port: u16, paths: &[String]) -> anyhow::Result<Vec<String>> {
    let gets = paths.iter().map(|path| {
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
                .ok_or_else(|| anyhow!("the signing page answered {status}"))
        })
        .collect()
}

fn form_post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Each `(path, body)` POSTed at the same instant; per request, the time to the end of its page
/// and whether the page answered 200 with `expect` in it.
async fn post_all_counted(
    port: u16,
    requests: Vec<(String, String)>,
    expect: &'static str,
) -> anyhow::Result<Vec<(Duration, bool)>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(path, body)| {
            let request = form_post(&path, &body);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let sent = Instant::now();
                let (status, page) = http(port, request).await?;
                let took = sent.elapsed();
                let ok = status == 200 && page.contains(expect);
                if !ok {
                    let snippet: String = page
                        .split("\r\n\r\n")
                        .nth(1)
                        .unwrap_or("")
                        .chars()
                        .take(400)
                        .collect();
                    eprintln!("sign: a POST answered {status} without {expect:?}: {snippet}");
                }
                Ok::<_, anyhow::Error>((took, ok))
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

/// Like [`post_all_counted`], every page required to be right.
async fn post_all(
    port: u16,
    requests: Vec<(String, String)>,
    expect: &'static str,
) -> anyhow::Result<Vec<Duration>> {
    let n = requests.len();
    let outcomes = post_all_counted(port, requests, expect).await?;
    let bad = outcomes.iter().filter(|(_, ok)| !ok).count();
    if bad > 0 {
        bail!("{bad} of {n} POSTs did not answer 200 with {expect:?}");
    }
    Ok(outcomes.into_iter().map(|(d, _)| d).collect())
}
