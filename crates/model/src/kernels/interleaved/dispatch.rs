//! Which interleaved kernel set runs for each format: the scalar reference, or the fastest SIMD
//! set the CPU has (AVX2, AVX-512 VNNI, and VNNI with BITALG/GFNI for Q5_0 and Q6_K), chosen once
//! per format; `REASONER_KERNELS=scalar` forces the reference.

#[cfg(target_arch = "x86_64")]
use crate::cpu::cpu_features;
use crate::quant::GgmlType;

use super::{Kernels, q4_k, q5_0, q6_k, q8_0};

pub(super) fn scalar_kernels(dtype: GgmlType) -> Kernels {
    match dtype {
        GgmlType::Q6K => Kernels::K(q6_k::SCALAR),
        GgmlType::Q5_0 => Kernels::B32(q5_0::SCALAR),
        GgmlType::Q8_0 => Kernels::B32(q8_0::SCALAR),
        _ => Kernels::K(q4_k::SCALAR),
    }
}

/// Every SIMD kernel set this CPU runs for `dtype`, slowest first (tests check each).
pub(super) fn simd_kernel_sets(dtype: GgmlType) -> Vec<Kernels> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    if has_simd_kernels() {
        out.push(match dtype {
            GgmlType::Q6K => Kernels::K(q6_k::AVX2),
            GgmlType::Q5_0 => Kernels::B32(q5_0::AVX2),
            GgmlType::Q8_0 => Kernels::B32(q8_0::AVX2),
            _ => Kernels::K(q4_k::AVX2),
        });
        if has_vnni() {
            match dtype {
                GgmlType::Q4K => out.push(Kernels::K(q4_k::VNNI)),
                GgmlType::Q5_0 => {
                    out.push(Kernels::B32(q5_0::VNNI));
                    if has_bitalg() {
                        out.push(Kernels::B32(q5_0::VNNI_BITALG));
                    }
                }
                GgmlType::Q6K => {
                    out.push(Kernels::K(q6_k::VNNI));
                    if has_gfni() {
                        out.push(Kernels::K(q6_k::VNNI_GFNI));
                    }
                }
                GgmlType::Q8_0 => out.push(Kernels::B32(q8_0::VNNI)),
                _ => {}
            }
        }
    }
    let _ = dtype;
    out
}

fn simd_kernels(dtype: GgmlType) -> Option<Kernels> {
    simd_kernel_sets(dtype).pop()
}

#[cfg(target_arch = "x86_64")]
fn has_vnni() -> bool {
    cpu_features().avx512_vnni()
}

/// AVX-512 BW and BITALG (bit shuffles into mask registers) and GFNI, beside VNNI.
#[cfg(target_arch = "x86_64")]
fn has_bitalg() -> bool {
    cpu_features().avx512_bitalg_gfni()
}

/// GFNI (bit moves within bytes as one affine map), beside VNNI.
#[cfg(target_arch = "x86_64")]
fn has_gfni() -> bool {
    cpu_features().avx512_vnni_gfni()
}

/// The fastest group kernels this CPU runs (AVX2+FMA+F16C, else scalar; `REASONER_KERNELS=scalar`
/// forces scalar).
pub(super) fn best_kernels(dtype: GgmlType) -> Kernels {
    // Chosen once per format: this runs on every mat-vec.
    static BEST: std::sync::OnceLock<[Kernels; 4]> = std::sync::OnceLock::new();
    let best = BEST.get_or_init(|| {
        let scalar_only = std::env::var("REASONER_KERNELS").as_deref() == Ok("scalar");
        [GgmlType::Q4K, GgmlType::Q6K, GgmlType::Q5_0, GgmlType::Q8_0].map(|t| match simd_kernels(t) {
            Some(k) if !scalar_only => k,
            _ => scalar_kernels(t),
        })
    });
    match dtype {
        GgmlType::Q6K => best[1],
        GgmlType::Q5_0 => best[2],
        GgmlType::Q8_0 => best[3],
        _ => best[0],
    }
}

/// Whether the SIMD group kernels run here (weights are interleaved only then).
pub fn has_simd_kernels() -> bool {
    crate::cpu::cpu_features().avx2_fma_f16c()
}
