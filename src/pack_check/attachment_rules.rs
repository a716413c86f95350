//! The attachment rules of a pack: each attachment on its own (type,
//! size, content against name), then the set (form, LOA, one kind of ID).

use super::attachment::{self, Content, DocKind};
use super::{AttachmentMeta, Code, IdType, Limits, Problem};

/// Each attachment on its own, then the set: form, LOA, one kind of ID.
pub(super) fn check_attachments(
    attachments: &[AttachmentMeta],
    limits: &Limits,
    id_type: Option<IdType>,
    problems: &mut Vec<Problem>,
) -> Vec<Option<DocKind>> {
    let mut documents = Vec::with_capacity(attachments.len());
    // Every kind sent, faulty or not: a faulty form is named once, as faulty,
    // not again as missing.
    let mut sent: Vec<DocKind> = Vec::new();
    // The acceptable documents, for the same-file rule.
    let mut good: Vec<(DocKind, &AttachmentMeta)> = Vec::new();
    for a in attachments {
        let (kind, ok) = check_one(a, limits, problems);
        if let Some(kind) = kind {
            sent.push(kind);
            if ok {
                good.push((kind, a));
            }
        }
        documents.push(kind.filter(|_| ok));
    }
    check_same_files(&good, problems);

    if !sent.contains(&DocKind::ApplicationForm) {
        problems.push(Problem::new(Code::FormMissing, None));
    }
    let families: Vec<IdType> = [IdType::MyKad, IdType::Passport, IdType::MyPr]
        .into_iter()
        .filter(|f| sent.iter().any(|k| IdType::of_document(*k) == Some(*f)))
        .collect();
    match families.as_slice() {
        [] => problems.push(Problem::new(Code::IdDocMissing, None)),
        [family] if id_type.is_some_and(|t| t != *family) => problems.push(Problem::new(
            Code::IdDocMismatch,
            id_type.map(|t| t.as_str().to_string()),
        )),
        [IdType::MyKad] => {
            let has = |kinds: [DocKind; 2]| sent.iter().any(|k| kinds.contains(k));
            if !has([DocKind::MyKadFront, DocKind::MyKadBoth]) {
                problems.push(Problem::new(Code::MykadFrontMissing, None));
            }
            if !has([DocKind::MyKadBack, DocKind::MyKadBoth]) {
                problems.push(Problem::new(Code::MykadBackMissing, None));
            }
        }
        [_] => {}
        _ => problems.push(Problem::new(Code::IdDocMixed, None)),
    }
    if !sent.contains(&DocKind::Loa) {
        problems.push(Problem::new(Code::LoaMissing, None));
    }
    documents
}

/// One file sent as two documents: each is named once, by the first pair
/// that shares a digest. The same document twice (two copies of the form)
/// is harmless and not reported; the MyKad front and back being one scan
/// has its own code, since that is the slip a clerk makes (one side scanned,
/// attached twice).
fn check_same_files(good: &[(DocKind, &AttachmentMeta)], problems: &mut Vec<Problem>) {
    let mut reported: Vec<&str> = Vec::new();
    for (i, (kind, a)) in good.iter().enumerate() {
        if a.sha256.is_empty() || reported.contains(&a.sha256) {
            continue;
        }
        let Some((other_kind, other)) = good[i + 1..]
            .iter()
            .find(|(k, b)| b.sha256 == a.sha256 && k != kind)
        else {
            continue;
        };
        reported.push(a.sha256);
        let sides = [DocKind::MyKadFront, DocKind::MyKadBack];
        let code = if sides.contains(kind) && sides.contains(other_kind) {
            Code::MykadSidesSame
        } else {
            Code::DocumentsSameFile
        };
        let names = format!(
            "{}, {}",
            attachment::display_name(a.name),
            attachment::display_name(other.name)
        );
        problems.push(Problem::new(code, Some(names)));
    }
}

/// One attachment: its kind (when the name says) and whether it is
/// acceptable. Problems name the attachment by its display name.
fn check_one(
    a: &AttachmentMeta,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> (Option<DocKind>, bool) {
    let shown = || Some(attachment::display_name(a.name));
    if attachment::refused_by_name(a.name).is_some() {
        problems.push(Problem::new(Code::AttachmentTypeRefused, shown()));
        return (None, false);
    }
    if attachment::is_signature_image(a.name, a.head) {
        return (None, false);
    }
    let kind = attachment::kind_from_name(a.name);
    let before = problems.len();
    if a.size > limits.attachment_max {
        problems.push(Problem::new(Code::AttachmentTooLarge, shown()));
    }
    let declared = attachment::declared(a.name);
    if a.size == 0 || a.head.is_empty() {
        problems.push(Problem::new(Code::AttachmentEmpty, shown()));
    } else {
        match declared {
            None => problems.push(Problem::new(Code::AttachmentTypeNotAllowed, shown())),
            Some(d) if attachment::sniff(a.head) != d => {
                problems.push(Problem::new(Code::AttachmentTypeMismatch, shown()));
            }
            Some(_) => {}
        }
    }
    match kind {
        None => problems.push(Problem::new(Code::AttachmentUnclassified, shown())),
        Some(DocKind::ApplicationForm | DocKind::Loa)
            if declared.is_some_and(|d| d != Content::Pdf) =>
        {
            problems.push(Problem::new(Code::AttachmentNotPdf, shown()));
        }
        Some(_) => {}
    }
    (kind, problems.len() == before)
}
