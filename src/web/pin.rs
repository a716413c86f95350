//! `GET/POST /pin/{token}`: the signee sets the certificate PIN (SPEC §7).
//!
//! The page finds the case by the token's SHA-256 (the store's link
//! index), shows whose certificate it is (the first name only) and a form
//! with the PIN twice. A post must come from that page: its `Origin`, when
//! the browser sends one, is `base_url`'s (see [`cross_site`] for the
//! `null` a no-referrer page sends), and it carries the form token (an
//! HMAC of the link's hash under the store's secret). The rules are
//! checked before anything costly; an acceptable PIN is hashed with
//! Argon2id ([`super::hashing`], a bounded number at a time), and then
//! decided by the core and committed through the apply path, whose
//! commit checks that the link is still current. Only once that is
//! durable does the signee see the confirmation.
//!
//! What is logged: the case reference and the outcome. Never the token,
//! the PIN, its hash or the form token.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;
use axum::{Form, extract::rejection::FormRejection};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::AppState;
use super::hashing::{HashError, Hasher};
use super::pages::Pages;
use crate::apply::ApplyError;
use crate::core::case::Case;
use crate::core::certificate::SealedKey;
use crate::core::pin::{self, LinkStatus, Mistake, PinHash, Visit};
use crate::core::{self, Input, View};
use crate::edge::store::{Committed, Origin, StoreError};

/// A token is 32 bytes in base64url without padding.
const TOKEN_LEN: usize = 43;

/// What the PIN routes share.
pub struct PinWeb {
    pub(super) pages: Pages,
    hasher: Hasher,
    /// `scheme://host[:port]` of `base_url`, lowercased.
    origin: String,
    form_key: [u8; 32],
}

impl PinWeb {
    pub fn new(base_url: &str, form_key: &[u8; 32]) -> anyhow::Result<PinWeb> {
        Ok(PinWeb {
            pages: Pages::new()?,
            hasher: Hasher::default(),
            origin: origin_of(base_url),
            form_key: *form_key,
        })
    }

    /// The bounded Argon2id hasher (the signing page checks PINs with it).
    pub(super) fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// The form token for the link whose token hashes to `token_sha256`.
    fn form_token(&self, token_sha256: &str) -> String {
        hex::encode(self.mac(token_sha256).finalize().into_bytes())
    }

    /// Whether `sent` is that form token; compared in constant time.
    fn form_token_ok(&self, token_sha256: &str, sent: &str) -> bool {
        hex::decode(sent).is_ok_and(|bytes| self.mac(token_sha256).verify_slice(&bytes).is_ok())
    }

    fn mac(&self, token_sha256: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.form_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(token_sha256.as_bytes());
        mac
    }
}

/// `scheme://host[:port]` of a URL: what a browser sends as `Origin`.
pub(super) fn origin_of(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{host}")
        }
        None => url,
    }
}

/// The form as posted. No `Debug`: it holds the PIN.
#[derive(serde::Deserialize)]
pub struct PinForm {
    #[serde(default)]
    pin: String,
    #[serde(default)]
    pin2: String,
    #[serde(default)]
    form_token: String,
}

/// The token's SHA-256, when it has the shape of one of ours.
pub(super) fn token_hash(token: &str) -> Option<String> {
    let ok = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| pin::token_sha256(token))
}

pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let now = Utc::now();
    let (sha, case) = match find(&s, &token) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    record(&s, &sha, Visit::Open, now);
    match pin::link_status(&case, &sha, now) {
        LinkStatus::Current => form(&s, &case, &sha, &[], StatusCode::OK),
        status => gone(&s, &case, status),
    }
}

pub async fn submit(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    posted: Result<Form<PinForm>, FormRejection>,
) -> Response {
    let now = Utc::now();
    if cross_site(&headers, &s.pin.origin) {
        tracing::info!("pin page: cross-site post refused");
        return s
            .pin
            .pages
            .page(StatusCode::FORBIDDEN, "forbidden", json!({}));
    }
    let (sha, case) = match find(&s, &token) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let Ok(Form(posted)) = posted else {
        return forbidden(&s, &case);
    };
    if !s.pin.form_token_ok(&sha, &posted.form_token) {
        return forbidden(&s, &case);
    }
    let status = pin::link_status(&case, &sha, now);
    if status != LinkStatus::Current {
        record(&s, &sha, Visit::Spent, now);
        return gone(&s, &case, status);
    }
    let mistakes = pin::rules::check(&posted.pin, &posted.pin2);
    if !mistakes.is_empty() {
        record(&s, &sha, Visit::Refused(&mistakes), now);
        tracing::info!(case = %case.reference, "pin page: PIN refused by the rules");
        return form(&s, &case, &sha, &mistakes, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let started = Instant::now();
    let set_pin = s
        .pin
        .hasher
        .set_pin(posted.pin, case.reference.clone(), now);
    let (hash, sealed) = match set_pin.await {
        Ok(made) => made,
        Err(e) => {
            tracing::warn!(case = %case.reference, error = %e, "pin page: PIN not hashed");
            return trouble(&s, &case, matches!(e, HashError::Busy));
        }
    };
    set(&s, &sha, &case, (&hash, &sealed), started).await
}

/// Sets the PIN: decided, committed (the commit checks the link again)
/// and made durable before the confirmation is shown.
async fn set(
    s: &AppState,
    sha: &str,
    case: &Case,
    (hash, sealed): (&str, &SealedKey),
    started: Instant,
) -> Response {
    let hashed = started.elapsed();
    let now = Utc::now();
    let applier = &s.applier;
    let input = Input::Pin {
        token_sha256: sha,
        visit: Visit::Set(PinHash(hash), Some(sealed)),
    };
    let effects = match core::handle(input, applier.store(), applier.cfg(), now) {
        Ok(effects) => effects,
        Err(e) => {
            tracing::error!(case = %case.reference, error = %e, "pin page: store unreadable");
            return trouble(s, case, false);
        }
    };
    let origin = Origin::PinLink {
        token_sha256: sha,
        uses_link: true,
    };
    let seed = format!("pin:{sha}");
    let queued = match applier.apply(origin, &seed, &effects, &[], now) {
        Ok(Committed::Now { queued, .. }) => queued,
        Ok(Committed::Already(_)) => Vec::new(),
        Err(ApplyError::Store(StoreError::LinkSpent)) => {
            // Another submission took the link first (or it moved on).
            record(s, sha, Visit::Spent, now);
            return match current(s, sha) {
                Some(latest) => gone(s, &latest, pin::link_status(&latest, sha, now)),
                None => gone(s, case, LinkStatus::Used),
            };
        }
        Err(e) => {
            tracing::error!(case = %case.reference, error = %e, "pin page: not committed");
            return trouble(s, case, false);
        }
    };
    if effects.cases.is_empty() {
        // The core found the link spent after all.
        return gone(s, case, pin::link_status(case, sha, now));
    }
    let committed = started.elapsed();
    if let Err(e) = applier.durable(queued).await {
        tracing::error!(case = %case.reference, error = %e, "pin page: not durable");
        return trouble(s, case, false);
    }
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    tracing::info!(
        case = %case.reference,
        hash_ms = ms(hashed),
        commit_ms = ms(committed - hashed),
        durable_ms = ms(started.elapsed() - committed),
        "pin page: PIN set"
    );
    s.pin.pages.page(
        StatusCode::OK,
        "pin-done",
        json!({ "first_name": pin::first_name(case), "ref": case.reference }),
    )
}

/// A post from another site. `Sec-Fetch-Site`, where the browser sends it,
/// must say `same-origin`. `Origin`, when present, must be ours, with one
/// exception: under our `Referrer-Policy: no-referrer` a browser sends
/// `Origin: null` for the page's own form, so `null` passes only when
/// `Sec-Fetch-Site` says the post came from our own origin. A client that
/// sends neither header passes here and still needs the form token.
pub(super) fn cross_site(headers: &HeaderMap, ours: &str) -> bool {
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    let fetch_site = text(HeaderName::from_static("sec-fetch-site"));
    let same_origin = fetch_site.is_some_and(|v| v.eq_ignore_ascii_case("same-origin"));
    if fetch_site.is_some() && !same_origin {
        return true;
    }
    match text(header::ORIGIN) {
        None => false,
        Some("null") => !same_origin,
        Some(origin) => !origin.eq_ignore_ascii_case(ours),
    }
}

/// The link's hash and its case, or the page that says it is not known.
fn find(s: &AppState, token: &str) -> Result<(String, Case), Box<Response>> {
    let page = |status, name| Box::new(s.pin.pages.page(status, name, json!({})));
    let Some(sha) = token_hash(token) else {
        return Err(page(StatusCode::NOT_FOUND, "not-found"));
    };
    match s.applier.store().case_for_pin_link(&sha) {
        Ok(Some(case)) => Ok((sha, case)),
        Ok(None) => Err(page(StatusCode::NOT_FOUND, "not-found")),
        Err(e) => {
            tracing::error!(error = %e, "pin page: store unreadable");
            Err(page(StatusCode::INTERNAL_SERVER_ERROR, "trouble"))
        }
    }
}

/// The case as stored now.
fn current(s: &AppState, sha: &str) -> Option<Case> {
    s.applier.store().case_for_pin_link(sha).ok().flatten()
}

/// Records a visit that changes no state (an open, a refusal) on its case.
/// Not waited for: it becomes durable with the next flush, and a crash
/// before that loses only the record of a visit that changed nothing.
fn record(s: &AppState, sha: &str, visit: Visit<'_>, now: DateTime<Utc>) {
    let applier = &s.applier;
    let input = Input::Pin {
        token_sha256: sha,
        visit,
    };
    let origin = Origin::PinLink {
        token_sha256: sha,
        uses_link: false,
    };
    let recorded = core::handle(input, applier.store(), applier.cfg(), now)
        .map_err(|e| e.to_string())
        .and_then(|effects| {
            applier
                .apply(origin, "pin-visit", &effects, &[], now)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "pin page: visit not recorded");
    }
}

fn form(
    s: &AppState,
    case: &Case,
    sha: &str,
    mistakes: &[Mistake],
    status: StatusCode,
) -> Response {
    let mistakes: Vec<_> = mistakes
        .iter()
        .map(|m| json!({ "code": m.code(), "ms": m.ms(), "en": m.en() }))
        .collect();
    s.pin.pages.page(
        status,
        "pin-form",
        json!({
            "first_name": pin::first_name(case),
            "ref": case.reference,
            "form_token": s.pin.form_token(sha),
            "mistakes": mistakes,
        }),
    )
}

fn gone(s: &AppState, case: &Case, status: LinkStatus) -> Response {
    tracing::info!(case = %case.reference, why = status.as_str(), "pin page: link refused");
    s.pin.pages.page(
        StatusCode::GONE,
        "pin-gone",
        json!({ "why": status.as_str(), "ref": case.reference }),
    )
}

fn trouble(s: &AppState, case: &Case, busy: bool) -> Response {
    let status = if busy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    tracing::info!(case = %case.reference, busy, "pin page: trouble");
    s.pin.pages.page(status, "trouble", json!({ "busy": busy }))
}

/// A post without this link's form token (or no form at all): refused
/// before anything else.
fn forbidden(s: &AppState, case: &Case) -> Response {
    tracing::info!(case = %case.reference, "pin page: post without its form token refused");
    s.pin
        .pages
        .page(StatusCode::FORBIDDEN, "forbidden", json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_cross_site() {
        let ours = origin_of("https://Sign.example.my/prefix");
        assert_eq!(ours, "https://sign.example.my");
        let table: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, None, false),
            (None, Some("https://sign.example.my"), false),
            (Some("same-origin"), Some("https://sign.example.my"), false),
            // Our own page under Referrer-Policy: no-referrer.
            (Some("same-origin"), Some("null"), false),
            (None, Some("null"), true),
            (Some("cross-site"), Some("null"), true),
            (Some("cross-site"), None, true),
            (Some("same-site"), None, true),
            (Some("none"), None, true),
            (Some("same-origin"), Some("https://evil.example"), true),
            (None, Some("https://sign.example.my:8443"), true),
            (None, Some("http://sign.example.my"), true),
        ];
        for (fetch_site, origin, refused) in table {
            let mut headers = HeaderMap::new();
            if let Some(v) = fetch_site {
                headers.insert("sec-fetch-site", v.parse().unwrap());
            }
            if let Some(v) = origin {
                headers.insert(header::ORIGIN, v.parse().unwrap());
            }
            assert_eq!(
                cross_site(&headers, &ours),
                *refused,
                "{fetch_site:?} {origin:?}"
            );
        }
    }

    #[test]
    fn a_token_has_the_shape_of_ours_or_is_unknown() {
        assert!(token_hash(&"A".repeat(43)).is_some());
        assert!(token_hash(&"A".repeat(42)).is_none());
        assert!(token_hash(&format!("{}=", "A".repeat(42))).is_none());
        assert!(token_hash(&format!("{}/", "A".repeat(42))).is_none());
    }
}
