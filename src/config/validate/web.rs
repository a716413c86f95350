//! `[web]`: the link server's address, its public base URL and how long
//! links live.

use super::*;

pub(super) fn check_web(raw: Option<RawWeb>, ctx: &mut Ctx) -> Checked<WebConfig> {
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
