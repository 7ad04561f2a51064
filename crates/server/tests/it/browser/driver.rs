//! A headless Chromium for one test: its own chromedriver on a free port, a
//! fresh profile and download folder, and polling helpers that wait for the
//! page instead of sleeping. On drop (also when a test panics) the session
//! is deleted, which makes the browser quit, and then chromedriver and
//! anything it started that is still alive are killed, each by its pid.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long any wait polls before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
/// Full-page screenshots are cut at this height.
const MAX_SHOT_HEIGHT_PX: u64 = 8000;

/// The chromedriver process and the session it serves.
struct Chromedriver {
    child: Child,
    port: u16,
    /// Set while a browser session is open.
    session: Option<String>,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            delete_session(self.port, &id);
        }
        let stragglers = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in stragglers {
            // A positive pid only: one process this test started.
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `DELETE /session/{id}` without a runtime (drop may run during a panic):
/// chromedriver closes the browser before it answers.
fn delete_session(port: u16, id: &str) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

/// Pids of the live descendants of `root` (from /proc), children first.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if let Some(ppid) = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
        {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.retain(|p| *p != root);
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Chromedriver {
    async fn start() -> (Chromedriver, String) {
        let http = reqwest::Client::new();
        for _attempt in 0..3 {
            let port = free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            let mut driver = Chromedriver {
                child,
                port,
                session: None,
            };
            let url = format!("http://127.0.0.1:{port}");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = driver.child.try_wait() {
                    break; // exited (port taken?): try another port
                }
                if let Ok(resp) = http.get(format!("{url}/status")).send().await {
                    let ready = resp
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| v["value"]["ready"].as_bool())
                        .unwrap_or(false);
                    if ready {
                        return (driver, url);
                    }
                }
                tokio::time::sleep(POLL).await;
            }
            drop(driver);
        }
        panic!("chromedriver did not answer on any port");
    }
}

/// A browser session against one test server.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
    _driver: Chromedriver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1280×900) for `base` (the server URL).
    pub async fn start(base: &str) -> Browser {
        let (mut driver, url) = Chromedriver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        driver.session = client.session_id().await.unwrap();
        Browser {
            client,
            base: base.to_string(),
            downloads,
            _profile: profile,
            _driver: driver,
        }
    }

    /// Ends the session (the browser quits); chromedriver is killed on drop.
    pub async fn close(self) {
        let Browser {
            client,
            mut _driver,
            ..
        } = self;
        if client.close().await.is_ok() {
            _driver.session = None;
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{}", self.base, path))
            .await
            .unwrap();
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs an async script: the body calls `done(value)` (the last argument).
    pub async fn js_async(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!("const done = arguments[arguments.length - 1];\n{body}");
        self.client
            .execute_async(&script, args)
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{body}"))
    }

    /// What the page shows when a wait fails: state, alerts and the start of the text.
    async fn describe(&self) -> String {
        let v = self
            .client
            .execute(
                "return [location.pathname, document.body.dataset.state, document.getElementById('alert') && document.getElementById('alert').innerText, document.body.innerText.slice(0, 1500)].join('\\n---\\n');",
                vec![],
            )
            .await;
        match v {
            Ok(Value::String(s)) => s,
            other => format!("{other:?}"),
        }
    }

    /// Polls the JS expression `expr` until it is truthy; returns its value.
    pub async fn wait_for(&self, expr: &str, what: &str) -> Value {
        let script = format!("try {{ return ({expr}); }} catch (e) {{ return null; }}");
        let started = Instant::now();
        loop {
            let v = self.client.execute(&script, vec![]).await.unwrap();
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if started.elapsed() > WAIT {
                panic!(
                    "timed out waiting for {what} (`{expr}`); the page shows:\n{}",
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the element matching `css` exists and its text contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let expr = format!(
            "(function () {{ const e = document.querySelector({css}); return e && e.innerText.includes({needle}) ? e.innerText : null; }})()",
            css = json!(css),
            needle = json!(needle)
        );
        self.wait_for(&expr, &format!("`{css}` to show {needle:?}"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits for the element, then clicks it like a user (WebDriver click).
    pub async fn click(&self, css: &str) {
        self.wait_for(
            &format!("(function () {{ const e = document.querySelector({}); return !!e && !e.disabled && e.offsetParent !== null; }})()", json!(css)),
            &format!("`{css}` to be clickable"),
        )
        .await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clears the input and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(
            &format!("document.querySelector({})", json!(css)),
            &format!("`{css}`"),
        )
        .await;
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// The visible text of the element matching `css` ("" if none).
    pub async fn text(&self, css: &str) -> String {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                vec![json!(css)],
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The visible text of the whole page.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Signs in on the current page with `key` and waits until it has loaded.
    pub async fn sign_in(&self, key: &str) {
        self.wait_for(
            "document.body.dataset.state === 'signed-out'",
            "the sign-in form",
        )
        .await;
        self.type_into("#key", key).await;
        self.click("#signin-button").await;
        self.wait_for(
            "document.body.dataset.state === 'ready' && !document.body.hasAttribute('aria-busy')",
            "the signed-in page",
        )
        .await;
    }

    /// Tries to sign in with `key` and waits for the API's error `message` in
    /// the alert region; the page stays signed out.
    pub async fn sign_in_expecting_error(&self, key: &str, message: &str) {
        self.wait_for(
            "document.body.dataset.state === 'signed-out'",
            "the sign-in form",
        )
        .await;
        self.type_into("#key", key).await;
        self.click("#signin-button").await;
        self.wait_text("#alert", message).await;
        self.wait_for(
            "document.body.dataset.state === 'signed-out'",
            "still signed out",
        )
        .await;
    }

    /// Resizes the window so the viewport is `width`×`height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let inner = self
            .js("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(0),
            inner[1].as_u64().unwrap_or(0),
        );
        if iw != u64::from(width) || ih != u64::from(height) {
            // Window decorations: grow the window by the difference.
            let w = u64::from(width) + u64::from(width).saturating_sub(iw);
            let h = u64::from(height) + u64::from(height).saturating_sub(ih);
            self.client
                .set_window_size(u32::try_from(w).unwrap(), u32::try_from(h).unwrap())
                .await
                .unwrap();
        }
        self.wait_for(
            &format!("window.innerWidth === {width}"),
            &format!("a {width} px wide viewport"),
        )
        .await;
    }

    /// `(document width, layout viewport width, window inner width)`: the
    /// first two are equal when nothing overflows sideways (the layout
    /// viewport excludes a classic scrollbar; phones overlay theirs).
    pub async fn widths(&self) -> (u64, u64, u64) {
        let v = self
            .js(
                "return [Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), document.documentElement.clientWidth, window.innerWidth];",
                vec![],
            )
            .await;
        (
            v[0].as_u64().unwrap(),
            v[1].as_u64().unwrap(),
            v[2].as_u64().unwrap(),
        )
    }

    /// The outermost elements that stick out of the layout viewport on the
    /// right (not counting those inside a box that scrolls or clips them,
    /// unless they are positioned and may escape it).
    pub async fn overflowing(&self) -> Vec<String> {
        let v = self
            .js(
                r#"const limit = document.documentElement.clientWidth + 1;
                const clipped = (e) => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o !== 'visible') return true; } return false; };
                const out = [];
                for (const e of document.body.querySelectorAll('*')) {
                  const r = e.getBoundingClientRect();
                  const escapes = ['absolute', 'fixed'].includes(getComputedStyle(e).position);
                  if (r.width > 0 && r.right > limit && (escapes || (!clipped(e) && !(e.parentElement && e.parentElement.getBoundingClientRect().right > limit)))) {
                    out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + String(e.className).split(' ').join('.') : '') + ' right=' + Math.round(r.right) + ' text=' + (e.innerText || '').slice(0, 60));
                  }
                }
                return out;"#,
                vec![],
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Asserts that nothing makes the page scroll sideways.
    pub async fn assert_no_horizontal_overflow(&self, what: &str) {
        let (doc, view, _) = self.widths().await;
        if doc > view {
            panic!(
                "{what} overflows sideways: {doc} px > {view} px; sticking out: {:#?}",
                self.overflowing().await
            );
        }
    }

    /// Saves a full-page PNG as `screenshots/{name}.png` (the window is
    /// stretched to the page height for the shot, then restored).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let (w, h) = self.client.get_window_size().await.unwrap();
        let v = self
            .js(
                "return [document.documentElement.scrollHeight, window.innerHeight];",
                vec![],
            )
            .await;
        let full = v[0].as_u64().unwrap_or(h).min(MAX_SHOT_HEIGHT_PX);
        let chrome = h.saturating_sub(v[1].as_u64().unwrap_or(h));
        let w32 = u32::try_from(w).unwrap();
        if full + chrome > h {
            self.client
                .set_window_size(w32, u32::try_from(full + chrome).unwrap())
                .await
                .unwrap();
            // Charts redraw on resize (debounced); let them settle.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let png = self.client.screenshot().await.unwrap();
        self.client
            .set_window_size(w32, u32::try_from(h).unwrap())
            .await
            .unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Saves what the window shows now as `screenshots/{name}.png` (for
    /// modal dialogs, which sit in the middle of the viewport).
    pub async fn screenshot_viewport(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }

    /// Waits for a file to appear (complete) in the download folder.
    pub async fn wait_download(&self, name: &str) -> Option<String> {
        let path: &Path = self.downloads.path();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(text) = std::fs::read_to_string(path.join(name)) {
                return Some(text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// `target/screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}
