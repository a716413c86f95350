//! `[outbound]`: where outgoing mail goes (SMTP or a Maildir) and the two
//! sender addresses.

use super::*;

pub(super) fn check_outbound(raw: Option<RawOutbound>, ctx: &mut Ctx) -> Checked<Outbound> {
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
