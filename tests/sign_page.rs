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

use serde_json::json;
use support::browser::{Browser, Tab};
use support::signing::{code_in, delivered, ready_to_sign};
use support::{DEVELOPER, Daemon, SIGNEE, TestDir};

const PIN: &str = "284917";

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
    // Their turn at once: the certificate is active and they sign first.
    let link = ready_to_sign(&mut sijil, PIN);
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
    let code = code_in(&delivered(&mut sijil, SIGNEE, "Verification code"));
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
