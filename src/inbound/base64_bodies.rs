//! Large base64 attachment bodies, decoded outside mail-parser.
//!
//! mail-parser decodes base64 one byte at a time and then copies the result
//! once more: about 260 MB/s here, 40 % of the daemon's CPU on packs of
//! scanned documents. So [`split`] finds the base64 bodies of the message's
//! non-text parts with a structure-only parse (`Content-Transfer-Encoding`
//! ignored, so that no body is decoded), decodes them with the `base64`
//! crate, and gives mail-parser a copy of the message with those bodies cut
//! out, for everything else. [`Bodies::fits`] then checks that mail-parser
//! saw the same parts in both. Anything unusual (a body the strict decoder
//! refuses, parts that differ) makes the caller parse the whole message
//! with mail-parser alone, so what is read is always what mail-parser reads.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::{Encoding, HeaderName, MessageParser, MimeHeaders, PartType};

/// Bodies smaller than this are left to mail-parser: not worth a second parse.
const WORTH_IT: usize = 16 * 1024;

/// Padding is required (mail-parser drops an unpadded last group, so such
/// a body is left to it); bits after the last full byte are ignored, as
/// mail-parser does.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// A message with its large base64 bodies taken out and decoded.
#[derive(Debug)]
pub struct Split {
    /// The message without those bodies, for mail-parser.
    pub stripped: Vec<u8>,
    pub bodies: Bodies,
}

/// The bodies taken out, decoded.
#[derive(Debug)]
pub struct Bodies {
    /// By part index (the same in both parses).
    decoded: Vec<(usize, Vec<u8>)>,
    /// The structure parse's part count and attachment list, to check the
    /// second parse against.
    parts: usize,
    attachments: Vec<u32>,
}

/// Splits `raw`, or `None` when there is nothing worth taking out or the
/// message is anything but plain to read (then mail-parser reads it all).
pub fn split(raw: &[u8]) -> Option<Split> {
    // Only worth it for messages with large bodies; and a message that is
    // all header is no use either.
    if raw.len() < WORTH_IT {
        return None;
    }
    // Once any header has a parser of its own, mail-parser reads every
    // other one raw: the MIME headers it needs for the structure are named.
    let structure = MessageParser::new()
        .with_mime_headers()
        .ignore_header(HeaderName::ContentTransferEncoding)
        .parse(raw)?;
    let mut decoded = Vec::new();
    let mut cuts = Vec::new();
    for (index, part) in structure.parts.iter().enumerate() {
        // Text keeps its charset handling, nested messages their own
        // structure: only binary leaves are taken out.
        if !matches!(part.body, PartType::Binary(_) | PartType::InlineBinary(_)) {
            continue;
        }
        let (start, end) = (part.offset_body as usize, part.offset_end as usize);
        let (Some(body), Some(header)) = (
            raw.get(start..end),
            raw.get(part.offset_header as usize..start),
        ) else {
            continue;
        };
        if body.len() < WORTH_IT || !is_base64(header) {
            continue;
        }
        decoded.push((index, decode(body)?));
        cuts.push(start..end);
    }
    if cuts.is_empty() {
        return None;
    }
    let cut_out: usize = cuts.iter().map(|c| c.len()).sum();
    let mut stripped = Vec::with_capacity(raw.len().saturating_sub(cut_out));
    let mut at = 0;
    for cut in cuts {
        // Parts come in order and never overlap; anything else is left to
        // mail-parser alone.
        stripped.extend_from_slice(raw.get(at..cut.start)?);
        at = cut.end;
    }
    stripped.extend_from_slice(raw.get(at..)?);
    Some(Split {
        stripped,
        bodies: Bodies {
            decoded,
            parts: structure.parts.len(),
            attachments: structure.attachments.clone(),
        },
    })
}

impl Bodies {
    /// Whether mail-parser's reading of the stripped message has the same
    /// parts, and an empty base64 body exactly where one was taken out.
    pub fn fits(&self, msg: &mail_parser::Message<'_>) -> bool {
        msg.parts.len() == self.parts
            && msg.attachments == self.attachments
            && self.decoded.iter().all(|(index, _)| {
                msg.parts.get(*index).is_some_and(|p| {
                    p.encoding == Encoding::Base64
                        && matches!(&p.body, PartType::Binary(b) | PartType::InlineBinary(b) if b.is_empty())
                })
            })
    }

    /// The decoded body of part `index`, if it was taken out.
    pub fn take(&mut self, index: usize) -> Option<Vec<u8>> {
        let at = self.decoded.iter().position(|(i, _)| *i == index)?;
        Some(self.decoded.swap_remove(at).1)
    }
}

/// Whether a part's own header block says `Content-Transfer-Encoding:
/// base64`, read by mail-parser's header parser.
fn is_base64(header: &[u8]) -> bool {
    let Some(headers) = MessageParser::default().parse_headers(header) else {
        return false;
    };
    headers
        .parts
        .first()
        .and_then(|p| p.content_transfer_encoding())
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"))
}

/// Strict decoding of a body: line breaks and blanks around lines are
/// skipped, anything else outside the alphabet (a blank inside a line too)
/// makes it `None`, and mail-parser decides. Lines are found with memchr
/// and copied whole: a byte-by-byte filter cost three times the decoding.
fn decode(body: &[u8]) -> Option<Vec<u8>> {
    let mut text = Vec::with_capacity(body.len());
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        let line = body.get(start..end)?;
        text.extend_from_slice(line.trim_ascii());
        start = end + 1;
    }
    ENGINE.decode(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(cte: &str, body: &str) -> Vec<u8> {
        format!(
            "From: a@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
             --b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n\
             Content-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n--b--\r\n"
        )
        .into_bytes()
    }

    fn encoded(bytes: &[u8]) -> String {
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        text.as_bytes()
            .chunks(76)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    #[test]
    fn a_large_base64_body_is_taken_out_and_decoded() {
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let raw = message("base64", &encoded(&bytes));
        let Split {
            stripped,
            mut bodies,
        } = split(&raw).expect("split");
        assert!(stripped.len() < 1_000, "{}", stripped.len());
        let msg = MessageParser::default().parse(&stripped).unwrap();
        assert!(bodies.fits(&msg));
        assert_eq!(bodies.take(2), Some(bytes));
    }

    #[test]
    fn other_encodings_small_bodies_and_bad_base64_are_left_alone() {
        let big = "x".repeat(40_000);
        assert!(split(&message("7bit", &big)).is_none());
        assert!(split(&message("base64", "aGVsbG8=")).is_none());
        // Outside the alphabet: mail-parser decides what it means.
        let bad = format!("{}!!", encoded(&[1u8; 30_000]));
        assert!(split(&message("base64", &bad)).is_none());
    }
}
