//! The configuration: every key, every mistake `check-config` names, the
//! embedded default and the commented example in `config/`.

use super::*;
use std::io::Write;

mod ca;
mod general;
mod mistakes;
mod people;
mod secrets;
mod tls;

/// The SPEC §9 example, character for character, less two later additions
/// the mutations below would trip over: `[ca]` (it names files that must
/// exist) and `purge_after_days`; `ca.rs` reads both as the SPEC has them.
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

#[test]
fn embedded_default_matches_its_file() {
    let default = Config::embedded_default();
    let file = include_str!("../../../config/embedded-default.toml");
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
    let text = include_str!("../../../config/sijil.example.toml")
        .replace("/etc/sijil/imap.pass", &file.path().display().to_string());
    let config = parse(&text, Some(Path::new("sijil.toml")), &no_env).unwrap();
    assert!(matches!(config.mailbox, MailboxConfig::Imap(_)));
    assert!(matches!(config.outbound.transport, OutboundConfig::Smtp(_)));
    assert!(config.security.require_authenticated_sender);
    // The one warning: its [ca] is commented out (it needs real files).
    let warnings = config.warnings();
    assert!(warnings.iter().all(|w| w.key == "ca"), "{warnings:?}");
    // Every commented-out optional key is valid when uncommented (except
    // the alternatives that need a file or exclude another key), and so is
    // the commented-out [ca] section, given real files.
    let (ca_cert, ca_key) = (password_file("cert"), password_file("key"));
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(key, _)| {
                    key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) && !rest.starts_with("password_env")
                    && !rest.starts_with("tls_ca_file")
                    && !rest.starts_with("domain")
                    && !rest.starts_with("key_env") =>
            {
                rest.to_owned()
            }
            Some("[ca]") => "[ca]".to_owned(),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("/etc/sijil/smtp.pass", &file.path().display().to_string())
        .replace("/etc/sijil/ca.pem", &ca_cert.path().display().to_string())
        .replace("/etc/sijil/ca.key", &ca_key.path().display().to_string());
    let full = parse(&uncommented, None, &no_env).unwrap();
    let OutboundConfig::Smtp(smtp) = &full.outbound.transport else {
        panic!()
    };
    assert_eq!(smtp.username.as_deref(), Some("kpkt.retail"));
    assert_eq!(
        full.store.documents,
        PathBuf::from("/var/lib/sijil/sijil.db.documents")
    );
    assert_eq!(full.store.abandon_after_days, 30);
    assert_eq!(full.ca.map(|ca| ca.key), Some(ca_key.path().to_path_buf()));
    assert_eq!(config.ca, None);
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
