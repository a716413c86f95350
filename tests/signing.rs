//! An eSPA signed in order, to the last signature, on the real servers
//! (SPEC §3, §7; issue 18): three signees — one `idsaya`, two `manual` —
//! the registration, EMEL 0, two packs (one arriving before the
//! registration), both RA flows by staff replies, `EKYC-OK`, then the three
//! signatures in order through the HTTP pages with the codes read from the
//! delivered CODE emails; SIGNED after each, COMPLETED to everyone once.

mod support;

use std::time::Duration;

use sha2::{Digest, Sha256};
use support::packs::pdf;
use support::web::{Response, get, hidden, post_form};
use support::{
    DEVELOPER, Daemon, ESPA_REF, FOREIGN_SIGNEE, HIMS_ADDRESS, MailServers, OFFICER, Pack, QC,
    RA_ADDRESS, SIGNEE, VERIFIER, parse, subject,
};

const WAIT: Duration = Duration::from_secs(60);
const LIM: &str = "lim@developer.my";

fn text(raw: &[u8]) -> String {
    parse(raw).body_text(0).unwrap_or_default().to_string()
}

fn header(raw: &[u8], name: &str) -> String {
    parse(raw)
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn from(raw: &[u8]) -> String {
    parse(raw)
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_lowercase()
}

async fn send(servers: &MailServers, pack: &Pack) {
    servers
        .send(&pack.build(), pack.sender_address(), &[RA_ADDRESS])
        .await;
}

fn reply_to(parent: &[u8], from: &str, line: &str) -> Pack {
    Pack::reply(&subject(parent), &header(parent, "Message-ID"), line).from(from)
}

/// The first message in `user`'s inbox that `what` picks, once it is there.
async fn wait_message(servers: &MailServers, user: &str, what: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut n = 1;
    loop {
        let all = servers.wait_for(user, "INBOX", n, WAIT).await;
        if let Some(m) = all.iter().find(|m| what(m)) {
            return m.clone();
        }
        n = all.len() + 1;
    }
}

/// How many messages in `user`'s inbox `what` picks.
async fn count(servers: &MailServers, user: &str, what: impl Fn(&[u8]) -> bool) -> usize {
    servers
        .messages(user, "INBOX")
        .await
        .iter()
        .filter(|m| what(m))
        .count()
}

fn case_ref(subject: &str) -> String {
    let re = regex::Regex::new(r"\[(SJL-\d{4}-\d{6})\]").expect("regex");
    re.captures(subject)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no case reference in {subject:?}"))
}

/// The three-signee registration: the developer (idsaya), the buyer
/// [`SIGNEE`] and the foreign landowner [`FOREIGN_SIGNEE`] (both manual).
fn registration() -> Pack {
    Pack::espa_registration()
        .without_line("3. Saksi")
        .without_line("4. Tuan Tanah")
        .line(&format!(
            "3. Tuan Tanah | James Edward Smith | {FOREIGN_SIGNEE} | manual"
        ))
}

/// The case of a pack, from the developer's ACK answering it.
async fn case_of(servers: &MailServers, pack: &Pack) -> String {
    let id = pack.id().trim_matches(['<', '>']).to_string();
    let ack = wait_message(servers, DEVELOPER, |m| {
        header(m, "In-Reply-To").contains(&id)
    })
    .await;
    case_ref(&subject(&ack))
}

/// The RA's whole flow for `case` by staff replies and the PIN page:
/// VERIFIED, APPROVED, the PIN set through EMEL 2's link, QC-PASS.
async fn certify(servers: &MailServers, case: &str, signee: &str, pin: &str) {
    let about = |m: &[u8]| subject(m).contains(case);
    let verify = wait_message(servers, VERIFIER, about).await;
    send(servers, &reply_to(&verify, VERIFIER, "VERIFIED")).await;
    let generate = wait_message(servers, OFFICER, about).await;
    send(servers, &reply_to(&generate, OFFICER, "APPROVED")).await;
    let emel2 = wait_message(servers, signee, |m| about(m) && text(m).contains("/pin/")).await;
    let link = support::web::pin_link(&text(&emel2));
    let page = get(&link);
    assert_eq!(page.status, 200, "{}", page.body);
    let token = hidden(&page.body, "form_token");
    let set = post_form(
        &link,
        &[("form_token", &token), ("pin", pin), ("pin2", pin)],
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let qc = wait_message(servers, QC, about).await;
    send(servers, &reply_to(&qc, QC, "QC-PASS")).await;
    wait_message(servers, signee, |m| {
        about(m) && subject(m).contains("Roaming")
    })
    .await;
}

fn is_emel4(m: &[u8]) -> bool {
    subject(m).contains("EMEL 4")
}

fn is_code(m: &[u8]) -> bool {
    subject(m).contains("Verification code")
}

fn is_signed(m: &[u8]) -> bool {
    subject(m).contains("Your signature is recorded")
}

fn is_completed(m: &[u8]) -> bool {
    subject(m).contains("eSPA fully signed")
}

/// The signing link in an EMEL 4's text.
fn sign_link(text: &str) -> String {
    let re = regex::Regex::new(r"http://[0-9.:]+/sign/[A-Za-z0-9_-]{43}").expect("regex");
    re.find(text)
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| panic!("no signing link in:\n{text}"))
}

/// The six-digit code in a CODE email.
fn code_in(text: &str) -> String {
    let re = regex::Regex::new(r"(?m)^\s*(\d{6})\s*$").expect("regex");
    re.captures(text)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no code in:\n{text}"))
}

/// Signs as the signee's browser does: the page from EMEL 4's link, a code
/// asked for and read from the delivered CODE email (the `codes`th one),
/// then the code (and PIN) posted. Returns the signing page's answer.
async fn sign(
    servers: &MailServers,
    signee: &str,
    pin: Option<&str>,
    sha256: &str,
    signed_before: &[&str],
) -> Response {
    let emel4 = wait_message(servers, signee, is_emel4).await;
    assert_eq!(from(&emel4), HIMS_ADDRESS, "EMEL 4 from the HIMS address");
    let link = sign_link(&text(&emel4));
    let page = get(&link);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(sha256), "the page shows the SHA-256");
    assert!(page.body.contains(ESPA_REF));
    for name in signed_before {
        assert!(page.body.contains(name), "{name} shown as signed");
    }
    assert_eq!(pin.is_some(), page.body.contains(r#"name="pin""#));
    let document = get(&format!("{link}/document"));
    assert_eq!(document.status, 200);
    assert_eq!(document.header("content-type"), Some("application/pdf"));
    assert!(
        document
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("inline")),
        "{:?}",
        document.header("content-disposition")
    );
    let token = hidden(&page.body, "form_token");
    let asked = post_form(&format!("{link}/code"), &[("form_token", &token)]);
    assert_eq!(asked.status, 200, "{}", asked.body);
    let code_email = wait_message(servers, signee, is_code).await;
    assert_eq!(
        from(&code_email),
        HIMS_ADDRESS,
        "CODE from the HIMS address"
    );
    let code = code_in(&text(&code_email));
    let mut fields = vec![("form_token", token.as_str()), ("code", code.as_str())];
    if let Some(pin) = pin {
        fields.push(("pin", pin));
    }
    let done = post_form(&link, &fields);
    // The link dies with its use.
    let again = get(&link);
    assert_eq!(again.status, 410, "{}", again.body);
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_signees_sign_in_order_to_completed() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    let document = pdf(&format!("Perjanjian Jual Beli {ESPA_REF}"));
    let sha256 = hex::encode(Sha256::digest(&document));

    // James's pack arrives before the registration: a case, not linked yet.
    let james_pack = Pack::passport_foreigner().field("Turutan / Signing Order", "3");
    send(&servers, &james_pack).await;
    let james_case = case_of(&servers, &james_pack).await;

    let registration = registration();
    send(&servers, &registration).await;
    let id = registration.id().trim_matches(['<', '>']).to_string();
    let ack = wait_message(&servers, DEVELOPER, |m| {
        header(m, "In-Reply-To").contains(&id) && subject(m).contains("eSPA registered")
    })
    .await;
    assert!(text(&ack).contains(&james_case), "James's case is linked");
    let emel0 = wait_message(&servers, LIM, |m| subject(m).contains("iDsaya")).await;
    assert_eq!(from(&emel0), HIMS_ADDRESS);

    // Ali's pack after the registration: linked on arrival.
    let ali_pack = Pack::mykad_valid();
    send(&servers, &ali_pack).await;
    let ali_case = case_of(&servers, &ali_pack).await;

    // Both RA flows, long before either's turn.
    certify(&servers, &ali_case, SIGNEE, "482915").await;
    certify(&servers, &james_case, FOREIGN_SIGNEE, "730184").await;
    assert_eq!(
        count(&servers, SIGNEE, is_emel4).await,
        0,
        "not Ali's turn yet"
    );

    // The developer confirms Lim's eKYC: it is Lim's turn.
    send(&servers, &reply_to(&ack, DEVELOPER, "EKYC-OK 1")).await;
    let done = sign(&servers, LIM, None, &sha256, &[]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains(r#"id="signed""#), "{}", done.body);
    wait_message(&servers, LIM, is_signed).await;
    wait_message(&servers, DEVELOPER, |m| {
        subject(m).contains("A signee has signed")
    })
    .await;

    // Ali was ready long before: EMEL 4 comes as soon as Lim has signed.
    let done = sign(&servers, SIGNEE, Some("482915"), &sha256, &["Tan Sri Lim"]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    wait_message(&servers, SIGNEE, is_signed).await;

    let done = sign(
        &servers,
        FOREIGN_SIGNEE,
        Some("730184"),
        &sha256,
        &["Tan Sri Lim", "Ali bin Abu"],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);

    // COMPLETED reaches the developer and every signee, from HIMS, once.
    for user in [DEVELOPER, LIM, SIGNEE, FOREIGN_SIGNEE] {
        let completed = wait_message(&servers, user, is_completed).await;
        assert_eq!(from(&completed), HIMS_ADDRESS);
        let body = text(&completed);
        assert!(body.contains(&sha256), "{body}");
        for name in ["Tan Sri Lim", "Ali bin Abu", "James Edward Smith"] {
            assert!(body.contains(name), "{name} in COMPLETED:\n{body}");
        }
    }
    let completed = wait_message(&servers, DEVELOPER, is_completed).await;
    assert!(sijil.stop().success());
    for user in [DEVELOPER, LIM, SIGNEE, FOREIGN_SIGNEE] {
        assert_eq!(count(&servers, user, is_completed).await, 1, "{user}");
    }
    signed_pdf_proves_itself(&sijil, &completed, &sha256);
    for user in [LIM, SIGNEE, FOREIGN_SIGNEE] {
        assert_eq!(
            count(&servers, user, is_emel4).await,
            1,
            "{user}: one EMEL 4"
        );
        assert_eq!(
            count(&servers, user, is_signed).await,
            1,
            "{user}: one SIGNED"
        );
    }
    for case in [&ali_case, &james_case] {
        let out = sijil.command(&["case", case, "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("case --json");
        assert_eq!(json["state"], "signed", "{case}");
    }
    let log = sijil.log();
    assert!(
        !log.contains("482915") && !log.contains("730184"),
        "no PIN logged"
    );
}

/// The signed PDF COMPLETED carries, checked with tools sijil did not
/// write, and with `sijil verify`; one changed byte is caught by both. The
/// store and the log hold no private key.
fn signed_pdf_proves_itself(sijil: &Daemon, completed: &[u8], original_sha256: &str) {
    use support::pdf_tools::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let pdf = attachment(completed, "application/pdf").expect("COMPLETED carries the signed PDF");
    let certificate = attachment(completed, "text/plain")
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .expect("COMPLETED carries the completion certificate");
    let ca = std::path::PathBuf::from(format!("{}.ca/ca.pem", sijil.store_path().display()));
    let file = dir.path().join("signed.pdf");
    std::fs::write(&file, &pdf).expect("write pdf");

    let report = pdfsig(&file, &ca, dir.path());
    assert_eq!(report.matches("Signature is Valid.").count(), 3, "{report}");
    assert_eq!(
        report.matches("Certificate is Trusted.").count(),
        3,
        "{report}"
    );
    assert!(report.contains("Total document signed"), "{report}");
    assert!(report.contains("ETSI.CAdES.detached"), "{report}");
    for name in ["Ali bin Abu", "James Edward Smith", "RA attestation"] {
        assert!(report.contains(name), "{name}: {report}");
    }

    let signatures = signatures(&pdf);
    assert_eq!(signatures.len(), 3);
    for (cms, covered) in &signatures {
        let (ok, said) = openssl_cms_verify(cms, covered, &ca, dir.path());
        assert!(ok, "openssl cms -verify: {said}");
    }
    let ali = signer_certificate_text(&signatures[1].0, dir.path());
    assert!(ali.contains("CN = Ali bin Abu"), "{ali}");
    assert!(ali.contains("Digital Signature, Non Repudiation"), "{ali}");
    assert!(
        ali.contains("1.3.6.1.5.5.7.3.36"),
        "document signing EKU: {ali}"
    );
    assert!(
        ali.contains("IDH-"),
        "a keyed hash of the ID, never the number: {ali}"
    );
    assert!(!ali.contains("900101"), "{ali}");
    let in_two_years = (chrono::Utc::now() + chrono::Duration::days(730))
        .format("%b %e")
        .to_string();
    let not_after = ali
        .lines()
        .find(|l| l.contains("Not After"))
        .unwrap_or_default();
    assert!(
        not_after.contains(&in_two_years)
            || not_after.contains(
                &(chrono::Utc::now() + chrono::Duration::days(731))
                    .format("%b %e")
                    .to_string()
            ),
        "valid two years: {not_after} (expected {in_two_years})"
    );

    let (serial_line, sha_after) = (
        certificate.contains("certificate serial:"),
        hex::encode(Sha256::digest(&pdf)),
    );
    assert!(serial_line, "{certificate}");
    assert!(certificate.contains(original_sha256), "{certificate}");
    assert!(certificate.contains(&sha_after), "{certificate}");
    assert!(certificate.contains("iDsaya route"), "{certificate}");
    assert!(certificate.contains("Audit trail"), "{certificate}");

    let verify = |path: &std::path::Path| {
        std::process::Command::new(support::daemon::binary())
            .arg("verify")
            .arg(path)
            .arg("--ca")
            .arg(&ca)
            .output()
            .expect("sijil verify runs")
    };
    let good = verify(&file);
    let said = String::from_utf8_lossy(&good.stdout).to_string();
    assert!(
        good.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        said.contains("3 signature(s)") && said.contains("every signature holds"),
        "{said}"
    );
    assert_eq!(
        said.matches("   time: 20").count(),
        3,
        "each signature's time: {said}"
    );

    let mut changed = pdf.clone();
    let at = changed.len() / 3;
    changed[at] ^= 0x01;
    let tampered = dir.path().join("tampered.pdf");
    std::fs::write(&tampered, &changed).expect("write pdf");
    let bad = verify(&tampered);
    let said = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("intact: NO"), "{said}");
    let report = pdfsig(&tampered, &ca, &dir.path().join("again"));
    assert!(
        report.matches("Signature is Valid.").count() < 3,
        "{report}"
    );

    // No private key in the clear anywhere the daemon wrote (the test CA's
    // own key file aside): no PEM key, no PKCS#8 P-256 DER.
    let pkcs8_p256 = hex::decode("020100301306072a8648ce3d020106082a8648ce3d030107").expect("hex");
    let mut scanned = 0;
    let mut stack = vec![
        sijil
            .store_path()
            .parent()
            .expect("store dir")
            .to_path_buf(),
    ];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if path.extension().is_some_and(|e| e == "ca") {
                continue;
            }
            for entry in std::fs::read_dir(&path).expect("read dir") {
                stack.push(entry.expect("entry").path());
            }
            continue;
        }
        let bytes = std::fs::read(&path).expect("read file");
        scanned += 1;
        assert!(!contains(&bytes, b"PRIVATE KEY"), "{}", path.display());
        assert!(!contains(&bytes, &pkcs8_p256), "{}", path.display());
    }
    assert!(scanned > 3, "the store was scanned");
    let log = sijil.log();
    assert!(
        !log.contains("PRIVATE KEY") && !log.contains("sealed\":"),
        "{log}"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
