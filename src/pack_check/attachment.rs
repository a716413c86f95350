//! One attachment of a pack: what it claims to be (its file name) and what it
//! is (its first bytes).
//!
//! Names are the sender's and may be hostile (paths, control characters,
//! right-to-left overrides that make `fdp.exe` look like `exe.pdf`), so
//! [`display_name`] (in `display_name`) makes them safe to show. Content is judged by magic bytes,
//! never by the MIME type the sender declared.

use serde::{Deserialize, Serialize};

pub use super::display_name::display_name;

/// What a document of the pack is, read from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocKind {
    ApplicationForm,
    MyKadFront,
    MyKadBack,
    /// One file with both sides of the card.
    MyKadBoth,
    Passport,
    MyPr,
    Loa,
}

impl DocKind {
    /// The name emails give the document, in Malay and in English.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            DocKind::ApplicationForm => ("Borang permohonan", "Application form"),
            DocKind::MyKadFront => ("MyKad (depan)", "MyKad (front)"),
            DocKind::MyKadBack => ("MyKad (belakang)", "MyKad (back)"),
            DocKind::MyKadBoth => ("MyKad (depan dan belakang)", "MyKad (front and back)"),
            DocKind::Passport => ("Pasport", "Passport"),
            DocKind::MyPr => ("Kad MyPR", "MyPR card"),
            DocKind::Loa => ("Surat kebenaran (LOA)", "Letter of Authorisation (LOA)"),
        }
    }

    /// Whether this is an identity document (MyKad, passport or MyPR).
    pub fn is_identity(self) -> bool {
        !matches!(self, DocKind::ApplicationForm | DocKind::Loa)
    }
}

/// What the bytes of a file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    Pdf,
    Jpeg,
    Png,
    /// A recognised type that is not allowed (archive, executable, other image…).
    Other,
    /// Nothing recognised (plain text, random bytes, empty).
    Unknown,
}

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
const PDF_MAGIC: &[u8] = b"%PDF-";
/// PDF readers accept the header anywhere in the first 1024 bytes.
const PDF_SEARCH: usize = 1024;

/// The type of `bytes` by magic numbers.
///
/// A JPEG, PNG or PDF signature at the very start decides. Otherwise any type
/// `infer` recognises first is [`Content::Other`] — so a ZIP or an executable
/// that carries `%PDF-` a little way in (a polyglot) is not a PDF — and only
/// then a `%PDF-` header after a little leading junk counts as PDF.
pub fn sniff(bytes: &[u8]) -> Content {
    if bytes.starts_with(JPEG_MAGIC) {
        return Content::Jpeg;
    }
    if bytes.starts_with(PNG_MAGIC) {
        return Content::Png;
    }
    if bytes.starts_with(PDF_MAGIC) {
        return Content::Pdf;
    }
    let head = &bytes[..bytes.len().min(PDF_SEARCH)];
    let pdf_later = head.windows(PDF_MAGIC.len()).any(|w| w == PDF_MAGIC);
    match infer::get(bytes) {
        // `infer` finds `%PDF` anywhere in the first 1024 bytes; markup that
        // carries it is still markup, and `%PDF` without the dash is no header.
        _ if infer::text::is_html(bytes) || infer::text::is_xml(bytes) => Content::Other,
        Some(t) if t.mime_type() == "application/pdf" => {
            if pdf_later {
                Content::Pdf
            } else {
                Content::Unknown
            }
        }
        Some(_) => Content::Other,
        None => Content::Unknown,
    }
}

/// The last extension of `name`, lower case, ignoring trailing dots and
/// spaces (which Windows drops, so `x.exe.` is an `.exe`).
fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.trim_end_matches(['.', ' ']).rsplit_once('.')?;
    Some(ext.trim().to_lowercase())
}

/// The type `name` declares by its extension: `.pdf`, `.jpg`/`.jpeg`, `.png`.
pub fn declared(name: &str) -> Option<Content> {
    match extension(name)?.as_str() {
        "pdf" => Some(Content::Pdf),
        "jpg" | "jpeg" => Some(Content::Jpeg),
        "png" => Some(Content::Png),
        _ => None,
    }
}

/// Files refused by name alone: `"archive"` or `"executable"`.
pub fn refused_by_name(name: &str) -> Option<&'static str> {
    match extension(name)?.as_str() {
        "zip" | "rar" | "7z" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "cab" | "iso" => {
            Some("archive")
        }
        "exe" | "bat" | "cmd" | "com" | "scr" | "msi" | "js" | "vbs" | "ps1" | "sh" | "jar"
        | "apk" | "dll" | "lnk" | "html" | "htm" => Some("executable"),
        _ => None,
    }
}

/// A file name split for matching: whole words (camel case split, so
/// `MyKadFront` has `front`) and all letters and digits run together (so
/// `My Kad` has `mykad`).
struct NameWords {
    words: Vec<String>,
    squashed: String,
}

impl NameWords {
    fn new(name: &str) -> NameWords {
        let stem = match name.trim().rsplit_once('.') {
            Some((stem, ext)) if !ext.is_empty() && ext.len() <= 5 => stem,
            _ => name.trim(),
        };
        let mut spaced = String::with_capacity(stem.len() + 8);
        let mut prev_lower = false;
        for c in stem.chars() {
            if c.is_alphanumeric() {
                if c.is_uppercase() && prev_lower {
                    spaced.push(' ');
                }
                prev_lower = c.is_lowercase() || c.is_ascii_digit();
                spaced.extend(c.to_lowercase());
            } else {
                spaced.push(' ');
                prev_lower = false;
            }
        }
        let words: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
        let squashed = words.concat();
        NameWords { words, squashed }
    }

    fn word(&self, any: &[&str]) -> bool {
        self.words.iter().any(|w| any.contains(&w.as_str()))
    }

    fn has(&self, any: &[&str]) -> bool {
        any.iter().any(|p| self.squashed.contains(p))
    }
}

/// What document `name` says it is.
///
/// Markers are checked in this order, first match wins: LOA, application
/// form, passport, MyPR, MyKad. A MyKad file says which side by `depan`/
/// `front` and `belakang`/`back`; both, or neither (one scan of the card),
/// make it [`DocKind::MyKadBoth`]. Side words alone (`depan.jpg`) mean MyKad:
/// it is the only document of the pack with two sides.
pub fn kind_from_name(name: &str) -> Option<DocKind> {
    let n = NameWords::new(name);
    if n.word(&["loa"])
        || n.has(&[
            "letterofauthori",
            "authorisationletter",
            "authorizationletter",
            "suratkebenaran",
            "suratkuasa",
        ])
    {
        return Some(DocKind::Loa);
    }
    if n.word(&["form", "aatl"])
        || n.has(&[
            "borang",
            "permohonan",
            "applicationform",
            "signingcertificate",
        ])
    {
        return Some(DocKind::ApplicationForm);
    }
    if n.has(&["passport", "pasport"]) {
        return Some(DocKind::Passport);
    }
    if n.word(&["pr"])
        || n.has(&[
            "mypr",
            "permanentresident",
            "pemastautintetap",
            "penduduktetap",
        ])
    {
        return Some(DocKind::MyPr);
    }
    let front = n.word(&["front", "depan", "hadapan"]);
    let back = n.word(&["back", "belakang", "rear", "reverse"]);
    let card = n.word(&["ic", "kp", "nric"]) || n.has(&["mykad", "kadpengenalan"]);
    match (front, back) {
        (true, false) => Some(DocKind::MyKadFront),
        (false, true) => Some(DocKind::MyKadBack),
        (true, true) => Some(DocKind::MyKadBoth),
        (false, false) if card => Some(DocKind::MyKadBoth),
        (false, false) => None,
    }
}

/// Whether a file is a mail client's inline signature picture (Outlook's
/// `image001.png`, `Outlook-abc123.png`) rather than a document: named so
/// and really an image. Such files are ignored, not refused.
pub fn is_signature_image(name: &str, head: &[u8]) -> bool {
    let lower = name.trim().to_lowercase();
    let Some((stem, ext)) = lower.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "png" | "jpg" | "jpeg" | "gif") {
        return false;
    }
    let outlook_numbered = stem
        .strip_prefix("image")
        .is_some_and(|n| n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()));
    let outlook_named = stem
        .strip_prefix("outlook-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()));
    (outlook_numbered || outlook_named)
        && (matches!(sniff(head), Content::Png | Content::Jpeg) || infer::image::is_gif(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf() -> Vec<u8> {
        b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec()
    }

    fn zip_with_pdf_inside() -> Vec<u8> {
        let mut z = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
        z.extend_from_slice(&[0; 20]);
        z.extend_from_slice(b"form.pdf%PDF-1.4 ...");
        z
    }

    #[test]
    fn sniffing() {
        let mut junk_pdf = b"\r\n\xEF\xBB\xBF".to_vec();
        junk_pdf.extend(pdf());
        let mut late_pdf = vec![b' '; 1100];
        late_pdf.extend(pdf());
        let png = [PNG_MAGIC, b"\0\0\0\rIHDR"].concat();
        let cases: Vec<(&str, Vec<u8>, Content)> = vec![
            ("pdf", pdf(), Content::Pdf),
            ("pdf after junk", junk_pdf, Content::Pdf),
            ("pdf header too late", late_pdf, Content::Unknown),
            ("tiny pdf", b"%PDF-".to_vec(), Content::Pdf),
            (
                "jpeg",
                vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F'],
                Content::Jpeg,
            ),
            ("tiny jpeg", vec![0xFF, 0xD8, 0xFF], Content::Jpeg),
            ("png", png, Content::Png),
            (
                "png short signature",
                PNG_MAGIC[..4].to_vec(),
                Content::Other,
            ),
            (
                "zip",
                b"PK\x03\x04\x14\x00\x00\x00".to_vec(),
                Content::Other,
            ),
            ("zip carrying %PDF-", zip_with_pdf_inside(), Content::Other),
            (
                "exe",
                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec(),
                Content::Other,
            ),
            (
                "elf",
                [b"\x7FELF\x02\x01\x01\x00".as_slice(), &[0; 60]].concat(),
                Content::Other,
            ),
            (
                "tiny elf",
                b"\x7FELF\x02\x01\x01\x00".to_vec(),
                Content::Unknown,
            ),
            ("gif", b"GIF89a\x01\x00\x01\x00".to_vec(), Content::Other),
            ("rar", b"Rar!\x1A\x07\x00".to_vec(), Content::Other),
            ("gzip", b"\x1F\x8B\x08\x00\x00\x00".to_vec(), Content::Other),
            ("html", b"<!DOCTYPE html><html>".to_vec(), Content::Other),
            (
                "html with %PDF-",
                b"<html> %PDF-1.4".to_vec(),
                Content::Other,
            ),
            (
                "%PDF without dash",
                b"hello %PDF world".to_vec(),
                Content::Unknown,
            ),
            ("text", b"just some text".to_vec(), Content::Unknown),
            ("empty", Vec::new(), Content::Unknown),
            ("two bytes", vec![0xFF, 0xD8], Content::Unknown),
        ];
        for (what, bytes, want) in cases {
            assert_eq!(sniff(&bytes), want, "{what}");
        }
    }

    #[test]
    fn declared_types() {
        let cases = [
            ("form.pdf", Some(Content::Pdf)),
            ("FORM.PDF", Some(Content::Pdf)),
            ("scan.jpg", Some(Content::Jpeg)),
            ("scan.JPEG", Some(Content::Jpeg)),
            ("scan.png", Some(Content::Png)),
            ("scan.png. ", Some(Content::Png)),
            ("scan.gif", None),
            ("scan.heic", None),
            ("letter.docx", None),
            ("pdf", None),
            ("", None),
            (".pdf", Some(Content::Pdf)),
            ("form.pdf.exe", None),
        ];
        for (name, want) in cases {
            assert_eq!(declared(name), want, "{name:?}");
        }
    }

    #[test]
    fn refused_names() {
        let cases = [
            ("docs.zip", Some("archive")),
            ("DOCS.RAR", Some("archive")),
            ("a.7z", Some("archive")),
            ("a.tar.gz", Some("archive")),
            ("a.tgz", Some("archive")),
            ("a.bz2", Some("archive")),
            ("a.xz", Some("archive")),
            ("a.cab", Some("archive")),
            ("a.iso", Some("archive")),
            ("a.tar", Some("archive")),
            ("form.pdf.exe", Some("executable")),
            ("form.exe.", Some("executable")),
            ("x.bat", Some("executable")),
            ("x.cmd", Some("executable")),
            ("x.com", Some("executable")),
            ("x.scr", Some("executable")),
            ("x.msi", Some("executable")),
            ("x.js", Some("executable")),
            ("x.vbs", Some("executable")),
            ("x.ps1", Some("executable")),
            ("x.sh", Some("executable")),
            ("x.jar", Some("executable")),
            ("x.apk", Some("executable")),
            ("x.dll", Some("executable")),
            ("x.lnk", Some("executable")),
            ("x.html", Some("executable")),
            ("x.HTM", Some("executable")),
            ("form.pdf", None),
            ("ic.jpg", None),
            ("letter.docx", None),
            ("noextension", None),
            ("example.com", Some("executable")),
        ];
        for (name, want) in cases {
            assert_eq!(refused_by_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn kinds_from_names() {
        use DocKind::*;
        let cases = [
            (
                "Borang Permohonan PDF Signing Certificate (AATL).pdf",
                Some(ApplicationForm),
            ),
            ("borang_permohonan.pdf", Some(ApplicationForm)),
            ("Application Form - Ali.pdf", Some(ApplicationForm)),
            ("AATL.pdf", Some(ApplicationForm)),
            ("Borang.pdf", Some(ApplicationForm)),
            ("MyKad depan.jpg", Some(MyKadFront)),
            ("IC front.png", Some(MyKadFront)),
            ("ic_front.png", Some(MyKadFront)),
            ("MyKadFront.jpg", Some(MyKadFront)),
            ("mykad-depan.jpeg", Some(MyKadFront)),
            ("depan.jpg", Some(MyKadFront)),
            ("MyKad belakang.jpg", Some(MyKadBack)),
            ("IC-back.png", Some(MyKadBack)),
            ("IC.Back.png", Some(MyKadBack)),
            ("MYKAD_BELAKANG.JPG", Some(MyKadBack)),
            ("MyKad depan belakang.pdf", Some(MyKadBoth)),
            ("IC front & back.pdf", Some(MyKadBoth)),
            ("IC front and back.jpg", Some(MyKadBoth)),
            ("Salinan MyKad Ali bin Abu.pdf", Some(MyKadBoth)),
            ("My Kad.pdf", Some(MyKadBoth)),
            ("Salinan KP.jpg", Some(MyKadBoth)),
            ("Kad Pengenalan.pdf", Some(MyKadBoth)),
            ("Passport.pdf", Some(Passport)),
            ("pasport_john.jpg", Some(Passport)),
            ("Passport front.jpg", Some(Passport)),
            ("MyPR.jpg", Some(MyPr)),
            ("PR card.png", Some(MyPr)),
            ("Kad PR depan.png", Some(MyPr)),
            ("Permanent Resident Card.pdf", Some(MyPr)),
            ("LOA.pdf", Some(Loa)),
            ("loa_seri_indah.pdf", Some(Loa)),
            ("Letter of Authorisation.pdf", Some(Loa)),
            ("Letter of Authorization.pdf", Some(Loa)),
            ("Surat Kebenaran.pdf", Some(Loa)),
            ("SuratKebenaran.pdf", Some(Loa)),
            ("Abdul Kadir - Borang.pdf", Some(ApplicationForm)),
            ("scan0001.pdf", None),
            ("image001.png", None),
            ("document.pdf", None),
            ("attachment", None),
            ("Information.pdf", None),
            ("Picture.jpg", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(kind_from_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn signature_images() {
        let png = [PNG_MAGIC, b"\0\0\0\rIHDR"].concat();
        let cases: Vec<(&str, &[u8], bool)> = vec![
            ("image001.png", &png, true),
            ("IMAGE002.JPG", &[0xFF, 0xD8, 0xFF, 0xE0], true),
            ("image003.gif", b"GIF89a\x01\x00", true),
            ("Outlook-abc123.png", &png, true),
            ("image001.png", b"MZ\x90\x00", false),
            ("image1.png", &png, false),
            ("image0001.png", &png, false),
            ("logo.png", &png, false),
            ("image001.pdf", b"%PDF-1.4", false),
        ];
        for (name, head, want) in cases {
            assert_eq!(is_signature_image(name, head), want, "{name:?}");
        }
    }
}
