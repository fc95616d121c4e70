//! The interleaved kernels' one dispatch table: a `KernelTable` per instruction set, each
//! holding every format, and the fastest one this CPU runs chosen once from
//! `cpu::cpu_features()` (`REASONER_KERNELS=scalar` forces the reference).

use super::driver::{GroupKernels, Q8Act, Q8KAct};
use super::scalar;
#[cfg(target_arch = "x86_64")]
use super::{avx2, vnni};
use crate::quant::GgmlType;
use std::sync::OnceLock;

/// The group kernels of one instruction set, one entry per interleaved format.
pub(super) struct KernelTable {
    pub(super) name: &'static str,
    pub(super) q4_k: GroupKernels<Q8KAct>,
    pub(super) q6_k: GroupKernels<Q8KAct>,
    pub(super) q5_0: GroupKernels<Q8Act>,
    pub(super) q8_0: GroupKernels<Q8Act>,
}

impl std::fmt::Debug for KernelTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// One format's kernels, by the kind of activation row they take.
#[derive(Clone, Copy)]
pub(super) enum Kernels {
    K(GroupKernels<Q8KAct>),
    B32(GroupKernels<Q8Act>),
}

impl KernelTable {
    /// The kernels for weights of `dtype` (one of the four interleaved formats).
    pub(super) fn for_type(&self, dtype: GgmlType) -> Kernels {
        match dtype {
            GgmlType::Q6K => Kernels::K(self.q6_k),
            GgmlType::Q5_0 => Kernels::B32(self.q5_0),
            GgmlType::Q8_0 => Kernels::B32(self.q8_0),
            _ => Kernels::K(self.q4_k),
        }
    }
}

/// Every table this CPU runs, scalar first; each needs the features of the one before and more.
pub(super) fn available() -> Vec<&'static KernelTable> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))] // only x86-64 has SIMD tables
    let mut out = vec![&scalar::TABLE];
    #[cfg(target_arch = "x86_64")]
    {
        let f = crate::cpu::cpu_features();
        let tables = [
            (f.avx2_fma_f16c(), &avx2::TABLE),
            (f.avx512_vnni(), &vnni::TABLE),
            (f.avx512_vnni_gfni(), &vnni::TABLE_GFNI),
            (f.avx512_bitalg_gfni(), &vnni::TABLE_GFNI_BITALG),
        ];
        out.extend(tables.into_iter().take_while(|(has, _)| *has).map(|(_, t)| t));
    }
    out
}

/// Every SIMD kernel set this CPU runs for `dtype`, slowest first (tests check each).
#[cfg(test)]
pub(super) fn simd_kernel_sets(dtype: GgmlType) -> Vec<Kernels> {
    available().iter().skip(1).map(|t| t.for_type(dtype)).collect()
}

/// The table that runs: the last of `available()`, or scalar under `REASONER_KERNELS=scalar`.
/// Chosen once: this runs on every mat-vec.
pub(super) fn best() -> &'static KernelTable {
    static BEST: OnceLock<&'static KernelTable> = OnceLock::new();
    BEST.get_or_init(|| {
        let scalar_only = std::env::var("REASONER_KERNELS").as_deref() == Ok("scalar");
        if scalar_only { &scalar::TABLE } else { available().last().copied().unwrap_or(&scalar::TABLE) }
    })
}

/// The reference table (tests compare the SIMD ones against it).
pub(super) fn scalar_table() -> &'static KernelTable {
    &scalar::TABLE
}

/// Whether the SIMD group kernels run here (weights are interleaved only then).
pub fn has_simd_kernels() -> bool {
    crate::cpu::cpu_features().avx2_fma_f16c()
}
