//! Quantized weights interleaved eight rows at a time: the in-memory form Q4_K, Q6_K, Q5_0 and
//! Q8_0 linear weights take (llama.cpp repacks Q4_K and Q8_0 the same way, `block_q4_Kx8`,
//! `block_q8_0x4`). The row-at-a-time kernels are compute-bound at 2 threads; with eight rows
//! side by side, one broadcast activation value meets eight rows in one instruction and the
//! scales of eight rows are applied together, about half the instructions per weight for Q4_K
//! (`layout.rs` gives each format's byte order). The bytes are the rows' own blocks, moved: the
//! matrix keeps its size. For Q8_0 the row kernel tops out near 35 GB/s on 2 threads;
//! interleaved, decode follows the memory to ~46 GB/s when the machine has it (0.5B: 66 →
//! 86-88 tok/s), and its VNNI prefill kernel beats the tiled GEMM (103 vs 81 GMAC/s on one
//! thread).
//!
//! The kernels are split by instruction set, as ggml's are: `scalar.rs` (the reference),
//! `avx2.rs` and `vnni.rs` (AVX-512 VNNI on 256-bit vectors, with GFNI / BITALG forms for Q6_K
//! and Q5_0), each holding every format. Every SIMD kernel runs under one driver loop
//! (`driver::rows_dot`, generic over the format's block kernel), and one table per instruction
//! set (`dispatch.rs`) is chosen once from `cpu::cpu_features()`. This file holds the matrix:
//! interleaving a row-major matrix, getting rows back, and the mat-mul band driver
//! (activations quantized once per kind, the groups of one or several matrices taken by the
//! cores in one dispatch, four activation rows at a time in prefill).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod dispatch;
mod driver;
mod layout;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod vnni;

use crate::cpu::huge_pages::HugeBytes;
use rayon::prelude::*;

use super::Q8Row;
use crate::quant::blocks::{BLOCK_Q5_0, BLOCK_Q8_0, QK};
use crate::quant::k_quants::{BLOCK_Q4_K, BLOCK_Q6_K, BlockQ8K, quantize_row_q8_k};
use crate::quant::{GgmlType, QK_K, QuantError};
pub use dispatch::has_simd_kernels;
#[cfg(test)]
use dispatch::simd_kernel_sets;
use dispatch::{KernelTable, Kernels, best, scalar_table};
use driver::{PairSums, Q8Act, Q8KAct, pair_sums};

/// Rows per interleaved group.
pub const ROWS: usize = 8;

/// A Q4_K, Q6_K, Q5_0 or Q8_0 matrix in the eight-row interleaved layout. Rows are a multiple of 8.
#[derive(Clone)]
pub struct InterleavedMatrix {
    pub dtype: GgmlType,
    pub rows: usize,
    pub cols: usize,
    data: HugeBytes,
}

impl std::fmt::Debug for InterleavedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InterleavedMatrix({} {}x{})", self.dtype, self.rows, self.cols)
    }
}

/// Bytes of one row's block in `dtype`.
fn block_bytes(dtype: GgmlType) -> usize {
    match dtype {
        GgmlType::Q6K => BLOCK_Q6_K,
        GgmlType::Q5_0 => BLOCK_Q5_0,
        GgmlType::Q8_0 => BLOCK_Q8_0,
        _ => BLOCK_Q4_K,
    }
}

/// Values per block.
fn block_values(dtype: GgmlType) -> usize {
    if matches!(dtype, GgmlType::Q5_0 | GgmlType::Q8_0) { QK } else { QK_K }
}

type Interleave = fn(&[u8], usize, &mut [u8]);

/// (interleave, deinterleave) of one row's block into / out of a group block.
fn movers(dtype: GgmlType) -> (Interleave, Interleave) {
    match dtype {
        GgmlType::Q6K => (layout::q6_k::interleave_row, layout::q6_k::deinterleave_row),
        GgmlType::Q5_0 => (layout::q5_0::interleave_row, layout::q5_0::deinterleave_row),
        GgmlType::Q8_0 => (layout::q8_0::interleave_row, layout::q8_0::deinterleave_row),
        _ => (layout::q4_k::interleave_row, layout::q4_k::deinterleave_row),
    }
}

impl InterleavedMatrix {
    /// Whether a `rows x cols` matrix of `dtype` can take this layout.
    pub fn fits(dtype: GgmlType, rows: usize, cols: usize) -> bool {
        matches!(dtype, GgmlType::Q4K | GgmlType::Q6K | GgmlType::Q5_0 | GgmlType::Q8_0)
            && rows > 0
            && rows.is_multiple_of(ROWS)
            && cols > 0
            && cols.is_multiple_of(block_values(dtype))
    }

    /// Interleaves a row-major matrix (`rows` rows of blocks of `dtype`).
    pub fn from_rows(dtype: GgmlType, data: &[u8], rows: usize, cols: usize) -> Result<Self, QuantError> {
        Self::from_rows_releasing(dtype, data, rows, cols, &|_| {})
    }

    /// `from_rows`, calling `release` with each ~8 MiB band of `data` once it has been copied
    /// (the loader drops those memory-mapped pages, so the matrix is never resident twice).
    pub fn from_rows_releasing(
        dtype: GgmlType,
        data: &[u8],
        rows: usize,
        cols: usize,
        release: &dyn Fn(&[u8]),
    ) -> Result<Self, QuantError> {
        let (nb, bb) = (cols / block_values(dtype), block_bytes(dtype));
        if !Self::fits(dtype, rows, cols) || data.len() != rows * nb * bb {
            return Err(QuantError::WrongSize { dtype, rows, cols, got: data.len(), expected: rows * nb * bb });
        }
        let (rb, group_bytes) = (nb * bb, nb * ROWS * bb);
        let band = (8 << 20) / group_bytes * group_bytes + group_bytes;
        let mut out = HugeBytes::zeroed(data.len());
        let interleave = movers(dtype).0;
        for (i, out_band) in out.chunks_mut(band).enumerate() {
            let first = i * band / group_bytes;
            crate::cpu::parallel::for_each_chunk_mut(out_band, group_bytes, |g, dst| {
                let g = first + g;
                for (b, blk) in dst.chunks_exact_mut(ROWS * bb).enumerate() {
                    for r in 0..ROWS {
                        interleave(&data[(g * ROWS + r) * rb + b * bb..][..bb], r, blk);
                    }
                }
            });
            release(&data[i * band..i * band + out_band.len()]);
        }
        Ok(Self { dtype, rows, cols, data: out })
    }

    pub fn n_bytes(&self) -> usize {
        self.data.len()
    }

    fn n_blocks(&self) -> usize {
        self.cols / block_values(self.dtype)
    }

    fn group_bytes(&self) -> usize {
        self.n_blocks() * ROWS * block_bytes(self.dtype)
    }

    fn group(&self, g: usize) -> &[u8] {
        &self.data[g * self.group_bytes()..(g + 1) * self.group_bytes()]
    }

    /// Row `r` back in its plain block bytes.
    pub fn row_bytes(&self, r: usize) -> Vec<u8> {
        let bb = block_bytes(self.dtype);
        let mut out = vec![0u8; self.n_blocks() * bb];
        let deinterleave = movers(self.dtype).1;
        for (blk, dst) in self.group(r / ROWS).chunks_exact(ROWS * bb).zip(out.chunks_exact_mut(bb)) {
            deinterleave(blk, r % ROWS, dst);
        }
        out
    }

    /// Dequantizes row `r` into `out` (`cols` values).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        crate::quant::dequantize_row(self.dtype, &self.row_bytes(r), out)
            .expect("row bytes of the matrix's own type and width")
    }

    /// The whole matrix as row-major f32.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        crate::cpu::parallel::for_each_chunk_mut(&mut out, self.cols, |r, o| self.dequantize_row(r, o));
        out
    }

    /// `out[b] = W x[b]` for `x` of shape (batch, cols) and `out` (batch, rows), with the fastest
    /// group kernels this CPU has. Activations are quantized to Q8_K, as for every K-quant.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) {
        self.matmul_with(best().for_type(self.dtype), x, out)
    }

    /// Bench support: the best kernels' own speed in bytes of weights per second on this thread,
    /// with the activation row quantized once and no dispatch (best of `passes` passes over the
    /// matrix; a matrix that fits the core's L2 measures the instructions, not the memory).
    #[doc(hidden)]
    pub fn kernel_bytes_per_s(&self, x: &[f32], passes: usize) -> f64 {
        let k = best().for_type(self.dtype);
        let acts = Acts::quantize(k, &x[..self.cols], self.cols);
        let mut out = vec![0f32; self.rows];
        let mut best = f64::MAX;
        for _ in 0..passes {
            let t = std::time::Instant::now();
            self.run_groups(k, &acts, 0, &mut out);
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(&out);
        }
        self.data.len() as f64 / best
    }

    /// `matmul` with the plain reference kernels (tests compare the SIMD ones against them).
    pub fn matmul_scalar(&self, x: &[f32], out: &mut [f32]) {
        self.matmul_with(scalar_table().for_type(self.dtype), x, out)
    }

    fn matmul_with(&self, k: Kernels, x: &[f32], out: &mut [f32]) {
        let (rows, cols) = (self.rows, self.cols);
        let batch = x.len() / cols;
        assert_eq!(
            batch * cols,
            x.len(),
            "{} interleaved matmul: x length {} is not a multiple of {cols}",
            self.dtype,
            x.len()
        );
        assert_eq!(
            out.len(),
            batch * rows,
            "{} interleaved matmul: out has {} values, expected {}",
            self.dtype,
            out.len(),
            batch * rows
        );
        let acts = Acts::quantize(k, x, cols);
        run_many(&[(self, k, &acts)], batch, &mut [out]);
    }

    /// `outs[i] = mats[i] x[b]` for every activation row b, for matrices that read the same input
    /// (a layer's q, k and v projections, or its gate and up): the activations are quantized
    /// once per kind (Q8_K for Q4_K / Q6_K, Q8_0 rows for Q5_0 / Q8_0) and the groups of all the
    /// matrices go to the threads in one dispatch, so the cores meet once instead of once per
    /// matrix, and small matrices (k, v) no longer run on one core while the others wait.
    pub fn matmul_many(mats: &[&InterleavedMatrix], x: &[f32], outs: &mut [&mut [f32]]) {
        let Some(cols) = mats.first().map(|m| m.cols) else { return };
        let batch = x.len() / cols;
        assert_eq!(batch * cols, x.len(), "interleaved matmul_many: x length {} is not a multiple of {cols}", x.len());
        assert_eq!(mats.len(), outs.len(), "interleaved matmul_many: {} matrices, {} outputs", mats.len(), outs.len());
        for (m, o) in mats.iter().zip(outs.iter()) {
            assert_eq!(
                m.cols, cols,
                "interleaved matmul_many: a {}x{} matrix beside ones of {cols} columns",
                m.rows, m.cols
            );
            assert_eq!(
                o.len(),
                batch * m.rows,
                "interleaved matmul_many: out has {} values, expected {}",
                o.len(),
                batch * m.rows
            );
        }
        let table: &KernelTable = best();
        let kernels: Vec<Kernels> = mats.iter().map(|m| table.for_type(m.dtype)).collect();
        // Each kind of activation the kernels take, quantized once.
        let acts_for = |k_quant: bool| {
            kernels.iter().find(|k| matches!(k, Kernels::K(_)) == k_quant).map(|&k| Acts::quantize(k, x, cols))
        };
        let (act_k, act_b) = (acts_for(true), acts_for(false));
        let jobs: Vec<(&InterleavedMatrix, Kernels, &Acts)> = mats
            .iter()
            .zip(&kernels)
            .map(|(m, &k)| {
                let acts = match k {
                    Kernels::K(_) => act_k.as_ref(),
                    Kernels::B32(_) => act_b.as_ref(),
                };
                (*m, k, acts.expect("quantized above"))
            })
            .collect();
        run_many(&jobs, batch, outs);
    }

    /// Groups `first..` of this matrix (as many as `chunk` holds) against every activation row,
    /// into `chunk` as (group, batch, 8); four activation rows at a time where possible, so a
    /// group's weights are read from memory once and reused from cache for every row.
    fn run_groups(&self, k: Kernels, acts: &Acts, first: usize, chunk: &mut [f32]) {
        // SAFETY (every kernel call): the kernels come from a table `dispatch::available` handed
        // out, which holds only ones this CPU runs; each group holds `n_blocks` blocks and every
        // activation row as many blocks and sums (quantized from rows of `cols` values).
        match (k, acts) {
            (Kernels::K(k), Acts::K(a)) => self.run_groups_with(
                a,
                // SAFETY: as above: a kernel this CPU runs, on whole group blocks and activation rows.
                |g, a, o| unsafe { (k.one)(g, a, o) },
                // SAFETY: as above: a kernel this CPU runs, on whole group blocks and activation rows.
                |g, a, o| unsafe { (k.four)(g, a, o) },
                first,
                chunk,
            ),
            (Kernels::B32(k), Acts::B32(a)) => self.run_groups_with(
                a,
                // SAFETY: as above: a kernel this CPU runs, on whole group blocks and activation rows.
                |g, a, o| unsafe { (k.one)(g, a, o) },
                // SAFETY: as above: a kernel this CPU runs, on whole group blocks and activation rows.
                |g, a, o| unsafe { (k.four)(g, a, o) },
                first,
                chunk,
            ),
            _ => unreachable!("activations are quantized for the kernels' kind"),
        }
    }

    fn run_groups_with<A>(
        &self,
        acts: &[A],
        one: impl Fn(&[u8], &A, &mut [f32; ROWS]),
        four: impl Fn(&[u8], [&A; 4], &mut [[f32; ROWS]; 4]),
        first: usize,
        chunk: &mut [f32],
    ) {
        let batch = acts.len();
        for (i, gout) in chunk.chunks_exact_mut(batch * ROWS).enumerate() {
            let group = self.group(first + i);
            let mut rest = gout;
            let mut t = 0;
            while t + 4 <= batch {
                let (o, tail) = rest.split_at_mut(4 * ROWS);
                let mut o4 = [[0f32; ROWS]; 4];
                four(group, std::array::from_fn(|j| &acts[t + j]), &mut o4);
                o.copy_from_slice(o4.as_flattened());
                (rest, t) = (tail, t + 4);
            }
            for (a, o) in acts[t..].iter().zip(rest.chunks_exact_mut(ROWS)) {
                one(group, a, o.try_into().expect("chunks of ROWS"));
            }
        }
    }
}

/// A job's result buffer, written by the threads at disjoint groups.
struct OutPtr(*mut f32);
// SAFETY: only used to hand each thread the groups it claimed (see `run_many`).
unsafe impl Sync for OutPtr {}

/// Activation rows quantized for one kind of kernel, with the sums the formats' offsets need.
enum Acts {
    K(Vec<Q8KAct>),
    B32(Vec<Q8Act>),
}

impl Acts {
    fn quantize(k: Kernels, x: &[f32], cols: usize) -> Self {
        match k {
            Kernels::K(_) => Acts::K(quantize_rows(x, cols, |xb| {
                let mut blocks = vec![BlockQ8K::default(); xb.len() / QK_K];
                quantize_row_q8_k(xb, &mut blocks);
                let sums: Vec<PairSums> = blocks.iter().map(pair_sums).collect();
                Q8KAct { blocks, pair_sums: sums }
            })),
            Kernels::B32(_) => Acts::B32(quantize_rows(x, cols, |xb| {
                let q = Q8Row::quantize(xb);
                let sums: Vec<i32> = q.qs.chunks_exact(QK).map(|b| b.iter().map(|&v| v as i32).sum()).collect();
                Q8Act { row: q, sums }
            })),
        }
    }
}

/// Runs every job (matrix, kernels, activations) over all its groups, `batch` activation rows
/// each, into `outs` (batch, rows): one dispatch over the cores for all the jobs, their groups
/// taken as one sequence (`for_each_range_stealing`); on one core when the
/// weights are too few to repay a dispatch.
fn run_many(jobs: &[(&InterleavedMatrix, Kernels, &Acts)], batch: usize, outs: &mut [&mut [f32]]) {
    // Results come as (group, batch, 8): for one activation row that is `out` itself.
    let mut scratch: Vec<Vec<f32>> =
        if batch == 1 { Vec::new() } else { jobs.iter().map(|(m, ..)| vec![0f32; m.rows * batch]).collect() };
    let mut by_group: Vec<&mut [f32]> = if batch == 1 {
        outs.iter_mut().map(|o| &mut **o).collect()
    } else {
        scratch.iter_mut().map(|b| b.as_mut_slice()).collect()
    };
    let total: usize = jobs.iter().map(|(m, ..)| m.data.len()).sum();
    let threads = rayon::current_num_threads();
    if threads == 1 || total * batch.min(4) < (256 << 10) {
        for ((m, k, acts), buf) in jobs.iter().zip(&mut by_group) {
            m.run_groups(*k, acts, 0, buf);
        }
    } else {
        // Job j's groups are units first[j]..first[j + 1] of the sequence.
        let mut first = vec![0usize];
        for (m, ..) in jobs {
            first.push(first.last().copied().unwrap_or(0) + m.rows / ROWS);
        }
        let units = first[jobs.len()];
        let ptrs: Vec<OutPtr> = by_group.iter_mut().map(|b| OutPtr(b.as_mut_ptr())).collect();
        // Claims shrink to ~16 KiB of weights: the threads finish within a microsecond or so.
        let grain = (16 << 10) / (total / units).max(1);
        crate::cpu::parallel::for_each_range_stealing(units, grain, |range| {
            // The range's groups, job by job.
            let mut u = range.start;
            while u < range.end {
                let j = first.partition_point(|&f| f <= u) - 1;
                let (m, k, acts) = jobs[j];
                let (g, end) = (u - first[j], range.end.min(first[j + 1]) - first[j]);
                // SAFETY: every unit (job j, group g) is handed out exactly once, and groups
                // g..end own values g·batch·8.. end·batch·8 of job j's buffer, which outlives
                // the dispatch.
                let chunk = unsafe {
                    std::slice::from_raw_parts_mut(ptrs[j].0.add(g * batch * ROWS), (end - g) * batch * ROWS)
                };
                m.run_groups(k, acts, g, chunk);
                u = first[j] + end;
            }
        });
    }
    drop(by_group);
    for ((m, ..), (buf, out)) in jobs.iter().zip(scratch.iter().zip(outs.iter_mut())) {
        let rows = m.rows;
        for (g, gvals) in buf.chunks_exact(batch * ROWS).enumerate() {
            for (b, vals) in gvals.chunks_exact(ROWS).enumerate() {
                out[b * rows + g * ROWS..b * rows + (g + 1) * ROWS].copy_from_slice(vals);
            }
        }
    }
}

/// Each activation row quantized by `f` (on the rayon pool for a batch).
fn quantize_rows<A: Send>(x: &[f32], cols: usize, f: impl Fn(&[f32]) -> A + Sync + Send) -> Vec<A> {
    if x.len() == cols { vec![f(x)] } else { x.par_chunks_exact(cols).map(f).collect() }
}

#[cfg(test)]
mod tests;
