//! The local Hugging Face hub cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`):
//! `models--ORG--NAME/{refs/main, snapshots/COMMIT/...}`. `--model ORG/NAME` is found here without
//! any connection; `reasoner pull` writes the same layout, so the Python tools share the files.

use std::path::{Path, PathBuf};

/// The hub cache folder, as `huggingface_hub` chooses it.
pub fn hub_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("HF_HUB_CACHE") {
        return dir;
    }
    if let Some(home) = var("HF_HOME") {
        return home.join("hub");
    }
    let cache = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("huggingface").join("hub")
}

/// `ORG/NAME` (one slash, no path syntax): the shape of a hub repo id.
pub fn is_repo_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// `models--ORG--NAME` under the hub folder.
pub fn repo_dir(hub: &Path, repo_id: &str) -> PathBuf {
    hub.join(format!("models--{}", repo_id.replace('/', "--")))
}

/// The snapshot `refs/main` points at, else the most recently written snapshot.
pub fn snapshot(hub: &Path, repo_id: &str) -> Option<PathBuf> {
    let repo = repo_dir(hub, repo_id);
    let snapshots = repo.join("snapshots");
    if let Ok(commit) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let dir = snapshots.join(commit.trim());
        if dir.is_dir() {
            return Some(dir);
        }
    }
    std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// What to load from a snapshot: the folder when it holds `config.json`, else its one `.gguf`.
pub fn model_in_snapshot(dir: &Path) -> PathBuf {
    if dir.join("config.json").exists() {
        return dir.to_path_buf();
    }
    let ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "gguf")).collect()
        })
        .unwrap_or_default();
    match ggufs.as_slice() {
        [one] => one.clone(),
        _ => dir.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_are_told_from_paths() {
        assert!(is_repo_id("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"));
        assert!(is_repo_id("Qwen/Qwen2.5-0.5B"));
        for s in ["model", "./a/b", "a/b/c", "/abs", "a/", "../x", "a b/c"] {
            assert!(!is_repo_id(s), "{s}");
        }
    }

    #[test]
    fn snapshot_follows_refs_main() {
        let hub = tempfile::tempdir().unwrap();
        let repo = repo_dir(hub.path(), "org/name");
        for c in ["aaa", "bbb"] {
            std::fs::create_dir_all(repo.join("snapshots").join(c)).unwrap();
        }
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "aaa\n").unwrap();
        assert_eq!(snapshot(hub.path(), "org/name").unwrap(), repo.join("snapshots/aaa"));
        assert!(snapshot(hub.path(), "org/other").is_none());
        std::fs::write(repo.join("snapshots/aaa/m.Q4_K.gguf"), b"").unwrap();
        assert_eq!(model_in_snapshot(&repo.join("snapshots/aaa")), repo.join("snapshots/aaa/m.Q4_K.gguf"));
    }
}
