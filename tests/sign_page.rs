//! The signing page in a real headless Chromium (SPEC §7): a one-signee
//! eSPA whose manual signee's certificate the real flow made active (a
//! registration, a pack, `VERIFIED`, `APPROVED`, the PIN, `QC-PASS`, each a
//! delivered email or a real request). The browser follows the EMEL 4 link
//! from the delivered email, asks for a code, types the code taken from the
//! delivered CODE email and the PIN, and sees the signed confirmation.
//!
//! Needs Debian's `chromium` (`scripts/test` and `.ci/run` install it). With
//! `SIJIL_SCREENSHOTS=DIR` each page the signee sees is saved there as a PNG.

mod support;

use std::time::Duration;

use serde_json::json;
use support::browser::{Browser, Tab};
use support::{
    DEVELOPER, Daemon, OFFICER, Pack, QC, SIGNEE, TestDir, VERIFIER, first_to, parse, subject,
};

const WAIT: Duration = Duration::from_secs(30);
const PIN: &str = "284917";

fn header(raw: &[u8], name: &str) -> String {
    parse(raw)
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn text(raw: &[u8]) -> String {
    parse(raw).body_text(0).unwrap_or_default().to_string()
}

/// Waits for the email in the outbox to `to` whose subject contains `words`.
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

fn reply(sijil: &Daemon, parent: &[u8], from: &str, line: &str, name: &str) {
    let pack = Pack::reply(&subject(parent), &header(parent, "Message-ID"), line).from(from);
    sijil.deliver("mail", name, &pack.build());
}

fn link_in(email: &[u8], base_url: &str, path: &str) -> String {
    let body = text(email);
    body.split_whitespace()
        .find(|w| w.starts_with(&format!("{base_url}/{path}/")))
        .unwrap_or_else(|| panic!("no /{path}/ link in:\n{body}"))
        .to_string()
}

fn shot(tab: &mut Tab<'_>, name: &str) {
    if let Some(dir) = std::env::var_os("SIJIL_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("create the screenshot directory");
        tab.screenshot(&std::path::Path::new(&dir).join(format!("sign-{name}.png")));
    }
}

#[test]
fn the_signee_signs_with_the_emailed_code_and_the_pin_on_a_phone_sized_page() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let registration = Pack::espa_registration()
        .without_line("1. Pemaju")
        .without_line("2. Pembeli")
        .without_line("3. Saksi")
        .without_line("4. Tuan Tanah")
        .line(&format!("1. Pembeli | Ali bin Abu | {SIGNEE} | manual"));
    sijil.deliver("mail", "registration.eml", &registration.build());
    delivered(&mut sijil, DEVELOPER, "eSPA registered");
    let pack = Pack::mykad_valid().field("Turutan / Signing Order", "1");
    sijil.deliver("mail", "pack.eml", &pack.build());
    let verify = delivered(&mut sijil, VERIFIER, "Panggilan pengesahan");
    reply(&sijil, &verify, VERIFIER, "VERIFIED", "verified.eml");
    let generate = delivered(&mut sijil, OFFICER, "SJL-");
    reply(&sijil, &generate, OFFICER, "APPROVED", "approved.eml");
    let emel2 = delivered(&mut sijil, SIGNEE, "Tetapkan PIN");
    let pin_link = link_in(&emel2, &sijil.base_url, "pin");
    let page = support::web::get(&pin_link);
    let token = support::web::hidden(&page.body, "form_token");
    let set = support::web::post_form(
        &pin_link,
        &[("form_token", &token), ("pin", PIN), ("pin2", PIN)],
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let qc = delivered(&mut sijil, QC, "SJL-");
    reply(&sijil, &qc, QC, "QC-PASS", "qc.eml");

    // Their turn at once: the certificate is active and they sign first.
    let emel4 = delivered(&mut sijil, SIGNEE, "EMEL 4");
    let link = link_in(&emel4, &sijil.base_url, "sign");
    let mut browser = Browser::start(dir.path());
    let mut tab = browser.tab(360, 740);
    tab.goto(&link);
    shot(&mut tab, "1-page");
    assert_eq!(tab.status, Some(200));
    let page = tab.text();
    assert!(page.contains(support::ESPA_REF), "{page}");
    assert!(page.contains("Taman Seri Indah"), "{page}");
    assert_eq!(
        tab.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        json!(true),
        "fits a 360 px phone"
    );
    tab.click("#request-code");
    shot(&mut tab, "2-code-sent");
    assert_eq!(tab.status, Some(200));
    let code_email = delivered(&mut sijil, SIGNEE, "Verification code");
    let code = regex::Regex::new(r"(?m)^\s*(\d{6})\s*$")
        .expect("regex")
        .captures(&text(&code_email))
        .map(|c| c[1].to_string())
        .expect("a code in CODE");
    tab.type_into("#code", &code);
    tab.type_into("#pin", PIN);
    tab.click("#sign");
    shot(&mut tab, "3-signed");
    assert_eq!(tab.status, Some(200));
    assert_eq!(
        tab.eval("document.querySelector('#signed') !== null"),
        json!(true),
        "{}",
        tab.text()
    );
    assert!(!tab.html().contains(PIN) && !tab.html().contains(&code));
    // The one signee signed: COMPLETED to the developer and to them.
    delivered(&mut sijil, DEVELOPER, "eSPA fully signed");
    delivered(&mut sijil, SIGNEE, "eSPA fully signed");
    tab.goto(&link);
    assert_eq!(tab.status, Some(410));
    drop(browser);
    assert!(sijil.stop().success());
    let log = sijil.log();
    assert!(
        !log.contains(PIN) && !log.contains(&code),
        "no secret logged"
    );
}
