//! Plain-text replies as each client writes its text part: attribution
//! lines in the client's own words and locale, its quoting, signature and
//! footer, its line ends and odd spaces.

use super::*;

/// Outlook's quoted header block (desktop, web and mobile write the same
/// lines; only what is above them differs).
fn outlook_header() -> String {
    format!(
        "From: Sijil RA <kpkt.retail@ra.example.my> \nSent: Tuesday, December 1, 2026 10:00 AM\nTo: Aina Rahman <aina@ra.example.my>\nSubject: {SUBJECT}\n\n"
    )
}

pub(super) fn table() -> Vec<Reply> {
    vec![
        reply(
            "Gmail web, top-posted, CRLF",
            crlf(&format!(
                "VERIFIED\n\nOn Tue, 1 Dec 2026 at 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:\n\n{}",
                gt(OURS)
            )),
            "VERIFIED",
            Kind::Verified,
        ),
        reply(
            "Gmail web (US locale), signature, attribution wrapped over two lines",
            crlf(&format!(
                "Disahkan.\n\n-- \nAina Rahman\nPegawai Pengesah | RA POS Digicert\n\nOn Tue, Dec 1, 2026 at 10:00 AM Sijil RA <kpkt.retail@ra.example.my>\nwrote:\n\n{}",
                gt(OURS)
            )),
            "Disahkan.",
            Kind::Verified,
        ),
        reply(
            "Gmail web in Malay, attribution wrapped inside the address",
            format!(
                "TIADA-JAWAPAN\n\nPada Sel, 1 Dis 2026 pada 10:00 PG Sijil RA <\nkpkt.retail@ra.example.my> menulis:\n\n{}",
                gt(OURS)
            ),
            "TIADA-JAWAPAN",
            Kind::Unreachable,
        ),
        reply(
            "Gmail Android, narrow no-break space before AM, bold as *…*",
            format!(
                "*Verified*\n\nOn Tue, Dec 1, 2026, 10:00\u{202F}AM Sijil RA <kpkt.retail@ra.example.my> wrote:\n\n{}",
                gt(OURS)
            ),
            "*Verified*",
            Kind::Verified,
        ),
        reply(
            "Gmail iOS, greeting and Malay sign-off",
            format!(
                "Salam,\n\nLULUS\n\nTerima kasih,\nEncik Razak\nPegawai RA\n\nOn Tue, 1 Dec 2026 at 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:\n\n{}",
                gt(OURS)
            ),
            "LULUS",
            Kind::Approved,
        ),
        reply(
            "Outlook desktop, From/Sent block, English sign-off, CRLF",
            crlf(&format!(
                "REJECT nama tidak sepadan dengan MyKad\n\nRegards,\nAina\n\n{}{OURS}",
                outlook_header()
            )),
            "REJECT nama tidak sepadan dengan MyKad",
            Kind::Reject,
        ),
        reply(
            "Outlook desktop, plain-text mode, -----Original Message-----",
            crlf(&format!(
                "QC-PASS\n\n-----Original Message-----\n{}{OURS}",
                outlook_header()
            )),
            "QC-PASS",
            Kind::QcPass,
        ),
        reply(
            "Outlook desktop in Malay, Daripada/Dihantar block",
            crlf(&format!(
                "DISAHKAN\n\nDaripada: Sijil RA <kpkt.retail@ra.example.my>\nDihantar: Selasa, 1 Disember 2026 10:00 PG\nKepada: Aina Rahman <aina@ra.example.my>\nSubjek: {SUBJECT}\n\n{OURS}"
            )),
            "DISAHKAN",
            Kind::Verified,
        ),
        reply(
            "Outlook web, underscore rule, no-break spaces and trailing spaces",
            crlf(&format!(
                "\u{00A0}Approved\u{00A0} \n\n________________________________\n{}{OURS}",
                outlook_header()
            )),
            "Approved",
            Kind::Approved,
        ),
        reply(
            "Outlook for Android, footer then rule",
            crlf(&format!(
                "QC-GAGAL gambar kabur\n\nGet Outlook for Android<https://aka.ms/AAb9ysg>\n________________________________\n{}{OURS}",
                outlook_header()
            )),
            "QC-GAGAL gambar kabur",
            Kind::QcFail,
        ),
        reply(
            "Outlook for iOS, footer then rule",
            crlf(&format!(
                "Resend\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n________________________________\n{}{OURS}",
                outlook_header()
            )),
            "Resend",
            Kind::Resend,
        ),
        reply(
            "Apple Mail (macOS), attribution inside the quote, name below",
            format!(
                "Verified\n\nAina\n\n> On 1 Dec 2026, at 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:\n> \n{}",
                gt(OURS)
            ),
            "Verified",
            Kind::Verified,
        ),
        reply(
            "iPhone Mail, English footer",
            format!(
                "Status\n\nSent from my iPhone\n\n> On 1 Dec 2026, at 10:00\u{202F}AM, Sijil RA <kpkt.retail@ra.example.my> wrote:\n> \n{}",
                gt(OURS)
            ),
            "Status",
            Kind::Status,
        ),
        reply(
            "iPhone Mail in Malay, footer, a note",
            format!(
                "Catatan: pembeli akan hantar semula salinan MyKad\n\nDihantar dari iPhone saya\n\n> Pada 1 Dis 2026, pada 10:00 PG, Sijil RA <kpkt.retail@ra.example.my> menulis:\n> \n{}",
                gt(OURS)
            ),
            "Catatan: pembeli akan hantar semula salinan MyKad",
            Kind::Note,
        ),
        reply(
            "Thunderbird, top-posted",
            format!(
                "UNREACHABLE\n\nOn 01/12/2026 10:00, Sijil RA wrote:\n{}",
                gt(OURS)
            ),
            "UNREACHABLE",
            Kind::Unreachable,
        ),
        reply(
            "Thunderbird, bottom-posted with a signature",
            format!(
                "On 01/12/2026 10:00, Sijil RA wrote:\n{}\nVERIFIED\n\n-- \nAina Rahman\nRA POS Digicert\n",
                gt(OURS)
            ),
            "VERIFIED",
            Kind::Verified,
        ),
        reply(
            "mutt, bottom-posted, short attribution, reason below the quote",
            format!(
                "Sijil RA <kpkt.retail@ra.example.my> wrote:\n{}\nTOLAK salinan MyKad tidak jelas\n",
                gt(OURS)
            ),
            "TOLAK salinan MyKad tidak jelas",
            Kind::Reject,
        ),
        reply(
            "Gmail in Malay, bottom-posted under a quote full of other keywords",
            format!(
                "Pada Sel, 1 Dis 2026 pada 10:00 PG Sijil RA <kpkt.retail@ra.example.my> menulis:\n\n{}\nTIADA-JAWAPAN\n\nSalam,\nAina\n",
                gt(OURS)
            ),
            "TIADA-JAWAPAN",
            Kind::Unreachable,
        ),
        reply(
            "Yahoo Mail web, indented attribution, unmarked quote",
            format!(
                "QC-PASS\n\n\n\n    On Tuesday, 1 December 2026 at 10:00:00 am GMT+8, Sijil RA <kpkt.retail@ra.example.my> wrote:  \n \n \n{OURS}"
            ),
            "QC-PASS",
            Kind::QcPass,
        ),
        reply(
            "Yahoo Mail Android, footer, unmarked quote",
            format!(
                "Withdraw\n\nSent from Yahoo Mail on Android\n \n  On Tue, 1 Dec 2026 at 10:00, Sijil RA<kpkt.retail@ra.example.my> wrote:   \n{OURS}"
            ),
            "Withdraw",
            Kind::Withdraw,
        ),
        reply(
            "Samsung Email, footer, -------- Original message --------",
            crlf(&format!(
                "Disahkan\n\n\n\nSent from my Galaxy\n\n\n-------- Original message --------\nFrom: Sijil RA <kpkt.retail@ra.example.my> \nDate: 1/12/2026 10:00 (GMT+08:00) \nTo: aina@ra.example.my \nSubject: {SUBJECT} \n\n{OURS}"
            )),
            "Disahkan",
            Kind::Verified,
        ),
        reply(
            "Samsung Email in Malay, a developer withdrawing",
            format!(
                "BATAL\n\n\nDihantar daripada Samsung Galaxy saya\n\n-------- Mesej asal --------\nDaripada: Sijil RA <kpkt.retail@ra.example.my> \nTarikh: 1/12/2026 10:00 (GMT+08:00) \nKepada: submit@seriindah.my \nSubjek: {SUBJECT} \n\n{OURS}"
            ),
            "BATAL",
            Kind::Withdraw,
        ),
        reply(
            "Gmail, greeting, byte-order mark and a Malay sign-off block",
            format!(
                "\u{FEFF}Assalamualaikum,\n\nTIADA-JAWAPAN\nSudah cuba tiga kali.\n\nSekian, terima kasih.\nAina\n\nPada Sel, 1 Dis 2026 pada 10:00 PG Sijil RA <kpkt.retail@ra.example.my> menulis:\n{}",
                gt(OURS)
            ),
            "TIADA-JAWAPAN",
            Kind::Unreachable,
        ),
        reply(
            "a plain > quote with no attribution, command below",
            format!("{}\nReset PIN\n", gt(OURS)),
            "Reset PIN",
            Kind::ResetPin,
        ),
        nothing(
            "iPhone Mail, nothing typed: the keywords are all in the quote",
            format!(
                "\n\nSent from my iPhone\n\n> On 1 Dec 2026, at 10:00, Sijil RA <kpkt.retail@ra.example.my> wrote:\n> \n{}",
                gt(OURS)
            ),
        ),
        nothing(
            "Thunderbird, only a signature above the quote",
            format!(
                "\n-- \nAina Rahman\nRA POS Digicert\n\nOn 01/12/2026 10:00, Sijil RA wrote:\n{}",
                gt(OURS)
            ),
        ),
        nothing(
            "Gmail forward: nothing of the sender's own",
            format!(
                "---------- Forwarded message ---------\nFrom: Sijil RA <kpkt.retail@ra.example.my>\nDate: Tue, 1 Dec 2026 at 10:00\nSubject: {SUBJECT}\nTo: <aina@ra.example.my>\n\n\n{OURS}"
            ),
        ),
        nothing(
            "Outlook web, nothing typed above the header block",
            crlf(&format!("\n\n{}{OURS}", outlook_header())),
        ),
    ]
}

#[test]
fn plain_replies_read_to_their_command() {
    check(&table());
}
