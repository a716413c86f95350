//! The web pages, from the Handlebars templates under `templates/pages/`
//! (compiled into the binary, like the emails), and the headers every
//! response carries.
//!
//! | page | status | shows |
//! |---|---|---|
//! | `pin-form` | 200, 422 with `mistakes` | whose certificate (first name, case reference), the PIN twice, the rules; each mistake with its code, Malay then English |
//! | `pin-done` | 200 | the PIN is set; what happens next |
//! | `pin-gone` | 410 | the link is `used`, `expired`, `replaced` or its case `not_pending`, and what to do |
//! | `sign-form` | 200, 422 with an error `notice` | the eSPA (reference, project, the document's name, size and full SHA-256, a link to read it), the signee's order and role, who has signed so far; three forms posting to `code_url` (send a code), `sign_url` (the code, and the PIN when `needs_pin`) and `decline_url` (a reason); a `notice` (code, Malay, English) styled as an error or as information |
//! | `sign-done` | 200 | signed (`at`, the document's SHA-256); the SIGNED email is coming; COMPLETED too when `completed`, else the others sign in turn |
//! | `sign-declined` | 200 | the decline is recorded, the developer and the RA are told, nothing was signed |
//! | `sign-gone` | 410, 409, 423 or 403 | why the signing link cannot be used (`used`, `expired`, `replaced`, `not_your_turn`, `declined`, `halted`, `completed`, `case_closed`, `locked`, `not_ready`) and what to do |
//! | `not-found` | 404 | a link nobody issued |
//! | `forbidden` | 403 | a post from another site, or without the page's form token |
//! | `trouble` | 500, 503 with `busy` | nothing was set; try again shortly |
//!
//! The pages need no JavaScript and none is allowed: the Content-Security-
//! Policy forbids everything but the one inline `<style>`, allowed by its
//! SHA-256 (computed here from `style.css`, the exact text the layout
//! inlines), and forms posting to the page itself.

use anyhow::Context as _;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use handlebars::Handlebars;
use serde_json::Value;
use sha2::{Digest, Sha256};

const STYLE: &str = include_str!("../../templates/pages/style.css");
const LAYOUT: &str = include_str!("../../templates/pages/layout.html.hbs");
const PAGES: [(&str, &str); 10] = [
    (
        "pin-form",
        include_str!("../../templates/pages/pin-form.html.hbs"),
    ),
    (
        "pin-done",
        include_str!("../../templates/pages/pin-done.html.hbs"),
    ),
    (
        "pin-gone",
        include_str!("../../templates/pages/pin-gone.html.hbs"),
    ),
    (
        "sign-form",
        include_str!("../../templates/pages/sign-form.html.hbs"),
    ),
    (
        "sign-done",
        include_str!("../../templates/pages/sign-done.html.hbs"),
    ),
    (
        "sign-declined",
        include_str!("../../templates/pages/sign-declined.html.hbs"),
    ),
    (
        "sign-gone",
        include_str!("../../templates/pages/sign-gone.html.hbs"),
    ),
    (
        "not-found",
        include_str!("../../templates/pages/not-found.html.hbs"),
    ),
    (
        "forbidden",
        include_str!("../../templates/pages/forbidden.html.hbs"),
    ),
    (
        "trouble",
        include_str!("../../templates/pages/trouble.html.hbs"),
    ),
];

/// The page templates, registered once (HTML-escaping everything but the
/// style sheet).
pub struct Pages {
    registry: Handlebars<'static>,
    csp: HeaderValue,
}

impl Pages {
    /// Registers every page and renders each once, so a broken template
    /// stops the daemon at start-up.
    pub fn new() -> anyhow::Result<Pages> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        registry
            .register_partial("layout", LAYOUT)
            .context("template pages/layout.html.hbs")?;
        for (name, source) in PAGES {
            registry
                .register_template_string(name, source)
                .with_context(|| format!("template pages/{name}.html.hbs"))?;
        }
        let style_hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        let pages = Pages {
            registry,
            csp: HeaderValue::from_str(&csp).context("the Content-Security-Policy")?,
        };
        for (name, _) in PAGES {
            pages
                .html(name, serde_json::json!({}))
                .with_context(|| format!("self-test of page {name}"))?;
        }
        Ok(pages)
    }

    /// The Content-Security-Policy every response carries.
    pub fn csp(&self) -> HeaderValue {
        self.csp.clone()
    }

    /// The page `name` with `context`, as a response with `status`.
    pub fn page(&self, status: StatusCode, name: &str, context: Value) -> Response {
        match self.html(name, context) {
            Ok(body) => (status, Html(body)).into_response(),
            Err(e) => {
                tracing::error!(page = name, error = %e, "page not rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }

    fn html(&self, name: &str, mut context: Value) -> anyhow::Result<String> {
        if let Value::Object(map) = &mut context {
            map.insert("style".into(), Value::String(STYLE.into()));
        }
        Ok(self.registry.render(name, &context)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_allows_exactly_the_inlined_style() {
        let pages = Pages::new().unwrap();
        let html = pages.html("not-found", serde_json::json!({})).unwrap();
        let inlined = html
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(style, _)| style)
            .unwrap();
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(inlined.as_bytes()));
        let csp = pages.csp();
        let csp = csp.to_str().unwrap();
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(!html.contains("<script"), "no script at all");
        assert!(html.contains("name=\"viewport\""));
    }

    fn sign_form_context() -> Value {
        serde_json::json!({
            "espa": {
                "reference": "HDA-2026-000123",
                "project": "Taman Seri Indah Fasa 2, Lot 12",
                "document": {
                    "name": "eSPA HDA-2026-000123.pdf", "size": "120 KB",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                }
            },
            "signee": { "order": 2, "role": "Pembeli", "role_en": "Buyer", "first_name": "Ali" },
            "signed": [
                { "order": 1, "role": "Pemaju", "role_en": "Developer",
                  "name": "Lim Ah Kow", "at": "2026-12-03 13:14 +08:00" }
            ],
            "document_url": "/sign/t/document",
            "code_url": "/sign/t/code",
            "sign_url": "/sign/t",
            "decline_url": "/sign/t/decline",
            "form_token": "ft",
            "needs_pin": true,
            "code_live": true,
            "notice": { "code": "PIN_WRONG", "ms": "PIN sijil salah.", "en": "The certificate PIN is wrong.", "error": true },
            "tries_left": 4
        })
    }

    #[test]
    fn the_signing_form_has_its_three_forms_and_the_ids_a_browser_uses() {
        let pages = Pages::new().unwrap();
        let mut ctx = sign_form_context();
        let html = pages.html("sign-form", ctx.clone()).unwrap();
        for needle in [
            "action=\"/sign/t/code\"",
            "action=\"/sign/t\"",
            "action=\"/sign/t/decline\"",
            "id=\"request-code\"",
            "Send a new code",
            "id=\"code\" name=\"code\"",
            "autocomplete=\"one-time-code\"",
            "id=\"pin\" name=\"pin\" type=\"password\"",
            "id=\"sign\"",
            "id=\"reason\" name=\"reason\"",
            "maxlength=\"500\" required",
            "id=\"decline\"",
            "href=\"/sign/t/document\"",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "class=\"mistakes\"",
            "PIN_WRONG",
            "Lim Ah Kow",
        ] {
            assert!(html.contains(needle), "sign-form lacks {needle}");
        }
        assert_eq!(html.matches("name=\"form_token\" value=\"ft\"").count(), 3);
        assert!(!html.contains("<script") && !html.contains("style=\""));

        ctx["needs_pin"] = Value::Bool(false);
        ctx["code_live"] = Value::Bool(false);
        ctx["signed"] = serde_json::json!([]);
        ctx["notice"] = serde_json::json!({ "code": "CODE_SENT", "ms": "Dihantar.", "en": "Sent.", "error": false });
        let html = pages.html("sign-form", ctx).unwrap();
        assert!(!html.contains("id=\"pin\""), "no PIN on the idsaya route");
        assert!(html.contains("Send me a code") && html.contains("Nobody yet"));
        assert!(html.contains("class=\"info\"") && !html.contains("class=\"mistakes\""));
    }

    #[test]
    fn every_reason_a_signing_link_is_gone_has_its_own_heading() {
        let pages = Pages::new().unwrap();
        let fallback = pages
            .html("sign-gone", serde_json::json!({ "why": "?" }))
            .unwrap();
        for why in [
            "used",
            "expired",
            "replaced",
            "not_your_turn",
            "declined",
            "halted",
            "completed",
            "case_closed",
            "locked",
            "not_ready",
        ] {
            let html = pages
                .html(
                    "sign-gone",
                    serde_json::json!({ "why": why, "ref": "HDA-2026-000123" }),
                )
                .unwrap();
            assert!(
                html.contains(&format!("id=\"gone\" data-why=\"{why}\"")),
                "{why}"
            );
            assert_eq!(html.matches("<h1").count(), 1, "{why}");
            assert_ne!(
                html.split("<h1").nth(1),
                fallback.split("<h1").nth(1),
                "{why} has its own words"
            );
        }
        for (page, id) in [("sign-done", "signed"), ("sign-declined", "declined")] {
            let html = pages.html(page, serde_json::json!({})).unwrap();
            assert!(html.contains(&format!("<h1 id=\"{id}\">")), "{page}");
        }
    }
}
