//! The set-PIN page in a real headless Chromium (SPEC §7), on a case brought to `pin_pending`
//! by the real flow: a pack, then the verifier's `VERIFIED` in reply to STAFF-VERIFY and the
//! officer's `APPROVED` in reply to STAFF-GENERATE. The link is the one in the EMEL 2 the
//! daemon delivered to its Maildir outbox.
//!
//! Needs Debian's `chromium` (`scripts/test` and `.ci/run` install it). With
//! `SIJIL_SCREENSHOTS=DIR` each page the signee sees is saved there as a PNG.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::json;
use support::browser::{Browser, Tab};
use support::{Daemon, OFFICER, Pack, QC, SIGNEE, TestDir, VERIFIER, first_to, parse, subject};

const WAIT: Duration = Duration::from_secs(30);
/// A weak PIN (a straight run) and a good one; neither may ever be logged or shown back.
const WEAK_PIN: &str = "456789";
const GOOD_PIN: &str = "284917";

fn header(raw: &[u8], name: &str) -> String {
    parse(raw)
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Waits for the email in the outbox to `to` whose subject contains `words`, and returns it.
fn delivered(sijil: &mut Daemon, to: &str, words: &str) -> Vec<u8> {
    let outbox = sijil.path("outbox");
    let find = || {
        support::maildir_messages(&outbox)
            .into_iter()
            .find(|m| first_to(m) == to && subject(m).contains(words))
    };
    sijil.until(&format!("an email to {to} about {words:?}"), WAIT, |_| {
        find().is_some()
    });
    find().expect("found a moment ago")
}

/// A staff member's threaded reply to `parent` whose first line is `line`, delivered.
fn reply(sijil: &Daemon, parent: &[u8], from: &str, line: &str, name: &str) {
    let pack = Pack::reply(&subject(parent), &header(parent, "Message-ID"), line).from(from);
    sijil.deliver("mail", name, &pack.build());
}

/// The set-PIN link in an EMEL 2 (its text part, decoded).
fn link_in(emel2: &[u8], base_url: &str) -> String {
    let text = parse(emel2).body_text(0).unwrap_or_default().to_string();
    text.split_whitespace()
        .find(|w| w.starts_with(&format!("{base_url}/pin/")))
        .unwrap_or_else(|| panic!("no link in EMEL 2:\n{text}"))
        .to_string()
}

/// A case brought to `pin_pending` by the real flow; its reference and EMEL 2's link.
fn pin_pending(sijil: &mut Daemon) -> (String, String) {
    sijil.deliver("mail", "pack.eml", &Pack::mykad_valid().build());
    let verify = delivered(sijil, VERIFIER, "Panggilan pengesahan");
    let reference = regex::Regex::new(r"\[(SJL-\d{4}-\d{6})\]")
        .expect("regex")
        .captures(&subject(&verify))
        .map(|c| c[1].to_string())
        .expect("a case reference in STAFF-VERIFY's subject");
    reply(sijil, &verify, VERIFIER, "VERIFIED", "verified.eml");
    let generate = delivered(sijil, OFFICER, &reference);
    reply(sijil, &generate, OFFICER, "APPROVED", "approved.eml");
    let emel2 = delivered(sijil, SIGNEE, "Tetapkan PIN");
    (reference.clone(), link_in(&emel2, &sijil.base_url))
}

fn shot(tab: &mut Tab<'_>, name: &str) {
    if let Some(dir) = std::env::var_os("SIJIL_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("create the screenshot directory");
        tab.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")));
    }
}

/// The case's state as `sijil case --json` shows it (the daemon stopped).
fn state_of(sijil: &mut Daemon, reference: &str) -> String {
    if sijil.is_running() {
        assert!(sijil.stop().success());
    }
    let out = sijil.command(&["case", reference, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("case --json");
    json["state"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_signee_sets_the_pin_on_a_phone_sized_page_and_the_link_is_then_gone() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let (reference, link) = pin_pending(&mut sijil);
    let token = link.rsplit('/').next().unwrap_or_default().to_string();

    let mut browser = Browser::start(dir.path());
    let mut tab = browser.tab(360, 740);
    tab.goto(&link);
    shot(&mut tab, "1-form");
    assert_eq!(tab.status, Some(200));
    let text = tab.text();
    assert!(text.contains("Tetapkan PIN sijil anda"), "{text}");
    assert!(text.contains("Ali") && text.contains(&reference), "{text}");
    for private in ["Abu", SIGNEE, "900101", "5673"] {
        assert!(!text.contains(private), "{private} shown: {text}");
    }
    // Readable on a 360 px phone: nothing wider than the screen, and the style sheet applied
    // (the CSP allows it by its hash; a wrong hash leaves the button unstyled).
    assert_eq!(
        tab.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        json!(true)
    );
    assert_eq!(
        tab.eval("getComputedStyle(document.querySelector('button')).backgroundColor"),
        json!("rgb(200, 16, 46)")
    );
    let form_token = tab.eval("document.querySelector('input[name=form_token]').value");
    let form_token = form_token.as_str().unwrap_or_default().to_string();

    tab.type_into("#pin", WEAK_PIN);
    tab.type_into("#pin2", WEAK_PIN);
    tab.click("button[type=submit]");
    shot(&mut tab, "2-weak");
    assert_eq!(tab.status, Some(422));
    let text = tab.text();
    assert!(text.contains("PIN_RUN"), "{text}");
    let (ms, en) = (
        text.find("urutan digit menaik atau menurun, seperti 123456"),
        text.find("straight run of digits up or down, such as 123456"),
    );
    assert!(
        ms.is_some() && en.is_some() && ms < en,
        "Malay, then English: {text}"
    );
    assert!(
        !tab.html().contains(WEAK_PIN),
        "the PIN is never shown back"
    );
    assert_eq!(tab.eval("document.querySelector('#pin').value"), json!(""));
    assert_eq!(tab.eval("document.querySelector('#pin2').value"), json!(""));

    tab.type_into("#pin", GOOD_PIN);
    tab.type_into("#pin2", GOOD_PIN);
    tab.click("button[type=submit]");
    shot(&mut tab, "3-done");
    assert_eq!(tab.status, Some(200));
    let text = tab.text();
    assert!(
        text.contains("PIN sijil anda telah ditetapkan")
            && text.contains("Your certificate PIN is set"),
        "{text}"
    );
    let qc = delivered(&mut sijil, QC, &reference);
    assert!(subject(&qc).contains("Semakan kualiti"), "{}", subject(&qc));

    tab.goto(&link);
    shot(&mut tab, "4-used");
    assert_eq!(tab.status, Some(410));
    let text = tab.text();
    assert!(
        text.contains("Pautan ini telah digunakan") && text.contains("already been used"),
        "{text}"
    );
    drop(browser);

    assert_eq!(state_of(&mut sijil, &reference), "pin_set");
    let log = sijil.log();
    for secret in [token.as_str(), form_token.as_str(), WEAK_PIN, GOOD_PIN] {
        assert!(
            !secret.is_empty() && !log.contains(secret),
            "a secret in the log"
        );
    }
}

/// A raw HTTP/1.1 request to the daemon; the status code and the body.
fn http(sijil: &Daemon, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sijil.web_port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn a_cross_site_post_is_refused_and_changes_nothing() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let (reference, link) = pin_pending(&mut sijil);
    let mut browser = Browser::start(dir.path());
    let mut tab = browser.tab(360, 740);
    tab.goto(&link);
    let form_token = tab.eval("document.querySelector('input[name=form_token]').value");
    let form_token = form_token.as_str().unwrap_or_default().to_string();

    // Another site's page posting to the link, even with the right form token: the browser
    // says where it comes from (Origin: null for this data: page).
    let page = format!(
        "<form method=post action=\"{link}\"><input name=pin value={GOOD_PIN}>\
         <input name=pin2 value={GOOD_PIN}><input name=form_token value={form_token}>\
         <button type=submit>go</button></form>"
    );
    tab.goto(&format!("data:text/html,{}", urlencode(&page)));
    tab.click("button");
    assert_eq!(tab.status, Some(403));
    let text = tab.text();
    assert!(
        text.contains("Permintaan ini ditolak") && text.contains("refused"),
        "{text}"
    );

    // A post without the page's form token (no browser, so no Origin either).
    let path = link.trim_start_matches(&sijil.base_url).to_string();
    let body = format!("pin={GOOD_PIN}&pin2={GOOD_PIN}");
    let (status, answer) = http(
        &sijil,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{answer}"
    );

    // The link still works for the signee.
    tab.goto(&link);
    assert_eq!(tab.status, Some(200));
    drop(browser);
    assert_eq!(state_of(&mut sijil, &reference), "pin_pending");
}

/// Percent-encodes everything but letters and digits (for a data: URL).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
