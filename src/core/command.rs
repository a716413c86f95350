//! A staff (or owning developer's) command read from the first line of a
//! reply's own text (SPEC §5): its keyword, in English or Malay, any case,
//! and the text after it where it takes one (`REJECT <reason>`).
//!
//! The line is read as people type it and as their clients render it:
//! `REJECT: nama tidak sepadan`, `Verified.`, `*APPROVED*` (bold in a plain
//! text part), non-breaking spaces, `QC PASS` or `QC_PASS` for `QC-PASS`.
//! Anything else after a keyword that takes no text is refused rather than
//! ignored: "Approved by Encik Ali but wait" must not approve.

use std::fmt;

#[cfg(test)]
mod tests;

/// A command, with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Verified,
    Unreachable,
    Approved,
    QcPass,
    QcFail { reason: String },
    Reject { reason: String },
    ResetPin,
    Resend,
    Status,
    Note { text: String },
    Withdraw,
}

/// Which command, without its text: for "which commands are allowed"
/// lists and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Verified,
    Unreachable,
    Approved,
    QcPass,
    QcFail,
    Reject,
    ResetPin,
    Resend,
    Status,
    Note,
    Withdraw,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No keyword: the line's first word as written (cut to
    /// [`MAX_WORD_CHARS`]; empty for a line with no word).
    Unknown(String),
    /// `REJECT`, `QC-FAIL` or `NOTE` without its text.
    MissingArgument(Kind),
    /// Words after a keyword that takes none (`VERIFIED but call him`).
    UnexpectedText(Kind),
}

/// The longest [`ParseError::Unknown`] word kept, so an error message
/// never quotes a whole paragraph back.
pub const MAX_WORD_CHARS: usize = 40;

impl Kind {
    /// Every command, in SPEC §5's order.
    pub const ALL: [Kind; 11] = [
        Kind::Verified,
        Kind::Unreachable,
        Kind::Approved,
        Kind::QcPass,
        Kind::QcFail,
        Kind::Reject,
        Kind::ResetPin,
        Kind::Resend,
        Kind::Status,
        Kind::Note,
        Kind::Withdraw,
    ];

    /// The canonical (English) keyword, as messages name it.
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Verified => "VERIFIED",
            Kind::Unreachable => "UNREACHABLE",
            Kind::Approved => "APPROVED",
            Kind::QcPass => "QC-PASS",
            Kind::QcFail => "QC-FAIL",
            Kind::Reject => "REJECT",
            Kind::ResetPin => "RESET-PIN",
            Kind::Resend => "RESEND",
            Kind::Status => "STATUS",
            Kind::Note => "NOTE",
            Kind::Withdraw => "WITHDRAW",
        }
    }

    /// The Malay alias, where SPEC §5 gives one.
    pub fn malay(self) -> Option<&'static str> {
        match self {
            Kind::Verified => Some("DISAHKAN"),
            Kind::Unreachable => Some("TIADA-JAWAPAN"),
            Kind::Approved => Some("LULUS"),
            Kind::QcPass => Some("QC-LULUS"),
            Kind::QcFail => Some("QC-GAGAL"),
            Kind::Reject => Some("TOLAK"),
            Kind::Note => Some("CATATAN"),
            Kind::Withdraw => Some("BATAL"),
            Kind::ResetPin | Kind::Resend | Kind::Status => None,
        }
    }

    /// Whether text follows the keyword (a reason, a note).
    pub fn takes_text(self) -> bool {
        matches!(self, Kind::QcFail | Kind::Reject | Kind::Note)
    }

    /// The spellings that name this command: the keyword and its alias,
    /// each as its words (`QC-PASS` is `QC` then `PASS`).
    fn spellings(self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.keyword()).chain(self.malay())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Command {
    /// Which command this is.
    pub fn kind(&self) -> Kind {
        match self {
            Command::Verified => Kind::Verified,
            Command::Unreachable => Kind::Unreachable,
            Command::Approved => Kind::Approved,
            Command::QcPass => Kind::QcPass,
            Command::QcFail { .. } => Kind::QcFail,
            Command::Reject { .. } => Kind::Reject,
            Command::ResetPin => Kind::ResetPin,
            Command::Resend => Kind::Resend,
            Command::Status => Kind::Status,
            Command::Note { .. } => Kind::Note,
            Command::Withdraw => Kind::Withdraw,
        }
    }

    /// The canonical keyword, as messages name it.
    pub fn keyword(&self) -> &'static str {
        self.kind().keyword()
    }

    /// The reason or note, for the commands that take one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Command::QcFail { reason } | Command::Reject { reason } => Some(reason),
            Command::Note { text } => Some(text),
            _ => None,
        }
    }

    fn with_text(kind: Kind, text: String) -> Command {
        match kind {
            Kind::Verified => Command::Verified,
            Kind::Unreachable => Command::Unreachable,
            Kind::Approved => Command::Approved,
            Kind::QcPass => Command::QcPass,
            Kind::QcFail => Command::QcFail { reason: text },
            Kind::Reject => Command::Reject { reason: text },
            Kind::ResetPin => Command::ResetPin,
            Kind::Resend => Command::Resend,
            Kind::Status => Command::Status,
            Kind::Note => Command::Note { text },
            Kind::Withdraw => Command::Withdraw,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(word) => write!(f, "unknown command {word:?}"),
            ParseError::MissingArgument(kind) => write!(f, "{kind} needs a reason or text"),
            ParseError::UnexpectedText(kind) => write!(f, "{kind} takes nothing after it"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Every command, for "which commands are allowed" texts.
pub fn all() -> &'static [Kind] {
    &Kind::ALL
}

/// Reads the command on `line` (a reply's first line, see
/// [`crate::core::reply::first_line`]).
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let line = plain(line);
    // Bold or italic markers a plain text part makes of `<b>`: `*VERIFIED*`.
    let body = line.trim_start_matches(|c: char| c == ' ' || is_marker(c));
    let bold = body.len() < line.trim_start().len();
    let Some((kind, rest)) = Kind::ALL.iter().find_map(|&kind| {
        kind.spellings()
            .find_map(|s| after(body, s))
            .map(|rest| (kind, rest))
    }) else {
        return Err(ParseError::Unknown(first_word(body)));
    };
    let mut text = rest.trim_start_matches(|c: char| c == ' ' || is_marker(c) || is_separator(c));
    if bold {
        text = text.trim_end_matches(|c: char| c == ' ' || is_marker(c));
    }
    let text = text.trim();
    if !kind.takes_text() {
        if text
            .chars()
            .all(|c| is_separator(c) || c == '?' || is_marker(c))
        {
            return Ok(Command::with_text(kind, String::new()));
        }
        return Err(ParseError::UnexpectedText(kind));
    }
    if text.chars().all(|c| is_separator(c) || is_marker(c)) {
        return Err(ParseError::MissingArgument(kind));
    }
    Ok(Command::with_text(kind, text.to_string()))
}

/// What follows `spelling` at the start of `body`, when it stands there as
/// whole words, any case; the dash between its words may be written as a
/// space, an underscore or a dash of any kind.
fn after<'a>(body: &'a str, spelling: &str) -> Option<&'a str> {
    let mut rest = body;
    for (i, word) in spelling.split('-').enumerate() {
        if i > 0 {
            let joined = rest.trim_start_matches(|c: char| c == ' ' || c == '_' || is_dash(c));
            if joined.len() == rest.len() {
                return None;
            }
            rest = joined;
        }
        let head = rest.get(..word.len())?;
        if !head.eq_ignore_ascii_case(word) {
            return None;
        }
        rest = &rest[word.len()..];
    }
    // A whole word: `VERIFIEDX` or `RESENDING` is not a keyword.
    match rest.chars().next() {
        Some(c) if c.is_alphanumeric() => None,
        _ => Some(rest),
    }
}

/// The line's first word, without its trailing punctuation, for an error.
fn first_word(body: &str) -> String {
    body.split(' ')
        .next()
        .unwrap_or("")
        .trim_end_matches(|c: char| is_separator(c) || c == '?' || is_marker(c))
        .chars()
        .take(MAX_WORD_CHARS)
        .collect()
}

/// `line` with every space (non-breaking, tabs) a plain one, the invisible
/// marks dropped and runs of spaces made one.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
        ) {
            continue;
        }
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else {
            c
        };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out.trim().to_string()
}

fn is_marker(c: char) -> bool {
    matches!(c, '*' | '_' | '~')
}

/// What may stand between a keyword and its text (`REJECT: reason`,
/// `REJECT - reason`) or alone after it (`VERIFIED.`).
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | ':' | ',' | '.' | ';' | '!') || is_dash(c)
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}
