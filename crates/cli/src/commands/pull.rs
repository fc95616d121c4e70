//! `reasoner pull ORG/NAME`: the one command that opens a connection, and only when run. It
//! downloads a model's files from a Hugging Face hub into the local Hugging Face cache layout
//! (`blobs/`, `snapshots/COMMIT/`, `refs/REVISION`), resuming partial files, checking each file's
//! size and hash (sha256 for LFS files, the git blob sha1 for the others) before it is used.

use crate::hf_cache;
use crate::human;
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct PullArgs {
    /// The model's repo id on the hub, ORG/NAME.
    pub repo: String,
    /// Branch, tag or commit.
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Only files whose name matches PATTERN (`*` matches any text), e.g. `--include '*Q4_K_M.gguf'`
    /// for one file of a GGUF repo; repeatable [default: every file]
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,
    /// The hub's address [default: $HF_ENDPOINT, else https://huggingface.co]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

/// One file of the repo as the hub's API lists it.
struct RemoteFile {
    name: String,
    size: u64,
    /// The blob's name in the cache: the sha256 for LFS files, the git blob sha1 for others.
    blob: String,
    lfs: bool,
}

/// Attempts per file; each one resumes where the previous stopped.
const ATTEMPTS: usize = 4;

pub fn run(a: PullArgs) -> Result<()> {
    if !hf_cache::is_repo_id(&a.repo) {
        bail!("`{}` is not a repo id (expected ORG/NAME, e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B)", a.repo);
    }
    let endpoint = a
        .endpoint
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()))
        .unwrap_or_else(|| "https://huggingface.co".into());
    let endpoint = endpoint.trim_end_matches('/');
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_connect(Some(std::time::Duration::from_secs(30))).build().into();
    let get = |url: &str| {
        let mut r = agent.get(url);
        if let Some(t) = &token {
            r = r.header("Authorization", &format!("Bearer {t}"));
        }
        r
    };

    let api = format!("{endpoint}/api/models/{}/revision/{}?blobs=true", a.repo, a.revision);
    let info: Value = get(&api)
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .with_context(|| format!("asking {api} for the file list of {} at {}", a.repo, a.revision))
        .and_then(|text| serde_json::from_str(&text).with_context(|| format!("{api}: the answer is not JSON")))?;
    let commit = info["sha"]
        .as_str()
        .filter(|s| !s.is_empty())
        .with_context(|| format!("{api}: no `sha` in the answer"))?
        .to_string();
    let files = remote_files(&info, &a.include).with_context(|| format!("{api}: the file list"))?;
    if files.is_empty() {
        bail!("{} at {}: no file matches --include {}", a.repo, a.revision, a.include.join(" "));
    }

    let hub = hf_cache::hub_dir();
    let repo_dir = hf_cache::repo_dir(&hub, &a.repo);
    let blobs = repo_dir.join("blobs");
    let snapshot = repo_dir.join("snapshots").join(&commit);
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let total: u64 = files.iter().map(|f| f.size).sum();
    eprintln!(
        "pulling {} at {} ({} files, {}) into {}",
        a.repo,
        &commit[..commit.len().min(12)],
        files.len(),
        human::bytes(total),
        repo_dir.display()
    );
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}") {
        bar.set_style(style);
    }
    for f in &files {
        bar.set_message(f.name.clone());
        let blob = blobs.join(&f.blob);
        if !(blob.is_file() && std::fs::metadata(&blob).is_ok_and(|m| m.len() == f.size)) {
            let url = format!("{endpoint}/{}/resolve/{commit}/{}", a.repo, f.name);
            download(
                &|range| {
                    let mut r = get(&url);
                    if let Some(from) = range {
                        r = r.header("Range", &format!("bytes={from}-"));
                    }
                    r.call().with_context(|| format!("GET {url}"))
                },
                f,
                &blob,
                &bar,
            )?;
        } else {
            bar.inc(f.size);
        }
        link(&snapshot, f)?;
    }
    bar.finish_and_clear();
    let refs = repo_dir.join("refs");
    std::fs::create_dir_all(&refs)?;
    if a.revision != commit {
        let r = refs.join(&a.revision);
        if let Some(dir) = r.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&r, &commit).with_context(|| format!("writing {}", r.display()))?;
    }
    println!("{} ({} files, {}) in {}", a.repo, files.len(), human::bytes(total), snapshot.display());
    println!("run it with: reasoner chat -m {}", a.repo);
    Ok(())
}

fn remote_files(info: &Value, include: &[String]) -> Result<Vec<RemoteFile>> {
    let siblings = info["siblings"].as_array().context("no `siblings` list")?;
    let mut files = Vec::new();
    for s in siblings {
        let name = s["rfilename"].as_str().context("a sibling without `rfilename`")?;
        if name.split('/').any(|part| part == ".." || part.is_empty()) || name.starts_with('/') {
            bail!("refusing the file name `{name}` (it would land outside the snapshot)");
        }
        if !include.is_empty() && !include.iter().any(|p| glob_match(p, name)) {
            continue;
        }
        let lfs = s["lfs"].is_object();
        let (blob, size) = if lfs {
            (s["lfs"]["sha256"].as_str(), s["lfs"]["size"].as_u64().or(s["size"].as_u64()))
        } else {
            (s["blobId"].as_str(), s["size"].as_u64())
        };
        let blob = blob
            .filter(|b| b.len() >= 40 && b.bytes().all(|c| c.is_ascii_hexdigit()))
            .with_context(|| format!("{name}: no blob hash (blobId / lfs.sha256)"))?;
        let size = size.with_context(|| format!("{name}: no size"))?;
        files.push(RemoteFile { name: name.to_string(), size, blob: blob.to_ascii_lowercase(), lfs });
    }
    Ok(files)
}

/// `*` matches any run of characters (slashes included); everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Downloads `f` into `blob` through `<blob>.incomplete`, resuming what an earlier attempt (or
/// an earlier run) left there, then checks size and hash before renaming it into place.
fn download(
    fetch: &dyn Fn(Option<u64>) -> Result<ureq::http::Response<ureq::Body>>,
    f: &RemoteFile,
    blob: &Path,
    bar: &ProgressBar,
) -> Result<()> {
    let partial = PathBuf::from(format!("{}.incomplete", blob.display()));
    let mut last_error = None;
    let mut counted = 0u64;
    for _ in 0..ATTEMPTS {
        let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if have > f.size {
            // Not a prefix of this file: start over.
            std::fs::remove_file(&partial)?;
            continue;
        }
        bar.inc(have.saturating_sub(counted));
        counted = counted.max(have);
        if have == f.size {
            break;
        }
        let result = (|| -> Result<()> {
            let resp = fetch((have > 0).then_some(have))?;
            // 206 continues the partial file; a 200 to a range request sends it all again.
            let append = have > 0 && resp.status().as_u16() == 206;
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(append)
                .write(true)
                .truncate(!append)
                .open(&partial)
                .with_context(|| format!("opening {}", partial.display()))?;
            if !append && have > 0 {
                bar.set_position(bar.position().saturating_sub(have));
                counted -= have;
            }
            let mut body = resp.into_body().into_reader();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = body.read(&mut buf).with_context(|| format!("downloading {}", f.name))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).with_context(|| format!("writing {}", partial.display()))?;
                bar.inc(n as u64);
                counted += n as u64;
            }
            out.sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            last_error = Some(e);
            continue;
        }
        if std::fs::metadata(&partial)?.len() == f.size {
            last_error = None;
            break;
        }
    }
    if let Some(e) = last_error {
        return Err(e.context(format!("{}: gave up after {ATTEMPTS} attempts; run pull again to resume", f.name)));
    }
    let got = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    if got != f.size {
        bail!("{}: {got} bytes arrived, the hub lists {}; run pull again to resume", f.name, f.size);
    }
    let hash = if f.lfs { sha256_file(&partial)? } else { git_blob_sha1(&partial)? };
    if hash != f.blob {
        std::fs::remove_file(&partial)?;
        let kind = if f.lfs { "sha256" } else { "git blob sha1" };
        bail!("{}: {kind} is {hash}, the hub lists {}; the download was discarded", f.name, f.blob);
    }
    std::fs::rename(&partial, blob).with_context(|| format!("moving {} into place", blob.display()))?;
    Ok(())
}

/// `snapshots/COMMIT/NAME` → `../../blobs/BLOB` (one more `..` per folder in NAME), as the hub
/// client links them.
fn link(snapshot: &Path, f: &RemoteFile) -> Result<()> {
    let path = snapshot.join(&f.name);
    let dir = path.parent().unwrap_or(snapshot);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let depth = f.name.matches('/').count() + 2;
    let target = PathBuf::from("../".repeat(depth)).join("blobs").join(&f.blob);
    if path.symlink_metadata().is_ok() {
        std::fs::remove_file(&path)?;
    }
    std::os::unix::fs::symlink(&target, &path).with_context(|| format!("linking {}", path.display()))
}

/// Feeds a file through a hash, 64 KiB at a time.
fn hash_file(path: &Path, mut update: impl FnMut(&[u8])) -> Result<()> {
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        update(&buf[..n]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    hash_file(path, |b| h.update(b))?;
    Ok(hex(&h.finalize()))
}

/// git's object id of a file: sha1 of `blob <len>\0` and the bytes.
fn git_blob_sha1(path: &Path) -> Result<String> {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", std::fs::metadata(path)?.len()).as_bytes());
    hash_file(path, |b| h.update(b))?;
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.gguf", "m-Q4_K_M.gguf"));
        assert!(glob_match("*Q4_K_M*", "m-Q4_K_M.gguf"));
        assert!(glob_match("config.json", "config.json"));
        assert!(!glob_match("*.gguf", "config.json"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }
}
