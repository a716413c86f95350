//! `Daemon`: the real `sijil run` binary, configured against a [`MailServers`] pair (IMAP
//! mailbox in, SMTP out), with its store, password file, config and log in its own directory
//! under the servers' temp dir. The store persists across [`Daemon::restart`].

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::process::{free_port, signal_pid, tail};
use super::servers::MailServers;

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

/// How long `sijil run` gets to log its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or stopped) `sijil run` process.
pub struct Daemon {
    /// Directory of this daemon's files: `sijil.toml`, `imap.pass`, `store/`, `sijil.log`.
    pub dir: PathBuf,
    /// Port of the web listener (`[web] listen`).
    pub web_port: u16,
    /// `http://127.0.0.1:<web_port>` (also `[web] base_url`).
    pub base_url: String,
    config_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// Writes the default test configuration (see [`Daemon::default_config`]) and starts the
    /// daemon; returns once it logged its ready line.
    pub fn start(servers: &MailServers) -> Daemon {
        Daemon::start_with(servers, |_| {})
    }

    /// Like [`Daemon::start`], after `edit` changed the configuration table (e.g.
    /// `cfg["security"]["require_authenticated_sender"] = true.into()`).
    pub fn start_with(servers: &MailServers, edit: impl FnOnce(&mut toml::Table)) -> Daemon {
        let mut daemon = Daemon::configure(servers, edit);
        for _attempt in 0..3 {
            match daemon.try_spawn_and_wait() {
                Ok(()) => return daemon,
                Err(e) if e.contains("in use") && daemon.move_web_port() => continue,
                Err(e) => panic!("{e}"),
            }
        }
        daemon.spawn_and_wait();
        daemon
    }

    /// Writes the configuration and files but does not start the process (for tests of start-up
    /// failures: call [`Daemon::spawn`] or run the binary yourself with [`Daemon::config_path`]).
    pub fn configure(servers: &MailServers, edit: impl FnOnce(&mut toml::Table)) -> Daemon {
        let dir = (1..)
            .map(|n| {
                if n == 1 {
                    servers.dir.join("sijil")
                } else {
                    servers.dir.join(format!("sijil-{n}"))
                }
            })
            .find(|d| !d.exists())
            .expect("a free daemon directory name");
        fs::create_dir_all(dir.join("store")).expect("create daemon dir");
        let password_file = dir.join("imap.pass");
        fs::write(&password_file, format!("{}\n", servers.password)).expect("write imap.pass");
        fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600))
            .expect("chmod imap.pass");
        let web_port = free_port();
        let mut config = Daemon::default_config(servers, &dir, web_port);
        edit(&mut config);
        let config_path = dir.join("sijil.toml");
        fs::write(
            &config_path,
            toml::to_string(&config).expect("serialise config"),
        )
        .expect("write sijil.toml");
        Daemon {
            log_path: dir.join("sijil.log"),
            base_url: format!("http://127.0.0.1:{web_port}"),
            dir,
            web_port,
            config_path,
            child: None,
        }
    }

    /// The configuration every test starts from: IMAP mailbox `RA_ADDRESS` on the test Dovecot
    /// (no TLS), SMTP out to the test Postfix (no TLS), web on a free port, store in `dir/store`,
    /// developer [`DEVELOPER`] and staff [`VERIFIER`], [`OFFICER`], [`QC`].
    pub fn default_config(servers: &MailServers, dir: &Path, web_port: u16) -> toml::Table {
        let text = format!(
            r#"
[mailbox]
kind = "imap"
host = "127.0.0.1"
port = {imap}
tls = "none"
username = "{RA_ADDRESS}"
password_file = "{pass}"
inbox = "INBOX"
processed = "Processed"
rejected = "Rejected"
quarantine = "Quarantine"

[outbound]
kind = "smtp"
host = "127.0.0.1"
port = {smtp}
tls = "none"
from_ra = "POS Digicert RA <{RA_ADDRESS}>"
from_hims = "HIMS eSPA <{HIMS_ADDRESS}>"

[web]
listen = "127.0.0.1:{web_port}"
base_url = "http://127.0.0.1:{web_port}"

[store]
path = "{store}"

[security]
require_authenticated_sender = false
authserv_id = "mx.ra.example.my"

[[developer]]
company = "{DEVELOPER_COMPANY}"
addresses = ["{DEVELOPER}"]

[[staff]]
name = "Aina"
address = "{VERIFIER}"
roles = ["verifier"]

[[staff]]
name = "Badrul"
address = "{OFFICER}"
roles = ["officer"]

[[staff]]
name = "Chong"
address = "{QC}"
roles = ["qc"]
"#,
            imap = servers.imap_port,
            smtp = servers.smtp_port,
            pass = dir.join("imap.pass").display(),
            store = dir.join("store/sijil.db").display(),
        );
        text.parse().expect("the default test config is valid TOML")
    }

    /// Path of the configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Path of the combined stdout/stderr log (all runs appended).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Rewrites the configuration file through `edit`; takes effect at the next start.
    pub fn edit_config(&self, edit: impl FnOnce(&mut toml::Table)) {
        let text = fs::read_to_string(&self.config_path).expect("read sijil.toml");
        let mut config: toml::Table = text.parse().expect("sijil.toml is TOML");
        edit(&mut config);
        fs::write(
            &self.config_path,
            toml::to_string(&config).expect("serialise config"),
        )
        .expect("write sijil.toml");
    }

    /// Starts the process without waiting for readiness (it may be expected to fail).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "the daemon is already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open sijil.log");
        let err = log.try_clone().expect("clone log handle");
        // SIJIL_TEST_BIN runs the tests against another build (e.g. target/release/sijil).
        let binary = std::env::var_os("SIJIL_TEST_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sijil")));
        let child = Command::new(&binary)
            .arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .env_remove("SIJIL_CONFIG")
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sijil=debug".into()),
            )
            .env("RUST_BACKTRACE", "1")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        // Lets the servers' watchdog kill the daemon if the test process dies abruptly.
        let _ = fs::write(self.dir.join("daemon.pid"), child.id().to_string());
        self.child = Some(child);
    }

    /// Starts the process and waits up to 30 s for a log line containing the word "ready"
    /// (case-insensitive); panics with the log tail if it exits or times out first.
    pub fn spawn_and_wait(&mut self) {
        if let Err(e) = self.try_spawn_and_wait() {
            panic!("{e}");
        }
    }

    /// [`Daemon::spawn_and_wait`] returning the failure (with the log tail) instead.
    pub fn try_spawn_and_wait(&mut self) -> Result<(), String> {
        let offset = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        self.spawn();
        let ready = regex::Regex::new(r"(?i)\bready\b").expect("regex");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ready.is_match(&self.log_since(offset)) {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.forget_child();
                return Err(format!(
                    "sijil exited ({status}) before it was ready; log tail:\n{}",
                    tail(&self.log_path, 40)
                ));
            }
            if Instant::now() > deadline {
                self.kill();
                // The ready line is logged at info: a RUST_LOG that hides
                // sijil's info lines hides it too.
                let filter = ["SIJIL_LOG", "RUST_LOG"]
                    .iter()
                    .find_map(|k| std::env::var(k).ok().map(|v| (k, v)))
                    .map(|(k, v)| format!(" ({k}={v}: the ready line is an info line of sijil)"))
                    .unwrap_or_default();
                return Err(format!(
                    "sijil not ready after {READY_TIMEOUT:?}{filter}; log tail:\n{}",
                    tail(&self.log_path, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Moves the web listener to another free port when the configuration still uses the one
    /// this helper chose (another process took it between the check and sijil's bind).
    fn move_web_port(&mut self) -> bool {
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

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.forget_child();
                false
            }
            None => false,
        }
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends SIGTERM and waits for the exit (up to 30 s, then SIGKILL and panic); returns the
    /// exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the daemon is not running");
        let _ = fs::remove_file(self.dir.join("daemon.pid"));
        signal_pid(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
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
            let _ = fs::remove_file(self.dir.join("daemon.pid"));
            let _ = child.kill();
            let _ = child.wait();
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

    fn forget_child(&mut self) {
        self.child = None;
        let _ = fs::remove_file(self.dir.join("daemon.pid"));
    }

    fn log_since(&self, offset: u64) -> String {
        let mut text = Vec::new();
        if let Ok(mut f) = fs::File::open(&self.log_path) {
            use std::io::Seek;
            if f.seek(std::io::SeekFrom::Start(offset)).is_ok() {
                let _ = f.read_to_end(&mut text);
            }
        }
        String::from_utf8_lossy(&text).into_owned()
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
