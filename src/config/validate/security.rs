//! `[security]`: sender authentication and reply throttling.

use super::*;

pub(super) fn check_security(raw: RawSecurity, ctx: &mut Ctx) -> Checked<SecurityConfig> {
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
