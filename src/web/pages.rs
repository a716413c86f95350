//! The web pages, from the Handlebars templates under `templates/pages/`
//! (compiled into the binary, like the emails), and the headers every
//! response carries.
//!
//! | page | status | shows |
//! |---|---|---|
//! | `pin-form` | 200, 422 with `mistakes` | whose certificate (first name, case reference), the PIN twice, the rules; each mistake with its code, Malay then English |
//! | `pin-done` | 200 | the PIN is set; what happens next |
//! | `pin-gone` | 410 | the link is `used`, `expired`, `replaced` or its case `not_pending`, and what to do |
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
const PAGES: [(&str, &str); 6] = [
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
}
