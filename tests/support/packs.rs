//! Builders of realistic inbound mail as raw RFC 5322 bytes: application packs (SPEC §4), eSPA
//! registrations (§3), replies, an out-of-office auto-reply and mail from a stranger — plus
//! minimal but type-correct attachment bytes (PDF, JPEG, PNG) and liars (a ZIP named `.pdf`).
//!
//! The MIME is written by hand (not by lettre) so a test controls every header and byte:
//! `multipart/mixed` with a `text/plain; charset=utf-8` body of `Label: value` lines and
//! base64 attachments; a message without attachments is a single text part.
//!
//! ```ignore
//! let raw = Pack::mykad_valid()
//!     .field("Telefon / Phone", "+8613800138000")
//!     .without_attachment("MyKad belakang")
//!     .build();
//! servers.send(&raw, DEVELOPER, &[RA_ADDRESS]).await;
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use super::daemon::{DEVELOPER, RA_ADDRESS, SIGNEE};

/// The eSPA reference used by every preset.
pub const ESPA_REF: &str = "HDA-2026-000123";
/// The signee of [`Pack::passport_foreigner`] (order 4, Tuan Tanah, in [`Pack::espa_registration`]).
pub const FOREIGN_SIGNEE: &str = "james.smith@mail.example.co.uk";
/// Sender of [`Pack::unknown_sender`].
pub const STRANGER: &str = "someone@unknown.example.net";

/// A minimal, well-formed PDF whose page shows `text` (distinct texts give distinct hashes).
pub fn pdf(text: &str) -> Vec<u8> {
    let body = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let mut out = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n".to_vec();
    out.extend_from_slice(format!("3 0 obj << /Length {} >> stream\n", body.len()).as_bytes());
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    out
}

/// A minimal JPEG (JFIF header and end-of-image marker).
pub fn jpeg() -> Vec<u8> {
    hex("ffd8ffe000104a46494600010100000100010000ffd9")
}

/// A minimal JPEG like [`jpeg`] with a comment segment saying `text`: distinct texts give
/// distinct files (the MyKad front and back of a pack are two scans).
pub fn jpeg_marked(text: &str) -> Vec<u8> {
    let mut out = jpeg();
    let eoi = out.split_off(out.len() - 2);
    let len = u16::try_from(text.len() + 2).expect("a short comment");
    out.extend_from_slice(&[0xff, 0xfe]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&eoi);
    out
}

/// A valid 1×1 PNG.
pub fn png() -> Vec<u8> {
    hex(concat!(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489",
        "0000000d4944415478da636460f85f0f0002870180eb47ba920000000049454e44ae426082"
    ))
}

/// A real ZIP archive (one stored member `borang.pdf`, which itself starts with `%PDF`): name it
/// `….pdf` to make a lying attachment.
pub fn zip() -> Vec<u8> {
    hex(concat!(
        "504b03041400000000000000215c21c9674614000000140000000a000000626f72616e672e706466",
        "255044462d312e34206e6f74207265616c6c790a504b010214031400000000000000215c21c96746",
        "14000000140000000a0000000000000000000000800100000000626f72616e672e706466504b0506",
        "0000000001000100380000003c0000000000"
    ))
}

/// The first bytes of an ELF executable (refused by name and by content).
pub fn elf() -> Vec<u8> {
    let mut b = hex("7f454c4602010100000000000000000002003e00010000000000000000000000");
    b.resize(128, 0);
    b
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex literal"))
        .collect()
}

/// One line of the text body: a `Label: value` field, or free text.
#[derive(Clone, Debug)]
enum Line {
    Field(String, String),
    Text(String),
}

/// One attachment.
#[derive(Clone, Debug)]
pub struct Attachment {
    /// File name as sent (may be hostile or non-ASCII).
    pub name: String,
    /// Content.
    pub bytes: Vec<u8>,
    /// Declared MIME type, e.g. `application/pdf`.
    pub mime: String,
}

/// A message under construction. Every setter consumes and returns the builder.
#[derive(Clone, Debug)]
pub struct Pack {
    from: String,
    to: String,
    subject: String,
    message_id: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    date: String,
    headers: Vec<(String, String)>,
    lines: Vec<Line>,
    html_only: bool,
    /// The HTML body as a mail client wrote it, when given (sent as text/html only).
    raw_html: Option<String>,
    attachments: Vec<Attachment>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh, globally unique Message-ID (with angle brackets) in `domain`.
pub fn new_message_id(domain: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "<{}.{}.{n}@{domain}>",
        chrono::Utc::now().timestamp_micros(),
        rand::random::<u32>()
    )
}

fn domain_of(address: &str) -> &str {
    let addr = address
        .rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>'))
        .unwrap_or(address);
    addr.rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("test.invalid")
}

impl Pack {
    /// An empty plain-text message from [`DEVELOPER`] to [`RA_ADDRESS`] with a fresh Message-ID
    /// and the current date.
    pub fn new(subject: &str) -> Pack {
        Pack {
            from: DEVELOPER.to_string(),
            to: RA_ADDRESS.to_string(),
            subject: subject.to_string(),
            message_id: new_message_id(domain_of(DEVELOPER)),
            in_reply_to: None,
            references: None,
            date: chrono::Utc::now().to_rfc2822(),
            headers: Vec::new(),
            lines: Vec::new(),
            html_only: false,
            raw_html: None,
            attachments: Vec::new(),
        }
    }

    /// Pack `i` of a numbered series: [`Pack::mykad_valid`] with its own eSPA reference
    /// (`HDA-2026-` and `base + i`, so it is no duplicate of another) and its own signee
    /// address ([`crate::support::numbered_signee`], so its EMEL 1 can be counted).
    pub fn numbered(base: usize, i: usize) -> Pack {
        Pack::mykad_valid()
            .field(
                "Rujukan eSPA / eSPA Reference",
                &format!("HDA-2026-{:06}", base + i),
            )
            .field("Emel / Email", &super::numbered_signee(i))
    }

    /// The SPEC §4 example pack: Ali bin Abu, MyKad, Malaysian abroad (LUAR_NEGARA) with a UAE
    /// phone, order 2 of [`ESPA_REF`], signee [`SIGNEE`]; attachments: the application form
    /// (PDF), MyKad front and back (JPEG), the Letter of Authorisation (PDF). Valid.
    pub fn mykad_valid() -> Pack {
        Pack::new("Permohonan Sijil Digital - Ali bin Abu")
            .field("Rujukan eSPA / eSPA Reference", ESPA_REF)
            .field("Turutan / Signing Order", "2")
            .field("Nama Penuh / Full Name", "Ali bin Abu")
            .field("Jenis Pengenalan / ID Type", "MyKad")
            .field("No. Pengenalan / ID Number", "900101-14-5673")
            .field("Warganegara / Nationality", "Malaysia")
            .field("Emel / Email", SIGNEE)
            .field("Telefon / Phone", "+971501234567")
            .field("Peranan / Role", "Pembeli")
            .field("Sebab / Reason", "LUAR_NEGARA")
            .line("")
            .line("Terima kasih.")
            .line("Seri Indah Development Sdn Bhd")
            .attachment(
                "Borang Permohonan PDF Signing Certificate (AATL).pdf",
                pdf("Borang Permohonan Ali bin Abu"),
                "application/pdf",
            )
            .attachment("MyKad depan.jpg", jpeg(), "image/jpeg")
            .attachment(
                "MyKad belakang.jpg",
                jpeg_marked("MyKad belakang"),
                "image/jpeg",
            )
            .attachment(
                "Letter of Authorisation.pdf",
                pdf("LOA Seri Indah for Ali bin Abu"),
                "application/pdf",
            )
    }

    /// A foreigner's pack (WARGA_ASING): James Edward Smith, British passport, UAE phone,
    /// Tuan Tanah, order 4 of [`ESPA_REF`], signee [`FOREIGN_SIGNEE`]; attachments: form (PDF),
    /// passport (PNG), LOA (PDF). Valid.
    pub fn passport_foreigner() -> Pack {
        Pack::new("Permohonan Sijil Digital - James Edward Smith")
            .field("Rujukan eSPA / eSPA Reference", ESPA_REF)
            .field("Turutan / Signing Order", "4")
            .field("Nama Penuh / Full Name", "James Edward Smith")
            .field("Jenis Pengenalan / ID Type", "Passport")
            .field("No. Pengenalan / ID Number", "533401372")
            .field("Warganegara / Nationality", "United Kingdom")
            .field("Emel / Email", FOREIGN_SIGNEE)
            .field("Telefon / Phone", "+971 50 765 4321")
            .field("Peranan / Role", "Tuan Tanah")
            .field("Sebab / Reason", "WARGA_ASING")
            .line("")
            .line("Terima kasih.")
            .attachment(
                "Borang Permohonan PDF Signing Certificate (AATL).pdf",
                pdf("Borang Permohonan James Edward Smith"),
                "application/pdf",
            )
            .attachment("Passport James Smith.png", png(), "image/png")
            .attachment(
                "Letter of Authorisation.pdf",
                pdf("LOA Seri Indah for James Edward Smith"),
                "application/pdf",
            )
    }

    /// The SPEC §3 registration of [`ESPA_REF`] (signee 2 is [`SIGNEE`], route manual), plus a
    /// fourth signee, the foreign landowner [`FOREIGN_SIGNEE`] (manual), with the eSPA PDF.
    pub fn espa_registration() -> Pack {
        Pack::new(&format!("Daftar eSPA {ESPA_REF}"))
            .field("Rujukan eSPA / eSPA Reference", ESPA_REF)
            .field("Projek / Project", "Taman Seri Indah Fasa 2, Lot 12")
            .field("Penandatangan / Signees", "")
            .line(
                "1. Pemaju | Tan Sri Lim Holdings Sdn Bhd (Lim Ah Kow) | lim@developer.my | idsaya",
            )
            .line(&format!("2. Pembeli | Ali bin Abu | {SIGNEE} | manual"))
            .line("3. Saksi | Siti binti Ahmad | siti@example.com | idsaya")
            .line(&format!(
                "4. Tuan Tanah | James Edward Smith | {FOREIGN_SIGNEE} | manual"
            ))
            .attachment(
                &format!("eSPA {ESPA_REF}.pdf"),
                pdf(&format!("Perjanjian Jual Beli {ESPA_REF}")),
                "application/pdf",
            )
    }

    /// An out-of-office reply FROM THE REGISTERED DEVELOPER (so only `Auto-Submitted:
    /// auto-replied` keeps it from being read as a pack), no attachments.
    pub fn auto_reply() -> Pack {
        Pack::new("Automatic reply: Permohonan Sijil Digital - Ali bin Abu")
            .header("Auto-Submitted", "auto-replied")
            .line("Saya bercuti sehingga 5 Januari. / I am out of the office until 5 January.")
            .line("Untuk hal segera, hubungi pejabat kami. / For urgent matters, call our office.")
    }

    /// A generic message from [`STRANGER`], who is neither developer nor staff nor signee.
    pub fn unknown_sender() -> Pack {
        Pack::new("Pertanyaan sijil digital")
            .from(STRANGER)
            .line("Hello, how do I get a digital certificate?")
    }

    /// A reply on a thread: `Re: <subject>`, In-Reply-To and References set to `parent_id`
    /// (with angle brackets), body `text` then a quoted line.
    pub fn reply(subject: &str, parent_id: &str, text: &str) -> Pack {
        let subject = if subject.to_ascii_lowercase().starts_with("re:") {
            subject.to_string()
        } else {
            format!("Re: {subject}")
        };
        Pack::new(&subject)
            .in_reply_to(parent_id)
            .references(parent_id)
            .line(text)
            .line("")
            .line("> (quoted original)")
    }

    /// Sets or replaces the field `label`. An existing field matches when its label equals
    /// `label` case-insensitively or when one side of its `Malay / English` label does (so
    /// `"Phone"` replaces `Telefon / Phone`); otherwise the field is added after the last one.
    pub fn field(mut self, label: &str, value: &str) -> Pack {
        if let Some(Line::Field(_, v)) = self.lines.iter_mut().find(|l| matches_label(l, label)) {
            *v = value.to_string();
            return self;
        }
        let at = self
            .lines
            .iter()
            .rposition(|l| matches!(l, Line::Field(..)))
            .map(|i| i + 1)
            .unwrap_or(0);
        // Free text right after the last field (signee lines) belongs to it: insert before the
        // blank line that ends the block instead.
        let at = self.lines[at..]
            .iter()
            .position(|l| matches!(l, Line::Text(t) if t.is_empty()))
            .map(|i| at + i)
            .unwrap_or(self.lines.len());
        self.lines
            .insert(at, Line::Field(label.to_string(), value.to_string()));
        self
    }

    /// Removes the field `label` (matched as in [`Pack::field`]).
    pub fn without_field(mut self, label: &str) -> Pack {
        self.lines.retain(|l| !matches_label(l, label));
        self
    }

    /// The value of field `label`, if present.
    pub fn field_value(&self, label: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Field(_, v) if matches_label(l, label) => Some(v.as_str()),
            _ => None,
        })
    }

    /// Appends a line of free text to the body.
    pub fn line(mut self, text: &str) -> Pack {
        self.lines.push(Line::Text(text.to_string()));
        self
    }

    /// Removes every free-text line containing `needle`.
    pub fn without_line(mut self, needle: &str) -> Pack {
        self.lines
            .retain(|l| !matches!(l, Line::Text(t) if t.contains(needle)));
        self
    }

    /// Replaces the whole body text (fields included) by `text`.
    pub fn text(mut self, text: &str) -> Pack {
        self.lines = text.lines().map(|l| Line::Text(l.to_string())).collect();
        self
    }

    /// Sends the body as `text/html` only (no text/plain alternative).
    pub fn html_only(mut self) -> Pack {
        self.html_only = true;
        self
    }

    /// Sends `html` as the body, text/html only, exactly as given (a mail client's markup:
    /// links, tables, `&nbsp;`).
    pub fn html_body(mut self, html: &str) -> Pack {
        self.raw_html = Some(html.to_string());
        self
    }

    /// Adds an attachment.
    pub fn attachment(mut self, name: &str, bytes: Vec<u8>, mime: &str) -> Pack {
        self.attachments.push(Attachment {
            name: name.to_string(),
            bytes,
            mime: mime.to_string(),
        });
        self
    }

    /// Removes every attachment whose name contains `name_part` (case-insensitive).
    pub fn without_attachment(mut self, name_part: &str) -> Pack {
        let needle = name_part.to_lowercase();
        self.attachments
            .retain(|a| !a.name.to_lowercase().contains(&needle));
        self
    }

    /// Removes all attachments.
    pub fn without_attachments(mut self) -> Pack {
        self.attachments.clear();
        self
    }

    /// The attachments as they will be sent.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    /// Sets From (an address or `Name <address>`); the Message-ID keeps its domain.
    pub fn from(mut self, from: &str) -> Pack {
        self.from = from.to_string();
        self
    }

    /// Sets To.
    pub fn to(mut self, to: &str) -> Pack {
        self.to = to.to_string();
        self
    }

    /// Sets Subject (non-ASCII is RFC 2047-encoded).
    pub fn subject(mut self, subject: &str) -> Pack {
        self.subject = subject.to_string();
        self
    }

    /// Sets Message-ID (give it with angle brackets).
    pub fn message_id(mut self, id: &str) -> Pack {
        self.message_id = id.to_string();
        self
    }

    /// Sets In-Reply-To (with angle brackets).
    pub fn in_reply_to(mut self, id: &str) -> Pack {
        self.in_reply_to = Some(id.to_string());
        self
    }

    /// Sets References (space-separated ids with angle brackets).
    pub fn references(mut self, ids: &str) -> Pack {
        self.references = Some(ids.to_string());
        self
    }

    /// Sets the Date header text.
    pub fn date(mut self, date: &str) -> Pack {
        self.date = date.to_string();
        self
    }

    /// Adds a header (after the standard ones), e.g. `Authentication-Results`.
    pub fn header(mut self, name: &str, value: &str) -> Pack {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The Message-ID this message will carry.
    pub fn id(&self) -> &str {
        &self.message_id
    }

    /// The Subject.
    pub fn subject_text(&self) -> &str {
        &self.subject
    }

    /// The From address (without display name).
    pub fn sender_address(&self) -> &str {
        self.from
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>'))
            .unwrap_or(&self.from)
    }

    /// The text body as it will be sent.
    pub fn body_text(&self) -> String {
        self.lines
            .iter()
            .map(|l| match l {
                Line::Field(k, v) if v.is_empty() => format!("{k}:"),
                Line::Field(k, v) => format!("{k}: {v}"),
                Line::Text(t) => t.clone(),
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    /// The raw RFC 5322 message (CRLF line ends).
    pub fn build(&self) -> Vec<u8> {
        let mut out = String::new();
        let mut h = |name: &str, value: &str| {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        };
        h("From", &self.from);
        h("To", &self.to);
        h("Subject", &encode_word(&self.subject));
        h("Date", &self.date);
        h("Message-ID", &self.message_id);
        if let Some(id) = &self.in_reply_to {
            h("In-Reply-To", id);
        }
        if let Some(ids) = &self.references {
            h("References", ids);
        }
        for (name, value) in &self.headers {
            h(name, value);
        }
        h("MIME-Version", "1.0");

        let text = format!("{}\r\n", self.body_text());
        let (text_type, text) = if let Some(raw) = &self.raw_html {
            ("text/html", format!("{raw}\r\n"))
        } else if self.html_only {
            ("text/html", html(&text))
        } else {
            ("text/plain", text)
        };
        let cte = if text.is_ascii() { "7bit" } else { "8bit" };
        let mut bytes = out.into_bytes();
        if self.attachments.is_empty() {
            bytes.extend_from_slice(
                format!(
                    "Content-Type: {text_type}; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{text}"
                )
                .as_bytes(),
            );
            return bytes;
        }
        let boundary = format!("=_sijil_test_{:016x}", rand::random::<u64>());
        let mut body = format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
             This is a multi-part message in MIME format.\r\n\r\n\
             --{boundary}\r\n\
             Content-Type: {text_type}; charset=utf-8\r\n\
             Content-Transfer-Encoding: {cte}\r\n\r\n{text}\r\n"
        );
        for a in &self.attachments {
            let (name_param, filename_param) = file_name_params(&a.name);
            body.push_str(&format!(
                "--{boundary}\r\n\
                 Content-Type: {mime}; {name_param}\r\n\
                 Content-Disposition: attachment; {filename_param}\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{data}\r\n",
                mime = a.mime,
                data = base64_lines(&a.bytes),
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }
}

fn matches_label(line: &Line, label: &str) -> bool {
    let Line::Field(k, _) = line else {
        return false;
    };
    let want = label.trim().to_lowercase();
    k.trim().to_lowercase() == want || k.split('/').any(|side| side.trim().to_lowercase() == want)
}

/// The text body as minimal HTML (one `<p>` per line, escaped).
fn html(text: &str) -> String {
    let mut out = String::from("<html><body>\r\n");
    for line in text.lines() {
        let escaped = line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        out.push_str(&format!("<p>{escaped}</p>\r\n"));
    }
    out.push_str("</body></html>\r\n");
    out
}

/// RFC 2047 `=?utf-8?b?…?=` for a non-ASCII header value; ASCII is returned as is.
fn encode_word(value: &str) -> String {
    if value.is_ascii() {
        value.to_string()
    } else {
        format!("=?utf-8?b?{}?=", base64(value.as_bytes()))
    }
}

/// `name="…"` and `filename="…"` parameters; non-ASCII names get RFC 2231 `filename*` and an
/// RFC 2047 `name`, as common mail clients send them.
fn file_name_params(name: &str) -> (String, String) {
    if name.is_ascii() {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        (
            format!("name=\"{quoted}\""),
            format!("filename=\"{quoted}\""),
        )
    } else {
        let pct: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        (
            format!("name=\"{}\"", encode_word(name)),
            format!("filename*=utf-8''{pct}"),
        )
    }
}

/// Standard base64 (RFC 4648) with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 folded at 76 characters with CRLF, as MIME requires.
fn base64_lines(data: &[u8]) -> String {
    let encoded = base64(data);
    encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}
