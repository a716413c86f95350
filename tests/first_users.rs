//! What the first users' mail does on real servers (issue #15): an HTML-only
//! pack as Outlook writes it, with the signee's address and phone made into
//! links, is read as a person reads it; a signee iDsaya serves is told they
//! are not eligible, the case is closed as rejected and the pack filed to
//! Rejected.

mod support;

use std::time::Duration;

use support::{DEVELOPER, Daemon, MailServers, Pack, RA_ADDRESS, SIGNEE, packs, parse, subject};

const WAIT: Duration = Duration::from_secs(30);

fn text(raw: &[u8]) -> String {
    parse(raw).body_text(0).unwrap_or_default().to_string()
}

fn in_reply_to(raw: &[u8]) -> String {
    parse(raw)
        .header_raw("In-Reply-To")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The case reference in a subject, e.g. `SJL-2026-000001`.
fn reference(subject: &str) -> String {
    let re = regex::Regex::new(r"\[(SJL-\d{4}-\d{6})\]").expect("constant regex");
    re.captures(subject)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no case reference in {subject:?}"))
}

async fn send(servers: &MailServers, pack: &Pack) {
    servers
        .send(&pack.build(), pack.sender_address(), &[RA_ADDRESS])
        .await;
}

/// The SPEC pack as Outlook writes it: `MsoNormal` paragraphs, `&nbsp;`
/// after each label, the address a `mailto:` link and the phone a `tel:`
/// link.
fn outlook_html() -> String {
    let line = |label: &str, value: &str| {
        format!("<p class=\"MsoNormal\"><b>{label}:</b>&nbsp;{value}<o:p></o:p></p>\r\n")
    };
    let mut html = String::from(
        "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head>\
         <meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\"></head>\
         <body lang=\"EN-MY\"><div class=\"WordSection1\">\r\n\
         <p class=\"MsoNormal\">Tuan/Puan,<o:p></o:p></p>\r\n",
    );
    for (label, value) in [
        ("Rujukan eSPA / eSPA Reference", packs::ESPA_REF.to_string()),
        ("Turutan / Signing Order", "2".into()),
        ("Nama Penuh / Full Name", "Ali bin Abu".into()),
        ("Jenis Pengenalan / ID Type", "MyKad".into()),
        ("No. Pengenalan / ID Number", "900101-14-5673".into()),
        ("Warganegara / Nationality", "Malaysia".into()),
        (
            "Emel / Email",
            format!(
                "<a href=\"mailto:{SIGNEE}\"><span style=\"color:#0563C1\">{SIGNEE}</span></a>"
            ),
        ),
        (
            "Telefon / Phone",
            "<a href=\"tel:+971501234567\">+971&nbsp;50&nbsp;123&nbsp;4567</a>".into(),
        ),
        ("Peranan / Role", "Pembeli".into()),
        ("Sebab / Reason", "LUAR_NEGARA".into()),
    ] {
        html.push_str(&line(label, &value));
    }
    html.push_str("<p class=\"MsoNormal\">Terima kasih.<o:p></o:p></p></div></body></html>");
    html
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outlook_html_pack_with_linked_address_and_phone_is_accepted() {
    let servers = MailServers::start();
    let _sijil = Daemon::start(&servers);
    let pack = Pack::mykad_valid().html_body(&outlook_html());
    send(&servers, &pack).await;

    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let ack = &dev[0];
    assert!(
        subject(ack).contains("Application received"),
        "{}\n{}",
        subject(ack),
        text(ack)
    );
    assert!(text(ack).contains(SIGNEE), "{}", text(ack));
    assert!(
        !text(ack).contains("[ali"),
        "no link brackets in the details"
    );
    let case = reference(&subject(ack));

    let signee = servers.wait_for(SIGNEE, "INBOX", 1, WAIT).await;
    assert_eq!(
        reference(&subject(&signee[0])),
        case,
        "EMEL 1 reached the link's address"
    );
    assert!(
        text(&signee[0]).contains("+971501234567"),
        "{}",
        text(&signee[0])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signee_idsaya_serves_is_told_not_eligible_and_the_case_is_rejected() {
    let servers = MailServers::start();
    let mut sijil = Daemon::start(&servers);
    let pack = Pack::passport_foreigner()
        .field("Turutan / Signing Order", "5")
        .field("No. Pengenalan / ID Number", "E12345678")
        .field("Warganegara / Nationality", "China")
        .field("Emel / Email", "wang.wei@mail.example.cn")
        .field("Telefon / Phone", "+86 138 0013 8000");
    send(&servers, &pack).await;

    let dev = servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await;
    let answer = &dev[0];
    assert!(in_reply_to(answer).contains(pack.id().trim_matches(['<', '>'])));
    let subject = subject(answer);
    assert!(
        subject.contains("Tidak layak") && subject.contains("Not eligible"),
        "{subject}"
    );
    assert!(!subject.contains("incomplete"), "{subject}");
    let body = text(answer);
    for needle in [
        "tidak layak",
        "not eligible",
        "PHONE_IDSAYA_COUNTRY",
        "iDsaya",
        "send a new application with the correct details",
    ] {
        assert!(body.contains(needle), "{needle} missing from:\n{body}");
    }
    assert!(!body.contains("How to correct"), "{body}");
    let case = reference(&subject);

    let rejected = servers.wait_for(RA_ADDRESS, "Rejected", 1, WAIT).await;
    assert!(
        String::from_utf8_lossy(&rejected[0]).contains(pack.id()),
        "the pack is filed to Rejected"
    );
    assert!(
        servers
            .messages("wang.wei@mail.example.cn", "INBOX")
            .await
            .is_empty()
    );

    sijil.stop();
    let out = sijil.command(&["case", &case]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains("rejected"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.contains("rejected: ") && l.contains("PHONE_IDSAYA_COUNTRY")),
        "the reason is in the history:\n{shown}"
    );
}
