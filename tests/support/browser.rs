//! A real headless Chromium (Debian's `chromium`), driven through the DevTools protocol over
//! `--remote-debugging-pipe`: commands go in on the browser's fd 3, answers and events come out
//! on its fd 4, each a JSON message ended by a NUL byte. No port, no websocket, no crate: the
//! protocol is a few JSON calls.
//!
//! ```ignore
//! let mut browser = Browser::start(&dir);        // a fresh profile under dir
//! let mut tab = browser.tab(360, 740);           // a phone-sized tab
//! tab.goto("http://127.0.0.1:8080/pin/…");       // waits for the load event
//! tab.type_into("#pin", "482915");
//! tab.click("button");                           // waits for the page it leads to
//! assert!(tab.text().contains("PIN"));
//! ```
//!
//! Chromium is started with `--headless --no-sandbox --disable-gpu --no-first-run
//! --disable-background-networking --disable-component-update --disable-sync`; `CHROMIUM`
//! names another binary than `/usr/bin/chromium`. The process is killed when the [`Browser`]
//! drops.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol call or page load may take.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Events read while waiting for an answer, oldest first.
    events: Vec<Value>,
}

/// One tab, attached with its own session.
pub struct Tab<'a> {
    browser: &'a mut Browser,
    session: String,
    /// The HTTP status of the last document loaded.
    pub status: Option<u64>,
}

/// A pipe's two ends, both close-on-exec, moved above fd 10 so that placing them at 3 and 4 in
/// the child can never overwrite one with the other.
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    fds.map(|fd| {
        // SAFETY: fd is ours; F_DUPFD_CLOEXEC returns a new descriptor or -1.
        let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        assert!(high >= 10, "fcntl: {}", std::io::Error::last_os_error());
        // SAFETY: fd is ours and no longer used.
        unsafe { libc::close(fd) };
        high
    })
    .into()
}

impl Browser {
    /// Starts Chromium with a fresh profile in `dir/chromium-profile`.
    pub fn start(dir: &Path) -> Browser {
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let mut command = Command::new(&binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only dup2, which is async-signal-safe, between fork and exec. dup2 leaves the
        // new descriptors without close-on-exec, so fds 3 and 4 reach the browser.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(cmd_read, 3) < 0 || libc::dup2(out_write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e} (apt-get install chromium)"));
        // SAFETY: the browser has its own copies; these ends are ours alone from here on.
        let (to_browser, from_browser) = unsafe {
            libc::close(cmd_read);
            libc::close(out_write);
            (File::from_raw_fd(cmd_write), File::from_raw_fd(out_read))
        };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                message.pop_if(|b| *b == 0);
                let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Browser {
            child,
            to_browser,
            from_browser: rx,
            next_id: 1,
            events: Vec::new(),
        }
    }

    /// Calls `method` (in `session`, or on the browser itself) and returns its result; panics
    /// on a protocol error or after [`TIMEOUT`].
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("serialise a command");
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("{method}: the browser is gone: {e}"));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let value = self.next_message(deadline, method);
            if value["id"] == json!(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method}: {error}");
                }
                return value["result"].clone();
            }
            self.events.push(value);
        }
    }

    /// Waits for an event `method` in `session` newer than those already seen and taken.
    fn wait_event(&mut self, session: &str, method: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let found = self
                .events
                .iter()
                .position(|e| e["method"] == json!(method) && e["sessionId"] == json!(session));
            if let Some(i) = found {
                return self.events.remove(i);
            }
            let value = self.next_message(deadline, method);
            self.events.push(value);
        }
    }

    fn next_message(&mut self, deadline: Instant, what: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(value) => value,
            Err(RecvTimeoutError::Timeout) => panic!("{what}: no answer from the browser"),
            Err(RecvTimeoutError::Disconnected) => panic!("{what}: the browser exited"),
        }
    }

    /// A new tab of `width` × `height` CSS pixels, as a phone shows it.
    pub fn tab(&mut self, width: u32, height: u32) -> Tab<'_> {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        for method in ["Page.enable", "Runtime.enable", "Network.enable"] {
            self.call(Some(&session), method, json!({}));
        }
        self.call(
            Some(&session),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true }),
        );
        Tab {
            browser: self,
            session,
            status: None,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tab<'_> {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params)
    }

    /// Forgets the events so far, so that the next wait sees only what an action causes.
    fn forget_events(&mut self) {
        let session = json!(self.session);
        self.browser.events.retain(|e| e["sessionId"] != session);
    }

    /// Waits until the page an action led to has loaded, noting its HTTP status.
    fn loaded(&mut self) {
        self.browser
            .wait_event(&self.session, "Page.loadEventFired");
        let session = json!(self.session);
        self.status = self
            .browser
            .events
            .iter()
            .rev()
            .find(|e| {
                e["sessionId"] == session
                    && e["method"] == json!("Network.responseReceived")
                    && e["params"]["type"] == json!("Document")
            })
            .and_then(|e| e["params"]["response"]["status"].as_u64());
    }

    /// Opens `url` and waits for its load event.
    pub fn goto(&mut self, url: &str) {
        self.forget_events();
        let nav = self.call("Page.navigate", json!({ "url": url }));
        if let Some(error) = nav.get("errorText") {
            panic!("navigating to {url}: {error}");
        }
        self.loaded();
    }

    /// The value of a JavaScript expression evaluated in the page (the test's own script; the
    /// pages themselves run none).
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("evaluating {expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Focuses the element `selector` and types `text` into it, as a keyboard would.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        let focused = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; \
             e.focus(); return document.activeElement === e; }})()"
        ));
        assert_eq!(focused, json!(true), "no field {selector} to type into");
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// Clicks the middle of the element `selector` with the mouse and waits for the page it
    /// leads to.
    pub fn click(&mut self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = match at.as_array().map(|a| a.as_slice()) {
            Some([x, y]) => (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0)),
            _ => panic!("nothing to click at {selector}"),
        };
        self.forget_events();
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
        self.loaded();
    }

    /// The text of the page as shown.
    pub fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML source as loaded (`document.documentElement.outerHTML`).
    pub fn html(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A PNG of what the tab shows, for a person to look at.
    pub fn screenshot(&mut self, path: &Path) {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
