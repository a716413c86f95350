//! The reply reader against replies as real clients write them: a table of
//! plain-text replies ([`plain`]) and one of whole messages read through the
//! mailbox edge, HTML-only and format=flowed ([`mime`]). Each names the
//! first line a staff member wrote and the command it reads as; none may
//! read a word of the email it answers.

mod mime;
mod plain;

use super::*;
use crate::core::command::{self, Kind};

/// The STAFF-VERIFY email a reply answers, as its text part reads: full of
/// keywords, which must never count.
const OURS: &str = "Salam sejahtera,

Kes RA-2026-000123 telah diterima lengkap dan menunggu panggilan pengesahan.

Cara menjawab: balas e-mel ini (kekalkan subjek) dan tulis salah satu arahan berikut pada baris pertama.
  DISAHKAN         identiti penandatangan telah disahkan melalui telefon
  TIADA-JAWAPAN    panggilan tidak berjawab
Anda juga boleh menulis CATATAN diikuti nota, atau TOLAK diikuti sebabnya.

How to answer: reply to this email (keep the subject) and write one of these commands on the first line.
  VERIFIED         the signee's identity was verified by phone
  UNREACHABLE      the call was not answered
You may also write NOTE followed by a note, or REJECT followed by the reason.

-- 
Pihak Berkuasa Pendaftaran (RA) POS Digicert
Registration Authority (RA), POS Digicert
";

/// Words only [`OURS`] has: the own text must hold none of them.
const OURS_MARKERS: [&str; 3] = ["Cara menjawab", "How to answer", "Pihak Berkuasa"];

const SUBJECT: &str = "[RA-2026-000123] Panggilan pengesahan diperlukan / Verification call needed — Ali bin Abu (Pembeli)";

/// One reply of a table.
struct Reply {
    client: &'static str,
    text: String,
    /// The command line the sender wrote, `None` when they wrote nothing.
    line: Option<&'static str>,
    kind: Option<Kind>,
}

fn reply(client: &'static str, text: String, line: &'static str, kind: Kind) -> Reply {
    Reply {
        client,
        text,
        line: Some(line),
        kind: Some(kind),
    }
}

fn nothing(client: &'static str, text: String) -> Reply {
    Reply {
        client,
        text,
        line: None,
        kind: None,
    }
}

/// `text` quoted the way Gmail, Thunderbird and Apple Mail do: `> ` before
/// each line, `>` alone for an empty one.
fn gt(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn check(table: &[Reply]) {
    assert!(!table.is_empty());
    for r in table {
        let line = first_line(&r.text);
        assert_eq!(line.as_deref(), r.line, "{}: {:?}", r.client, r.text);
        let own = own_text(&r.text);
        for marker in OURS_MARKERS {
            assert!(!own.contains(marker), "{}: own text {own:?}", r.client);
        }
        if let (Some(line), Some(kind)) = (line, r.kind) {
            let parsed = command::parse(&line).map(|c| c.kind());
            assert_eq!(parsed, Ok(kind), "{}: {line:?}", r.client);
        }
    }
}

#[test]
fn the_tables_cover_the_clients() {
    assert!(plain::table().len() + mime::table().len() >= 25);
}

#[test]
fn supplements_read_only_the_developers_lines() {
    let cases = [
        "Telefon / Phone: +6012\n\nOn Tue, 1 Dec 2026 at 10:00, RA <ra@x.my> wrote:\n> Telefon / Phone: +86 1\n",
        "Telefon / Phone: +6012\nPada Sel, 1 Dis 2026 10:00, RA <ra@x.my> menulis:\nTelefon / Phone: +86 1\n",
        "Telefon / Phone: +6012\n-----Original Message-----\nFrom: RA\nTelefon / Phone: +86 1\n",
        "Telefon / Phone: +6012\n________________________________\nFrom: RA <ra@x.my>\nSent: Tuesday\nTelefon / Phone: +86 1\n",
        "Telefon / Phone: +6012\nFrom: RA <ra@x.my>\nSent: Tuesday\nTelefon / Phone: +86 1\n",
        "Telefon / Phone: +6012\n-- \nAhmad\nTelefon / Phone: +86 1\n",
        "> Telefon / Phone: +86 1\nTelefon / Phone: +6012\n",
        // Bottom-posted: the corrections below the quote count.
        "On Tue, 1 Dec 2026 at 10:00, RA <ra@x.my> wrote:\n> Telefon / Phone: +86 1\n\nTelefon / Phone: +6012\n",
        // A sign-off's block is the developer's signature, not a correction.
        "Telefon / Phone: +6012\n\nTerima kasih,\nSiti\nSeri Indah Sdn Bhd\nTel: +86 1\n",
        "Telefon / Phone: +6012\n\nSent from my iPhone\n",
    ];
    for text in cases {
        let own = own_text(text);
        assert!(own.contains("+6012"), "{text:?} → {own:?}");
        assert!(!own.contains("+86"), "{text:?} → {own:?}");
    }
}

#[test]
fn prose_like_a_header_or_a_sign_off_is_kept() {
    let own = own_text("From: the developer, corrected below\nEmel / Email: a@b.my\n");
    assert!(own.contains("a@b.my"), "{own:?}");
    // A greeting is not a sign-off, even one that could end an email.
    let own = own_text("Salam,\nTelefon / Phone: +6012\n");
    assert!(own.contains("+6012"), "{own:?}");
    let own = own_text("Salam,\nTerima kasih.\nTelefon / Phone: +6012\n");
    assert!(own.contains("+6012"), "{own:?}");
    // Many lines below "Thanks" are not a signature.
    let text = format!("Hi,\nThanks\n{}", "Telefon / Phone: +6012\n".repeat(7));
    assert!(own_text(&text).contains("+6012"));
}

#[test]
fn only_a_greeting_is_skipped_above_the_command() {
    for (text, line) in [
        ("Salam,\n\nDISAHKAN\n", "DISAHKAN"),
        ("Salam sejahtera.\nDISAHKAN\n", "DISAHKAN"),
        ("Assalamualaikum wbt.\nDISAHKAN\n", "DISAHKAN"),
        ("Tuan/Puan,\nTOLAK salah nama\n", "TOLAK salah nama"),
        ("Dear Sijil RA team,\nVERIFIED\n", "VERIFIED"),
        ("Hi all!\nVERIFIED\n", "VERIFIED"),
        ("Good morning Encik Razak,\nAPPROVED\n", "APPROVED"),
        // Sentences that start like a greeting are the sender's line.
        (
            "Puan Aina tidak menjawab\nVERIFIED\n",
            "Puan Aina tidak menjawab",
        ),
        ("Hi, not yet\nAPPROVED\n", "Hi, not yet"),
        ("Hi team\nAPPROVED\n", "Hi team"),
        (
            "Hello, can you check this before I approve?\nAPPROVED\n",
            "Hello, can you check this before I approve?",
        ),
    ] {
        assert_eq!(first_line(text).as_deref(), Some(line), "{text:?}");
    }
}

#[test]
fn an_attribution_is_not_read_into_the_command() {
    // "On …" starting an own line, with no "wrote:" after it, is prose.
    let text = "NOTE On Monday the buyer will call back\n\nOn Tue, 1 Dec 2026 at 10:00, RA <ra@x.my> wrote:\n> VERIFIED\n";
    assert_eq!(
        first_line(text).as_deref(),
        Some("NOTE On Monday the buyer will call back")
    );
    assert_eq!(
        first_line("On Monday\nVERIFIED\n").as_deref(),
        Some("On Monday")
    );
}
