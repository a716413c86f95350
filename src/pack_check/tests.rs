//! The check as a whole: the SPEC pack, messy real packs, and each rule
//! seen through `check()`.

use super::fields::Field;
use super::*;

/// The pack of SPEC §4, as the SPEC writes it (shared with the label tests).
pub(super) const SPEC_PACK: &str = "\
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

/// Field lines to change in the SPEC pack (an empty value removes one).
type Changes = Vec<(Field, &'static str)>;
type Documents = Vec<Option<DocKind>>;

const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
const PNG: &[u8] = &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
}

fn att(name: &'static str, head: &'static [u8]) -> AttachmentMeta<'static> {
    AttachmentMeta {
        name,
        size: 50_000,
        head,
        // Distinct names stand for distinct files here; a test of the
        // same-file rules sets the digest itself.
        sha256: name,
    }
}

fn spec_attachments() -> Vec<AttachmentMeta<'static>> {
    vec![
        att("Borang Permohonan PDF Signing Certificate (AATL).pdf", PDF),
        att("MyKad depan.jpg", JPEG),
        att("MyKad belakang.png", PNG),
        att("LOA.pdf", PDF),
    ]
}

/// The SPEC pack with `changes` applied (an empty value removes the line).
fn fields_with(changes: &[(Field, &str)]) -> Fields {
    let mut f = Fields::parse(SPEC_PACK);
    for (field, value) in changes {
        if value.is_empty() {
            f.0.remove(field);
        } else {
            f.0.insert(*field, value.to_string());
        }
    }
    f
}

fn run(fields: &Fields, attachments: &[AttachmentMeta]) -> Checked {
    check(
        fields,
        attachments,
        sized(200_000),
        &Limits::default(),
        today(),
    )
}

/// Every code named, the problems' then the notices'.
fn codes(c: &Checked) -> Vec<Code> {
    c.problems
        .iter()
        .chain(&c.notices)
        .map(|p| p.code)
        .collect()
}

#[test]
fn spec_example_passes() {
    let c = run(&Fields::parse(SPEC_PACK), &spec_attachments());
    assert_eq!(c.problems, vec![]);
    let app = c.application.unwrap();
    assert_eq!(
        app,
        Application {
            espa_ref: "HDA-2026-000123".into(),
            order: 2,
            full_name: "Ali bin Abu".into(),
            id_type: IdType::MyKad,
            id_number: "900101-14-5673".into(),
            nationality: "Malaysia".into(),
            malaysian: true,
            permanent_resident: false,
            email: "ali@example.com".into(),
            phone: "+971501234567".into(),
            role: SigneeRole::Pembeli,
            reason: Reason::LuarNegara,
        }
    );
    assert_eq!(
        c.documents,
        vec![
            Some(DocKind::ApplicationForm),
            Some(DocKind::MyKadFront),
            Some(DocKind::MyKadBack),
            Some(DocKind::Loa)
        ]
    );
}

#[test]
fn messy_real_world_pack_passes() {
    let text = "Dear RA,\r\n\r\nPlease process:\r\n\r\n\
        *Rujukan eSPA*: hda-2026-000123\r\n\
        - Signing Order :\u{00A0}02\r\n\
        - Nama: Ali  bin   Abu\r\n\
        - ID Type: my kad\r\n\
        - IC No.: 900101 14 5673\r\n\
        - Warganegara: WARGANEGARA MALAYSIA\r\n\
        - E-mel: Ali@Example.com<mailto:Ali@Example.com>\r\n\
        - No. H/P: +971 50-123 4567\r\n\
        - Role: Buyer\r\n\
        - Sebab: Luar Negara\r\n\r\n\
        Thanks,\r\nClerk\r\nTel: 03-1234 5678\r\n\
        > Telefon / Phone: +60123456789\r\n";
    let attachments = [
        att("Borang_Permohonan_AATL.PDF", PDF),
        att("IC front & back.pdf", PDF),
        att("image001.png", PNG),
        att("Surat Kebenaran.pdf", PDF),
    ];
    let c = run(&Fields::parse(text), &attachments);
    assert_eq!(c.problems, vec![]);
    let app = c.application.unwrap();
    assert_eq!(app.espa_ref, "HDA-2026-000123");
    assert_eq!(app.order, 2);
    assert_eq!(app.full_name, "Ali bin Abu");
    assert_eq!(app.id_number, "900101-14-5673");
    assert_eq!(app.email, "ali@example.com");
    assert_eq!(app.phone, "+971501234567");
    assert_eq!(app.reason, Reason::LuarNegara);
    assert_eq!(
        c.documents,
        vec![
            Some(DocKind::ApplicationForm),
            Some(DocKind::MyKadBoth),
            None,
            Some(DocKind::Loa)
        ]
    );
}

#[test]
fn field_rules() {
    let passport = [
        (Field::IdType, "Passport"),
        (Field::Nationality, "Indonesia"),
        (Field::Reason, "WARGA_ASING"),
    ];
    let passport_ok = [
        att("Borang.pdf", PDF),
        att("Passport.jpg", JPEG),
        att("LOA.pdf", PDF),
    ];
    #[rustfmt::skip]
    let cases: Vec<(&str, Changes, Vec<Code>)> = vec![
        ("missing eSPA", vec![(Field::EspaRef, "")], vec![Code::FieldMissing]),
        ("eSPA lower case", vec![(Field::EspaRef, "hda-2026-000123")], vec![]),
        ("eSPA spaced", vec![(Field::EspaRef, "HDA - 2026 - 000123")], vec![]),
        ("eSPA prose", vec![(Field::EspaRef, "see attached")], vec![Code::EspaRefInvalid]),
        ("eSPA no digits", vec![(Field::EspaRef, "HDA-ABC")], vec![Code::EspaRefInvalid]),
        ("eSPA one group", vec![(Field::EspaRef, "HDA2026000123")], vec![Code::EspaRefInvalid]),
        ("order 1", vec![(Field::Order, "1")], vec![]),
        ("order 99", vec![(Field::Order, "99")], vec![]),
        ("order #3", vec![(Field::Order, "#3")], vec![]),
        ("order 0", vec![(Field::Order, "0")], vec![Code::OrderInvalid]),
        ("order 100", vec![(Field::Order, "100")], vec![Code::OrderInvalid]),
        ("order -1", vec![(Field::Order, "-1")], vec![Code::OrderInvalid]),
        ("order words", vec![(Field::Order, "two")], vec![Code::OrderInvalid]),
        ("order 2.5", vec![(Field::Order, "2.5")], vec![Code::OrderInvalid]),
        ("missing order", vec![(Field::Order, "")], vec![Code::FieldMissing]),
        ("name a/l @", vec![(Field::FullName, "Muthu a/l Rajan @ Raju")], vec![]),
        ("name chinese", vec![(Field::FullName, "林亚九")], vec![]),
        ("name apostrophe", vec![(Field::FullName, "Nur 'Ain binti O'Neil")], vec![]),
        ("name digits", vec![(Field::FullName, "Ali 900101")], vec![Code::NameInvalid]),
        ("name markup", vec![(Field::FullName, "<b>Ali</b>")], vec![Code::NameInvalid]),
        ("name one letter", vec![(Field::FullName, "A")], vec![Code::NameInvalid]),
        ("missing name", vec![(Field::FullName, "")], vec![Code::FieldMissing]),
        ("id type IC", vec![(Field::IdType, "IC")], vec![]),
        ("id type both langs", vec![(Field::IdType, "MyKad / IC")], vec![]),
        ("id type unknown", vec![(Field::IdType, "driving licence")], vec![Code::IdTypeInvalid]),
        ("id type contradicting", vec![(Field::IdType, "MyKad/Passport")], vec![Code::IdTypeInvalid]),
        ("mykad no dashes", vec![(Field::IdNumber, "900101145673")], vec![]),
        ("mykad short", vec![(Field::IdNumber, "900101-14-567")], vec![Code::MykadFormat]),
        ("mykad date", vec![(Field::IdNumber, "901301-14-5673")], vec![Code::MykadDate]),
        ("mykad place", vec![(Field::IdNumber, "900101-17-5673")], vec![Code::MykadPlace]),
        ("missing id number", vec![(Field::IdNumber, "")], vec![Code::FieldMissing]),
        ("nationality malaysian", vec![(Field::Nationality, "malaysian")], vec![]),
        ("nationality MYS", vec![(Field::Nationality, "MYS")], vec![]),
        ("nationality digits", vec![(Field::Nationality, "60")], vec![Code::NationalityInvalid]),
        ("nationality yes", vec![(Field::Nationality, "Ya")], vec![Code::NationalityInvalid]),
        ("missing nationality", vec![(Field::Nationality, "")], vec![Code::FieldMissing]),
        ("email upper", vec![(Field::Email, "ALI@EXAMPLE.COM")], vec![]),
        ("email no at", vec![(Field::Email, "ali.example.com")], vec![Code::EmailInvalid]),
        ("email two at", vec![(Field::Email, "ali@x@example.com")], vec![Code::EmailInvalid]),
        ("email no dot", vec![(Field::Email, "ali@localhost")], vec![Code::EmailInvalid]),
        ("email space", vec![(Field::Email, "ali abu@example.com")], vec![Code::EmailInvalid]),
        ("missing email", vec![(Field::Email, "")], vec![Code::FieldMissing]),
        ("phone spaced", vec![(Field::Phone, "+971 50 123 4567")], vec![]),
        ("phone 00", vec![(Field::Phone, "00971501234567")], vec![]),
        ("phone junk", vec![(Field::Phone, "call me")], vec![Code::PhoneInvalid]),
        ("phone invalid", vec![(Field::Phone, "+971 12")], vec![Code::PhoneInvalid]),
        ("phone no cc", vec![(Field::Phone, "971501234567")], vec![Code::PhoneNotInternational]),
        ("missing phone", vec![(Field::Phone, "")], vec![Code::FieldMissing]),
        ("role english", vec![(Field::Role, "Witness")], vec![]),
        ("role tuan tanah", vec![(Field::Role, "tuan tanah")], vec![]),
        ("role landowner", vec![(Field::Role, "Land Owner")], vec![]),
        ("role unknown", vec![(Field::Role, "Lawyer")], vec![Code::RoleInvalid]),
        ("missing role", vec![(Field::Role, "")], vec![Code::FieldMissing]),
        ("reason dashed", vec![(Field::Reason, "Luar-Negara")], vec![]),
        ("reason unknown", vec![(Field::Reason, "BUSY")], vec![Code::ReasonInvalid]),
        ("missing reason", vec![(Field::Reason, "")], vec![Code::FieldMissing]),
        ("passport with MyKad copies", passport.to_vec(), vec![Code::IdDocMismatch]),
    ];
    for (what, changes, want) in cases {
        let c = run(&fields_with(&changes), &spec_attachments());
        assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
        let blocking = want.iter().any(|c| !c.is_notice());
        assert_eq!(c.application.is_some(), !blocking, "{what}");
    }
    let c = run(&fields_with(&passport), &passport_ok);
    assert_eq!(c.problems, vec![], "passport pack");
    let c = run(
        &fields_with(&[passport.as_slice(), &[(Field::IdNumber, "12")]].concat()),
        &passport_ok,
    );
    assert_eq!(codes(&c), vec![Code::PassportFormat]);
}

#[test]
fn problems_name_the_field() {
    let c = run(&fields_with(&[(Field::Email, "nope")]), &spec_attachments());
    assert_eq!(
        c.problems,
        vec![Problem::new(
            Code::EmailInvalid,
            Some("Emel / Email".to_string())
        )]
    );
    assert_eq!(c.problems[0].about_field(), Some(Field::Email));
}

#[test]
fn identity_and_nationality_rules() {
    let mykad_docs = spec_attachments();
    let passport_docs = vec![
        att("Borang.pdf", PDF),
        att("Passport.jpg", JPEG),
        att("LOA.pdf", PDF),
    ];
    let mypr_docs = vec![
        att("Borang.pdf", PDF),
        att("MyPR.jpg", JPEG),
        att("LOA.pdf", PDF),
    ];
    #[rustfmt::skip]
    let cases: Vec<(&str, Changes, &Vec<AttachmentMeta>, Vec<Code>)> = vec![
        ("mykad malaysian", vec![], &mykad_docs, vec![]),
        ("mykad foreigner", vec![(Field::Nationality, "Indonesia"), (Field::Reason, "IDSAYA")],
            &mykad_docs, vec![Code::IdNationalityMismatch]),
        ("mykad PR", vec![(Field::Nationality, "Indonesia (PR)"), (Field::Reason, "OKU")],
            &mykad_docs, vec![Code::IdNationalityMismatch]),
        ("passport foreigner", vec![(Field::IdType, "Pasport"), (Field::IdNumber, "A1234567"),
            (Field::Nationality, "Indonesian"), (Field::Reason, "WARGA_ASING")],
            &passport_docs, vec![]),
        ("passport malaysian", vec![(Field::IdType, "Passport"), (Field::IdNumber, "A1234567")],
            &passport_docs, vec![Code::PassportMalaysian]),
        ("mypr with PR line", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234"),
            (Field::Nationality, "Indonesia (Permanent Resident)"), (Field::Reason, "OKU")],
            &mypr_docs, vec![]),
        ("mypr with Malay PR line", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234"),
            (Field::Nationality, "Pemastautin Tetap"), (Field::Reason, "IDSAYA")],
            &mypr_docs, vec![]),
        ("mypr with country only", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234"),
            (Field::Nationality, "Singapore"), (Field::Reason, "OKU")],
            &mypr_docs, vec![]),
        ("mypr citizen", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "800505-71-1234")],
            &mypr_docs, vec![Code::MyprNotPr]),
        ("mypr bad number", vec![(Field::IdType, "MyPR"), (Field::IdNumber, "X1234"),
            (Field::Nationality, "PR"), (Field::Reason, "OKU")],
            &mypr_docs, vec![Code::MykadFormat]),
    ];
    for (what, changes, docs, want) in cases {
        let c = run(&fields_with(&changes), docs);
        assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
    }
    let c = run(
        &fields_with(&[
            (Field::IdType, "MyPR"),
            (Field::IdNumber, "800505-71-1234"),
            (Field::Nationality, "indonesia (PR)"),
            (Field::Reason, "OKU"),
        ]),
        &mypr_docs,
    );
    let app = c.application.unwrap();
    assert_eq!(app.nationality, "Indonesia (PR)");
    assert!(app.permanent_resident && !app.malaysian);
    let c = run(
        &fields_with(&[
            (Field::IdType, "MyPR"),
            (Field::IdNumber, "800505-71-1234"),
            (Field::Nationality, "Singapore"),
            (Field::Reason, "OKU"),
        ]),
        &mypr_docs,
    );
    assert!(c.application.unwrap().permanent_resident);
}

#[test]
fn reason_rules() {
    let foreign = [
        (Field::IdType, "Passport"),
        (Field::IdNumber, "E12345678"),
        (Field::Nationality, "United Kingdom"),
    ];
    let passport_docs = vec![
        att("Borang.pdf", PDF),
        att("Passport.pdf", PDF),
        att("LOA.pdf", PDF),
    ];
    let with = |base: &[(Field, &'static str)], more: &[(Field, &'static str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(more);
        v
    };
    let mine: &[(Field, &str)] = &[];
    #[rustfmt::skip]
    let cases: Vec<(&str, Changes, bool, Vec<Code>)> = vec![
        ("luar negara abroad number", with(mine, &[]), true, vec![]),
        ("luar negara +60", with(mine, &[(Field::Phone, "012-345 6789")]), true,
            vec![Code::ReasonMalaysianPhone]),
        ("luar negara +86", with(mine, &[(Field::Phone, "+86 138 0013 8000")]), true,
            vec![Code::PhoneIdsayaCountry]),
        ("luar negara +886", with(mine, &[(Field::Phone, "+886 912 345 678")]), true,
            vec![Code::PhoneIdsayaCountry]),
        ("luar negara +81", with(mine, &[(Field::Phone, "+81 90 1234 5678")]), true,
            vec![Code::PhoneIdsayaCountry]),
        ("luar negara foreigner", with(&foreign, &[(Field::Reason, "LUAR_NEGARA")]), false,
            vec![Code::ReasonNotMalaysian]),
        ("warga asing foreigner", with(&foreign, &[(Field::Reason, "WARGA_ASING"),
            (Field::Phone, "+44 7911 123456")]), false, vec![]),
        ("warga asing +60", with(&foreign, &[(Field::Reason, "warga asing"),
            (Field::Phone, "+60 12-345 6789")]), false, vec![Code::ReasonMalaysianPhone]),
        ("warga asing +81", with(&foreign, &[(Field::Reason, "WARGA_ASING"),
            (Field::Phone, "+81 90 1234 5678")]), false, vec![Code::PhoneIdsayaCountry]),
        ("warga asing malaysian", with(mine, &[(Field::Reason, "WARGA_ASING")]), true,
            vec![Code::ReasonMalaysian]),
        ("warga asing malaysian +60", with(mine, &[(Field::Reason, "WARGA_ASING"),
            (Field::Phone, "0123456789")]), true,
            vec![Code::ReasonMalaysian, Code::ReasonMalaysianPhone]),
        ("idsaya +60", with(mine, &[(Field::Reason, "IDSAYA"), (Field::Phone, "0123456789")]),
            true, vec![]),
        ("idsaya +86", with(mine, &[(Field::Reason, "iDsaya"), (Field::Phone, "+8613800138000")]),
            true, vec![]),
        ("oku foreigner +60", with(&foreign, &[(Field::Reason, "OKU"), (Field::Phone, "0123456789")]),
            false, vec![]),
        ("oku malaysian +81", with(mine, &[(Field::Reason, "OKU"), (Field::Phone, "+819012345678")]),
            true, vec![]),
    ];
    for (what, changes, malaysian, want) in cases {
        let docs = if malaysian {
            spec_attachments()
        } else {
            passport_docs.clone()
        };
        let c = run(&fields_with(&changes), &docs);
        assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
        for p in &c.problems {
            assert!(
                p.about.as_deref().and_then(Reason::parse).is_some(),
                "{what}: {p:?}"
            );
        }
    }
}

#[test]
fn attachment_rules() {
    use DocKind::*;
    let form = att("Borang Permohonan.pdf", PDF);
    let front = att("IC front.jpg", JPEG);
    let back = att("IC back.png", PNG);
    let both = att("MyKad depan belakang.pdf", PDF);
    let loa = att("LOA.pdf", PDF);
    let big = AttachmentMeta {
        size: 10 * 1024 * 1024 + 1,
        ..att("IC back.jpg", JPEG)
    };
    let at_limit = AttachmentMeta {
        size: 10 * 1024 * 1024,
        ..att("IC back.jpg", JPEG)
    };
    let empty = AttachmentMeta {
        size: 0,
        ..att("IC back.jpg", b"")
    };
    // `a` with the content (digest) of `b`.
    let same = |a: AttachmentMeta<'static>, b: AttachmentMeta<'static>| AttachmentMeta {
        sha256: b.sha256,
        ..a
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<AttachmentMeta>, Vec<Code>, Documents)> = vec![
        ("front+back", vec![form, front, back, loa], vec![],
            vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
        ("both in one", vec![form, both, loa], vec![],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa)]),
        ("at the size limit", vec![form, front, at_limit, loa], vec![],
            vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
        ("nothing", vec![], vec![Code::FormMissing, Code::IdDocMissing, Code::LoaMissing], vec![]),
        ("no form", vec![front, back, loa], vec![Code::FormMissing],
            vec![Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
        ("no loa", vec![form, front, back], vec![Code::LoaMissing],
            vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack)]),
        ("no id", vec![form, loa], vec![Code::IdDocMissing],
            vec![Some(ApplicationForm), Some(Loa)]),
        ("front only", vec![form, front, loa], vec![Code::MykadBackMissing],
            vec![Some(ApplicationForm), Some(MyKadFront), Some(Loa)]),
        ("back only", vec![form, back, loa], vec![Code::MykadFrontMissing],
            vec![Some(ApplicationForm), Some(MyKadBack), Some(Loa)]),
        ("mixed", vec![form, both, att("Passport.jpg", JPEG), loa], vec![Code::IdDocMixed],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Passport), Some(Loa)]),
        ("wrong id kind", vec![form, att("Passport.jpg", JPEG), loa], vec![Code::IdDocMismatch],
            vec![Some(ApplicationForm), Some(Passport), Some(Loa)]),
        ("too large", vec![form, front, big, loa], vec![Code::AttachmentTooLarge],
            vec![Some(ApplicationForm), Some(MyKadFront), None, Some(Loa)]),
        ("empty", vec![form, front, empty, loa], vec![Code::AttachmentEmpty],
            vec![Some(ApplicationForm), Some(MyKadFront), None, Some(Loa)]),
        ("zip refused", vec![form, both, loa, att("docs.zip", ZIP)],
            vec![Code::AttachmentTypeRefused],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
        ("exe refused", vec![form, both, loa, att("LOA.pdf.exe", EXE)],
            vec![Code::AttachmentTypeRefused],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
        ("zip named pdf", vec![att("Borang.pdf", ZIP), both, loa],
            vec![Code::AttachmentTypeMismatch], vec![None, Some(MyKadBoth), Some(Loa)]),
        ("exe named jpg", vec![form, att("IC front.jpg", EXE), back, loa],
            vec![Code::AttachmentTypeMismatch],
            vec![Some(ApplicationForm), None, Some(MyKadBack), Some(Loa)]),
        ("png named jpg", vec![form, att("IC front.jpg", PNG), back, loa],
            vec![Code::AttachmentTypeMismatch],
            vec![Some(ApplicationForm), None, Some(MyKadBack), Some(Loa)]),
        ("docx", vec![form, both, att("LOA.docx", ZIP)], vec![Code::AttachmentTypeNotAllowed],
            vec![Some(ApplicationForm), Some(MyKadBoth), None]),
        ("unclassified", vec![form, both, loa, att("scan0001.pdf", PDF)],
            vec![Code::AttachmentUnclassified],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
        ("form as image", vec![att("Borang.jpg", JPEG), both, loa], vec![Code::AttachmentNotPdf],
            vec![None, Some(MyKadBoth), Some(Loa)]),
        ("loa as image", vec![form, both, att("LOA.png", PNG)], vec![Code::AttachmentNotPdf],
            vec![Some(ApplicationForm), Some(MyKadBoth), None]),
        ("signature picture ignored", vec![form, both, loa, att("image001.png", PNG)], vec![],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
        ("signature name, exe content", vec![form, both, loa, att("image001.png", EXE)],
            vec![Code::AttachmentTypeMismatch, Code::AttachmentUnclassified],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa), None]),
        ("two forms are fine", vec![form, form, both, loa], vec![],
            vec![Some(ApplicationForm), Some(ApplicationForm), Some(MyKadBoth), Some(Loa)]),
        ("front and back one scan", vec![form, front, same(back, front), loa],
            vec![Code::MykadSidesSame],
            vec![Some(ApplicationForm), Some(MyKadFront), Some(MyKadBack), Some(Loa)]),
        ("form and loa one file", vec![form, both, same(loa, form)],
            vec![Code::DocumentsSameFile],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa)]),
        ("both sides file is the form", vec![form, same(both, form), loa],
            vec![Code::DocumentsSameFile],
            vec![Some(ApplicationForm), Some(MyKadBoth), Some(Loa)]),
        ("faulty copy not compared", vec![form, front, same(big, front), loa],
            vec![Code::AttachmentTooLarge],
            vec![Some(ApplicationForm), Some(MyKadFront), None, Some(Loa)]),
    ];
    for (what, attachments, want, docs) in cases {
        let c = run(&Fields::parse(SPEC_PACK), &attachments);
        assert_eq!(codes(&c), want, "{what}: {:?}", c.problems);
        assert_eq!(c.documents, docs, "{what}");
        let blocking = want.iter().any(|c| !c.is_notice());
        assert_eq!(c.application.is_some(), !blocking, "{what}");
    }
}

#[test]
fn attachment_problems_name_a_safe_file_name() {
    let c = run(
        &Fields::parse(SPEC_PACK),
        &[att("../../\u{202E}fdp.exe", EXE)],
    );
    assert_eq!(
        c.problems[0],
        Problem::new(Code::AttachmentTypeRefused, Some("fdp.exe".to_string()))
    );
}

#[test]
fn message_size_limit() {
    let f = Fields::parse(SPEC_PACK);
    let limits = Limits::default();
    let ok = check(
        &f,
        &spec_attachments(),
        sized(limits.message_max),
        &limits,
        today(),
    );
    assert_eq!(ok.problems, vec![]);
    let big = check(
        &f,
        &spec_attachments(),
        sized(limits.message_max + 1),
        &limits,
        today(),
    );
    assert_eq!(codes(&big), vec![Code::MessageTooLarge]);
    assert_eq!(big.problems[0].about.as_deref(), Some("25 MiB"));
    assert!(big.application.is_none());
    let tight = Limits {
        attachment_max: 10,
        message_max: 100,
    };
    let c = check(&f, &[att("LOA.pdf", PDF)], sized(50), &tight, today());
    assert!(codes(&c).contains(&Code::AttachmentTooLarge));
    let odd = Limits {
        attachment_max: 10,
        message_max: 3 << 19,
    };
    let c = check(&f, &spec_attachments(), sized(2 << 20), &odd, today());
    assert_eq!(c.problems[0].about.as_deref(), Some("1.5 MiB"));
}

#[test]
fn a_message_too_large_to_read_is_only_too_large() {
    let unread = crate::pack_check::unread(&Limits::default());
    assert_eq!(codes(&unread), vec![Code::MessageTooLarge]);
    assert!(unread.application.is_none() && unread.documents.is_empty());
    assert!(unread.problems[0].en().contains("25 MiB"));
}

#[test]
fn attachments_not_read_are_named_and_stop_the_pack() {
    let f = Fields::parse(SPEC_PACK);
    let message = MessageMeta {
        size: 200_000,
        attachments_unread: 3,
    };
    let c = check(
        &f,
        &spec_attachments(),
        message,
        &Limits::default(),
        today(),
    );
    assert_eq!(codes(&c), vec![Code::TooManyAttachments]);
    assert_eq!(c.problems[0].about.as_deref(), Some("50"));
    assert!(c.application.is_none(), "fixable: the pack is incomplete");
    assert!(!Code::TooManyAttachments.is_final());
}

fn sized(size: u64) -> MessageMeta {
    MessageMeta {
        size,
        attachments_unread: 0,
    }
}

#[test]
fn every_problem_is_collected() {
    let c = run(&Fields::default(), &[att("docs.zip", ZIP)]);
    let mut want = vec![Code::FieldMissing; 10];
    want.extend([
        Code::AttachmentTypeRefused,
        Code::FormMissing,
        Code::IdDocMissing,
        Code::LoaMissing,
    ]);
    assert_eq!(codes(&c), want);
    let named: Vec<Option<Field>> = c.problems[..10].iter().map(Problem::about_field).collect();
    assert_eq!(named, Field::ALL.map(Some).to_vec());
    assert!(c.application.is_none());
}

#[test]
fn checked_serialises() {
    let c = run(&Fields::parse(SPEC_PACK), &spec_attachments());
    let back: Checked = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn one_scan_sent_as_two_documents_is_named_in_both_languages() {
    let front = att("MyKad depan.jpg", JPEG);
    let back = AttachmentMeta {
        sha256: front.sha256,
        ..att("MyKad belakang.jpg", JPEG)
    };
    let form = att("Borang Permohonan.pdf", PDF);
    let c = run(
        &Fields::parse(SPEC_PACK),
        &[form, front, back, att("LOA.pdf", PDF)],
    );
    assert_eq!(codes(&c), vec![Code::MykadSidesSame]);
    assert!(
        c.problems.is_empty() && c.application.is_some(),
        "named, not in the way"
    );
    let p = &c.notices[0];
    assert_eq!(
        p.en(),
        "The copies of the MyKad front and back \"MyKad depan.jpg, MyKad belakang.jpg\" are the \
         same file: attach a scan of the front and a scan of the back of the card."
    );
    assert!(
        p.ms()
            .starts_with("Salinan MyKad bahagian depan dan belakang \"MyKad depan.jpg")
    );

    let loa = AttachmentMeta {
        sha256: form.sha256,
        ..att("LOA.pdf", PDF)
    };
    let both = att("MyKad depan belakang.pdf", PDF);
    let c = run(&Fields::parse(SPEC_PACK), &[form, both, loa]);
    assert_eq!(codes(&c), vec![Code::DocumentsSameFile]);
    assert!(c.notices[0].en().starts_with(
        "The attachments \"Borang Permohonan.pdf, LOA.pdf\" are the same file sent as two \
         different documents"
    ));
}
