//! A visit to a signing link decided: open, ask for a code, sign, or
//! decline ([`visit`]); the emails and events each outcome makes.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::config::Config;
use crate::config::StaffRole;
use crate::core::case::{Actor, Case, Event, EventKind};
use crate::core::context::case_context;
use crate::core::effects::{CaseWrite, Effects};
use crate::core::email::{Email, FromAddress, Recipient, Template};
use crate::core::espa::context::{espa_context, signee_context};
use crate::core::espa::turn::{self, recipient};
use crate::core::espa::{Espa, EspaWrite, Route, SigneeState, thread_ref};
use crate::core::pin::MAX_WRONG_PINS;
use crate::core::view::{View, ViewResult};

use super::*;

/// The PIN, as the web edge found it: whether it opened the signee's
/// sealed key (`crate::pki::seal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    /// An `idsaya` signee: their certificate is not ours, no PIN is asked.
    NotNeeded,
    Right,
    Wrong,
}

/// A visit to a signing link.
#[derive(Debug, Clone, Copy)]
pub enum Visit<'a> {
    Open,
    /// "Send me a code".
    RequestCode,
    /// A signature: the typed code's keyed hash (see [`SignCode::mac`]) and
    /// the PIN's check.
    Sign {
        code_mac: &'a str,
        pin: PinCheck,
        client: Client<'a>,
        /// The PDF with the signature added, made by the web edge once the
        /// code and PIN were right; `None` when it could not be made (no
        /// certificate in force): the link is refused as not ready.
        pdf: Option<&'a SignedPdf>,
    },
    Decline {
        reason: &'a str,
        client: Client<'a>,
    },
}

impl Visit<'_> {
    fn name(&self) -> &'static str {
        match self {
            Visit::Open => "open",
            Visit::RequestCode => "code",
            Visit::Sign { .. } => "sign",
            Visit::Decline { .. } => "decline",
        }
    }
}

/// What the page says after a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No such link.
    Unknown,
    /// The link cannot sign (why).
    Refused(Status),
    /// The form; `code_live` when a code was sent and can still be typed.
    Shown {
        code_live: bool,
    },
    CodeSent,
    /// A code was sent less than a minute ago: wait this many seconds.
    CodeTooSoon {
        seconds: i64,
    },
    /// No code was asked for (or it was used up): ask for one.
    CodeMissing,
    CodeExpired,
    /// Wrong; `tries_left` before the code is void.
    CodeWrong {
        tries_left: u32,
    },
    /// The fifth wrong code: void, ask for a new one.
    CodeVoid,
    /// Right code, wrong PIN; `tries_left` before the lock.
    PinWrong {
        tries_left: u32,
    },
    /// The fifth wrong PIN: the certificate is locked.
    PinLocked,
    /// Signed; `completed` when it was the last signature.
    Signed {
        completed: bool,
    },
    Declined,
    /// A decline without a reason: nothing recorded.
    ReasonMissing,
}

/// The decision: what to apply, and what the page says.
#[derive(Debug, Clone)]
pub struct Decided {
    pub effects: Effects,
    pub outcome: Outcome,
    /// The eSPA as the decision saw it (with its signee's order), for the page.
    pub espa: Option<(Espa, u32)>,
}

/// Decides a visit to the signing link whose token hashes to
/// `token_sha256`.
pub fn visit(
    token_sha256: &str,
    visit: Visit<'_>,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Decided> {
    let Some((espa, order)) = view.espa_for_sign_link(token_sha256)? else {
        return Ok(Decided {
            effects: Effects {
                reason: "unknown signing link",
                ..Effects::default()
            },
            outcome: Outcome::Unknown,
            espa: None,
        });
    };
    let case = match espa.signee(order).and_then(|s| s.case_ref.as_deref()) {
        Some(reference) => view.case(reference)?,
        None => None,
    };
    let mut d = Decision::new(espa, order, now);
    let status = status(&d.espa, order, case.as_ref(), token_sha256, now);
    if status != Status::Current {
        d.effects.reason = "signing link refused";
        d.event(EventKind::SignLinkRefused {
            order,
            why: status.as_str().into(),
            visit: visit.name().into(),
        });
        return Ok(d.done(Outcome::Refused(status), false));
    }
    Ok(match visit {
        Visit::Open => {
            d.effects.reason = "signing page opened";
            d.event(EventKind::SignLinkOpened { order });
            let code_live = d.code_live();
            d.done(Outcome::Shown { code_live }, false)
        }
        Visit::RequestCode => d.request_code(),
        Visit::Sign {
            code_mac,
            pin,
            client,
            pdf,
        } => d.sign(code_mac, (pin, pdf), client, case, view, cfg)?,
        Visit::Decline { reason, client } => d.decline(reason, client, case, cfg),
    })
}

/// The decision being made, on the eSPA as read.
struct Decision {
    espa: Espa,
    order: u32,
    now: DateTime<Utc>,
    effects: Effects,
}

impl Decision {
    fn new(espa: Espa, order: u32, now: DateTime<Utc>) -> Decision {
        Decision {
            espa,
            order,
            now,
            effects: Effects::default(),
        }
    }

    fn actor(&self) -> Actor {
        Actor::Signee(
            self.espa
                .signee(self.order)
                .map(|s| s.email.clone())
                .unwrap_or_default(),
        )
    }

    fn event(&mut self, what: EventKind) {
        let event = Event {
            at: self.now,
            actor: self.actor(),
            what,
        };
        self.effects
            .events
            .push((thread_ref(&self.espa.reference), event));
    }

    /// Records `what` on the eSPA, and on the signee's case when they
    /// have one (a signature or a decline is part of both histories).
    fn event_with_case(&mut self, case_ref: Option<&str>, what: EventKind) {
        if let Some(reference) = case_ref {
            let event = Event {
                at: self.now,
                actor: self.actor(),
                what: what.clone(),
            };
            self.effects.events.push((reference.to_string(), event));
        }
        self.event(what);
    }

    fn signee(&mut self) -> &mut crate::core::espa::Signee {
        let order = self.order;
        self.espa
            .signees
            .iter_mut()
            .find(|s| s.order == order)
            .unwrap_or_else(|| unreachable!("the status found signee {order}"))
    }

    fn code_live(&self) -> bool {
        self.espa
            .signee(self.order)
            .and_then(|s| s.code.as_ref())
            .is_some_and(|c| !c.void && self.now < c.expires_at)
    }

    /// The effects to apply, the eSPA written one version on when `write`.
    fn done(mut self, outcome: Outcome, write: bool) -> Decided {
        if write {
            self.espa.version += 1;
            self.espa.updated_at = self.now;
            self.effects.espas.push(EspaWrite {
                espa: self.espa.clone(),
                new: false,
            });
        }
        Decided {
            effects: self.effects,
            outcome,
            espa: Some((self.espa, self.order)),
        }
    }

    fn request_code(mut self) -> Decided {
        let now = self.now;
        let order = self.order;
        if let Some(code) = &self.signee().code {
            let wait = code.issued_at + TimeDelta::seconds(CODE_EVERY_SECONDS) - now;
            if wait > TimeDelta::zero() {
                self.effects.reason = "code asked for too soon";
                self.event(EventKind::CodeRefused {
                    order,
                    why: "too_soon".into(),
                });
                let seconds = (wait.num_milliseconds() + 999) / 1000;
                return self.done(Outcome::CodeTooSoon { seconds }, false);
            }
        }
        self.signee().code = Some(SignCode {
            mac: String::new(),
            issued_at: now,
            expires_at: now + TimeDelta::minutes(CODE_MINUTES),
            wrong: 0,
            void: false,
        });
        self.effects.reason = "code sent";
        self.event(EventKind::CodeSent { order });
        let signee = self.signee().clone();
        let mut ctx = espa_context(&self.espa);
        ctx["signee"] = signee_context(&signee);
        ctx["minutes"] = json!(CODE_MINUTES);
        self.effects.emails.push(Email {
            template: Template::SignCode,
            from: FromAddress::Hims,
            to: vec![recipient(&signee)],
            case_ref: Some(thread_ref(&self.espa.reference)),
            thread: self.espa.thread.clone(),
            context: ctx,
        });
        self.effects
            .sign_codes
            .push((self.espa.reference.clone(), order));
        self.done(Outcome::CodeSent, true)
    }

    fn sign(
        mut self,
        code_mac: &str,
        (pin, pdf): (PinCheck, Option<&SignedPdf>),
        client: Client<'_>,
        case: Option<Case>,
        view: &impl View,
        cfg: &Config,
    ) -> ViewResult<Decided> {
        let now = self.now;
        let order = self.order;
        let refuse = |mut d: Decision, why: &str, outcome, write| {
            d.effects.reason = "code refused";
            d.event(EventKind::CodeRefused {
                order,
                why: why.into(),
            });
            d.done(outcome, write)
        };
        let Some(code) = self.signee().code.clone() else {
            return Ok(refuse(self, "missing", Outcome::CodeMissing, false));
        };
        if code.void {
            return Ok(refuse(self, "void", Outcome::CodeVoid, false));
        }
        if now >= code.expires_at {
            return Ok(refuse(self, "expired", Outcome::CodeExpired, false));
        }
        if !code_matches(&code.mac, code_mac) {
            let wrong = code.wrong + 1;
            let void = wrong >= MAX_WRONG_CODES;
            if let Some(c) = self.signee().code.as_mut() {
                c.wrong = wrong;
                c.void = void;
            }
            let outcome = if void {
                Outcome::CodeVoid
            } else {
                Outcome::CodeWrong {
                    tries_left: MAX_WRONG_CODES - wrong,
                }
            };
            return Ok(refuse(self, "wrong", outcome, true));
        }
        let route = self.signee().route;
        if route == Route::Manual && pin != PinCheck::Right {
            return Ok(self.wrong_pin(case, cfg));
        }
        let current = self.espa.current_sha256().to_string();
        let Some(pdf) = pdf.filter(|p| p.base_sha256 == current) else {
            self.effects.reason = "no signed PDF";
            self.event(EventKind::SignLinkRefused {
                order,
                why: "no certificate to sign with".into(),
                visit: "sign".into(),
            });
            return Ok(self.done(Outcome::Refused(Status::NotReady), true));
        };
        self.signed(route, client, pdf, view, cfg)
    }

    /// A wrong PIN with the right code: counted on the case; the fifth
    /// locks the certificate and tells the staff holding the case.
    fn wrong_pin(mut self, case: Option<Case>, cfg: &Config) -> Decided {
        let Some(mut case) = case else {
            return self.done(Outcome::Refused(Status::NotReady), false);
        };
        let now = self.now;
        let order = self.order;
        case.pin.failures += 1;
        let failures = case.pin.failures;
        let locked = failures >= MAX_WRONG_PINS;
        let what = EventKind::PinWrong {
            order,
            failures,
            locked,
        };
        self.effects.events.push((
            case.reference.clone(),
            Event {
                at: now,
                actor: self.actor(),
                what: what.clone(),
            },
        ));
        self.event(what);
        self.effects.reason = "wrong pin";
        let outcome = if locked {
            case.pin.locked_at = Some(now);
            self.signee().state = SigneeState::Waiting;
            self.event(EventKind::SigneeNotReady {
                order,
                why: "certificate locked".into(),
            });
            let mut ctx = case_context(&case);
            ctx["failures"] = json!(failures);
            ctx["espa_ref"] = json!(self.espa.reference);
            for to in keepers(cfg) {
                self.effects.emails.push(Email {
                    template: Template::PinLocked,
                    from: FromAddress::Ra,
                    to: vec![to],
                    case_ref: Some(case.reference.clone()),
                    thread: case.thread.clone(),
                    context: ctx.clone(),
                });
            }
            Outcome::PinLocked
        } else {
            Outcome::PinWrong {
                tries_left: MAX_WRONG_PINS - failures,
            }
        };
        case.updated_at = now;
        self.effects.cases.push(CaseWrite { case, new: None });
        // The eSPA is written too: its version orders this after any other
        // visit decided on the same record.
        self.done(outcome, true)
    }

    fn signed(
        mut self,
        route: Route,
        client: Client<'_>,
        pdf: &SignedPdf,
        view: &impl View,
        cfg: &Config,
    ) -> ViewResult<Decided> {
        let now = self.now;
        let order = self.order;
        let document_sha256 = pdf.base_sha256.clone();
        self.espa.signed_pdf = Some(pdf.clone());
        let signature = Signature {
            at: now,
            document_sha256: document_sha256.clone(),
            signed_sha256: Some(pdf.sha256.clone()),
            certificate_serial: Some(pdf.certificate_serial.clone()),
            route,
            client_ip: client.ip.to_string(),
            user_agent: cut(client.user_agent, 300),
        };
        let signee = self.signee();
        signee.state = SigneeState::Signed;
        signee.signature = Some(signature.clone());
        signee.code = None;
        if let Some(link) = signee.sign_link.as_mut() {
            link.used_at = Some(now);
        }
        let signee = signee.clone();
        let what = EventKind::Signed {
            order,
            route: route.as_str().into(),
            document_sha256: document_sha256.clone(),
            client_ip: signature.client_ip.clone(),
            user_agent: signature.user_agent.clone(),
        };
        self.event_with_case(signee.case_ref.as_deref(), what);
        self.effects.reason = "signed";
        let tag = thread_ref(&self.espa.reference);
        let signature_ctx = json!({
            "at": cfg.general.local_time(now),
            "route": route.as_str(),
            "document_sha256": document_sha256,
        });
        let mut ctx = espa_context(&self.espa);
        ctx["signee"] = signee_context(&signee);
        ctx["signature"] = signature_ctx.clone();
        self.effects.emails.push(Email {
            template: Template::Signed,
            from: FromAddress::Ra,
            to: vec![recipient(&signee)],
            case_ref: Some(tag.clone()),
            thread: self.espa.thread.clone(),
            context: ctx,
        });
        turn::advance(&mut self.espa, view, &mut self.effects, cfg, now)?;
        let completed = self.espa.completed_at.is_some();
        if !completed {
            let mut ctx = espa_context(&self.espa);
            ctx["signer"] = signee_context(&signee);
            ctx["signature"] = signature_ctx;
            let remaining = self
                .espa
                .signees
                .iter()
                .filter(|s| s.state != SigneeState::Signed)
                .count();
            ctx["remaining"] = json!(remaining);
            if let Some(next) = turn::next(&self.espa).and_then(|n| self.espa.signee(n)) {
                ctx["next"] = signee_context(next);
                ctx["next_waiting"] = json!(next.state != SigneeState::Ready);
            }
            self.effects.emails.push(Email {
                template: Template::EspaProgress,
                from: FromAddress::Ra,
                to: vec![developer(&self.espa)],
                case_ref: Some(tag),
                thread: self.espa.thread.clone(),
                context: ctx,
            });
        }
        Ok(self.done(Outcome::Signed { completed }, true))
    }

    fn decline(
        mut self,
        reason: &str,
        client: Client<'_>,
        case: Option<Case>,
        cfg: &Config,
    ) -> Decided {
        let reason = cut(reason.trim(), MAX_REASON_CHARS);
        if reason.is_empty() {
            self.effects.reason = "decline without a reason";
            return self.done(Outcome::ReasonMissing, false);
        }
        let now = self.now;
        let order = self.order;
        let signee = self.signee();
        signee.state = SigneeState::Declined;
        signee.declined = Some(Decline {
            at: now,
            reason: reason.clone(),
            client_ip: client.ip.to_string(),
            user_agent: cut(client.user_agent, 300),
        });
        signee.code = None;
        if let Some(link) = signee.sign_link.as_mut() {
            link.used_at = Some(now);
        }
        let signee = signee.clone();
        let what = EventKind::SignDeclined {
            order,
            reason: reason.clone(),
        };
        self.event_with_case(signee.case_ref.as_deref(), what);
        self.effects.reason = "declined";
        let mut ctx = espa_context(&self.espa);
        ctx["signee"] = signee_context(&signee);
        ctx["reason"] = json!(reason);
        ctx["at"] = json!(cfg.general.local_time(now));
        let mut to = vec![developer(&self.espa)];
        if case.is_some() {
            to.extend(keepers(cfg));
        }
        let tag = thread_ref(&self.espa.reference);
        for r in to {
            self.effects.emails.push(Email {
                template: Template::EspaDeclined,
                from: FromAddress::Ra,
                to: vec![r],
                case_ref: Some(tag.clone()),
                thread: self.espa.thread.clone(),
                context: ctx.clone(),
            });
        }
        self.done(Outcome::Declined, true)
    }
}

/// The staff who hold an active certificate: QC officers and
/// administrators, who may `RESET-PIN` it (each once).
fn keepers(cfg: &Config) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    for s in cfg
        .staff_with(StaffRole::Qc)
        .chain(cfg.staff_with(StaffRole::Admin))
    {
        if !out.iter().any(|r| r.email.eq_ignore_ascii_case(&s.address)) {
            out.push(Recipient {
                name: Some(s.name.clone()),
                email: s.address.clone(),
            });
        }
    }
    out
}

fn developer(espa: &Espa) -> Recipient {
    Recipient {
        name: Some(espa.company.clone()).filter(|c| !c.is_empty()),
        email: espa.developer_address.clone(),
    }
}

fn cut(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
