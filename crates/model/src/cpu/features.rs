//! The CPU's instruction sets, detected once per process. Every SIMD kernel's caller asks here
//! (not `is_x86_feature_detected!` at each call site), so one place says which features each
//! kernel family needs and the `unsafe` calls can name the field that made them sound.

use std::sync::OnceLock;

/// The x86-64 features the kernels use; all false on other architectures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    pub avx2: bool,
    pub fma: bool,
    pub f16c: bool,
    pub avx512f: bool,
    pub avx512bw: bool,
    pub avx512vl: bool,
    pub avx512vnni: bool,
    pub avx512bitalg: bool,
    pub gfni: bool,
}

impl CpuFeatures {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Self {
                avx2: is_x86_feature_detected!("avx2"),
                fma: is_x86_feature_detected!("fma"),
                f16c: is_x86_feature_detected!("f16c"),
                avx512f: is_x86_feature_detected!("avx512f"),
                avx512bw: is_x86_feature_detected!("avx512bw"),
                avx512vl: is_x86_feature_detected!("avx512vl"),
                avx512vnni: is_x86_feature_detected!("avx512vnni"),
                avx512bitalg: is_x86_feature_detected!("avx512bitalg"),
                gfni: is_x86_feature_detected!("gfni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self::default()
    }

    /// AVX2 with FMA: the vectorised `exp` (softmax, SiLU).
    pub fn avx2_fma(&self) -> bool {
        self.avx2 && self.fma
    }

    /// AVX2, FMA and F16C: the AVX2 row kernels, GEMM tiles, interleaved kernels and attention.
    pub fn avx2_fma_f16c(&self) -> bool {
        self.avx2 && self.fma && self.f16c
    }

    /// AVX-512 F and VL: attention's 16-wide form.
    pub fn avx512_vl(&self) -> bool {
        self.avx512f && self.avx512vl
    }

    /// AVX-512 F, BW, VL and VNNI: the AVX-512 row kernels.
    pub fn avx512_row_kernels(&self) -> bool {
        self.avx512f && self.avx512bw && self.avx512vl && self.avx512vnni
    }

    /// AVX-512 VNNI on 256-bit vectors (VL, F): the VNNI GEMM tiles and interleaved kernels.
    pub fn avx512_vnni(&self) -> bool {
        self.avx512vnni && self.avx512vl && self.avx512f
    }

    /// VNNI plus BITALG, BW and GFNI: the interleaved Q5_0 kernel's bit shuffles.
    pub fn avx512_bitalg_gfni(&self) -> bool {
        self.avx512_vnni() && self.avx512bw && self.avx512bitalg && self.gfni
    }

    /// VNNI plus GFNI: the interleaved Q6_K kernel's bit moves.
    pub fn avx512_vnni_gfni(&self) -> bool {
        self.avx512_vnni() && self.gfni
    }
}

/// This CPU's features, detected on the first call.
pub fn cpu_features() -> &'static CpuFeatures {
    static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
    FEATURES.get_or_init(CpuFeatures::detect)
}
