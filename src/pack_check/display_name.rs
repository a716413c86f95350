//! A sender's file name made safe to show: the names are the sender's and
//! may be hostile (paths, control characters, right-to-left overrides that
//! make `fdp.exe` look like `exe.pdf`).

/// The most characters of a name shown in an email.
const DISPLAY_MAX: usize = 120;

/// A form of the sender's file name safe to show in an email or a page: no
/// path, no control or bidirectional-override characters, trimmed, at most
/// 120 characters (the extension kept), never empty. A tab or a line break
/// separated words (`MyKad\tdepan.jpg`, a name folded across lines), so it
/// becomes a space, one for a run of them: `MyKad depan.jpg`.
pub fn display_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let mut clean = String::with_capacity(base.len());
    let mut gap = false;
    for c in base.chars() {
        // The spaces around a break are part of its gap.
        if is_break(c) || (gap && c == ' ') {
            gap = true;
            continue;
        }
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        if gap && !clean.ends_with(' ') {
            clean.push(' ');
        }
        gap = false;
        clean.push(c);
    }
    let clean = clean.trim().trim_start_matches('.').trim();
    if clean.is_empty() {
        return "attachment".to_string();
    }
    if clean.chars().count() <= DISPLAY_MAX {
        return clean.to_string();
    }
    // Keep the extension so the shortened name still says what it is.
    let ext = match clean.rsplit_once('.') {
        Some((_, ext)) if !ext.is_empty() && ext.chars().count() <= 10 => ext,
        _ => "",
    };
    let keep = if ext.is_empty() {
        DISPLAY_MAX - 1
    } else {
        DISPLAY_MAX - 2 - ext.chars().count()
    };
    let mut out: String = clean.chars().take(keep).collect();
    out = out.trim_end().to_string();
    out.push('…');
    if !ext.is_empty() {
        out.push('.');
        out.push_str(ext);
    }
    out
}

/// Tabs and line breaks: between words, they stand for a space.
fn is_break(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Bidirectional marks and overrides, and zero-width characters: invisible,
/// and able to disguise a name (`U+202E` makes `gpj.exe` read `exe.jpg`).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{2060}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        let long = format!("{}.pdf", "a".repeat(200));
        let long_noext = "b".repeat(200);
        let cases: Vec<(&str, String)> = vec![
            ("form.pdf", "form.pdf".into()),
            ("  form.pdf  ", "form.pdf".into()),
            ("../../etc/passwd", "passwd".into()),
            ("C:\\Users\\clerk\\IC depan.jpg", "IC depan.jpg".into()),
            ("/tmp/x/", "attachment".into()),
            ("..", "attachment".into()),
            ("", "attachment".into()),
            ("   ", "attachment".into()),
            ("\u{202E}gpj.exe", "gpj.exe".into()),
            ("inv\u{2066}oice\u{2069}.pdf", "invoice.pdf".into()),
            ("a\u{200E}b\u{200F}c.pdf", "abc.pdf".into()),
            ("bad\r\nname\u{0}.pdf", "bad name.pdf".into()),
            ("MyKad\tdepan.jpg", "MyKad depan.jpg".into()),
            ("MyKad \t depan.jpg", "MyKad depan.jpg".into()),
            ("MyKad\r\n\tbelakang.jpg", "MyKad belakang.jpg".into()),
            (
                "Borang\u{2028}Permohonan.pdf",
                "Borang Permohonan.pdf".into(),
            ),
            ("\tLOA.pdf\r\n", "LOA.pdf".into()),
            ("a\t\u{202E}\tb.pdf", "a b.pdf".into()),
            ("\u{7}\u{1B}[31m.pdf", "[31m.pdf".into()),
            (".hidden.pdf", "hidden.pdf".into()),
            (
                "Borang Permohonan (AATL).pdf",
                "Borang Permohonan (AATL).pdf".into(),
            ),
            ("文件.pdf", "文件.pdf".into()),
            (&long, format!("{}….pdf", "a".repeat(115))),
            (&long_noext, format!("{}…", "b".repeat(119))),
        ];
        for (raw, want) in cases {
            let got = display_name(raw);
            assert_eq!(got, want, "{raw:?}");
            assert!(got.chars().count() <= DISPLAY_MAX, "{raw:?}");
        }
    }
}
