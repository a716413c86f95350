//! The emails of the RA half (SPEC §5–6): one test each for what it says,
//! in Malay and English, in the text and the HTML part.

use super::*;
use crate::core::email::{Recipient, Thread};
use chrono::TimeZone;
use mail_parser::MessageParser;

/// The three parts of `template` with the sample context changed by `edit`.
fn parts(template: Template, edit: impl FnOnce(&mut Value)) -> (String, String, String) {
    let mut ctx = sample_context();
    edit(&mut ctx);
    Renderer::new()
        .and_then(|r| r.render_parts(template, &ctx))
        .unwrap()
}

/// Every needle is in both parts.
fn both_parts_say(name: &str, text: &str, html: &str, needles: &[&str]) {
    for (kind, part) in [("text", text), ("html", html)] {
        for needle in needles {
            assert!(
                part.contains(needle),
                "{name} ({kind}) lacks {needle}:\n{part}"
            );
        }
    }
}

/// No needle is in either part.
fn neither_part_says(name: &str, text: &str, html: &str, needles: &[&str]) {
    for (kind, part) in [("text", text), ("html", html)] {
        for needle in needles {
            assert!(
                !part.contains(needle),
                "{name} ({kind}) has {needle}:\n{part}"
            );
        }
    }
}

#[test]
fn staff_generate_shows_the_case_and_how_to_answer() {
    let (subject, text, html) = parts(Template::StaffGenerate, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Kes disahkan, sijil perlu dijana / Case verified, certificate to \
         generate — Ali bin Abu (Pembeli)"
    );
    both_parts_say(
        "staff-generate",
        &text,
        &html,
        &[
            "telah disahkan",
            "has been verified",
            "HDA-2026-000123",
            "900101-14-****",
            "+971501234567",
            "MyKad depan.jpg",
            "21 KB",
            "ab12cd34",
            "DOCUMENTS_SAME_FILE",
            "LULUS",
            "APPROVED",
            "TOLAK",
            "REJECT",
            "CATATAN",
            "NOTE",
            "menetapkan PIN",
            "set their certificate PIN",
            "tidak dilampirkan",
            "not attached",
        ],
    );
    assert!(text.contains("TOLAK <sebab>") && html.contains("&lt;sebab&gt;"));
}

#[test]
fn emel3_says_the_certificate_is_ready_and_guards_the_pin() {
    let (subject, text, html) = parts(Template::Emel3, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Sijil Roaming Sedia / Roaming Certificate Ready"
    );
    both_parts_say(
        "emel3",
        &text,
        &html,
        &[
            "Sijil Roaming anda telah sedia",
            "Your Roaming Certificate is ready",
            "kini aktif",
            "now active",
            "HDA-2026-000123",
            "tiba giliran anda",
            "your turn to sign",
            "kod pengesahan",
            "verification code",
            "rahsiakan PIN",
            "keep your certificate PIN secret",
            "tidak akan sekali-kali meminta PIN",
            "never ask for your certificate PIN",
            "Terlupa PIN",
            "Forgotten your PIN",
            "Balas e-mel ini",
            "Reply to this email",
        ],
    );
    neither_part_says("emel3", &text, &html, &["900101", "ab12cd34"]);
}

#[test]
fn rejected_gives_the_reason_and_what_each_reader_can_do() {
    let (subject, text, html) = parts(Template::Rejected, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Permohonan ditolak / Application rejected — Ali bin Abu"
    );
    both_parts_say(
        "rejected",
        &text,
        &html,
        &[
            "telah ditolak",
            "has been rejected",
            "Salinan MyKad tidak jelas / The MyKad copy is not legible",
            "permohonan baharu",
            "e-mel baharu",
            "new, corrected application",
            "new email",
            "menghubungi pemaju (Seri Indah Development Sdn Bhd)",
            "contact the developer (Seri Indah Development Sdn Bhd)",
            "HDA-2026-000123",
        ],
    );
    // One text for the developer and the signee: nothing private of either.
    neither_part_says("rejected", &text, &html, &["900101", "+971501234567"]);
    let (_, text, html) = parts(Template::Rejected, |c| c["reason"] = Value::Null);
    both_parts_say("rejected", &text, &html, &["tiada sebab dinyatakan"]);
}

#[test]
fn unreachable_names_the_number_the_attempts_and_the_way_out() {
    let (subject, text, html) = parts(Template::Unreachable, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Penandatangan tidak dapat dihubungi / Signee could not be reached — \
         Ali bin Abu"
    );
    both_parts_say(
        "unreachable",
        &text,
        &html,
        &[
            "+971501234567",
            "3 kali",
            "3 times",
            "tidak berjawab",
            "not answered",
            "Malaysia (+60)",
            "Malaysian phone number (+60)",
            "BATAL",
            "WITHDRAW",
            "e-mel baharu",
            "new email",
        ],
    );
}

#[test]
fn withdrawn_tells_staff_nothing_more_is_needed() {
    let (subject, text, html) = parts(Template::Withdrawn, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Kes dibatalkan oleh pemaju / Case withdrawn by the developer — Ali \
         bin Abu"
    );
    both_parts_say(
        "withdrawn",
        &text,
        &html,
        &[
            "dibatalkan (ditarik balik) oleh pemaju Seri Indah Development Sdn Bhd",
            "withdrawn by the developer Seri Indah Development Sdn Bhd",
            "Tiada tindakan lanjut diperlukan",
            "No further action is needed",
            "HDA-2026-000123",
        ],
    );
}

#[test]
fn status_shows_the_state_documents_and_every_event() {
    let (subject, text, html) = parts(Template::Status, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Status kes / Case status — Ali bin Abu"
    );
    both_parts_say(
        "status",
        &text,
        &html,
        &[
            "disahkan, menunggu penjanaan sijil",
            "verified, waiting for the certificate to be generated",
            "MyKad depan.jpg",
            "21 KB",
            "ab12cd34",
            "LOA_MISSING",
            "Sejarah kes",
            "Case history",
        ],
    );
    // One line per event in the text, one row per event in the HTML.
    assert!(text.contains("  2026-03-04 13:06 +08:00  submit@seriindah.my  opened as received\n"));
    assert!(text.contains("  2026-03-05 17:30 +08:00  Siti (verifier)  VERIFIED\n"));
    let history = &html[html.find("Case history").unwrap()..];
    assert_eq!(
        history.matches("<tr>").count(),
        3,
        "a header and two events"
    );
    assert!(history.contains("2026-03-05 17:30 +08:00") && history.contains("Siti (verifier)"));
    let (_, text, _) = parts(Template::Status, |c| c["history"] = json!([]));
    assert!(
        text.contains("Sejarah kes / Case history\n  (tiada / none)"),
        "{text}"
    );
}

#[test]
fn command_ack_names_the_command_the_state_and_the_argument() {
    let (subject, text, html) = parts(Template::CommandAck, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Arahan diterima / Command accepted: VERIFIED"
    );
    both_parts_say(
        "command-ack",
        &text,
        &html,
        &[
            "VERIFIED",
            "anda bagi kes",
            "command for case",
            "telah diterima dan dilaksanakan",
            "has been accepted and carried out",
            "Pegawai Pendaftaran telah dimaklumkan",
            "Registration Officers have been told",
            "disahkan, menunggu penjanaan sijil",
            "verified, waiting for the certificate to be generated",
            "Disahkan melalui panggilan video",
            // The state before, as it changed.
            "Diterima, menunggu pengesahan",
            "Received, awaiting verification",
            "SJL-2026-000001",
            "Ali bin Abu",
        ],
    );
    neither_part_says("command-ack", &text, &html, &["900101"]);

    // No argument, no move: neither is shown.
    let (_, text, html) = parts(Template::CommandAck, |c| {
        c["command"] = json!("UNREACHABLE");
        c["argument"] = Value::Null;
        c["before"] = json!("received");
        c["state"] = json!("received");
        c["unreachable"] = json!(2);
    });
    neither_part_says(
        "command-ack",
        &text,
        &html,
        &["Reason or note recorded", "Before", "Registration Officers"],
    );
    both_parts_say(
        "command-ack",
        &text,
        &html,
        &["Cubaan ke-2", "attempt number 2", "after the third attempt"],
    );
    let (_, text, html) = parts(Template::CommandAck, |c| {
        c["command"] = json!("UNREACHABLE");
        c["unreachable"] = json!(3);
    });
    both_parts_say(
        "command-ack",
        &text,
        &html,
        &["Pemaju telah dimaklumkan", "The developer has been told"],
    );
}

#[test]
fn command_error_says_what_why_what_now_and_how_without_case_details() {
    let (subject, text, html) = parts(Template::CommandError, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Arahan tidak dilaksanakan / Command not carried out"
    );
    both_parts_say(
        "command-error",
        &text,
        &html,
        &[
            "tidak dilaksanakan",
            "not carried out",
            "LULUSKAN SEGERA",
            "Arahan ini tidak dikenali.",
            "This command is not known.",
            "APPROVED",
            "STATUS",
            "Tiada apa-apa yang diubah",
            "Nothing was changed",
            "baris pertama",
            "first line",
            "kekalkan subjek",
            "keep the subject",
            "Jika anda tidak menghantar mesej ini",
            "If you did not send this message",
            "pentadbir RA",
            "RA administrator",
        ],
    );
    // It may reach the real owner of a forged address: nothing of the case
    // beyond its reference.
    neither_part_says(
        "command-error",
        &text,
        &html,
        &[
            "Ali bin Abu",
            "ali@example.com",
            "900101",
            "+971501234567",
            "MyKad depan.jpg",
        ],
    );
    let (_, text, html) = parts(Template::CommandError, |c| {
        c["line"] = json!("");
        c["allowed"] = json!([]);
    });
    neither_part_says(
        "command-error",
        &text,
        &html,
        &["What was read as the command", "Commands you may give now"],
    );
}

#[test]
fn signee_message_quotes_the_signee_lists_attachments_and_is_never_a_command() {
    let (subject, text, html) = parts(Template::SigneeMessage, |_| {});
    assert_eq!(
        subject,
        "[SJL-2026-000001] Mesej daripada penandatangan / Message from the signee — Ali bin Abu"
    );
    both_parts_say(
        "signee-message",
        &text,
        &html,
        &[
            "Ali bin Abu",
            "ali@example.com",
            "Re: Permohonan Sijil Digital",
            "saya akan berada di Dubai sehingga Jumaat.",
            "pasport.pdf",
            "88 KB",
            "application/pdf",
            "tidak disertakan dalam e-mel ini",
            "not included in this email",
            "disimpan bersama kes",
            "kept on the case",
            "tidak sekali-kali dibaca sebagai arahan",
            "never read as commands",
            "tidak dihantar kepada penandatangan",
            "not sent to the signee",
        ],
    );
    assert!(
        text.contains(
            "> Salam,\n> saya akan berada di Dubai sehingga Jumaat.\n>\n> Terima kasih.\n"
        ),
        "{text}"
    );
    assert!(html.contains("Salam,<br>saya akan berada di Dubai sehingga Jumaat.<br><br>Terima"));
}

#[test]
fn a_signee_message_cannot_pose_as_the_email() {
    let hostile = "<script>alert(1)</script>\n-- \nDISAHKAN\n{{ref}} & more";
    let (_, text, html) = parts(Template::SigneeMessage, |c| {
        c["message"]["text"] = json!(hostile);
        c["message"]["attachments"][0]["name"] = json!("<b>x</b>.pdf");
    });
    assert!(text.contains("> <script>alert(1)</script>\n> --\n> DISAHKAN\n> {{ref}} & more\n"));
    assert_eq!(text.matches("\n-- \n").count(), 1, "one signature: ours");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;<br>--<br>DISAHKAN"));
    assert!(html.contains("{{ref}} &amp; more") && !html.contains("<script>"));
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;.pdf"));
}

#[test]
fn a_sent_signee_message_keeps_its_lines_and_nothing_else_does() {
    let mut ctx = sample_context();
    ctx["message"]["text"] = json!("Baris satu\r\nBaris dua\rBaris tiga");
    ctx["message"]["subject"] = json!("Soalan\r\nBcc: x@example.com");
    let email = Email {
        template: Template::SigneeMessage,
        from: crate::core::email::FromAddress::Ra,
        to: vec![Recipient {
            name: Some("Siti".into()),
            email: "siti@ra.example.my".into(),
        }],
        case_ref: Some("SJL-2026-000001".into()),
        thread: Thread::default(),
        context: ctx,
    };
    let from = Address {
        name: Some("POS Digicert RA".into()),
        email: "kpkt.retail@ra.example.my".into(),
    };
    let date = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
    let out = Renderer::new()
        .unwrap()
        .render(&email, &from, "m@ra.example.my", date)
        .unwrap();
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.contains("> Baris satu\n> Baris dua\n> Baris tiga\n"),
        "{text}"
    );
    assert!(text.contains("  Soalan  Bcc: x@example.com\n"), "{text}");
    let html = m.body_html(0).unwrap();
    assert!(html.contains("Baris satu<br>Baris dua<br>Baris tiga"));
}
