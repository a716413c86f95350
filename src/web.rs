//! The web edge: `/healthz` and `/metrics` now; the PIN and signing links
//! (SPEC §7) are added here as routes of the same [`app`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::edge::store::Store;
use crate::metrics::{CaseStats, InboundStats, OutboxStats, RetentionStats};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub inbound: Arc<InboundStats>,
    pub outbox: Arc<OutboxStats>,
    pub retention: Arc<RetentionStats>,
    pub cases: Arc<CaseStats>,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
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
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn state() -> AppState {
        AppState {
            store: Store::temporary().unwrap(),
            inbound: Arc::default(),
            outbox: Arc::default(),
            retention: Arc::default(),
            cases: Arc::default(),
        }
    }

    #[tokio::test]
    async fn health_and_metrics_answer() {
        let res = app(state())
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let s = state();
        s.inbound.processed.fetch_add(3, Ordering::Relaxed);
        s.cases.moved(None, crate::core::case::CaseState::Received);
        let res = app(s)
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("sijil_messages_total{folder=\"processed\"} 3"),
            "{text}"
        );
        assert!(text.contains("sijil_outbox_queued 0"));
        assert!(
            text.contains("sijil_cases{state=\"received\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sijil_cases{state=\"pin_pending\"} 0\n"),
            "{text}"
        );
        assert_eq!(
            text.matches("sijil_cases{").count(),
            9,
            "every state: {text}"
        );
    }
}
