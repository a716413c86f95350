//! `MailServers`: a real Dovecot (IMAP with IDLE, implicit-TLS IMAP, LMTP) and a real Postfix
//! (SMTP relaying every domain to Dovecot's LMTP) started for one test on free loopback ports, in
//! a fresh temporary directory that holds every file they write.
//!
//! Layout of `dir`:
//! - `dovecot/` — `dovecot.conf`, `run/` (base_dir), `state/`, `dovecot.log`, `stdout.log`
//! - `mail/<address>/Maildir` — every user's mail (owned by the `mail` system user)
//! - `postfix/conf/` (main.cf, master.cf), `postfix/queue/`, `postfix/data/`, `postfix/maillog`
//! - `tls/` — a throw-away CA (`ca.pem`) and the server certificate both servers present
//! - `sijil*/` — left to the [`crate::support::Daemon`] helper
//!
//! Both servers run as root-started daemons (Postfix's master refuses anything else), so tests
//! that use this need root; `.ci/run` and `scripts/test` run as root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::process::{
    find_program, free_port, group_id, group_members, is_root, probe_greeting, run_ok,
    signal_group, tail, user_ids, wait_group_gone,
};

/// The password every IMAP user has (Dovecot's static passdb accepts it for any address).
pub const PASSWORD: &str = "SijilTest2026";

/// Postfix refuses every recipient in this domain at RCPT TO with `550 5.1.1` (a permanent
/// refusal, for outbox tests).
pub const REJECTING_DOMAIN: &str = "rejected.invalid";

/// Postfix accepts mail for this domain, then fails to deliver it and sends a delivery report
/// (DSN, `5.1.1`) back to the envelope sender: a real bounce.
pub const BOUNCING_DOMAIN: &str = "bounces.invalid";

/// Postfix answers every recipient in this domain at RCPT TO with `451 4.3.0` (a temporary
/// refusal, for retry tests).
pub const TEMPFAIL_DOMAIN: &str = "tempfail.invalid";

/// How long a server gets to accept connections after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

const MISSING: &str = "run .ci/run or apt-get install dovecot-imapd dovecot-lmtpd postfix";

/// A running Dovecot + Postfix pair, private to one test. Dropping it stops both and removes
/// [`MailServers::dir`] (set `SIJIL_KEEP_TEST_DIR=1` to keep it for a post-mortem).
pub struct MailServers {
    /// Plain IMAP (no TLS; plaintext LOGIN allowed). Advertises IDLE.
    pub imap_port: u16,
    /// IMAP with implicit TLS; certificate signed by [`MailServers::ca_cert_path`], valid for
    /// `127.0.0.1` and `localhost`.
    pub imaps_port: u16,
    /// SMTP submission/relay port of Postfix; STARTTLS offered (same certificate), never required.
    pub smtp_port: u16,
    /// The same Postfix with implicit TLS (SMTPS, as on port 465); same certificate.
    pub smtps_port: u16,
    /// The same Postfix, plain, without PIPELINING in its EHLO reply (it would still take
    /// MAIL, RCPT and DATA sent together: Postfix only minds commands sent after DATA or EHLO).
    pub smtp_serial_port: u16,
    /// Dovecot's LMTP port (Postfix delivers here).
    pub lmtp_port: u16,
    /// The password of every IMAP user (= [`PASSWORD`]).
    pub password: String,
    /// The temporary directory holding everything; a daemon under test may keep its files here.
    pub dir: PathBuf,
    /// PEM file of the CA that signed both servers' certificate.
    pub ca_cert_path: PathBuf,
    dovecot: Mutex<Option<Child>>,
    watchdog: Option<Child>,
    tmp: Option<tempfile::TempDir>,
}

struct Programs {
    dovecot: PathBuf,
    postfix: PathBuf,
    openssl: PathBuf,
}

fn programs() -> Programs {
    let dovecot =
        find_program("dovecot").unwrap_or_else(|| panic!("dovecot not installed: {MISSING}"));
    let postfix =
        find_program("postfix").unwrap_or_else(|| panic!("postfix not installed: {MISSING}"));
    let openssl = find_program("openssl")
        .unwrap_or_else(|| panic!("openssl not installed: run .ci/run or apt-get install openssl"));
    // The protocol binaries come in separate Debian packages from the `dovecot` command.
    for (binary, package) in [("imap", "dovecot-imapd"), ("lmtp", "dovecot-lmtpd")] {
        let found = ["/usr/lib/dovecot", "/usr/libexec/dovecot"]
            .iter()
            .any(|d| Path::new(d).join(binary).exists());
        if !found {
            panic!("{package} not installed: {MISSING}");
        }
    }
    Programs {
        dovecot,
        postfix,
        openssl,
    }
}

impl MailServers {
    /// Starts Dovecot and Postfix on free loopback ports and returns once both really answer
    /// (greetings read on IMAP, LMTP and SMTP). Panics with the servers' logs if they do not.
    pub fn start() -> MailServers {
        let progs = programs();
        assert!(
            is_root(),
            "the mail-server test harness must run as root (Postfix's master daemon requires it); \
             run the tests via scripts/test as root"
        );
        let tmp = tempfile::Builder::new()
            .prefix("sijil-test-")
            .tempdir()
            .expect("create temp dir");
        let dir = tmp.path().to_path_buf();
        // Dovecot's login/mail processes (dovenull, mail) and Postfix's daemons (postfix) must
        // traverse into it; tempfile creates it 0700.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        let tls = dir.join("tls");
        make_certificates(&progs.openssl, &tls);

        let mut servers = MailServers {
            imap_port: 0,
            imaps_port: 0,
            smtp_port: 0,
            smtps_port: 0,
            smtp_serial_port: 0,
            lmtp_port: 0,
            password: PASSWORD.to_string(),
            ca_cert_path: tls.join("ca.pem"),
            dir,
            dovecot: Mutex::new(None),
            watchdog: None,
            tmp: Some(tmp),
        };
        servers.watchdog = Some(servers.spawn_watchdog());
        servers.prepare_dirs();

        // A port checked free may be taken by someone else before the server binds it: retry
        // with fresh ports in that (rare) case rather than fail the test.
        let mut last_error = String::new();
        for _attempt in 0..4 {
            servers.imap_port = free_port();
            servers.imaps_port = free_port();
            servers.smtp_port = free_port();
            servers.smtps_port = free_port();
            servers.smtp_serial_port = free_port();
            servers.lmtp_port = free_port();
            servers.write_dovecot_config();
            servers.write_postfix_config();
            match servers.spawn_dovecot(&progs.dovecot) {
                Ok(child) => *servers.lock_dovecot() = Some(child),
                Err(e) if e.contains("in use") => {
                    last_error = e;
                    continue;
                }
                Err(e) => panic!("Dovecot did not start: {e}"),
            }
            match servers.run_postfix_start(&progs.postfix) {
                Ok(()) => return servers,
                Err(e) if e.contains("in use") => {
                    last_error = e;
                    servers.stop_imap_now();
                    continue;
                }
                Err(e) => panic!("Postfix did not start: {e}"),
            }
        }
        panic!("could not find free ports for the mail servers: {last_error}");
    }

    /// Stops Postfix (master and every child); mail submitted while it is down is refused at
    /// connect. Queued mail stays in the queue and is delivered after [`Self::start_smtp`].
    pub fn stop_smtp(&self) {
        self.postfix_stop();
    }

    /// Starts Postfix again on the same port with the same queue; returns once SMTP greets.
    pub fn start_smtp(&self) {
        if self.smtp_running() {
            return;
        }
        let progs = programs();
        if let Err(e) = self.run_postfix_start(&progs.postfix) {
            panic!("Postfix did not restart: {e}");
        }
    }

    /// From the next SMTP session on, Postfix puts every message it accepts on its hold queue
    /// instead of delivering it, so a benchmark can time acceptance alone without Postfix's own
    /// deliveries competing for the CPU. Sessions already open keep delivering; a probe message
    /// landing in [`Self::held`] shows that the change took effect.
    pub fn hold_accepted_mail(&self) {
        self.postfix_tool(
            "postconf",
            &[
                "-e",
                "smtpd_data_restrictions = check_client_access static:HOLD",
            ],
        );
        self.postfix_tool("postfix", &["reload"]);
    }

    /// Stops holding and releases everything on the hold queue for delivery. Postfix is
    /// restarted rather than reloaded: an SMTP session opened while holding (a client's pooled
    /// connection) would otherwise go on holding what it is sent.
    pub fn release_held_mail(&self) {
        self.postfix_tool("postconf", &["-X", "smtpd_data_restrictions"]);
        self.stop_smtp();
        self.start_smtp();
        self.postfix_tool("postsuper", &["-H", "ALL"]);
    }

    /// Deletes everything on the hold queue (a probe, say).
    pub fn delete_held_mail(&self) {
        self.postfix_tool("postsuper", &["-d", "ALL", "hold"]);
    }

    /// How many messages are on Postfix's hold queue.
    pub fn held(&self) -> usize {
        fs::read_dir(self.postfix_dir().join("queue/hold"))
            .map(|d| d.filter(|e| e.is_ok()).count())
            .unwrap_or(0)
    }

    /// Runs one of Postfix's commands (`postconf`, `postfix`, `postsuper`) on this instance.
    fn postfix_tool(&self, program: &str, args: &[&str]) {
        let path = find_program(program).unwrap_or_else(|| panic!("{program}: {MISSING}"));
        run_ok(
            Command::new(path)
                .arg("-c")
                .arg(self.postfix_dir().join("conf"))
                .args(args),
            program,
        );
    }

    /// Whether the Postfix master (and so SMTP) is up.
    pub fn smtp_running(&self) -> bool {
        self.postfix_master_pid()
            .is_some_and(|pid| !group_members(pid).is_empty())
    }

    /// Whether Dovecot (IMAP, IMAPS, LMTP) is up.
    pub fn imap_running(&self) -> bool {
        self.lock_dovecot()
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops Dovecot (IMAP, IMAPS and LMTP; open IMAP sessions are cut). Postfix keeps the mail
    /// it receives meanwhile and retries delivery every second or two.
    pub fn stop_imap(&self) {
        let child = self.lock_dovecot().take();
        if let Some(mut child) = child {
            let pgid = child.id();
            signal_group(pgid, "TERM");
            // Dovecot's master takes 1.5-2.5 s to shut down after SIGTERM.
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut exited = false;
            while !exited && Instant::now() < deadline {
                exited = matches!(child.try_wait(), Ok(Some(_)));
                if !exited {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if !exited {
                // Only while the child is unreaped is its pid (= the group id) surely ours.
                signal_group(pgid, "KILL");
                let _ = child.wait();
            }
            wait_group_gone(pgid, Duration::from_secs(2));
        }
    }

    /// Starts Dovecot again with the same ports and mail; returns once IMAP and LMTP greet.
    pub fn start_imap(&self) {
        if self.lock_dovecot().is_some() {
            return;
        }
        let progs = programs();
        match self.spawn_dovecot(&progs.dovecot) {
            Ok(child) => *self.lock_dovecot() = Some(child),
            Err(e) => panic!("Dovecot did not restart: {e}"),
        }
    }

    /// Gives `folder` of `user` a new UIDVALIDITY (the old one + 1000) with `doveadm mailbox
    /// update`, as a restored or rebuilt server would; the messages stay. Returns the new value.
    pub fn change_uidvalidity(&self, user: &str, folder: &str) -> u32 {
        let doveadm =
            find_program("doveadm").unwrap_or_else(|| panic!("doveadm not installed: {MISSING}"));
        let conf = self.dovecot_dir().join("dovecot.conf");
        let status = run_ok(
            Command::new(&doveadm).arg("-c").arg(&conf).args([
                "mailbox",
                "status",
                "-u",
                user,
                "uidvalidity",
                folder,
            ]),
            "doveadm mailbox status",
        );
        let old: u32 = status
            .trim()
            .rsplit_once('=')
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected doveadm output: {status:?}"));
        let new = old.checked_add(1000).unwrap_or(1);
        run_ok(
            Command::new(&doveadm)
                .arg("-c")
                .arg(&conf)
                .args(["mailbox", "update", "-u", user, "--uid-validity"])
                .arg(new.to_string())
                .arg(folder),
            "doveadm mailbox update",
        );
        new
    }

    /// The Maildir of `user` (INBOX itself); folder `F` is the subdirectory `.F` (Maildir++).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir
            .join("mail")
            .join(user.to_lowercase())
            .join("Maildir")
    }

    /// Tails of the Postfix and Dovecot logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- postfix maillog ({}) ---\n{}\n--- dovecot log ({}) ---\n{}\n{}",
            self.postfix_dir().join("maillog").display(),
            tail(&self.postfix_dir().join("maillog"), 40),
            self.dovecot_dir().join("dovecot.log").display(),
            tail(&self.dovecot_dir().join("dovecot.log"), 40),
            tail(&self.dovecot_dir().join("stdout.log"), 10),
        )
    }

    fn lock_dovecot(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.dovecot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dovecot_dir(&self) -> PathBuf {
        self.dir.join("dovecot")
    }

    fn postfix_dir(&self) -> PathBuf {
        self.dir.join("postfix")
    }

    fn prepare_dirs(&self) {
        for d in [self.dovecot_dir(), self.postfix_dir().join("conf")] {
            fs::create_dir_all(&d).expect("create server dir");
        }
        let (uid, gid) = mail_user().1;
        let mail = self.dir.join("mail");
        fs::create_dir_all(&mail).expect("create mail dir");
        std::os::unix::fs::chown(&mail, Some(uid), Some(gid)).expect("chown mail dir");

        // Postfix's queue, made here the way `post-install create-missing` would (see
        // /etc/postfix/postfix-files), so every `postfix start` can skip its slow integrity
        // checks (`quick-start`): they spawn dozens of processes and took seconds on a busy
        // machine.
        let (puid, _) = user_ids("postfix").unwrap_or_else(|| panic!("no postfix user: {MISSING}"));
        let postdrop =
            group_id("postdrop").unwrap_or_else(|| panic!("no postdrop group: {MISSING}"));
        let queue = self.postfix_dir().join("queue");
        let mut dirs: Vec<(PathBuf, u32, u32, u32)> = vec![
            (queue.clone(), 0, 0, 0o755),
            (queue.join("pid"), 0, 0, 0o755),
            (queue.join("maildrop"), puid, postdrop, 0o730),
            (queue.join("public"), puid, postdrop, 0o710),
            (self.postfix_dir().join("data"), puid, 0, 0o700),
        ];
        for sub in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace",
        ] {
            dirs.push((queue.join(sub), puid, 0, 0o700));
        }
        for (d, owner, group, mode) in dirs {
            fs::create_dir_all(&d).expect("create postfix dir");
            std::os::unix::fs::chown(&d, Some(owner), Some(group)).expect("chown postfix dir");
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).expect("chmod postfix dir");
        }
    }

    fn write_dovecot_config(&self) {
        let d = self.dovecot_dir();
        let tls = self.dir.join("tls");
        let (user, _) = mail_user();
        let instance = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sijil-test".into());
        let conf = format!(
            r#"# Generated by tests/support for one test; see servers.rs.
base_dir = {run}
state_dir = {state}
instance_name = {instance}
log_path = {d}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{tls}/server.pem
ssl_key = <{tls}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
auth_verbose = yes
auth_failure_delay = 0
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
postmaster_address = postmaster@ra.example.my
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={mail}/%u allow_all_users=yes
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"#,
            run = d.join("run").display(),
            state = d.join("state").display(),
            d = d.display(),
            tls = tls.display(),
            password = self.password,
            mail = self.dir.join("mail").display(),
            imap = self.imap_port,
            imaps = self.imaps_port,
            lmtp = self.lmtp_port,
        );
        fs::write(d.join("dovecot.conf"), conf).expect("write dovecot.conf");
    }

    fn write_postfix_config(&self) {
        let p = self.postfix_dir();
        let tls = self.dir.join("tls");
        let lmtp = format!("lmtp:inet:127.0.0.1:{}", self.lmtp_port);
        let main = format!(
            r#"# Generated by tests/support for one test; see servers.rs.
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {p}/maillog
maillog_file_prefixes = {dir}
syslog_name = sijil-test
myhostname = mx.ra.example.my
mydomain = ra.example.my
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
  check_recipient_access inline:{{ {{ {rejecting} = 550 5.1.1 Recipient address rejected: test domain refuses all mail }}, {{ {tempfail} = 451 4.3.0 Recipient address deferred: test domain is down }} }}
  permit_mynetworks, reject
default_transport = {lmtp}
relay_transport = {lmtp}
smtpd_reject_unlisted_recipient = no
transport_maps = inline:{{ {{ {bouncing} = error:5.1.1 mailbox unavailable (test domain bounces) }} }}
local_transport = error:5.1.1 local delivery is disabled
smtp_dns_support_level = disabled
lmtp_host_lookup = native
smtpd_peername_lookup = no
local_header_rewrite_clients =
append_dot_mydomain = no
biff = no
message_size_limit = 104857600
smtpd_error_sleep_time = 0s
in_flow_delay = 0s
# Retry within seconds, but never sooner than 2 s after a failure. qmgr takes a deferred file
# once its time stamp is at most 1 s ahead (whole seconds); with a 1 s backoff a scan could take
# it back while the delivery agent still held its lock, and qmgr then parks it for 60 s.
queue_run_delay = 1s
minimal_backoff_time = 3s
maximal_backoff_time = 4s
smtpd_tls_security_level = may
smtpd_tls_cert_file = {tls}/server.pem
smtpd_tls_key_file = {tls}/server.key
smtp_tls_security_level = none
lmtp_tls_security_level = none
"#,
            queue = p.join("queue").display(),
            data = p.join("data").display(),
            p = p.display(),
            dir = self.dir.display(),
            rejecting = REJECTING_DOMAIN,
            bouncing = BOUNCING_DOMAIN,
            tempfail = TEMPFAIL_DOMAIN,
            tls = tls.display(),
        );
        // chroot is `n` everywhere: the daemons run against the temp dir, not /var/spool/postfix.
        let master = format!(
            "# Generated by tests/support for one test; see servers.rs.\n\
127.0.0.1:{smtp} inet n - n - - smtpd\n\
127.0.0.1:{smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n\
127.0.0.1:{serial} inet n - n - - smtpd -o smtpd_discard_ehlo_keywords=pipelining\n\
pickup     unix  n - n 60    1 pickup\n\
cleanup    unix  n - n -     0 cleanup\n\
qmgr       unix  n - n 300   1 qmgr\n\
tlsmgr     unix  - - n 1000? 1 tlsmgr\n\
rewrite    unix  - - n -     - trivial-rewrite\n\
bounce     unix  - - n -     0 bounce\n\
defer      unix  - - n -     0 bounce\n\
trace      unix  - - n -     0 bounce\n\
verify     unix  - - n -     1 verify\n\
flush      unix  n - n 1000? 0 flush\n\
proxymap   unix  - - n -     - proxymap\n\
proxywrite unix  - - n -     1 proxymap\n\
showq      unix  n - n -     - showq\n\
error      unix  - - n -     - error\n\
retry      unix  - - n -     - error\n\
discard    unix  - - n -     - discard\n\
lmtp       unix  - - n -     - lmtp\n\
anvil      unix  - - n -     1 anvil\n\
scache     unix  - - n -     1 scache\n\
postlog    unix-dgram n - n - 1 postlogd\n",
            smtp = self.smtp_port,
            smtps = self.smtps_port,
            serial = self.smtp_serial_port,
        );
        for (name, text) in [("main.cf", main), ("master.cf", master)] {
            let path = p.join("conf").join(name);
            fs::write(&path, text).expect("write postfix config");
            // Postfix re-reads a config file until its mtime is over a second old (it guards
            // against half-written files): backdate it, or every start costs ~1.2 s.
            let past = std::time::SystemTime::now() - Duration::from_secs(60);
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(past))
                .expect("backdate postfix config");
        }
    }

    /// Spawns `dovecot -F` in its own process group and waits until IMAP and LMTP greet.
    fn spawn_dovecot(&self, dovecot: &Path) -> Result<Child, String> {
        let d = self.dovecot_dir();
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("stdout.log"))
            .map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut child = Command::new(dovecot)
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", dovecot.display()))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "dovecot exited ({status}) before it was ready\n{}",
                    self.logs()
                ));
            }
            let imap = probe_greeting(self.imap_port, "* OK", "x LOGOUT\r\n");
            let lmtp = probe_greeting(self.lmtp_port, "220", "QUIT\r\n");
            let last = match (imap, lmtp) {
                (Ok(_), Ok(_)) => return Ok(child),
                (Err(e), _) | (_, Err(e)) => e,
            };
            if Instant::now() > deadline {
                signal_group(child.id(), "KILL");
                let _ = child.wait();
                return Err(format!(
                    "dovecot not ready after {READY_TIMEOUT:?}: {last}\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `postfix start` (which waits for the master to initialise), then waits for the SMTP
    /// greeting.
    fn run_postfix_start(&self, postfix: &Path) -> Result<(), String> {
        fs::write(self.postfix_dir().join("queue/quick-start"), "")
            .map_err(|e| format!("touch quick-start: {e}"))?;
        // Output to a file (kept for diagnosis) rather than a pipe, so nothing waits on the
        // daemonised master closing descriptors it inherited.
        let log_path = self.postfix_dir().join("start.log");
        let log = fs::File::create(&log_path).map_err(|e| format!("create start.log: {e}"))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let status = Command::new(postfix)
            .arg("-c")
            .arg(self.postfix_dir().join("conf"))
            .arg("start")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", postfix.display()))?;
        if !status.success() {
            return Err(format!(
                "postfix start: {status}: {}\n{}",
                tail(&log_path, 20),
                self.logs()
            ));
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match probe_greeting(self.smtp_port, "220", "QUIT\r\n") {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    self.postfix_stop();
                    return Err(format!(
                        "postfix not ready after {READY_TIMEOUT:?}: {e}\n{}",
                        self.logs()
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(25)),
            }
        }
    }

    /// The Postfix master's pid (= its process group: the master calls setsid), if running.
    fn postfix_master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.postfix_dir().join("queue/pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// `postfix stop` (the master SIGTERMs its process group), then makes sure no process of that
    /// group is left.
    fn postfix_stop(&self) {
        let master = self.postfix_master_pid();
        if let Some(postfix) = find_program("postfix") {
            let _ = Command::new(postfix)
                .arg("-c")
                .arg(self.postfix_dir().join("conf"))
                .arg("stop")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(pid) = master {
            wait_group_gone(pid, Duration::from_secs(5));
        }
    }

    /// Kills Dovecot at once (teardown: its state is about to be deleted anyway).
    fn stop_imap_now(&self) {
        if let Some(mut child) = self.lock_dovecot().take() {
            let pgid = child.id();
            signal_group(pgid, "KILL");
            let _ = child.wait();
            wait_group_gone(pgid, Duration::from_secs(2));
        }
    }

    /// A shell that outlives an abnormally ended test process (SIGKILL, Ctrl-C) and then stops the
    /// servers and removes the directory, so nothing leaks. A normal drop kills it first.
    fn spawn_watchdog(&self) -> Child {
        let script = r#"
parent=$1; dir=$2
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
for f in "$dir"/sijil*/daemon.pid; do
  [ -f "$f" ] && kill -s KILL "$(cat "$f")" 2>/dev/null
done
postfix -c "$dir/postfix/conf" stop >/dev/null 2>&1
[ -f "$dir/dovecot/run/master.pid" ] && kill -s KILL -- "-$(cat "$dir/dovecot/run/master.pid")" 2>/dev/null
case "$dir" in */sijil-test-*) rm -rf "$dir" ;; esac
"#;
        Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .arg("sijil-test-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn watchdog shell")
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("mail servers at the time of the failure:\n{}", self.logs());
        }
        self.postfix_stop();
        self.stop_imap_now();
        if let Some(tmp) = self.tmp.take() {
            super::keep_or_remove(tmp);
        }
        // Last: should this process die anywhere above, the watchdog still cleans up.
        if let Some(mut w) = self.watchdog.take() {
            signal_group(w.id(), "KILL");
            let _ = w.wait();
        }
    }
}

/// The system user that owns all mail (Dovecot's static userdb): `mail`, else `dovecot`.
fn mail_user() -> (&'static str, (u32, u32)) {
    for name in ["mail", "dovecot"] {
        if let Some(ids) = user_ids(name) {
            return (name, ids);
        }
    }
    panic!("neither the `mail` nor the `dovecot` system user exists: {MISSING}");
}

/// A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it (EC P-256:
/// generated in milliseconds). A CA-signed leaf rather than a self-signed one because webpki
/// (rustls) refuses a CA certificate used as an end-entity certificate.
fn make_certificates(openssl: &Path, dir: &Path) {
    fs::create_dir_all(dir).expect("create tls dir");
    let ext = dir.join("server.ext");
    fs::write(
        &ext,
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = IP:127.0.0.1, DNS:localhost\n",
    )
    .expect("write server.ext");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run_ok(
        Command::new(openssl)
            .current_dir(dir)
            .args(["req", "-x509"])
            .args(ec)
            .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "3650"])
            .args(["-subj", "/CN=sijil test CA"]),
        "openssl req (CA)",
    );
    run_ok(
        Command::new(openssl)
            .current_dir(dir)
            .args(["req", "-new"])
            .args(ec)
            .args(["-keyout", "server.key", "-out", "server.csr"])
            .args(["-subj", "/CN=localhost"]),
        "openssl req (server)",
    );
    let serial = format!("0x{:016x}", rand::random::<u64>());
    run_ok(
        Command::new(openssl)
            .current_dir(dir)
            .args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
            ])
            .args([
                "-set_serial",
                &serial,
                "-days",
                "3650",
                "-out",
                "server.pem",
            ])
            .arg("-extfile")
            .arg(&ext),
        "openssl x509 (sign server)",
    );
}
