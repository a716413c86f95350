//! Staff commands by email on the real servers (SPEC §5): replies sent by
//! SMTP through Postfix into Dovecot, read by sijil over IMAP, answered
//! back; what a refused or forged command leaves behind; exactly once.

mod support;

use std::time::Duration;

use support::{
    DEVELOPER, Daemon, MailServers, OFFICER, Pack, RA_ADDRESS, SIGNEE, STRANGER, VERIFIER, parse,
    subject,
};

const WAIT: Duration = Duration::from_secs(30);

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

/// The messages in `mailbox` answering the message `id` (by In-Reply-To).
fn answers<'a>(mailbox: &'a [Vec<u8>], id: &str) -> Vec<&'a Vec<u8>> {
    mailbox
        .iter()
        .filter(|m| header(m, "In-Reply-To").contains(id.trim_matches(['<', '>'])))
        .collect()
}

/// A staff member's reply to `parent` (threaded), its first line `line`,
/// with a quoted part as mail clients write it.
fn reply_to(parent: &[u8], from: &str, line: &str) -> Pack {
    Pack::reply(&subject(parent), &header(parent, "Message-ID"), line).from(from)
}

async fn send(servers: &MailServers, pack: &Pack) {
    servers
        .send(&pack.build(), pack.sender_address(), &[RA_ADDRESS])
        .await;
}

/// The case's state as the operator CLI shows it (the daemon stopped).
fn state_of(sijil: &mut Daemon, reference: &str) -> String {
    assert!(sijil.stop().success());
    let out = sijil.command(&["case", reference, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("case --json");
    json["state"].as_str().unwrap_or_default().to_string()
}

fn reference(subject: &str) -> String {
    let re = regex::Regex::new(r"\[(SJL-\d{4}-\d{6})\]").expect("regex");
    re.captures(subject)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no case reference in {subject:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifier_verifies_by_reply_and_refused_or_forged_commands_change_nothing() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    send(&servers, &Pack::mykad_valid()).await;
    let staff = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await;
    let verify = staff[0].clone();
    let case = reference(&subject(&verify));

    // The wrong role: a verifier may not approve.
    let wrong = reply_to(&verify, VERIFIER, "APPROVED");
    send(&servers, &wrong).await;
    let inbox = servers.wait_for(VERIFIER, "INBOX", 2, WAIT).await;
    let error = answers(&inbox, wrong.id());
    assert_eq!(error.len(), 1, "{:?}", support::subjects(&inbox));
    assert!(text(error[0]).contains("APPROVED"), "{}", text(error[0]));

    // A forged From on a new message: refused, and the real address told.
    let forged = Pack::new(&format!("Re: [{case}] Panggilan pengesahan"))
        .from(VERIFIER)
        .line("VERIFIED");
    send(&servers, &forged).await;
    let inbox = servers.wait_for(VERIFIER, "INBOX", 3, WAIT).await;
    assert!(
        answers(&inbox, forged.id()).is_empty(),
        "the forged message is not answered on its own thread"
    );
    let told = inbox.last().expect("the error");
    assert!(
        text(told).contains("reply to that case email"),
        "{}",
        text(told)
    );

    // A stranger's reply on the case is quarantined, unanswered.
    let stranger = reply_to(&verify, STRANGER, "VERIFIED");
    send(&servers, &stranger).await;
    servers.wait_for(RA_ADDRESS, "Quarantine", 1, WAIT).await;

    // The real command, top-posted above a quote holding another keyword,
    // delivered twice: verified once, answered once.
    let verified = reply_to(&verify, VERIFIER, "Disahkan").line("> TOLAK");
    send(&servers, &verified).await;
    send(&servers, &verified).await;
    let officer = servers.wait_for(OFFICER, "INBOX", 1, WAIT).await;
    assert_eq!(reference(&subject(&officer[0])), case);
    assert!(
        text(&officer[0]).contains("APPROVED"),
        "the officers are told how to answer"
    );
    servers.wait_for(RA_ADDRESS, "Processed", 3, WAIT).await;
    let inbox = servers.wait_for(VERIFIER, "INBOX", 4, WAIT).await;
    assert_eq!(answers(&inbox, verified.id()).len(), 1, "answered once");

    // STATUS from the verifier shows the history.
    let status = reply_to(&verify, VERIFIER, "status");
    send(&servers, &status).await;
    let inbox = servers.wait_for(VERIFIER, "INBOX", 5, WAIT).await;
    let answer = answers(&inbox, status.id());
    assert_eq!(answer.len(), 1);
    let body = text(answer[0]);
    assert!(
        body.contains("VERIFIED") && body.contains("refused"),
        "{body}"
    );
    assert!(
        !body.contains("900101-14-5673"),
        "no full ID number in STATUS"
    );

    assert_eq!(state_of(&mut sijil, &case), "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_thrice_tells_the_developer_reject_tells_both_and_the_owner_withdraws() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    let first = Pack::mykad_valid();
    send(&servers, &first).await;
    let verify = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await[0].clone();
    let case = reference(&subject(&verify));
    for i in 1..=3 {
        send(&servers, &reply_to(&verify, VERIFIER, "TIADA-JAWAPAN")).await;
        servers.wait_for(VERIFIER, "INBOX", 1 + i, WAIT).await;
    }
    // ACK, then the notice after the third attempt.
    let dev = servers.wait_for(DEVELOPER, "INBOX", 2, WAIT).await;
    assert!(text(&dev[1]).contains('3'), "{}", text(&dev[1]));

    let reject = reply_to(&verify, VERIFIER, "REJECT nama tidak sepadan dengan MyKad");
    send(&servers, &reject).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 3, WAIT).await;
    assert!(text(&dev[2]).contains("nama tidak sepadan dengan MyKad"));
    let signee = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    assert!(text(&signee[1]).contains("nama tidak sepadan dengan MyKad"));

    // Another signee's case, withdrawn by its developer replying to the ACK.
    let second = Pack::mykad_valid()
        .field("Turutan / Signing Order", "4")
        .field("No. Pengenalan / ID Number", "850612-10-5431")
        .field("Emel / Email", "aminah@buyer.example.com");
    send(&servers, &second).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 4, WAIT).await;
    let ack = answers(&dev, second.id())[0].clone();
    let second_case = reference(&subject(&ack));
    let withdraw = reply_to(&ack, DEVELOPER, "WITHDRAW");
    send(&servers, &withdraw).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 5, WAIT).await;
    assert_eq!(answers(&dev, withdraw.id()).len(), 1);
    let staff = servers.wait_for(VERIFIER, "INBOX", 7, WAIT).await;
    assert!(
        staff
            .iter()
            .any(|m| reference(&subject(m)) == second_case && text(m).contains("withdr")),
        "{:?}",
        support::subjects(&staff)
    );

    assert_eq!(state_of(&mut sijil, &case), "rejected");
    let out = sijil.command(&["case", &second_case, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("case --json");
    assert_eq!(json["state"], "withdrawn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_required_a_command_needs_our_servers_pass() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start_with(&servers, |cfg| {
        let security = cfg
            .entry("security")
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if let Some(t) = security.as_table_mut() {
            t.insert("require_authenticated_sender".into(), true.into());
            t.insert("authserv_id".into(), "mx.ra.example.my".into());
        }
    });
    send(&servers, &Pack::mykad_valid()).await;
    let verify = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await[0].clone();
    let case = reference(&subject(&verify));

    let bare = reply_to(&verify, VERIFIER, "VERIFIED");
    send(&servers, &bare).await;
    let foreign = reply_to(&verify, VERIFIER, "VERIFIED").header(
        "Authentication-Results",
        "mx.attacker.example; dkim=pass header.d=ra.example.my",
    );
    send(&servers, &foreign).await;
    let inbox = servers.wait_for(VERIFIER, "INBOX", 3, WAIT).await;
    assert!(
        servers.messages(OFFICER, "INBOX").await.is_empty(),
        "not verified yet"
    );
    assert_eq!(inbox.len(), 3);

    let vouched = reply_to(&verify, VERIFIER, "VERIFIED").header(
        "Authentication-Results",
        "mx.ra.example.my; dkim=pass header.d=ra.example.my header.s=s1",
    );
    send(&servers, &vouched).await;
    servers.wait_for(OFFICER, "INBOX", 1, WAIT).await;
    assert_eq!(state_of(&mut sijil, &case), "verified");
}

/// Sets `pin` through the EMEL 2 link in `emel2`, as the signee's browser
/// does: the page, then its form posted from the page's own origin.
fn set_pin(emel2: &[u8], pin: &str) -> support::web::Response {
    let link = support::web::pin_link(&text(emel2));
    let page = support::web::get(&link);
    assert_eq!(page.status, 200, "{}", page.body);
    let token = support::web::hidden(&page.body, "form_token");
    support::web::post_form(
        &link,
        &[("form_token", &token), ("pin", pin), ("pin2", pin)],
    )
}

/// The newest message in `mailbox` whose subject names `case`.
fn newest<'a>(mailbox: &'a [Vec<u8>], case: &str) -> &'a Vec<u8> {
    mailbox
        .iter()
        .rev()
        .find(|m| subject(m).contains(case))
        .unwrap_or_else(|| panic!("nothing about {case} in {:?}", support::subjects(mailbox)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_goes_from_received_to_active_by_staff_replies_and_the_pin_page() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    send(&servers, &Pack::mykad_valid()).await;
    let verify = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await[0].clone();
    let case = reference(&subject(&verify));

    send(&servers, &reply_to(&verify, VERIFIER, "VERIFIED")).await;
    let generate = servers.wait_for(OFFICER, "INBOX", 1, WAIT).await[0].clone();
    send(&servers, &reply_to(&generate, OFFICER, "APPROVED")).await;
    let signee = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    let done = set_pin(&signee[1], "482915");
    assert_eq!(done.status, 200, "{}", done.body);

    let staff_qc = servers.wait_for(support::QC, "INBOX", 1, WAIT).await[0].clone();
    assert_eq!(reference(&subject(&staff_qc)), case);
    send(&servers, &reply_to(&staff_qc, support::QC, "QC-LULUS")).await;
    let signee = servers.wait_for(SIGNEE, "INBOX", 3, WAIT).await;
    // EMEL 1, 2 and 3, in that order, each once.
    let order: Vec<String> = signee.iter().map(|m| subject(m)).collect();
    assert_eq!(order.len(), 3, "{order:?}");
    assert!(order.iter().all(|s| s.contains(&case)), "{order:?}");
    assert!(
        text(&signee[1]).contains("/pin/"),
        "EMEL 2 carries the link"
    );
    assert!(!text(&signee[2]).contains("/pin/"), "EMEL 3 does not");
    assert!(order[2].contains("Roaming"), "{order:?}");

    assert_eq!(state_of(&mut sijil, &case), "active");
    let log = sijil.log();
    let token = support::web::pin_link(&text(&signee[1]));
    let token = token.rsplit('/').next().unwrap_or_default();
    assert!(!log.contains(token), "the token is never logged");
    assert!(!log.contains("482915"), "the PIN is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_voids_the_old_link_and_qc_pass_waits_for_the_pin() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    send(&servers, &Pack::mykad_valid()).await;
    let verify = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await[0].clone();
    let case = reference(&subject(&verify));
    send(&servers, &reply_to(&verify, VERIFIER, "VERIFIED")).await;
    let generate = servers.wait_for(OFFICER, "INBOX", 1, WAIT).await[0].clone();
    send(&servers, &reply_to(&generate, OFFICER, "APPROVED")).await;
    let signee = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    let first = signee[1].clone();

    // RESEND: a fresh link; the first one is void.
    send(&servers, &reply_to(&generate, OFFICER, "RESEND")).await;
    let signee = servers.wait_for(SIGNEE, "INBOX", 3, WAIT).await;
    let old = support::web::get(&support::web::pin_link(&text(&first)));
    assert_eq!(old.status, 410, "the replaced link is gone");
    assert!(set_pin(newest(&signee, &case), "482915").status == 200);

    // QC-FAIL: back to pin_pending with a new link; QC-PASS must wait.
    let staff_qc = servers.wait_for(support::QC, "INBOX", 1, WAIT).await[0].clone();
    send(
        &servers,
        &reply_to(&staff_qc, support::QC, "QC-GAGAL gambar kabur"),
    )
    .await;
    let signee = servers.wait_for(SIGNEE, "INBOX", 4, WAIT).await;
    let early = reply_to(&staff_qc, support::QC, "QC-PASS");
    send(&servers, &early).await;
    let qc = servers.wait_for(support::QC, "INBOX", 3, WAIT).await;
    let error = answers(&qc, early.id());
    assert_eq!(error.len(), 1, "{:?}", support::subjects(&qc));
    assert!(text(error[0]).contains("QC-PASS"), "{}", text(error[0]));

    assert!(set_pin(newest(&signee, &case), "730146").status == 200);
    let qc = servers.wait_for(support::QC, "INBOX", 4, WAIT).await;
    send(
        &servers,
        &reply_to(newest(&qc, &case), support::QC, "QC-PASS"),
    )
    .await;
    servers.wait_for(SIGNEE, "INBOX", 5, WAIT).await;
    assert_eq!(state_of(&mut sijil, &case), "active");
}
