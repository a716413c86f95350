//! eSPA registration by email on the real servers (SPEC §3, issue 18):
//! a good registration is acknowledged to the developer with the
//! document's SHA-256 and every `idsaya` signee gets EMEL 0 from the HIMS
//! address; registrations with a gap in the order, a repeated address, no
//! PDF or a ZIP named `.pdf` are answered naming the codes and change
//! nothing; a second registration of the same reference is refused naming
//! it; the developer's `STATUS` on the eSPA thread is answered.

mod support;

use std::time::Duration;

use sha2::{Digest, Sha256};
use support::packs::{pdf, zip};
use support::{
    DEVELOPER, Daemon, ESPA_REF, FOREIGN_SIGNEE, HIMS_ADDRESS, MailServers, Pack, RA_ADDRESS,
    SIGNEE, parse, subject,
};

const WAIT: Duration = Duration::from_secs(30);
const OTHER_REF: &str = "HDA-2026-000999";

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

/// The one message in `mailbox` answering the message `id`.
fn answer_to<'a>(mailbox: &'a [Vec<u8>], id: &str) -> &'a Vec<u8> {
    let found: Vec<&Vec<u8>> = mailbox
        .iter()
        .filter(|m| header(m, "In-Reply-To").contains(id.trim_matches(['<', '>'])))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", support::subjects(mailbox));
    found[0]
}

async fn send(servers: &MailServers, pack: &Pack) {
    servers
        .send(&pack.build(), pack.sender_address(), &[RA_ADDRESS])
        .await;
}

/// The SPEC's registration under another reference, so a refused one can
/// never be mistaken for the good one.
fn other() -> Pack {
    Pack::espa_registration()
        .subject(&format!("Daftar eSPA {OTHER_REF}"))
        .field("Rujukan eSPA / eSPA Reference", OTHER_REF)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_ack_emel0_refusals_duplicate_and_status() {
    let servers = MailServers::start();
    let _sijil = Daemon::start(&servers);

    // A good registration.
    let good = Pack::espa_registration();
    let document = pdf(&format!("Perjanjian Jual Beli {ESPA_REF}"));
    let sha256 = hex::encode(Sha256::digest(&document));
    send(&servers, &good).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let ack = answer_to(&dev, good.id());
    let tag = format!("[eSPA {ESPA_REF}]");
    assert!(subject(ack).starts_with(&tag), "{}", subject(ack));
    assert!(subject(ack).contains("eSPA registered"), "{}", subject(ack));
    let body = text(ack);
    assert!(body.contains(&sha256), "{body}");
    for want in [
        "1. Pemaju (Developer)",
        "2. Pembeli (Buyer) — Ali bin Abu",
        "4. Tuan Tanah (Landowner) — James Edward Smith",
        "laluan / route manual",
        "menunggu / waiting",
    ] {
        assert!(body.contains(want), "{want}:\n{body}");
    }
    for signee in ["lim@developer.my", "siti@example.com"] {
        let got = servers.wait_for(signee, "INBOX", 1, WAIT).await;
        let emel0 = &got[0];
        assert_eq!(from(emel0), HIMS_ADDRESS, "EMEL 0 from the HIMS address");
        assert!(subject(emel0).starts_with(&tag), "{}", subject(emel0));
        assert!(subject(emel0).contains("iDsaya"), "{}", subject(emel0));
        assert!(header(emel0, "In-Reply-To").contains(good.id().trim_matches(['<', '>'])));
        assert!(text(emel0).contains(&sha256));
        assert!(text(emel0).contains("manual"), "what to do if eKYC fails");
    }

    // Refusals: each answered naming its code, nothing registered.
    let gap = other().without_line("3. Saksi");
    let repeated = other()
        .without_line("3. Saksi")
        .line(&format!("3. Saksi | Siti binti Ahmad | {SIGNEE} | idsaya"));
    let no_pdf = other().without_attachments();
    let liar = other().without_attachments().attachment(
        &format!("eSPA {OTHER_REF}.pdf"),
        zip(),
        "application/pdf",
    );
    let refusals = [
        (&gap, "ORDER_GAP"),
        (&repeated, "SIGNEE_EMAIL_REPEATED"),
        (&no_pdf, "PDF_MISSING"),
        (&liar, "ATTACHMENT_NOT_PDF"),
    ];
    for (n, (pack, code)) in refusals.iter().enumerate() {
        send(&servers, pack).await;
        let dev = servers.wait_for(DEVELOPER, "INBOX", 2 + n, WAIT).await;
        let answer = answer_to(&dev, pack.id());
        assert!(
            subject(answer).contains("eSPA registration not accepted"),
            "{}",
            subject(answer)
        );
        assert!(!subject(answer).contains("[eSPA"), "no thread to reply on");
        let body = text(answer);
        assert!(body.contains(code), "{code}:\n{body}");
    }

    // The same reference again: refused, naming it.
    let again = Pack::espa_registration();
    send(&servers, &again).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 6, WAIT).await;
    let answer = text(answer_to(&dev, again.id()));
    assert!(answer.contains("ESPA_EXISTS"), "{answer}");
    assert!(answer.contains(&format!("The eSPA {ESPA_REF} is already registered")));

    // STATUS on the eSPA thread.
    let status = Pack::reply(&subject(ack), &header(ack, "Message-ID"), "STATUS");
    send(&servers, &status).await;
    let dev = servers.wait_for(DEVELOPER, "INBOX", 7, WAIT).await;
    let answer = answer_to(&dev, status.id());
    assert!(subject(answer).starts_with(&tag), "{}", subject(answer));
    assert!(
        subject(answer).contains("eSPA status"),
        "{}",
        subject(answer)
    );
    let body = text(answer);
    assert!(
        body.contains(FOREIGN_SIGNEE) && body.contains(&sha256),
        "{body}"
    );
    assert!(body.contains("Sejarah / History"), "{body}");

    // Refusals and the duplicate went to Rejected, the rest to Processed.
    servers.wait_for(RA_ADDRESS, "Rejected", 5, WAIT).await;
    servers.wait_for(RA_ADDRESS, "Processed", 2, WAIT).await;
    assert!(servers.messages(RA_ADDRESS, "Quarantine").await.is_empty());
    // Nobody but the idsaya signees got EMEL 0: the manual ones nothing.
    assert!(servers.messages(SIGNEE, "INBOX").await.is_empty());
    assert!(servers.messages(FOREIGN_SIGNEE, "INBOX").await.is_empty());
}
