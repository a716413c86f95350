//! Delivery reports (RFC 3464): which of our emails failed, and for whom.
//!
//! Pure reading of a `multipart/report` already parsed by mail-parser. The
//! original Message-ID comes from the returned message or headers part; the
//! failed recipients from the `message/delivery-status` part.

use crate::core::message::{DeliveryReport, Failure};
use mail_parser::{Message, MimeHeaders, PartType};

/// Reads a delivery report, if `msg` is one.
pub fn read(msg: &Message<'_>) -> Option<DeliveryReport> {
    let is_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    if !is_report {
        return None;
    }
    let mut report = DeliveryReport::default();
    for part in msg.parts.iter() {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let full = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase();
        match (full.as_str(), &part.body) {
            ("message/delivery-status" | "message/global-delivery-status", body) => {
                let text = match body {
                    PartType::Text(t) | PartType::Html(t) => t.to_string(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    PartType::Message(m) => String::from_utf8_lossy(m.raw_message()).into_owned(),
                    PartType::Multipart(_) => continue,
                };
                report.failed.extend(failures(&text));
            }
            (_, PartType::Message(original)) if report.original_message_id.is_none() => {
                report.original_message_id = original.message_id().map(str::to_string);
            }
            // A returned message without a body is read as text.
            ("text/rfc822-headers" | "message/rfc822-headers" | "message/rfc822", body)
                if report.original_message_id.is_none() =>
            {
                let text = match body {
                    PartType::Text(t) => t.to_string(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    _ => continue,
                };
                report.original_message_id = header_message_id(&text);
            }
            _ => {}
        }
    }
    Some(report)
}

/// The per-recipient blocks of a delivery-status body that failed.
fn failures(text: &str) -> Vec<Failure> {
    let mut out = Vec::new();
    // Blocks are separated by blank lines; the first is per-message.
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let field = |name: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let Some(action) = field("Action") else {
            continue;
        };
        if !action.eq_ignore_ascii_case("failed") {
            continue;
        }
        let recipient = field("Final-Recipient")
            .or_else(|| field("Original-Recipient"))
            .map(|r| r.rsplit(';').next().unwrap_or(&r).trim().to_lowercase());
        if let Some(recipient) = recipient.filter(|r| r.contains('@')) {
            out.push(Failure {
                recipient,
                status: field("Status").unwrap_or_default(),
            });
        }
    }
    out
}

fn header_message_id(headers: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("message-id")
            .then(|| {
                v.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .filter(|id| !id.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a Postfix bounce.
    const POSTFIX: &str = "From: MAILER-DAEMON@mx.example.my (Mail Delivery System)\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
To: kpkt.retail@ra.example.my\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.my\r\n\
\r\n\
Final-Recipient: rfc822; Ali@Buyer.example.com\r\n\
Original-Recipient: rfc822;ali@buyer.example.com\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
\r\n\
Final-Recipient: rfc822; other@buyer.example.com\r\n\
Action: delayed\r\n\
Status: 4.4.1\r\n\
--B\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: POS Digicert RA <kpkt.retail@ra.example.my>\r\n\
Message-ID: <sijil.abc123@ra.example.my>\r\n\
Subject: [SJL-2026-000001] x\r\n\
--B--\r\n";

    #[test]
    fn reads_the_failed_recipient_and_our_message_id() {
        let msg = mail_parser::MessageParser::default()
            .parse(POSTFIX.as_bytes())
            .unwrap();
        let report = read(&msg).unwrap();
        assert_eq!(
            report.original_message_id.as_deref(),
            Some("sijil.abc123@ra.example.my")
        );
        assert_eq!(
            report.failed,
            vec![Failure {
                recipient: "ali@buyer.example.com".into(),
                status: "5.1.1".into()
            }]
        );
    }

    #[test]
    fn the_returned_message_itself_also_names_the_id() {
        let raw = POSTFIX.replace(
            "Content-Type: text/rfc822-headers\r\n",
            "Content-Type: message/rfc822\r\n",
        );
        let msg = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let report = read(&msg).unwrap();
        assert_eq!(
            report.original_message_id.as_deref(),
            Some("sijil.abc123@ra.example.my")
        );
    }

    #[test]
    fn ordinary_mail_is_no_report() {
        let msg = mail_parser::MessageParser::default()
            .parse(b"From: a@b.my\r\nSubject: x\r\n\r\nbody".as_slice())
            .unwrap();
        assert!(read(&msg).is_none());
    }
}
