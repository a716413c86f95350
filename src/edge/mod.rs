//! The edges: everything that does I/O, each around one outside thing.
//!
//! | module | its job |
//! |---|---|
//! | [`mailbox`] | the inbound mailbox: IMAP (session, IDLE, fetch, filing, checkpoint) or Maildir |
//! | [`fetcher`] | the mailbox task: fetches ahead, parses on the blocking pool, files when told |
//! | [`inbound`] | a raw message → the facts the core needs (mail-parser, large base64 bodies, delivery reports) |
//! | [`render`] | Handlebars templates → RFC 5322 messages |
//! | [`outbox`] | the durable outbox's courier: attempts counted, back-off, outcomes applied |
//! | [`transport`] | SMTP (pooled, pipelined) or a Maildir for what the outbox sends |
//! | [`documents`] | document bytes in append-only segment files |
//! | [`store`] | sled: cases, history, outbox, indexes, exactly-once, migrations |
//! | [`tls`] | the rustls client configuration both mail edges use |

pub mod completion;
pub mod documents;
pub mod fetcher;
pub mod inbound;
pub mod mailbox;
pub mod outbox;
pub mod render;
pub mod store;
pub mod tls;
pub mod transport;
