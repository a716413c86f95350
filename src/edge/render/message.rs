//! Builds the RFC 5322 message with lettre: addresses, threading headers
//! (`In-Reply-To`/`References`), the automatic-mail headers, the
//! deterministic Message-ID and MIME boundary, and the text clean-ups the
//! rendered parts get (`one_line`, `tidy_text`).

use std::time::SystemTime;

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue, InReplyTo, MessageId, References};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use super::RenderedEmail;
use crate::config::Address;
use crate::core::email::Email;

/// A deterministic Message-ID (without `<>`): HMAC-SHA256 of `seed` (the
/// caller passes the input's identity and the email's index) under the
/// store's secret `key`. The same input always gives the same id, so an
/// email re-decided after a crash is recognisably the same; without the
/// key nobody can work out the id of an email they did not receive, so a
/// reply that threads to one proves its sender received it. The `sijil.`
/// prefix lets a bounce be matched to our own mail.
pub fn message_id_for(domain: &str, key: &[u8; 32], seed: &[u8]) -> String {
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
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(seed);
    let digest = hex::encode(mac.finalize().into_bytes());
    format!("sijil.{}@{domain}", &digest[..32])
}

/// The message itself: `email`'s recipients and threading, the rendered
/// `subject`, `text` and `html`, from `from`, with the Message-ID (bare,
/// already checked) and date given. The MIME boundary derives from the
/// Message-ID, so the same input gives the same bytes.
pub(super) fn build(
    email: &Email,
    from: &Address,
    message_id: String,
    subject: String,
    (text, html): (String, String),
    attachments: &[super::Attachment],
    date: DateTime<Utc>,
) -> anyhow::Result<RenderedEmail> {
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
    let alternative = MultiPart::alternative()
        .boundary(boundary.clone())
        .singlepart(SinglePart::plain(text))
        .singlepart(SinglePart::html(html));
    let body = if attachments.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed()
            .boundary(format!("{boundary}_m"))
            .multipart(alternative);
        for a in attachments {
            let kind = lettre::message::header::ContentType::parse(&a.content_type)
                .with_context(|| format!("content type {:?}", a.content_type))?;
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(a.name.clone()).body(a.bytes.clone(), kind),
            );
        }
        mixed
    };
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

/// `In-Reply-To` (the parent, `<id>`) and `References` (the chain, each
/// `<id>`, the parent last), whatever brackets the stored ids had. Ids that
/// are not a plausible msg-id are dropped rather than put in a header.
pub(super) fn threading(email: &Email) -> (Option<String>, Vec<String>) {
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
pub(super) fn bare_id(id: &str) -> Option<&str> {
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
pub(super) fn mailbox(name: Option<&str>, email: &str) -> anyhow::Result<Mailbox> {
    let address: lettre::Address = email
        .trim()
        .parse()
        .with_context(|| format!("invalid email address {email:?}"))?;
    let name = name.map(one_line).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, address))
}

/// Collapses every run of whitespace (newlines included) into one space.
pub(super) fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tidies a rendered text part: no trailing spaces (except the `-- `
/// signature separator), at most two blank lines in a row, one final newline.
pub(super) fn tidy_text(s: &str) -> String {
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
