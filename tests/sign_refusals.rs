//! What the signing page refuses, over real HTTP on a daemon whose eSPA reached its signing
//! link by the real flow (`support::signing`): five wrong PINs lock the certificate until the
//! QC officer's `RESET-PIN`, after which a new PIN and a new link sign; a wrong code; posts
//! from another site or without the form token; two submissions racing on one link sign once;
//! a decline stops the signing and tells the developer. (The clock's part — a code past its
//! ten minutes, a link past its days — is in the core's tests, `core::tests::signing`.)

mod support;

use std::time::Duration;

use support::signing::{
    all_delivered, ask_code, delivered, form_token, nth_delivered, pin_and_qc, ready_to_sign, reply,
};
use support::web::{get, post_form};
use support::{DEVELOPER, Daemon, QC, SIGNEE, TestDir};

const PIN: &str = "284917";
const NEW_PIN: &str = "730184";

#[test]
fn five_wrong_pins_lock_until_reset_pin_then_a_new_pin_and_link_sign() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let link = ready_to_sign(&mut sijil, PIN);
    let token = form_token(&link);
    let code = ask_code(&mut sijil, &link, &token, 1);

    // A wrong code: refused, counted on the code only.
    let wrong = post_form(
        &link,
        &[("form_token", &token), ("code", "000000"), ("pin", PIN)],
    );
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("CODE_WRONG"), "{}", wrong.body);
    // Four wrong PINs (with the right code) say how many tries are left.
    for left in ["4", "3", "2", "1"] {
        let r = post_form(
            &link,
            &[("form_token", &token), ("code", &code), ("pin", "111222")],
        );
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("PIN_WRONG"), "{}", r.body);
        assert!(
            r.body.contains(&format!(": {left}.")),
            "{left} left: {}",
            r.body
        );
    }
    let locked = post_form(
        &link,
        &[("form_token", &token), ("code", &code), ("pin", "111222")],
    );
    assert_eq!(locked.status, 423, "{}", locked.body);
    assert!(
        locked.body.contains(r#"data-why="locked""#),
        "{}",
        locked.body
    );
    // Locked: even the right PIN does not sign; the page says so on every visit.
    let right = post_form(
        &link,
        &[("form_token", &token), ("code", &code), ("pin", PIN)],
    );
    assert_eq!(right.status, 423, "{}", right.body);
    assert_eq!(get(&link).status, 423);

    // The QC officer is told, and answers RESET-PIN to that email.
    let told = delivered(&mut sijil, QC, "Certificate locked");
    reply(&sijil, &told, QC, "RESET-PIN", "reset.eml");
    // A new PIN link; the new PIN and QC-PASS make the certificate active again, and a new
    // EMEL 4 replaces the old link.
    pin_and_qc(&mut sijil, NEW_PIN, 2);
    let emel4 = nth_delivered(&mut sijil, SIGNEE, "EMEL 4", 2);
    let new_link = support::signing::link_in(&emel4, &sijil.base_url, "sign");
    assert_ne!(new_link, link);
    assert_eq!(get(&link).status, 410, "the old link is replaced");
    let token = form_token(&new_link);
    let code = ask_code(&mut sijil, &new_link, &token, 2);
    let old_pin = post_form(
        &new_link,
        &[("form_token", &token), ("code", &code), ("pin", PIN)],
    );
    assert_eq!(old_pin.status, 422, "the old PIN is no longer it");
    let done = post_form(
        &new_link,
        &[("form_token", &token), ("code", &code), ("pin", NEW_PIN)],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains(r#"id="signed""#));
    delivered(&mut sijil, DEVELOPER, "eSPA fully signed");
    let log = sijil.log();
    for secret in [PIN, NEW_PIN, code.as_str()] {
        assert!(!log.contains(secret), "a secret in the log");
    }

    // RESET-PIN revoked the first certificate: the CRL lists it, and not the second.
    let mut serial = |n| {
        let emel3 = nth_delivered(&mut sijil, SIGNEE, "Roaming Certificate Ready", n);
        let body = support::signing::text(&emel3);
        body.lines()
            .find_map(|l| l.trim().strip_prefix("- Serial number: "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("EMEL 3 {n} names its serial:\n{body}"))
    };
    let (first, second) = (serial(1), serial(2));
    assert_ne!(first, second, "a new certificate for the new key");
    assert!(sijil.stop().success());
    let crl = dir.path().join("crl.pem");
    let made = sijil.command(&["ca", "crl", "--out", &crl.display().to_string()]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let listed = std::process::Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in", &crl.display().to_string()])
        .output()
        .expect("openssl crl runs (install openssl)");
    let listed = String::from_utf8_lossy(&listed.stdout).to_uppercase();
    assert!(listed.contains(&first), "{first} revoked:\n{listed}");
    assert!(!listed.contains(&second), "{second} in force:\n{listed}");
}

#[test]
fn cross_site_posts_and_posts_without_the_form_token_are_refused() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let link = ready_to_sign(&mut sijil, PIN);
    let token = form_token(&link);
    let no_token = post_form(&format!("{link}/code"), &[("form_token", "")]);
    assert_eq!(no_token.status, 403);
    let forged = post_form(&format!("{link}/code"), &[("form_token", &"ab".repeat(32))]);
    assert_eq!(forged.status, 403);
    let cross = support::web::post_form_from(
        &format!("{link}/code"),
        "https://evil.example",
        &[("form_token", &token)],
    );
    assert_eq!(cross.status, 403);
    assert!(
        all_delivered(&sijil, SIGNEE, "Verification code").is_empty(),
        "no code sent"
    );
    // A link nobody issued, and one of the wrong shape.
    let base = link.rsplit_once('/').map(|(b, _)| b).unwrap_or_default();
    assert_eq!(get(&format!("{base}/{}", "A".repeat(43))).status, 404);
    assert_eq!(get(&format!("{base}/short")).status, 404);
    // Every page carries the headers SPEC §7 asks for.
    let page = get(&link);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        "{:?}",
        page.header("content-security-policy")
    );
}

#[test]
fn two_submissions_racing_on_one_link_sign_once() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let link = ready_to_sign(&mut sijil, PIN);
    let token = form_token(&link);
    let code = ask_code(&mut sijil, &link, &token, 1);
    let barrier = std::sync::Barrier::new(4);
    let answers: Vec<u16> = std::thread::scope(|s| {
        let posts: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    post_form(
                        &link,
                        &[("form_token", &token), ("code", &code), ("pin", PIN)],
                    )
                    .status
                })
            })
            .collect();
        posts
            .into_iter()
            .map(|p| p.join().expect("a post"))
            .collect()
    });
    let signed = answers.iter().filter(|s| **s == 200).count();
    assert_eq!(signed, 1, "{answers:?}");
    assert!(
        answers.iter().all(|s| [200, 410].contains(s)),
        "{answers:?}"
    );
    delivered(&mut sijil, DEVELOPER, "eSPA fully signed");
    assert!(sijil.stop().success());
    assert_eq!(
        all_delivered(&sijil, SIGNEE, "Your signature is recorded").len(),
        1
    );
    assert_eq!(
        all_delivered(&sijil, DEVELOPER, "eSPA fully signed").len(),
        1
    );
    assert_eq!(all_delivered(&sijil, SIGNEE, "eSPA fully signed").len(), 1);
}

#[test]
fn a_decline_with_a_reason_stops_the_signing_and_tells_the_developer() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path()).started();
    let link = ready_to_sign(&mut sijil, PIN);
    let token = form_token(&link);
    let empty = post_form(
        &format!("{link}/decline"),
        &[("form_token", &token), ("reason", " ")],
    );
    assert_eq!(empty.status, 422, "{}", empty.body);
    let reason = "Harga rumah dalam perjanjian salah";
    let declined = post_form(
        &format!("{link}/decline"),
        &[("form_token", &token), ("reason", reason)],
    );
    assert_eq!(declined.status, 200, "{}", declined.body);
    assert!(
        declined.body.contains(r#"id="declined""#),
        "{}",
        declined.body
    );
    let told = delivered(&mut sijil, DEVELOPER, "declined to sign");
    assert!(support::signing::text(&told).contains(reason));
    let again = get(&link);
    assert_eq!(again.status, 410);
    assert!(
        again.body.contains(r#"data-why="declined""#),
        "{}",
        again.body
    );
}

/// The daemon killed right after a signature was committed (`sign_committed`, before it is
/// durable) or right after it was made durable (`sign_durable`, before the page is sent), then
/// started again: the signature is either kept or the link still signs; SIGNED and COMPLETED
/// arrive once either way.
#[test]
fn a_crash_around_a_signature_loses_nothing_and_sends_completed_once() {
    for point in ["sign_durable", "sign_committed"] {
        let dir = TestDir::new();
        let mut sijil = Daemon::maildir(dir.path()).started();
        let link = ready_to_sign(&mut sijil, PIN);
        let token = form_token(&link);
        let code = ask_code(&mut sijil, &link, &token, 1);
        assert!(sijil.stop().success());
        sijil
            .try_spawn_and_wait(&[("SIJIL_FAILPOINTS", &format!("{point}=1"))])
            .unwrap_or_else(|e| panic!("{e}"));
        let fields = [
            ("form_token", token.as_str()),
            ("code", &code),
            ("pin", PIN),
        ];
        let answer = support::web::try_post_form(&link, &fields);
        assert!(answer.is_err(), "{point}: no page after the kill");
        support::until_sync(
            "the daemon killed by its failpoint",
            Duration::from_secs(30),
            || sijil.exited().is_some(),
        );
        sijil.spawn_and_wait();
        let after = get(&link);
        match after.status {
            410 => assert!(after.body.contains(r#"data-why="used""#), "{}", after.body),
            200 if point == "sign_committed" => {
                // Not yet durable when killed: the link still signs.
                let done = post_form(&link, &fields);
                assert_eq!(done.status, 200, "{}", done.body);
            }
            other => panic!("{point}: {other} after the restart: {}", after.body),
        }
        delivered(&mut sijil, DEVELOPER, "eSPA fully signed");
        delivered(&mut sijil, SIGNEE, "eSPA fully signed");
        assert!(sijil.stop().success());
        for (to, words) in [
            (SIGNEE, "Your signature is recorded"),
            (SIGNEE, "eSPA fully signed"),
            (DEVELOPER, "eSPA fully signed"),
        ] {
            assert_eq!(
                all_delivered(&sijil, to, words).len(),
                1,
                "{point}: {words} to {to}"
            );
        }
    }
}
