//! `[mailbox]`: where inbound mail is read (IMAP or a Maildir), and the
//! folders messages are moved to.

use super::*;

pub(super) fn check_mailbox(raw: Option<RawMailbox>, ctx: &mut Ctx) -> Checked<MailboxConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "mailbox",
            "a [mailbox] section with kind = \"imap\" or \"maildir\"",
        ));
    };
    refuse_plain_password(
        raw.password.is_some(),
        "mailbox",
        "imap.pass",
        IMAP_PASSWORD_ENV,
        ctx,
    );
    let maildir = raw.kind.as_deref() == Some("maildir");
    let folders = check_folders(&raw, maildir, ctx);
    match raw.kind.as_deref() {
        Some("imap") => {
            let host = check_host(raw.host.as_deref(), "mailbox.host", ctx);
            let tls = check_tls(raw.tls.as_deref(), TlsMode::Tls, "mailbox.tls", ctx);
            if let (Ok(host), Ok(TlsMode::None)) = (&host, &tls)
                && !is_loopback_host(host)
            {
                ctx.error("mailbox.tls", not_loopback(host, "the IMAP password"));
            }
            let default_port = if matches!(tls, Ok(TlsMode::Tls)) {
                993
            } else {
                143
            };
            let port = check_port(raw.port, default_port, "mailbox.port", ctx);
            let username = required_text(raw.username, "mailbox.username", "the IMAP login", ctx);
            let password = read_secret(
                raw.password_file.as_deref(),
                raw.password_env.as_deref(),
                Some(IMAP_PASSWORD_ENV),
                "mailbox",
                ctx,
            )
            .and_then(|password| {
                password.ok_or_else(|| {
                    ctx.missing(
                        "mailbox.password_file",
                        &format!(
                            "IMAP needs a password: set password_file or password_env, \
                             or the environment variable {IMAP_PASSWORD_ENV}"
                        ),
                    )
                })
            });
            let poll = int_in(
                raw.poll_seconds,
                DEFAULT_POLL_SECONDS,
                1,
                3600,
                "mailbox.poll_seconds",
                ctx,
            );
            let ca = check_ca_file(raw.tls_ca_file, "mailbox.tls_ca_file", ctx);
            Ok(MailboxConfig::Imap(ImapConfig {
                host: host?,
                port: port?,
                tls: tls?,
                username: username?,
                password: password?,
                folders: folders?,
                poll_interval: Duration::from_secs(poll?.unsigned_abs()),
                tls_ca_file: ca?,
            }))
        }
        Some("maildir") => {
            let path = required_path(
                raw.path,
                "mailbox.path",
                "the Maildir directory, e.g. \"var/mail\"",
                ctx,
            );
            refuse_keys(
                &[
                    ("host", raw.host.is_some()),
                    ("port", raw.port.is_some()),
                    ("tls", raw.tls.is_some()),
                    ("username", raw.username.is_some()),
                    ("password_file", raw.password_file.is_some()),
                    ("password_env", raw.password_env.is_some()),
                    ("poll_seconds", raw.poll_seconds.is_some()),
                    ("tls_ca_file", raw.tls_ca_file.is_some()),
                    ("inbox", raw.inbox.is_some()),
                ],
                "mailbox",
                "maildir",
                "imap",
                ctx,
            );
            Ok(MailboxConfig::Maildir(MaildirConfig {
                path: path?,
                folders: folders?,
            }))
        }
        Some(other) => Err(ctx.error(
            "mailbox.kind",
            format!("unknown kind {other:?}: expected \"imap\" or \"maildir\""),
        )),
        None => Err(ctx.missing("mailbox.kind", "\"imap\" or \"maildir\"")),
    }
}

fn check_folders(raw: &RawMailbox, maildir: bool, ctx: &mut Ctx) -> Checked<Folders> {
    let defaults = Folders::default();
    let mut ok = true;
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut folder = |value: &Option<String>, name: &'static str, default: String| {
        let key = format!("mailbox.{name}");
        let value = value.clone().unwrap_or(default);
        if value.trim().is_empty() {
            ctx.error(&key, "must not be empty");
            ok = false;
        } else if value.trim() != value {
            ctx.error(&key, format!("{value:?} has leading or trailing spaces"));
            ok = false;
        } else if maildir
            && (value.contains(['/', '\\'])
                || value.starts_with('.')
                || ["new", "cur", "tmp"].contains(&value.as_str()))
        {
            ctx.error(
                &key,
                format!(
                    "{value:?} cannot be a Maildir folder name: no '/', no leading '.', \
                     not new/cur/tmp"
                ),
            );
            ok = false;
        } else if let Some(other) = seen.insert(value.to_lowercase(), name) {
            ctx.error(
                &key,
                format!("{value:?} is also the {other} folder: the four folders must differ"),
            );
            ok = false;
        }
        value
    };
    let folders = Folders {
        inbox: folder(&raw.inbox, "inbox", defaults.inbox),
        processed: folder(&raw.processed, "processed", defaults.processed),
        rejected: folder(&raw.rejected, "rejected", defaults.rejected),
        quarantine: folder(&raw.quarantine, "quarantine", defaults.quarantine),
    };
    if ok { Ok(folders) } else { Err(Reported) }
}
