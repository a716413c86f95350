//! The fast path of [`super::parse`] (large base64 bodies decoded apart)
//! must read every message exactly as mail-parser alone does: checked on
//! awkward large messages built here and on the hostile corpus.

use std::fmt::Write as _;

use base64::Engine as _;

use super::base64_bodies::WORTH_IT;
use super::{Inbound, parse, parse_fast, parse_slow as whole};

/// Everything the core looks at, attachments in full.
fn seen(m: &Inbound) -> String {
    let mut out = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {:?} {:?} {} {}\n",
        m.key,
        m.message_id,
        m.from,
        m.from_name,
        m.return_path,
        m.subject,
        m.in_reply_to,
        m.references,
        m.auto,
        m.size,
        m.malformed,
        m.authentication_results,
        m.report,
        m.attachments_unread,
        m.oversize,
    );
    let _ = writeln!(out, "text {:?}", m.text);
    for a in &m.attachments {
        let _ = writeln!(
            out,
            "{:?} {:?} {} {}",
            a.name,
            a.content_type,
            a.sha256,
            a.bytes.len()
        );
        assert_eq!(super::sha256_hex(&a.bytes), a.sha256);
    }
    out
}

fn assert_same(name: &str, raw: &[u8]) {
    assert_eq!(seen(&parse(raw)), seen(&whole(raw)), "{name}");
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Base64 of `bytes` in lines of `width`, joined by `eol`.
fn lines(bytes: &[u8], width: usize, eol: &str) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    text.as_bytes()
        .chunks(width)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(eol)
}

fn pack(eol: &str, parts: &[String]) -> Vec<u8> {
    let mut m = format!(
        "From: Pemaju <submit@seriindah.my>{eol}To: kpkt.retail@ra.example.my{eol}\
         Subject: Permohonan{eol}Message-ID: <p@seriindah.my>{eol}MIME-Version: 1.0{eol}\
         Content-Type: multipart/mixed; boundary=\"b1\"{eol}{eol}\
         --b1{eol}Content-Type: text/plain; charset=utf-8{eol}{eol}Nama: Ali{eol}"
    );
    for p in parts {
        m.push_str(&format!("--b1{eol}{p}{eol}"));
    }
    m.push_str(&format!("--b1--{eol}"));
    m.into_bytes()
}

fn attachment(eol: &str, ctype: &str, name: &str, cte: &str, body: &str) -> String {
    format!(
        "Content-Type: {ctype}; name=\"{name}\"{eol}\
         Content-Disposition: attachment; filename=\"{name}\"{eol}\
         Content-Transfer-Encoding: {cte}{eol}{eol}{body}"
    )
}

#[test]
fn large_messages_read_the_same_both_ways() {
    let doc = noise(300_000, 1);
    let crlf = "\r\n";
    let b76 = lines(&doc, 76, crlf);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "four documents, CRLF",
            pack(
                crlf,
                &[
                    attachment(crlf, "application/pdf", "Borang.pdf", "base64", &b76),
                    attachment(
                        crlf,
                        "image/jpeg",
                        "MyKad depan.jpg",
                        "base64",
                        &lines(&noise(200_000, 2), 76, crlf),
                    ),
                    attachment(
                        crlf,
                        "image/jpeg",
                        "MyKad belakang.jpg",
                        "base64",
                        &lines(&noise(200_000, 3), 76, crlf),
                    ),
                    attachment(
                        crlf,
                        "application/pdf",
                        "LOA.pdf",
                        "base64",
                        &lines(&noise(50_000, 4), 76, crlf),
                    ),
                ],
            ),
        ),
        (
            "LF only",
            pack(
                "\n",
                &[attachment(
                    "\n",
                    "application/pdf",
                    "a.pdf",
                    "base64",
                    &lines(&doc, 76, "\n"),
                )],
            ),
        ),
        (
            "lines of 73, not a multiple of 4",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "application/pdf",
                    "a.pdf",
                    "base64",
                    &lines(&doc, 73, crlf),
                )],
            ),
        ),
        (
            "upper case encoding, blanks at line ends",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "application/pdf",
                    "a.pdf",
                    " BASE64 ",
                    &lines(&doc, 76, " \t\r\n"),
                )],
            ),
        ),
        (
            "no padding",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "application/pdf",
                    "a.pdf",
                    "base64",
                    lines(&doc[..299_999], 76, crlf).trim_end_matches('='),
                )],
            ),
        ),
        (
            "a character outside the alphabet",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "application/pdf",
                    "a.pdf",
                    "base64",
                    &format!("{b76}{crlf}$$$${crlf}{b76}"),
                )],
            ),
        ),
        (
            "two base64 runs back to back",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "application/pdf",
                    "a.pdf",
                    "base64",
                    &format!("{}{crlf}{}", lines(&doc[..1000], 76, crlf), b76),
                )],
            ),
        ),
        (
            "large base64 text is left to mail-parser",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "text/plain; charset=utf-8",
                    "notes.txt",
                    "base64",
                    &lines(&[b'a'; 100_000], 76, crlf),
                )],
            ),
        ),
        (
            "quoted-printable binary",
            pack(
                crlf,
                &[attachment(
                    crlf,
                    "application/octet-stream",
                    "q.bin",
                    "quoted-printable",
                    &"=41=42=43 ".repeat(5_000),
                )],
            ),
        ),
        ("boundary never closes", {
            let mut m = pack(
                crlf,
                &[attachment(crlf, "application/pdf", "a.pdf", "base64", &b76)],
            );
            m.truncate(m.len() - 10);
            m
        }),
    ];
    // Documents inside a nested multipart, and inside a forwarded message.
    let nested = format!(
        "Content-Type: multipart/mixed; boundary=\"inner\"{crlf}{crlf}--inner{crlf}{}{crlf}--inner{crlf}{}{crlf}--inner--",
        attachment(crlf, "image/png", "x.png", "base64", &b76),
        attachment(
            crlf,
            "image/png",
            "y.png",
            "base64",
            &lines(&noise(20_000, 5), 76, crlf)
        ),
    );
    cases.push(("nested multipart", pack(crlf, &[nested])));
    let forwarded = String::from_utf8(pack(
        crlf,
        &[attachment(crlf, "application/pdf", "a.pdf", "base64", &b76)],
    ))
    .unwrap();
    cases.push((
        "forwarded message",
        pack(
            crlf,
            &[format!(
                "Content-Type: message/rfc822{crlf}{crlf}{forwarded}"
            )],
        ),
    ));
    cases.push((
        "forwarded message in base64",
        pack(
            crlf,
            &[format!(
                "Content-Type: message/rfc822{crlf}Content-Transfer-Encoding: base64{crlf}{crlf}{}",
                lines(forwarded.as_bytes(), 76, crlf)
            )],
        ),
    ));
    cases.push((
        "looks like base64 but is 7bit",
        pack(
            crlf,
            &[attachment(crlf, "application/pdf", "a.pdf", "7bit", &b76)],
        ),
    ));
    let letter = "Tuan/Puan,\r\n\r\nDengan hormatnya saya merujuk perkara di atas.\r\n".repeat(600);
    cases.push((
        "a long letter",
        pack(
            crlf,
            &[attachment(crlf, "text/plain", "surat.txt", "8bit", &letter)],
        ),
    ));
    for (name, raw) in &cases {
        assert_same(name, raw);
    }
    // The fast path was really taken where it should be. A forwarded
    // message's documents are left to mail-parser: the cut is put back.
    for (name, raw) in &cases {
        let fast = !matches!(
            *name,
            "no padding"
                | "a character outside the alphabet"
                | "two base64 runs back to back"
                | "large base64 text is left to mail-parser"
                | "quoted-printable binary"
                | "forwarded message"
                | "forwarded message in base64"
                | "boundary never closes"
                | "looks like base64 but is 7bit"
                | "a long letter"
        );
        assert_eq!(parse_fast(raw, WORTH_IT).is_some(), fast, "{name}");
    }
    assert_eq!(parse(&cases[0].1).attachments.len(), 4);
    assert_eq!(parse(&cases[0].1).attachments[0].bytes, doc);
}

#[test]
fn the_hostile_corpus_reads_the_same_both_ways() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile");
    let (mut read, mut fast_too) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let raw = std::fs::read(&path).expect("read");
        assert_same(&path.display().to_string(), &raw);
        // Their bodies are small: cut every base64 run, however short.
        if let Some(fast) = parse_fast(&raw, 1) {
            assert_eq!(seen(&fast), seen(&whole(&raw)), "{}", path.display());
            fast_too += 1;
        }
        read += 1;
    }
    assert!(read >= 38, "only {read} corpus messages");
    assert!(fast_too >= 3, "the fast path applied to only {fast_too}");
}
