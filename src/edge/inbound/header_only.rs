//! A message over the size limit, read from its header alone (SPEC §8: it
//! is never read whole): who sent it, its subject, its Message-ID and its
//! real size are enough for the core to answer or quarantine it.
//!
//! Its identity stays what it is when a message is read whole, so that a
//! second delivery is known: `mid:` and its Message-ID. Only a message
//! without one, whose key is otherwise the digest of all its bytes, is
//! known by the digest of its header and its size instead: the same on
//! every delivery of the same message, without reading it.

use mail_parser::MessageParser;
use sha2::{Digest, Sha256};

use crate::core::message::Inbound;

/// Where the header of `bytes` ends: just past the blank line that closes
/// it (CRLF or bare LF), if `bytes` holds it.
pub fn header_end(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with(b"\r\n") {
        return Some(2);
    }
    if bytes.starts_with(b"\n") {
        return Some(1);
    }
    bytes.windows(2).enumerate().find_map(|(i, w)| match w {
        b"\n\n" => Some(i + 2),
        b"\n\r" if bytes.get(i + 2) == Some(&b'\n') => Some(i + 3),
        _ => None,
    })
}

/// Reads a message of `size` bytes from `header`, its beginning (as much
/// of the header as the mailbox read, the blank line after it included or
/// not). The text and the attachments are empty, `oversize` is set.
pub fn parse_header(header: &[u8], size: u64) -> Inbound {
    // A header cut short loses its last, incomplete line.
    let cut = match header_end(header) {
        Some(end) => &header[..end],
        None => match header.iter().rposition(|&b| b == b'\n') {
            Some(last) => &header[..=last],
            None => &[][..],
        },
    };
    let mut whole = cut.to_vec();
    if header_end(&whole).is_none() {
        whole.extend_from_slice(b"\r\n");
    }
    let mut msg = super::read(&whole, MessageParser::default().parse(&whole), &mut |_| {
        None
    });
    if msg.message_id.is_none() {
        let mut digest = Sha256::new();
        digest.update(cut);
        digest.update(size.to_be_bytes());
        msg.key = format!("head:{}", hex::encode(digest.finalize()));
    }
    msg.text.clear();
    msg.attachments.clear();
    msg.attachments_unread = 0;
    msg.report = None;
    msg.size = size;
    msg.oversize = true;
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::inbound::parse;

    const HEADER: &str = "From: Pemaju <Submit@SeriIndah.my>\r\n\
        Subject: Permohonan Sijil Digital - Ali bin Abu\r\n\
        Message-ID: <big@seriindah.my>\r\n\
        References: <a@x.my> <b@x.my>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n";

    #[test]
    fn the_end_of_a_header_is_its_blank_line() {
        assert_eq!(header_end(b"A: 1\r\nB: 2\r\n\r\nbody"), Some(14));
        assert_eq!(header_end(b"A: 1\nB: 2\n\nbody"), Some(11));
        assert_eq!(header_end(b"\r\nbody"), Some(2));
        assert_eq!(header_end(b"A: 1\r\nB: 2\r\n"), None);
        assert_eq!(header_end(b""), None);
    }

    #[test]
    fn a_header_reads_as_its_whole_message_does_but_for_the_body() {
        let body =
            "--b1\r\nContent-Type: text/plain\r\n\r\nTurutan / Signing Order: 2\r\n--b1--\r\n";
        let raw = format!("{HEADER}{body}");
        let whole = parse(raw.as_bytes());
        let head = parse_header(HEADER.as_bytes(), 80 << 20);
        assert_eq!(head.key, whole.key, "a redelivery is known");
        assert_eq!(head.key, "mid:big@seriindah.my");
        assert_eq!(head.from, whole.from);
        assert_eq!(head.from_name, whole.from_name);
        assert_eq!(head.subject, whole.subject);
        assert_eq!(head.references, whole.references);
        assert_eq!(head.size, 80 << 20);
        assert!(head.oversize && !whole.oversize);
        assert!(head.text.is_empty() && head.attachments.is_empty());
        assert!(!head.malformed);
    }

    #[test]
    fn without_a_message_id_the_header_and_size_are_the_key() {
        let header = "From: a@b.my\r\nSubject: big\r\n\r\n";
        let a = parse_header(header.as_bytes(), 1000);
        assert!(a.key.starts_with("head:"), "{}", a.key);
        assert_eq!(a.key, parse_header(header.as_bytes(), 1000).key);
        assert_ne!(a.key, parse_header(header.as_bytes(), 1001).key);
        let other = parse_header(b"From: a@b.my\r\nSubject: other\r\n\r\n", 1000);
        assert_ne!(a.key, other.key);
    }

    #[test]
    fn a_header_cut_short_loses_its_last_line_only() {
        let cut = "From: a@b.my\r\nSubject: big\r\nX-Long: yyyyyy";
        let m = parse_header(cut.as_bytes(), 1 << 30);
        assert_eq!(m.from.as_deref(), Some("a@b.my"));
        assert_eq!(m.subject, "big");
        for garbage in [&b""[..], b"\0\0\0", b"no newline at all"] {
            let m = parse_header(garbage, 1 << 30);
            assert!(m.oversize && m.size == 1 << 30);
            assert!(!m.key.is_empty());
        }
    }
}
