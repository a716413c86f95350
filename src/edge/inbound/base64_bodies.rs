//! Large base64 attachment bodies, decoded outside mail-parser.
//!
//! mail-parser reads a message one byte at a time: decoding the base64 of
//! a 1.5 MB pack took 40 % of the daemon's CPU, and finding its boundaries
//! another 7 %. So [`split`] finds runs of base64 lines with memchr (a run starts after
//! a blank line and stops before the next line starting with `--`, the
//! only way a part can end), and gives mail-parser a copy of the message
//! with those runs cut out. [`Split::fit`] then asks mail-parser's reading
//! of that copy where each cut was: only a cut that was the whole body of a
//! base64 part of a binary type is decoded here: its groups with SIMD
//! (`base64-simd`), its last group, where padding may be, with the `base64`
//! crate. That took a 1.48 MB four-document pack from 2.1–2.3 to 1.6 ms of
//! parsing.
//! A cut that was anything else is put back and the copy read again; a body
//! the strict decoder refuses makes the caller read the whole message with
//! mail-parser alone. Cutting base64 out of a body changes nothing else
//! mail-parser sees: such a run holds no `-`, so no boundary, and no `:`,
//! so no header.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::{Encoding, MimeHeaders, PartType};

/// Bodies smaller than this are left to mail-parser: not worth the cut.
pub const WORTH_IT: usize = 16 * 1024;

/// Padding is required (mail-parser drops an unpadded last group, so such
/// a body is left to it); bits after the last full byte are ignored, as
/// mail-parser does.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// A message with its large base64 runs cut out.
#[derive(Debug)]
pub struct Split {
    /// The message without those runs, for mail-parser.
    pub stripped: Vec<u8>,
    /// The runs, as ranges of the raw message, in order.
    cuts: Vec<Range<usize>>,
}

/// What mail-parser's reading of [`Split::stripped`] made of the cuts.
pub enum Fit {
    /// Every cut was the whole body of a base64 binary part: their decoded
    /// bodies, by part index.
    Bodies(Bodies),
    /// These cuts (indices into the cuts) were something else.
    Misfits(Vec<usize>),
    /// A body the strict decoder refuses: mail-parser decides.
    Undecodable,
}

/// The bodies taken out, decoded, by part index.
#[derive(Debug)]
pub struct Bodies(Vec<(usize, Vec<u8>)>);

/// Cuts the base64 runs of `min_len` bytes or more out of `raw` ([`WORTH_IT`]
/// but for tests), or `None` when there are none (then mail-parser reads it
/// all).
pub fn split(raw: &[u8], min_len: usize) -> Option<Split> {
    if raw.len() < min_len {
        return None;
    }
    Split::with_cuts(raw, runs(raw, min_len))
}

impl Split {
    fn with_cuts(raw: &[u8], cuts: Vec<Range<usize>>) -> Option<Split> {
        if cuts.is_empty() {
            return None;
        }
        let cut_out: usize = cuts.iter().map(|c| c.len()).sum();
        let mut stripped = Vec::with_capacity(raw.len().saturating_sub(cut_out));
        let mut at = 0;
        for cut in &cuts {
            stripped.extend_from_slice(raw.get(at..cut.start)?);
            at = cut.end;
        }
        stripped.extend_from_slice(raw.get(at..)?);
        Some(Split { stripped, cuts })
    }

    /// The same split with the `misfits` put back, or `None` if no cut is left.
    pub fn without(self, raw: &[u8], misfits: &[usize]) -> Option<Split> {
        let cuts = self
            .cuts
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !misfits.contains(i))
            .map(|(_, c)| c)
            .collect();
        Split::with_cuts(raw, cuts)
    }

    /// Matches each cut with the part of `msg` (mail-parser's reading of
    /// [`Split::stripped`]) it was taken from, and decodes it if that part
    /// is a base64 binary leaf whose body was nothing but the cut.
    pub fn fit(&self, raw: &[u8], msg: &mail_parser::Message<'_>) -> Fit {
        let mut owners = Vec::with_capacity(self.cuts.len());
        let mut misfits = Vec::new();
        let mut removed = 0;
        for (i, cut) in self.cuts.iter().enumerate() {
            // Where the cut was, in the stripped copy.
            let at = cut.start - removed;
            removed += cut.len();
            match owner(&self.stripped, msg, at) {
                Some(index) if !owners.contains(&index) => owners.push(index),
                _ => misfits.push(i),
            }
        }
        if !misfits.is_empty() {
            return Fit::Misfits(misfits);
        }
        let mut bodies = Vec::with_capacity(owners.len());
        for (index, cut) in owners.into_iter().zip(&self.cuts) {
            match raw.get(cut.clone()).and_then(decode) {
                Some(bytes) => bodies.push((index, bytes)),
                None => return Fit::Undecodable,
            }
        }
        Fit::Bodies(Bodies(bodies))
    }
}

impl Bodies {
    /// The decoded body of part `index`, if it was taken out.
    pub fn take(&mut self, index: usize) -> Option<Vec<u8>> {
        let at = self.0.iter().position(|(i, _)| *i == index)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// The index of the part of `msg` whose body was the cut at `at` of
/// `stripped` and nothing else: a leaf with an explicit binary type (text
/// keeps its charset handling, a nested message its structure) whose
/// transfer encoding is base64, and whose remaining body is blank.
fn owner(stripped: &[u8], msg: &mail_parser::Message<'_>, at: usize) -> Option<usize> {
    msg.parts.iter().position(|p| {
        let (start, end) = (p.offset_body as usize, p.offset_end as usize);
        start <= at
            && at <= end
            && stripped
                .get(start..end)
                .is_some_and(|rest| rest.iter().all(u8::is_ascii_whitespace))
            && p.encoding == Encoding::Base64
            && matches!(p.body, PartType::Binary(_) | PartType::InlineBinary(_))
            && p.content_type().is_some_and(|ct| {
                !["text", "message", "multipart"]
                    .iter()
                    .any(|t| ct.ctype().eq_ignore_ascii_case(t))
            })
    })
}

/// The runs of `raw` that may be a large base64 body: each starts after a
/// blank line with a line of base64 and ends, blanks trimmed, before the
/// next line that starts with `--` (or at the end of the message).
fn runs(raw: &[u8], min_len: usize) -> Vec<Range<usize>> {
    let dashes = memchr::memmem::Finder::new(b"\n--");
    let mut runs = Vec::new();
    let mut from = 0;
    // The next line starting with `--`, kept while it is ahead: searched
    // again only once passed, so a long letter of many paragraphs is read
    // once, not once per paragraph.
    let mut next_dashes = Some(0);
    while let Some(start) = body_after_blank_line(raw, from) {
        if next_dashes.is_some_and(|d| d < start) {
            next_dashes = dashes
                .find(raw.get(start..).unwrap_or_default())
                .map(|d| start + d);
        }
        let end = next_dashes.unwrap_or(raw.len());
        let run = raw.get(start..end).unwrap_or_default();
        let len = run.len() - run.trim_ascii_end().len();
        let end = end - len;
        if end - start >= min_len.max(1) && starts_with_base64_line(run) {
            runs.push(start..end);
            from = end;
        } else {
            from = start;
        }
    }
    runs
}

/// Where the text after the next blank line at or after `from` starts,
/// leading blank lines skipped.
fn body_after_blank_line(raw: &[u8], from: usize) -> Option<usize> {
    let rest = raw.get(from..)?;
    for nl in memchr::memchr_iter(b'\n', rest) {
        let after = &rest[nl + 1..];
        let blank = match after {
            [b'\n', ..] => 1,
            [b'\r', b'\n', ..] => 2,
            _ => continue,
        };
        let body = &after[blank..];
        let skipped = body.len() - body.trim_ascii_start().len();
        return Some(from + nl + 1 + blank + skipped);
    }
    None
}

/// Whether the first line of `text` is base64: only the alphabet (and `=`),
/// blanks at its end, at least one full group.
fn starts_with_base64_line(text: &[u8]) -> bool {
    let line = match memchr::memchr(b'\n', text) {
        Some(nl) => &text[..nl],
        None => text,
    }
    .trim_ascii_end();
    line.len() >= 4
        && line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// Strict decoding of a body: line breaks and blanks around lines are
/// skipped, anything else outside the alphabet (a blank inside a line too)
/// makes it `None`, and mail-parser decides. Lines are found with memchr
/// and copied whole (a byte-by-byte filter cost three times the decoding)
/// into a small buffer that stays in cache, decoded whenever it holds
/// [`CHUNK`] characters: a copy of the whole body would be a second
/// megabyte-sized buffer per document.
fn decode(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
    let mut chunk = Vec::with_capacity(CHUNK + 128);
    let mut start = 0;
    // Once a `=` (padding) is seen the rest is decoded at the end, in one
    // piece, where padding is allowed only last, as when decoding it all.
    let mut padded = false;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        chunk.extend_from_slice(body.get(start..end)?.trim_ascii());
        start = end + 1;
        if chunk.len() >= CHUNK && !padded {
            let whole = chunk.len() / 4 * 4;
            let groups = chunk.get(..whole)?;
            padded = groups.contains(&b'=');
            if !padded {
                decode_groups(groups, &mut out)?;
                chunk.drain(..whole);
            }
        }
    }
    // Only the last group may hold padding: the groups before it go the
    // fast way unless a `=` among them makes the whole rest the base64
    // crate's to refuse.
    let last = chunk.len().saturating_sub(4) / 4 * 4;
    let (groups, tail) = chunk.split_at(last);
    if groups.contains(&b'=') {
        ENGINE.decode_vec(&chunk, &mut out).ok()?;
    } else {
        decode_groups(groups, &mut out)?;
        ENGINE.decode_vec(tail, &mut out).ok()?;
    }
    Some(out)
}

/// Decodes whole groups of four base64 characters with no padding among
/// them, with SIMD. For such input base64-simd and [`ENGINE`] accept and
/// refuse the same (any byte outside the alphabet) and agree on the bytes;
/// they differ only at the end (base64-simd refuses bits after the last
/// full byte, which mail-parser ignores), which never gets here.
fn decode_groups(groups: &[u8], out: &mut Vec<u8>) -> Option<()> {
    debug_assert!(groups.len().is_multiple_of(4) && !groups.contains(&b'='));
    base64_simd::STANDARD.decode_append(groups, out).ok()
}

/// Characters decoded at a time by [`decode`].
const CHUNK: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

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

    fn split_(raw: &[u8]) -> Option<Split> {
        split(raw, WORTH_IT)
    }

    fn fit(raw: &[u8]) -> Option<Fit> {
        let split = split(raw, WORTH_IT)?;
        let msg = MessageParser::default().parse(&split.stripped)?;
        Some(split.fit(raw, &msg))
    }

    #[test]
    fn a_large_base64_body_is_taken_out_and_decoded() {
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let raw = message("base64", &encoded(&bytes));
        let split = split(&raw, WORTH_IT).expect("split");
        assert!(split.stripped.len() < 1_000, "{}", split.stripped.len());
        let Some(Fit::Bodies(mut bodies)) = fit(&raw) else {
            panic!("not taken out");
        };
        assert_eq!(bodies.take(2), Some(bytes));
    }

    #[test]
    fn other_encodings_small_bodies_and_bad_base64_are_left_alone() {
        // Looks like base64, but the part says it is not.
        let looks = encoded(&[7u8; 30_000]);
        assert!(matches!(fit(&message("7bit", &looks)), Some(Fit::Misfits(m)) if m == [0]));
        assert!(split_(&message("7bit", &"a letter, not base64 ".repeat(2_000))).is_none());
        assert!(split_(&message("base64", "aGVsbG8=")).is_none());
        // Outside the alphabet: mail-parser decides what it means.
        let bad = format!("{}\r\n!!", encoded(&[1u8; 30_000]));
        assert!(matches!(
            fit(&message("base64", &bad)),
            Some(Fit::Undecodable)
        ));
    }

    #[test]
    fn decoding_in_chunks_is_decoding_at_once() {
        for len in (CHUNK / 4 * 3 - 8..CHUNK / 4 * 3 + 8).chain([0, 1, 2, 3, 100_000]) {
            let bytes: Vec<u8> = (0..len as u32).map(|i| (i * 31 % 253) as u8).collect();
            for width in [76, 73, 64] {
                let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
                let body = text
                    .as_bytes()
                    .chunks(width)
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>()
                    .join(" \r\n");
                assert!(
                    decode(body.as_bytes()) == Some(bytes.clone()),
                    "{len} {width}"
                );
            }
        }
        // Padding anywhere but at the end is refused, in the first chunk
        // or in the last.
        let run = encoded(&[5u8; 1_000]);
        let long = encoded(&[6u8; 30_000]);
        assert_eq!(decode(format!("{run}\r\n{long}").as_bytes()), None);
        assert_eq!(decode(format!("{long}\r\n{run}\r\n{run}").as_bytes()), None);
    }

    #[test]
    fn the_fast_way_takes_and_refuses_what_the_base64_crate_does() {
        let long = encoded(&[7u8; 30_000]);
        let mut odd_byte = long.clone().into_bytes();
        odd_byte[20_000] = b'*';
        let cases = [
            "QUJD".to_string(),
            "QQ==".into(),
            // Bits after the last full byte: ignored, as mail-parser does.
            "QR==".into(),
            "QUJDQR==".into(),
            format!("{long}\r\nQR=="),
            // Padding before the last group, short and long.
            "QQ==QUJD".into(),
            format!("{long}\r\nQQ==QUJD"),
            format!("QQ==\r\n{long}"),
            // No padding where it is due.
            "QUJDQQ".into(),
            format!("{long}\r\nQQ"),
            "====".into(),
            "QUJD=".into(),
            String::from_utf8_lossy(&odd_byte).into_owned(),
        ];
        for body in cases {
            let compact: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            let expected = ENGINE.decode(&compact).ok();
            let shown = &body[body.len().saturating_sub(12)..];
            assert_eq!(decode(body.as_bytes()), expected, "...{shown:?}");
        }
    }

    #[test]
    fn a_long_letter_is_read_once() {
        // Forty thousand paragraphs and no boundary: each blank line starts a
        // run that is not base64, and the end of the message is found once.
        let raw = format!("Subject: s\r\n\r\n{}", "Tuan/Puan,\r\n\r\n".repeat(40_000));
        let started = std::time::Instant::now();
        assert!(split(raw.as_bytes(), 1).is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_misfit_is_put_back_and_the_rest_stays_cut() {
        let raw = message("base64", &encoded(&[3u8; 30_000]));
        let split = split(&raw, WORTH_IT).expect("split");
        let cuts = split.cuts.len();
        assert_eq!(cuts, 1);
        assert!(split.without(&raw, &[0]).is_none());
    }
}
