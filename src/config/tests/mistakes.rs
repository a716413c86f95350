//! Each mistake named by its key path, all of them in one run, in the order
//! of the sections; and the mistakes that span sections.

use super::*;

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
