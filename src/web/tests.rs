//! The routes through the router (`tower::ServiceExt::oneshot`), on a
//! temporary store whose case reached `pin_pending` through the real
//! apply path: a pack decided by the core, then `issue_link` as the
//! officer's APPROVED calls it, the token minted by the `Applier` and
//! read back from the EMEL 2 in the outbox.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use tower::ServiceExt;

use super::*;
use crate::apply::Doorbell;
use crate::config::{Config, Developer};
use crate::core::case::{CaseState, EventKind};
use crate::core::email::Template;
use crate::core::{CaseWrite, Effects, Input};
use crate::edge::render::Renderer;
use crate::edge::store::{Origin, Store};

mod pin_flow;

const DEV: &str = "submit@seriindah.my";
const SIGNEE: &str = "ali@buyer.example.com";

fn cfg() -> Config {
    let mut cfg = Config::embedded_default();
    cfg.developers = vec![Developer {
        company: "Seri Indah Development Sdn Bhd".into(),
        addresses: vec![DEV.into()],
        domain: None,
    }];
    cfg
}

/// A daemon's web side on a throw-away store.
struct World {
    state: AppState,
}

impl World {
    fn new() -> World {
        let store = Store::temporary().unwrap();
        let applier = Applier::new(
            store,
            Arc::new(Renderer::new().unwrap()),
            Arc::new(cfg()),
            Arc::new(Doorbell::default()),
            Arc::default(),
        );
        let state = AppState::new(
            applier,
            Arc::default(),
            Arc::default(),
            Arc::default(),
            Arc::default(),
        )
        .unwrap();
        World { state }
    }

    fn store(&self) -> &Store {
        self.state.applier.store()
    }

    async fn send(&self, req: Request<Body>) -> (Response, String) {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        (Response::from_parts(parts, Body::empty()), text)
    }

    async fn get(&self, path: &str) -> (Response, String) {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// A pack from the developer, decided and applied: a `received` case.
    fn pack(&self, n: u32) -> String {
        let raw = pack_message(n);
        let msg = crate::edge::inbound::parse(&raw);
        let applier = &self.state.applier;
        let class =
            crate::core::classify::Classifier::new(applier.cfg()).classify(&msg, applier.cfg());
        let input = Input::Message {
            msg: &msg,
            class: &class,
        };
        let now = Utc::now();
        let effects = crate::core::handle(input, self.store(), applier.cfg(), now).unwrap();
        let case = effects.written_case().unwrap().clone();
        assert_eq!(case.state, CaseState::Received, "{:?}", case.problems);
        applier
            .apply(
                Origin::Message { key: &msg.key },
                &msg.key,
                &effects,
                &[],
                now,
            )
            .unwrap();
        case.reference
    }

    /// What APPROVED does (`issue_link`, the state moved first), through
    /// the apply path at `at`; returns the link's path, read from the
    /// EMEL 2 in the outbox.
    fn approve(&self, reference: &str, at: DateTime<Utc>) -> String {
        let applier = &self.state.applier;
        let mut case = self.store().case(reference).unwrap().unwrap();
        if case.state == CaseState::Received {
            case.transition(CaseState::Verified, at).unwrap();
        }
        if case.state != CaseState::PinPending {
            case.transition(CaseState::PinPending, at).unwrap();
        }
        let mut effects = Effects::default();
        crate::core::pin::issue_link(&mut case, &mut effects, applier.cfg(), at);
        effects.cases.push(CaseWrite { case, new: None });
        let key = format!("approve:{reference}:{at}");
        applier
            .apply(Origin::Message { key: &key }, &key, &effects, &[], at)
            .unwrap();
        self.last_link(reference)
    }

    /// The path of the link in the newest EMEL 2 of `reference`.
    fn last_link(&self, reference: &str) -> String {
        let entry = self
            .store()
            .outbox()
            .map(Result::unwrap)
            .filter(|e| e.template == Template::Emel2 && e.case_ref.as_deref() == Some(reference))
            .last()
            .expect("an EMEL 2 in the outbox");
        let raw = self.store().outbox_body(entry.id).unwrap().unwrap();
        let text = mail_parser::MessageParser::default()
            .parse(&raw)
            .unwrap()
            .body_text(0)
            .unwrap()
            .into_owned();
        let url = text
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:8080/pin/"))
            .expect("the link in the text part");
        url.trim_start_matches("http://127.0.0.1:8080").to_string()
    }

    fn case(&self, reference: &str) -> crate::core::case::Case {
        self.store().case(reference).unwrap().unwrap()
    }

    fn history(&self, reference: &str) -> Vec<EventKind> {
        let events = self.store().history(reference).unwrap();
        events.into_iter().map(|e| e.what).collect()
    }

    fn outbox(&self, template: Template) -> Vec<Vec<String>> {
        self.store()
            .outbox()
            .map(Result::unwrap)
            .filter(|e| e.template == template)
            .map(|e| e.envelope_to)
            .collect()
    }
}

/// A complete pack for signee `n` (its own order and ID number).
fn pack_message(n: u32) -> Vec<u8> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let pdf = |t: &str| format!("%PDF-1.4\n% {t}\ntrailer << >>\n%%EOF\n").into_bytes();
    let jpeg = |t: &str| {
        let mut b = vec![0xff, 0xd8, 0xff, 0xe0, 0, 0x10];
        b.extend_from_slice(b"JFIF\0");
        b.extend_from_slice(t.as_bytes());
        b.extend_from_slice(&[0xff, 0xd9]);
        b
    };
    let fields = [
        (
            "Rujukan eSPA / eSPA Reference",
            "HDA-2026-000123".to_string(),
        ),
        ("Turutan / Signing Order", format!("{}", n + 1)),
        ("Nama Penuh / Full Name", "Ali bin Abu".into()),
        ("Jenis Pengenalan / ID Type", "MyKad".into()),
        (
            "No. Pengenalan / ID Number",
            format!("900101-14-{:04}", 5673 + n),
        ),
        ("Warganegara / Nationality", "Malaysia".into()),
        ("Emel / Email", SIGNEE.into()),
        ("Telefon / Phone", "+971501234567".into()),
        ("Peranan / Role", "Pembeli".into()),
        ("Sebab / Reason", "LUAR_NEGARA".into()),
    ];
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let files = [
        ("Borang Permohonan.pdf", pdf(&format!("form {n}"))),
        ("MyKad depan.jpg", jpeg(&format!("front {n}"))),
        ("MyKad belakang.jpg", jpeg(&format!("back {n}"))),
        ("Letter of Authorisation.pdf", pdf(&format!("loa {n}"))),
    ];
    let mut m = format!(
        "From: {DEV}\r\nTo: kpkt.retail@ra.example.my\r\nSubject: Permohonan Sijil Digital\r\n\
         Message-ID: <pack{n}@seriindah.my>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    );
    for (name, bytes) in files {
        let mime = if name.ends_with(".pdf") {
            "application/pdf"
        } else {
            "image/jpeg"
        };
        m.push_str(&format!(
            "--XX\r\nContent-Type: {mime}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(&bytes)
        ));
    }
    m.push_str("--XX--\r\n");
    m.into_bytes()
}

/// The form token on a page.
fn form_token(page: &str) -> String {
    let (_, rest) = page
        .split_once("name=\"form_token\" value=\"")
        .expect("a form token");
    rest.split('"').next().unwrap().to_string()
}

fn post(path: &str, form: &str, origin: Option<&str>) -> Request<Body> {
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        req = req.header(header::ORIGIN, origin);
    }
    req.body(Body::from(form.to_string())).unwrap()
}

fn assert_secure_headers(res: &Response, what: &str) {
    let h = res.headers();
    let get = |name: header::HeaderName| {
        h.get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    assert_eq!(get(header::CACHE_CONTROL), "no-store", "{what}");
    assert_eq!(get(header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(get(header::REFERRER_POLICY), "no-referrer", "{what}");
    let csp = get(header::CONTENT_SECURITY_POLICY);
    for part in [
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "style-src 'sha256-",
    ] {
        assert!(csp.contains(part), "{what}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{what}: {csp}"
    );
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let w = World::new();
    let (res, _) = w.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    w.state.inbound.processed.fetch_add(3, Ordering::Relaxed);
    w.state.cases.moved(None, CaseState::Received);
    let (res, text) = w.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
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

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let (res, page) = w.get(&link).await;
    assert_secure_headers(&res, "the form");
    let token = form_token(&page);
    let cases = [
        Request::get("/healthz").body(Body::empty()).unwrap(),
        Request::get("/metrics").body(Body::empty()).unwrap(),
        Request::get("/pin/short").body(Body::empty()).unwrap(),
        Request::get("/nowhere").body(Body::empty()).unwrap(),
        Request::get(format!("/pin/{}", "A".repeat(43)))
            .body(Body::empty())
            .unwrap(),
        post(&link, "pin=1&pin2=1", Some("https://evil.example")),
        post(
            &link,
            &format!("pin=123456&pin2=123456&form_token={token}"),
            None,
        ),
        post(&link, "pin=1", None),
    ];
    for req in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (res, _) = w.send(req).await;
        assert_secure_headers(&res, &what);
    }
    let (res, _) = w.get(&format!("/pin/{}", "A".repeat(43))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "a link never issued");
}

#[tokio::test]
async fn the_page_shows_the_first_name_only_and_records_the_visit() {
    let w = World::new();
    let reference = w.pack(1);
    let link = w.approve(&reference, Utc::now());
    let (res, page) = w.get(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(page.contains("<strong>Ali</strong>"), "{page}");
    for private in ["Abu", "5673", SIGNEE, "900101"] {
        assert!(!page.contains(private), "{private} on the page");
    }
    assert!(page.contains(&reference));
    assert!(
        w.history(&reference)
            .iter()
            .any(|e| matches!(e, EventKind::PinLinkOpened { number: 1 }))
    );
}
