//! `/sign/{token}`: the signee reads the eSPA and signs it (SPEC §7).
//!
//! | route | does |
//! |---|---|
//! | `GET /sign/{token}` | the eSPA summary, who has signed, the forms |
//! | `GET /sign/{token}/document` | the PDF, inline, only through a current link |
//! | `POST /sign/{token}/code` | emails a 6-digit code (CODE) |
//! | `POST /sign/{token}` | signs, with the code and, for a `manual` signee, the PIN |
//! | `POST /sign/{token}/decline` | declines, with a reason |
//!
//! Thin, as the PIN page is: the link's hash and the typed code's keyed
//! hash go to the core ([`signing::visit`]), whose decision goes through
//! the one apply path. A decision on an eSPA that changed meanwhile is
//! refused by the store and made again, so two submissions racing on one
//! link sign once. A signature is durable, with its emails, before the
//! page says "signed". The PIN is checked (Argon2id, [`super::hashing`])
//! only when the code is right, so a link alone locks nobody out.
//!
//! What is logged: the eSPA reference, the order and the outcome. Never
//! the token, the code, the PIN or the form token.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, extract::rejection::FormRejection};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::pin::{cross_site, origin_of, token_hash};
use super::{AppState, signature};
use crate::apply::ApplyError;
use crate::core::espa::signing::{self, Client, Decided, Outcome, Status, Visit, normalize_code};
use crate::core::espa::{Espa, Route, turn};
use crate::core::{View, context::human_size};
use crate::edge::store::{Committed, Origin, StoreError};

/// How often a decision is made again when the eSPA changed under it.
const ATTEMPTS: usize = 8;

/// What the signing routes share.
pub struct SignWeb {
    /// `scheme://host[:port]` of `base_url`, lowercased.
    origin: String,
    /// The path `base_url` puts before `/sign/…` (empty, or `/prefix`).
    prefix: String,
    form_key: [u8; 32],
}

impl SignWeb {
    pub fn new(base_url: &str, form_key: &[u8; 32]) -> SignWeb {
        let origin = origin_of(base_url);
        let rest = base_url.trim().split_once("://").map_or("", |(_, r)| r);
        let prefix = rest
            .find('/')
            .map_or("", |i| &rest[i..])
            .trim_end_matches('/')
            .to_string();
        SignWeb {
            origin,
            prefix,
            form_key: *form_key,
        }
    }

    /// The form token of the signing page whose link hashes to `sha`:
    /// keyed apart from the PIN page's, so one never passes for the other.
    fn form_token(&self, sha: &str) -> String {
        hex::encode(self.mac(sha).finalize().into_bytes())
    }

    fn form_token_ok(&self, sha: &str, sent: &str) -> bool {
        hex::decode(sent).is_ok_and(|bytes| self.mac(sha).verify_slice(&bytes).is_ok())
    }

    fn mac(&self, sha: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.form_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"sign\0");
        mac.update(sha.as_bytes());
        mac
    }
}

/// A post to the signing page. No `Debug`: it holds the code and the PIN.
#[derive(serde::Deserialize)]
pub struct SignForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    form_token: String,
}

pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(sha) = token_hash(&token) else {
        return not_found(&s);
    };
    match decide(&s, &sha, |_| Visit::Open).await {
        Ok(decided) => page(&s, &token, &sha, &decided),
        Err(page) => *page,
    }
}

pub async fn document(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(sha) = token_hash(&token) else {
        return not_found(&s);
    };
    let store = s.applier.store();
    let (espa, order) = match store.espa_for_sign_link(&sha) {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&s),
        Err(e) => {
            tracing::error!(error = %e, "signing page: store unreadable");
            return trouble(&s);
        }
    };
    let case = espa
        .signee(order)
        .and_then(|x| x.case_ref.as_deref())
        .and_then(|r| store.case(r).ok().flatten());
    let status = signing::status(&espa, order, case.as_ref(), &sha, Utc::now());
    if status != Status::Current {
        return gone(&s, &espa, order, status);
    }
    let bytes = match signature::current_pdf(&s, &espa).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(espa = %espa.reference, error = %e, "signing page: the eSPA's PDF is unreadable");
            return trouble(&s);
        }
    };
    let name: String = espa
        .document
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

pub async fn request_code(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    posted: Result<Form<SignForm>, FormRejection>,
) -> Response {
    let (sha, _) = match checked_post(&s, &token, &headers, posted) {
        Ok(ok) => ok,
        Err(page) => return *page,
    };
    match decide(&s, &sha, |_| Visit::RequestCode).await {
        Ok(decided) => page(&s, &token, &sha, &decided),
        Err(page) => *page,
    }
}

pub async fn submit(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    posted: Result<Form<SignForm>, FormRejection>,
) -> Response {
    let (sha, form) = match checked_post(&s, &token, &headers, posted) {
        Ok(ok) => ok,
        Err(page) => return *page,
    };
    let store = s.applier.store();
    let (espa, order) = match store.espa_for_sign_link(&sha) {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&s),
        Err(_) => return trouble(&s),
    };
    let Some(code) = normalize_code(&form.code) else {
        return form_page(&s, &token, &sha, &espa, order, Some(("CODE_FORMAT", None)));
    };
    let code_mac = store.code_mac(&espa.reference, order, &code);
    let (pin, pdf) = match signature::pin_and_pdf(&s, &espa, order, &code_mac, form.pin).await {
        Ok(made) => made,
        Err(e) => {
            tracing::warn!(espa = %espa.reference, order, error = %e, "signing page: PIN not checked");
            return trouble(&s);
        }
    };
    let (ip, user_agent) = client_of(&headers, &extensions);
    let client = Client {
        ip: &ip,
        user_agent: &user_agent,
    };
    let decided = decide(&s, &sha, |_| Visit::Sign {
        code_mac: &code_mac,
        pin,
        client,
        pdf: pdf.as_ref(),
    })
    .await;
    let recorded = decided
        .as_ref()
        .is_ok_and(|d| matches!(d.outcome, Outcome::Signed { .. }));
    if !recorded {
        signature::forget(s.applier.store(), pdf.as_ref());
    }
    match decided {
        Ok(decided) => page(&s, &token, &sha, &decided),
        Err(page) => *page,
    }
}

pub async fn decline(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    posted: Result<Form<SignForm>, FormRejection>,
) -> Response {
    let (sha, form) = match checked_post(&s, &token, &headers, posted) {
        Ok(ok) => ok,
        Err(page) => return *page,
    };
    let (ip, user_agent) = client_of(&headers, &extensions);
    let client = Client {
        ip: &ip,
        user_agent: &user_agent,
    };
    match decide(&s, &sha, |_| Visit::Decline {
        reason: &form.reason,
        client,
    })
    .await
    {
        Ok(decided) => page(&s, &token, &sha, &decided),
        Err(page) => *page,
    }
}

/// A post from the page itself, with its form token: the link's hash and
/// the form.
fn checked_post(
    s: &AppState,
    token: &str,
    headers: &HeaderMap,
    posted: Result<Form<SignForm>, FormRejection>,
) -> Result<(String, SignForm), Box<Response>> {
    if cross_site(headers, &s.sign.origin) {
        tracing::info!("signing page: cross-site post refused");
        return Err(Box::new(forbidden(s)));
    }
    let Some(sha) = token_hash(token) else {
        return Err(Box::new(not_found(s)));
    };
    let Ok(Form(form)) = posted else {
        return Err(Box::new(forbidden(s)));
    };
    if !s.sign.form_token_ok(&sha, &form.form_token) {
        tracing::info!("signing page: post without its form token refused");
        return Err(Box::new(forbidden(s)));
    }
    Ok((sha, form))
}

/// Decides the visit and applies it, made again (up to [`ATTEMPTS`]) when
/// the eSPA changed meanwhile; what changes state is durable before this
/// returns.
async fn decide<'v>(
    s: &AppState,
    sha: &str,
    visit: impl Fn(()) -> Visit<'v>,
) -> Result<Decided, Box<Response>> {
    let applier = &s.applier;
    for _ in 0..ATTEMPTS {
        let now = Utc::now();
        let decided = match signing::visit(sha, visit(()), applier.store(), applier.cfg(), now) {
            Ok(decided) => decided,
            Err(e) => {
                tracing::error!(error = %e, "signing page: store unreadable");
                return Err(Box::new(trouble(s)));
            }
        };
        let effects = &decided.effects;
        let version = effects.espas.first().map_or(0, |w| w.espa.version);
        let seed = format!("sign:{sha}:{version}");
        match applier.apply(Origin::SignLink, &seed, effects, &[], now) {
            Ok(Committed::Now { queued, .. }) => {
                let signed = matches!(decided.outcome, Outcome::Signed { .. });
                if signed {
                    crate::failpoint::hit("sign_committed");
                }
                let changes = !effects.espas.is_empty() || !effects.cases.is_empty();
                if changes && let Err(e) = applier.durable(queued).await {
                    tracing::error!(error = %e, "signing page: not durable");
                    return Err(Box::new(trouble(s)));
                }
                if signed {
                    crate::failpoint::hit("sign_durable");
                }
                if let Some((espa, order)) = &decided.espa {
                    tracing::info!(
                        espa = %espa.reference,
                        order,
                        outcome = ?decided.outcome,
                        "signing page: {}",
                        effects.reason
                    );
                }
                return Ok(decided);
            }
            Ok(Committed::Already(_)) => return Ok(decided),
            Err(ApplyError::Store(StoreError::Conflict(_))) => continue,
            Err(e) => {
                tracing::error!(error = %e, "signing page: not committed");
                return Err(Box::new(trouble(s)));
            }
        }
    }
    tracing::warn!("signing page: the eSPA kept changing; gave up");
    Err(Box::new(trouble(s)))
}

/// The page for a decision.
fn page(s: &AppState, token: &str, sha: &str, decided: &Decided) -> Response {
    let Some((espa, order)) = &decided.espa else {
        return not_found(s);
    };
    let notice = |code| Some((code, None));
    let tries = |code, n: u32| Some((code, Some(n)));
    let order = *order;
    match decided.outcome {
        Outcome::Unknown => not_found(s),
        Outcome::Refused(status) => gone(s, espa, order, status),
        Outcome::PinLocked => gone(s, espa, order, Status::Locked),
        Outcome::Shown { .. } => form_page(s, token, sha, espa, order, None),
        Outcome::CodeSent => form_page(s, token, sha, espa, order, notice("CODE_SENT")),
        Outcome::CodeTooSoon { seconds } => form_page(
            s,
            token,
            sha,
            espa,
            order,
            tries("CODE_TOO_SOON", seconds as u32),
        ),
        Outcome::CodeMissing => form_page(s, token, sha, espa, order, notice("CODE_MISSING")),
        Outcome::CodeExpired => form_page(s, token, sha, espa, order, notice("CODE_EXPIRED")),
        Outcome::CodeWrong { tries_left } => {
            form_page(s, token, sha, espa, order, tries("CODE_WRONG", tries_left))
        }
        Outcome::CodeVoid => form_page(s, token, sha, espa, order, notice("CODE_VOID")),
        Outcome::PinWrong { tries_left } => {
            form_page(s, token, sha, espa, order, tries("PIN_WRONG", tries_left))
        }
        Outcome::ReasonMissing => form_page(s, token, sha, espa, order, notice("REASON_MISSING")),
        Outcome::Signed { completed } => {
            let signee = espa.signee(order);
            let at = signee
                .and_then(|x| x.signature.as_ref())
                .map(|sig| s.applier.cfg().general.local_time(sig.at));
            s.pin.pages.page(
                StatusCode::OK,
                "sign-done",
                json!({
                    "ref": espa.reference,
                    "first_name": signee.and_then(|x| first_name(&x.name)),
                    "at": at,
                    "document_sha256": espa.current_sha256(),
                    "completed": completed,
                }),
            )
        }
        Outcome::Declined => s.pin.pages.page(
            StatusCode::OK,
            "sign-declined",
            json!({
                "ref": espa.reference,
                "first_name": espa.signee(order).and_then(|x| first_name(&x.name)),
            }),
        ),
    }
}

/// The signing form, with a notice (its code, and a number for the ones
/// that say how many tries or seconds are left).
fn form_page(
    s: &AppState,
    token: &str,
    sha: &str,
    espa: &Espa,
    order: u32,
    notice: Option<(&str, Option<u32>)>,
) -> Response {
    let Some(signee) = espa.signee(order) else {
        return not_found(s);
    };
    let now = Utc::now();
    let code_live = signee
        .code
        .as_ref()
        .is_some_and(|c| !c.void && now < c.expires_at);
    let base = format!("{}/sign/{token}", s.sign.prefix);
    let notice_ctx = notice.map(|(code, n)| {
        let (ms, en, error) = notice_text(code, n.unwrap_or(0));
        json!({ "code": code, "ms": ms, "en": en, "error": error })
    });
    let error = notice_ctx
        .as_ref()
        .is_some_and(|n| n["error"] == Value::Bool(true));
    let status = if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (role_ms, role_en) = (signee.role.as_str(), signee.role.as_en());
    s.pin.pages.page(
        status,
        "sign-form",
        json!({
            "espa": {
                "reference": espa.reference,
                "project": espa.project,
                "document": {
                    "name": espa.document.name,
                    "size": human_size(espa.document.size),
                    "sha256": espa.document.sha256,
                    "current_sha256": espa.signed_pdf.as_ref().map(|p| &p.sha256),
                },
            },
            "signee": {
                "order": signee.order,
                "role": role_ms,
                "role_en": role_en,
                "first_name": first_name(&signee.name),
            },
            "signed": turn::signed_context(espa, s.applier.cfg()),
            "document_url": format!("{base}/document"),
            "code_url": format!("{base}/code"),
            "sign_url": base.clone(),
            "decline_url": format!("{base}/decline"),
            "form_token": s.sign.form_token(sha),
            "needs_pin": signee.route == Route::Manual,
            "code_live": code_live,
            "notice": notice_ctx,
            "tries_left": notice.and_then(|(_, n)| n),
        }),
    )
}

/// A notice's sentences, and whether it is an error.
fn notice_text(code: &str, n: u32) -> (String, String, bool) {
    match code {
        "CODE_SENT" => (
            format!(
                "Kod pengesahan telah dihantar ke e-mel anda. Kod sah selama {} minit.",
                signing::CODE_MINUTES
            ),
            format!(
                "A verification code was sent to your email. It is valid for {} minutes.",
                signing::CODE_MINUTES
            ),
            false,
        ),
        "CODE_TOO_SOON" => (
            format!("Kod baharu boleh diminta selepas {n} saat. Gunakan kod yang telah dihantar."),
            format!("A new code can be asked for in {n} seconds. Use the code already sent."),
            true,
        ),
        "CODE_MISSING" => (
            "Minta kod pengesahan dahulu, kemudian masukkan kod itu.".into(),
            "Ask for a verification code first, then type it.".into(),
            true,
        ),
        "CODE_FORMAT" => (
            "Kod pengesahan ialah 6 digit.".into(),
            "The verification code is 6 digits.".into(),
            true,
        ),
        "CODE_EXPIRED" => (
            "Kod pengesahan telah tamat tempoh. Minta kod baharu.".into(),
            "The verification code has expired. Ask for a new one.".into(),
            true,
        ),
        "CODE_WRONG" => (
            format!("Kod pengesahan salah. Baki cubaan: {n}."),
            format!("The verification code is wrong. Tries left: {n}."),
            true,
        ),
        "CODE_VOID" => (
            "Kod pengesahan dibatalkan selepas lima cubaan salah. Minta kod baharu.".into(),
            "The verification code was voided after five wrong tries. Ask for a new one.".into(),
            true,
        ),
        "PIN_WRONG" => (
            format!(
                "PIN sijil salah. Baki cubaan sebelum sijil dikunci: {n}. Kakitangan RA tidak akan bertanya PIN anda."
            ),
            format!(
                "The certificate PIN is wrong. Tries left before the certificate is locked: {n}. RA staff will never ask for your PIN."
            ),
            true,
        ),
        "REASON_MISSING" => (
            "Nyatakan sebab anda menolak untuk menandatangani.".into(),
            "Say why you decline to sign.".into(),
            true,
        ),
        _ => (String::new(), String::new(), true),
    }
}

fn gone(s: &AppState, espa: &Espa, order: u32, status: Status) -> Response {
    tracing::info!(espa = %espa.reference, order, why = status.as_str(), "signing page: link refused");
    let code = StatusCode::from_u16(status.http()).unwrap_or(StatusCode::GONE);
    s.pin.pages.page(
        code,
        "sign-gone",
        json!({ "why": status.as_str(), "ref": espa.reference }),
    )
}

fn not_found(s: &AppState) -> Response {
    s.pin
        .pages
        .page(StatusCode::NOT_FOUND, "not-found", json!({}))
}

fn forbidden(s: &AppState) -> Response {
    s.pin
        .pages
        .page(StatusCode::FORBIDDEN, "forbidden", json!({}))
}

fn trouble(s: &AppState) -> Response {
    s.pin.pages.page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "trouble",
        json!({ "busy": false, "signing": true }),
    )
}

fn first_name(name: &str) -> Option<String> {
    name.split_whitespace().next().map(str::to_string)
}

/// The request's client address (the peer; with what a proxy said it
/// forwarded for, which the peer could have made up) and user agent.
fn client_of(headers: &HeaderMap, extensions: &Extensions) -> (String, String) {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect::<String>())
    };
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
    let ip = match text(header::HeaderName::from_static("x-forwarded-for")) {
        Some(forwarded) => format!("{peer} (forwarded for {forwarded})"),
        None => peer,
    };
    (ip, text(header::USER_AGENT).unwrap_or_default())
}
