//! Proves the test harness itself (tests/support), without sijil's daemon: real Postfix delivers
//! to real Dovecot for any address, IMAP helpers read and write mailboxes, outages can be
//! simulated, TLS works with the harness CA, two instances coexist, and packs are well-formed.

mod support;

use std::sync::Arc;
use std::time::Duration;

use mail_parser::MimeHeaders;

use support::process::group_members;
use support::{
    DEVELOPER, Daemon, MailServers, PASSWORD, Pack, RA_ADDRESS, REJECTING_DOMAIN, SIGNEE,
    TEMPFAIL_DOMAIN, VERIFIER, parse,
};

const WAIT: Duration = Duration::from_secs(20);

fn simple(subject: &str) -> Vec<u8> {
    Pack::new(subject).line("hello").build()
}

#[tokio::test]
async fn smtp_delivers_to_each_address_by_imap() {
    let servers = MailServers::start();
    let raw = simple("two recipients");
    servers.send(&raw, DEVELOPER, &[RA_ADDRESS, SIGNEE]).await;
    servers
        .send(&simple("second, to one"), VERIFIER, &[SIGNEE])
        .await;

    let ra = servers.wait_for(RA_ADDRESS, "INBOX", 1, WAIT).await;
    let signee = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    assert_eq!(ra.len(), 1);
    assert_eq!(parse(&ra[0]).subject(), Some("two recipients"));
    let subjects = support::subjects(&signee);
    assert_eq!(subjects, ["two recipients", "second, to one"]);
    // Postfix passes the message through unaltered apart from its trace headers.
    assert!(ra[0].ends_with(&raw), "{}", String::from_utf8_lossy(&ra[0]));
    assert!(servers.messages(VERIFIER, "INBOX").await.is_empty());
}

#[tokio::test]
async fn append_then_messages_round_trips_and_folders_are_listed() {
    let servers = MailServers::start();
    let raw = Pack::mykad_valid().build();
    servers.append(RA_ADDRESS, "INBOX", &raw).await;
    servers.append(RA_ADDRESS, "Backlog", &raw).await;
    assert_eq!(
        servers.messages(RA_ADDRESS, "INBOX").await,
        vec![raw.clone()]
    );
    assert_eq!(servers.messages(RA_ADDRESS, "Backlog").await, vec![raw]);
    assert!(servers.messages(RA_ADDRESS, "Nonexistent").await.is_empty());
    assert_eq!(
        servers.folder_names(RA_ADDRESS).await,
        ["Backlog".to_string(), "INBOX".to_string()]
    );
    // Reading did not mark anything \Seen: the daemon will still find the message unseen.
    let mut s = servers.imap(RA_ADDRESS).await;
    s.select("INBOX").await.unwrap();
    let unseen = s.search("UNSEEN").await.unwrap();
    assert_eq!(unseen.len(), 1);
}

#[tokio::test]
async fn uidvalidity_can_be_changed_under_a_folder() {
    let servers = MailServers::start();
    servers.append(RA_ADDRESS, "INBOX", &simple("one")).await;
    let mut s = servers.imap(RA_ADDRESS).await;
    let before = s.examine("INBOX").await.unwrap().uid_validity.unwrap();
    s.logout().await.unwrap();
    let new = servers.change_uidvalidity(RA_ADDRESS, "INBOX");
    let mut s = servers.imap(RA_ADDRESS).await;
    let after = s.examine("INBOX").await.unwrap();
    assert_ne!(before, new);
    assert_eq!(after.uid_validity, Some(new));
    assert_eq!(after.exists, 1);
}

#[tokio::test]
async fn imap_advertises_idle_and_any_user_logs_in() {
    let servers = MailServers::start();
    assert_eq!(servers.password, PASSWORD);
    let mut s = servers.imap("Mixed.Case@Example.ORG").await;
    let caps = s.capabilities().await.unwrap();
    assert!(caps.has_str("IDLE"), "IDLE not advertised");
    assert!(servers.try_imap(RA_ADDRESS).await.map(|_| ()).is_ok());
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let servers = MailServers::start();
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", servers.imap_port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(stream);
    client.read_response().await.unwrap();
    assert!(client.login(RA_ADDRESS, "wrong").await.is_err());
}

#[tokio::test]
async fn smtp_outage_then_restart_still_delivers() {
    let servers = MailServers::start();
    servers
        .send(&simple("before"), DEVELOPER, &[RA_ADDRESS])
        .await;
    servers.wait_for(RA_ADDRESS, "INBOX", 1, WAIT).await;

    servers.stop_smtp();
    assert!(
        servers
            .try_send(&simple("during"), DEVELOPER, &[RA_ADDRESS])
            .await
            .is_err(),
        "SMTP still accepted mail while stopped"
    );
    servers.start_smtp();
    servers
        .send(&simple("after"), DEVELOPER, &[RA_ADDRESS])
        .await;
    let got = servers.wait_for(RA_ADDRESS, "INBOX", 2, WAIT).await;
    assert_eq!(support::subjects(&got), ["before", "after"]);
}

#[tokio::test]
async fn imap_outage_queues_mail_and_delivers_after_restart() {
    let servers = MailServers::start();
    servers.append(RA_ADDRESS, "INBOX", &simple("kept")).await;
    servers.stop_imap();
    assert!(servers.try_imap(RA_ADDRESS).await.is_err());
    // Postfix accepts and queues while LMTP is down...
    servers
        .send(&simple("queued"), DEVELOPER, &[RA_ADDRESS])
        .await;
    servers.start_imap();
    // ...and retries within seconds once Dovecot is back; earlier mail survived.
    let got = servers.wait_for(RA_ADDRESS, "INBOX", 2, WAIT).await;
    assert_eq!(support::subjects(&got), ["kept", "queued"]);
}

#[tokio::test]
async fn test_domains_refuse_at_rcpt() {
    let servers = MailServers::start();
    let permanent = servers
        .try_send(
            &simple("x"),
            DEVELOPER,
            &[&format!("nobody@{REJECTING_DOMAIN}")],
        )
        .await
        .unwrap_err();
    assert!(permanent.to_string().contains("550"), "{permanent}");
    let temporary = servers
        .try_send(
            &simple("x"),
            DEVELOPER,
            &[&format!("nobody@{TEMPFAIL_DOMAIN}")],
        )
        .await
        .unwrap_err();
    assert!(temporary.to_string().contains("451"), "{temporary}");
    // The null sender (bounces) is accepted.
    servers.send(&simple("bounce"), "", &[RA_ADDRESS]).await;
    servers.wait_for(RA_ADDRESS, "INBOX", 1, WAIT).await;
}

#[tokio::test]
async fn implicit_tls_imap_and_smtp_starttls_use_the_harness_ca() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let servers = MailServers::start();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&servers.ca_cert_path).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", servers.imaps_port))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut greeting = [0u8; 4];
    tls.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"* OK");

    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", servers.smtp_port))
        .await
        .unwrap();
    let mut smtp = BufReader::new(tcp);
    let mut line = String::new();
    smtp.read_line(&mut line).await.unwrap();
    smtp.get_mut().write_all(b"EHLO test\r\n").await.unwrap();
    let mut ehlo = String::new();
    loop {
        line.clear();
        smtp.read_line(&mut line).await.unwrap();
        ehlo.push_str(&line);
        if line.starts_with("250 ") {
            break;
        }
    }
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
}

#[tokio::test]
async fn two_instances_run_at_once_and_drop_cleans_up() {
    let a = MailServers::start();
    let b = MailServers::start();
    assert_ne!(a.smtp_port, b.smtp_port);
    assert_ne!(a.imap_port, b.imap_port);
    a.send(&simple("to a"), DEVELOPER, &[RA_ADDRESS]).await;
    b.send(&simple("to b"), DEVELOPER, &[RA_ADDRESS]).await;
    let got_a = a.wait_for(RA_ADDRESS, "INBOX", 1, WAIT).await;
    let got_b = b.wait_for(RA_ADDRESS, "INBOX", 1, WAIT).await;
    assert_eq!(support::subjects(&got_a), ["to a"]);
    assert_eq!(support::subjects(&got_b), ["to b"]);

    let dir = a.dir.clone();
    let postfix_master: u32 = std::fs::read_to_string(dir.join("postfix/queue/pid/master.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dovecot_master: u32 = std::fs::read_to_string(dir.join("dovecot/run/master.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!group_members(postfix_master).is_empty());
    drop(a);
    assert!(!dir.exists(), "temp dir left behind");
    assert!(
        group_members(postfix_master).is_empty(),
        "postfix left running"
    );
    assert!(
        group_members(dovecot_master).is_empty(),
        "dovecot left running"
    );
    // The other instance is untouched.
    b.send(&simple("b again"), DEVELOPER, &[RA_ADDRESS]).await;
    b.wait_for(RA_ADDRESS, "INBOX", 2, WAIT).await;
}

#[test]
fn packs_are_well_formed_mime() {
    let pack = Pack::mykad_valid()
        .field("Phone", "+8613800138000")
        .field("Catatan / Note", "baru")
        .without_attachment("MyKad belakang")
        .attachment("Borang.pdf", support::packs::zip(), "application/pdf")
        .in_reply_to("<parent@seriindah.my>");
    assert_eq!(pack.field_value("Telefon / Phone"), Some("+8613800138000"));
    let raw = pack.build();
    let msg = parse(&raw);
    assert_eq!(
        msg.subject(),
        Some("Permohonan Sijil Digital - Ali bin Abu")
    );
    assert_eq!(msg.in_reply_to().as_text(), Some("parent@seriindah.my"));
    let text = msg.body_text(0).unwrap();
    assert!(text.contains("Telefon / Phone: +8613800138000"), "{text}");
    assert!(text.contains("No. Pengenalan / ID Number: 900101-14-5673"));
    let note = text.find("Catatan / Note: baru").unwrap();
    assert!(
        note < text.find("Terima kasih").unwrap(),
        "new field after the greeting"
    );
    let names: Vec<_> = msg
        .attachments()
        .filter_map(|a| a.attachment_name())
        .collect();
    assert_eq!(
        names,
        [
            "Borang Permohonan PDF Signing Certificate (AATL).pdf",
            "MyKad depan.jpg",
            "Letter of Authorisation.pdf",
            "Borang.pdf"
        ]
    );
    let bytes: Vec<_> = msg.attachments().map(|a| a.contents().to_vec()).collect();
    assert!(bytes[0].starts_with(b"%PDF-"));
    assert_eq!(bytes[1], support::packs::jpeg());
    assert!(bytes[3].starts_with(b"PK\x03\x04"));

    let foreigner = parse_owned(Pack::passport_foreigner().build());
    assert!(foreigner.contains("Sebab / Reason: WARGA_ASING"));
    let auto = Pack::auto_reply().build();
    assert_eq!(
        parse(&auto).header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(
        parse(&auto)
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address()),
        Some(DEVELOPER)
    );
    let odd = Pack::unknown_sender()
        .subject("Permohonan — Siti")
        .attachment("kad pengenalan ñ.jpg", support::packs::jpeg(), "image/jpeg")
        .html_only()
        .build();
    let odd = parse(&odd);
    assert_eq!(odd.subject(), Some("Permohonan — Siti"));
    assert_eq!(
        odd.attachments().next().and_then(|a| a.attachment_name()),
        Some("kad pengenalan ñ.jpg")
    );
    assert!(odd.body_html(0).is_some());
    let registration = parse_owned(Pack::espa_registration().build());
    assert!(registration.contains("2. Pembeli | Ali bin Abu | ali@buyer.example.com | manual"));
}

fn parse_owned(raw: Vec<u8>) -> String {
    parse(&raw).body_text(0).unwrap().into_owned()
}

#[tokio::test]
async fn daemon_config_is_written_for_the_servers() {
    let servers = MailServers::start();
    let daemon = Daemon::configure(&servers, |cfg| {
        cfg["security"]["require_authenticated_sender"] = true.into();
    });
    let text = std::fs::read_to_string(daemon.config_path()).unwrap();
    let cfg: toml::Table = text.parse().unwrap();
    assert_eq!(
        cfg["mailbox"]["port"].as_integer(),
        Some(i64::from(servers.imap_port))
    );
    assert_eq!(
        cfg["outbound"]["port"].as_integer(),
        Some(i64::from(servers.smtp_port))
    );
    assert_eq!(cfg["mailbox"]["username"].as_str(), Some(RA_ADDRESS));
    assert_eq!(
        cfg["security"]["require_authenticated_sender"].as_bool(),
        Some(true)
    );
    let pass = cfg["mailbox"]["password_file"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(pass).unwrap().trim(),
        servers.password
    );
    assert!(daemon.dir.starts_with(&servers.dir));
    assert_eq!(cfg["staff"].as_array().map(Vec::len), Some(3));
    // The mailbox account the daemon will use really logs in.
    let mut s = servers
        .imap(cfg["mailbox"]["username"].as_str().unwrap())
        .await;
    s.noop().await.unwrap();
}
