//! `[ca]` (the issuing CA's certificate and key file) and the `[store]`
//! durations, including the SPEC §9 lines the shared example leaves out.

use std::os::unix::fs::PermissionsExt;

use super::*;

/// A file with `mode`, e.g. a key left group-readable.
fn file_with_mode(content: &str, mode: u32) -> tempfile::NamedTempFile {
    let file = password_file(content);
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    file
}

/// The shared example with a `[ca]` section of `lines` after `[store]`.
fn with_ca(imap: &tempfile::NamedTempFile, lines: &str) -> String {
    spec_with(imap).replace("\n[security]", &format!("\n[ca]\n{lines}\n\n[security]"))
}

fn path_of(file: &tempfile::NamedTempFile) -> String {
    file.path().display().to_string()
}

fn env_of<'a>(name: &'a str, value: &'a str) -> impl Fn(&str) -> Option<String> + 'a {
    move |var| (var == name).then(|| value.to_owned())
}

#[test]
fn spec_lines_for_ca_and_purge_read() {
    let imap = password_file("pw\n");
    let (cert, key) = (password_file("cert"), file_with_mode("key", 0o600));
    let spec_ca = "[ca]                        # the issuing CA (§7a); `sijil ca init DIR` makes a test one\n\
                   certificate = \"/etc/sijil/ca.pem\"\n\
                   key_file = \"/etc/sijil/ca.key\"\n";
    let text = spec_with(&imap)
        .replace(
            "# sled; attachments beside it\n",
            "# sled; attachments beside it\n\
             purge_after_days = 90       # ID copies destroyed this long after a case ends\n",
        )
        .replace("\n[security]", &format!("\n{spec_ca}\n[security]"))
        .replace("/etc/sijil/ca.pem", &path_of(&cert))
        .replace("/etc/sijil/ca.key", &path_of(&key));
    let config = parse(&text, None, &no_env).unwrap();
    assert_eq!(
        config.ca,
        Some(CaConfig {
            certificate: cert.path().to_path_buf(),
            key: key.path().to_path_buf(),
        })
    );
    assert_eq!(config.store.purge_after_days, 90);
    assert_eq!(config.store.abandon_after_days, 30);
    assert_eq!(Config::embedded_default().ca, None);
}

#[test]
fn ca_key_from_a_file_or_an_environment_variable() {
    let imap = password_file("pw\n");
    let (cert, key) = (password_file("cert"), file_with_mode("key", 0o600));
    let by_env = with_ca(
        &imap,
        &format!(
            "certificate = \"{}\"\nkey_env = \"SIJIL_CA_KEY_FILE\"",
            path_of(&cert)
        ),
    );
    let key_path = path_of(&key);
    let config = parse(&by_env, None, &env_of("SIJIL_CA_KEY_FILE", &key_path)).unwrap();
    assert_eq!(config.ca.map(|ca| ca.key), Some(key.path().to_path_buf()));
    // Owner read-only is stricter than 0600 and as private.
    let read_only = file_with_mode("key", 0o400);
    let text = with_ca(
        &imap,
        &format!(
            "certificate = \"{}\"\nkey_file = \"{}\"",
            path_of(&cert),
            path_of(&read_only)
        ),
    );
    assert!(parse(&text, None, &no_env).is_ok());
}

#[test]
fn ca_mistakes_named_by_their_key() {
    let imap = password_file("pw\n");
    let (cert, key) = (password_file("cert"), file_with_mode("key", 0o600));
    let (cert, key) = (path_of(&cert), path_of(&key));
    let open_key = file_with_mode("key", 0o644);
    let group_key = file_with_mode("key", 0o640);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().display().to_string();
    let cases: Vec<(String, &str, String)> = vec![
        (
            format!("key_file = \"{key}\""),
            "ca.certificate",
            "missing: the CA certificate".into(),
        ),
        (
            format!("certificate = \"/nonexistent/ca.pem\"\nkey_file = \"{key}\""),
            "ca.certificate",
            "cannot read /nonexistent/ca.pem".into(),
        ),
        (
            format!("certificate = \"{dir}\"\nkey_file = \"{key}\""),
            "ca.certificate",
            format!("{dir} is not a file"),
        ),
        (
            format!("certificate = \"{cert}\""),
            "ca.key_file",
            "missing: the file holding the CA's private key".into(),
        ),
        (
            format!("certificate = \"{cert}\"\nkey_file = \"{key}\"\nkey_env = \"K\""),
            "ca.key_env",
            "not both".into(),
        ),
        (
            format!("certificate = \"{cert}\"\nkey_file = \"/nonexistent/ca.key\""),
            "ca.key_file",
            "cannot read /nonexistent/ca.key".into(),
        ),
        (
            format!(
                "certificate = \"{cert}\"\nkey_file = \"{}\"",
                path_of(&open_key)
            ),
            "ca.key_file",
            "has mode 0644: the CA key must be readable by its owner only".into(),
        ),
        (
            format!(
                "certificate = \"{cert}\"\nkey_file = \"{}\"",
                path_of(&group_key)
            ),
            "ca.key_file",
            "has mode 0640".into(),
        ),
        (
            format!("certificate = \"{cert}\"\nkey_env = \"SIJIL_CA_KEY_FILE\""),
            "ca.key_env",
            "SIJIL_CA_KEY_FILE is not set".into(),
        ),
        (
            format!("certificate = \"{cert}\"\nkey_env = \" \""),
            "ca.key_env",
            "must name an environment variable".into(),
        ),
        (
            format!("certificate = \"{cert}\"\nkey_file = \"{key}\"\nkey = \"-----BEGIN\""),
            "ca.key",
            "unknown".into(),
        ),
    ];
    for (lines, key, fragment) in cases {
        assert_error(&errors_of(&with_ca(&imap, &lines)), key, &fragment);
    }
    // A variable naming a key file that is not private is named as such.
    let text = with_ca(
        &imap,
        &format!("certificate = \"{cert}\"\nkey_env = \"SIJIL_CA_KEY_FILE\""),
    );
    let open_path = path_of(&open_key);
    let errors = parse(&text, None, &env_of("SIJIL_CA_KEY_FILE", &open_path)).unwrap_err();
    assert_error(&errors, "ca.key_env", "has mode 0644");
}

#[test]
fn store_days_in_range() {
    let imap = password_file("pw\n");
    let store = |lines: &str| {
        spec_with(&imap).replace(
            "path = \"var/sijil.db\"       # sled; attachments beside it",
            &format!("path = \"var/sijil.db\"\n{lines}"),
        )
    };
    let config = parse(
        &store("purge_after_days = 120\nabandon_after_days = 14"),
        None,
        &no_env,
    )
    .unwrap();
    assert_eq!(config.store.purge_after_days, 120);
    assert_eq!(config.store.abandon_after_days, 14);
    for (lines, key) in [
        ("abandon_after_days = 0", "store.abandon_after_days"),
        ("abandon_after_days = -3", "store.abandon_after_days"),
        ("abandon_after_days = 3651", "store.abandon_after_days"),
        ("purge_after_days = 3651", "store.purge_after_days"),
    ] {
        assert_error(&errors_of(&store(lines)), key, "out of range");
    }
    assert_error(
        &errors_of(&store("abandon_after_days = \"30\"")),
        "store.abandon_after_days",
        "",
    );
}
