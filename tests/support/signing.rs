//! A one-signee eSPA brought to its signing link by the real flow on a Maildir daemon: the
//! registration, a pack, `VERIFIED`, `APPROVED`, the PIN set on its page, `QC-PASS` — each a
//! delivered email or a real request — and the EMEL 4 the daemon delivered to its outbox.

use std::time::Duration;

use super::{
    DEVELOPER, Daemon, OFFICER, Pack, QC, SIGNEE, VERIFIER, first_to, maildir_files, parse, subject,
};

const WAIT: Duration = Duration::from_secs(30);

pub fn header(raw: &[u8], name: &str) -> String {
    parse(raw)
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

pub fn text(raw: &[u8]) -> String {
    parse(raw).body_text(0).unwrap_or_default().to_string()
}

/// Every email in the outbox to `to` whose subject contains `words`, in the order they were
/// delivered (the outbox's file names are hashes: the files' times say the order).
pub fn all_delivered(sijil: &Daemon, to: &str, words: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<(std::time::SystemTime, Vec<u8>)> = maildir_files(&sijil.path("outbox"))
        .into_iter()
        .filter_map(|f| {
            let at = std::fs::metadata(&f).and_then(|m| m.modified()).ok()?;
            Some((at, std::fs::read(&f).ok()?))
        })
        .filter(|(_, m)| first_to(m) == to && subject(m).contains(words))
        .collect();
    files.sort_by_key(|(at, _)| *at);
    files.into_iter().map(|(_, m)| m).collect()
}

/// Waits for the `n`th email in the outbox to `to` whose subject contains `words`.
pub fn nth_delivered(sijil: &mut Daemon, to: &str, words: &str, n: usize) -> Vec<u8> {
    let what = format!("email {n} to {to} about {words:?}");
    sijil.until(&what, WAIT, |d| all_delivered(d, to, words).len() >= n);
    all_delivered(sijil, to, words)
        .into_iter()
        .nth(n - 1)
        .expect("found a moment ago")
}

/// Waits for the email in the outbox to `to` whose subject contains `words`.
pub fn delivered(sijil: &mut Daemon, to: &str, words: &str) -> Vec<u8> {
    nth_delivered(sijil, to, words, 1)
}

/// A threaded reply to `parent` from `from` whose first line is `line`, delivered.
pub fn reply(sijil: &Daemon, parent: &[u8], from: &str, line: &str, name: &str) {
    let pack = Pack::reply(&subject(parent), &header(parent, "Message-ID"), line).from(from);
    sijil.deliver("mail", name, &pack.build());
}

/// The first `{base_url}/{path}/…` link in an email's text.
pub fn link_in(email: &[u8], base_url: &str, path: &str) -> String {
    let body = text(email);
    body.split_whitespace()
        .find(|w| w.starts_with(&format!("{base_url}/{path}/")))
        .unwrap_or_else(|| panic!("no /{path}/ link in:\n{body}"))
        .to_string()
}

/// The code in a CODE email: six digits on a line of their own.
pub fn code_in(email: &[u8]) -> String {
    let body = text(email);
    regex::Regex::new(r"(?m)^\s*(\d{6})\s*$")
        .expect("regex")
        .captures(&body)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no code in:\n{body}"))
}

/// Sets `pin` through the `n`th EMEL 2's link and has QC pass it (replying to the `n`th
/// STAFF-QC). Returns nothing: the certificate is active after it.
pub fn pin_and_qc(sijil: &mut Daemon, pin: &str, n: usize) {
    let emel2 = nth_delivered(sijil, SIGNEE, "Tetapkan PIN", n);
    let pin_link = link_in(&emel2, &sijil.base_url, "pin");
    let page = super::web::get(&pin_link);
    assert_eq!(page.status, 200, "{}", page.body);
    let token = super::web::hidden(&page.body, "form_token");
    let set = super::web::post_form(
        &pin_link,
        &[("form_token", &token), ("pin", pin), ("pin2", pin)],
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let qc = nth_delivered(sijil, QC, "Semakan kualiti", n);
    reply(sijil, &qc, QC, "QC-PASS", &format!("qc-{n}.eml"));
}

/// The one-signee eSPA (signee 1: [`SIGNEE`], manual) through to EMEL 4, the certificate
/// PIN `pin`; the signing link.
pub fn ready_to_sign(sijil: &mut Daemon, pin: &str) -> String {
    let registration = Pack::espa_registration()
        .without_line("1. Pemaju")
        .without_line("2. Pembeli")
        .without_line("3. Saksi")
        .without_line("4. Tuan Tanah")
        .line(&format!("1. Pembeli | Ali bin Abu | {SIGNEE} | manual"));
    sijil.deliver("mail", "registration.eml", &registration.build());
    delivered(sijil, DEVELOPER, "eSPA registered");
    let pack = Pack::mykad_valid().field("Turutan / Signing Order", "1");
    sijil.deliver("mail", "pack.eml", &pack.build());
    let verify = delivered(sijil, VERIFIER, "Panggilan pengesahan");
    reply(sijil, &verify, VERIFIER, "VERIFIED", "verified.eml");
    let generate = delivered(sijil, OFFICER, "SJL-");
    reply(sijil, &generate, OFFICER, "APPROVED", "approved.eml");
    pin_and_qc(sijil, pin, 1);
    let emel4 = delivered(sijil, SIGNEE, "EMEL 4");
    link_in(&emel4, &sijil.base_url, "sign")
}

/// The signing page's form token, from the page.
pub fn form_token(link: &str) -> String {
    let page = super::web::get(link);
    assert_eq!(page.status, 200, "{}", page.body);
    super::web::hidden(&page.body, "form_token")
}

/// Asks for a code and returns the `n`th CODE email's digits.
pub fn ask_code(sijil: &mut Daemon, link: &str, token: &str, n: usize) -> String {
    let asked = super::web::post_form(&format!("{link}/code"), &[("form_token", token)]);
    assert_eq!(asked.status, 200, "{}", asked.body);
    code_in(&nth_delivered(sijil, SIGNEE, "Verification code", n))
}
