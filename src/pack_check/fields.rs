//! The `Label: value` lines of a text body (SPEC §2, §4).
//!
//! Developers type these by hand, paste them from a template, or send them
//! through mail clients that turn HTML into text, so reading is forgiving about
//! form (case, spacing, dots, a `No.` prefix, bullets, bold markers, a
//! full-width colon, non-breaking spaces, CRLF) and strict about meaning: a
//! label must be one of a known list for exactly one field, so an arbitrary
//! line such as `Note: please call` never fills a field. Quoted lines (`>`)
//! are skipped: a reply quotes our INCOMPLETE email and the original pack, and
//! only the developer's own unquoted lines are corrections.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

static SLASHED_ABBREVIATION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b([hi])\s*/\s*([pc])\b").expect("constant regex")
});

/// One field of an application pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Field {
    EspaRef,
    Order,
    FullName,
    IdType,
    IdNumber,
    Nationality,
    Email,
    Phone,
    Role,
    Reason,
}

impl Field {
    /// Every field, in the order of the SPEC §4 template.
    pub const ALL: [Field; 10] = [
        Field::EspaRef,
        Field::Order,
        Field::FullName,
        Field::IdType,
        Field::IdNumber,
        Field::Nationality,
        Field::Email,
        Field::Phone,
        Field::Role,
        Field::Reason,
    ];

    /// The Malay label of the SPEC §4 template.
    pub fn label_ms(self) -> &'static str {
        match self {
            Field::EspaRef => "Rujukan eSPA",
            Field::Order => "Turutan",
            Field::FullName => "Nama Penuh",
            Field::IdType => "Jenis Pengenalan",
            Field::IdNumber => "No. Pengenalan",
            Field::Nationality => "Warganegara",
            Field::Email => "Emel",
            Field::Phone => "Telefon",
            Field::Role => "Peranan",
            Field::Reason => "Sebab",
        }
    }

    /// The English label of the SPEC §4 template.
    pub fn label_en(self) -> &'static str {
        match self {
            Field::EspaRef => "eSPA Reference",
            Field::Order => "Signing Order",
            Field::FullName => "Full Name",
            Field::IdType => "ID Type",
            Field::IdNumber => "ID Number",
            Field::Nationality => "Nationality",
            Field::Email => "Email",
            Field::Phone => "Phone",
            Field::Role => "Role",
            Field::Reason => "Reason",
        }
    }

    /// The combined `Malay / English` label exactly as the template writes it,
    /// so a developer can copy it from our reply.
    pub fn label(self) -> String {
        format!("{} / {}", self.label_ms(), self.label_en())
    }

    /// The field a whole label (Malay, English, a synonym, or a combined
    /// `Malay / English` form) names; `None` when it names no field or when
    /// its parts disagree.
    pub fn from_label(label: &str) -> Option<Field> {
        let label = strip_parenthetical(label);
        // `H/P` (handphone) and `I/C` are single words, not two labels.
        let label = SLASHED_ABBREVIATION.replace_all(&label, "$1$2");
        let mut found = None;
        let mut parts = 0;
        for part in label.split(['/', '|']) {
            let key = normalise_label(part);
            if key.is_empty() {
                continue;
            }
            parts += 1;
            let field = synonym(&key)?;
            if found.is_some_and(|f| f != field) {
                return None;
            }
            found = Some(field);
        }
        // A lone `/` or an empty label names nothing.
        if parts == 0 { None } else { found }
    }
}

/// The fields read from one message, or merged over a thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields(pub BTreeMap<Field, String>);

impl Fields {
    /// Reads every recognised `Label: value` line of `text`. Within one
    /// message the first non-empty value of a field wins, so a signature
    /// further down (`Email: clerk@…`) cannot override the pack.
    pub fn parse(text: &str) -> Fields {
        let mut map = BTreeMap::new();
        for raw in text.lines() {
            let Some((field, value)) = parse_line(raw) else {
                continue;
            };
            map.entry(field).or_insert(value);
        }
        Fields(map)
    }

    pub fn get(&self, f: Field) -> Option<&str> {
        self.0.get(&f).map(String::as_str)
    }

    /// Newer values replace older ones: the developer's corrections on the
    /// thread win over the original pack.
    pub fn merge(&mut self, newer: &Fields) {
        for (field, value) in &newer.0 {
            if !value.trim().is_empty() {
                self.0.insert(*field, value.clone());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Labels longer than this are prose, not a field line.
const MAX_LABEL_CHARS: usize = 60;

/// One line → `(field, value)` when it is a recognised, non-empty field line.
fn parse_line(raw: &str) -> Option<(Field, String)> {
    let line = clean_spaces(raw);
    let line = line.trim();
    if line.starts_with('>') {
        return None;
    }
    // A table row as html2text draws it: `│ Label: │ value │`.
    let line = line.trim_matches(TABLE_BORDER).trim();
    let line = strip_bullet(line);
    let (label, value) = split_label(line)?;
    if label.chars().count() > MAX_LABEL_CHARS {
        return None;
    }
    let field = Field::from_label(label)?;
    let value = clean_value(value);
    if value.is_empty() {
        return None;
    }
    Some((field, value))
}

/// Cell separators of a table turned into text.
const TABLE_BORDER: [char; 2] = ['|', '│'];

/// Spaces as mail clients write them (NBSP, narrow NBSP, tabs, ideographic
/// space) become plain spaces; zero-width characters and a stray `\r` go.
fn clean_spaces(raw: &str) -> String {
    raw.chars()
        .filter_map(|c| match c {
            '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{3000}' | '\t' => Some(' '),
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\r' => None,
            c => Some(c),
        })
        .collect()
}

/// Drops a list marker: `- `, `* `, `• `, `· `, `1. `, `1) `.
fn strip_bullet(line: &str) -> &str {
    for bullet in ["- ", "* ", "• ", "· ", "– ", "◦ ", "▪ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return rest.trim_start();
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=2).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return rest.trim_start();
        }
    }
    line
}

/// Splits at the first colon (ASCII or full-width). Without a colon, a
/// two-cell table row (`Label | value`, or the `│` html2text draws) counts.
fn split_label(line: &str) -> Option<(&str, &str)> {
    if let Some(at) = line.find([':', '：']) {
        let colon_len = line[at..].chars().next().map_or(1, char::len_utf8);
        return Some((&line[..at], &line[at + colon_len..]));
    }
    let mut cells = line.split(TABLE_BORDER).map(str::trim);
    let (label, value) = (cells.next()?, cells.next()?);
    if cells.next().is_some() || label.is_empty() {
        return None;
    }
    Some((label, value))
}

/// Removes `(…)` groups: `Full Name (as per IC)` is still the name label.
fn strip_parenthetical(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut depth = 0usize;
    for c in label.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Lower case, bold/underline markers, dots, hyphens, apostrophes and extra
/// spaces gone, and a leading `No`/`No.` dropped (`No. KP` reads as `kp`).
fn normalise_label(part: &str) -> String {
    let mut key = String::with_capacity(part.len());
    for c in part.chars() {
        match c {
            '*' | '_' | '.' | '-' | '\'' | '’' | '#' => {}
            c if c.is_whitespace() => key.push(' '),
            c => key.extend(c.to_lowercase()),
        }
    }
    let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
    match key.strip_prefix("no ") {
        Some(rest) => rest.to_string(),
        None => key,
    }
}

/// The known labels, already normalised by [`normalise_label`].
fn synonym(key: &str) -> Option<Field> {
    let field = match key {
        "rujukan espa"
        | "espa reference"
        | "espa ref"
        | "espa ref no"
        | "espa reference no"
        | "espa reference number"
        | "espa"
        | "espa no"
        | "espa number"
        | "ruj espa"
        | "rujukan espa no" => Field::EspaRef,
        "turutan"
        | "signing order"
        | "order"
        | "turutan tandatangan"
        | "susunan"
        | "signing sequence"
        | "sequence"
        | "signee order"
        | "signer order"
        | "order no"
        | "turutan penandatangan" => Field::Order,
        "nama penuh" | "full name" | "nama" | "name" | "nama pemohon" | "applicant name"
        | "applicants name" | "nama penandatangan" | "signee name" | "signer name" => {
            Field::FullName
        }
        "jenis pengenalan"
        | "id type"
        | "jenis id"
        | "identification type"
        | "type of id"
        | "jenis dokumen pengenalan"
        | "jenis kad pengenalan" => Field::IdType,
        "pengenalan"
        | "id number"
        | "id no"
        | "id"
        | "ic"
        | "ic no"
        | "ic number"
        | "kp"
        | "mykad"
        | "mykad no"
        | "mykad number"
        | "nric"
        | "nric no"
        | "passport no"
        | "passport number"
        | "passport"
        | "pasport"
        | "mypr"
        | "mypr no"
        | "mypr number"
        | "identification number"
        | "identification no"
        | "pengenalan diri"
        | "kad pengenalan"
        | "ic passport no"
        | "ic passport" => Field::IdNumber,
        "warganegara" | "nationality" | "kewarganegaraan" | "citizenship" => Field::Nationality,
        "emel" | "email" | "email address" | "alamat emel" | "alamat email" | "mail" => {
            Field::Email
        }
        "telefon" | "phone" | "phone number" | "phone no" | "telephone" | "telephone no"
        | "telephone number" | "tel" | "mobile" | "mobile no" | "mobile number" | "handphone"
        | "hp" | "telefon bimbit" | "tel bimbit" | "contact number" | "contact no"
        | "nombor telefon" | "tel no" => Field::Phone,
        "peranan" | "role" | "signee role" | "peranan penandatangan" => Field::Role,
        "sebab" | "reason" | "alasan" | "sebab permohonan" | "reason for application" => {
            Field::Reason
        }
        _ => return None,
    };
    Some(field)
}

/// Trims a value and removes what mail clients add around it: bold markers,
/// table borders, a Markdown link `[text](url)` or `[text][1]`, a trailing
/// `<mailto:…>`, and the template's own hint `(MyKad | MyPR |
/// Pasport/Passport)` when it was copied along.
fn clean_value(value: &str) -> String {
    let mut v = value.trim_matches(|c: char| {
        c.is_whitespace() || TABLE_BORDER.contains(&c) || c == '*' || c == '_'
    });
    // `[text](url)` inline, or `[text][1]` as html2text writes links.
    if let Some(rest) = v.strip_prefix('[')
        && let Some(close) = rest.find(['(', '[']).and_then(|at| at.checked_sub(1))
        && rest[close..].starts_with(']')
        && (v.ends_with(')') || v.ends_with(']'))
    {
        v = rest[..close].trim();
    }
    if v.ends_with('>')
        && let Some(open) = v.rfind('<')
    {
        let before = v[..open].trim();
        v = if before.is_empty() {
            v[open + 1..v.len() - 1].trim()
        } else {
            before
        };
    }
    if v.ends_with(')')
        && let Some(open) = v.rfind('(')
        && v[open..].contains('|')
    {
        v = v[..open].trim();
    }
    v.strip_prefix("mailto:").unwrap_or(v).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_PACK: &str = "\
Rujukan eSPA / eSPA Reference: HDA-2026-000123
Turutan / Signing Order: 2
Nama Penuh / Full Name: Ali bin Abu
Jenis Pengenalan / ID Type: MyKad            (MyKad | MyPR | Pasport/Passport)
No. Pengenalan / ID Number: 900101-14-5673
Warganegara / Nationality: Malaysia
Emel / Email: ali@example.com
Telefon / Phone: +971501234567
Peranan / Role: Pembeli                      (Pembeli | Saksi | Tuan Tanah | Pemaju)
Sebab / Reason: LUAR_NEGARA                  (IDSAYA | LUAR_NEGARA | WARGA_ASING | OKU)
";

    fn spec_values() -> Vec<(Field, &'static str)> {
        vec![
            (Field::EspaRef, "HDA-2026-000123"),
            (Field::Order, "2"),
            (Field::FullName, "Ali bin Abu"),
            (Field::IdType, "MyKad"),
            (Field::IdNumber, "900101-14-5673"),
            (Field::Nationality, "Malaysia"),
            (Field::Email, "ali@example.com"),
            (Field::Phone, "+971501234567"),
            (Field::Role, "Pembeli"),
            (Field::Reason, "LUAR_NEGARA"),
        ]
    }

    #[test]
    fn spec_example_reads_every_field() {
        let f = Fields::parse(SPEC_PACK);
        for (field, value) in spec_values() {
            assert_eq!(f.get(field), Some(value), "{field:?}");
        }
        assert_eq!(f.0.len(), 10);
    }

    #[test]
    fn crlf_nbsp_tabs_and_zero_width_are_tolerated() {
        let text = SPEC_PACK
            .replace('\n', "\r\n")
            .replace(
                "Nama Penuh / Full Name: ",
                "Nama\u{00A0}Penuh\u{00A0}/ Full Name:\t\u{00A0}",
            )
            .replace("Emel / Email", "\u{FEFF}Emel / Email");
        let f = Fields::parse(&text);
        for (field, value) in spec_values() {
            assert_eq!(f.get(field), Some(value), "{field:?}");
        }
    }

    #[test]
    fn each_label_alone_is_recognised() {
        for field in Field::ALL {
            assert_eq!(
                Field::from_label(field.label_ms()),
                Some(field),
                "{field:?} ms"
            );
            assert_eq!(
                Field::from_label(field.label_en()),
                Some(field),
                "{field:?} en"
            );
            assert_eq!(
                Field::from_label(&field.label()),
                Some(field),
                "{field:?} both"
            );
        }
    }

    #[test]
    fn labels_and_synonyms() {
        let cases: &[(&str, Option<Field>)] = &[
            ("RUJUKAN ESPA", Some(Field::EspaRef)),
            ("eSPA Ref", Some(Field::EspaRef)),
            ("eSPA Ref. No.", Some(Field::EspaRef)),
            ("Order", Some(Field::Order)),
            ("signing   order", Some(Field::Order)),
            ("Turutan", Some(Field::Order)),
            ("Nama", Some(Field::FullName)),
            ("Name", Some(Field::FullName)),
            ("Full Name (as per IC)", Some(Field::FullName)),
            ("Jenis Pengenalan", Some(Field::IdType)),
            ("ID Type", Some(Field::IdType)),
            ("IC No", Some(Field::IdNumber)),
            ("IC No.", Some(Field::IdNumber)),
            ("No. KP", Some(Field::IdNumber)),
            ("No KP", Some(Field::IdNumber)),
            ("MyKad No", Some(Field::IdNumber)),
            ("No. Pengenalan", Some(Field::IdNumber)),
            ("Passport No.", Some(Field::IdNumber)),
            ("Pasport/Passport No", Some(Field::IdNumber)),
            ("Warganegara", Some(Field::Nationality)),
            ("Nationality", Some(Field::Nationality)),
            ("E-mel", Some(Field::Email)),
            ("E-mail", Some(Field::Email)),
            ("Email Address", Some(Field::Email)),
            ("No. Telefon", Some(Field::Phone)),
            ("Phone Number", Some(Field::Phone)),
            ("Mobile", Some(Field::Phone)),
            ("No. H/P", Some(Field::Phone)),
            ("No. Tel / H/P", Some(Field::Phone)),
            ("I/C No", Some(Field::IdNumber)),
            ("No. I/C", Some(Field::IdNumber)),
            ("No. HP", Some(Field::Phone)),
            ("Role", Some(Field::Role)),
            ("Peranan", Some(Field::Role)),
            ("Reason", Some(Field::Reason)),
            ("Sebab", Some(Field::Reason)),
            ("**Nama Penuh**", Some(Field::FullName)),
            // Parts that disagree, prose, and unknown labels name nothing.
            ("Nama / Email", None),
            ("Note", None),
            ("Subject", None),
            ("From", None),
            ("Nama Pemaju", None),
            ("Our Ref", None),
            ("Project", None),
            ("", None),
            ("/", None),
            ("No", None),
        ];
        for (label, want) in cases {
            assert_eq!(Field::from_label(label), *want, "{label:?}");
        }
    }

    #[test]
    fn line_forms() {
        let cases: &[(&str, Option<(Field, &str)>)] = &[
            ("Nama: Ali bin Abu", Some((Field::FullName, "Ali bin Abu"))),
            ("- Nama: Ali", Some((Field::FullName, "Ali"))),
            ("* Nama: Ali", Some((Field::FullName, "Ali"))),
            ("• Nama: Ali", Some((Field::FullName, "Ali"))),
            ("3. Nama: Ali", Some((Field::FullName, "Ali"))),
            ("3) Nama: Ali", Some((Field::FullName, "Ali"))),
            ("*Nama*: Ali", Some((Field::FullName, "Ali"))),
            (
                "**Nama Penuh / Full Name:** Ali",
                Some((Field::FullName, "Ali")),
            ),
            (
                "Nama: **Ali bin Abu**",
                Some((Field::FullName, "Ali bin Abu")),
            ),
            ("Nama：Ali", Some((Field::FullName, "Ali"))),
            ("Nama :   Ali   ", Some((Field::FullName, "Ali"))),
            ("   Nama: Ali", Some((Field::FullName, "Ali"))),
            (
                "Nama Penuh | Ali bin Abu",
                Some((Field::FullName, "Ali bin Abu")),
            ),
            (
                "│ Nama Penuh │ Ali bin Abu │",
                Some((Field::FullName, "Ali bin Abu")),
            ),
            (
                "Emel / Email: ali@example.com<mailto:ali@example.com>",
                Some((Field::Email, "ali@example.com")),
            ),
            (
                "Emel / Email: [ali@example.com](mailto:ali@example.com)",
                Some((Field::Email, "ali@example.com")),
            ),
            (
                "Email: <ali@example.com>",
                Some((Field::Email, "ali@example.com")),
            ),
            (
                "Email: mailto:ali@example.com",
                Some((Field::Email, "ali@example.com")),
            ),
            (
                "Emel / Email: [ali@example.com][1]",
                Some((Field::Email, "ali@example.com")),
            ),
            ("Nama: [Ali]", Some((Field::FullName, "[Ali]"))),
            (
                "Telefon: [+971501234567](tel:+971501234567)",
                Some((Field::Phone, "+971501234567")),
            ),
            ("Nama:", None),
            ("Nama:    ", None),
            ("> Nama: Ali", None),
            ("  > Nama: Ali", None),
            (">> Nama: Ali", None),
            ("Note: please call", None),
            ("https://example.com/x", None),
            ("1. Pemaju | Lim Holdings | lim@developer.my | idsaya", None),
            ("Nama Penuh | Ali | extra", None),
            (
                "│ Nama Penuh: │ Ali bin Abu │",
                Some((Field::FullName, "Ali bin Abu")),
            ),
            ("| Masa | 10:00 |", None),
            ("Just some prose without a colon", None),
        ];
        for (line, want) in cases {
            let got = parse_line(line);
            let got = got.as_ref().map(|(f, v)| (*f, v.as_str()));
            assert_eq!(got, *want, "{line:?}");
        }
    }

    #[test]
    fn first_occurrence_wins_and_quoted_lines_are_ignored() {
        let text = "\
Telefon / Phone: +60 12-345 6789
Nama:
Nama: Siti binti Ahmad

On Mon, 2 Mar 2026 at 10:00, RA <kpkt.retail@example.my> wrote:
> Telefon / Phone: +971501234567
> Nama Penuh / Full Name: Ali bin Abu

--
Regards,
Nama: Clerk Name
Email: clerk@developer.my
Tel: 03-1234 5678
";
        let f = Fields::parse(text);
        assert_eq!(f.get(Field::Phone), Some("+60 12-345 6789"));
        // An empty value does not block a later one.
        assert_eq!(f.get(Field::FullName), Some("Siti binti Ahmad"));
        // The signature fills only what the pack left out.
        assert_eq!(f.get(Field::Email), Some("clerk@developer.my"));
        assert_eq!(f.get(Field::IdNumber), None);
    }

    #[test]
    fn nothing_to_read() {
        assert!(Fields::parse("").is_empty());
        assert!(Fields::parse("Hello,\r\nPlease find attached.\r\nNote: urgent\r\n").is_empty());
        assert!(Fields::parse("> Nama: Ali\n> Emel: a@b.co\n").is_empty());
    }

    #[test]
    fn merge_newer_wins_and_keeps_the_rest() {
        let mut old = Fields::parse(SPEC_PACK);
        let newer = Fields::parse("Telefon / Phone: +6591234567\nNama: Ali bin Abu Bakar\n");
        old.merge(&newer);
        assert_eq!(old.get(Field::Phone), Some("+6591234567"));
        assert_eq!(old.get(Field::FullName), Some("Ali bin Abu Bakar"));
        assert_eq!(old.get(Field::Email), Some("ali@example.com"));
        let mut empty = Fields::default();
        empty.merge(&Fields::default());
        assert!(empty.is_empty());
        let blank = Fields(BTreeMap::from([(Field::Email, "  ".to_string())]));
        old.merge(&blank);
        assert_eq!(old.get(Field::Email), Some("ali@example.com"));
    }

    #[test]
    fn html_to_text_output_is_read() {
        let html = "<p><b>Nama Penuh / Full Name:</b>&nbsp;Ali bin Abu</p>\
                    <p><strong>Emel / Email</strong>: <a href=\"mailto:ali@example.com\">ali@example.com</a></p>\
                    <ul><li>Turutan / Signing Order: 2</li></ul>\
                    <table><tr><td>Peranan / Role</td><td>Pembeli</td></tr>\
                    <tr><td><b>Sebab / Reason:</b></td><td>OKU</td></tr></table>\
                    <blockquote><p>Telefon / Phone: +60123456789</p></blockquote>";
        let text = html2text::from_read(html.as_bytes(), 100).unwrap();
        let f = Fields::parse(&text);
        assert_eq!(f.get(Field::FullName), Some("Ali bin Abu"), "{text}");
        assert_eq!(f.get(Field::Email), Some("ali@example.com"), "{text}");
        assert_eq!(f.get(Field::Order), Some("2"), "{text}");
        assert_eq!(f.get(Field::Role), Some("Pembeli"), "{text}");
        assert_eq!(f.get(Field::Reason), Some("OKU"), "{text}");
        // html2text renders a blockquote with `> `: quoted, so ignored.
        assert_eq!(f.get(Field::Phone), None, "{text}");
    }

    #[test]
    fn serde_round_trip() {
        let f = Fields::parse(SPEC_PACK);
        let json = serde_json::to_string(&f).unwrap();
        let back: Fields = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
    }
}
