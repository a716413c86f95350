//! Attachment file names as mail clients write them (plain, RFC 2231,
//! RFC 2047 encoded words, folded) come out as the safe display name the
//! core classifies: a tab or a line break inside one is a space.

use super::parse;
use crate::pack_check::attachment::{DocKind, kind_from_name};

/// The name the one attachment of a message gets, given its
/// Content-Disposition parameters.
fn name_of(disposition: &str) -> String {
    let raw = format!(
        "From: a@b.my\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
         --b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; {disposition}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n--b--\r\n"
    );
    let m = parse(raw.as_bytes());
    assert_eq!(m.attachments.len(), 1, "{disposition}");
    m.attachments[0].name.clone()
}

#[test]
fn tabs_and_line_breaks_in_names_become_spaces() {
    let cases = [
        ("filename=\"MyKad\tdepan.jpg\"", "MyKad depan.jpg"),
        ("filename*=UTF-8''MyKad%09depan.jpg", "MyKad depan.jpg"),
        ("filename*=UTF-8''MyKad%0D%0Adepan.jpg", "MyKad depan.jpg"),
        (
            "filename*0*=UTF-8''MyKad%0D%0A; filename*1=depan.jpg",
            "MyKad depan.jpg",
        ),
        (
            "filename=\"=?UTF-8?Q?MyKad=09depan.jpg?=\"",
            "MyKad depan.jpg",
        ),
        // "MyKad\r\ndepan.jpg" in base64.
        (
            "filename=\"=?UTF-8?B?TXlLYWQNCmRlcGFuLmpwZw==?=\"",
            "MyKad depan.jpg",
        ),
        // Folded across two lines: unfolding leaves the space.
        ("filename=\"MyKad\r\n depan.jpg\"", "MyKad depan.jpg"),
        // Other control characters are still dropped, not spaced.
        (
            "filename*=UTF-8''My%00Kad%1B%09depan.jpg",
            "MyKad depan.jpg",
        ),
    ];
    for (disposition, want) in cases {
        let got = name_of(disposition);
        assert_eq!(got, want, "{disposition}");
        assert_eq!(
            kind_from_name(&got),
            Some(DocKind::MyKadFront),
            "{disposition}"
        );
    }
}
