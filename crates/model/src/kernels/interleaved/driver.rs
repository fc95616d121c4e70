//! What every interleaved kernel shares whatever its instruction set: the activation rows the
//! kernels take, the kernel entry types the tables hold, and `rows_dot`, the one loop over a
//! group's blocks that every SIMD kernel runs under, generic over the format's `GroupBlock`
//! (the work on one block of eight rows), so each instruction set writes only that.

use super::ROWS;
use crate::kernels::Q8Row;
use crate::quant::k_quants::BlockQ8K;

/// Σ of the activation over each 32-value sub-block, two per i32 (low half sub-block 2p, high
/// half 2p + 1): what Q4_K's mins are multiplied with.
pub(super) type PairSums = [i32; 4];

pub(super) fn pair_sums(a: &BlockQ8K) -> PairSums {
    let s = |j: usize| (a.bsums[2 * j] + a.bsums[2 * j + 1]) as u16 as u32;
    std::array::from_fn(|p| (s(2 * p) | (s(2 * p + 1) << 16)) as i32)
}

/// One activation row as the K-quant kernels (Q4_K, Q6_K) take it: Q8_K blocks and their
/// pair sums.
pub(super) struct Q8KAct {
    pub(super) blocks: Vec<BlockQ8K>,
    pub(super) pair_sums: Vec<PairSums>,
}

/// One activation row as the 32-value block kernels (Q5_0, Q8_0) take it: a Q8_0 row and the
/// sum of each block's quantized values (for the formats' constant offsets).
pub(super) struct Q8Act {
    pub(super) row: Q8Row,
    pub(super) sums: Vec<i32>,
}

/// An activation row the kernels can check against the number of blocks they will read.
pub(super) trait ActRow {
    /// Blocks in the row.
    fn n_blocks(&self) -> usize;
    /// Whether every block and sum a kernel reads for `nb` blocks is there.
    fn holds(&self, nb: usize) -> bool;
}

impl ActRow for Q8KAct {
    fn n_blocks(&self) -> usize {
        self.blocks.len()
    }
    fn holds(&self, nb: usize) -> bool {
        self.blocks.len() == nb && self.pair_sums.len() >= nb
    }
}

impl ActRow for Q8Act {
    fn n_blocks(&self) -> usize {
        self.sums.len()
    }
    fn holds(&self, nb: usize) -> bool {
        self.sums.len() == nb && self.row.d.len() >= nb && self.row.qs.len() >= 32 * nb
    }
}

/// One group's dot products with one activation row: out[r] for the group's rows r.
pub(super) type GroupDot<A> = unsafe fn(&[u8], &A, &mut [f32; ROWS]);

/// The same for four activation rows at once: each weight vector is unpacked once and used
/// four times (prefill). Results equal four `GroupDot` calls bit for bit.
pub(super) type GroupDot4<A> = unsafe fn(&[u8], [&A; 4], &mut [[f32; ROWS]; 4]);

/// One format's kernels on one instruction set: decode (one activation row) and prefill (four).
pub(super) struct GroupKernels<A> {
    pub(super) one: GroupDot<A>,
    pub(super) four: GroupDot4<A>,
}

impl<A> Clone for GroupKernels<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A> Copy for GroupKernels<A> {}

/// A format's work on one group block (eight rows' blocks side by side) for `N` activation
/// rows, on one instruction set: adds each row's products to its accumulators `[acc, acc_min]`
/// (eight lanes, one per weight row); the group's result is acc − acc_min (acc_min stays zero
/// for the formats without mins, and x − 0 is x).
#[cfg(target_arch = "x86_64")]
pub(super) trait GroupBlock {
    type Act: ActRow;
    /// Bytes of one group block.
    const GROUP_BLOCK: usize;
    /// # Safety
    /// The CPU has the instruction set's features; `blk` points at a whole group block and every
    /// activation row holds block `b` and its sums.
    unsafe fn block<const N: usize>(
        blk: *const u8,
        a: [&Self::Act; N],
        b: usize,
        acc: &mut [[std::arch::x86_64::__m256; 2]; N],
    );
}

/// The one driver loop: `N` activation rows against one group, block by block. Inlined into
/// each instruction set's entry points (`entry_points!`), where the target features are on,
/// so the block kernel inlines into it.
/// # Safety
/// The CPU has the features `K::block` needs.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn rows_dot<K: GroupBlock, const N: usize>(
    group: &[u8],
    a: [&K::Act; N],
    out: &mut [[f32; ROWS]; N],
) {
    use std::arch::x86_64::*;
    let nb = a[0].n_blocks();
    assert!(group.len() >= nb * K::GROUP_BLOCK && a.iter().all(|a| a.holds(nb)));
    // SAFETY: the caller's CPU has AVX (every instruction set here includes it).
    let zero = unsafe { _mm256_setzero_ps() };
    let mut acc = [[zero; 2]; N];
    for b in 0..nb {
        // SAFETY: block b < nb lies inside `group` (asserted to hold nb group blocks), every
        // activation row holds nb blocks (asserted), and the CPU runs `K` (the caller's contract).
        unsafe { K::block::<N>(group.as_ptr().add(b * K::GROUP_BLOCK), a, b, &mut acc) };
    }
    for t in 0..N {
        // SAFETY: `out[t]` holds ROWS = 8 floats, one vector; AVX as above.
        unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), _mm256_sub_ps(acc[t][0], acc[t][1])) };
    }
}

/// A block kernel's table entries: one activation row (decode) and four (prefill), each a
/// `rows_dot` with the instruction set's features turned on, as `KERNELS`.
#[cfg(target_arch = "x86_64")]
macro_rules! entry_points {
    ($features:literal, $block:ty) => {
        /// One activation row (decode).
        /// # Safety
        /// As `rows_dot`.
        #[target_feature(enable = $features)]
        unsafe fn group_dot(
            group: &[u8],
            a: &<$block as crate::kernels::interleaved::driver::GroupBlock>::Act,
            out: &mut [f32; crate::kernels::interleaved::ROWS],
        ) {
            let mut o = [[0f32; crate::kernels::interleaved::ROWS]; 1];
            // SAFETY: `group_dot` has `rows_dot`'s contract (features enabled here), met by the caller.
            unsafe { crate::kernels::interleaved::driver::rows_dot::<$block, 1>(group, [a], &mut o) };
            *out = o[0];
        }

        /// Four activation rows (prefill).
        /// # Safety
        /// As `rows_dot`.
        #[target_feature(enable = $features)]
        unsafe fn group_dot4(
            group: &[u8],
            a: [&<$block as crate::kernels::interleaved::driver::GroupBlock>::Act; 4],
            out: &mut [[f32; crate::kernels::interleaved::ROWS]; 4],
        ) {
            // SAFETY: `group_dot4` has `rows_dot`'s contract (features enabled here), met by the caller.
            unsafe { crate::kernels::interleaved::driver::rows_dot::<$block, 4>(group, a, out) }
        }

        pub(in crate::kernels::interleaved) const KERNELS: crate::kernels::interleaved::driver::GroupKernels<
            <$block as crate::kernels::interleaved::driver::GroupBlock>::Act,
        > = crate::kernels::interleaved::driver::GroupKernels { one: group_dot, four: group_dot4 };
    };
}
#[cfg(target_arch = "x86_64")]
pub(super) use entry_points;
