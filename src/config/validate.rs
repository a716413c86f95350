//! Validation: the raw layer read from the TOML becomes the rich
//! [`Config`]; every mistake is recorded with its key path, none stops the
//! others from being found (`sijil check-config` explains them all).

use super::*;
use crate::address;

pub(super) fn validate(raw: RawConfig, source: Option<&Path>, ctx: &mut Ctx) -> Checked<Config> {
    let mailbox = check_mailbox(raw.mailbox, ctx);
    let outbound = check_outbound(raw.outbound, ctx);
    let web = check_web(raw.web, ctx);
    let store = check_store(raw.store, ctx);
    let security = check_security(raw.security.unwrap_or_default(), ctx);
    let limits = check_limits(raw.limits.unwrap_or_default(), ctx);
    let case = check_case(raw.case.unwrap_or_default(), ctx);
    let developers = check_developers(raw.developer, ctx);
    let staff = check_staff(raw.staff, ctx);
    cross_check(&developers, &staff, outbound.as_ref().ok(), ctx);
    Ok(Config {
        mailbox: mailbox?,
        outbound: outbound?,
        web: web?,
        store: store?,
        security: security?,
        developers: developers.complete()?,
        staff: staff.complete()?,
        limits: limits?,
        case: case?,
        source: source.map(Path::to_path_buf),
    })
}

/// Entries of an array section that passed, with their 1-based index, and
/// whether all did.
struct Entries<T> {
    valid: Vec<(usize, T)>,
    all_valid: bool,
}

impl<T> Entries<T> {
    fn complete(self) -> Checked<Vec<T>> {
        if self.all_valid {
            Ok(self.valid.into_iter().map(|(_, t)| t).collect())
        } else {
            Err(Reported)
        }
    }
}

fn check_mailbox(raw: Option<RawMailbox>, ctx: &mut Ctx) -> Checked<MailboxConfig> {
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

fn check_outbound(raw: Option<RawOutbound>, ctx: &mut Ctx) -> Checked<Outbound> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "outbound",
            "an [outbound] section with kind = \"smtp\" or \"maildir\", from_ra and from_hims",
        ));
    };
    refuse_plain_password(
        raw.password.is_some(),
        "outbound",
        "smtp.pass",
        SMTP_PASSWORD_ENV,
        ctx,
    );
    let from_ra = check_address(raw.from_ra.clone(), "outbound.from_ra", ctx);
    let from_hims = check_address(raw.from_hims.clone(), "outbound.from_hims", ctx);
    let transport = match raw.kind.as_deref() {
        Some("smtp") => check_smtp(&raw, ctx).map(OutboundConfig::Smtp),
        Some("maildir") => {
            let path = required_path(
                raw.path.clone(),
                "outbound.path",
                "the Maildir directory, e.g. \"var/outbox\"",
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
                    ("tls_ca_file", raw.tls_ca_file.is_some()),
                ],
                "outbound",
                "maildir",
                "smtp",
                ctx,
            );
            path.map(|path| OutboundConfig::Maildir { path })
        }
        Some(other) => Err(ctx.error(
            "outbound.kind",
            format!("unknown kind {other:?}: expected \"smtp\" or \"maildir\""),
        )),
        None => Err(ctx.missing("outbound.kind", "\"smtp\" or \"maildir\"")),
    };
    Ok(Outbound {
        transport: transport?,
        from_ra: from_ra?,
        from_hims: from_hims?,
    })
}

fn check_smtp(raw: &RawOutbound, ctx: &mut Ctx) -> Checked<SmtpConfig> {
    let host = check_host(raw.host.as_deref(), "outbound.host", ctx);
    let tls = check_tls(raw.tls.as_deref(), TlsMode::StartTls, "outbound.tls", ctx);
    if let (Ok(host), Ok(TlsMode::None)) = (&host, &tls)
        && !is_loopback_host(host)
    {
        ctx.error("outbound.tls", not_loopback(host, "mail and any password"));
    }
    let default_port = match tls {
        Ok(TlsMode::Tls) => 465,
        Ok(TlsMode::None) => 25,
        _ => 587,
    };
    let port = check_port(raw.port, default_port, "outbound.port", ctx);
    let username = match &raw.username {
        Some(name) if name.trim().is_empty() => Err(ctx.error(
            "outbound.username",
            "must not be empty (leave the key out for no authentication)",
        )),
        other => Ok(other.clone()),
    };
    let explicit = raw.password_file.is_some() || raw.password_env.is_some();
    // Without a username there is no login, so the default environment
    // variable is not consulted; an explicit password source is a mistake.
    let password = if raw.username.is_some() || explicit {
        read_secret(
            raw.password_file.as_deref(),
            raw.password_env.as_deref(),
            Some(SMTP_PASSWORD_ENV),
            "outbound",
            ctx,
        )
    } else {
        Ok(None)
    };
    if raw.username.is_none() && explicit {
        ctx.error(
            "outbound.username",
            "missing: a password source is given, so the SMTP login is needed too",
        );
    }
    if raw.username.is_some() && matches!(password, Ok(None)) {
        ctx.missing(
            "outbound.password_file",
            &format!(
                "SMTP username given but no password: set password_file or password_env, \
                 or the environment variable {SMTP_PASSWORD_ENV}"
            ),
        );
    }
    let ca = check_ca_file(raw.tls_ca_file.clone(), "outbound.tls_ca_file", ctx);
    Ok(SmtpConfig {
        host: host?,
        port: port?,
        tls: tls?,
        username: username?,
        password: password?,
        tls_ca_file: ca?,
    })
}

fn check_web(raw: Option<RawWeb>, ctx: &mut Ctx) -> Checked<WebConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "web",
            "a [web] section with listen and base_url (the links' public address)",
        ));
    };
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = match listen_text.trim().parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => Err(ctx.error(
            "web.listen",
            format!("{listen_text:?}: the port must be 1–65535"),
        )),
        Ok(addr) => Ok(addr),
        Err(_) => Err(ctx.error(
            "web.listen",
            format!(
                "{listen_text:?} is not IP:port with a port 1–65535 \
                 (e.g. \"127.0.0.1:8080\" or \"[::1]:8080\")"
            ),
        )),
    };
    let base_url = match raw.base_url {
        Some(url) => check_base_url(&url, ctx),
        None => Err(ctx.missing(
            "web.base_url",
            "the public address of the links, e.g. \"https://sign.example.my\"",
        )),
    };
    let pin = int_in(
        raw.pin_link_hours,
        DEFAULT_PIN_LINK_HOURS,
        1,
        24 * 30,
        "web.pin_link_hours",
        ctx,
    );
    let sign = int_in(
        raw.sign_link_days,
        DEFAULT_SIGN_LINK_DAYS,
        1,
        90,
        "web.sign_link_days",
        ctx,
    );
    Ok(WebConfig {
        listen: listen?,
        base_url: base_url?,
        pin_link_ttl: hours(pin?),
        sign_link_ttl: hours(sign? * 24),
    })
}

fn check_base_url(url: &str, ctx: &mut Ctx) -> Checked<String> {
    let text = url.trim();
    let Some((scheme, rest)) = ["https://", "http://"]
        .into_iter()
        .find_map(|scheme| Some((scheme, text.strip_prefix(scheme)?)))
    else {
        return Err(ctx.error(
            "web.base_url",
            format!("{url:?} must start with https:// (or http://)"),
        ));
    };
    let rest = rest.trim_end_matches('/');
    let problem = if rest.split('/').next().unwrap_or_default().is_empty() {
        Some("has no host")
    } else if rest.contains(char::is_whitespace) {
        Some("must not contain spaces")
    } else if rest.contains(['?', '#']) {
        Some("must not carry a query or fragment")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ctx.error("web.base_url", format!("{url:?} {problem}"))),
        None => Ok(format!("{scheme}{rest}")),
    }
}

fn check_store(raw: Option<RawStore>, ctx: &mut Ctx) -> Checked<StoreConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "store",
            "a [store] section with path, e.g. path = \"var/sijil.db\"",
        ));
    };
    let path = required_path(
        raw.path,
        "store.path",
        "the database directory, e.g. \"var/sijil.db\"",
        ctx,
    );
    let documents = match (raw.documents_path, &path) {
        (Some(documents), _) if documents.as_os_str().is_empty() => {
            Err(ctx.error("store.documents_path", "must not be empty"))
        }
        (Some(documents), Ok(path)) if documents == *path || documents.starts_with(path) => {
            Err(ctx.error(
                "store.documents_path",
                "must be outside the database directory store.path",
            ))
        }
        (Some(documents), _) => Ok(documents),
        (None, Ok(path)) => {
            let mut beside = path.clone().into_os_string();
            beside.push(".documents");
            Ok(PathBuf::from(beside))
        }
        (None, Err(_)) => Err(Reported),
    };
    let purge = int_in(
        raw.purge_after_days,
        DEFAULT_PURGE_AFTER_DAYS,
        1,
        3650,
        "store.purge_after_days",
        ctx,
    );
    Ok(StoreConfig {
        path: path?,
        documents: documents?,
        purge_after_days: purge? as u32,
    })
}

fn check_security(raw: RawSecurity, ctx: &mut Ctx) -> Checked<SecurityConfig> {
    let require = raw.require_authenticated_sender.unwrap_or(false);
    let authserv_id = match raw.authserv_id {
        Some(id) if id.trim().is_empty() || id.contains(char::is_whitespace) => Err(ctx.error(
            "security.authserv_id",
            format!("{id:?} is not an authserv-id (a host name such as \"mx.example.my\")"),
        )),
        Some(id) => Ok(Some(id)),
        None if require => Err(ctx.missing(
            "security.authserv_id",
            "required when require_authenticated_sender = true: the host name your \
             mail server writes in Authentication-Results",
        )),
        None => Ok(None),
    };
    let rate = int_in(
        raw.reply_rate_per_hour,
        DEFAULT_REPLY_RATE_PER_HOUR,
        1,
        10_000,
        "security.reply_rate_per_hour",
        ctx,
    );
    Ok(SecurityConfig {
        require_authenticated_sender: require,
        authserv_id: authserv_id?,
        reply_rate_per_hour: rate? as u32,
    })
}

fn check_limits(raw: RawLimits, ctx: &mut Ctx) -> Checked<LimitsConfig> {
    let attachment = int_in(
        raw.attachment_max_mib,
        DEFAULT_ATTACHMENT_MAX_MIB,
        1,
        1024,
        "limits.attachment_max_mib",
        ctx,
    );
    let message = int_in(
        raw.message_max_mib,
        DEFAULT_MESSAGE_MAX_MIB,
        1,
        1024,
        "limits.message_max_mib",
        ctx,
    );
    let (attachment, message) = (attachment?, message?);
    if attachment > message {
        return Err(ctx.error(
            "limits.attachment_max_mib",
            format!("{attachment} MiB is more than limits.message_max_mib ({message} MiB)"),
        ));
    }
    Ok(LimitsConfig {
        attachment_max_bytes: attachment.unsigned_abs() * MIB,
        message_max_bytes: message.unsigned_abs() * MIB,
    })
}

fn check_case(raw: RawCase, ctx: &mut Ctx) -> Checked<CaseConfig> {
    let prefix = raw
        .reference_prefix
        .unwrap_or_else(|| DEFAULT_REFERENCE_PREFIX.into());
    if (2..=6).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(CaseConfig {
            reference_prefix: prefix,
        })
    } else {
        Err(ctx.error(
            "case.reference_prefix",
            format!("{prefix:?} must be 2 to 6 uppercase letters A–Z, like \"SJL\""),
        ))
    }
}

fn check_developers(raw: Option<Vec<Option<RawDeveloper>>>, ctx: &mut Ctx) -> Entries<Developer> {
    let mut entries = Entries {
        valid: Vec::new(),
        all_valid: true,
    };
    let raw = match raw {
        Some(raw) => raw,
        None if ctx.refused.contains("developer") => {
            entries.all_valid = false;
            return entries;
        }
        None => Vec::new(),
    };
    if raw.is_empty() {
        ctx.error(
            "developer",
            "no [[developer]]: every application pack would be quarantined; add at least one",
        );
        entries.all_valid = false;
    }
    for (i, dev) in raw.into_iter().enumerate() {
        let n = i + 1;
        let Some(dev) = dev else {
            entries.all_valid = false;
            continue;
        };
        match check_developer(dev, &format!("developer[{n}]"), ctx) {
            Ok(dev) => entries.valid.push((n, dev)),
            Err(Reported) => entries.all_valid = false,
        }
    }
    entries
}

fn check_developer(raw: RawDeveloper, key: &str, ctx: &mut Ctx) -> Checked<Developer> {
    let company = required_text(
        raw.company,
        &format!("{key}.company"),
        "the company name",
        ctx,
    );
    let addresses = check_address_list(raw.addresses, &format!("{key}.addresses"), ctx);
    let domain = match raw.domain {
        Some(domain) => {
            let lower = domain.trim().to_lowercase();
            if let Some(bare) = lower.strip_prefix('@').filter(|d| address::is_domain(d)) {
                Err(ctx.error(
                    format!("{key}.domain"),
                    format!("write the domain without '@': domain = {bare:?}"),
                ))
            } else if address::is_domain(&lower) {
                Ok(Some(lower))
            } else {
                Err(ctx.error(
                    format!("{key}.domain"),
                    format!("{domain:?} is not a domain name"),
                ))
            }
        }
        None => Ok(None),
    };
    // Not when a key of this entry was refused: it may be a misspelt
    // `addresses` or `domain`, already reported.
    let section_refused = ctx
        .refused
        .iter()
        .any(|k| k.starts_with(&format!("{key}.")));
    if let (Ok(addresses), Ok(None)) = (&addresses, &domain)
        && addresses.is_empty()
        && !section_refused
    {
        ctx.error(
            key,
            "give the developer's sender addresses = [...] or a whole domain = \"...\"",
        );
        return Err(Reported);
    }
    Ok(Developer {
        company: company?,
        addresses: addresses?,
        domain: domain?,
    })
}

fn check_address_list(raw: Option<Vec<String>>, key: &str, ctx: &mut Ctx) -> Checked<Vec<String>> {
    let mut ok = true;
    let mut out: Vec<String> = Vec::new();
    for address in raw.unwrap_or_default() {
        let lower = address::bare(&address);
        if !address::is_valid(&lower) {
            ctx.error(key, format!("{address:?} is not an email address"));
            ok = false;
        } else if !out.contains(&lower) {
            out.push(lower);
        }
    }
    if ok { Ok(out) } else { Err(Reported) }
}

fn check_staff(raw: Option<Vec<Option<RawStaff>>>, ctx: &mut Ctx) -> Entries<Staff> {
    let mut entries = Entries {
        valid: Vec::new(),
        all_valid: true,
    };
    let raw = match raw {
        Some(raw) => raw,
        None if ctx.refused.contains("staff") => {
            entries.all_valid = false;
            return entries;
        }
        None => Vec::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, staff) in raw.into_iter().enumerate() {
        let n = i + 1;
        let Some(staff) = staff else {
            entries.all_valid = false;
            continue;
        };
        let key = format!("staff[{n}]");
        let name = required_text(staff.name, &format!("{key}.name"), "the person's name", ctx);
        let address = match staff.address {
            Some(address) => {
                let lower = address::bare(&address);
                if !address::is_valid(&lower) {
                    Err(ctx.error(
                        format!("{key}.address"),
                        format!("{address:?} is not an email address"),
                    ))
                } else if let Some(first) = seen.insert(lower.clone(), n) {
                    Err(ctx.error(
                        format!("{key}.address"),
                        format!("{lower} is already staff[{first}]: give each person one entry with all their roles"),
                    ))
                } else {
                    Ok(lower)
                }
            }
            None => Err(ctx.missing(
                &format!("{key}.address"),
                "the staff member's email address",
            )),
        };
        let roles = check_roles(staff.roles, &format!("{key}.roles"), ctx);
        match (name, address, roles) {
            (Ok(name), Ok(address), Ok(roles)) => entries.valid.push((
                n,
                Staff {
                    name,
                    address,
                    roles,
                },
            )),
            _ => entries.all_valid = false,
        }
    }
    if entries.all_valid
        && !entries
            .valid
            .iter()
            .any(|(_, s)| s.has(StaffRole::Verifier))
    {
        ctx.error(
            "staff",
            "no [[staff]] with role \"verifier\": nobody would be told of a new case",
        );
        entries.all_valid = false;
    }
    entries
}

fn check_roles(raw: Option<Vec<String>>, key: &str, ctx: &mut Ctx) -> Checked<Vec<StaffRole>> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            key,
            "roles = [...] with one or more of \"verifier\", \"officer\", \"qc\", \"admin\"",
        ));
    };
    if raw.is_empty() {
        return Err(ctx.error(
            key,
            "empty: give one or more of \"verifier\", \"officer\", \"qc\", \"admin\"",
        ));
    }
    let mut ok = true;
    let mut roles = Vec::new();
    for text in raw {
        match text.trim().to_lowercase().parse::<StaffRole>() {
            Ok(role) if !roles.contains(&role) => roles.push(role),
            Ok(_) => {}
            Err(_) => {
                ctx.error(
                    key,
                    format!(
                        "unknown role {text:?}: expected \"verifier\", \"officer\", \"qc\" or \"admin\""
                    ),
                );
                ok = false;
            }
        }
    }
    if ok { Ok(roles) } else { Err(Reported) }
}

/// Mistakes that span sections: one address claimed twice, or our own
/// sender address claimed by a person (the daemon would answer itself).
fn cross_check(
    developers: &Entries<Developer>,
    staff: &Entries<Staff>,
    outbound: Option<&Outbound>,
    ctx: &mut Ctx,
) {
    let mut address_owner: HashMap<&str, String> = HashMap::new();
    let mut domain_owner: HashMap<&str, String> = HashMap::new();
    for (n, dev) in &developers.valid {
        let who = format!("developer[{n}] ({})", dev.company);
        for address in &dev.addresses {
            if let Some(first) = address_owner.insert(address, who.clone()) {
                ctx.error(
                    format!("developer[{n}].addresses"),
                    format!("{address} is also listed by {first}"),
                );
            }
        }
        if let Some(domain) = &dev.domain
            && let Some(first) = domain_owner.insert(domain, who.clone())
        {
            ctx.error(
                format!("developer[{n}].domain"),
                format!("{domain} is also the domain of {first}"),
            );
        }
    }
    let developer_of = |address: &str| {
        address_owner.get(address).cloned().or_else(|| {
            let domain = address.rsplit_once('@')?.1;
            domain_owner.get(domain).cloned()
        })
    };
    for (n, person) in &staff.valid {
        if let Some(dev) = developer_of(&person.address) {
            ctx.error(
                format!("staff[{n}].address"),
                format!(
                    "{} also belongs to {dev}: staff commands and developer mail would be confused",
                    person.address
                ),
            );
        }
    }
    let Some(outbound) = outbound else { return };
    for (key, from) in [
        ("outbound.from_ra", &outbound.from_ra),
        ("outbound.from_hims", &outbound.from_hims),
    ] {
        let email = from.email.to_lowercase();
        let owner = developer_of(&email).or_else(|| {
            staff
                .valid
                .iter()
                .find(|(_, s)| s.address == email)
                .map(|(n, s)| format!("staff[{n}] ({})", s.name))
        });
        if let Some(owner) = owner {
            ctx.error(
                key,
                format!("{email} also belongs to {owner}: the daemon would answer its own mail"),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Small checks shared by the sections.

/// A plain `password` key: refused, and the missing-password mistake it
/// would also cause is not reported a second time.
fn refuse_plain_password(present: bool, section: &str, file: &str, env: &str, ctx: &mut Ctx) {
    if present {
        ctx.error(
            format!("{section}.password"),
            format!(
                "secrets never go in the configuration file: use \
                 password_file = \"/etc/sijil/{file}\" or password_env = \"{env}\""
            ),
        );
        ctx.refused.insert(format!("{section}.password_file"));
    }
}

/// Keys that mean nothing for the chosen `kind`.
fn refuse_keys(keys: &[(&str, bool)], section: &str, kind: &str, other: &str, ctx: &mut Ctx) {
    for (name, present) in keys {
        if *present {
            ctx.error(
                format!("{section}.{name}"),
                format!(
                    "not used with kind = \"{kind}\" (only with kind = \"{other}\"): remove it"
                ),
            );
        }
    }
}

fn required_text(value: Option<String>, key: &str, what: &str, ctx: &mut Ctx) -> Checked<String> {
    match value {
        Some(text) if text.trim().is_empty() => Err(ctx.error(key, "must not be empty")),
        Some(text) => Ok(text.trim().to_owned()),
        None => Err(ctx.missing(key, what)),
    }
}

fn required_path(value: Option<PathBuf>, key: &str, what: &str, ctx: &mut Ctx) -> Checked<PathBuf> {
    match value {
        Some(path) if path.as_os_str().is_empty() => Err(ctx.error(key, "must not be empty")),
        Some(path) => Ok(path),
        None => Err(ctx.missing(key, what)),
    }
}

fn check_host(value: Option<&str>, key: &str, ctx: &mut Ctx) -> Checked<String> {
    let Some(host) = value else {
        return Err(ctx.missing(key, "the server's host name or IP address"));
    };
    let host = host.trim();
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let problem = if host.is_empty() {
        Some("must not be empty")
    } else if host.contains("://") {
        Some("give the host name only, without a scheme such as imap:// or smtp://")
    } else if host.contains(char::is_whitespace) || host.contains(['/', '@']) {
        Some("is not a host name or IP address")
    } else if host.contains(':') && unbracketed.parse::<Ipv6Addr>().is_err() {
        Some("give the port in the `port` key, not in the host")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ctx.error(key, format!("{host:?}: {problem}"))),
        None => Ok(unbracketed.to_owned()),
    }
}

fn check_tls(value: Option<&str>, default: TlsMode, key: &str, ctx: &mut Ctx) -> Checked<TlsMode> {
    match value {
        Some(text) => text
            .parse()
            .map_err(|message: String| ctx.error(key, message)),
        None => Ok(default),
    }
}

fn not_loopback(host: &str, what: &str) -> String {
    format!(
        "\"none\" is only allowed for a loopback host (127.0.0.1, ::1, localhost), \
         not {host:?}: {what} would cross the network in clear; use \"tls\" or \"starttls\""
    )
}

fn check_port(value: Option<i64>, default: u16, key: &str, ctx: &mut Ctx) -> Checked<u16> {
    match value {
        None => Ok(default),
        Some(port) => u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ctx.error(key, format!("{port} is not a port: expected 1–65535"))),
    }
}

fn int_in(
    value: Option<i64>,
    default: i64,
    lo: i64,
    hi: i64,
    key: &str,
    ctx: &mut Ctx,
) -> Checked<i64> {
    let value = value.unwrap_or(default);
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(ctx.error(key, format!("{value} is out of range: expected {lo}–{hi}")))
    }
}

fn check_ca_file(value: Option<PathBuf>, key: &str, ctx: &mut Ctx) -> Checked<Option<PathBuf>> {
    let Some(path) = value else { return Ok(None) };
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(Some(path)),
        Ok(_) => Err(ctx.error(key, format!("{} is not a file", path.display()))),
        Err(e) => Err(ctx.error(key, format!("cannot read {}: {e}", path.display()))),
    }
}

fn check_address(value: Option<String>, key: &str, ctx: &mut Ctx) -> Checked<Address> {
    match value {
        Some(text) => Address::parse(&text).map_err(|message| ctx.error(key, message)),
        None => Err(ctx.missing(
            key,
            "a sender such as \"POS Digicert RA <kpkt.retail@example.my>\"",
        )),
    }
}

/// Reads a password from `file` or the environment variable `var`, or else
/// from `default_var` when set. `Ok(None)`: no password anywhere.
fn read_secret(
    file: Option<&Path>,
    var: Option<&str>,
    default_var: Option<&str>,
    section: &str,
    ctx: &mut Ctx,
) -> Checked<Option<Secret>> {
    match (file, var) {
        (Some(_), Some(_)) => Err(ctx.error(
            format!("{section}.password_env"),
            "give password_file or password_env, not both",
        )),
        (Some(path), None) => {
            let key = format!("{section}.password_file");
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let password = text.trim_end_matches(['\n', '\r']);
                    if password.is_empty() {
                        Err(ctx.error(key, format!("{} is empty", path.display())))
                    } else {
                        Ok(Some(Secret::new(password)))
                    }
                }
                Err(e) => Err(ctx.error(key, format!("cannot read {}: {e}", path.display()))),
            }
        }
        (None, Some(name)) => {
            let key = format!("{section}.password_env");
            if name.trim().is_empty() {
                return Err(ctx.error(key, "must name an environment variable"));
            }
            match (ctx.env)(name).filter(|v| !v.is_empty()) {
                Some(value) => Ok(Some(Secret::new(value))),
                None => Err(ctx.error(
                    key,
                    format!("the environment variable {name} is not set (or empty)"),
                )),
            }
        }
        (None, None) => Ok(default_var
            .and_then(|name| (ctx.env)(name))
            .filter(|v| !v.is_empty())
            .map(Secret::new)),
    }
}

pub(super) fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// May stand unquoted in a display name (RFC 5322 atext and spaces; UTF-8
/// allowed by RFC 6532).
pub(super) fn is_phrase_char(c: char) -> bool {
    c.is_alphanumeric() || !c.is_ascii() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

pub(super) fn unescape_quoted(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}
