//! `Daemon`: the real `sijil run` binary, in one of three set-ups:
//! - [`Daemon::start`] / [`Daemon::configure`]: against a [`MailServers`] pair (IMAP mailbox in,
//!   SMTP out), its store, password file, config and log in its own directory under the servers'
//!   temp dir;
//! - [`Daemon::maildir`]: Maildir in (`root/mail`), Maildir out (`root/outbox`), no mail server;
//! - [`Daemon::embedded`]: no configuration file at all (the embedded default, `root/var/…`).
//!
//! The store persists across [`Daemon::restart`]; every run's output is appended to one log.

use std::fs;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::TestDir;
use super::config::{Inbound, Outbound, config, edit_config, write_config};
use super::process::{free_port, signal_pid, tail};
use super::servers::MailServers;
use super::wait::until_sync;

/// The RA mailbox the daemon reads (IMAP user) and its From address.
pub const RA_ADDRESS: &str = "kpkt.retail@ra.example.my";
/// The HIMS sender address (EMEL 0 and 4, CODE, COMPLETED).
pub const HIMS_ADDRESS: &str = "noreply@hims.example.my";
/// The one registered developer's sender address.
pub const DEVELOPER: &str = "submit@seriindah.my";
/// The registered developer's company name.
pub const DEVELOPER_COMPANY: &str = "Seri Indah Development Sdn Bhd";
/// Staff with role `verifier` (Aina).
pub const VERIFIER: &str = "aina@ra.example.my";
/// Staff with role `officer` (Badrul).
pub const OFFICER: &str = "badrul@ra.example.my";
/// Staff with role `qc` (Chong).
pub const QC: &str = "chong@ra.example.my";
/// The signee of [`crate::support::packs::Pack::mykad_valid`] (Ali bin Abu, order 2).
pub const SIGNEE: &str = "ali@buyer.example.com";

/// How long a start waits for the ready line unless [`Daemon::ready_within`] says otherwise.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The line `sijil run` logs once it serves.
const READY_LINE: &str = "sijil ready";
/// The log filter of a run unless the environment or [`Daemon::log_filter`] says otherwise.
const LOG_FILTER: &str = "info,sijil=debug";

/// The embedded default listens on 127.0.0.1:8080: one such daemon at a time in a test process.
static PORT_8080: Mutex<()> = Mutex::new(());

/// A running (or stopped) `sijil run` process.
pub struct Daemon {
    /// Directory of this daemon's files: `sijil.toml`, `store/`, `sijil.log`, and per set-up
    /// `imap.pass` or `mail/` and `outbox/` (or, for the embedded default, `var/`).
    pub dir: PathBuf,
    /// Port of the web listener (`[web] listen`).
    pub web_port: u16,
    /// `http://127.0.0.1:<web_port>` (also `[web] base_url`).
    pub base_url: String,
    /// How long a start waits for the ready line (30 s unless a test sets it).
    pub ready_within: Duration,
    /// `SIJIL_LOG` of the runs; `None`: unset (the daemon's own default, `info`). By default
    /// `SIJIL_LOG` or `RUST_LOG` of the test's environment, else `info,sijil=debug`.
    pub log_filter: Option<String>,
    /// `None` for the embedded default (run without `--config`).
    config_path: Option<PathBuf>,
    log_path: PathBuf,
    child: Option<Child>,
    _port_8080: Option<MutexGuard<'static, ()>>,
    /// Removed after the process is gone (fields drop after [`Drop::drop`]).
    _dir: Option<TestDir>,
}

impl Daemon {
    /// Writes the IMAP + SMTP test configuration (see [`Daemon::configure`]) and starts the
    /// daemon; returns once it logged its ready line.
    pub fn start(servers: &MailServers) -> Daemon {
        Daemon::start_with(servers, |_| {})
    }

    /// Like [`Daemon::start`], after `edit` changed the configuration table (e.g.
    /// `cfg["security"]["require_authenticated_sender"] = true.into()`).
    pub fn start_with(servers: &MailServers, edit: impl FnOnce(&mut toml::Table)) -> Daemon {
        Daemon::configure(servers, edit).started()
    }

    /// Writes the configuration and files but does not start the process (start it with
    /// [`Daemon::started`], [`Daemon::spawn_and_wait`] or [`Daemon::spawn`]): IMAP mailbox
    /// [`RA_ADDRESS`] on the test Dovecot, SMTP out to the test Postfix (neither with TLS), web
    /// on a free port, store in `dir/store`, the test's developer and staff
    /// ([`super::config::config`]), then `edit`.
    pub fn configure(servers: &MailServers, edit: impl FnOnce(&mut toml::Table)) -> Daemon {
        let dir = (1..)
            .map(|n| match n {
                1 => servers.dir.join("sijil"),
                n => servers.dir.join(format!("sijil-{n}")),
            })
            .find(|d| !d.exists())
            .expect("a free daemon directory name");
        fs::create_dir_all(dir.join("store")).expect("create daemon dir");
        let password_file = dir.join("imap.pass");
        fs::write(&password_file, format!("{}\n", servers.password)).expect("write imap.pass");
        fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600))
            .expect("chmod imap.pass");
        let inbound = Inbound::Imap {
            port: servers.imap_port,
            password_file,
        };
        let outbound = Outbound::Smtp {
            port: servers.smtp_port,
        };
        Daemon::configured(dir, inbound, outbound, edit)
    }

    /// Maildir in, Maildir out, under `root` (not started; see [`Daemon::configure`]): the inbox
    /// `root/mail` (created, with `new/`, `cur/`, `tmp/`: deliver with [`Daemon::deliver`]),
    /// the outbox `root/outbox`, the store `root/store/sijil.db`, web on a free port, the test's
    /// developer and staff. Change more with [`Daemon::edit_config`].
    pub fn maildir(root: &Path) -> Daemon {
        for sub in ["new", "cur", "tmp"] {
            fs::create_dir_all(root.join("mail").join(sub)).expect("create the inbox Maildir");
        }
        fs::create_dir_all(root.join("store")).expect("create the store dir");
        let inbound = Inbound::Maildir(root.join("mail"));
        let outbound = Outbound::Maildir(root.join("outbox"));
        Daemon::configured(root.to_path_buf(), inbound, outbound, |_| {})
    }

    /// `sijil run` without a configuration file in `root` (not started): the embedded default,
    /// Maildir in `root/var/mail`, out `root/var/outbox`, web on 127.0.0.1:8080 (held for this
    /// daemon's life, so such daemons of one test binary take turns), the daemon's own log level.
    pub fn embedded(root: &Path) -> Daemon {
        let port = PORT_8080.lock().unwrap_or_else(|e| e.into_inner());
        Daemon {
            dir: root.to_path_buf(),
            web_port: 8080,
            base_url: "http://127.0.0.1:8080".into(),
            ready_within: READY_TIMEOUT,
            log_filter: None,
            config_path: None,
            log_path: root.join("sijil.log"),
            child: None,
            _port_8080: Some(port),
            _dir: None,
        }
    }

    fn configured(
        dir: PathBuf,
        inbound: Inbound,
        outbound: Outbound,
        edit: impl FnOnce(&mut toml::Table),
    ) -> Daemon {
        let web_port = free_port();
        let mut table = config(inbound, outbound, web_port, &dir.join("store/sijil.db"));
        edit(&mut table);
        let config_path = dir.join("sijil.toml");
        write_config(&config_path, &table);
        let log_filter = ["SIJIL_LOG", "RUST_LOG"]
            .iter()
            .find_map(|k| std::env::var(k).ok())
            .unwrap_or_else(|| LOG_FILTER.into());
        Daemon {
            log_path: dir.join("sijil.log"),
            base_url: format!("http://127.0.0.1:{web_port}"),
            dir,
            web_port,
            ready_within: READY_TIMEOUT,
            log_filter: Some(log_filter),
            config_path: Some(config_path),
            child: None,
            _port_8080: None,
            _dir: None,
        }
    }

    /// Starts the process and waits for its ready line (see [`Daemon::spawn_and_wait`]); should
    /// another process take the web port first, moves it and tries again.
    pub fn started(mut self) -> Daemon {
        for _attempt in 0..3 {
            match self.try_spawn_and_wait(&[]) {
                Ok(()) => return self,
                Err(e) if e.contains("in use") && self.move_web_port() => continue,
                Err(e) => panic!("{e}"),
            }
        }
        self.spawn_and_wait();
        self
    }

    /// Keeps `dir` (this daemon's root) as long as the daemon: removed once the process is gone.
    pub fn owning(mut self, dir: TestDir) -> Daemon {
        self._dir = Some(dir);
        self
    }

    /// Path of the configuration file (panics for [`Daemon::embedded`], which has none).
    pub fn config_path(&self) -> &Path {
        self.config_path
            .as_deref()
            .expect("the embedded default runs without a configuration file")
    }

    /// `dir/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The store (`dir/store/sijil.db`; its documents are `sijil.db.documents` beside it), unless
    /// the configuration was edited to put it elsewhere.
    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store/sijil.db")
    }

    /// Delivers `raw` into the Maildir inbox `dir/<inbox>` as an MTA does: written into `tmp/`,
    /// renamed into `new/` under `name`.
    pub fn deliver(&self, inbox: &str, name: &str, raw: &[u8]) {
        deliver(&self.dir.join(inbox), name, raw);
    }

    /// Path of the combined stdout/stderr log (all runs appended).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        self.log_since(0)
    }

    /// The log's length in bytes now: where the next lines will start (see
    /// [`Daemon::log_since`]).
    pub fn log_offset(&self) -> u64 {
        fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0)
    }

    /// The log from byte `offset` on.
    pub fn log_since(&self, offset: u64) -> String {
        let mut text = Vec::new();
        if let Ok(mut f) = fs::File::open(&self.log_path)
            && f.seek(std::io::SeekFrom::Start(offset)).is_ok()
        {
            let _ = f.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Rewrites the configuration file through `edit`; takes effect at the next start.
    pub fn edit_config(&self, edit: impl FnOnce(&mut toml::Table)) {
        edit_config(self.config_path(), edit);
    }

    /// Starts the process without waiting for readiness (it may be expected to fail).
    pub fn spawn(&mut self) {
        self.spawn_with(&[]);
    }

    /// [`Daemon::spawn`] with more environment, e.g. `[("SIJIL_FAILPOINTS", "after_commit=1")]`
    /// (without it a run has no failpoints armed, whatever the test's environment says).
    pub fn spawn_with(&mut self, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "the daemon is already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open sijil.log");
        let err = log.try_clone().expect("clone log handle");
        let binary = binary();
        let mut cmd = Command::new(&binary);
        cmd.arg("run");
        if let Some(config) = &self.config_path {
            cmd.arg("--config").arg(config);
        }
        cmd.env_remove("SIJIL_CONFIG")
            .env_remove("SIJIL_FAILPOINTS")
            .env_remove("SIJIL_LOG")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .envs(env.iter().copied())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        if let Some(filter) = &self.log_filter {
            cmd.env("SIJIL_LOG", filter);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        // Lets the servers' watchdog kill the daemon if the test process dies abruptly.
        let _ = fs::write(self.dir.join("daemon.pid"), child.id().to_string());
        self.child = Some(child);
    }

    /// Starts the process and waits up to [`Daemon::ready_within`] for its ready line; panics
    /// with the log tail if it exits or times out first.
    pub fn spawn_and_wait(&mut self) {
        if let Err(e) = self.try_spawn_and_wait(&[]) {
            panic!("{e}");
        }
    }

    /// [`Daemon::spawn_with`] and wait for the ready line, returning the failure (with the log
    /// tail) instead of panicking.
    pub fn try_spawn_and_wait(&mut self, env: &[(&str, &str)]) -> Result<(), String> {
        let offset = self.log_offset();
        self.spawn_with(env);
        let deadline = Instant::now() + self.ready_within;
        loop {
            if self.log_since(offset).contains(READY_LINE) {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "sijil exited ({status}) before it was ready; log tail:\n{}",
                    tail(&self.log_path, 40)
                ));
            }
            if Instant::now() > deadline {
                self.kill();
                // The ready line is logged at info: a filter that hides sijil's info lines
                // hides it too.
                let filter = self
                    .log_filter
                    .as_ref()
                    .map(|f| format!(" (SIJIL_LOG={f}: the ready line is an info line of sijil)"))
                    .unwrap_or_default();
                return Err(format!(
                    "sijil not ready after {:?}{filter}; log tail:\n{}",
                    self.ready_within,
                    tail(&self.log_path, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (polling, up to `limit`) until `done` holds; panics with `what` on timeout, or as
    /// soon as the daemon exits meanwhile.
    pub fn until(&mut self, what: &str, limit: Duration, mut done: impl FnMut(&Daemon) -> bool) {
        until_sync(what, limit, || {
            if let Some(status) = self.exited() {
                panic!("sijil exited ({status}) while waiting for {what}");
            }
            done(self)
        });
    }

    /// Moves the web listener to another free port when the configuration still uses the one
    /// this helper chose (another process took it between the check and sijil's bind).
    fn move_web_port(&mut self) -> bool {
        if self.config_path.is_none() {
            return false;
        }
        let old_listen = format!("127.0.0.1:{}", self.web_port);
        let old_base = self.base_url.clone();
        let new_port = free_port();
        let mut moved = false;
        self.edit_config(|cfg| {
            let Some(web) = cfg.get_mut("web").and_then(|w| w.as_table_mut()) else {
                return;
            };
            if web.get("listen").and_then(|v| v.as_str()) != Some(old_listen.as_str()) {
                return;
            }
            web.insert("listen".into(), format!("127.0.0.1:{new_port}").into());
            if web.get("base_url").and_then(|v| v.as_str()) == Some(old_base.as_str()) {
                web.insert(
                    "base_url".into(),
                    format!("http://127.0.0.1:{new_port}").into(),
                );
            }
            moved = true;
        });
        if moved {
            self.web_port = new_port;
            self.base_url = format!("http://127.0.0.1:{new_port}");
        }
        moved
    }

    /// The exit status once the process has ended by itself (then it is no longer this
    /// daemon's process); `None` while it runs or when none was started.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.forget_child();
        Some(status)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.exited().is_none() && self.child.is_some()
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends SIGTERM and waits for the exit (up to 30 s, then SIGKILL and panic); returns the
    /// exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.pid().expect("the daemon is not running");
        signal_pid(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "sijil did not stop within 30 s of SIGTERM; log tail:\n{}",
                    tail(&self.log_path, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (a crash at an arbitrary moment); waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.forget_child();
        }
    }

    /// Stops (SIGTERM, if running) and starts again with the same config and store; waits for
    /// readiness.
    pub fn restart(&mut self) {
        if self.is_running() {
            self.stop();
        }
        self.spawn_and_wait();
    }

    /// Runs `sijil <args> --config <config>` (e.g. `["cases"]`, `["case", reference]`) to the
    /// end; for the commands that read a stopped daemon's store.
    pub fn command(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(binary());
        cmd.args(args);
        if let Some(config) = &self.config_path {
            cmd.arg("--config").arg(config);
        }
        cmd.env_remove("SIJIL_CONFIG")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run the sijil binary")
    }

    /// The value of metric `name` on the daemon's `/metrics` page, if it answers.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.web_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
    }

    fn forget_child(&mut self) {
        self.child = None;
        let _ = fs::remove_file(self.dir.join("daemon.pid"));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "sijil log tail ({}):\n{}",
                self.log_path.display(),
                tail(&self.log_path, 60)
            );
        }
        self.kill();
    }
}

/// The binary under test: `SIJIL_TEST_BIN` runs the tests against another build (e.g.
/// target/release/sijil), else this build's `sijil`.
pub fn binary() -> PathBuf {
    std::env::var_os("SIJIL_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sijil")))
}

/// Delivers `raw` into the Maildir `maildir` as an MTA does: written into `tmp/`, renamed into
/// `new/` under `name`.
pub fn deliver(maildir: &Path, name: &str, raw: &[u8]) {
    let tmp = maildir.join("tmp").join(name);
    fs::write(&tmp, raw).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    fs::rename(&tmp, maildir.join("new").join(name)).expect("rename into new/");
}
