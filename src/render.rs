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

use std::time::SystemTime;

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue, InReplyTo, MessageId, References};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{Address, Outbound};
use crate::email::{Email, Sender, Template};
use crate::store::Outgoing;

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

/// The three parts of one template, each a Handlebars source.
struct Sources {
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

macro_rules! template_sources {
    ($stem:literal) => {
        Sources {
            subject: include_str!(concat!("../templates/", $stem, ".subject.hbs")),
            text: include_str!(concat!("../templates/", $stem, ".txt.hbs")),
            html: include_str!(concat!("../templates/", $stem, ".html.hbs")),
        }
    };
}

/// The sources of a template. An exhaustive match, so adding a [`Template`]
/// variant without its files does not compile.
fn sources(template: Template) -> Sources {
    match template {
        Template::Ack => template_sources!("ack"),
        Template::Incomplete => template_sources!("incomplete"),
        Template::Duplicate => template_sources!("duplicate"),
        Template::Emel1 => template_sources!("emel1"),
        Template::StaffVerify => template_sources!("staff-verify"),
        Template::Bounce => template_sources!("bounce"),
    }
}

/// Partials of the text registry (subject and `.txt` parts).
const TEXT_PARTIALS: [(&str, &str); 4] = [
    (
        "footer",
        include_str!("../templates/partials/footer.txt.hbs"),
    ),
    (
        "summary",
        include_str!("../templates/partials/summary.txt.hbs"),
    ),
    (
        "documents",
        include_str!("../templates/partials/documents.txt.hbs"),
    ),
    (
        "document_names",
        include_str!("../templates/partials/document_names.txt.hbs"),
    ),
];

/// Partials of the HTML registry.
const HTML_PARTIALS: [(&str, &str); 5] = [
    (
        "layout",
        include_str!("../templates/partials/layout.html.hbs"),
    ),
    (
        "footer",
        include_str!("../templates/partials/footer.html.hbs"),
    ),
    (
        "summary",
        include_str!("../templates/partials/summary.html.hbs"),
    ),
    (
        "documents",
        include_str!("../templates/partials/documents.html.hbs"),
    ),
    (
        "document_names",
        include_str!("../templates/partials/document_names.html.hbs"),
    ),
];

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
            registry.register_helper("state_label", Box::new(LabelHelper(state_label)));
            registry.register_helper("reason_label", Box::new(LabelHelper(reason_label)));
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
    /// `email.sender`), with the given Message-ID (without `<>`) and date.
    pub fn render(
        &self,
        email: &Email,
        from: &Address,
        message_id: &str,
        date: DateTime<Utc>,
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

        let mut builder = Message::builder()
            .from(mailbox(from.name.as_deref(), &from.email).context("From address")?)
            .subject(subject.clone())
            .date(SystemTime::from(date))
            .header(MessageId::from(format!("<{message_id}>")))
            .header(AutoSubmitted("auto-generated".into()))
            .header(AutoResponseSuppress("All".into()))
            .header(ContentLanguage("ms, en".into()));

        let mut seen: Vec<String> = Vec::new();
        for recipient in &email.to {
            let key = recipient.email.trim().to_ascii_lowercase();
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let mbox = mailbox(recipient.name.as_deref(), &recipient.email)
                .with_context(|| format!("recipient {:?}", recipient.email))?;
            builder = builder.to(mbox);
        }
        if seen.is_empty() {
            bail!("email {} has no recipient", email.template.name());
        }

        let (in_reply_to, references) = threading(email);
        if let Some(parent) = in_reply_to {
            builder = builder.header(InReplyTo::from(parent));
        }
        if !references.is_empty() {
            builder = builder.header(References::from(references.join(" ")));
        }

        let boundary = format!(
            "=_sijil_{}",
            &hex::encode(Sha256::digest(&message_id))[..32]
        );
        let body = MultiPart::alternative()
            .boundary(boundary)
            .singlepart(SinglePart::plain(text))
            .singlepart(SinglePart::html(html));
        let message = builder.multipart(body).context("building the message")?;

        let envelope = message.envelope();
        let envelope_from = envelope
            .from()
            .map(ToString::to_string)
            .ok_or_else(|| anyhow!("no envelope sender"))?;
        let envelope_to = envelope.to().iter().map(ToString::to_string).collect();
        Ok(RenderedEmail {
            message_id,
            envelope_from,
            envelope_to,
            subject,
            bytes: message.formatted(),
        })
    }

    /// Renders the emails a decision about the inbound message `key` wants
    /// sent, each from the address its sender names. Message-IDs derive from
    /// `key`, so deciding the same message again after a crash yields the
    /// very same emails.
    pub fn render_all(
        &self,
        emails: &[Email],
        senders: &Outbound,
        key: &str,
        date: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, String> {
        emails
            .iter()
            .enumerate()
            .map(|(i, email)| {
                let from = match email.sender {
                    Sender::Ra => &senders.from_ra,
                    Sender::Hims => &senders.from_hims,
                };
                let domain = from.email.rsplit('@').next().unwrap_or("sijil.invalid");
                let seed = format!("{key}\n{i}\n{}", email.template.name());
                let message_id = message_id_for(domain, seed.as_bytes());
                let rendered = self
                    .render(email, from, &message_id, date)
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

/// A deterministic Message-ID (without `<>`): the same `seed` (the caller
/// passes the inbound message key and the email's index) always gives the
/// same id, so an email re-decided after a crash is recognisably the same.
/// The `sijil.` prefix lets a bounce be matched to our own mail.
pub fn message_id_for(domain: &str, seed: &[u8]) -> String {
    let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let domain = if valid {
        domain
    } else {
        "localhost".to_owned()
    };
    let digest = hex::encode(Sha256::digest(seed));
    format!("sijil.{}@{domain}", &digest[..32])
}

/// The context the template sees: the core's context, with `ref` filled in
/// from `email.case_ref` when the core left it out.
fn template_context(email: &Email) -> Value {
    let mut context = match &email.context {
        Value::Object(map) => single_line_strings(Value::Object(map.clone())),
        _ => json!({}),
    };
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

/// `In-Reply-To` (the parent, `<id>`) and `References` (the chain, each
/// `<id>`, the parent last), whatever brackets the stored ids had. Ids that
/// are not a plausible msg-id are dropped rather than put in a header.
fn threading(email: &Email) -> (Option<String>, Vec<String>) {
    let parent = email
        .thread
        .in_reply_to
        .as_deref()
        .and_then(bare_id)
        .map(|id| format!("<{id}>"));
    let mut references: Vec<String> = Vec::new();
    for id in email.thread.references.iter().filter_map(|r| bare_id(r)) {
        let id = format!("<{id}>");
        if !references.contains(&id) {
            references.push(id);
        }
    }
    if let Some(parent) = &parent {
        references.retain(|r| r != parent);
        references.push(parent.clone());
    }
    // A very long chain is trimmed as mail clients do: keep the thread's
    // first message and the most recent ones.
    const MAX_REFERENCES: usize = 20;
    if references.len() > MAX_REFERENCES {
        let tail = references.split_off(references.len() - (MAX_REFERENCES - 1));
        references.truncate(1);
        references.extend(tail);
    }
    (parent, references)
}

/// The id inside optional angle brackets, if it is a plausible msg-id:
/// printable ASCII, no spaces, no brackets, something on each side of `@`
/// (RFC 5322 §3.6.4; lenient on the exact grammar, strict on what could break
/// the header).
fn bare_id(id: &str) -> Option<&str> {
    let id = id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id);
    let printable = id
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    let (left, right) = id.split_once('@')?;
    (printable && !left.is_empty() && !right.is_empty()).then_some(id)
}

/// A lettre mailbox from a display name and an address. Control characters
/// in the name (a CR/LF from hostile input) become spaces.
fn mailbox(name: Option<&str>, email: &str) -> anyhow::Result<Mailbox> {
    let address: lettre::Address = email
        .trim()
        .parse()
        .with_context(|| format!("invalid email address {email:?}"))?;
    let name = name.map(one_line).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, address))
}

/// Collapses every run of whitespace (newlines included) into one space.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tidies a rendered text part: no trailing spaces (except the `-- `
/// signature separator), at most two blank lines in a row, one final newline.
fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.lines() {
        let line = if line == "-- " { line } else { line.trim_end() };
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 2 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

macro_rules! text_header {
    ($(#[$doc:meta])* $type:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        struct $type(String);

        impl Header for $type {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_owned()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(
    /// RFC 3834: marks the message as automatic, so well-behaved responders
    /// (vacation replies, our own classifier) never answer it.
    AutoSubmitted,
    "Auto-Submitted"
);
text_header!(
    /// Outlook/Exchange's way of saying "no auto-replies to this message".
    AutoResponseSuppress,
    "X-Auto-Response-Suppress"
);
text_header!(
    /// Every part is Malay first, then English.
    ContentLanguage,
    "Content-Language"
);

/// A template helper mapping a code to its label in a language:
/// `{{state_label existing.state "ms"}}`. An unknown code is shown as is; a
/// missing one renders nothing.
struct LabelHelper(fn(&str, Lang) -> Option<&'static str>);

#[derive(Clone, Copy)]
enum Lang {
    Ms,
    En,
}

impl HelperDef for LabelHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let code = h.param(0).and_then(|p| p.value().as_str()).unwrap_or("");
        let lang = match h.param(1).and_then(|p| p.value().as_str()) {
            Some("en") => Lang::En,
            _ => Lang::Ms,
        };
        let label = (self.0)(code, lang).unwrap_or(code);
        Ok(ScopedJson::Derived(Value::String(label.to_owned())))
    }
}

/// The case states of SPEC §5, for people.
fn state_label(code: &str, lang: Lang) -> Option<&'static str> {
    let (ms, en) = match code {
        "incomplete" => ("Tidak lengkap", "Incomplete"),
        "received" => (
            "Diterima, menunggu pengesahan",
            "Received, awaiting verification",
        ),
        "verified" => (
            "Disahkan, menunggu kelulusan",
            "Verified, awaiting approval",
        ),
        "pin_pending" => (
            "Menunggu penetapan PIN sijil",
            "Awaiting the certificate PIN",
        ),
        "pin_set" => (
            "PIN ditetapkan, menunggu semakan kualiti (QC)",
            "PIN set, awaiting quality check (QC)",
        ),
        "active" => (
            "Aktif, Sijil Roaming sedia",
            "Active, Roaming Certificate ready",
        ),
        "signed" => ("Telah menandatangani eSPA", "eSPA signed"),
        "rejected" => ("Ditolak", "Rejected"),
        "withdrawn" => ("Ditarik balik", "Withdrawn"),
        _ => return None,
    };
    Some(match lang {
        Lang::Ms => ms,
        Lang::En => en,
    })
}

/// The reasons for the manual route (SPEC §4).
fn reason_label(code: &str, lang: Lang) -> Option<&'static str> {
    let (ms, en) = match code {
        "IDSAYA" => (
            "Tidak dapat melengkapkan eKYC dalam aplikasi iDsaya",
            "Unable to complete eKYC in the iDsaya app",
        ),
        "LUAR_NEGARA" => (
            "Warganegara Malaysia yang berada di luar negara",
            "Malaysian citizen abroad",
        ),
        "WARGA_ASING" => ("Warga asing", "Foreign national"),
        "OKU" => ("Orang Kurang Upaya (OKU)", "Person with disability (OKU)"),
        _ => return None,
    };
    Some(match lang {
        Lang::Ms => ms,
        Lang::En => en,
    })
}

/// A context with every field the templates read, for the start-up
/// self-test (and the unit tests).
fn sample_context() -> Value {
    json!({
        "ref": "SJL-2026-000001",
        "company": "Seri Indah Development Sdn Bhd",
        "signee": {
            "name": "Ali bin Abu", "email": "ali@example.com", "phone": "+971501234567",
            "role": "Pembeli", "role_en": "Buyer", "order": 2, "espa_ref": "HDA-2026-000123",
            "id_type": "MyKad", "id_masked": "900101-14-****", "nationality": "Malaysia",
            "reason": "LUAR_NEGARA"
        },
        "documents": [
            { "kind_ms": "Kad Pengenalan (depan)", "kind_en": "MyKad (front)",
              "name": "MyKad depan.jpg", "size": "21 KB", "sha256": "ab12cd34…" }
        ],
        "problems": [
            { "code": "LOA_MISSING", "ms": "Surat Kebenaran (LOA) tiada.", "en": "The LOA is missing." }
        ],
        "existing": { "ref": "SJL-2026-000001", "state": "received" },
        "state": "received"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::{Recipient, Sender, Thread};
    use chrono::TimeZone;
    use mail_parser::{HeaderValue as ParsedValue, MessageParser, MimeHeaders};

    fn email(template: Template, context: Value) -> Email {
        Email {
            template,
            sender: Sender::Ra,
            to: vec![Recipient {
                name: Some("Submit Desk".into()),
                email: "submit@seriindah.my".into(),
            }],
            case_ref: Some("SJL-2026-000001".into()),
            thread: Thread::default(),
            context,
        }
    }

    fn ra() -> Address {
        Address {
            name: Some("POS Digicert RA".into()),
            email: "kpkt.retail@ra.example.my".into(),
        }
    }

    fn date() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
    }

    /// Every id of an In-Reply-To/References header, as mail-parser sees it.
    fn ids(value: &ParsedValue<'_>) -> Vec<String> {
        match value {
            ParsedValue::Text(t) => vec![t.to_string()],
            ParsedValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_template_renders_with_a_full_context() {
        let r = Renderer::new().unwrap();
        for template in Template::ALL {
            let (subject, text, html) = r.render_parts(template, &sample_context()).unwrap();
            let name = template.name();
            assert!(
                subject.starts_with("[SJL-2026-000001] "),
                "{name}: {subject}"
            );
            assert!(
                subject.contains(" / "),
                "{name}: bilingual subject: {subject}"
            );
            for part in [&subject, &text, &html] {
                assert!(
                    !part.contains("{{") && !part.contains("}}"),
                    "{name}: {part}"
                );
            }
            // Malay first, then English, in both parts.
            let (ms, en) = match template {
                Template::Emel1 => ("Salam sejahtera Ali bin Abu", "Dear Ali bin Abu"),
                Template::StaffVerify => ("Salam sejahtera", "Good day"),
                _ => ("Tuan/Puan", "Dear Sir/Madam"),
            };
            for part in [&text, &html] {
                let (m, e) = (part.find(ms), part.find(en));
                assert!(
                    m.is_some() && e.is_some() && m < e,
                    "{name}: order in\n{part}"
                );
                assert!(part.contains("Pihak Berkuasa Pendaftaran (RA)"), "{name}");
            }
            assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
            assert!(html.trim_end().ends_with("</html>"), "{name}");
            assert!(text.contains("\n-- \n"), "{name}: signature separator");
            assert!(!text.contains("&amp;") && !text.contains("&lt;"), "{name}");
        }
    }

    #[test]
    fn every_template_renders_with_an_empty_context() {
        let r = Renderer::new().unwrap();
        for template in Template::ALL {
            for context in [
                json!({}),
                json!({"signee": {}, "documents": [], "problems": []}),
            ] {
                let (subject, text, html) = r.render_parts(template, &context).unwrap();
                let name = template.name();
                assert!(
                    !subject.contains("[]") && !subject.is_empty(),
                    "{name}: {subject}"
                );
                assert!(!subject.ends_with('—'), "{name}: {subject}");
                assert!(!text.contains(" ()") && !html.contains(" ()"), "{name}");
                assert!(
                    !text.contains("  ,") && !text.contains(" ."),
                    "{name}:\n{text}"
                );
                assert!(html.contains("</html>"));
            }
        }
    }

    #[test]
    fn template_content_per_email() {
        let r = Renderer::new().unwrap();
        let ctx = sample_context();
        let (_, text, html) = r.render_parts(Template::Incomplete, &ctx).unwrap();
        for part in [&text, &html] {
            assert!(part.contains("LOA_MISSING") && part.contains("The LOA is missing."));
            assert!(
                part.contains("[SJL-2026-000001]"),
                "reply keeping the reference"
            );
            assert!(part.contains("Label: nilai") && part.contains("Label: value"));
        }
        let (subject, text, _) = r.render_parts(Template::Duplicate, &ctx).unwrap();
        assert!(subject.starts_with("[SJL-2026-000001] Permohonan pendua / Duplicate"));
        assert!(text.contains("Diterima, menunggu pengesahan"));
        assert!(text.contains("Received, awaiting verification"));
        let (_, text, html) = r.render_parts(Template::StaffVerify, &ctx).unwrap();
        for part in [&text, &html] {
            for needle in [
                "HDA-2026-000123",
                "900101-14-****",
                "+971501234567",
                "ali@example.com",
                "LUAR_NEGARA",
                "Seri Indah Development Sdn Bhd",
                "MyKad depan.jpg",
                "21 KB",
                "ab12cd34",
                "VERIFIED",
                "DISAHKAN",
                "UNREACHABLE",
                "TIADA-JAWAPAN",
                "Pembeli",
                "Buyer",
            ] {
                assert!(part.contains(needle), "staff-verify lacks {needle}");
            }
        }
        let (subject, text, html) = r.render_parts(Template::Emel1, &ctx).unwrap();
        assert!(subject.starts_with("[SJL-2026-000001] "));
        for part in [&text, &html] {
            assert!(part.contains("MYCRS") && part.contains("pilihan"));
            assert!(part.contains("1–3 hari bekerja") || part.contains("1&ndash;3 hari bekerja"));
            assert!(part.contains("MyKad depan.jpg") && !part.contains("ab12cd34"));
            assert!(!part.contains("900101"), "no ID number to the signee");
        }
        let (subject, text, _) = r.render_parts(Template::Ack, &ctx).unwrap();
        assert_eq!(
            subject,
            "[SJL-2026-000001] Permohonan diterima / Application received — Ali bin Abu"
        );
        assert!(text.contains("SHA-256 ab12cd34"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = Renderer::new().unwrap();
        let mut ctx = sample_context();
        ctx["signee"]["name"] = json!("Tan & <Lim>");
        let (subject, text, html) = r.render_parts(Template::Ack, &ctx).unwrap();
        assert!(subject.ends_with("— Tan & <Lim>"));
        assert!(text.contains("Tan & <Lim>"));
        assert!(html.contains("Tan &amp; &lt;Lim&gt;") && !html.contains("<Lim>"));
    }

    #[test]
    fn rendered_message_parses_with_every_header() {
        let r = Renderer::new().unwrap();
        let mut ctx = sample_context();
        ctx["signee"]["name"] = json!("Pembeli — Ali bin Abu, Tuan Tanah 陈大文");
        let mut e = email(Template::Ack, ctx);
        e.to.push(Recipient {
            name: Some("陈大文".into()),
            email: "chen@example.com".into(),
        });
        e.thread = Thread {
            in_reply_to: Some("pack-1@seriindah.my".into()),
            references: vec!["<start@seriindah.my>".into(), "pack-1@seriindah.my".into()],
        };
        let id = message_id_for("ra.example.my", b"inbound-key/0");
        let out = r.render(&e, &ra(), &id, date()).unwrap();

        assert!(out.bytes.is_ascii(), "7-bit clean");
        let crlf = out.bytes.windows(2).filter(|w| w == b"\r\n").count();
        let lf = out.bytes.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(crlf, lf, "every line ends with CRLF");
        assert_eq!(out.message_id, id);
        assert_eq!(out.envelope_from, "kpkt.retail@ra.example.my");
        assert_eq!(out.envelope_to, ["submit@seriindah.my", "chen@example.com"]);
        let expected_subject = "[SJL-2026-000001] Permohonan diterima / Application received \
                                — Pembeli — Ali bin Abu, Tuan Tanah 陈大文";
        assert_eq!(out.subject, expected_subject);

        let m = MessageParser::default().parse(&out.bytes).unwrap();
        assert_eq!(m.subject(), Some(expected_subject));
        let from = m.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("POS Digicert RA"));
        assert_eq!(from.address(), Some("kpkt.retail@ra.example.my"));
        let to: Vec<_> = m.to().unwrap().iter().collect();
        assert_eq!(to.len(), 2);
        assert_eq!(to[0].address(), Some("submit@seriindah.my"));
        assert_eq!(to[1].name(), Some("陈大文"));
        assert_eq!(to[1].address(), Some("chen@example.com"));
        assert_eq!(m.date().unwrap().to_timestamp(), date().timestamp());
        assert_eq!(m.message_id(), Some(id.as_str()));
        assert_eq!(ids(m.in_reply_to()), ["pack-1@seriindah.my"]);
        assert_eq!(
            ids(m.references()),
            ["start@seriindah.my", "pack-1@seriindah.my"]
        );
        assert_eq!(
            m.header("Auto-Submitted").and_then(|v| v.as_text()),
            Some("auto-generated")
        );
        assert_eq!(
            m.header("X-Auto-Response-Suppress")
                .and_then(|v| v.as_text()),
            Some("All")
        );
        assert!(m.header("Precedence").is_none());

        let ct = m.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        let text = m.body_text(0).unwrap();
        let html = m.body_html(0).unwrap();
        assert!(text.starts_with("Tuan/Puan,"));
        assert!(text.contains("Pembeli — Ali bin Abu, Tuan Tanah 陈大文"));
        assert!(text.contains("1–3 hari bekerja"));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("陈大文"));
        let parts: Vec<_> = m.parts.iter().filter_map(|p| p.content_type()).collect();
        let kinds: Vec<_> = parts
            .iter()
            .map(|c| (c.ctype().to_owned(), c.subtype().unwrap_or("").to_owned()))
            .collect();
        assert!(kinds.contains(&("text".into(), "plain".into())));
        assert!(kinds.contains(&("text".into(), "html".into())));
        for c in parts.iter().filter(|c| c.ctype() == "text") {
            assert_eq!(
                c.attribute("charset").map(str::to_ascii_lowercase),
                Some("utf-8".into())
            );
        }
    }

    #[test]
    fn same_input_same_bytes() {
        let r = Renderer::new().unwrap();
        let e = email(Template::StaffVerify, sample_context());
        let a = r
            .render(&e, &ra(), "sijil.1@ra.example.my", date())
            .unwrap();
        let b = r
            .render(&e, &ra(), "<sijil.1@ra.example.my>", date())
            .unwrap();
        assert_eq!(a, b);
        let c = r
            .render(&e, &ra(), "sijil.2@ra.example.my", date())
            .unwrap();
        assert_ne!(a.bytes, c.bytes);
    }

    #[test]
    fn message_ids_are_deterministic() {
        let a = message_id_for("ra.example.my", b"key/0");
        assert_eq!(a, message_id_for("RA.example.my", b"key/0"));
        assert_ne!(a, message_id_for("ra.example.my", b"key/1"));
        assert!(a.starts_with("sijil.") && a.ends_with("@ra.example.my"));
        assert_eq!(a.len(), "sijil.".len() + 32 + "@ra.example.my".len());
        assert!(message_id_for("bad domain>", b"k").ends_with("@localhost"));
        assert!(bare_id(&a).is_some());
    }

    #[test]
    fn threading_normalises_ids() {
        let mut e = email(Template::Ack, json!({}));
        e.thread = Thread {
            in_reply_to: Some("  <b@x>  ".into()),
            references: vec![
                "a@x".into(),
                "<b@x>".into(),
                "no-at-sign".into(),
                "bad id@x".into(),
                "<a@x>".into(),
            ],
        };
        assert_eq!(
            threading(&e),
            (Some("<b@x>".into()), vec!["<a@x>".into(), "<b@x>".into()])
        );
        e.thread = Thread {
            in_reply_to: Some("p@x".into()),
            references: Vec::new(),
        };
        assert_eq!(threading(&e), (Some("<p@x>".into()), vec!["<p@x>".into()]));
        e.thread.references = (0..30).map(|i| format!("{i}@x")).collect();
        let (_, refs) = threading(&e);
        assert_eq!(refs.len(), 20);
        assert_eq!(refs.first().map(String::as_str), Some("<0@x>"));
        assert_eq!(refs.last().map(String::as_str), Some("<p@x>"));
        e.thread = Thread::default();
        assert_eq!(threading(&e), (None, Vec::new()));
    }

    #[test]
    fn no_thread_means_no_threading_headers() {
        let r = Renderer::new().unwrap();
        let out = r
            .render(
                &email(Template::Emel1, sample_context()),
                &ra(),
                "m@x",
                date(),
            )
            .unwrap();
        let m = MessageParser::default().parse(&out.bytes).unwrap();
        assert!(m.header("In-Reply-To").is_none() && m.header("References").is_none());
    }

    #[test]
    fn reference_is_guaranteed_in_the_subject() {
        let r = Renderer::new().unwrap();
        // The core left `ref` out of the context: it is taken from case_ref.
        let mut e = email(Template::Ack, json!({"signee": {"name": "Siti"}}));
        let out = r.render(&e, &ra(), "m@x", date()).unwrap();
        assert_eq!(
            out.subject,
            "[SJL-2026-000001] Permohonan diterima / Application received — Siti"
        );
        // A duplicate names the existing case first.
        e.template = Template::Duplicate;
        e.case_ref = Some("SJL-2026-000009".into());
        e.context = json!({"existing": {"ref": "SJL-2026-000009", "state": "verified"}});
        let out = r.render(&e, &ra(), "m@x", date()).unwrap();
        assert!(
            out.subject
                .starts_with("[SJL-2026-000009] Permohonan pendua")
        );
        // No reference at all: no empty brackets.
        e.case_ref = None;
        e.context = json!({});
        let out = r.render(&e, &ra(), "m@x", date()).unwrap();
        assert_eq!(out.subject, "Permohonan pendua / Duplicate application");
    }

    #[test]
    fn hostile_names_cannot_inject_headers() {
        let r = Renderer::new().unwrap();
        let mut ctx = sample_context();
        ctx["signee"]["name"] = json!("Ali\r\nBcc: evil@example.com");
        let mut e = email(Template::Ack, ctx);
        e.to[0].name = Some("Desk\r\nBcc: evil@example.com".into());
        let out = r.render(&e, &ra(), "m@x", date()).unwrap();
        let m = MessageParser::default().parse(&out.bytes).unwrap();
        assert!(m.header("Bcc").is_none());
        assert!(!String::from_utf8_lossy(&out.bytes).contains("\r\nBcc:"));
        assert_eq!(out.envelope_to, ["submit@seriindah.my"]);
        assert!(
            out.subject.ends_with("— Ali Bcc: evil@example.com"),
            "{}",
            out.subject
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let r = Renderer::new().unwrap();
        let mut e = email(Template::Ack, json!({}));
        assert!(r.render(&e, &ra(), "no brackets or at", date()).is_err());
        e.to[0].email = "not an address".into();
        assert!(r.render(&e, &ra(), "m@x", date()).is_err());
        e.to.clear();
        assert!(r.render(&e, &ra(), "m@x", date()).is_err());
        // The same recipient twice is one recipient.
        let mut e = email(Template::Ack, json!({}));
        e.to.push(Recipient {
            name: None,
            email: "SUBMIT@seriindah.my".into(),
        });
        assert_eq!(
            r.render(&e, &ra(), "m@x", date())
                .unwrap()
                .envelope_to
                .len(),
            1
        );
    }

    #[test]
    fn tidy_text_keeps_the_signature_separator() {
        assert_eq!(
            tidy_text("\n\na  \n\n\n\n\nb\n-- \nc\n\n\n"),
            "a\n\n\nb\n-- \nc\n"
        );
    }
}
