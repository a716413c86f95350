//! Any bytes through the SPEC §4 pack check: the message's field lines and
//! attachments, and the bytes as a text body of field lines by themselves.
//! No panic, and the check's promises hold: an application only without
//! problems, one document verdict per attachment.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use sijil::pack_check::fields::Fields;
use sijil::pack_check::{self, AttachmentMeta, Limits, MessageMeta};

/// A fixed day: MyKad birth dates are read against it.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
}

fn check(fields: &Fields, attachments: &[AttachmentMeta<'_>], message: MessageMeta) {
    let checked = pack_check::check(fields, attachments, message, &Limits::default(), today());
    assert_eq!(checked.application.is_some(), checked.problems.is_empty());
    assert_eq!(checked.documents.len(), attachments.len());
    for p in &checked.problems {
        assert!(!p.ms().is_empty() && !p.en().is_empty());
    }
}

fuzz_target!(|raw: &[u8]| {
    let msg = sijil::edge::inbound::parse(raw);
    let metas: Vec<AttachmentMeta<'_>> = msg
        .attachments
        .iter()
        .map(|a| AttachmentMeta {
            name: &a.name,
            size: a.bytes.len() as u64,
            head: &a.bytes[..a.bytes.len().min(8192)],
            sha256: &a.sha256,
        })
        .collect();
    let message = MessageMeta {
        size: msg.size,
        attachments_unread: msg.attachments_unread,
    };
    check(&Fields::parse(&msg.text), &metas, message);

    let text = String::from_utf8_lossy(raw);
    let mut fields = Fields::parse(&text);
    let bare = MessageMeta {
        size: raw.len() as u64,
        attachments_unread: 0,
    };
    check(&fields, &[], bare);
    // A supplement's lines merged over the pack's, as a reply does.
    fields.merge(&Fields::parse(&sijil::core::reply::own_text(&msg.text)));
    check(&fields, &metas, message);
});
