//! Puts the git commit the binary was built from into `reasoner --version` (REASONER_GIT_COMMIT;
//! "unknown" when built outside a git checkout), and embeds models/tiny-r1 in the binary when the
//! repository holds it (cfg `embedded_tiny_r1`), so `reasoner chat` works on a fresh machine with
//! no download and from any directory.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // Tracked files changed since that commit (untracked ones do not make a build differ).
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    println!("cargo:rustc-env=REASONER_GIT_COMMIT={commit}{}", if dirty { "-dirty" } else { "" });
    // Rebuild the stamp when HEAD moves (a commit, a checkout) as well as when the crate changes.
    for p in ["HEAD", "index"] {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])) {
        println!("cargo:rerun-if-changed={r}");
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");

    println!("cargo::rustc-check-cfg=cfg(embedded_tiny_r1)");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-r1");
    println!("cargo:rerun-if-changed={}", dir.display());
    let files =
        ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"];
    for f in files {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    if files.iter().all(|f| dir.join(f).exists()) {
        println!("cargo::rustc-cfg=embedded_tiny_r1");
    }
}
