//! The SMTP transport against a real Postfix (tests/support): a rendered
//! message is delivered intact over STARTTLS and plain SMTP; a 5xx refusal is
//! permanent; a 4xx refusal, a server that is away, and TLS trouble are
//! transient; the connection pool recovers once the server is back. Postfix offers PIPELINING
//! on all but one port, so most of these go pipelined; that one port gets one command at a time.

mod support;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;

use sijil::config::{Address, OutboundConfig, SmtpConfig, TlsMode};
use sijil::core::email::{Email, FromAddress, Recipient, Template, Thread};
use sijil::edge::render::{RenderedEmail, Renderer, message_id_for};
use sijil::edge::transport::{SendError, Transport};
use support::{
    DEVELOPER, MailServers, RA_ADDRESS, REJECTING_DOMAIN, SIGNEE, TEMPFAIL_DOMAIN, parse,
};

const WAIT: Duration = Duration::from_secs(20);

/// EMEL 1 to `to`, rendered as the daemon would.
fn rendered(to: &str, seed: &str) -> RenderedEmail {
    let email = Email {
        template: Template::Emel1,
        from: FromAddress::Ra,
        to: vec![Recipient {
            name: Some("Ali bin Abu".into()),
            email: to.into(),
        }],
        case_ref: Some("SJL-2026-000042".into()),
        thread: Thread {
            in_reply_to: Some("pack-42@seriindah.my".into()),
            references: Vec::new(),
        },
        context: json!({
            "ref": "SJL-2026-000042",
            "company": "Seri Indah Development Sdn Bhd",
            "signee": { "name": "Ali bin Abu", "phone": "+971501234567", "role": "Pembeli",
                        "role_en": "Buyer", "espa_ref": "HDA-2026-000123" },
            "documents": [ { "kind_ms": "Borang Permohonan", "kind_en": "Application form",
                             "name": "Borang.pdf" } ]
        }),
    };
    let from = Address {
        name: Some("POS Digicert RA".into()),
        email: RA_ADDRESS.into(),
    };
    let id = message_id_for("ra.example.my", &[7; 32], seed.as_bytes());
    let date = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
    Renderer::new()
        .unwrap()
        .render(&email, &from, &id, date)
        .unwrap()
}

fn transport(servers: &MailServers, tls: TlsMode, with_ca: bool) -> Transport {
    transport_on(servers.smtp_port, servers, tls, with_ca)
}

fn transport_on(port: u16, servers: &MailServers, tls: TlsMode, with_ca: bool) -> Transport {
    Transport::from_config(&OutboundConfig::Smtp(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls,
        username: None,
        password: None,
        tls_ca_file: with_ca.then(|| servers.ca_cert_path.clone()),
    }))
    .unwrap()
}

async fn send(t: &Transport, m: &RenderedEmail) -> Result<(), SendError> {
    t.send(&m.envelope_from, &m.envelope_to, &m.bytes).await
}

/// Sends `m` to the test domain that refuses every recipient: a 550 at RCPT, which is a
/// refusal for good, with its code.
async fn refused_at_rcpt(t: &Transport, m: &RenderedEmail) {
    let refused = format!("nobody@{REJECTING_DOMAIN}");
    match t.send(RA_ADDRESS, &[refused], &m.bytes).await {
        Err(SendError::Refused { code, reason }) => {
            assert_eq!(code, "550");
            assert!(reason.contains("550"), "{reason}");
        }
        other => panic!("550 at RCPT must be permanent, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_delivers_and_refusals_are_classified() {
    let servers = MailServers::start();
    let t = transport(&servers, TlsMode::StartTls, true);

    let first = rendered(SIGNEE, "m1");
    send(&t, &first).await.unwrap();
    // The second goes over the pooled connection.
    send(&t, &rendered(DEVELOPER, "m2")).await.unwrap();

    refused_at_rcpt(&t, &first).await;
    let deferred = format!("nobody@{TEMPFAIL_DOMAIN}");
    match t.send(RA_ADDRESS, &[deferred], &first.bytes).await {
        Err(SendError::Transient(why)) => assert!(why.contains("451"), "{why}"),
        other => panic!("451 at RCPT must be transient, got {other:?}"),
    }
    // A refusal does not poison the pool.
    send(&t, &rendered(SIGNEE, "m3")).await.unwrap();

    let inbox = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    assert_eq!(inbox.len(), 2);
    // Postfix only prepends its trace headers: the message arrives byte for byte.
    // Postfix may deliver the two in either order.
    let arrived = inbox
        .iter()
        .find(|raw| raw.ends_with(&first.bytes))
        .expect("message altered in transit");
    let m = parse(arrived);
    assert_eq!(m.message_id(), Some(first.message_id.as_str()));
    assert_eq!(m.subject(), Some(first.subject.as_str()));
    assert!(first.subject.starts_with("[SJL-2026-000042] "));
    assert_eq!(
        m.header("Auto-Submitted").and_then(|v| v.as_text()),
        Some("auto-generated")
    );
    assert!(m.body_text(0).unwrap().contains("+971501234567"));
    assert_eq!(servers.wait_for(DEVELOPER, "INBOX", 1, WAIT).await.len(), 1);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_smtp_delivers_and_tls_trouble_is_transient() {
    let servers = MailServers::start();

    let plain = transport(&servers, TlsMode::None, false);
    send(&plain, &rendered(SIGNEE, "plain")).await.unwrap();
    assert_eq!(servers.wait_for(SIGNEE, "INBOX", 1, WAIT).await.len(), 1);

    // The server's certificate is signed by the test CA, which is not trusted
    // without tls_ca_file: the handshake fails, and that is worth retrying
    // (the operator fixes the configuration), never a permanent refusal.
    let untrusted = transport(&servers, TlsMode::StartTls, false);
    match send(&untrusted, &rendered(SIGNEE, "untrusted")).await {
        Err(SendError::Transient(_)) => {}
        other => panic!("untrusted certificate must be transient, got {other:?}"),
    }
    // Implicit TLS against a port that speaks plain SMTP first.
    let wrong_mode = transport(&servers, TlsMode::Tls, true);
    match send(&wrong_mode, &rendered(SIGNEE, "wrong-mode")).await {
        Err(SendError::Transient(_)) => {}
        other => panic!("a TLS handshake failure must be transient, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers_and_reuses_its_connection() {
    let servers = MailServers::start();
    let smtps = transport_on(servers.smtps_port, &servers, TlsMode::Tls, true);
    send(&smtps, &rendered(SIGNEE, "smtps-1")).await.unwrap();
    send(&smtps, &rendered(SIGNEE, "smtps-2")).await.unwrap();
    let inbox = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    assert_eq!(inbox.len(), 2);
    // Postfix notes TLS in its Received header: the mail really went over TLS.
    for raw in &inbox {
        let text = String::from_utf8_lossy(raw);
        assert!(
            text.contains("with ESMTPS"),
            "not received over TLS:\n{text}"
        );
    }
    smtps.shutdown().await;

    // Without the test CA the certificate is not trusted: worth retrying.
    let untrusted = transport_on(servers.smtps_port, &servers, TlsMode::Tls, false);
    match send(&untrusted, &rendered(SIGNEE, "smtps-untrusted")).await {
        Err(SendError::Transient(_)) => {}
        other => panic!("an untrusted certificate must be transient, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_away_is_transient_and_the_pool_recovers() {
    let servers = MailServers::start();
    let t = transport(&servers, TlsMode::StartTls, true);
    send(&t, &rendered(SIGNEE, "before")).await.unwrap();
    // Delivered before Postfix stops (a message still in its queue at the
    // stop may be delivered twice, which is Postfix's business).
    servers.wait_for(SIGNEE, "INBOX", 1, WAIT).await;

    servers.stop_smtp();
    // The pooled connection is dead and a new one is refused.
    match send(&t, &rendered(SIGNEE, "during")).await {
        Err(SendError::Transient(_)) => {}
        other => panic!("a stopped server must be transient, got {other:?}"),
    }

    servers.start_smtp();
    send(&t, &rendered(SIGNEE, "after")).await.unwrap();
    let inbox = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    let ids: Vec<_> = inbox
        .iter()
        .map(|raw| parse(raw).message_id().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            message_id_for("ra.example.my", &[7; 32], b"before"),
            message_id_for("ra.example.my", &[7; 32], b"after")
        ]
    );
}

/// A server that does not offer PIPELINING is sent one command at a time (through lettre's own
/// send), and its refusals are classified the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_pipelining_gets_one_command_at_a_time() {
    let servers = MailServers::start();
    let t = transport_on(servers.smtp_serial_port, &servers, TlsMode::None, false);
    let first = rendered(SIGNEE, "serial-1");
    send(&t, &first).await.unwrap();
    refused_at_rcpt(&t, &first).await;
    send(&t, &rendered(SIGNEE, "serial-2")).await.unwrap();
    // Postfix may deliver the two in either order.
    let inbox = servers.wait_for(SIGNEE, "INBOX", 2, WAIT).await;
    assert!(
        inbox.iter().any(|m| m.ends_with(&first.bytes)),
        "message altered in transit"
    );
    t.shutdown().await;
}
