//! Reading a fetched message: parsing and classifying it on the blocking
//! pool, one message per core at once, with a panic in either turned into
//! a quarantined message instead of a crash.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::core::classify::{Class, Classifier};
use crate::core::message::Inbound;
use crate::edge::inbound;

/// A message read and classified: what the core decides on.
pub struct Parsed {
    pub msg: Inbound,
    pub class: Class,
    /// The classifier panicked on this message: quarantine it undecided.
    /// (A parser panic yields a malformed message, which is decided as such.)
    pub panicked: bool,
}

/// Parses and classifies on the blocking pool, a few at a time.
#[derive(Clone)]
pub struct Parser {
    cfg: Arc<Config>,
    classifier: Arc<Classifier>,
    /// One message per core at once: more would only compete for the CPU
    /// with each other and with the mail server.
    slots: Arc<Semaphore>,
}

impl Parser {
    pub fn new(cfg: Arc<Config>) -> Parser {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Parser {
            classifier: Arc::new(Classifier::new(&cfg)),
            cfg,
            slots: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Starts reading `raw` (only the header of a message of `oversize`
    /// bytes, when set); the handle yields the parsed message.
    pub fn spawn(&self, raw: Vec<u8>, oversize: Option<u64>) -> JoinHandle<Parsed> {
        let parser = self.clone();
        tokio::spawn(async move {
            // The semaphore is never closed, so this cannot fail.
            let _slot = parser.slots.clone().acquire_owned().await;
            let worker = parser.clone();
            match tokio::task::spawn_blocking(move || worker.parse(&raw, oversize)).await {
                Ok(parsed) => parsed,
                // `parse` catches panics, so this is a cancelled task: the
                // runtime is shutting down.
                Err(e) => {
                    tracing::error!(error = %e, "parser task failed");
                    Parsed {
                        msg: Inbound {
                            malformed: true,
                            ..Inbound::default()
                        },
                        class: Class::Malformed,
                        panicked: true,
                    }
                }
            }
        })
    }

    /// Parses and classifies one message (from its header alone when it is
    /// over the size limit: `oversize` is then its size). The core is pure
    /// and should never panic; if it does on some odd message, that message
    /// is quarantined instead of crashing the daemon into a restart loop on
    /// the same input.
    pub fn parse(&self, raw: &[u8], oversize: Option<u64>) -> Parsed {
        let parsed = std::panic::catch_unwind(|| match oversize {
            Some(size) => inbound::parse_header(raw, size),
            None => inbound::parse(raw),
        });
        let msg = parsed.unwrap_or_else(|_| {
            tracing::error!("parser panicked; quarantining the message");
            Inbound {
                key: format!("sha256:{}", inbound::sha256_hex(raw)),
                size: oversize.unwrap_or(raw.len() as u64),
                oversize: oversize.is_some(),
                malformed: true,
                ..Inbound::default()
            }
        });
        let mut panicked = false;
        let class = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.classifier.classify(&msg, &self.cfg)
        }))
        .unwrap_or_else(|_| {
            tracing::error!("classifier panicked; quarantining the message");
            panicked = true;
            Class::Malformed
        });
        Parsed {
            msg,
            class,
            panicked,
        }
    }
}
