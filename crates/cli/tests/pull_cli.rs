//! `reasoner pull` against a hub on 127.0.0.1 that speaks the Hugging Face hub's layout
//! (`/api/models/ORG/NAME/revision/REV?blobs=true`, `/ORG/NAME/resolve/COMMIT/FILE` with Range
//! requests): the files land in the cache layout and load by repo id, a partial file is resumed,
//! a dropped connection is retried, and a file whose hash is wrong is refused. The expected hashes
//! come from `sha256sum` and `git hash-object`, not from our code.

use reasoner_testutil::fixture;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const COMMIT: &str = "feedfacefeedfacefeedfacefeedfacefeedface";

fn tool_hash(cmd: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(cmd).args(args).arg(file).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// How the fake hub misbehaves.
#[derive(Clone, Default)]
struct Faults {
    /// Serve these files with one byte changed.
    corrupt: Vec<String>,
    /// Close the connection half-way through the first download of these files.
    drop_once: Vec<String>,
}

/// Every request the hub saw: (path, Range header).
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Hub {
    url: String,
    log: RequestLog,
}

/// Serves the qwen2_f32 fixture as `org/tiny`: model.safetensors as an LFS file (sha256), the
/// JSON files as plain git files (blob sha1), as the hub lists them.
fn serve(faults: Faults) -> Hub {
    let dir = fixture("qwen2_f32");
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut siblings = Vec::new();
    for name in
        ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]
    {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).unwrap();
        let size = bytes.len();
        siblings.push(if name.ends_with(".safetensors") {
            json!({"rfilename": name, "size": size, "blobId": tool_hash("git", &["hash-object"], &path), "lfs": {"sha256": tool_hash("sha256sum", &[], &path), "size": size, "pointerSize": 134}})
        } else {
            json!({"rfilename": name, "size": size, "blobId": tool_hash("git", &["hash-object"], &path)})
        });
        files.insert(name.to_string(), bytes);
    }
    let info = json!({"id": "org/tiny", "sha": COMMIT, "siblings": siblings}).to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: RequestLog = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        let dropped = Mutex::new(Vec::<String>::new());
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut range = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("range")
                {
                    range = Some(v.trim().to_string());
                }
            }
            log2.lock().unwrap().push((path.clone(), range.clone()));
            let respond = |stream: &mut std::net::TcpStream, status: &str, body: &[u8], extra: &str| {
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
            };
            if path == "/api/models/org/tiny/revision/main?blobs=true" {
                respond(&mut stream, "200 OK", info.as_bytes(), "Content-Type: application/json\r\n");
                continue;
            }
            let Some(name) = path.strip_prefix(&format!("/org/tiny/resolve/{COMMIT}/")) else {
                respond(&mut stream, "404 Not Found", b"{\"error\":\"Repository not found\"}", "");
                continue;
            };
            let Some(bytes) = files.get(name) else {
                respond(&mut stream, "404 Not Found", b"", "");
                continue;
            };
            let mut bytes = bytes.clone();
            if faults.corrupt.iter().any(|c| c == name) {
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0xff;
            }
            let from: usize = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.trim_end_matches('-').parse().ok())
                .unwrap_or(0);
            let body = &bytes[from.min(bytes.len())..];
            let (status, extra) = if from > 0 {
                ("206 Partial Content", format!("Content-Range: bytes {from}-{}/{}\r\n", bytes.len() - 1, bytes.len()))
            } else {
                ("200 OK", String::new())
            };
            if faults.drop_once.iter().any(|d| d == name) && !dropped.lock().unwrap().contains(&name.to_string()) {
                dropped.lock().unwrap().push(name.to_string());
                // Promise the whole body, send half, hang up.
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body[..body.len() / 2]);
                let _ = stream.flush();
                drop(stream);
                continue;
            }
            respond(&mut stream, status, body, &extra);
        }
    });
    Hub { url, log }
}

fn reasoner(args: &[&str], hub_cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reasoner"))
        .args(args)
        .env("HF_HUB_CACHE", hub_cache)
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .output()
        .unwrap()
}

fn logprobs(model: &str, cache: &Path) -> Value {
    let out = reasoner(&["logprobs", "-m", model, "--ids", "1,2,3"], cache);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn pull_lays_out_the_cache_and_the_model_loads_by_name() {
    let hub = serve(Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let out = reasoner(&["pull", "org/tiny", "--endpoint", &hub.url], cache.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let repo = cache.path().join("models--org--tiny");
    assert_eq!(std::fs::read_to_string(repo.join("refs/main")).unwrap(), COMMIT);
    let weights = repo.join("snapshots").join(COMMIT).join("model.safetensors");
    assert!(weights.symlink_metadata().unwrap().file_type().is_symlink());
    let sha = tool_hash("sha256sum", &[], &fixture("qwen2_f32").join("model.safetensors"));
    assert_eq!(std::fs::read_link(&weights).unwrap(), Path::new("../../blobs").join(&sha));
    assert_eq!(logprobs("org/tiny", cache.path()), logprobs(fixture("qwen2_f32").to_str().unwrap(), cache.path()));

    // A second pull finds every blob in place and downloads nothing.
    let before = hub.log.lock().unwrap().len();
    let out = reasoner(&["pull", "org/tiny", "--endpoint", &hub.url], cache.path());
    assert!(out.status.success());
    let log = hub.log.lock().unwrap();
    assert!(log[before..].iter().all(|(p, _)| p.starts_with("/api/")), "{:?}", &log[before..]);
}

#[test]
fn partial_files_resume_and_dropped_connections_retry() {
    let hub = serve(Faults { drop_once: vec!["tokenizer.json".into()], ..Faults::default() });
    let cache = tempfile::tempdir().unwrap();
    // An earlier run left the first 1000 bytes of the weights.
    let src = fixture("qwen2_f32").join("model.safetensors");
    let sha = tool_hash("sha256sum", &[], &src);
    let blobs = cache.path().join("models--org--tiny/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let mut head = vec![0u8; 1000];
    std::fs::File::open(&src).unwrap().read_exact(&mut head).unwrap();
    std::fs::write(blobs.join(format!("{sha}.incomplete")), &head).unwrap();

    let out = reasoner(&["pull", "org/tiny", "--endpoint", &hub.url], cache.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(blobs.join(&sha)).unwrap(), std::fs::read(&src).unwrap());
    let log = hub.log.lock().unwrap();
    let weights: Vec<_> = log.iter().filter(|(p, _)| p.ends_with("/model.safetensors")).collect();
    assert_eq!(weights.len(), 1);
    assert_eq!(weights[0].1.as_deref(), Some("bytes=1000-"), "resumed from byte 1000");
    let tok: Vec<_> = log.iter().filter(|(p, _)| p.ends_with("/tokenizer.json")).collect();
    assert_eq!(tok.len(), 2, "one dropped, one resumed: {tok:?}");
    assert!(tok[1].1.as_deref().is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-"), "{tok:?}");
    drop(log);
    assert_eq!(logprobs("org/tiny", cache.path()), logprobs(fixture("qwen2_f32").to_str().unwrap(), cache.path()));
}

#[test]
fn a_wrong_hash_is_refused() {
    let hub = serve(Faults { corrupt: vec!["model.safetensors".into(), "config.json".into()], ..Faults::default() });
    let cache = tempfile::tempdir().unwrap();
    let out = reasoner(&["pull", "org/tiny", "--endpoint", &hub.url, "--include", "*.safetensors"], cache.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("model.safetensors") && err.contains("sha256"), "{err}");
    let out = reasoner(&["pull", "org/tiny", "--endpoint", &hub.url, "--include", "config.json"], cache.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("git blob sha1"), "{err}");
    let blobs: Vec<_> = std::fs::read_dir(cache.path().join("models--org--tiny/blobs")).unwrap().collect();
    assert!(blobs.is_empty(), "nothing unchecked is kept");
    let out = reasoner(&["pull", "org/missing", "--endpoint", &hub.url], cache.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("org/missing") && err.contains("404"), "{err}");
}
