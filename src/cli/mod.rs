//! The `sijil` command line (SPEC §10): parse, load the configuration,
//! dispatch, and turn every error into a clear message and an exit code
//! (0 done, 1 failure, 2 configuration, 3 login refused).
//!
//! `src/main.rs` only calls [`main`]; the `cases` and `case` listings are in
//! `cases` (a history in plain words in `history`), the purge in `purge`,
//! the check of an audit trail in `audit`, and how they all write their
//! output in `out`.

mod audit;
mod cases;
mod out;
mod pki;
mod purge;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::daemon::{self, RunError};
use crate::edge::store::Store;

/// Exit codes an operator (or systemd) can tell apart.
mod exit {
    pub const FAILURE: u8 = 1;
    pub const CONFIG: u8 = 2;
    pub const LOGIN: u8 = 3;
}

#[derive(Parser)]
#[command(
    name = "sijil",
    version,
    about = "The mailbox daemon of a Registration Authority"
)]
struct Cli {
    /// The configuration file; without one, the embedded default.
    #[arg(long, global = true, env = "SIJIL_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run,
    /// Check the configuration and explain every mistake.
    CheckConfig {
        /// The file to check (same as --config).
        path: Option<PathBuf>,
    },
    /// List the cases (the daemon must be stopped: the store is its own).
    Cases,
    /// Show one case with its history.
    Case {
        /// The case reference, e.g. SJL-2026-000123.
        reference: String,
        /// Print it as one JSON object, for scripts (times in UTC).
        #[arg(long)]
        json: bool,
    },
    /// The audit trail of a case or an eSPA (the daemon must be stopped).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Purge now what the retention rule says has been kept long enough
    /// (the daemon does this every hour; it must be stopped).
    Purge {
        /// Only list what would be destroyed.
        #[arg(long)]
        dry_run: bool,
    },
    /// The issuing CA.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Check every signature of a signed eSPA PDF (exit 0 only when all hold).
    Verify {
        /// The signed PDF.
        file: PathBuf,
        /// The CA certificate (PEM) the signatures must chain to; by
        /// default the configured CA's.
        #[arg(long, value_name = "CERT")]
        ca: Option<PathBuf>,
        /// A CRL (from `sijil ca crl`): a certificate on it does not hold.
        #[arg(long, value_name = "CRL")]
        crl: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Make a self-signed test CA in DIR (ca.pem, ca.key) for [ca].
    Init {
        /// Where to write ca.pem and ca.key (never overwritten).
        dir: PathBuf,
    },
    /// Write the CRL: every certificate RESET-PIN revoked (the daemon must be stopped).
    Crl {
        /// Write it here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check that the hash chain of its history is intact; exit 1 and
    /// name the event where it is not.
    Verify {
        /// A case (SJL-2026-000123) or an eSPA (HDA-2026-000123).
        reference: String,
    },
}

/// The whole command: parses the arguments, sets up logging, loads the
/// configuration and runs the subcommand; the exit code says how it went.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIJIL_LOG")
                .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    if let Command::Ca {
        command: CaCommand::Init { dir },
    } = &cli.command
    {
        return out::to_stdout(|out| pki::init(dir, out));
    }
    let path = match &cli.command {
        Command::CheckConfig { path: Some(p) } => Some(p.clone()),
        _ => cli.config.clone(),
    };
    let cfg = match Config::load(path.as_deref()) {
        Ok(cfg) => cfg,
        Err(errors) => {
            let name = path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            eprintln!(
                "sijil: the configuration {name} has {} mistake(s):",
                errors.0.len()
            );
            eprintln!("{errors}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    match cli.command {
        Command::CheckConfig { .. } => out::to_stdout(|out| {
            for w in cfg.warnings() {
                writeln!(out, "warning: {w}")?;
            }
            let source = cfg
                .source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the embedded default".into());
            if let Some(ca) = &cfg.ca {
                let ra = cfg.outbound.from_ra.email.as_str();
                if let Err(e) = crate::pki::Authority::load(ca, ra, chrono::Utc::now()) {
                    return Err(out::Stop::Config(format!("ca: {e}")));
                }
            }
            writeln!(out, "sijil: {source} is a valid configuration")?;
            Ok(())
        }),
        Command::Run => {
            for w in cfg.warnings() {
                tracing::warn!(key = %w.key, "{}", w.message);
            }
            run(cfg)
        }
        Command::Cases => with_store(&cfg, |store, out| cases::list(store, &cfg, out)),
        Command::Case { reference, json } => with_store(&cfg, |store, out| {
            cases::show(store, &cfg, &reference, json, out)
        }),
        Command::Audit {
            command: AuditCommand::Verify { reference },
        } => with_store(&cfg, |store, out| {
            audit::verify(store, &cfg, &reference, out)
        }),
        Command::Purge { dry_run: true } => {
            with_store(&cfg, |store, out| purge::dry_run(store, &cfg, out))
        }
        Command::Purge { dry_run: false } => {
            with_store(&cfg, |store, out| purge::now(store, &cfg, out))
        }
        Command::Ca {
            command: CaCommand::Crl { out: to },
        } => with_store(&cfg, |store, out| pki::crl(store, &cfg, to.as_deref(), out)),
        Command::Ca {
            command: CaCommand::Init { .. },
        } => unreachable!("handled before the configuration is loaded"),
        Command::Verify { file, ca, crl } => {
            out::to_stdout(|out| pki::verify(&cfg, &file, ca.as_deref(), crl.as_deref(), out))
        }
    }
}

fn run(cfg: Config) -> ExitCode {
    keep_large_buffers_out_of_the_heap();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sijil: cannot start the runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(daemon::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "sijil cannot run");
            eprintln!("sijil: {e}");
            ExitCode::from(match e {
                RunError::LoginRefused(_) => exit::LOGIN,
                RunError::Listen { .. } | RunError::Ca(_) => exit::CONFIG,
                _ => exit::FAILURE,
            })
        }
    }
}

/// Opens the store (the daemon must be stopped) and runs `f` on it,
/// writing to stdout.
fn with_store(
    cfg: &Config,
    f: impl FnOnce(&Store, &mut dyn Write) -> Result<(), out::Stop>,
) -> ExitCode {
    let store = match Store::open(&cfg.store.path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "sijil: cannot open the store at {} ({e}); is the daemon running?",
                cfg.store.path.display()
            );
            return ExitCode::from(exit::FAILURE);
        }
    };
    out::to_stdout(|out| f(&store, out))
}

/// glibc's defaults grow the heap without bound here: its mmap threshold
/// rises each time a large block is freed, after which multi-megabyte
/// buffers (a message, its decoded documents) come from the arenas of the
/// parsing threads (one arena per thread, up to 8 per core) and stay there
/// once freed. Measured draining 400 packs of 2 MB (`scripts/bench --only
/// rss --rss-n 400`): glibc's defaults peaked at 97.6 MiB; a fixed 128 KiB
/// threshold at 49.7 MiB, but every buffer then came fresh from the kernel
/// and page faults took 18 % of the daemon's CPU (56–61 packs/s); two
/// arenas, a fixed threshold above any message and trimming from 128 KiB
/// peak at 69–71 MiB and run at 70–78 packs/s.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any
    // thread of ours exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
}
