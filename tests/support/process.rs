//! Process and port plumbing shared by the mail-server and daemon helpers: free loopback ports,
//! signals to process groups, waiting for a group to be empty, and "connect and read the greeting"
//! readiness probes.
//!
//! Signals go through `/bin/sh`'s `kill` builtin because the crate has no `libc` dependency and
//! `std` can only send SIGKILL to its own children.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ports handed out in this test process, so two servers started at once never pick the same one.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback TCP port that nothing listens on right now and that this process has not handed out
/// before. Drawn below Linux's ephemeral range (32768+) so outgoing connections of other tests
/// (which take ephemeral ports) cannot grab it between this check and the server's bind.
pub fn free_port() -> u16 {
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let taken = guard.get_or_insert_with(HashSet::new);
    for _ in 0..10_000 {
        let port: u16 = rand::random_range(20_000..32_000);
        if taken.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            taken.insert(port);
            return port;
        }
    }
    // Fall back to the kernel's choice; still recorded so it is not reused by us.
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port");
    taken.insert(port);
    port
}

/// Peak resident set size of process `pid` so far (VmHWM in /proc), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// Sends `signal` (a name such as `TERM` or `KILL`) to every process in process group `pgid`.
/// Errors (typically: the group is already gone) are ignored.
pub fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- -{pgid} 2>/dev/null"))
        .status();
}

/// Sends `signal` to the single process `pid`. Errors are ignored.
pub fn signal_pid(pid: u32, signal: &str) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {signal} {pid} 2>/dev/null"))
        .status();
}

/// Live (non-zombie) processes whose process group is `pgid`, read from /proc.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses: parse after the LAST ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] = state, [1] = ppid, [2] = pgrp
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            out.push(pid);
        }
    }
    out
}

/// Waits until process group `pgid` has no live member; after `grace` sends SIGKILL to the group
/// and waits a little more. Returns whether the group is empty.
pub fn wait_group_gone(pgid: u32, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if group_members(pgid).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A group id cannot be reused while a member lives, so this KILL cannot hit strangers.
    if !group_members(pgid).is_empty() {
        signal_group(pgid, "KILL");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if group_members(pgid).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One attempt to connect to `port` on loopback and read a greeting line that starts with
/// `expect`; politely sends `bye` afterwards. Returns the greeting or why it failed.
pub fn probe_greeting(port: u16, expect: &str, bye: &str) -> Result<String, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect {port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("read greeting on {port}: {e}"))?;
    if !line.starts_with(expect) {
        return Err(format!("unexpected greeting on {port}: {line:?}"));
    }
    let _ = (&stream).write_all(bye.as_bytes());
    Ok(line)
}

/// The last `lines` lines of a text file (lossy UTF-8), or a note that it cannot be read.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

/// Finds an executable by name in PATH plus the sbin directories that a non-login root shell may
/// lack.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}): {text}",
        out.status
    );
    text
}

/// Whether this process runs as root (uid 0), read from /proc/self/status.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// uid and gid of a system user, from `getent passwd` (so NSS is honoured).
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let fields: Vec<&str> = line.trim().split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// gid of a system group, from `getent group`.
pub fn group_id(name: &str) -> Option<u32> {
    let out = Command::new("getent").args(["group", name]).output().ok()?;
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    line.trim().split(':').nth(2)?.parse().ok()
}
