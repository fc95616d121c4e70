//! Fused inference forms of the small per-token ops (RMSNorm, rotary embedding, softmax,
//! SiLU·up, bias add) on plain slices; causal attention's is in `attention`.
//!
//! The candle forms beside each caller stay the model's definition: they are differentiable,
//! and they run whenever autograd tracks an input (training) or a tensor is not f32 in CPU
//! memory. Decoding one token with them cost ~60 small candle ops per layer, each allocating
//! and dispatching: ~4 ms per token of serial work on the 0.5B shape (17% of the step). Here
//! each op is one pass over plain slices, in the arithmetic transformers and llama.cpp use
//! (RMSNorm multiplies by the reciprocal root). The tests check each op against its candle form.

use crate::config::RopeLayout;
use crate::kernels::activations;
use candle_core::{Device, Result, Storage, Tensor, WithDType};

/// Runs `f` on the values of `ts` when none is tracked by autograd and each is f32 in CPU memory
/// with rows (the last dimension) contiguous; `None` otherwise, and the caller then takes the
/// differentiable path. Each slice starts at the tensor's first element and ends after its
/// last, so a strided view (a cache buffer's first rows) is read in place, not copied.
pub(super) fn with_values<T: WithDType, R>(ts: &[&Tensor], f: impl FnOnce(&[&[T]]) -> Result<R>) -> Result<Option<R>> {
    let rows_contiguous = |t: &Tensor| t.stride().last().is_none_or(|&s| s == 1 || t.dims().last() == Some(&1));
    if ts.iter().any(|t| t.track_op() || !t.device().is_cpu() || !rows_contiguous(t) || t.elem_count() == 0) {
        return Ok(None);
    }
    let guards: Vec<_> = ts.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(ts.len());
    for (storage, layout) in &guards {
        let Storage::Cpu(cpu) = &**storage else { return Ok(None) };
        let Ok(all) = cpu.as_slice::<T>() else { return Ok(None) };
        let start = layout.start_offset();
        let span = 1 + layout.dims().iter().zip(layout.stride()).map(|(d, s)| (d - 1) * s).sum::<usize>();
        slices.push(&all[start..start + span]);
    }
    f(&slices).map(Some)
}

/// Like `with_values`, for ops that read their inputs as one contiguous block.
fn with_contiguous<R>(ts: &[&Tensor], f: impl FnOnce(&[&[f32]]) -> Result<R>) -> Result<Option<R>> {
    if ts.iter().any(|t| !t.is_contiguous()) {
        return Ok(None);
    }
    with_values::<f32, R>(ts, f)
}

fn tensor(values: Vec<f32>, like: &Tensor) -> Result<Tensor> {
    Tensor::from_vec(values, like.shape(), &Device::Cpu)
}

/// x · rsqrt(mean(x²) + ε) · w over the last dimension.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Option<Tensor>> {
    let d = w.elem_count();
    if x.dims().last() != Some(&d) {
        return Ok(None);
    }
    with_contiguous(&[x, w], |v| {
        let (xs, ws) = (v[0], v[1]);
        let mut out = vec![0f32; xs.len()];
        for (row, o) in xs.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            // As transformers and llama.cpp: x · rsqrt(mean + ε), then · w; the sum in f64 as
            // llama.cpp (torch's pairwise f32 sum is as close to exact).
            let mean = (row.iter().map(|&a| (a as f64) * (a as f64)).sum::<f64>() / d as f64) as f32;
            let scale = 1.0 / (mean + eps as f32).sqrt();
            for ((o, &a), &g) in o.iter_mut().zip(row).zip(ws) {
                *o = a * scale * g;
            }
        }
        tensor(out, x)
    })
}

/// Adds `bias` to every row of `y` in place (rows of the bias's length): false, `y`
/// untouched, when the bias is tracked by autograd or not plain f32 values.
pub fn add_bias_rows(y: &mut [f32], bias: &Tensor) -> Result<bool> {
    let d = bias.elem_count();
    if d == 0 || !y.len().is_multiple_of(d) {
        return Ok(false);
    }
    Ok(with_contiguous(&[bias], |b| {
        for row in y.chunks_exact_mut(d) {
            row.iter_mut().zip(b[0]).for_each(|(a, &c)| *a += c);
        }
        Ok(())
    })?
    .is_some())
}

/// Numerically stable softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Option<Tensor>> {
    let Some(&d) = x.dims().last() else { return Ok(None) };
    if d == 0 {
        return Ok(None);
    }
    with_contiguous(&[x], |v| {
        let mut out = v[0].to_vec();
        out.chunks_exact_mut(d).for_each(softmax_in_place);
        tensor(out, x)
    })
}

pub(super) fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum = activations::exp_shifted_sum(row, max);
    row.iter_mut().for_each(|a| *a /= sum);
}

/// silu(gate) · up, elementwise.
pub fn silu_mul(gate: &Tensor, up: &Tensor) -> Result<Option<Tensor>> {
    if gate.shape() != up.shape() {
        return Ok(None);
    }
    with_contiguous(&[gate, up], |v| {
        let mut out = vec![0f32; v[0].len()];
        activations::silu_mul(v[0], v[1], &mut out);
        tensor(out, gate)
    })
}

/// Rotates x (len, heads, dim) with the cos/sin rows (len, dim/2) of its positions.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, layout: RopeLayout) -> Result<Option<Tensor>> {
    let Ok((len, heads, dim)) = x.dims3() else { return Ok(None) };
    let half = dim / 2;
    if dim % 2 != 0 || cos.dims() != [len, half] || sin.dims() != [len, half] {
        return Ok(None);
    }
    with_contiguous(&[x, cos, sin], |v| {
        let (xs, cs, ss) = (v[0], v[1], v[2]);
        let mut out = vec![0f32; xs.len()];
        for (i, (xr, or)) in xs.chunks_exact(heads * dim).zip(out.chunks_exact_mut(heads * dim)).enumerate() {
            let (c, s) = (&cs[i * half..(i + 1) * half], &ss[i * half..(i + 1) * half]);
            for (xh, oh) in xr.chunks_exact(dim).zip(or.chunks_exact_mut(dim)) {
                for j in 0..half {
                    // Half pairs (j, j + d/2); interleaved pairs (2j, 2j + 1).
                    let (a, b) = match layout {
                        RopeLayout::Half => (j, j + half),
                        RopeLayout::Interleaved => (2 * j, 2 * j + 1),
                    };
                    oh[a] = xh[a] * c[j] - xh[b] * s[j];
                    oh[b] = xh[b] * c[j] + xh[a] * s[j];
                }
            }
        }
        tensor(out, x)
    })
}
#[cfg(test)]
mod tests {
    //! Each fused op against its candle form: a `Var` input is tracked by autograd, so the same
    //! public call takes the differentiable path.
    use crate::config::RopeLayout;
    use crate::config::{RopeConfig, RopeScaling};
    use crate::layers::norm::RmsNorm;
    use crate::layers::rope::RotaryEmbedding;
    use candle_core::{Device, Tensor, Var};

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn tracked(t: &Tensor) -> Tensor {
        let v = Var::from_tensor(t).unwrap();
        assert!(v.as_tensor().track_op());
        v.as_tensor().clone()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let (a, b) =
            (a.flatten_all().unwrap().to_vec1::<f32>().unwrap(), b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn rms_norm_softmax_and_silu_mul_equal_their_candle_forms() {
        let x = random(&[3, 40], 1);
        let norm = RmsNorm { weight: random(&[40], 2), eps: 1e-6 };
        let fused = norm.forward(&x).unwrap();
        assert!(!fused.track_op());
        assert!(max_diff(&fused, &norm.forward(&tracked(&x)).unwrap()) < 1e-5);

        let s = super::softmax_last_dim(&x).unwrap().expect("fused softmax");
        assert!(max_diff(&s, &crate::layers::softmax_last_dim(&tracked(&x)).unwrap()) < 1e-6);

        let up = random(&[3, 40], 3);
        let h = super::silu_mul(&x, &up).unwrap().expect("fused silu_mul");
        assert!(max_diff(&h, &(tracked(&x).silu().unwrap() * &up).unwrap()) < 1e-5);
        assert!(super::silu_mul(&tracked(&x), &up).unwrap().is_none(), "tracked input must take the candle path");
    }

    #[test]
    fn rope_equals_its_candle_form_in_both_layouts() {
        let cfg = RopeConfig { theta: 10000.0, scaling: RopeScaling::None, partial_rotary_factor: 1.0 };
        for layout in [RopeLayout::Half, RopeLayout::Interleaved] {
            let rope = RotaryEmbedding::new(&cfg, 16, 64, layout).unwrap();
            let x = random(&[5, 3, 16], 4);
            let fused = rope.apply(&x, 7).unwrap();
            assert!(!fused.track_op());
            assert!(max_diff(&fused, &rope.apply(&tracked(&x), 7).unwrap()) < 1e-6, "{layout:?}");
        }
    }

    #[test]
    fn gradients_still_flow_through_the_layers() {
        let x = Var::from_tensor(&random(&[2, 8], 9)).unwrap();
        let norm = RmsNorm { weight: random(&[8], 10), eps: 1e-6 };
        let y = crate::layers::softmax_last_dim(&norm.forward(x.as_tensor()).unwrap()).unwrap();
        let loss = (y * random(&[2, 8], 11)).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g = grads.get(x.as_tensor()).expect("gradient for x");
        assert!(g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    }
}
