//! The first slice end to end on real servers: packs sent by SMTP through
//! Postfix into Dovecot, read by sijil over IMAP, and what sijil sends read
//! back from the developer's, signee's and staff's mailboxes.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::{
    DEVELOPER, Daemon, FOREIGN_SIGNEE, MailServers, Pack, RA_ADDRESS, SIGNEE, STRANGER, VERIFIER,
    packs, parse, subject,
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

/// The reply in `mailbox` that answers the message `id` (by In-Reply-To).
fn answer_to<'a>(mailbox: &'a [Vec<u8>], id: &str) -> &'a [u8] {
    let found = mailbox
        .iter()
        .find(|m| header(m, "In-Reply-To").contains(id.trim_matches(['<', '>'])));
    found.unwrap_or_else(|| panic!("no answer to {id} among {:?}", support::subjects(mailbox)))
}

/// The case reference in a subject, e.g. `SJL-2026-000001`.
fn reference(subject: &str) -> String {
    let re = regex::Regex::new(r"\[(SJL-\d{4}-\d{6})\]").unwrap();
    re.captures(subject)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no case reference in {subject:?}"))
}

async fn send(servers: &MailServers, pack: &Pack) {
    servers
        .send(&pack.build(), pack.sender_address(), &[RA_ADDRESS])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_mykad_pack_is_acknowledged_and_the_signee_and_verifier_told() {
    let servers = MailServers::start();
    let sijil = Daemon::start(&servers);
    let pack = Pack::mykad_valid();
    send(&servers, &pack).await;

    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let ack = answer_to(&dev, pack.id());
    let case = reference(&subject(ack));
    assert_eq!(header(ack, "Auto-Submitted"), "auto-generated");
    assert!(text(ack).contains(&case));

    let signee = servers.wait_for(SIGNEE, "INBOX", 1, WAIT).await;
    assert_eq!(reference(&subject(&signee[0])), case);
    assert!(text(&signee[0]).contains("Ali bin Abu"));
    assert!(
        !text(&signee[0]).contains("5673"),
        "EMEL 1 never shows the full ID number"
    );

    let staff = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await;
    assert_eq!(reference(&subject(&staff[0])), case);
    assert!(text(&staff[0]).contains("VERIFIED"));
    assert!(
        parse(&staff[0]).attachments().next().is_none(),
        "no ID copy leaves the RA"
    );

    let processed = servers.wait_for(RA_ADDRESS, "Processed", 1, WAIT).await;
    assert_eq!(header(&processed[0], "Message-ID"), pack.id());
    assert!(servers.messages(RA_ADDRESS, "INBOX").await.is_empty());

    // The operator sees the queue on /metrics: one case received, the
    // other states shown at zero.
    assert_eq!(sijil.metric("sijil_cases{state=\"received\"}"), Some(1));
    assert_eq!(sijil.metric("sijil_cases{state=\"incomplete\"}"), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_are_checked_rule_by_rule_and_the_problems_named() {
    let servers = MailServers::start();
    let _sijil = Daemon::start(&servers);
    let foreigner = Pack::passport_foreigner();
    let china_phone = Pack::passport_foreigner()
        .field("Turutan / Signing Order", "5")
        .field("No. Pengenalan / ID Number", "E12345678")
        .field("Warganegara / Nationality", "China")
        .field("Emel / Email", "wang.wei@mail.example.cn")
        .field("Telefon / Phone", "+86 138 0013 8000");
    let front_only = Pack::mykad_valid()
        .field("Turutan / Signing Order", "6")
        .field("No. Pengenalan / ID Number", "850612-10-5431")
        .field("Emel / Email", "aminah@buyer.example.com")
        .without_attachment("belakang");
    let zip_as_pdf = Pack::mykad_valid()
        .field("Turutan / Signing Order", "7")
        .field("No. Pengenalan / ID Number", "880808-08-5887")
        .field("Emel / Email", "kumar@buyer.example.com")
        .without_attachment("Letter of Authorisation")
        .attachment(
            "Letter of Authorisation.pdf",
            packs::zip(),
            "application/pdf",
        );
    for pack in [&foreigner, &china_phone, &front_only, &zip_as_pdf] {
        send(&servers, pack).await;
    }

    let dev = servers.wait_for(DEVELOPER, "INBOX", 4, WAIT).await;
    let ack = answer_to(&dev, foreigner.id());
    assert!(
        subject(ack).contains("Application received"),
        "{}",
        subject(ack)
    );
    let emel1 = servers.wait_for(FOREIGN_SIGNEE, "INBOX", 1, WAIT).await;
    assert_eq!(reference(&subject(&emel1[0])), reference(&subject(ack)));

    // A number iDsaya serves is not eligible, not incomplete (issue #15).
    let refused = answer_to(&dev, china_phone.id());
    assert!(
        subject(refused).contains("Not eligible"),
        "{}",
        subject(refused)
    );
    assert!(text(refused).contains("PHONE_IDSAYA_COUNTRY"));
    for (pack, code) in [
        (&front_only, "MYKAD_BACK_MISSING"),
        (&zip_as_pdf, "ATTACHMENT_TYPE_MISMATCH"),
    ] {
        let reply = answer_to(&dev, pack.id());
        assert!(subject(reply).contains("incomplete"), "{}", subject(reply));
        assert!(
            text(reply).contains(code),
            "{code} missing from:\n{}",
            text(reply)
        );
    }
    // Incomplete packs do not reach the signee or the verifiers yet.
    let staff = servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await;
    assert_eq!(staff.len(), 1, "{:?}", support::subjects(&staff));
    for signee in [
        "wang.wei@mail.example.cn",
        "aminah@buyer.example.com",
        "kumar@buyer.example.com",
    ] {
        assert!(
            servers.messages(signee, "INBOX").await.is_empty(),
            "{signee} was told"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_without_loa_is_completed_by_the_developers_reply() {
    let servers = MailServers::start();
    let _sijil = Daemon::start(&servers);
    let pack = Pack::mykad_valid().without_attachment("Letter of Authorisation");
    send(&servers, &pack).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let incomplete = answer_to(&dev, pack.id());
    assert!(text(incomplete).contains("LOA_MISSING"));
    let case = reference(&subject(incomplete));

    let reply = Pack::reply(
        &subject(incomplete),
        &header(incomplete, "Message-ID"),
        "Bersama ini LOA yang tertinggal.",
    )
    .attachment(
        "LOA Seri Indah.pdf",
        packs::pdf("LOA Seri Indah"),
        "application/pdf",
    );
    send(&servers, &reply).await;

    let dev = servers.wait_for(DEVELOPER, "INBOX", 2, WAIT).await;
    let ack = answer_to(&dev, pack.id());
    let acks: Vec<&Vec<u8>> = dev
        .iter()
        .filter(|m| subject(m).contains("received"))
        .collect();
    assert_eq!(acks.len(), 1, "{:?}", support::subjects(&dev));
    assert_eq!(reference(&subject(acks[0])), case, "the same case moved on");
    assert!(header(ack, "References").contains(pack.id().trim_matches(['<', '>'])));
    let emel1 = servers.wait_for(SIGNEE, "INBOX", 1, WAIT).await;
    assert_eq!(reference(&subject(&emel1[0])), case);
    servers.wait_for(VERIFIER, "INBOX", 1, WAIT).await;
    let processed = servers.wait_for(RA_ADDRESS, "Processed", 2, WAIT).await;
    assert_eq!(processed.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_names_the_case_and_strangers_and_robots_get_nothing() {
    let servers = MailServers::start();
    let _sijil = Daemon::start(&servers);
    let first = Pack::mykad_valid();
    send(&servers, &first).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let case = reference(&subject(answer_to(&dev, first.id())));

    let again = Pack::mykad_valid();
    let stranger = Pack::unknown_sender();
    let away = Pack::auto_reply();
    for pack in [&again, &stranger, &away] {
        send(&servers, pack).await;
    }
    let dev = servers.wait_for(DEVELOPER, "INBOX", 2, WAIT).await;
    let duplicate = answer_to(&dev, again.id());
    assert_eq!(
        reference(&subject(duplicate)),
        case,
        "the reply names the existing case"
    );
    servers.wait_for(RA_ADDRESS, "Rejected", 1, WAIT).await;
    let quarantined = servers.wait_for(RA_ADDRESS, "Quarantine", 2, WAIT).await;
    let ids: BTreeSet<String> = quarantined
        .iter()
        .map(|m| header(m, "Message-ID"))
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([stranger.id().to_string(), away.id().to_string()])
    );

    // A last valid pack, answered after the others were filed: by then any
    // answer to the stranger or the robot would have been sent too.
    let last = Pack::passport_foreigner();
    send(&servers, &last).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 3, WAIT).await;
    answer_to(&dev, last.id());
    assert_eq!(dev.len(), 3, "{:?}", support::subjects(&dev));
    assert!(servers.messages(STRANGER, "INBOX").await.is_empty());
    assert_eq!(
        servers.wait_for(SIGNEE, "INBOX", 1, WAIT).await.len(),
        1,
        "one EMEL 1 only"
    );
}

/// A backlog of packs already in the mailbox; the daemon is killed (SIGKILL)
/// in the middle of it and started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_backlog_loses_and_doubles_nothing() {
    const N: usize = 40;
    let servers = MailServers::start();
    let packs: Vec<Pack> = (0..N)
        .map(|i| {
            Pack::mykad_valid()
                .field(
                    "Rujukan eSPA / eSPA Reference",
                    &format!("HDA-2026-{:06}", 500 + i),
                )
                .field("Emel / Email", &format!("signee{i}@buyer.example.com"))
        })
        .collect();
    for pack in &packs {
        servers.append(RA_ADDRESS, "INBOX", &pack.build()).await;
    }
    let mut sijil = Daemon::start(&servers);
    servers.wait_for(RA_ADDRESS, "Processed", 8, WAIT).await;
    sijil.kill();
    sijil.spawn_and_wait();
    servers
        .wait_for(RA_ADDRESS, "Processed", N, Duration::from_secs(90))
        .await;
    // A kill right after SMTP accepted an ACK resends it (same Message-ID):
    // wait for N answered packs, not N messages.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let dev = loop {
        let dev = servers.messages(DEVELOPER, "INBOX").await;
        let answered: BTreeSet<String> = dev.iter().map(|m| header(m, "In-Reply-To")).collect();
        if answered.len() >= N {
            break dev;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {N} answered",
            answered.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(servers.messages(RA_ADDRESS, "INBOX").await.is_empty());
    assert!(sijil.stop().success());

    // Every pack answered by exactly one decision (one distinct Message-ID)
    // and every case distinct.
    let mut answers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut cases = BTreeSet::new();
    for m in &dev {
        answers
            .entry(header(m, "In-Reply-To"))
            .or_default()
            .insert(header(m, "Message-ID"));
        cases.insert(reference(&subject(m)));
    }
    assert_eq!(answers.len(), N, "every pack answered");
    assert!(
        answers.values().all(|ids| ids.len() == 1),
        "a pack answered twice: {answers:?}"
    );
    assert_eq!(cases.len(), N, "one case per pack");
    // One EMEL 1 per signee; like an ACK, it may arrive twice with the same
    // Message-ID when the kill came right after Postfix accepted it.
    for i in [0, N / 2, N - 1] {
        let emel1: BTreeSet<String> = servers
            .messages(&format!("signee{i}@buyer.example.com"), "INBOX")
            .await
            .iter()
            .map(|m| header(m, "Message-ID"))
            .collect();
        assert_eq!(emel1.len(), 1, "signee {i}: {emel1:?}");
    }
}

/// A real bounce: Postfix accepts EMEL 1 for the signee, cannot deliver it,
/// and returns a delivery report to the RA mailbox. sijil records it on the
/// case and tells the developer and the verifier; the report itself is
/// never answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounced_emel1_is_recorded_and_the_developer_and_verifier_told() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    let signee = format!("ali@{}", support::BOUNCING_DOMAIN);
    let pack = Pack::mykad_valid().field("Emel / Email", &signee);
    send(&servers, &pack).await;

    // ACK, then the bounce notice.
    let dev = servers.wait_for(DEVELOPER, "INBOX", 2, WAIT).await;
    let case = reference(&subject(answer_to(&dev, pack.id())));
    let notice = dev
        .iter()
        .find(|m| subject(m).contains("bounced"))
        .unwrap_or_else(|| panic!("no bounce notice: {:?}", support::subjects(&dev)));
    assert_eq!(reference(&subject(notice)), case);
    assert!(text(notice).contains(&signee));
    let staff = servers.wait_for(VERIFIER, "INBOX", 2, WAIT).await;
    assert!(staff.iter().any(|m| subject(m).contains("bounced")));

    let report = servers.wait_for(RA_ADDRESS, "Processed", 2, WAIT).await;
    assert!(
        report
            .iter()
            .any(|m| header(m, "Content-Type").contains("multipart/report"))
    );
    assert!(sijil.stop().success());
    let store = sijil::edge::store::Store::open(&sijil.dir.join("store/sijil.db")).unwrap();
    let history = store.history(&case).unwrap();
    assert!(
        history.iter().any(|e| matches!(&e.what,
            sijil::core::case::EventKind::DeliveryFailed { recipient, .. } if *recipient == signee)),
        "{history:?}"
    );
}

/// A power cut can keep what the store wrote and lose the documents' bytes:
/// the store's log may reach the disk before the batch's barrier does. The
/// message is filed only after that barrier, so it is then still in the
/// inbox. When it is read again, nothing is decided or sent twice, and the
/// case's documents are written again from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_lost_to_a_power_cut_are_written_again_from_the_unfiled_message() {
    let servers = MailServers::start();
    let pack = Pack::mykad_valid();
    let raw = pack.build();
    servers.append(RA_ADDRESS, "INBOX", &raw).await;
    let mut sijil = Daemon::start(&servers);
    servers.wait_for(RA_ADDRESS, "Processed", 1, WAIT).await;
    servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    assert!(sijil.stop().success());

    let db = sijil.config_path().parent().unwrap().join("store/sijil.db");
    let documents = db.with_extension("db.documents");
    let mut segments = 0;
    for entry in std::fs::read_dir(&documents).unwrap() {
        let segment = std::fs::OpenOptions::new()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        segment.set_len(0).unwrap();
        segments += 1;
    }
    assert!(segments > 0, "the pack's documents were stored");
    servers.append(RA_ADDRESS, "INBOX", &raw).await;
    sijil.spawn_and_wait();
    servers.wait_for(RA_ADDRESS, "Processed", 2, WAIT).await;
    assert!(sijil.stop().success());

    assert!(sijil.log().contains("already handled"), "{}", sijil.log());
    assert_eq!(
        support::check_documents(&db),
        4,
        "form, MyKad front and back, LOA"
    );
    assert_eq!(
        servers.messages(DEVELOPER, "INBOX").await.len(),
        1,
        "one ACK"
    );
    assert_eq!(
        servers.messages(SIGNEE, "INBOX").await.len(),
        1,
        "one EMEL 1"
    );
}
