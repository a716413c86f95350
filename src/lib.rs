//! sijil: the mailbox daemon of a Registration Authority.
//!
//! A pure core decides (classify a message, check a pack, apply an event to a
//! case → new state and emails to send); thin edges do the I/O (IMAP or
//! Maildir in, the sled store, the outbox, the web links).

pub mod address;
pub mod apply;
pub mod bounce;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod documents;
pub mod failpoint;
pub mod fetcher;
pub mod inbound;
pub mod mailbox;
pub mod outbox;
pub mod pack_check;
pub mod render;
pub mod store;
pub mod tls;
pub mod transport;
pub mod web;
