//! Reading a reply the way people write them: the sender's own text, and its
//! first line, where a staff command is (SPEC §5).
//!
//! A reply carries the message it answers: as `>` lines under an attribution
//! ("On … wrote:", "Pada … menulis:"), or unmarked under Outlook's
//! `From:`/`Sent:` block. Only the sender's new part may be read, or a
//! keyword of our own email (or a quoted `Label: value` line, for a
//! developer's corrections) would count as theirs. Signatures, sign-offs
//! ("Terima kasih,\nAina") and phone footers ("Sent from my iPhone") are not
//! the sender's words to us either. The own text may stand above the quote
//! (top-posting) or below it (bottom-posting); both are read.
//!
//! The text is what the mailbox edge made of the body: HTML turned into text
//! with blockquotes as `>` lines, format=flowed joined back into lines.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

#[cfg(test)]
mod tests;

fn regex(pattern: &str) -> Regex {
    // The patterns are constants, checked by this module's tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("reply pattern {pattern:?}: {e}"))
}

/// An attribution line in one line: Gmail, Apple Mail, Thunderbird, Yahoo,
/// iOS and Android mail, in English or Malay.
static ATTRIBUTION: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^\s*(on|pada)\s.{0,400}\b(wrote|menulis)\s*:\s*$"));

/// What an attribution line ends with, when it starts with anything
/// ("Aina wrote:"): counted only when `>` lines follow.
static ATTRIBUTION_END: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^.{1,400}\b(wrote|writes|menulis)\s*:\s*$"));

/// The start of an attribution a client wrapped over lines.
static ATTRIBUTION_START: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)^\s*(on|pada)\s"));

/// Lines below which everything is the quoted or forwarded message, marked
/// or not.
static QUOTE_RULES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Outlook, Samsung, Gmail forwards: "-----Original Message-----",
        // "-------- Mesej asal --------", "---------- Forwarded message ---------".
        r"(?i)^\s*-{2,}\s*(original message|mesej asal|forwarded message|mesej (yang )?dimajukan)\s*-{2,}\s*$",
        // Apple Mail's forward.
        r"(?i)^\s*(begin forwarded message|mula mesej yang dimajukan)\s*:\s*$",
        // Outlook's underscore rule above the quoted header block.
        r"^\s*_{10,}\s*$",
    ]
    .into_iter()
    .map(regex)
    .collect()
});

/// Outlook's quoted header block starts with `From:` (`*From:*` in a plain
/// text made from bold, `Daripada:` in Malay) …
static HEADER_FROM: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^\s*\*?(from|daripada|dari)\s*:\*?\s+\S"));

/// … directly followed by when it was sent.
static HEADER_SENT: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^\s*\*?(sent|date|dihantar|tarikh)\s*:\*?\s"));

/// A phone's or webmail's footer line.
static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\s*(sent from|sent via|sent with|sent using|get outlook for|dihantar dari|dihantar daripada|dikirim dari)\b.{0,160}$",
    )
});

/// A sign-off line: what a signature block starts with.
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\s*(terima\s*kasih|thanks?|thank\s+you|many\s+thanks|thanks\s+(and|&)\s+regards|tq|ty|regards|rgds|best|best\s+regards|kind\s+regards|warm\s+regards|warmest\s+regards|best\s+wishes|cheers|sincerely|yours\s+sincerely|yours\s+faithfully|salam|wassalam|salam\s+hormat|hormat\s+saya|yang\s+benar|sekian|sekian\W{0,3}terima\s*kasih)\s*[,.!]*\s*$",
    )
});

/// A greeting above the command: a greeting word and a few names, ending in
/// a comma ("Salam,", "Hi all,", "Dear Sijil RA team,", "Tuan/Puan,"), or a
/// greeting alone ("Assalamualaikum"). Not a sentence that starts like one
/// ("Puan Aina tidak menjawab", "Hi, not yet"): that is the sender's line.
static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:(salam|assalamualaikum|assalamu'?alaikum|hi|hai|hello|dear|tuan/puan|tuan|puan|yb|good\s+(morning|afternoon|evening)|selamat\s+(pagi|petang|tengah\s*hari|sejahtera))(\s+[\p{L}'/-]+\.?){0,4}\s*[,!:]|(salam(\s+sejahtera)?|assalamu'?alaikum(\s+w\.?b\.?t\.?)?|hi|hai|hello|tuan/puan|selamat\s+(pagi|petang|sejahtera)|good\s+(morning|afternoon|evening))\s*\.?)$",
    )
});

/// The most non-empty lines a signature block under a sign-off has (name,
/// title, organisation, numbers) and the longest of them.
const SIGN_OFF_LINES: usize = 6;
const SIGN_OFF_WIDTH: usize = 80;

/// The text the sender wrote, without quoted lines, the quoted message, the
/// signature and phone footers. The parts above and below a quote are
/// joined in order.
pub fn own_text(text: &str) -> String {
    own_lines(text).join("\n")
}

/// The first non-empty line of the sender's own text, greetings above it
/// skipped, with non-breaking and other odd spaces made plain and the ends
/// trimmed: where a staff command is. `None` when the reply has no words of
/// its own.
pub fn first_line(text: &str) -> Option<String> {
    own_lines(text)
        .into_iter()
        .map(|line| clean(line).trim().to_string())
        .find(|line| !line.is_empty() && !GREETING.is_match(line))
}

/// The sender's own lines, by segments between quotes.
fn own_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut segments: Vec<Vec<&str>> = vec![Vec::new()];
    let mut in_signature = false;
    let mut i = 0;
    while let Some(&line) = lines.get(i) {
        let rest = &lines[i..];
        let quote_len = if is_quoted(line) {
            Some(1)
        } else {
            attribution(rest).filter(|&n| quoted_follows(&lines[i + n..]))
        };
        if let Some(n) = quote_len {
            // A marked quote: the sender may go on below it.
            if segments.last().is_some_and(|s| !s.is_empty()) {
                segments.push(Vec::new());
            }
            in_signature = false;
            i += n;
            continue;
        }
        if attribution(rest).is_some() || starts_unmarked_quote(rest) {
            break;
        }
        let plain = clean(line);
        if plain.trim_end() == "--" {
            // The RFC 3676 separator ("-- "; some clients trim its space).
            in_signature = true;
        } else if !in_signature
            && !FOOTER.is_match(&plain)
            && let Some(segment) = segments.last_mut()
        {
            segment.push(line);
        }
        i += 1;
    }
    segments
        .into_iter()
        .flat_map(|mut segment| {
            segment.truncate(sign_off_start(&segment));
            segment
        })
        .collect()
}

/// A `>` line (leading spaces allowed, as html2text and some clients write
/// nested quotes).
fn is_quoted(line: &str) -> bool {
    clean(line).trim_start().starts_with('>')
}

/// How many lines the attribution at the top of `lines` spans: Gmail wraps
/// a long one ("On Tue, 1 Dec 2026 at 10:00, Aina <aina@ra.example.my>" /
/// "wrote:").
fn attribution(lines: &[&str]) -> Option<usize> {
    let first = clean(lines.first()?);
    if ATTRIBUTION.is_match(&first)
        || ATTRIBUTION_END.is_match(&first) && quoted_follows(&lines[1..])
    {
        return Some(1);
    }
    if !ATTRIBUTION_START.is_match(&first) {
        return None;
    }
    let mut joined = first.trim_end().to_string();
    for (n, next) in lines.iter().enumerate().skip(1).take(2) {
        let next = clean(next);
        if next.trim().is_empty() {
            return None;
        }
        joined.push(' ');
        joined.push_str(next.trim());
        if ATTRIBUTION.is_match(&joined) {
            return Some(n + 1);
        }
    }
    None
}

/// Whether the next non-empty line (a few empty ones allowed) is a `>` line.
fn quoted_follows(lines: &[&str]) -> bool {
    lines
        .iter()
        .take(4)
        .find(|l| !clean(l).trim().is_empty())
        .is_some_and(|l| is_quoted(l))
}

/// Outlook's and forwards' quotes: not marked, so they run to the end.
fn starts_unmarked_quote(lines: &[&str]) -> bool {
    let Some(first) = lines.first().map(|l| clean(l)) else {
        return false;
    };
    QUOTE_RULES.iter().any(|re| re.is_match(&first))
        // `From:` alone is too common in prose; Outlook follows it with Sent.
        || HEADER_FROM.is_match(&first)
            && lines.get(1).is_some_and(|next| HEADER_SENT.is_match(&clean(next)))
}

/// Where the sign-off block at the end of a segment starts (its length when
/// there is none): the last sign-off line, after words of the sender's own
/// (so a "Salam," greeting above the command is not one), followed by a
/// few short lines.
fn sign_off_start(segment: &[&str]) -> usize {
    let none = segment.len();
    let Some(at) = segment.iter().rposition(|l| SIGN_OFF.is_match(&clean(l))) else {
        return none;
    };
    let words_before = segment[..at].iter().any(|l| {
        let l = clean(l);
        let l = l.trim();
        !l.is_empty() && !GREETING.is_match(l) && !SIGN_OFF.is_match(l)
    });
    let below: Vec<&&str> = segment[at + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let short =
        below.len() <= SIGN_OFF_LINES && below.iter().all(|l| l.chars().count() <= SIGN_OFF_WIDTH);
    if words_before && short { at } else { none }
}

/// `line` with every kind of space a plain one and the invisible marks
/// (zero-width spaces, the byte-order mark, direction marks) dropped.
fn clean(line: &str) -> Cow<'_, str> {
    let odd = |c: char| c.is_whitespace() && c != ' ' || invisible(c);
    if !line.chars().any(odd) {
        return Cow::Borrowed(line);
    }
    Cow::Owned(
        line.chars()
            .filter(|&c| !invisible(c))
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect(),
    )
}

fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}
