//! The command parser against lines as staff type them and as their
//! clients render them.

use super::*;

fn reason(s: &str) -> String {
    s.to_string()
}

#[test]
fn every_spelling_reads() {
    let table: Vec<(&str, Command)> = vec![
        ("VERIFIED", Command::Verified),
        ("verified", Command::Verified),
        ("Verified.", Command::Verified),
        ("Verified!", Command::Verified),
        ("*VERIFIED*", Command::Verified),
        ("**Verified**", Command::Verified),
        ("  VERIFIED  ", Command::Verified),
        ("\u{00A0}VERIFIED\u{00A0}", Command::Verified),
        ("\u{FEFF}VERIFIED", Command::Verified),
        ("DISAHKAN", Command::Verified),
        ("Disahkan.", Command::Verified),
        ("UNREACHABLE", Command::Unreachable),
        ("TIADA-JAWAPAN", Command::Unreachable),
        ("tiada jawapan", Command::Unreachable),
        ("Tiada_Jawapan.", Command::Unreachable),
        ("APPROVED", Command::Approved),
        ("Lulus", Command::Approved),
        ("QC-PASS", Command::QcPass),
        ("qc pass", Command::QcPass),
        ("QC_PASS", Command::QcPass),
        ("QC  -  PASS", Command::QcPass),
        ("QC\u{2011}PASS", Command::QcPass),
        ("QC\u{2013}PASS", Command::QcPass),
        ("QC-LULUS", Command::QcPass),
        ("qc lulus!", Command::QcPass),
        ("RESET-PIN", Command::ResetPin),
        ("Reset PIN", Command::ResetPin),
        ("reset_pin.", Command::ResetPin),
        ("RESEND", Command::Resend),
        ("Resend.", Command::Resend),
        ("STATUS", Command::Status),
        ("status?", Command::Status),
        ("WITHDRAW", Command::Withdraw),
        ("Batal", Command::Withdraw),
        (
            "REJECT nama tidak sepadan dengan MyKad",
            Command::Reject {
                reason: reason("nama tidak sepadan dengan MyKad"),
            },
        ),
        (
            "REJECT: name does not match the MyKad.",
            Command::Reject {
                reason: reason("name does not match the MyKad."),
            },
        ),
        (
            "Reject - duplicate application",
            Command::Reject {
                reason: reason("duplicate application"),
            },
        ),
        (
            "TOLAK\u{00A0}\u{00A0}salinan MyKad   tidak jelas ",
            Command::Reject {
                reason: reason("salinan MyKad tidak jelas"),
            },
        ),
        (
            "*REJECT* wrong signee",
            Command::Reject {
                reason: reason("wrong signee"),
            },
        ),
        (
            "*REJECT wrong signee*",
            Command::Reject {
                reason: reason("wrong signee"),
            },
        ),
        (
            "QC-GAGAL gambar kabur",
            Command::QcFail {
                reason: reason("gambar kabur"),
            },
        ),
        (
            "qc fail: selfie does not match",
            Command::QcFail {
                reason: reason("selfie does not match"),
            },
        ),
        (
            "QC_FAIL photo blurred",
            Command::QcFail {
                reason: reason("photo blurred"),
            },
        ),
        (
            "NOTE called the buyer, will send a clearer scan",
            Command::Note {
                text: reason("called the buyer, will send a clearer scan"),
            },
        ),
        (
            "Catatan: pembeli di luar negara sehingga Januari",
            Command::Note {
                text: reason("pembeli di luar negara sehingga Januari"),
            },
        ),
    ];
    for (line, want) in table {
        assert_eq!(parse(line), Ok(want), "{line:?}");
    }
}

#[test]
fn text_is_required_where_it_is_taken() {
    for (line, kind) in [
        ("REJECT", Kind::Reject),
        ("reject.", Kind::Reject),
        ("REJECT:", Kind::Reject),
        ("*TOLAK*", Kind::Reject),
        ("QC-FAIL", Kind::QcFail),
        ("QC-GAGAL -", Kind::QcFail),
        ("NOTE", Kind::Note),
        ("CATATAN :", Kind::Note),
    ] {
        assert_eq!(
            parse(line),
            Err(ParseError::MissingArgument(kind)),
            "{line:?}"
        );
    }
}

#[test]
fn words_after_a_keyword_without_text_are_refused() {
    for (line, kind) in [
        ("Approved by Encik Ali but please wait", Kind::Approved),
        ("VERIFIED - called him at 3pm", Kind::Verified),
        ("Verified, thanks", Kind::Verified),
        ("STATUS RA-2026-000001", Kind::Status),
        ("QC-PASS :)", Kind::QcPass),
    ] {
        assert_eq!(
            parse(line),
            Err(ParseError::UnexpectedText(kind)),
            "{line:?}"
        );
    }
}

#[test]
fn other_words_are_unknown() {
    for (line, word) in [
        ("Salam,", "Salam"),
        ("VERIFIEDX", "VERIFIEDX"),
        ("Resending now", "Resending"),
        ("Rejected: bad scan", "Rejected"),
        ("QC", "QC"),
        ("QC-PASSED", "QC-PASSED"),
        ("QCPASS", "QCPASS"),
        ("LULUSKAN", "LULUSKAN"),
        ("Please verify this one", "Please"),
        ("", ""),
        ("***", ""),
        ("Ç'est vérifié", "Ç'est"),
    ] {
        assert_eq!(
            parse(line),
            Err(ParseError::Unknown(word.to_string())),
            "{line:?}"
        );
    }
    let long = "x".repeat(500);
    match parse(&long) {
        Err(ParseError::Unknown(w)) => assert_eq!(w.chars().count(), MAX_WORD_CHARS),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_keyword_and_alias_reads_back_as_its_command() {
    assert_eq!(all().len(), 11);
    for &kind in all() {
        for spelling in kind.spellings() {
            let line = if kind.takes_text() {
                format!("{spelling} some text")
            } else {
                spelling.to_string()
            };
            let command = parse(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(command.kind(), kind, "{line:?}");
            assert_eq!(command.keyword(), kind.keyword());
            assert_eq!(command.text(), kind.takes_text().then_some("some text"));
            assert_eq!(
                parse(&line.to_lowercase()).map(|c| c.kind()),
                Ok(kind),
                "{line:?}"
            );
        }
    }
    assert_eq!(Kind::QcFail.to_string(), "QC-FAIL");
    assert_eq!(Kind::Unreachable.malay(), Some("TIADA-JAWAPAN"));
    assert_eq!(Kind::Status.malay(), None);
}
