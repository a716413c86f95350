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
mod tests;
