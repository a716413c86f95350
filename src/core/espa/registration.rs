//! Reading an eSPA registration (SPEC §3) as developers write it, and
//! checking it: the `Label: value` lines (Malay or English labels), the
//! signee lines `order. role | name | email | route` under
//! `Penandatangan / Signees:` (`1.` or `1)`, extra spaces, tabs, a table
//! border), and exactly one PDF. The same readers serve a correction on the
//! eSPA thread, where the lines and the PDF are each optional.

use std::collections::BTreeSet;

use super::problems::{EspaCode, EspaProblem};
use super::{EspaDocument, Route, Signee};
use crate::core::message::{Attachment, Inbound};
use crate::pack_check::attachment::{self, Content};
use crate::pack_check::{self, SigneeRole};

/// What a registration's text says, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// As written (the subject's, when the body names none).
    pub reference: Option<String>,
    pub project: Option<String>,
    /// The signee lines, each as written (spaces tidied).
    pub signee_lines: Vec<String>,
}

/// The longest label read: past it a colon is prose.
const MAX_LABEL_CHARS: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Reference,
    Project,
    Signees,
}

/// Reads `text` (an HTML-only body was already made text by the edge).
/// `subject` gives the reference when the body has no reference line.
pub fn read(text: &str, subject: &str) -> Written {
    let mut written = Written::default();
    // Inside the signee list: after its label, until prose follows (blank
    // lines are skipped: an HTML body's paragraphs become them).
    let mut in_list = false;
    let mut unlabelled = Vec::new();
    for raw in text.lines() {
        let line = tidy(raw);
        if line.starts_with('>') {
            in_list = false;
            continue;
        }
        if let Some((label, value)) = labelled(&line) {
            in_list = label == Label::Signees;
            let slot = match label {
                Label::Reference => &mut written.reference,
                Label::Project => &mut written.project,
                Label::Signees => {
                    if is_signee_line(&value) {
                        written.signee_lines.push(value);
                    }
                    continue;
                }
            };
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value);
            }
            continue;
        }
        if in_list {
            if is_signee_line(&line) {
                written.signee_lines.push(line);
            } else if !line.is_empty() {
                in_list = false;
            }
        } else if starts_with_order(&line) && is_signee_line(&line) {
            unlabelled.push(line);
        }
    }
    // Without the label, numbered lines with cells are still the list.
    if written.signee_lines.is_empty() {
        written.signee_lines = unlabelled;
    }
    if written.reference.is_none() {
        written.reference = reference_in_subject(subject);
    }
    written
}

/// The reference after `Daftar eSPA` / `eSPA Registration` in a subject.
fn reference_in_subject(subject: &str) -> Option<String> {
    subject
        .split_whitespace()
        .find_map(pack_check::espa_ref)
        .filter(|r| r.bytes().any(|b| b.is_ascii_digit()))
}

/// Spaces as mail clients write them become plain spaces; zero-width
/// characters go; a table border or list bullet in front is dropped.
fn tidy(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .filter_map(|c| match c {
            '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{3000}' | '\t' => Some(' '),
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\r' => None,
            c => Some(c),
        })
        .collect();
    let mut line = clean.trim();
    for bullet in ["- ", "* ", "• ", "· ", "– ", "◦ ", "▪ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            line = rest.trim_start();
        }
    }
    line.trim_start_matches(['|', '│']).trim().to_string()
}

/// A `Label: value` line with one of the registration's labels.
fn labelled(line: &str) -> Option<(Label, String)> {
    let at = line.find([':', '：'])?;
    let (label, rest) = line.split_at(at);
    if label.chars().count() > MAX_LABEL_CHARS || label.contains('|') {
        return None;
    }
    let colon = rest.chars().next().map_or(1, char::len_utf8);
    let value = rest[colon..]
        .trim_matches(|c: char| c.is_whitespace() || c == '*' || c == '_')
        .to_string();
    let which = label.split('/').find_map(|part| {
        let key = normalise(part);
        match key.as_str() {
            "rujukan espa"
            | "espa reference"
            | "espa ref"
            | "espa"
            | "espa no"
            | "espa reference no"
            | "espa reference number"
            | "ruj espa" => Some(Label::Reference),
            "projek" | "project" | "nama projek" | "project name" => Some(Label::Project),
            "penandatangan"
            | "signees"
            | "signee"
            | "signers"
            | "signatories"
            | "senarai penandatangan"
            | "list of signees" => Some(Label::Signees),
            _ => None,
        }
    })?;
    Some((which, value))
}

/// Lower case; bold markers, dots, dashes and extra spaces gone; a leading
/// `No.` dropped.
fn normalise(part: &str) -> String {
    let key: String = part
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '.' | '-' | '\'' | '#'))
        .flat_map(char::to_lowercase)
        .collect();
    let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
    key.strip_prefix("no ").map(str::to_string).unwrap_or(key)
}

fn is_signee_line(line: &str) -> bool {
    line.contains(['|', '│'])
}

fn starts_with_order(line: &str) -> bool {
    line.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// Reads each signee line and checks the list: orders 1..n without a gap
/// or a repeat, known roles, valid and distinct addresses, a known route.
/// Every signee starts `waiting`.
pub fn signees(lines: &[String]) -> (Vec<Signee>, Vec<EspaProblem>) {
    let mut problems = Vec::new();
    if lines.is_empty() {
        problems.push(EspaProblem::new(EspaCode::SigneesMissing, None));
        return (Vec::new(), problems);
    }
    let mut signees: Vec<Signee> = Vec::new();
    let mut orders: Vec<u32> = Vec::new();
    for line in lines {
        let Some((order, cells)) = split_line(line) else {
            problems.push(EspaProblem::about(EspaCode::SigneeLineInvalid, line));
            continue;
        };
        orders.push(order);
        let role = SigneeRole::parse(cells[0]);
        let name = cells[1].split_whitespace().collect::<Vec<_>>().join(" ");
        let name_ok = (2..=150).contains(&name.chars().count())
            && name.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && !name.chars().any(char::is_control);
        let email = pack_check::email(bare_address(cells[2]));
        let route = match cells.get(3).map(|r| r.trim()) {
            None | Some("") => Some(Route::Idsaya),
            Some(r) => Route::parse(r),
        };
        let before = problems.len();
        if role.is_none() {
            problems.push(EspaProblem::about(EspaCode::SigneeRoleInvalid, order));
        }
        if !name_ok {
            problems.push(EspaProblem::about(EspaCode::SigneeNameInvalid, order));
        }
        if email.is_none() {
            problems.push(EspaProblem::about(EspaCode::SigneeEmailInvalid, order));
        }
        if route.is_none() {
            problems.push(EspaProblem::about(EspaCode::SigneeRouteInvalid, order));
        }
        if let (Some(role), Some(email), Some(route)) = (role, email, route)
            && problems.len() == before
        {
            signees.push(Signee::registered(order, role, name, email, route));
        }
    }
    let mut seen = BTreeSet::new();
    for order in &orders {
        if !seen.insert(*order)
            && !problems
                .iter()
                .any(|p| is_about(p, EspaCode::OrderRepeated, order))
        {
            problems.push(EspaProblem::about(EspaCode::OrderRepeated, order));
        }
    }
    if let Some(&last) = seen.iter().next_back() {
        for missing in (1..last).filter(|n| !seen.contains(n)) {
            problems.push(EspaProblem::about(EspaCode::OrderGap, missing));
        }
    }
    let mut addresses = BTreeSet::new();
    for s in &signees {
        if !addresses.insert(s.email.as_str())
            && !problems
                .iter()
                .any(|p| is_about(p, EspaCode::SigneeEmailRepeated, &s.email))
        {
            problems.push(EspaProblem::about(EspaCode::SigneeEmailRepeated, &s.email));
        }
    }
    signees.sort_by_key(|s| s.order);
    (signees, problems)
}

fn is_about(p: &EspaProblem, code: EspaCode, about: &impl ToString) -> bool {
    p.code == code && p.about.as_deref() == Some(about.to_string().as_str())
}

/// `1. role | name | email | route` → the order and its three or four
/// cells. The order may be written `1.`, `1)`, `1:`, `1 -` or bare.
fn split_line(line: &str) -> Option<(u32, Vec<&str>)> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&digits) {
        return None;
    }
    let order: u32 = line[..digits].parse().ok().filter(|n| *n >= 1)?;
    let rest = line[digits..].trim_start();
    let rest = rest
        .strip_prefix(['.', ')', ':', '-'])
        .unwrap_or(rest)
        .trim_start();
    let mut cells: Vec<&str> = rest.split(['|', '│']).map(str::trim).collect();
    // A table row's closing border.
    while cells.last().is_some_and(|c| c.is_empty()) && cells.len() > 3 {
        cells.pop();
    }
    if cells.first().is_some_and(|c| c.is_empty()) {
        cells.remove(0);
    }
    (3..=4).contains(&cells.len()).then_some((order, cells))
}

/// `Name <a@b>`, `<a@b>`, `mailto:a@b` or `a@b`, as `a@b`.
fn bare_address(cell: &str) -> &str {
    let cell = cell.trim();
    let cell = match (cell.rfind('<'), cell.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => cell,
    };
    let cell = cell.trim();
    cell.strip_prefix("mailto:").unwrap_or(cell).trim()
}

/// The eSPA document: exactly one attachment (inline signature pictures
/// aside), a real PDF by name and magic bytes, within the size limit.
/// Returns its index in the message and what is recorded of it.
pub fn document(
    msg: &Inbound,
    attachment_max: u64,
) -> Result<(usize, EspaDocument), Vec<EspaProblem>> {
    if msg.oversize {
        return Err(vec![EspaProblem::new(EspaCode::MessageTooLarge, None)]);
    }
    let files: Vec<(usize, &Attachment)> = msg
        .attachments
        .iter()
        .enumerate()
        .filter(|(_, a)| !attachment::is_signature_image(&a.name, &a.bytes))
        .collect();
    let count = files.len() + msg.attachments_unread;
    let (index, a) = match files.as_slice() {
        [] => return Err(vec![EspaProblem::new(EspaCode::PdfMissing, None)]),
        [one] if msg.attachments_unread == 0 => *one,
        _ => return Err(vec![EspaProblem::about(EspaCode::PdfTooMany, count)]),
    };
    let shown = attachment::display_name(&a.name);
    let mut problems = Vec::new();
    if a.bytes.is_empty() {
        problems.push(EspaProblem::about(EspaCode::AttachmentEmpty, &shown));
    } else if attachment::declared(&a.name) != Some(Content::Pdf)
        || attachment::refused_by_name(&a.name).is_some()
        || attachment::sniff(&a.bytes) != Content::Pdf
    {
        problems.push(EspaProblem::about(EspaCode::AttachmentNotPdf, &shown));
    }
    if a.bytes.len() as u64 > attachment_max {
        problems.push(EspaProblem::about(EspaCode::AttachmentTooLarge, &shown));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((
        index,
        EspaDocument {
            name: shown,
            size: a.bytes.len() as u64,
            sha256: a.sha256.clone(),
        },
    ))
}

/// The reference line checked: present and like `HDA-2026-000123`.
pub fn reference(written: &Written) -> Result<String, EspaProblem> {
    let raw = written
        .reference
        .as_deref()
        .ok_or_else(|| EspaProblem::new(EspaCode::EspaRefMissing, None))?;
    pack_check::espa_ref(raw).ok_or_else(|| EspaProblem::about(EspaCode::EspaRefInvalid, raw))
}

/// The project line checked: present, spaces collapsed.
pub fn project(written: &Written) -> Result<String, EspaProblem> {
    written
        .project
        .as_deref()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| EspaProblem::new(EspaCode::ProjectMissing, None))
}
