//! Renders a decided [`Email`] into a complete RFC 5322 message.
//!
//! The templates under `templates/` are compiled into the binary
//! (`include_str!`), so the daemon works from any directory; [`Renderer::new`]
//! registers every one of them and renders each once as a self-test, so a
//! broken template stops the daemon at start-up instead of at the first email.
//!
//! Two Handlebars registries: one escapes HTML (the `.html` part), the other
//! escapes nothing (the subject and the `.txt` part, which are not HTML).
//! The message itself is built with lettre: multipart/alternative with UTF-8
//! text and HTML parts, `Auto-Submitted: auto-generated` (RFC 3834), Outlook's
//! `X-Auto-Response-Suppress`, and `In-Reply-To`/`References` threading.
//! Given the same email, Message-ID and date, the output bytes are identical
//! (the MIME boundary is derived from the Message-ID), so a re-decision after
//! a crash yields the same message.
//!
//! Here: the [`Renderer`] (registries, self-test, the three parts, the
//! reference guaranteed in the subject) and the template context. The
//! template sources are in `sources`, the label helpers in `labels`, the
//! `lines` helper (what someone wrote, quoted line by line) in `lines`, the
//! lettre message in `message`.

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use handlebars::{Context, Handlebars};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Address, Outbound};
use crate::core::email::{Email, FromAddress, Template};
pub use message::message_id_for;
use message::{bare_id, one_line, tidy_text};
use sources::{HTML_PARTIALS, TEXT_PARTIALS, sample_context, sources};

mod labels;
mod lines;
mod message;
mod sources;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ra;

/// A message ready for the outbox: what the transport needs and the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    /// The Message-ID without angle brackets.
    pub message_id: String,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    /// The decoded subject, for logs and the case history.
    pub subject: String,
    /// The whole message, CRLF line endings, 7-bit clean.
    pub bytes: Vec<u8>,
}

/// A rendered email together with what the outbox records about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub case_ref: Option<String>,
    pub template: Template,
    pub rendered: RenderedEmail,
}

/// Renders emails; cheap to share (`&self` only), build once at start-up.
pub struct Renderer {
    text: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

impl Renderer {
    /// Registers every template and partial, then renders each template with
    /// a full and an empty context: any mistake fails here, loudly.
    pub fn new() -> anyhow::Result<Renderer> {
        let mut text = Handlebars::new();
        text.set_strict_mode(false);
        text.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        html.set_strict_mode(false);
        html.register_escape_fn(handlebars::html_escape);
        for registry in [&mut text, &mut html] {
            labels::register(registry);
            lines::register(registry);
        }
        for (name, source) in TEXT_PARTIALS {
            text.register_partial(name, source)
                .with_context(|| format!("template partials/{name}.txt.hbs"))?;
        }
        for (name, source) in HTML_PARTIALS {
            html.register_partial(name, source)
                .with_context(|| format!("template partials/{name}.html.hbs"))?;
        }
        for template in Template::ALL {
            let stem = template.name();
            let src = sources(template);
            text.register_template_string(&format!("{stem}.subject"), src.subject)
                .with_context(|| format!("template {stem}.subject.hbs"))?;
            text.register_template_string(&format!("{stem}.txt"), src.text)
                .with_context(|| format!("template {stem}.txt.hbs"))?;
            html.register_template_string(&format!("{stem}.html"), src.html)
                .with_context(|| format!("template {stem}.html.hbs"))?;
        }
        let renderer = Renderer { text, html };
        for template in Template::ALL {
            for context in [sample_context(), json!({})] {
                renderer
                    .render_parts(template, &context)
                    .with_context(|| format!("self-test of template {}", template.name()))?;
            }
        }
        Ok(renderer)
    }

    /// Renders the subject (one line, whitespace collapsed), the text part
    /// and the HTML part of `template` with `context`.
    pub fn render_parts(
        &self,
        template: Template,
        context: &Value,
    ) -> anyhow::Result<(String, String, String)> {
        self.render_parts_in(template, &Context::from(context.clone()))
    }

    /// [`Renderer::render_parts`] with the context handlebars reads: built
    /// once for the three parts, where handlebars' `render` would copy the
    /// whole JSON for each.
    fn render_parts_in(
        &self,
        template: Template,
        context: &Context,
    ) -> anyhow::Result<(String, String, String)> {
        let stem = template.name();
        let subject = self
            .text
            .render_with_context(&format!("{stem}.subject"), context)
            .with_context(|| format!("rendering {stem}.subject.hbs"))?;
        let text = self
            .text
            .render_with_context(&format!("{stem}.txt"), context)
            .with_context(|| format!("rendering {stem}.txt.hbs"))?;
        let html = self
            .html
            .render_with_context(&format!("{stem}.html"), context)
            .with_context(|| format!("rendering {stem}.html.hbs"))?;
        Ok((one_line(&subject), tidy_text(&text), html))
    }

    /// Renders `email` as sent from `from` (the caller picks it from
    /// `email.from`), with the given Message-ID (without `<>`) and date.
    pub fn render(
        &self,
        email: &Email,
        from: &Address,
        message_id: &str,
        date: DateTime<Utc>,
    ) -> anyhow::Result<RenderedEmail> {
        self.render_with(email, from, message_id, date, &[])
    }

    /// [`Renderer::render`], with files attached after the text and HTML.
    pub fn render_with(
        &self,
        email: &Email,
        from: &Address,
        message_id: &str,
        date: DateTime<Utc>,
        attachments: &[Attachment],
    ) -> anyhow::Result<RenderedEmail> {
        let message_id = bare_id(message_id)
            .ok_or_else(|| anyhow!("invalid Message-ID {message_id:?}"))?
            .to_owned();
        let context = Context::from(template_context(email));
        let (mut subject, text, html) = self.render_parts_in(email.template, &context)?;
        // The reference in the subject is what routes every reply back to its
        // case (SPEC §2): guarantee it even if a template forgot it.
        if let Some(case_ref) = email.case_ref.as_deref().filter(|r| !r.trim().is_empty()) {
            let tag = format!("[{}]", case_ref.trim());
            if !subject.contains(&tag) {
                subject = one_line(&format!("{tag} {subject}"));
            }
        }

        message::build(
            email,
            from,
            message_id,
            subject,
            (text, html),
            attachments,
            date,
        )
    }

    /// Renders the emails the effects of the input identified by `key` want
    /// sent, each from the address its sender names. Message-IDs derive from
    /// `key` under the store's secret `id_key` (see [`message_id_for`]), so
    /// deciding the same input again after a crash yields the very same
    /// emails.
    pub fn render_all(
        &self,
        emails: &[Email],
        senders: &Outbound,
        id_key: &[u8; 32],
        key: &str,
        date: DateTime<Utc>,
        attachments: &[(usize, Vec<Attachment>)],
    ) -> Result<Vec<Outgoing>, String> {
        emails
            .iter()
            .enumerate()
            .map(|(i, email)| {
                let from = match email.from {
                    FromAddress::Ra => &senders.from_ra,
                    FromAddress::Hims => &senders.from_hims,
                };
                let domain = from.email.rsplit('@').next().unwrap_or("sijil.invalid");
                let seed = format!("{key}\n{i}\n{}", email.template.name());
                let message_id = message_id_for(domain, id_key, seed.as_bytes());
                let attached = attachments
                    .iter()
                    .find(|(n, _)| *n == i)
                    .map_or(&[][..], |(_, a)| a.as_slice());
                let rendered = self
                    .render_with(email, from, &message_id, date, attached)
                    .map_err(|e| format!("rendering {}: {e:#}", email.template.name()))?;
                Ok(Outgoing {
                    case_ref: email.case_ref.clone(),
                    template: email.template,
                    rendered,
                })
            })
            .collect()
    }
}

/// The context the template sees: the core's context, with `ref` filled in
/// from `email.case_ref` when the core left it out.
fn template_context(email: &Email) -> Value {
    let context = match &email.context {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    // What someone wrote keeps its lines (the templates quote them with the
    // `lines` helper): every other string is made one line, this one is put
    // back with only its line breaks.
    let kept: Vec<(&str, String)> = lines::MULTI_LINE
        .iter()
        .filter_map(|&path| Some((path, lines::multi_line(context.pointer(path)?.as_str()?))))
        .collect();
    let mut context = single_line_strings(context);
    for (path, text) in kept {
        if let Some(slot) = context.pointer_mut(path) {
            *slot = Value::String(text);
        }
    }
    if let (Some(case_ref), Value::Object(map)) = (&email.case_ref, &mut context)
        && map
            .get("ref")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        map.insert("ref".into(), Value::String(case_ref.clone()));
    }
    context
}

/// Every string in the context is one line of data (a field value, a file
/// name): a control character in one, such as a CR/LF from a hostile file
/// name, becomes a space so it cannot break the layout of the text part.
fn single_line_strings(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().any(char::is_control) => Value::String(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(single_line_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, single_line_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A file attached to an email (the signed eSPA PDF, the completion
/// certificate).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}
