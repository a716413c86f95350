//! Passwords: from a file or the environment, never the file itself, never
//! printed.

use super::*;

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
fn secret_never_printed() {
    let file = password_file("hunter2");
    let config = parse(&spec_with(&file), None, &no_env).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("***"));
    assert_eq!(Secret::new("hunter2").to_string(), "***");
    assert_eq!(Secret::new("hunter2").expose(), "hunter2");
}
