//! HTML-only packs as Outlook, Gmail and Apple Mail write them, read
//! through [`parse`] and [`Fields::parse`]: the value of each field is the
//! text a person reading the email sees, whatever markup carries it (links
//! the client made of an address or a number, a label/value table,
//! non-breaking spaces, `<br>` and `<div>` lines).

use super::parse;
use crate::pack_check::fields::{Field, Fields};

/// An HTML-only message around `html`, as the client sends it.
fn html_message(html: &str) -> Vec<u8> {
    format!(
        "From: Pemaju <submit@seriindah.my>\r\nTo: kpkt.retail@ra.example.my\r\n\
         Subject: Permohonan Sijil Digital - Ali bin Abu\r\nMessage-ID: <h@seriindah.my>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n"
    )
    .into_bytes()
}

/// Outlook desktop: `MsoNormal` paragraphs, `<o:p>`, Word's conditional
/// comments, the address and the number made into links, `&nbsp;` after
/// each colon.
const OUTLOOK: &str = r##"<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">
<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)">
<!--[if !mso]><style>v\:* {behavior:url(#default#VML);}</style><![endif]-->
<style><!--
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}
a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;}
--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head>
<body lang="EN-MY" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">
<div class="WordSection1">
<p class="MsoNormal">Tuan/Puan,<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal"><b>Rujukan eSPA / eSPA Reference:</b>&nbsp;HDA-2026-000123<o:p></o:p></p>
<p class="MsoNormal"><b>Turutan / Signing Order:</b>&nbsp;2<o:p></o:p></p>
<p class="MsoNormal"><b>Nama Penuh / Full Name:</b>&nbsp;<span style="mso-fareast-language:EN-US">Ali bin Abu</span><o:p></o:p></p>
<p class="MsoNormal"><b>Jenis Pengenalan / ID Type:</b>&nbsp;MyKad<o:p></o:p></p>
<p class="MsoNormal"><b>No. Pengenalan / ID Number:</b>&nbsp;900101-14-5673<o:p></o:p></p>
<p class="MsoNormal"><b>Warganegara / Nationality:</b>&nbsp;Malaysia<o:p></o:p></p>
<p class="MsoNormal"><b>Emel / Email:</b>&nbsp;<a href="mailto:ali@example.com"><span style="color:#0563C1">ali@example.com</span></a><o:p></o:p></p>
<p class="MsoNormal"><b>Telefon / Phone:</b>&nbsp;<a href="tel:+971501234567">+971&nbsp;50&nbsp;123&nbsp;4567</a><o:p></o:p></p>
<p class="MsoNormal"><b>Peranan / Role:</b>&nbsp;Pembeli<o:p></o:p></p>
<p class="MsoNormal"><b>Sebab / Reason:</b>&nbsp;LUAR_NEGARA<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Terima kasih.<o:p></o:p></p>
<p class="MsoNormal"><span style="font-size:9.0pt">Seri Indah Development Sdn Bhd | Tel: <a href="tel:+60312345678">03-1234 5678</a></span><o:p></o:p></p>
</div></body></html>"##;

/// Gmail: `<div dir="ltr">`, a `gmail_default` font div, one `<div>` per
/// line, links whose text is the address, and U+00A0 typed as is.
const GMAIL: &str = "<div dir=\"ltr\"><div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Salam,</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\"><br></div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Rujukan eSPA / eSPA Reference: HDA-2026-000123</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Turutan / Signing Order: 2</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Nama Penuh / Full Name:\u{00A0}Ali bin Abu</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Jenis Pengenalan / ID Type: MyKad</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">No. Pengenalan / ID Number: 900101-14-5673</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Warganegara / Nationality: Malaysia</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Emel / Email: <a href=\"mailto:ali@example.com\" target=\"_blank\">ali@example.com</a></div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Telefon / Phone: <a href=\"tel:+971501234567\" target=\"_blank\">+971501234567</a></div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Peranan / Role: Pembeli</div>\
<div class=\"gmail_default\" style=\"font-family:arial,sans-serif\">Sebab / Reason: LUAR_NEGARA</div>\
<div><br></div>-- <br><div dir=\"ltr\" class=\"gmail_signature\"><div dir=\"ltr\">Siti | Seri Indah<br>\
Email: <a href=\"mailto:siti@seriindah.my\">siti@seriindah.my</a></div></div></div>";

/// Apple Mail: a `<div>` per line, `<br>` for an empty line, the address
/// linked with a different href case, Apple's `x-apple-data-detectors`
/// link on the number.
const APPLE: &str = "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head>\
<body style=\"overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;\">\
<div>Rujukan eSPA / eSPA Reference: HDA-2026-000123</div><div>Turutan / Signing Order: 2</div>\
<div>Nama Penuh / Full Name: Ali bin Abu</div><div>Jenis Pengenalan / ID Type: MyKad</div>\
<div>No. Pengenalan / ID Number: 900101-14-5673</div><div>Warganegara / Nationality: Malaysia</div>\
<div>Emel / Email: <a href=\"mailto:Ali@Example.com\">ali@example.com</a></div>\
<div>Telefon / Phone: <a href=\"tel:+971501234567\" x-apple-data-detectors=\"true\" x-apple-data-detectors-type=\"telephone\" x-apple-data-detectors-result=\"0\">+971 50 123 4567</a></div>\
<div>Peranan / Role: Pembeli</div><div>Sebab / Reason: LUAR_NEGARA</div><div><br></div><div>Terima kasih.</div></body></html>";

/// Details pasted into a two-column label/value table (from a spreadsheet
/// or a Word form), Outlook style, the label cells without a colon.
const TABLE: &str = r##"<html><body><p class="MsoNormal">Dear RA, details below.<o:p></o:p></p>
<table class="MsoTableGrid" border="1" cellspacing="0" cellpadding="0" style="border-collapse:collapse;border:none">
<tr><td width="200" valign="top" style="border:solid windowtext 1.0pt;padding:0cm 5.4pt"><p class="MsoNormal"><b>Rujukan eSPA / eSPA Reference</b><o:p></o:p></p></td><td width="300" valign="top"><p class="MsoNormal">HDA-2026-000123<o:p></o:p></p></td></tr>
<tr><td><p class="MsoNormal"><b>Turutan / Signing Order</b><o:p></o:p></p></td><td><p class="MsoNormal">2<o:p></o:p></p></td></tr>
<tr><td><p class="MsoNormal"><b>Nama Penuh / Full Name</b><o:p></o:p></p></td><td><p class="MsoNormal">Ali&nbsp;bin&nbsp;Abu<o:p></o:p></p></td></tr>
<tr><td><p class="MsoNormal"><b>Jenis Pengenalan / ID Type</b></p></td><td><p class="MsoNormal">MyKad</p></td></tr>
<tr><td><p class="MsoNormal"><b>No. Pengenalan / ID Number</b></p></td><td><p class="MsoNormal">900101-14-5673</p></td></tr>
<tr><td><p class="MsoNormal"><b>Warganegara / Nationality</b></p></td><td><p class="MsoNormal">Malaysia</p></td></tr>
<tr><td><p class="MsoNormal"><b>Emel / Email</b></p></td><td><p class="MsoNormal"><a href="mailto:ali@example.com">ali@example.com</a><o:p></o:p></p></td></tr>
<tr><td><p class="MsoNormal"><b>Telefon / Phone</b></p></td><td><p class="MsoNormal"><a href="tel:+971501234567">+971 50 123 4567</a></p></td></tr>
<tr><td><p class="MsoNormal"><b>Peranan / Role</b></p></td><td><p class="MsoNormal">Pembeli</p></td></tr>
<tr><td><p class="MsoNormal"><b>Sebab / Reason</b></p></td><td><p class="MsoNormal">LUAR_NEGARA</p></td></tr>
</table><p class="MsoNormal">Terima kasih.</p></body></html>"##;

/// One paragraph, lines split by `<br>`, a label cell with a colon in a
/// table beside it, and links whose text differs from the href: the
/// reader sees the text, so the text is the value.
const BR_LINES: &str = "<p>Rujukan eSPA / eSPA Reference: HDA-2026-000123<br>Turutan / Signing Order: 2<br>\
Nama Penuh / Full Name: Ali bin Abu<br>Jenis Pengenalan / ID Type: MyKad<br>\
No. Pengenalan / ID Number: 900101-14-5673<br>Warganegara / Nationality: Malaysia<br>\
Emel / Email: <a href=\"mailto:ali@example.com?subject=Sijil%20Digital\">ali@example.com</a><br>\
Telefon / Phone: <a href=\"tel:0123456789\">+971&nbsp;50&nbsp;123&nbsp;4567</a><br>\
Peranan / Role: Pembeli<br>Sebab / Reason: LUAR_NEGARA</p>";

/// The SPEC pack's values, as every one of these bodies should read.
fn spec_values() -> [(Field, &'static str); 10] {
    [
        (Field::EspaRef, "HDA-2026-000123"),
        (Field::Order, "2"),
        (Field::FullName, "Ali bin Abu"),
        (Field::IdType, "MyKad"),
        (Field::IdNumber, "900101-14-5673"),
        (Field::Nationality, "Malaysia"),
        (Field::Email, "ali@example.com"),
        (Field::Phone, "+971 50 123 4567"),
        (Field::Role, "Pembeli"),
        (Field::Reason, "LUAR_NEGARA"),
    ]
}

#[test]
fn html_packs_read_as_a_person_reads_them() {
    let cases = [
        ("outlook", OUTLOOK),
        ("gmail", GMAIL),
        ("apple mail", APPLE),
        ("label/value table", TABLE),
        ("br lines, link text differs from href", BR_LINES),
    ];
    for (client, html) in cases {
        let msg = parse(&html_message(html));
        let fields = Fields::parse(&msg.text);
        for (field, want) in spec_values() {
            let got = fields.get(field);
            // Spaces inside a number are the reader's; the phone rule reads
            // them. Compare without them where the client dropped them.
            let same = match field {
                Field::Phone => got.map(|g| g.replace(' ', "")) == Some(want.replace(' ', "")),
                _ => got == Some(want),
            };
            assert!(
                same,
                "{client}: {field:?} = {got:?}, want {want:?}\n{}",
                msg.text
            );
        }
        assert!(
            !msg.text.contains("mailto:") && !msg.text.contains("tel:"),
            "{client}: the link target is not text a person sees:\n{}",
            msg.text
        );
    }
}

#[test]
fn a_link_value_is_its_text_not_its_target() {
    let cases: [(&str, Field, &str); 5] = [
        (
            "<p>Emel / Email: <a href=\"mailto:ali@example.com\">ali@example.com</a></p>",
            Field::Email,
            "ali@example.com",
        ),
        (
            "<p>Emel / Email: <a href=\"mailto:old@example.com\">ali@example.com</a></p>",
            Field::Email,
            "ali@example.com",
        ),
        (
            "<p>Telefon / Phone: <a href=\"tel:+60123456789\">012-345 6789</a></p>",
            Field::Phone,
            "012-345 6789",
        ),
        (
            "<p>Telefon&nbsp;/&nbsp;Phone:&nbsp;<a href=\"tel:+971501234567\">+971501234567</a></p>",
            Field::Phone,
            "+971501234567",
        ),
        (
            "<div>Emel / Email:&nbsp;<a href=\"mailto:ali@example.com\"><span>ali</span>@<span>example.com</span></a>&nbsp;</div>",
            Field::Email,
            "ali@example.com",
        ),
    ];
    for (html, field, want) in cases {
        let msg = parse(&html_message(html));
        assert_eq!(
            Fields::parse(&msg.text).get(field),
            Some(want),
            "{html}\n{:?}",
            msg.text
        );
    }
}
