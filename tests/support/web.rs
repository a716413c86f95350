//! Plain HTTP/1.1 to the daemon's links, as a browser without JavaScript
//! sends it: a GET of a page and a form POST (urlencoded), with the `Origin`
//! a browser adds. No client crate: one request per connection, read to
//! the end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status code, headers (lower-cased names) and body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `http://host:port/path` split into its address and path.
fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// link");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    (host.to_string(), format!("/{path}"))
}

fn request(url: &str, head: &str, body: &str) -> Response {
    let (host, _) = split(url);
    request_from(url, head, body, &format!("http://{host}"))
}

/// A request whose form (if any) says it comes from `origin`.
fn request_from(url: &str, head: &str, body: &str, origin: &str) -> Response {
    try_request_from(url, head, body, origin).unwrap_or_else(|e| panic!("{head} {url}: {e}"))
}

/// A form POST that may get no answer (the server dies meanwhile).
pub fn try_post_form(url: &str, fields: &[(&str, &str)]) -> std::io::Result<Response> {
    let (host, _) = split(url);
    try_request_from(url, "POST", &form_body(fields), &format!("http://{host}"))
}

fn try_request_from(url: &str, head: &str, body: &str, origin: &str) -> std::io::Result<Response> {
    let (host, path) = split(url);
    let mut s = TcpStream::connect(&host)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let raw = format!(
        "{head} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{}\r\n{body}",
        if body.is_empty() {
            String::new()
        } else {
            format!(
                "Origin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            )
        }
    );
    s.write_all(raw.as_bytes())?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::other(
            "the connection closed without an answer",
        ));
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get(url: &str) -> Response {
    request(url, "GET", "")
}

/// A form POST from the page's own origin.
pub fn post_form(url: &str, fields: &[(&str, &str)]) -> Response {
    request(url, "POST", &form_body(fields))
}

/// A form POST from another site's page (`Origin: origin`).
pub fn post_form_from(url: &str, origin: &str, fields: &[(&str, &str)]) -> Response {
    request_from(url, "POST", &form_body(fields), origin)
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    body.join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the hidden input `name` in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let re = regex::Regex::new(&format!(r#"name="{name}"\s+value="([^"]*)""#)).expect("regex");
    re.captures(page)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no hidden {name} in the page:\n{page}"))
}

/// The set-PIN link in an EMEL 2's text.
pub fn pin_link(text: &str) -> String {
    let re = regex::Regex::new(r"http://[0-9.:]+/pin/[A-Za-z0-9_-]+").expect("regex");
    re.find(text)
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| panic!("no PIN link in:\n{text}"))
}
