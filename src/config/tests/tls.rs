//! How mail connections are secured: `tls = "none"` on loopback only, a
//! `tls_ca_file` that exists.

use super::*;

#[test]
fn tls_none_allowed_on_loopback_only() {
    let file = password_file("pw");
    for host in [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "[::1]",
        "localhost",
        "LocalHost",
    ] {
        let text = spec_with(&file)
            .replace("tls = \"tls\"", "tls = \"none\"")
            .replacen("host = \"127.0.0.1\"", &format!("host = {host:?}"), 1);
        let config = parse(&text, None, &no_env).unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!()
        };
        assert_eq!(imap.tls, TlsMode::None);
    }
    let text = spec_with(&file).replace("port = 993\ntls = \"tls\"", "tls = \"starttls\"");
    let config = parse(&text, None, &no_env).unwrap();
    let MailboxConfig::Imap(imap) = &config.mailbox else {
        panic!()
    };
    assert_eq!(imap.port, 143, "default port follows the TLS mode");
}

#[test]
fn tls_ca_file_must_exist() {
    let file = password_file("pw");
    let ca = password_file("-----BEGIN CERTIFICATE-----\n");
    let text = spec_with(&file).replace(
        "username = \"kpkt.retail\"",
        &format!(
            "username = \"kpkt.retail\"\ntls_ca_file = {:?}",
            ca.path().display().to_string()
        ),
    );
    let config = parse(&text, None, &no_env).unwrap();
    let MailboxConfig::Imap(imap) = &config.mailbox else {
        panic!()
    };
    assert_eq!(imap.tls_ca_file.as_deref(), Some(ca.path()));
    let text = spec_with(&file).replace(
        "username = \"kpkt.retail\"",
        "username = \"kpkt.retail\"\ntls_ca_file = \"/nonexistent/ca.pem\"",
    );
    assert_error(
        &errors_of(&text),
        "mailbox.tls_ca_file",
        "/nonexistent/ca.pem",
    );
}
