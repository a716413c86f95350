//! Whole reply messages read through the mailbox edge
//! ([`crate::edge::inbound::parse`]), as the daemon reads them: HTML-only
//! replies (Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`, Apple's
//! `blockquote type="cite"`, Yahoo's `yahoo_quoted`), format=flowed ones,
//! and a multipart/alternative one.

use super::*;
use crate::edge::inbound::parse;

/// A reply message of `content_type` around `body`.
fn message(content_type: &str, body: &str) -> String {
    let raw = format!(
        "From: Aina Rahman <aina@ra.example.my>\r\nTo: Sijil RA <kpkt.retail@ra.example.my>\r\n\
         Subject: Re: {SUBJECT}\r\nMessage-ID: <r1@ra.example.my>\r\n\
         In-Reply-To: <o1@ra.example.my>\r\nMIME-Version: 1.0\r\n\
         Content-Type: {content_type}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        crlf(body)
    );
    parse(raw.as_bytes()).text
}

fn html(body: &str) -> String {
    message("text/html; charset=\"UTF-8\"", body)
}

/// [`OURS`] as our HTML part carries it: a paragraph per block.
fn ours_html() -> String {
    OURS.split("\n\n")
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
        .collect()
}

const ATTRIBUTION: &str = "On Tue, 1 Dec 2026 at 10:00, Sijil RA &lt;<a href=\"mailto:kpkt.retail@ra.example.my\">kpkt.retail@ra.example.my</a>&gt; wrote:";

fn gmail_quote() -> String {
    format!(
        "<div class=\"gmail_quote gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">{ATTRIBUTION}<br></div>\
         <blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">{}</blockquote></div>",
        ours_html()
    )
}

/// Outlook web's and new Outlook's quoted header block, in `lang`.
fn outlook_web_quote(from: &str, sent: &str, to: &str, subject: &str) -> String {
    format!(
        "<div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\
         <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\" color=\"#000000\">\
         <b>{from}</b> Sijil RA &lt;kpkt.retail@ra.example.my&gt;<br><b>{sent}</b> Tuesday, December 1, 2026 10:00 AM<br>\
         <b>{to}</b> Aina Rahman &lt;aina@ra.example.my&gt;<br><b>{subject}</b> {SUBJECT}</font><div>&nbsp;</div></div>\
         <div>{}</div>",
        ours_html()
    )
}

fn flowed(delsp: bool, body: &str) -> String {
    let delsp = if delsp { "; delsp=yes" } else { "" };
    message(
        &format!("text/plain; charset=UTF-8; format=flowed{delsp}"),
        body,
    )
}

pub(super) fn table() -> Vec<Reply> {
    vec![
        reply(
            "Gmail web, HTML only",
            html(&format!(
                "<div dir=\"ltr\">Verified</div><br>{}",
                gmail_quote()
            )),
            "Verified",
            Kind::Verified,
        ),
        reply(
            "Gmail web, HTML only, signature",
            html(&format!(
                "<div dir=\"ltr\"><div>REJECT salinan MyKad tidak jelas</div><br clear=\"all\"><div><br></div>\
                 <span class=\"gmail_signature_prefix\">-- </span><br><div dir=\"ltr\" class=\"gmail_signature\">\
                 <div dir=\"ltr\">Aina Rahman<br>Pegawai Pengesah, RA POS Digicert</div></div></div><br>{}",
                gmail_quote()
            )),
            "REJECT salinan MyKad tidak jelas",
            Kind::Reject,
        ),
        reply(
            "Outlook web, HTML only, bold command",
            html(&format!(
                "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body dir=\"ltr\">\
                 <div class=\"elementToProof\" style=\"font-family: Aptos, sans-serif; font-size: 12pt;\"><b>APPROVED</b></div>\
                 <div class=\"elementToProof\"><br></div>{}</body></html>",
                outlook_web_quote("From:", "Sent:", "To:", "Subject:")
            )),
            "APPROVED",
            Kind::Approved,
        ),
        reply(
            "Outlook web in Malay, HTML only",
            html(&format!(
                "<div class=\"elementToProof\">Lulus&nbsp;</div>{}",
                outlook_web_quote("Daripada:", "Dihantar:", "Kepada:", "Subjek:")
            )),
            "Lulus",
            Kind::Approved,
        ),
        reply(
            "Outlook desktop, HTML only (Word markup)",
            html(&format!(
                "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><style><!-- p.MsoNormal {{margin:0cm;}} --></style></head>\
                 <body lang=\"EN-MY\"><div class=\"WordSection1\"><p class=\"MsoNormal\">QC-FAIL gambar selfie kabur<o:p></o:p></p>\
                 <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p><p class=\"MsoNormal\">Regards,<o:p></o:p></p><p class=\"MsoNormal\">Aina<o:p></o:p></p>\
                 <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>\
                 <div><div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">\
                 <p class=\"MsoNormal\"><b>From:</b> Sijil RA &lt;kpkt.retail@ra.example.my&gt; <br><b>Sent:</b> Tuesday, December 1, 2026 10:00 AM<br>\
                 <b>To:</b> Aina Rahman &lt;aina@ra.example.my&gt;<br><b>Subject:</b> {SUBJECT}<o:p></o:p></p></div></div>\
                 <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>{}</div></body></html>",
                ours_html()
            )),
            "QC-FAIL gambar selfie kabur",
            Kind::QcFail,
        ),
        reply(
            "iPhone Mail in Malay, HTML only, footer",
            html(&format!(
                "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head><body dir=\"auto\">\
                 <div dir=\"ltr\">Disahkan</div><div dir=\"ltr\"><br id=\"lineBreakAtBeginningOfSignature\">\
                 <div dir=\"ltr\">Dihantar dari iPhone saya</div><div dir=\"ltr\"><br><blockquote type=\"cite\">\
                 Pada 1 Dis 2026, pada 10:00 PG, Sijil RA &lt;kpkt.retail@ra.example.my&gt; menulis:<br><br></blockquote></div>\
                 <blockquote type=\"cite\"><div dir=\"ltr\">{}</div></blockquote></div></body></html>",
                ours_html()
            )),
            "Disahkan",
            Kind::Verified,
        ),
        reply(
            "Yahoo Mail, HTML only, unmarked yahoo_quoted",
            html(&format!(
                "<html><head></head><body><div class=\"ydp3c1b1e2ayahoo-style-wrap\" style=\"font-family:Helvetica Neue, Helvetica, Arial, sans-serif;font-size:16px;\">\
                 <div dir=\"ltr\" data-setdir=\"false\">Status</div></div><div id=\"ydp5ayahoo_quoted_1234\" class=\"ydp5ayahoo_quoted\">\
                 <div style=\"font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;font-size:13px;color:#26282a;\">\
                 <div>On Tuesday, 1 December 2026 at 10:00:00 am GMT+8, Sijil RA &lt;kpkt.retail@ra.example.my&gt; wrote:</div>\
                 <div><br></div><div><br></div><div><div>{}</div></div></div></div></body></html>",
                ours_html()
            )),
            "Status",
            Kind::Status,
        ),
        nothing(
            "Gmail web, HTML only, nothing typed",
            html(&format!("<div dir=\"ltr\"><br></div><br>{}", gmail_quote())),
        ),
        reply(
            "Thunderbird, format=flowed: a long note typed as one line",
            flowed(
                false,
                &format!(
                    "NOTE called the buyer twice, she will send a clearer scan of the \nMyKad by Friday\n\nOn 01/12/2026 10:00, Sijil RA (POS Digicert Registration \nAuthority) wrote:\n{}",
                    gt(OURS)
                ),
            ),
            "NOTE called the buyer twice, she will send a clearer scan of the MyKad by Friday",
            Kind::Note,
        ),
        reply(
            "Apple Mail, format=flowed; delsp=yes",
            flowed(
                true,
                &format!(
                    "REJECT nama pada borang tidak sama dengan nama pada MyKad  \npembeli\n\nSent from my iPad\n\n> On 1 Dec 2026, at 10:00, Sijil RA <kpkt.retail@ra.example.my>  \n> wrote:\n> \n{}",
                    gt(OURS)
                ),
            ),
            "REJECT nama pada borang tidak sama dengan nama pada MyKad pembeli",
            Kind::Reject,
        ),
        reply(
            "Gmail, multipart/alternative: the text part is read",
            message(
                "multipart/alternative; boundary=\"000000000000a1b2c3\"",
                &format!(
                    "--000000000000a1b2c3\nContent-Type: text/plain; charset=\"UTF-8\"\n\n*Verified*\n\nOn Tue, 1 Dec 2026 at 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:\n\n{}\n--000000000000a1b2c3\nContent-Type: text/html; charset=\"UTF-8\"\n\n<div dir=\"ltr\"><b>Verified</b></div><br>{}\n--000000000000a1b2c3--\n",
                    gt(OURS),
                    gmail_quote()
                ),
            ),
            "*Verified*",
            Kind::Verified,
        ),
    ]
}

#[test]
fn whole_messages_read_to_their_command() {
    check(&table());
}

#[test]
fn html_quotes_read_as_quotes() {
    // What the reader relies on: html2text's `> ` for a blockquote.
    let text = html(&format!(
        "<div dir=\"ltr\">Verified</div><br>{}",
        gmail_quote()
    ));
    assert!(text.contains("\n> How to answer"), "{text:?}");
    assert!(text.contains("wrote:\n"), "{text:?}");
}
