//! sijil: the mailbox daemon of a Registration Authority.
//!
//! A pure core decides (classify a message, check a pack, apply an event to a
//! case → new state and emails to send); thin edges do the I/O (IMAP or
//! Maildir in, the sled store, the outbox, the web links).

pub mod address;
pub mod apply;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod edge;
pub mod failpoint;
pub mod metrics;
pub mod pack_check;
pub mod pki;
pub mod web;
