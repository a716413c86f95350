//! Label parsing against the ways real packs write their field lines:
//! labels and synonyms in either language, odd spacing, quoted lines, the
//! text of HTML tables, merging a reply into what came before.

use super::*;
use crate::pack_check::tests::SPEC_PACK;

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
