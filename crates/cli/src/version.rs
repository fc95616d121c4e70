//! `reasoner --version`: the package version, the git commit it was built from, and the CPU
//! features this machine offers to the SIMD kernels (they pick their path at run time).

/// CPU features the kernels of reasoner-model test for, in the order they are tried.
#[cfg(target_arch = "x86_64")]
fn cpu_features() -> Vec<&'static str> {
    let mut have = Vec::new();
    macro_rules! probe {
        ($($f:tt),*) => {$( if std::arch::is_x86_feature_detected!($f) { have.push($f); } )*};
    }
    probe!("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avx512bitalg", "gfni");
    have
}

#[cfg(target_arch = "aarch64")]
fn cpu_features() -> Vec<&'static str> {
    let mut have = Vec::new();
    if std::arch::is_aarch64_feature_detected!("neon") {
        have.push("neon");
    }
    have
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn cpu_features() -> Vec<&'static str> {
    Vec::new()
}

/// The text `--version` prints after the program name.
pub fn long_version() -> String {
    let features = cpu_features();
    format!(
        "{} (commit {})\n{} {}, CPU features for the kernels: {}",
        env!("CARGO_PKG_VERSION"),
        env!("REASONER_GIT_COMMIT"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        if features.is_empty() { "none (scalar kernels)".to_string() } else { features.join(" ") }
    )
}
