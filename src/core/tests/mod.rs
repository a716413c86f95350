//! The core driven through [`handle`] by each kind of input, with an
//! in-memory view: packs, supplements, duplicates, messages too large to
//! read, delivery reports, the reply-rate limit, SMTP refusals, the clock,
//! commands and set-PIN links; and a view that fails.

mod clock;
mod commands;
mod eligibility;
mod failing_view;
mod oversize;
mod pack_linking;
mod packs;
mod pin;
mod signing;
mod undelivered;

use super::*;
use crate::config::Developer;
use crate::core::Folder;
use crate::core::case::EventKind;
use crate::core::case::{Case, CaseState, Event};
use crate::core::classify::Classifier;
use crate::core::email::Template;
use crate::core::view::SentEmail;
use crate::core::view::{View, ViewError, ViewResult};
use crate::core::{Effects, Input, MemView, Refusal, handle};
use crate::edge::inbound::parse;
use chrono::TimeZone;
use chrono::{DateTime, Utc};

const DEV: &str = "submit@seriindah.my";
const SIGNEE: &str = "ali@buyer.example.com";

fn cfg() -> Config {
    let mut cfg = Config::embedded_default();
    cfg.developers = vec![Developer {
        company: "Seri Indah Development Sdn Bhd".into(),
        addresses: vec![DEV.into()],
        domain: None,
    }];
    cfg
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .unwrap()
}

fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% {text}\ntrailer << /Root 1 0 R >>\n%%EOF\n").into_bytes()
}

const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff,
    0xd9,
];
/// A JPEG other than [`JPEG`]: a comment segment makes another file of it.
fn jpeg_back() -> Vec<u8> {
    let mut b = JPEG[..JPEG.len() - 2].to_vec();
    b.extend_from_slice(&[0xff, 0xfe, 0, 6, b'b', b'a', b'c', b'k', 0xff, 0xd9]);
    b
}

const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00secret-stuff-here";

fn fields() -> Vec<(&'static str, String)> {
    [
        ("Rujukan eSPA / eSPA Reference", "HDA-2026-000123"),
        ("Turutan / Signing Order", "2"),
        ("Nama Penuh / Full Name", "Ali bin Abu"),
        ("Jenis Pengenalan / ID Type", "MyKad"),
        ("No. Pengenalan / ID Number", "900101-14-5673"),
        ("Warganegara / Nationality", "Malaysia"),
        ("Emel / Email", SIGNEE),
        ("Telefon / Phone", "+971501234567"),
        ("Peranan / Role", "Pembeli"),
        ("Sebab / Reason", "LUAR_NEGARA"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn documents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "Borang Permohonan PDF Signing Certificate (AATL).pdf",
            pdf("form"),
        ),
        ("MyKad depan.jpg", JPEG.to_vec()),
        // Another scan: the two sides as one file is a problem of its own.
        ("MyKad belakang.jpg", jpeg_back()),
        ("Letter of Authorisation.pdf", pdf("loa")),
    ]
}

fn message(from: &str, subject: &str, id: &str, body: &str, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut m = format!(
        "From: {from}\r\nTo: kpkt.retail@ra.example.my\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    );
    for (name, bytes) in files {
        let mime = if name.ends_with(".pdf") {
            "application/pdf"
        } else {
            "image/jpeg"
        };
        m.push_str(&format!(
            "--XX\r\nContent-Type: {mime}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(bytes)
        ));
    }
    m.push_str("--XX--\r\n");
    m.into_bytes()
}

fn body(fields: &[(&str, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect()
}

fn decide_raw(raw: &[u8], mem: &MemView) -> Effects {
    decide(&parse(raw), mem)
}

fn decide(msg: &crate::core::message::Inbound, mem: &MemView) -> Effects {
    let cfg = cfg();
    let class = Classifier::new(&cfg).classify(msg, &cfg);
    handle(Input::Message { msg, class: &class }, mem, &cfg, now()).expect("the view reads")
}

fn templates(d: &Effects) -> Vec<(Template, Vec<String>)> {
    d.emails
        .iter()
        .map(|e| (e.template, e.to.iter().map(|r| r.email.clone()).collect()))
        .collect()
}

fn codes(d: &Effects) -> Vec<String> {
    d.emails
        .iter()
        .flat_map(|e| {
            e.context["problems"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["code"].as_str().map(str::to_string))
        .collect()
}
