//! What kind of message this is, in the order of SPEC §2.
//!
//! Pure: the parsed message and the configuration in, a [`Class`] out. Who
//! the sender is relative to a particular case (owning developer, signee) is
//! decided later, by the part of the core that has the case at hand.

use regex::Regex;

use crate::config::Config;
use crate::core::message::Inbound;

/// The classes of SPEC §2, in the order they are tested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// mail-parser could not read it at all.
    Malformed,
    /// Written by a machine: never answered. `report` marks a delivery or
    /// disposition report (`multipart/report`).
    Automated { why: &'static str, report: bool },
    /// The subject carries a case reference.
    CaseReply { reference: String },
    /// The subject carries an eSPA tag.
    EspaReply { espa: String },
    /// A registered developer registering an eSPA.
    Registration,
    /// A registered developer sending an application pack.
    Pack,
    /// Anyone else: quarantined without a reply.
    Unknown,
}

/// Compiled once from the configuration.
pub struct Classifier {
    case_ref: Regex,
    espa_tag: Regex,
    registration: Regex,
    own_addresses: Vec<String>,
}

impl Classifier {
    pub fn new(cfg: &Config) -> Classifier {
        let prefix = regex::escape(&cfg.case.reference_prefix);
        Classifier {
            // Bracketed as we send it; a bare reference also counts, since
            // some clients and people drop the brackets when replying.
            case_ref: Regex::new(&format!(
                r"(?i)(?:^|[^A-Z0-9-])({prefix}-\d{{4}}-\d{{6}})(?:$|[^0-9])"
            ))
            .expect("constant pattern with an escaped prefix"),
            espa_tag: Regex::new(r"(?i)\[\s*eSPA\s+([A-Z]{2,10}-[0-9A-Z-]{2,30})\s*\]")
                .expect("constant pattern with an escaped prefix"),
            registration: Regex::new(r"(?i)^\s*(?:daftar\s+espa|espa\s+registration)\b")
                .expect("constant pattern with an escaped prefix"),
            own_addresses: [&cfg.outbound.from_ra.email, &cfg.outbound.from_hims.email]
                .iter()
                .map(|a| a.to_lowercase())
                .collect(),
        }
    }

    pub fn classify(&self, msg: &Inbound, cfg: &Config) -> Class {
        if msg.malformed {
            return Class::Malformed;
        }
        if let Some(why) = self.automated(msg) {
            return Class::Automated {
                why,
                report: msg.auto.report,
            };
        }
        if let Some(c) = self.case_ref.captures(&msg.subject) {
            return Class::CaseReply {
                reference: c[1].to_uppercase(),
            };
        }
        if let Some(c) = self.espa_tag.captures(&msg.subject) {
            return Class::EspaReply {
                espa: c[1].to_uppercase(),
            };
        }
        let from_developer = msg
            .from
            .as_deref()
            .is_some_and(|a| cfg.developer_for(a).is_some());
        if !from_developer {
            return Class::Unknown;
        }
        if self.registration.is_match(&msg.subject) {
            Class::Registration
        } else {
            Class::Pack
        }
    }

    /// SPEC §2 rule 1, plus mail from our own addresses (a loop).
    fn automated(&self, msg: &Inbound) -> Option<&'static str> {
        let a = &msg.auto;
        if a.report {
            return Some("delivery report");
        }
        if a.auto_submitted
            .as_deref()
            .is_some_and(|v| !v.starts_with("no"))
        {
            return Some("Auto-Submitted");
        }
        if a.precedence
            .as_deref()
            .is_some_and(|p| matches!(p, "bulk" | "junk" | "list"))
        {
            return Some("Precedence");
        }
        if a.list_id {
            return Some("List-Id");
        }
        if a.x_autoreply {
            return Some("X-Autoreply");
        }
        if msg.return_path.as_deref() == Some("") {
            return Some("null sender");
        }
        let Some(from) = msg.from.as_deref() else {
            return Some("no sender");
        };
        let local = from.split('@').next().unwrap_or(from);
        if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
            return Some("MAILER-DAEMON");
        }
        if self.own_addresses.iter().any(|own| own == from) {
            return Some("our own address");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::inbound::parse;

    fn cfg() -> Config {
        let mut cfg = Config::embedded_default();
        cfg.developers = vec![crate::config::Developer {
            company: "Seri Indah Development Sdn Bhd".into(),
            addresses: vec!["submit@seriindah.my".into()],
            domain: None,
        }];
        cfg
    }

    fn class(headers: &str) -> Class {
        let cfg = cfg();
        let raw = format!("{headers}\r\n\r\nbody\r\n");
        Classifier::new(&cfg).classify(&parse(raw.as_bytes()), &cfg)
    }

    #[test]
    fn classifies_in_spec_order() {
        let table: &[(&str, Class)] = &[
            (
                "From: submit@seriindah.my\r\nSubject: Permohonan Sijil Digital - Ali",
                Class::Pack,
            ),
            (
                "From: Submit@SeriIndah.my\r\nSubject: Daftar eSPA HDA-2026-000123",
                Class::Registration,
            ),
            (
                "From: submit@seriindah.my\r\nSubject: eSPA Registration HDA-1",
                Class::Registration,
            ),
            (
                "From: submit@seriindah.my\r\nSubject: Re: [SJL-2026-000123] Tidak lengkap",
                Class::CaseReply {
                    reference: "SJL-2026-000123".into(),
                },
            ),
            (
                "From: aina@ra.example.my\r\nSubject: RE: sjl-2026-000007 status",
                Class::CaseReply {
                    reference: "SJL-2026-000007".into(),
                },
            ),
            (
                "From: submit@seriindah.my\r\nSubject: Re: [eSPA HDA-2026-000123] EKYC",
                Class::EspaReply {
                    espa: "HDA-2026-000123".into(),
                },
            ),
            (
                "From: stranger@gmail.com\r\nSubject: Permohonan Sijil Digital",
                Class::Unknown,
            ),
            (
                "From: stranger@gmail.com\r\nSubject: Re: [SJL-2026-000123]",
                Class::CaseReply {
                    reference: "SJL-2026-000123".into(),
                },
            ),
            (
                "From: submit@seriindah.my\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office",
                Class::Automated {
                    why: "Auto-Submitted",
                    report: false,
                },
            ),
            (
                "From: submit@seriindah.my\r\nAuto-Submitted: no\r\nSubject: Permohonan",
                Class::Pack,
            ),
            (
                "From: submit@seriindah.my\r\nPrecedence: bulk\r\nSubject: x",
                Class::Automated {
                    why: "Precedence",
                    report: false,
                },
            ),
            (
                "From: submit@seriindah.my\r\nList-Id: <l.x>\r\nSubject: x",
                Class::Automated {
                    why: "List-Id",
                    report: false,
                },
            ),
            (
                "From: submit@seriindah.my\r\nX-Autorespond: 1\r\nSubject: x",
                Class::Automated {
                    why: "X-Autoreply",
                    report: false,
                },
            ),
            (
                "From: MAILER-DAEMON@mx.my\r\nSubject: Undelivered",
                Class::Automated {
                    why: "MAILER-DAEMON",
                    report: false,
                },
            ),
            (
                "From: postmaster@mx.my\r\nSubject: Undelivered",
                Class::Automated {
                    why: "MAILER-DAEMON",
                    report: false,
                },
            ),
            (
                "Return-Path: <>\r\nFrom: submit@seriindah.my\r\nSubject: x",
                Class::Automated {
                    why: "null sender",
                    report: false,
                },
            ),
            (
                "Subject: no from at all",
                Class::Automated {
                    why: "no sender",
                    report: false,
                },
            ),
        ];
        for (headers, want) in table {
            assert_eq!(&class(headers), want, "{headers}");
        }
    }

    #[test]
    fn our_own_mail_coming_back_is_a_loop() {
        let cfg = cfg();
        let raw = format!(
            "From: {}\r\nSubject: [SJL-2026-000001] x\r\n\r\nb",
            cfg.outbound.from_ra.email
        );
        let got = Classifier::new(&cfg).classify(&parse(raw.as_bytes()), &cfg);
        assert_eq!(
            got,
            Class::Automated {
                why: "our own address",
                report: false
            }
        );
    }

    #[test]
    fn delivery_reports_are_automated() {
        let cfg = cfg();
        let raw = "From: MAILER-DAEMON@mx.my\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nx\r\n--z--\r\n";
        let got = Classifier::new(&cfg).classify(&parse(raw.as_bytes()), &cfg);
        assert_eq!(
            got,
            Class::Automated {
                why: "delivery report",
                report: true
            }
        );
    }
}
