//! The reply's own text: what the sender wrote above the quoted message.
//!
//! Replies (a developer's corrections now, staff commands later) carry the
//! message they answer below an attribution line, or as `>` lines. Only the
//! new part may be read, or a quoted `Label: value` line of our own email
//! would count as a correction.

use regex::Regex;
use std::sync::LazyLock;

/// Lines that start the quoted part in the clients people really use.
static QUOTE_START: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Gmail, Thunderbird, Apple Mail: "On Tue, 1 Jan 2026 at 10:00, X wrote:"
        r"(?i)^\s*on\b.{0,300}\bwrote:\s*$",
        // Gmail in Malay: "Pada ... menulis:"
        r"(?i)^\s*pada\b.{0,300}\bmenulis:\s*$",
        // Outlook: "-----Original Message-----" / "----- Mesej Asal -----"
        r"(?i)^\s*-{2,}\s*(original message|mesej asal|forwarded message|mesej dimajukan)\s*-{2,}\s*$",
        // Outlook's underscore rule before the quoted header block.
        r"^\s*_{10,}\s*$",
        // Outlook's header block: "From: ..." directly followed by Sent/Date.
        r"(?i)^\s*(from|daripada):\s.+$",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// The text the sender wrote, without quoted lines, the quoted message and
/// the signature.
pub fn own_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with('>') {
            continue;
        }
        // The RFC 3676 signature separator ends the own text.
        if line == "-- " || line == "--" {
            break;
        }
        if starts_quote(line, lines.get(i + 1).copied()) {
            break;
        }
        out.push(line);
    }
    out.join("\n")
}

fn starts_quote(line: &str, next: Option<&str>) -> bool {
    let Some((from_header, others)) = QUOTE_START.split_last() else {
        return false;
    };
    if others.iter().any(|re| re.is_match(line)) {
        return true;
    }
    // "From:" alone is too common in prose; Outlook follows it with Sent/Date.
    from_header.is_match(line)
        && next.is_some_and(|n| {
            let n = n.trim_start().to_ascii_lowercase();
            n.starts_with("sent:") || n.starts_with("date:") || n.starts_with("dihantar:")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_common_quote_style() {
        let cases = [
            "Telefon / Phone: +6012\n\nOn Tue, 1 Dec 2026 at 10:00, RA <ra@x.my> wrote:\n> Telefon / Phone: +86 1\n",
            "Telefon / Phone: +6012\nPada Sel, 1 Dis 2026 10:00, RA <ra@x.my> menulis:\nTelefon / Phone: +86 1\n",
            "Telefon / Phone: +6012\n-----Original Message-----\nFrom: RA\nTelefon / Phone: +86 1\n",
            "Telefon / Phone: +6012\n________________________________\nFrom: RA <ra@x.my>\nSent: Tuesday\nTelefon / Phone: +86 1\n",
            "Telefon / Phone: +6012\nFrom: RA <ra@x.my>\nSent: Tuesday\nTelefon / Phone: +86 1\n",
            "Telefon / Phone: +6012\n-- \nAhmad\nTelefon / Phone: +86 1\n",
            "> Telefon / Phone: +86 1\nTelefon / Phone: +6012\n",
        ];
        for text in cases {
            let own = own_text(text);
            assert!(own.contains("+6012"), "{text:?} → {own:?}");
            assert!(!own.contains("+86"), "{text:?} → {own:?}");
        }
    }

    #[test]
    fn keeps_prose_that_merely_mentions_from() {
        let own = own_text("From: the developer, corrected below\nEmel / Email: a@b.my\n");
        assert!(own.contains("a@b.my"));
    }
}
