//! The web edge: `/healthz`, `/metrics` and the set-PIN link
//! `/pin/{token}` (SPEC §7; the signing links come here as routes of the
//! same [`app`]).
//!
//! Every response carries `Cache-Control: no-store`, the strict
//! Content-Security-Policy of [`pages`], `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.
//!
//! | module | its job |
//! |---|---|
//! | [`pin`] | `GET/POST /pin/{token}`: the form, the checks, the apply path |
//! | [`sign`] | `/sign/{token}`: the eSPA, its PDF, the code, the signature, a decline |
//! | [`hashing`] | Argon2id on the blocking pool, a bounded number at a time |
//! | [`pages`] | the page templates (`templates/pages/`) and the CSP that allows their style |

pub mod hashing;
pub mod pages;
pub mod pin;
pub mod sign;
mod signature;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::apply::Applier;
use crate::metrics::{CaseStats, InboundStats, OutboxStats, RetentionStats};

/// A form of two PINs and a token is well under this; anything larger is
/// refused before it is read.
const BODY_LIMIT: usize = 4 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// The one apply path, shared with the mailbox worker and the outbox.
    pub applier: Applier,
    pub inbound: Arc<InboundStats>,
    pub outbox: Arc<OutboxStats>,
    pub retention: Arc<RetentionStats>,
    pub cases: Arc<CaseStats>,
    pub pin: Arc<pin::PinWeb>,
    pub sign: Arc<sign::SignWeb>,
}

impl AppState {
    /// The state of the routes, their page templates checked.
    pub fn new(
        applier: Applier,
        inbound: Arc<InboundStats>,
        outbox: Arc<OutboxStats>,
        retention: Arc<RetentionStats>,
        cases: Arc<CaseStats>,
    ) -> anyhow::Result<AppState> {
        let base_url = &applier.cfg().web.base_url;
        let pin = pin::PinWeb::new(base_url, applier.store().form_key())?;
        let sign = sign::SignWeb::new(base_url, applier.store().form_key());
        Ok(AppState {
            sign: Arc::new(sign),
            applier,
            inbound,
            outbox,
            retention,
            cases,
            pin: Arc::new(pin),
        })
    }
}

pub fn app(state: AppState) -> Router {
    let header =
        |name: HeaderName, value: HeaderValue| SetResponseHeaderLayer::overriding(name, value);
    let csp = state.pin.pages.csp();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/pin/{token}", get(pin::show).post(pin::submit))
        .route("/sign/{token}", get(sign::show).post(sign::submit))
        .route("/sign/{token}/code", post(sign::request_code))
        .route("/sign/{token}/decline", post(sign::decline))
        .route("/sign/{token}/document", get(sign::document))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(header(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(header(header::CONTENT_SECURITY_POLICY, csp))
        .layer(header(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(header(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(header(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut body = format!(
        "# HELP sijil_messages_total Inbound messages handled, by the folder they were filed in.\n\
         # TYPE sijil_messages_total counter\n\
         sijil_messages_total{{folder=\"processed\"}} {}\n\
         sijil_messages_total{{folder=\"rejected\"}} {}\n\
         sijil_messages_total{{folder=\"quarantine\"}} {}\n\
         # HELP sijil_messages_repeated_total Messages seen again after they had taken effect.\n\
         # TYPE sijil_messages_repeated_total counter\n\
         sijil_messages_repeated_total {}\n\
         # HELP sijil_emails_total Outgoing emails by outcome.\n\
         # TYPE sijil_emails_total counter\n\
         sijil_emails_total{{outcome=\"sent\"}} {}\n\
         sijil_emails_total{{outcome=\"failed\"}} {}\n\
         sijil_emails_total{{outcome=\"retried\"}} {}\n\
         # HELP sijil_outbox_queued Emails waiting in the outbox.\n\
         # TYPE sijil_outbox_queued gauge\n\
         sijil_outbox_queued {}\n\
         # HELP sijil_documents_purged_total Documents whose bytes were destroyed after their case ended.\n\
         # TYPE sijil_documents_purged_total counter\n\
         sijil_documents_purged_total {}\n",
        load(&s.inbound.processed),
        load(&s.inbound.rejected),
        load(&s.inbound.quarantined),
        load(&s.inbound.duplicates),
        load(&s.outbox.sent),
        load(&s.outbox.failed),
        load(&s.outbox.retried),
        load(&s.outbox.queued),
        load(&s.retention.documents_purged),
    );
    body.push_str(
        "# HELP sijil_cases Cases by state.\n\
         # TYPE sijil_cases gauge\n",
    );
    for (state, n) in s.cases.all() {
        body.push_str(&format!("sijil_cases{{state=\"{state}\"}} {n}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

#[cfg(test)]
mod tests;
