//! The configuration: every key, every mistake `check-config` names, the
//! embedded default and the commented example in `config/`.

use super::*;
use std::io::Write;

/// The SPEC §9 example, character for character.
const SPEC_EXAMPLE: &str = r#"[mailbox]                   # inbound
kind = "imap"               # or "maildir" (embedded default: path = "var/mail")
host = "127.0.0.1"
port = 993
tls = "tls"                 # "tls" | "starttls" | "none" (none only on loopback)
username = "kpkt.retail"
password_file = "/etc/sijil/imap.pass"
inbox = "INBOX"
processed = "Processed"
rejected = "Rejected"
quarantine = "Quarantine"

[outbound]
kind = "smtp"               # or "maildir" (embedded default: path = "var/outbox")
host = "127.0.0.1"
port = 587
tls = "starttls"
from_ra = "POS Digicert RA <kpkt.retail@example.my>"
from_hims = "HIMS eSPA <noreply@hims.example.my>"

[web]
listen = "127.0.0.1:8080"
base_url = "https://sign.example.my"

[store]
path = "var/sijil.db"       # sled; attachments beside it

[security]
require_authenticated_sender = false
authserv_id = "mx.example.my"

[[developer]]
company = "Seri Indah Development Sdn Bhd"
addresses = ["submit@seriindah.my"]   # or: domain = "seriindah.my"

[[staff]]
name = "Aina"
address = "aina@ra.example.my"
roles = ["verifier"]
"#;

/// `config()` of /work/shared/contract-check with root `/tmp/root`.
fn contract_config(port: &str) -> String {
    let mut text = format!(
        r#"[mailbox]
kind = "maildir"
path = "/tmp/root/mail"

[outbound]
kind = "maildir"
path = "/tmp/root/outbox"
from_ra = "POS Digicert RA <kpkt.retail@ra.example.my>"
from_hims = "HIMS eSPA <noreply@hims.example.my>"

[web]
listen = "127.0.0.1:{port}"
base_url = "http://127.0.0.1:18089"

[store]
path = "/tmp/root/sijil.db"

[security]
require_authenticated_sender = false
authserv_id = "mx.ra.example.my"

[[developer]]
company = "Seri Indah Development Sdn Bhd"
addresses = ["submit@seriindah.my"]
"#
    );
    for (n, a) in [
        ("verifier", "aina@ra.example.my"),
        ("officer", "badrul@ra.example.my"),
        ("qc", "chong@ra.example.my"),
    ] {
        let title = format!("{}{}", n[..1].to_uppercase(), &n[1..]);
        text.push_str(&format!(
            "\n[[staff]]\nname = \"{title}\"\naddress = \"{a}\"\nroles = [\"{n}\"]\n"
        ));
    }
    text
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn password_file(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file
}

/// The SPEC example with its password file replaced by a real one.
fn spec_with(file: &tempfile::NamedTempFile) -> String {
    SPEC_EXAMPLE.replace("/etc/sijil/imap.pass", &file.path().display().to_string())
}

fn errors_of(text: &str) -> ConfigErrors {
    match parse(text, None, &no_env) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(errors) => errors,
    }
}

fn assert_error(errors: &ConfigErrors, key: &str, fragment: &str) {
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.key == key && e.message.contains(fragment)),
        "no error on {key} containing {fragment:?} in:\n{errors}"
    );
}

#[test]
fn spec_example_as_written() {
    let file = password_file("s3cret\n");
    let config = parse(
        &spec_with(&file),
        Some(Path::new("/etc/sijil/sijil.toml")),
        &no_env,
    )
    .unwrap();
    let MailboxConfig::Imap(imap) = &config.mailbox else {
        panic!("not IMAP: {:?}", config.mailbox)
    };
    assert_eq!(imap.host, "127.0.0.1");
    assert_eq!(imap.port, 993);
    assert_eq!(imap.tls, TlsMode::Tls);
    assert_eq!(imap.username, "kpkt.retail");
    assert_eq!(imap.password.expose(), "s3cret");
    assert_eq!(imap.folders, Folders::default());
    assert_eq!(imap.poll_interval, Duration::from_secs(30));
    assert_eq!(imap.tls_ca_file, None);
    let OutboundConfig::Smtp(smtp) = &config.outbound.transport else {
        panic!("not SMTP")
    };
    assert_eq!(
        (smtp.host.as_str(), smtp.port, smtp.tls),
        ("127.0.0.1", 587, TlsMode::StartTls)
    );
    assert_eq!((smtp.username.clone(), smtp.password.clone()), (None, None));
    assert_eq!(
        config.outbound.from_ra,
        Address {
            name: Some("POS Digicert RA".into()),
            email: "kpkt.retail@example.my".into()
        }
    );
    assert_eq!(
        config.outbound.from_hims.to_string(),
        "HIMS eSPA <noreply@hims.example.my>"
    );
    assert_eq!(config.web.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.web.base_url, "https://sign.example.my");
    assert_eq!(config.web.pin_link_ttl, Duration::from_secs(72 * 3600));
    assert_eq!(config.web.sign_link_ttl, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(config.store.path, PathBuf::from("var/sijil.db"));
    assert_eq!(
        config.store.documents,
        PathBuf::from("var/sijil.db.documents")
    );
    assert_eq!(config.store.purge_after_days, 90);
    assert!(!config.security.require_authenticated_sender);
    assert_eq!(
        config.security.authserv_id.as_deref(),
        Some("mx.example.my")
    );
    assert_eq!(config.security.reply_rate_per_hour, 30);
    assert_eq!(config.developers.len(), 1);
    assert_eq!(config.developers[0].addresses, ["submit@seriindah.my"]);
    assert_eq!(config.staff[0].roles, [StaffRole::Verifier]);
    assert_eq!(config.limits, LimitsConfig::default());
    assert_eq!(config.limits.message_max_bytes, 25 * 1024 * 1024);
    assert_eq!(config.case.reference_prefix, "SJL");
    assert_eq!(config.source, Some(PathBuf::from("/etc/sijil/sijil.toml")));
    // Only one role is staffed: allowed, but said.
    let warnings = config.warnings();
    assert!(warnings.iter().any(|w| w.message.contains("\"officer\"")));
    assert!(warnings.iter().any(|w| w.message.contains("\"qc\"")));
}

#[test]
fn contract_check_config_accepted() {
    let config = parse(&contract_config("18089"), None, &no_env).unwrap();
    assert_eq!(
        config.mailbox,
        MailboxConfig::Maildir(MaildirConfig {
            path: "/tmp/root/mail".into(),
            folders: Folders::default()
        })
    );
    assert_eq!(
        config.outbound.transport,
        OutboundConfig::Maildir {
            path: "/tmp/root/outbox".into()
        }
    );
    assert_eq!(config.web.listen.port(), 18089);
    assert_eq!(config.staff_with(StaffRole::Verifier).count(), 1);
    assert_eq!(
        config.staff_with(StaffRole::Officer).next().unwrap().name,
        "Officer"
    );
    assert_eq!(
        config.staff_with(StaffRole::Qc).next().unwrap().address,
        "chong@ra.example.my"
    );
    assert!(config.developer_for("Submit@SeriIndah.my").is_some());
}

#[test]
fn contract_check_bad_port_names_web_listen() {
    let errors = errors_of(&contract_config("99999"));
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert_error(&errors, "web.listen", "99999");
    assert!(errors.to_string().starts_with("web.listen: "));
}

#[test]
fn syntax_error_has_line_and_column() {
    let errors = errors_of("[web]\nlisten = \"127.0.0.1:8080\"\nbase_url = https://x\n");
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].key, "");
    assert!(
        errors.0[0].message.contains("line 3, column 12"),
        "{}",
        errors.0[0].message
    );
    let errors = errors_of("[web]\nlisten = \"a\"\nlisten = \"b\"\n");
    assert!(errors.0[0].message.contains("line 3"), "{errors}");
}

/// Each mutation of a valid configuration gives an error on its key.
#[test]
fn every_mistake_named_by_its_key() {
    let file = password_file("pw\n");
    let base = spec_with(&file);
    let valid_line = |line: &str| {
        assert!(base.contains(line), "test bug: {line:?} not in the example");
    };
    let cases: &[(&str, &str, &str, &str)] = &[
        // (replace this, with this, key, message fragment)
        ("kind = \"imap\"", "kind = \"pop3\"", "mailbox.kind", "pop3"),
        (
            "kind = \"smtp\"",
            "kind = \"sendmail\"",
            "outbound.kind",
            "sendmail",
        ),
        ("port = 993", "port = 0", "mailbox.port", "1–65535"),
        ("port = 993", "port = 70000", "mailbox.port", "70000"),
        ("port = 993", "port = \"993\"", "mailbox.port", "integer"),
        ("port = 587", "port = -1", "outbound.port", "1–65535"),
        (
            "host = \"127.0.0.1\"\nport = 993",
            "host = \"\"\nport = 993",
            "mailbox.host",
            "empty",
        ),
        (
            "host = \"127.0.0.1\"\nport = 993",
            "host = \"imaps://mail\"\nport = 993",
            "mailbox.host",
            "scheme",
        ),
        (
            "host = \"127.0.0.1\"\nport = 587",
            "host = \"smtp:25\"\nport = 587",
            "outbound.host",
            "port",
        ),
        ("tls = \"tls\"", "tls = \"ssl\"", "mailbox.tls", "ssl"),
        (
            "host = \"127.0.0.1\"\nport = 993\ntls = \"tls\"",
            "host = \"mail.example.my\"\nport = 993\ntls = \"none\"",
            "mailbox.tls",
            "loopback",
        ),
        (
            "host = \"127.0.0.1\"\nport = 587\ntls = \"starttls\"",
            "host = \"10.0.0.5\"\nport = 587\ntls = \"none\"",
            "outbound.tls",
            "loopback",
        ),
        (
            "username = \"kpkt.retail\"\n",
            "",
            "mailbox.username",
            "missing",
        ),
        (
            "username = \"kpkt.retail\"",
            "username = \"  \"",
            "mailbox.username",
            "empty",
        ),
        (
            "username = \"kpkt.retail\"",
            "username = \"kpkt.retail\"\npassword = \"hunter2\"",
            "mailbox.password",
            "password_file",
        ),
        (
            "tls = \"starttls\"",
            "tls = \"starttls\"\npassword = \"x\"",
            "outbound.password",
            "password_env",
        ),
        (
            "inbox = \"INBOX\"",
            "inbox = \"\"",
            "mailbox.inbox",
            "empty",
        ),
        (
            "rejected = \"Rejected\"",
            "rejected = \"processed\"",
            "mailbox.rejected",
            "processed folder",
        ),
        (
            "quarantine = \"Quarantine\"",
            "quarantine = \"Quarantine\"\nquarantaine = \"Q\"",
            "mailbox.quarantaine",
            "unknown key",
        ),
        (
            "from_ra = \"POS Digicert RA <kpkt.retail@example.my>\"",
            "from_ra = \"POS Digicert RA\"",
            "outbound.from_ra",
            "not an address",
        ),
        (
            "from_hims = \"HIMS eSPA <noreply@hims.example.my>\"\n",
            "",
            "outbound.from_hims",
            "missing",
        ),
        (
            "tls = \"starttls\"",
            "tls = \"starttls\"\nusername = \"relay\"",
            "outbound.password_file",
            "no password",
        ),
        (
            "tls = \"starttls\"",
            "tls = \"starttls\"\npassword_env = \"SOME_VAR\"",
            "outbound.username",
            "missing",
        ),
        (
            "listen = \"127.0.0.1:8080\"",
            "listen = \"localhost:8080\"",
            "web.listen",
            "IP:port",
        ),
        (
            "listen = \"127.0.0.1:8080\"",
            "listen = \"127.0.0.1:0\"",
            "web.listen",
            "1–65535",
        ),
        (
            "base_url = \"https://sign.example.my\"",
            "base_url = \"sign.example.my\"",
            "web.base_url",
            "https://",
        ),
        (
            "base_url = \"https://sign.example.my\"",
            "base_url = \"https://\"",
            "web.base_url",
            "no host",
        ),
        (
            "base_url = \"https://sign.example.my\"\n",
            "",
            "web.base_url",
            "missing",
        ),
        (
            "base_url = \"https://sign.example.my\"",
            "base_url = \"https://sign.example.my\"\npin_link_hours = 0",
            "web.pin_link_hours",
            "1–720",
        ),
        (
            "base_url = \"https://sign.example.my\"",
            "base_url = \"https://sign.example.my\"\nsign_link_days = 1.5",
            "web.sign_link_days",
            "integer",
        ),
        (
            "path = \"var/sijil.db\"       # sled; attachments beside it",
            "",
            "store.path",
            "missing",
        ),
        (
            "path = \"var/sijil.db\"",
            "path = \"var/sijil.db\"\ndocuments_path = \"var/sijil.db/docs\"",
            "store.documents_path",
            "outside",
        ),
        (
            "path = \"var/sijil.db\"",
            "path = \"var/sijil.db\"\npurge_after_days = 0",
            "store.purge_after_days",
            "1–3650",
        ),
        (
            "require_authenticated_sender = false",
            "require_authenticated_sender = \"no\"",
            "security.require_authenticated_sender",
            "true or false",
        ),
        (
            "require_authenticated_sender = false\nauthserv_id = \"mx.example.my\"",
            "require_authenticated_sender = true",
            "security.authserv_id",
            "required",
        ),
        (
            "authserv_id = \"mx.example.my\"",
            "authserv_id = \"mx.example.my\"\nreply_rate_per_hour = 0",
            "security.reply_rate_per_hour",
            "1–10000",
        ),
        (
            "company = \"Seri Indah Development Sdn Bhd\"",
            "company = \"\"",
            "developer[1].company",
            "empty",
        ),
        (
            "addresses = [\"submit@seriindah.my\"]",
            "addresses = [\"submit at seriindah\"]",
            "developer[1].addresses",
            "not an email",
        ),
        (
            "addresses = [\"submit@seriindah.my\"]",
            "addresses = \"submit@seriindah.my\"",
            "developer[1].addresses",
            "array",
        ),
        (
            "addresses = [\"submit@seriindah.my\"]",
            "addresses = []",
            "developer[1]",
            "domain",
        ),
        (
            "addresses = [\"submit@seriindah.my\"]",
            "domain = \"@seriindah.my\"",
            "developer[1].domain",
            "without '@'",
        ),
        (
            "addresses = [\"submit@seriindah.my\"]",
            "addresses = [\"submit@seriindah.my\"]\ncompnay = \"x\"",
            "developer[1].compnay",
            "unknown key",
        ),
        ("name = \"Aina\"\n", "", "staff[1].name", "missing"),
        (
            "address = \"aina@ra.example.my\"",
            "address = \"aina\"",
            "staff[1].address",
            "not an email",
        ),
        (
            "roles = [\"verifier\"]",
            "roles = [\"verifer\"]",
            "staff[1].roles",
            "verifer",
        ),
        (
            "roles = [\"verifier\"]",
            "roles = []",
            "staff[1].roles",
            "empty",
        ),
        (
            "roles = [\"verifier\"]",
            "roles = [\"officer\"]",
            "staff",
            "verifier",
        ),
        (
            "[security]",
            "[case]\nreference_prefix = \"sjl\"\n\n[security]",
            "case.reference_prefix",
            "uppercase",
        ),
        (
            "[security]",
            "[limits]\nattachment_max_mib = 30\n\n[security]",
            "limits.attachment_max_mib",
            "message_max_mib",
        ),
        (
            "[security]",
            "[limits]\nmessage_max_mib = 2000\n\n[security]",
            "limits.message_max_mib",
            "1–1024",
        ),
        (
            "[security]",
            "[logging]\nlevel = \"debug\"\n\n[security]",
            "logging",
            "unknown section",
        ),
        ("[[staff]]", "[[staffs]]", "staffs", "did you mean `staff`"),
    ];
    for (from, to, key, fragment) in cases {
        valid_line(from);
        let errors = errors_of(&base.replacen(from, to, 1));
        assert_error(&errors, key, fragment);
    }
}

#[test]
fn kind_specific_keys_refused_for_maildir() {
    let text = contract_config("8080").replace(
        "path = \"/tmp/root/mail\"",
        "path = \"/tmp/root/mail\"\nhost = \"imap.example.my\"\ninbox = \"INBOX\"",
    );
    let errors = errors_of(&text);
    assert_error(&errors, "mailbox.host", "kind = \"imap\"");
    assert_error(&errors, "mailbox.inbox", "kind = \"imap\"");
    let text = contract_config("8080").replace(
        "path = \"/tmp/root/outbox\"",
        "path = \"/tmp/root/outbox\"\nport = 25",
    );
    assert_error(&errors_of(&text), "outbound.port", "kind = \"smtp\"");
    let text = contract_config("8080").replace("processed", "x");
    assert!(parse(&text, None, &no_env).is_ok());
    let text = contract_config("8080").replace(
        "path = \"/tmp/root/mail\"",
        "path = \"/tmp/root/mail\"\nprocessed = \"../etc\"",
    );
    assert_error(
        &errors_of(&text),
        "mailbox.processed",
        "Maildir folder name",
    );
}

#[test]
fn missing_sections_and_people() {
    let errors = errors_of("");
    for key in ["mailbox", "outbound", "web", "store", "developer"] {
        assert!(errors.mentions(key), "{key} not in:\n{errors}");
    }
    assert_error(&errors, "staff", "verifier");
    let errors = errors_of("[[developer]]\ncompany = \"X\"\n");
    assert_error(&errors, "developer[1]", "addresses");
    let errors = errors_of("[developer]\ncompany = \"X\"\n");
    assert_error(&errors, "developer", "[[developer]]");
    let errors = errors_of("web = 3\n");
    assert_error(&errors, "web", "must be a table");
    assert!(
        !errors
            .0
            .iter()
            .any(|e| e.key == "web" && e.message.contains("missing"))
    );
}

#[test]
fn several_mistakes_all_reported() {
    let file = password_file("pw");
    let text = spec_with(&file)
        .replace("port = 993", "port = 99999")
        .replace("tls = \"starttls\"", "tls = \"startls\"")
        .replace("127.0.0.1:8080", "127.0.0.1:99999")
        .replace("roles = [\"verifier\"]", "roles = [\"verifier\", \"boss\"]")
        .replace(
            "company = \"Seri Indah Development Sdn Bhd\"",
            "company = 7",
        )
        .replace(
            "quarantine = \"Quarantine\"",
            "quarantine = \"Processed\"\nidle = true",
        )
        + "\n[[staff]]\nname = \"Aina again\"\naddress = \"AINA@ra.example.my\"\nroles = [\"qc\"]\n";
    let errors = errors_of(&text);
    for key in [
        "mailbox.port",
        "mailbox.quarantine",
        "mailbox.idle",
        "outbound.tls",
        "web.listen",
        "developer[1].company",
        "staff[1].roles",
        "staff[2].address",
    ] {
        assert!(errors.mentions(key), "{key} not in:\n{errors}");
    }
    // A refused value is not also reported missing.
    assert_eq!(
        errors
            .0
            .iter()
            .filter(|e| e.key == "developer[1].company")
            .count(),
        1,
        "{errors}"
    );
    assert_eq!(errors.to_string().lines().count(), errors.0.len());
    assert!(
        !errors.mentions("staff"),
        "consequential error reported:\n{errors}"
    );
}

#[test]
fn secrets_from_file_env_and_default_env() {
    let file = password_file("line one\r\n");
    let config = parse(&spec_with(&file), None, &no_env).unwrap();
    let MailboxConfig::Imap(imap) = &config.mailbox else {
        panic!()
    };
    assert_eq!(imap.password.expose(), "line one");

    let by_env = SPEC_EXAMPLE.replace(
        "password_file = \"/etc/sijil/imap.pass\"",
        "password_env = \"MY_IMAP_PW\"",
    );
    let env = |name: &str| (name == "MY_IMAP_PW").then(|| "from-env".to_owned());
    let config = parse(&by_env, None, &env).unwrap();
    let MailboxConfig::Imap(imap) = &config.mailbox else {
        panic!()
    };
    assert_eq!(imap.password.expose(), "from-env");
    assert_error(&errors_of(&by_env), "mailbox.password_env", "MY_IMAP_PW");

    let neither = SPEC_EXAMPLE.replace("password_file = \"/etc/sijil/imap.pass\"\n", "");
    assert_error(
        &errors_of(&neither),
        "mailbox.password_file",
        IMAP_PASSWORD_ENV,
    );
    let env = |name: &str| {
        [(IMAP_PASSWORD_ENV, "imap"), (SMTP_PASSWORD_ENV, "smtp")]
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let config = parse(&neither, None, &env).unwrap();
    let MailboxConfig::Imap(imap) = &config.mailbox else {
        panic!()
    };
    assert_eq!(imap.password.expose(), "imap");
    // No SMTP username: no login, even though SIJIL_SMTP_PASSWORD is set.
    let OutboundConfig::Smtp(smtp) = &config.outbound.transport else {
        panic!()
    };
    assert_eq!(smtp.password, None);
    let with_user = neither.replace("tls = \"starttls\"", "tls = \"starttls\"\nusername = \"u\"");
    let config = parse(&with_user, None, &env).unwrap();
    let OutboundConfig::Smtp(smtp) = &config.outbound.transport else {
        panic!()
    };
    assert_eq!(smtp.username.as_deref(), Some("u"));
    assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("smtp"));

    let both = SPEC_EXAMPLE.replace(
        "password_file = \"/etc/sijil/imap.pass\"",
        "password_file = \"/x\"\npassword_env = \"Y\"",
    );
    assert_error(&errors_of(&both), "mailbox.password_env", "not both");
    let unreadable = SPEC_EXAMPLE.replace("/etc/sijil/imap.pass", "/nonexistent/sijil/imap.pass");
    assert_error(
        &errors_of(&unreadable),
        "mailbox.password_file",
        "/nonexistent/sijil/imap.pass",
    );
    let empty = password_file("\n");
    assert_error(
        &errors_of(&spec_with(&empty)),
        "mailbox.password_file",
        "empty",
    );
}

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

#[test]
fn cross_section_conflicts() {
    let base = contract_config("8080");
    let twice = base.clone()
        + "\n[[developer]]\ncompany = \"Other\"\naddresses = [\"SUBMIT@seriindah.my\"]\n";
    assert_error(&errors_of(&twice), "developer[2].addresses", "developer[1]");
    let domains = base.replace(
        "addresses = [\"submit@seriindah.my\"]",
        "domain = \"ra.example.my\"",
    );
    let errors = errors_of(&domains);
    assert_error(&errors, "staff[1].address", "developer[1]");
    assert_error(&errors, "outbound.from_ra", "answer its own mail");
    let two_domains = base.replace(
        "addresses = [\"submit@seriindah.my\"]",
        "domain = \"seriindah.my\"",
    ) + "\n[[developer]]\ncompany = \"Other\"\ndomain = \"SeriIndah.my\"\n";
    assert_error(
        &errors_of(&two_domains),
        "developer[2].domain",
        "seriindah.my",
    );
}

#[test]
fn lookups_by_address_and_domain() {
    let text = contract_config("8080")
        + "\n[[developer]]\ncompany = \"Domain Co\"\ndomain = \"Domain.Example.MY\"\n\
           \n[[developer]]\ncompany = \"Exact Co\"\naddresses = [\"Boss@domain.example.my\"]\n";
    let config = parse(&text, None, &no_env).unwrap();
    assert_eq!(
        config.developers[1].domain.as_deref(),
        Some("domain.example.my")
    );
    assert_eq!(config.developers[2].addresses, ["boss@domain.example.my"]);
    let company = |addr: &str| config.developer_for(addr).map(|d| d.company.as_str());
    assert_eq!(
        company("SUBMIT@SERIINDAH.MY"),
        Some("Seri Indah Development Sdn Bhd")
    );
    assert_eq!(
        company(" Submit <submit@seriindah.my> "),
        Some("Seri Indah Development Sdn Bhd")
    );
    assert_eq!(company("other@seriindah.my"), None);
    assert_eq!(company("anyone@domain.example.my"), Some("Domain Co"));
    // A listed address wins over a domain.
    assert_eq!(company("boss@DOMAIN.example.my"), Some("Exact Co"));
    assert_eq!(company("x@sub.domain.example.my"), None);
    assert_eq!(company("not an address"), None);
    assert_eq!(
        config
            .staff_for("Aina@RA.example.my")
            .map(|s| s.name.as_str()),
        Some("Verifier")
    );
    assert!(config.staff_for("submit@seriindah.my").is_none());
    let roles: Vec<StaffRole> = config.staff.iter().flat_map(|s| s.roles.clone()).collect();
    assert_eq!(
        roles,
        [StaffRole::Verifier, StaffRole::Officer, StaffRole::Qc]
    );
}

#[test]
fn embedded_default_matches_its_file() {
    let default = Config::embedded_default();
    let file = include_str!("../../config/embedded-default.toml");
    let parsed = parse(file, None, &no_env).unwrap();
    assert_eq!(parsed, default);
    assert_eq!(Config::load(None).unwrap(), default);
    // Enough for a sample pack: a developer and every role.
    assert!(default.developer_for("pemaju@example.my").is_some());
    for role in StaffRole::ALL {
        assert_eq!(default.staff_with(role).count(), 1, "{role}");
    }
    assert_eq!(default.web.base_url, "http://127.0.0.1:8080");
    assert!(default.warnings().is_empty(), "{:?}", default.warnings());
}

#[test]
fn example_file_is_valid() {
    let file = password_file("imap-pw\n");
    let text = include_str!("../../config/sijil.example.toml")
        .replace("/etc/sijil/imap.pass", &file.path().display().to_string());
    let config = parse(&text, Some(Path::new("sijil.toml")), &no_env).unwrap();
    assert!(matches!(config.mailbox, MailboxConfig::Imap(_)));
    assert!(matches!(config.outbound.transport, OutboundConfig::Smtp(_)));
    assert!(config.security.require_authenticated_sender);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    // Every commented-out optional key is valid when uncommented (except
    // the alternatives that need a file or exclude another key).
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(key, _)| {
                    key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) && !rest.starts_with("password_env")
                    && !rest.starts_with("tls_ca_file")
                    && !rest.starts_with("domain") =>
            {
                rest.to_owned()
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("/etc/sijil/smtp.pass", &file.path().display().to_string());
    let full = parse(&uncommented, None, &no_env).unwrap();
    let OutboundConfig::Smtp(smtp) = &full.outbound.transport else {
        panic!()
    };
    assert_eq!(smtp.username.as_deref(), Some("kpkt.retail"));
    assert_eq!(
        full.store.documents,
        PathBuf::from("/var/lib/sijil/sijil.db.documents")
    );
}

#[test]
fn load_reads_the_file_or_names_it() {
    let file = password_file(&contract_config("8080"));
    let config = Config::load(Some(file.path())).unwrap();
    assert_eq!(config.source.as_deref(), Some(file.path()));
    let errors = Config::load(Some(Path::new("/nonexistent/sijil.toml"))).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert!(
        errors.to_string().contains("/nonexistent/sijil.toml"),
        "{errors}"
    );
}

#[test]
fn secret_never_printed() {
    let file = password_file("hunter2");
    let config = parse(&spec_with(&file), None, &no_env).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("***"));
    assert_eq!(Secret::new("hunter2").to_string(), "***");
    assert_eq!(Secret::new("hunter2").expose(), "hunter2");
}

#[test]
fn addresses_parse_and_print() {
    let a = Address::parse("POS Digicert RA <kpkt.retail@example.my>").unwrap();
    assert_eq!(a.name.as_deref(), Some("POS Digicert RA"));
    assert_eq!(a.email, "kpkt.retail@example.my");
    assert_eq!(a.to_string(), "POS Digicert RA <kpkt.retail@example.my>");
    let bare = Address::parse(" noreply@hims.example.my ").unwrap();
    assert_eq!(
        bare,
        Address {
            name: None,
            email: "noreply@hims.example.my".into()
        }
    );
    assert_eq!(bare.to_string(), "noreply@hims.example.my");
    let quoted = Address::parse(r#""Seri Indah, Sdn. Bhd." <a@b.my>"#).unwrap();
    assert_eq!(quoted.name.as_deref(), Some("Seri Indah, Sdn. Bhd."));
    assert_eq!(quoted.to_string(), r#""Seri Indah, Sdn. Bhd." <a@b.my>"#);
    let tricky = Address {
        name: Some(r#"A "B" \ C"#.into()),
        email: "a@b.my".into(),
    };
    assert_eq!(tricky.to_string(), r#""A \"B\" \\ C" <a@b.my>"#);
    assert_eq!(Address::parse(&tricky.to_string()).unwrap(), tricky);
    assert_eq!(Address::parse("<a@b.my>").unwrap().name, None);
    assert_eq!(
        Address::parse("Pemaju Ümran <a@b.my>").unwrap().to_string(),
        "Pemaju Ümran <a@b.my>"
    );
    for bad in [
        "",
        "a",
        "a@",
        "@b.my",
        "a@b..my",
        "a b@c.my",
        "Name <a@b.my",
        "a@-b.my",
    ] {
        assert!(Address::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(Address::parse("kpkt.retail@localhost").is_ok());
}

#[test]
fn roles_and_tls_modes_by_name() {
    for role in StaffRole::ALL {
        assert_eq!(role.as_str().parse::<StaffRole>(), Ok(role));
    }
    assert!("boss".parse::<StaffRole>().is_err());
    let roles: Vec<StaffRole> = toml::from_str::<toml::Table>("r = [\"qc\", \"admin\"]")
        .unwrap()
        .remove("r")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(roles, [StaffRole::Qc, StaffRole::Admin]);
    for mode in [TlsMode::Tls, TlsMode::StartTls, TlsMode::None] {
        assert_eq!(mode.as_str().parse::<TlsMode>(), Ok(mode));
    }
}

#[test]
fn staff_roles_deduplicated_and_base_url_trimmed() {
    let text = contract_config("8080")
        .replace("roles = [\"qc\"]", "roles = [\"qc\", \"QC\", \"admin\"]")
        .replace(
            "base_url = \"http://127.0.0.1:18089\"",
            "base_url = \"https://x.my/sijil/\"",
        );
    let config = parse(&text, None, &no_env).unwrap();
    assert_eq!(config.staff[2].roles, [StaffRole::Qc, StaffRole::Admin]);
    assert_eq!(config.web.base_url, "https://x.my/sijil");
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    for (url, warned) in [
        ("http://[::1]:8080/", false),
        ("http://localhost", false),
        ("http://sign.example.my:8080", true),
    ] {
        let text = contract_config("8080")
            .replace("http://127.0.0.1:18089", url)
            .replace("roles = [\"qc\"]", "roles = [\"qc\", \"admin\"]");
        let config = parse(&text, None, &no_env).unwrap();
        assert_eq!(
            config.warnings().iter().any(|w| w.key == "web.base_url"),
            warned,
            "{url}"
        );
    }
}
