//! format=flowed text (RFC 3676) joined back into the lines its writer
//! typed. Thunderbird, Apple Mail and K-9 send it: a long line goes out as
//! several, each but the last ending in a space (a soft break), so an
//! attribution "On … <ra@…> wrote:" or a `Label: value` line would reach
//! the reader cut in two. mail-parser leaves the body as sent.

use mail_parser::ContentType;

/// `Some(delsp)` when a text part's Content-Type says format=flowed, with
/// whether its soft breaks' spaces are to be deleted (DelSp=yes).
pub(super) fn params(ct: Option<&ContentType<'_>>) -> Option<bool> {
    let attrs = ct?.attributes()?;
    let is = |name: &str, value: &str| {
        attrs.iter().any(|a| {
            a.name.eq_ignore_ascii_case(name) && a.value.trim().eq_ignore_ascii_case(value)
        })
    };
    is("format", "flowed").then(|| is("delsp", "yes"))
}

/// The lines of flowed `text`: soft breaks joined (their space deleted
/// under DelSp=yes), space-stuffing undone, quote depth kept as `>` marks
/// (`> ` before the text, as a reader expects).
pub(super) fn unflow(text: &str, delsp: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    // The logical line being joined: its quote depth and text so far.
    let mut open: Option<(usize, String)> = None;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let body = &line[depth..];
        let body = body.strip_prefix(' ').unwrap_or(body);
        // The signature separator is never flowed and ends the line before.
        let signature = body == "-- ";
        // A change of depth ends a logical line too (RFC 3676 §4.5).
        if let Some((d, joined)) = open.take_if(|(d, _)| signature || *d != depth) {
            out.push(quoted(d, &joined));
        }
        let soft = !signature && body.ends_with(' ');
        let joined = match open.take() {
            Some((_, mut joined)) => {
                joined.push_str(body);
                joined
            }
            None => body.to_string(),
        };
        if soft {
            let mut joined = joined;
            if delsp {
                joined.pop();
            }
            open = Some((depth, joined));
        } else {
            out.push(quoted(depth, &joined));
        }
    }
    if let Some((d, joined)) = open {
        out.push(quoted(d, &joined));
    }
    out.join("\n")
}

fn quoted(depth: usize, text: &str) -> String {
    if depth == 0 {
        return text.to_string();
    }
    let marks = ">".repeat(depth);
    if text.is_empty() {
        marks
    } else {
        format!("{marks} {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_breaks_are_joined() {
        let text = "VERIFIED\r\n\r\nOn 01/12/2026 10:00, Sijil RA <kpkt.retail@ra.example.my> \r\nwrote:\r\n> Sila balas dengan \r\n> VERIFIED.\r\n";
        assert_eq!(
            unflow(text, false),
            "VERIFIED\n\nOn 01/12/2026 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:\n> Sila balas dengan VERIFIED.\n"
        );
    }

    #[test]
    fn delsp_deletes_the_soft_break_space() {
        let text = "Pada 1 Dis 2026, pada 10:00 PG, Sijil RA <kpkt.retail@ra.example.my>  \r\nmenulis:\r\nabcdefghij\r\nlong-word-cut-\u{20}\r\nin-two\r\n";
        assert_eq!(
            unflow(text, true),
            "Pada 1 Dis 2026, pada 10:00 PG, Sijil RA <kpkt.retail@ra.example.my> menulis:\nabcdefghij\nlong-word-cut-in-two\n"
        );
    }

    #[test]
    fn stuffing_is_undone_and_depth_is_kept() {
        // A line typed as "From here" is stuffed (" From here"); one typed
        // ">x" is stuffed too, or it would read as a quote.
        let text = " From here \r\non\r\n >x\r\n>> deep \r\n>> quote\r\n> shallow \r\nnot joined across depths\r\n>\r\n";
        assert_eq!(
            unflow(text, false),
            "From here on\n>x\n>> deep quote\n> shallow \nnot joined across depths\n>\n"
        );
    }

    #[test]
    fn the_signature_separator_stays_its_own_line() {
        let text = "APPROVED \r\n-- \r\nAina \r\nRA\r\n";
        assert_eq!(unflow(text, false), "APPROVED \n-- \nAina RA\n");
    }

    #[test]
    fn fixed_text_is_unchanged() {
        let text = "Line one\nLine two\n\n> quoted\n";
        assert_eq!(unflow(text, false), text);
        assert_eq!(unflow(text, true), text);
    }
}
