//! Validation: the raw layer read from the TOML becomes the rich
//! [`Config`]; every mistake is recorded with its key path, none stops the
//! others from being found (`sijil check-config` explains them all).
//!
//! Here: the whole in section order and the small checks the sections
//! share; each section's own checks are in `validate/<section>.rs`.

use super::*;
use crate::address;

mod ca;
mod case;
mod general;
mod limits;
mod mailbox;
mod outbound;
mod people;
mod security;
mod store;
mod web;

use ca::check_ca;
use case::check_case;
use general::check_general;
use limits::check_limits;
use mailbox::check_mailbox;
use outbound::check_outbound;
use people::{check_developers, check_staff, cross_check};
use security::check_security;
use store::check_store;
use web::check_web;

pub(super) fn validate(raw: RawConfig, source: Option<&Path>, ctx: &mut Ctx) -> Checked<Config> {
    let general = check_general(raw.general.unwrap_or_default(), ctx);
    let mailbox = check_mailbox(raw.mailbox, ctx);
    let outbound = check_outbound(raw.outbound, ctx);
    let web = check_web(raw.web, ctx);
    let store = check_store(raw.store, ctx);
    let ca = check_ca(raw.ca, ctx);
    let security = check_security(raw.security.unwrap_or_default(), ctx);
    let limits = check_limits(raw.limits.unwrap_or_default(), ctx);
    let case = check_case(raw.case.unwrap_or_default(), ctx);
    let developers = check_developers(raw.developer, ctx);
    let staff = check_staff(raw.staff, ctx);
    cross_check(&developers, &staff, outbound.as_ref().ok(), ctx);
    Ok(Config {
        general: general?,
        mailbox: mailbox?,
        outbound: outbound?,
        web: web?,
        store: store?,
        ca: ca?,
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
    existing_file(&path, key, ctx)?;
    Ok(Some(path))
}

/// `path` names a file that exists (not a directory); its metadata.
fn existing_file(path: &Path, key: &str, ctx: &mut Ctx) -> Checked<std::fs::Metadata> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(meta),
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
