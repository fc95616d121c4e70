//! Quantizers and dequantizers against references we did not write: the Python `gguf`
//! package's gguf.quants (Q8_0, Q4_0, Q5_0, BF16, F16, K-quant dequantization) and llama.cpp's
//! C `quantize_row_q4_K_ref` / `quantize_row_q6_K_ref`, all in a fixture that
//! tools/golden/make_quant_fixture.py wrote. Every byte and every float bit must match.

use std::path::PathBuf;

use reasoner_model::quant::{self, GgmlType};
use serde_json::Value;

fn load() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/quant/quant_golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    hex(v).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn assert_same_floats(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: value {i}: {a} vs {b}");
    }
}

#[test]
fn quantize_matches_reference_bytes() {
    let fx = load();
    let cols = fx["cols"].as_u64().unwrap() as usize;
    let x = floats(&fx["input_f32"]);
    let cases = fx["quantize"].as_object().unwrap();
    for name in ["q8_0", "q4_0", "q5_0", "bf16", "f16", "q4_k", "q6_k"] {
        let Some(case) = cases.get(name) else {
            assert!(name.ends_with("_k"), "fixture lacks {name}");
            eprintln!("fixture has no {name} quantize golden (made without --llama-cpp); skipped");
            continue;
        };
        let dtype = GgmlType::from_name(name).unwrap();
        let want = hex(&case["bytes"]);
        let got = quant::quantize(dtype, &x, cols).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        let rb = quant::row_bytes(dtype, cols).unwrap();
        let block = dtype.type_size();
        for (i, (g, w)) in got.chunks(block).zip(want.chunks(block)).enumerate() {
            assert_eq!(g, w, "{name}: block {i} (row {}) differs from {}", i * block / rb, case["source"]);
        }
        let mut back = vec![0f32; x.len()];
        for (src, dst) in got.chunks_exact(rb).zip(back.chunks_exact_mut(cols)) {
            quant::dequantize_row(dtype, src, dst).unwrap();
        }
        assert_same_floats(&back, &floats(&case["dequantized_f32"]), name);
    }
}

#[test]
fn dequantize_matches_gguf_py_on_random_blocks() {
    let fx = load();
    for (name, case) in fx["dequantize"].as_object().unwrap() {
        let dtype = GgmlType::from_name(name).unwrap();
        let bytes = hex(&case["bytes"]);
        let want = floats(&case["f32"]);
        let mut got = vec![0f32; want.len()];
        quant::dequantize_row(dtype, &bytes, &mut got).unwrap();
        assert_same_floats(&got, &want, name);
    }
}

#[test]
fn round_trip_errors_are_bounded() {
    // Relative RMS error of quantize -> dequantize on weight-like rows, per type.
    let bounds = [
        (GgmlType::Q8_0, 0.006),
        (GgmlType::Q6K, 0.02),
        (GgmlType::Q5_0, 0.045),
        (GgmlType::Q4K, 0.075),
        (GgmlType::Q4_0, 0.09),
        (GgmlType::F16, 0.0003),
        (GgmlType::BF16, 0.002),
    ];
    let mut state = 42u32;
    let x: Vec<f32> = (0..8 * 1024)
        .map(|_| {
            // Sum of uniforms: roughly Gaussian, like trained weights.
            (0..4)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 8) as f32 / (1 << 24) as f32 - 0.5
                })
                .sum::<f32>()
                * 0.05
        })
        .collect();
    let rms = |v: &mut dyn Iterator<Item = f32>| {
        let (s, n) = v.fold((0f64, 0usize), |(s, n), e| (s + (e as f64).powi(2), n + 1));
        (s / n as f64).sqrt()
    };
    let x_rms = rms(&mut x.iter().copied());
    for (dtype, bound) in bounds {
        let m = quant::QMatrix::quantize(dtype, &x, 8, 1024).unwrap();
        let y = m.dequantize();
        let err = rms(&mut x.iter().zip(&y).map(|(a, b)| a - b)) / x_rms;
        assert!(err < bound, "{dtype}: relative rms error {err:.4} >= {bound}");
        eprintln!("{dtype}: relative rms error {err:.5}");
    }
}
