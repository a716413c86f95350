//! Reading one raw inbound message into the facts the core decides on.
//!
//! Parsing never fails: a message mail-parser cannot make sense of still
//! yields an [`Inbound`] (with `malformed` set) so that it can be
//! quarantined rather than retried forever. A message over the size limit
//! is read from its header alone ([`parse_header`], in `header_only`).

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::core::message::{Attachment, AutoSignals, Inbound};

#[cfg(test)]
mod attachment_names;
mod base64_bodies;
#[cfg(test)]
mod base64_equivalence;
pub mod delivery_report;
mod flowed;
mod header_only;
mod html;
#[cfg(test)]
mod html_fields;

pub use crate::pack_check::MAX_ATTACHMENTS;
pub use header_only::{header_end, parse_header};
pub use html::html_to_text;

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a raw RFC 5322 message.
pub fn parse(raw: &[u8]) -> Inbound {
    // Large base64 documents are decoded apart, much faster; mail-parser
    // reads the rest. Whenever the two disagree, mail-parser reads it all.
    parse_fast(raw, base64_bodies::WORTH_IT).unwrap_or_else(|| parse_slow(raw))
}

/// What mail-parser alone reads: the reference the fast path of [`parse`]
/// must agree with.
fn parse_slow(raw: &[u8]) -> Inbound {
    read(raw, MessageParser::default().parse(raw), &mut |_| None)
}

/// For the fuzz target that checks the fast path: its reading of `raw`
/// with base64 bodies of `min_len` bytes or more decoded apart (`None` when
/// it does not apply), and mail-parser's reading alone. They must agree.
#[doc(hidden)]
pub fn both_ways(raw: &[u8], min_len: usize) -> (Option<Inbound>, Inbound) {
    (parse_fast(raw, min_len), parse_slow(raw))
}

/// The fast path of [`parse`], or `None` when it does not apply: no base64
/// body of `min_len` bytes or more, or one that mail-parser must decode.
fn parse_fast(raw: &[u8], min_len: usize) -> Option<Inbound> {
    let mut split = base64_bodies::split(raw, min_len)?;
    // A cut that was not a whole base64 body (one inside a forwarded
    // message, say) is put back. That changes nothing around the other
    // cuts, so a second round finds no new misfit; were there one,
    // mail-parser would read it all.
    for _round in 0..2 {
        let misfits = {
            let msg = MessageParser::default().parse(&split.stripped)?;
            match split.fit(raw, &msg) {
                base64_bodies::Fit::Bodies(mut bodies) => {
                    return Some(read(raw, Some(msg), &mut |index| bodies.take(index)));
                }
                base64_bodies::Fit::Undecodable => return None,
                base64_bodies::Fit::Misfits(misfits) => misfits,
            }
        };
        split = split.without(raw, &misfits)?;
    }
    None
}

/// Builds the [`Inbound`] from mail-parser's reading of `raw` (or of a copy
/// without some bodies, which `taken` gives by part index, decoded).
fn read(
    raw: &[u8],
    msg: Option<mail_parser::Message<'_>>,
    taken: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
) -> Inbound {
    let digest_key = || format!("sha256:{}", sha256_hex(raw));
    let Some(msg) = msg else {
        return Inbound {
            key: digest_key(),
            size: raw.len() as u64,
            malformed: true,
            ..Inbound::default()
        };
    };

    let message_id = msg
        .message_id()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty());
    let key = match &message_id {
        Some(id) => format!("mid:{id}"),
        None => digest_key(),
    };
    let from_addr = msg.from().and_then(|a| a.first());
    let from = from_addr
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty());
    let from_name = from_addr
        .and_then(|a| a.name())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let return_path = msg.header_raw("Return-Path").map(|v| {
        v.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_lowercase()
    });

    let header_text = |name: &str| {
        msg.header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    let auto = AutoSignals {
        auto_submitted: header_text("Auto-Submitted"),
        precedence: header_text("Precedence"),
        list_id: msg.header_raw("List-Id").is_some(),
        x_autoreply: msg.header_raw("X-Autoreply").is_some()
            || msg.header_raw("X-Autorespond").is_some(),
        report: msg.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
    };

    let text = body_text(&msg);
    // Only the parts that can be documents count (a forwarded message or a
    // nested multipart is not one), and only the first are read: past them
    // nothing is copied, only counted.
    let documents: Vec<usize> = msg
        .attachments
        .iter()
        .map(|&index| index as usize)
        .filter(|&index| msg.parts.get(index).is_some_and(|p| is_document(&p.body)))
        .collect();
    let attachments_unread = documents.len().saturating_sub(MAX_ATTACHMENTS);
    let attachments: Vec<Attachment> = documents
        .into_iter()
        .take(MAX_ATTACHMENTS)
        .filter_map(|index| attachment(&msg, index, taken))
        .collect();
    if attachments_unread > 0 {
        tracing::warn!(
            documents = attachments.len() + attachments_unread,
            kept = MAX_ATTACHMENTS,
            "too many attachments; only the first are read"
        );
    }

    Inbound {
        key,
        message_id,
        from,
        from_name,
        return_path,
        subject: msg
            .subject()
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        in_reply_to: first_id(msg.in_reply_to()),
        references: id_list(msg.references()),
        auto,
        text,
        attachments,
        attachments_unread,
        size: raw.len() as u64,
        oversize: false,
        authentication_results: msg
            .header_values("Authentication-Results")
            .filter_map(|v| v.as_text().map(str::to_string))
            .collect(),
        malformed: false,
        report: crate::edge::inbound::delivery_report::read(&msg),
    }
}

/// Whether a part's body can be a document of a pack.
fn is_document(body: &PartType<'_>) -> bool {
    matches!(
        body,
        PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Text(_) | PartType::Html(_)
    )
}

/// Part `index` of `msg` as an attachment, its bytes decoded (or taken
/// from what was decoded apart).
fn attachment(
    msg: &mail_parser::Message<'_>,
    index: usize,
    taken: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
) -> Option<Attachment> {
    let part = msg.parts.get(index)?;
    let bytes: Vec<u8> = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            taken(index).unwrap_or_else(|| b.to_vec())
        }
        PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
        PartType::Message(_) | PartType::Multipart(_) => return None,
    };
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".to_string())
        .to_ascii_lowercase();
    Some(Attachment {
        name: crate::pack_check::attachment::display_name(part.attachment_name().unwrap_or("")),
        content_type,
        sha256: sha256_hex(&bytes),
        bytes,
    })
}

/// The first text body (format=flowed joined back into its lines), or the
/// first HTML body turned into text.
fn body_text(msg: &mail_parser::Message<'_>) -> String {
    if let Some(part) = msg.text_part(0)
        && let PartType::Text(text) = &part.body
    {
        return match flowed::params(part.content_type()) {
            Some(delsp) => flowed::unflow(text, delsp),
            None => text.to_string(),
        };
    }
    if let Some(part) = msg.html_part(0)
        && let PartType::Html(html) = &part.body
    {
        return html_to_text(html);
    }
    String::new()
}

fn first_id(value: &HeaderValue<'_>) -> Option<String> {
    id_list(value).into_iter().next()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.trim().to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.trim().to_string()).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|id| !id.is_empty())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACK: &str = "From: Pemaju <Submit@SeriIndah.my>\r\n\
To: kpkt.retail@ra.example.my\r\n\
Subject: Permohonan Sijil Digital - Ali bin Abu\r\n\
Message-ID: <abc@seriindah.my>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Turutan / Signing Order: 2\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"../../etc/LOA.pdf\"\r\n\
Content-Disposition: attachment; filename=\"../../etc/LOA.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b1--\r\n";

    #[test]
    fn reads_sender_subject_body_and_attachments() {
        let m = parse(PACK.as_bytes());
        assert_eq!(m.key, "mid:abc@seriindah.my");
        assert_eq!(m.from.as_deref(), Some("submit@seriindah.my"));
        assert_eq!(m.subject, "Permohonan Sijil Digital - Ali bin Abu");
        assert!(m.text.contains("Signing Order: 2"));
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(a.bytes, b"%PDF-1.4\n");
        assert_eq!(a.content_type, "application/pdf");
        assert!(!a.name.contains('/'), "path stripped: {}", a.name);
        assert_eq!(a.sha256, sha256_hex(b"%PDF-1.4\n"));
    }

    #[test]
    fn lf_and_crlf_read_the_same() {
        let lf = PACK.replace("\r\n", "\n");
        let (a, b) = (parse(PACK.as_bytes()), parse(lf.as_bytes()));
        assert_eq!(a.key, b.key);
        assert_eq!(a.attachments[0].bytes, b.attachments[0].bytes);
        assert_eq!(a.text.trim(), b.text.trim());
    }

    #[test]
    fn html_only_body_becomes_text_lines() {
        let raw = "From: a@b.my\nSubject: x\nContent-Type: text/html\n\n<p><b>Turutan / Signing Order:</b> 2</p><p>Emel / Email: ali@example.com</p>";
        let m = parse(raw.as_bytes());
        assert!(m.text.contains("Signing Order: 2"), "{:?}", m.text);
        assert!(m.text.contains("Email: ali@example.com"), "{:?}", m.text);
    }

    #[test]
    fn format_flowed_bodies_are_unflowed() {
        let raw = "From: a@b.my\r\nSubject: Re: x\r\nContent-Type: text/plain; charset=UTF-8;\r\n format=\"Flowed\"; DelSp=yes\r\n\r\nVERIFIED\r\n\r\nOn 1 Dec 2026, at 10:00, Sijil RA <kpkt.retail@ra.example.my>  \r\nwrote:\r\n";
        let m = parse(raw.as_bytes());
        assert!(
            m.text
                .contains("\nOn 1 Dec 2026, at 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:"),
            "{:?}",
            m.text
        );
        // Fixed text keeps its trailing spaces and line breaks.
        let fixed = raw.replace(";\r\n format=\"Flowed\"; DelSp=yes", "");
        assert!(
            parse(fixed.as_bytes())
                .text
                .contains("<kpkt.retail@ra.example.my>  \r\nwrote:")
        );
    }

    #[test]
    fn only_the_first_attachments_are_read() {
        let mut raw = String::from(
            "From: a@b.my\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nEmel / Email: ali@example.com\r\n",
        );
        for i in 0..MAX_ATTACHMENTS + 10 {
            raw.push_str(&format!(
                "--b\r\nContent-Type: text/plain\r\n\
                 Content-Disposition: attachment; filename=\"n{i}.txt\"\r\n\r\nx\r\n"
            ));
        }
        raw.push_str("--b--\r\n");
        let m = parse(raw.as_bytes());
        assert_eq!(m.attachments.len(), MAX_ATTACHMENTS);
        assert_eq!(m.attachments_unread, 10);
        assert_eq!(m.attachments[0].name, "n0.txt");
        assert!(m.text.contains("ali@example.com"));
        assert_eq!(parse(PACK.as_bytes()).attachments_unread, 0);
    }

    #[test]
    fn automated_signals_are_read() {
        let raw = "From: a@b.my\nAuto-Submitted: Auto-Replied\nPrecedence: bulk\nList-Id: <x>\nX-Autoreply: yes\nSubject: away\n\nbye";
        let m = parse(raw.as_bytes());
        assert_eq!(m.auto.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(m.auto.precedence.as_deref(), Some("bulk"));
        assert!(m.auto.list_id && m.auto.x_autoreply);
        let dsn = "From: MAILER-DAEMON@x.my\nContent-Type: multipart/report; report-type=delivery-status; boundary=z\n\n--z\nContent-Type: text/plain\n\nfailed\n--z--\n";
        assert!(parse(dsn.as_bytes()).auto.report);
    }

    #[test]
    fn garbage_still_has_a_key() {
        for raw in [
            &b""[..],
            b"\0\0\0",
            b"no headers at all",
            b"\xff\xfe\r\n\r\n",
        ] {
            let m = parse(raw);
            assert!(m.key.starts_with("sha256:") || m.key.starts_with("mid:"));
            assert_eq!(m.size, raw.len() as u64);
        }
    }
}
