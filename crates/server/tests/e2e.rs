//! End-to-end tests on loopback: a real server process (this test binary re-run as the server,
//! see `child_server`) on the R1-templated fixture model, driven by the official `openai`
//! Python client, 200 concurrent streams, a kill -9 during history writes, SIGTERM during a
//! stream, and headless Chromium on the web page. The Python venv and Chromium come from
//! `tests/install_test_deps.sh`; without them these tests fail under CI and skip elsewhere.

use reasoner_server::{ServerConfig, serve};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "REASONER_SERVE_CHILD";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Not a test of its own: the server process the other tests start (does nothing unless the
/// environment carries a server configuration).
#[test]
fn child_server() {
    let Ok(cfg) = std::env::var(CHILD_ENV) else { return };
    let v: Value = serde_json::from_str(&cfg).expect("server config JSON");
    let model = reasoner_model::load_model(&reasoner_testutil::fixture("qwen2_bf16_sharded")).expect("fixture model");
    let path = |k: &str| v[k].as_str().map(PathBuf::from);
    let num = |k: &str, d: u64| v[k].as_u64().unwrap_or(d);
    let cfg = ServerConfig {
        addr: "127.0.0.1:0".parse().expect("loopback address"),
        api_keys: path("api_keys"),
        db: path("db"),
        rate_limit_rpm: num("rate_limit", 0) as u32,
        max_batch: num("max_batch", 16) as usize,
        max_queue: num("max_queue", 64) as usize,
        kv_budget_bytes: None,
        prefix_cache_bytes: 64 << 20,
        shutdown_grace: Duration::from_secs(num("grace", 10)),
        speculative: false,
    };
    serve(model, cfg, |addr| eprintln!("LISTENING http://{addr}")).expect("serve");
    eprintln!("SERVER EXITED");
}

struct Server {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(cfg: Value) -> Server {
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = Command::new(exe)
            .args(["--exact", "child_server", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, cfg.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if l.starts_with("LISTENING ") => {
                    return Server { child, base: l["LISTENING ".len()..].to_string(), lines };
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("the server did not start within 60 s");
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("REASONER_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/server-test-venv"));
    venv.join("bin/python")
}

fn has_test_modules(py: &Path) -> bool {
    Command::new(py).args(["-c", "import openai, httpx, websocket"]).status().is_ok_and(|s| s.success())
}

/// The test venv's python, when it has the openai client. Under CI a missing venv is made
/// (tests/install_test_deps.sh, once per test binary) and a failure to make it fails the test;
/// elsewhere the test is skipped with a note.
fn python() -> Option<PathBuf> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let py = venv_python();
    if has_test_modules(&py) {
        return Some(py);
    }
    if std::env::var_os("CI").is_none() {
        eprintln!("skipped: no test venv at {} (run crates/server/tests/install_test_deps.sh)", py.display());
        return None;
    }
    INSTALL.call_once(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/install_test_deps.sh");
        let _ = Command::new("bash").arg(script).status();
    });
    assert!(
        has_test_modules(&py),
        "{} lacks openai/httpx/websocket-client: crates/server/tests/install_test_deps.sh failed",
        py.display()
    );
    Some(py)
}

/// Run a script of tests/py with a time limit; panics with its output when it fails.
fn run_py(py: &Path, script: &str, args: &[&str], limit: Duration) -> String {
    let mut child = Command::new(py)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for python") {
            break Some(s);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (o.join().unwrap_or_default(), e.join().unwrap_or_default());
    match status {
        Some(s) if s.success() => out,
        Some(s) => panic!("{script} failed ({s}):\n{out}\n{err}"),
        None => panic!("{script} ran past {limit:?}:\n{out}\n{err}"),
    }
}

#[test]
fn openai_client_against_a_real_server() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys.txt");
    // The limited key is stored only as its hash: sha256("limited-key"), 2 requests a minute.
    let limited_hash = reasoner_server::auth::hex(&reasoner_server::auth::sha256("limited-key"));
    std::fs::write(&keys, format!("test-key\nsha256:{limited_hash} 2\n")).expect("write keys");
    let s = Server::start(json!({"api_keys": keys, "max_batch": 2, "max_queue": 4}));
    let out = run_py(&py, "openai_client.py", &[&s.base, "test-key", "limited-key"], Duration::from_secs(180));
    eprintln!("{out}");
}

#[test]
fn two_hundred_concurrent_streams_complete_or_are_refused_cleanly() {
    let Some(py) = python() else { return };
    let s = Server::start(json!({"max_batch": 16, "max_queue": 64}));
    // The fixture model is tiny, so this bounds the server's own memory: 200 connections, the
    // queue and the batch. Measured peak: 20 MB resident (the test binary serving included).
    let out = run_py(&py, "load_test.py", &[&s.base, &s.pid().to_string(), "200", "64"], Duration::from_secs(240));
    eprintln!("{out}");
}

#[test]
fn kill_minus_9_keeps_every_acknowledged_write() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("history.db");
    let acks = dir.path().join("acks.txt");
    let acks_s = acks.to_string_lossy().to_string();
    let mut s = Server::start(json!({"db": db}));
    let base = s.base.clone();
    let writer = {
        let (py, acks_s) = (py.clone(), acks_s.clone());
        std::thread::spawn(move || run_py(&py, "kill_test.py", &["write", &base, &acks_s], Duration::from_secs(60)))
    };
    std::thread::sleep(Duration::from_millis(1500));
    s.child.kill().expect("kill -9 the server");
    let _ = s.child.wait();
    eprintln!("{}", writer.join().expect("writer thread"));
    let s = Server::start(json!({"db": db}));
    let out = run_py(&py, "kill_test.py", &["check", &s.base, &acks_s, &db.to_string_lossy()], Duration::from_secs(60));
    eprintln!("{out}");
}

#[test]
fn sigterm_lets_an_open_stream_finish_then_exits() {
    let mut s = Server::start(json!({"grace": 20}));
    let body =
        json!({"messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 200, "ignore_eos": true})
            .to_string();
    let mut conn = std::net::TcpStream::connect(s.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut first = [0u8; 64];
    let n = conn.read(&mut first).expect("first bytes of the stream");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let term = Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    let mut rest = String::new();
    let _ = conn.read_to_string(&mut rest);
    assert!(
        rest.contains("\"finish_reason\":\"length\"") && rest.contains("data: [DONE]"),
        "the open stream ran to its end: {rest:.300}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = s.child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "the server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit: {status}");
    let lines: Vec<String> = s.lines.try_iter().collect();
    assert!(lines.iter().any(|l| l == "SERVER EXITED"), "{lines:?}");
}

#[test]
fn web_page_in_headless_chromium_streams_folds_and_restores_from_sqlite() {
    let Some(py) = python() else { return };
    // python() has run the install script under CI, which brings chromium too.
    let chromium = Command::new("sh").args(["-c", "command -v chromium"]).output().ok().filter(|o| o.status.success());
    let Some(chromium) = chromium.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()) else {
        assert!(std::env::var_os("CI").is_none(), "no chromium: run crates/server/tests/install_test_deps.sh");
        eprintln!("skipped: no chromium");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(json!({"db": dir.path().join("h.db")}));
    let shot = root().join("target/server-test-artifacts/chat.png");
    let out = run_py(&py, "browser_test.py", &[&s.base, &chromium, &shot.to_string_lossy()], Duration::from_secs(120));
    eprintln!("{out}");
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000), "screenshot kept at {}", shot.display());
}

/// One HTTP/1.1 request on a fresh connection: (status, body). Bounded in time.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw);
    let status =
        text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status line in {text:?}"));
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |i| i + 4);
    (status, raw[split..].to_vec())
}

/// Hostile request bodies, enumerated: every field of a valid chat request set to wrong types and
/// extreme values, plus bodies that are not JSON, nest 100,000 deep or hold megabytes. Each gets
/// an answer (2xx, or a 4xx with OpenAI's JSON error shape), and the server keeps serving.
#[test]
fn hostile_request_bodies_get_clean_answers_and_the_server_keeps_serving() {
    let s = Server::start(json!({}));
    let addr = s.addr();
    let valid = json!({"model": "qwen2_bf16_sharded", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0});
    let hostile = [
        Value::Null,
        json!(-1),
        json!(0),
        json!(1e300),
        json!(u64::MAX),
        json!("x"),
        json!([]),
        json!({}),
        json!([{"role": 7}]),
        json!(true),
    ];
    let fields = [
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "seed",
        "stop",
        "stream",
        "logprobs",
        "top_logprobs",
        "thinking_budget_tokens",
        "reasoning_effort",
        "stream_options",
        "ignore_eos",
    ];
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    for f in fields {
        for h in &hostile {
            let mut b = valid.clone();
            b[f] = h.clone();
            bodies.push((format!("{f} = {h}"), serde_json::to_vec(&b).unwrap()));
        }
    }
    let mut big = valid.clone();
    big["messages"][0]["content"] = json!("x ".repeat(2_000_000));
    bodies.push(("a 4 MB message".into(), serde_json::to_vec(&big).unwrap()));
    bodies.push(("not JSON".into(), b"{\"messages\": [".to_vec()));
    bodies.push(("not UTF-8".into(), vec![0xff, 0xfe, 0x00, 0x7b]));
    bodies.push(("nested 100,000 deep".into(), format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()));
    bodies.push(("empty".into(), Vec::new()));
    // The unmutated request succeeds, so each mutation is what a refusal answers.
    let (status, reply) = http(&addr, "POST", "/v1/chat/completions", &serde_json::to_vec(&valid).unwrap());
    assert_eq!(status, 200, "the valid request: {}", String::from_utf8_lossy(&reply));
    let started = Instant::now();
    let mut refused = 0;
    for (what, body) in &bodies {
        let (status, reply) = http(&addr, "POST", "/v1/chat/completions", body);
        assert!((200..300).contains(&status) || (400..500).contains(&status), "{what}: status {status}");
        if status >= 400 {
            refused += 1;
            let v: Value = serde_json::from_slice(&reply)
                .unwrap_or_else(|_| panic!("{what}: {status} body is not JSON: {}", String::from_utf8_lossy(&reply)));
            assert!(v["error"]["message"].is_string(), "{what}: {status} without an OpenAI error object: {v}");
        }
        assert_eq!(http(&addr, "GET", "/health", b"").0, 200, "after {what}: /health");
    }
    eprintln!(
        "{} hostile bodies answered in {:.1} s, {refused} refused",
        bodies.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(refused > bodies.len() / 2, "only {refused} of {} refused", bodies.len());
    assert!(started.elapsed() < Duration::from_secs(300), "took {:?}", started.elapsed());
}
