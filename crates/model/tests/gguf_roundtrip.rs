//! GGUF reader and writer: our writer's files read back exactly, a file written by the Python
//! `gguf` package (tools/golden/make_gguf_fixture.py) reads with the values it was given, and
//! malformed files fail with the error that names what is wrong.

use reasoner_testutil::fixture;
use std::borrow::Cow;
use std::path::PathBuf;

use reasoner_model::formats::gguf::{FormatError, GgufError, GgufFile, GgufWriter, MetaArray, MetaValue, TensorBytes};
use reasoner_model::quant::{self, GgmlType};

/// A writer holding every metadata type and tensors of several types and shapes.
pub fn sample_writer() -> GgufWriter<'static> {
    let mut w = GgufWriter::new();
    w.set("general.architecture", MetaValue::String("qwen2".into()));
    w.set("t.u8", MetaValue::U8(7));
    w.set("t.i8", MetaValue::I8(-7));
    w.set("t.u16", MetaValue::U16(65535));
    w.set("t.i16", MetaValue::I16(-32768));
    w.set("t.u32", MetaValue::U32(u32::MAX));
    w.set("t.i32", MetaValue::I32(i32::MIN));
    w.set("t.f32", MetaValue::F32(-0.5));
    w.set("t.bool", MetaValue::Bool(false));
    w.set("t.u64", MetaValue::U64(u64::MAX));
    w.set("t.i64", MetaValue::I64(i64::MIN));
    w.set("t.f64", MetaValue::F64(std::f64::consts::PI));
    w.set("tokenizer.ggml.tokens", MetaValue::Array(MetaArray::String(vec!["a".into(), "".into(), "<think>".into()])));
    w.set("t.scores", MetaValue::Array(MetaArray::F32(vec![1.0, -2.0])));
    w.set("t.empty", MetaValue::Array(MetaArray::U32(vec![])));
    let x: Vec<f32> = (0..2 * 256).map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.01).collect();
    let f32_bytes: Vec<u8> = x[..6].iter().flat_map(|v| v.to_le_bytes()).collect();
    w.add_tensor_bytes("a.f32", &[3, 2], GgmlType::F32, f32_bytes).unwrap();
    w.add_tensor_bytes("b.q8_0", &[64, 2], GgmlType::Q8_0, quant::quantize(GgmlType::Q8_0, &x[..128], 64).unwrap())
        .unwrap();
    let x2 = x.clone();
    let later = TensorBytes::Later(Box::new(move || Ok(quant::quantize(GgmlType::Q4K, &x2, 256)?)));
    w.add_tensor("c.q4_k", &[256, 2], GgmlType::Q4K, later).unwrap();
    w.add_tensor_bytes("d.empty", &[0], GgmlType::F16, Vec::new()).unwrap();
    w.add_tensor_bytes("e.4d", &[1, 1, 1, 3], GgmlType::F16, vec![0u8; 6]).unwrap();
    w
}

fn write_sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.gguf");
    sample_writer().write(&path).unwrap();
    (dir, path)
}

#[test]
fn writer_output_reads_back() {
    let (_dir, path) = write_sample();
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_offset() % 32, 0);
    let reference = sample_writer();
    assert_eq!(f.metadata(), reference.metadata());
    assert_eq!(f.metadata().get_str("general.architecture").unwrap(), "qwen2");
    assert_eq!(f.metadata().get_strings("tokenizer.ggml.tokens").unwrap(), ["a", "", "<think>"]);
    let names: Vec<&str> = f.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a.f32", "b.q8_0", "c.q4_k", "d.empty", "e.4d"]);
    for t in f.tensors() {
        assert_eq!(t.offset % 32, 0, "{}", t.name);
    }
    let a = f.tensor("a.f32").unwrap();
    assert_eq!((a.shape(), a.row_len(), a.n_rows()), (vec![2, 3], 3, 2));
    let expect: Vec<f32> = (0..6).map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.01).collect();
    let mut got = vec![0f32; 6];
    quant::dequantize_row(GgmlType::F32, f.tensor_data("a.f32").unwrap(), &mut got).unwrap();
    assert_eq!(got, expect);
    let m = f.qmatrix("c.q4_k").unwrap();
    assert_eq!((m.rows, m.cols, m.data.len()), (2, 256, 2 * 144));
    assert!(matches!(m.data, Cow::Borrowed(_)));
    assert!(matches!(f.tensor_data("nope"), Err(GgufError::TensorNotFound { .. })));
    // The same bytes parse the same way from memory.
    let g = GgufFile::from_bytes("mem", std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(g.layout(), f.layout());
}

#[test]
fn custom_alignment_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aligned.gguf");
    let mut w = sample_writer();
    w.set_alignment(256);
    w.write(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.alignment(), 256);
    assert_eq!(f.data_offset() % 256, 0);
    assert!(f.tensors().iter().all(|t| t.offset % 256 == 0));
}

#[test]
fn writer_rejects_bad_tensors_and_leaves_no_temp_file() {
    let mut w = GgufWriter::new();
    assert!(w.add_tensor_bytes("x", &[100], GgmlType::Q8_0, vec![0u8; 34]).is_err(), "partial block");
    assert!(w.add_tensor_bytes("x", &[32], GgmlType::Q8_0, vec![0u8; 33]).is_err(), "wrong length");
    assert!(w.add_tensor_bytes("x", &[1, 1, 1, 1, 1], GgmlType::F32, vec![0u8; 4]).is_err(), "5 dims");
    w.add_tensor_bytes("x", &[32], GgmlType::Q8_0, vec![0u8; 34]).unwrap();
    assert!(w.add_tensor_bytes("x", &[32], GgmlType::Q8_0, vec![0u8; 34]).is_err(), "duplicate");
    w.add_tensor("y", &[32], GgmlType::Q8_0, TensorBytes::Later(Box::new(|| Ok(vec![0u8; 3])))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut nested = GgufWriter::new();
    nested.set("k.nested", MetaValue::Array(MetaArray::Array(vec![MetaArray::U8(vec![1])])));
    let err = nested.write(dir.path().join("nested.gguf")).unwrap_err();
    assert!(matches!(err, GgufError::BadMetadata { ref key, .. } if key == "k.nested"), "{err}");
    let err = w.write(dir.path().join("bad.gguf")).unwrap_err();
    assert!(err.to_string().contains("'y'"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A device or pipe as the output is written into, never replaced by a rename (as root, a rename
/// onto /dev/zero once made it a regular file); a directory is refused by name.
#[cfg(unix)]
#[test]
fn writing_to_a_device_writes_into_it_and_leaves_it_a_device() {
    use std::os::unix::fs::FileTypeExt;
    sample_writer().write("/dev/null").unwrap();
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    let dir = tempfile::tempdir().unwrap();
    let err = sample_writer().write(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn reads_file_written_by_python_gguf() {
    let f = GgufFile::open(fixture("gguf/tiny_gguf_py.gguf")).unwrap();
    let md = f.metadata();
    assert_eq!(f.alignment(), 64);
    assert_eq!(md.get("test.u8"), Some(&MetaValue::U8(200)));
    assert_eq!(md.get("test.i8"), Some(&MetaValue::I8(-100)));
    assert_eq!(md.get("test.u16"), Some(&MetaValue::U16(60000)));
    assert_eq!(md.get("test.i16"), Some(&MetaValue::I16(-30000)));
    assert_eq!(md.get("test.u32"), Some(&MetaValue::U32(4_000_000_000)));
    assert_eq!(md.get("test.i32"), Some(&MetaValue::I32(-2_000_000_000)));
    assert_eq!(md.get("test.f32"), Some(&MetaValue::F32(0.15625)));
    assert_eq!(md.get("test.u64"), Some(&MetaValue::U64((1 << 63) + 5)));
    assert_eq!(md.get("test.i64"), Some(&MetaValue::I64(-(1 << 62))));
    assert_eq!(md.get("test.f64"), Some(&MetaValue::F64(-1.0e-300)));
    assert!(md.get_bool("test.bool").unwrap());
    assert_eq!(md.get_str("test.string").unwrap(), "héllo ✓ <think>");
    assert_eq!(md.get_strings("tokenizer.ggml.tokens").unwrap(), ["<s>", "</s>", "▁hi", "ü", ""]);
    assert_eq!(md.get_array("tokenizer.ggml.scores").unwrap().as_f32s().unwrap(), [0.0, -1.5, -2.25, 3.0, 0.5]);
    assert_eq!(md.get_array("tokenizer.ggml.token_type").unwrap().to_i64s().unwrap(), [3, 3, 1, 1, 1]);
    assert_eq!(md.get("test.array_u64"), Some(&MetaValue::Array(MetaArray::U64(vec![1, 1 << 40]))));
    assert_eq!(md.get("test.array_i16"), Some(&MetaValue::Array(MetaArray::I16(vec![-7, 8, 9]))));
    assert_eq!(md.get("test.array_bool"), Some(&MetaValue::Array(MetaArray::Bool(vec![true, false, true]))));
    let nested = MetaArray::Array(vec![MetaArray::I32(vec![1, 2]), MetaArray::I32(vec![3])]);
    assert_eq!(md.get("test.nested"), Some(&MetaValue::Array(nested)));

    let plain = f.tensor("f32.plain").unwrap();
    assert_eq!(plain.shape(), [2, 3]);
    let mut got = vec![0f32; 6];
    quant::dequantize_row(GgmlType::F32, f.tensor_data("f32.plain").unwrap(), &mut got).unwrap();
    assert_eq!(got, [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]);

    // Every quantized tensor dequantizes to exactly what gguf.quants made of it.
    let mut checked = 0;
    for t in f.tensors().iter().filter(|t| f.tensor(&format!("{}.expected", t.name)).is_some()) {
        let m = f.qmatrix(&t.name).unwrap();
        let expected_bytes = f.tensor_data(&format!("{}.expected", t.name)).unwrap();
        let expected: Vec<f32> =
            expected_bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let got = m.dequantize();
        assert_eq!(got.len(), expected.len(), "{}", t.name);
        for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{} value {i}: {a} vs {b}", t.name);
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

fn parse_err(bytes: Vec<u8>) -> FormatError {
    match GgufFile::from_bytes("bad.gguf", bytes) {
        Err(GgufError::Invalid { kind, file }) => {
            assert_eq!(file, PathBuf::from("bad.gguf"));
            kind
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// A minimal file: header, the given raw metadata and tensor-info bytes, then `data`.
fn raw_file(n_tensors: u64, n_kv: u64, body: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(3u32.to_le_bytes());
    v.extend(n_tensors.to_le_bytes());
    v.extend(n_kv.to_le_bytes());
    v.extend(body);
    while !v.len().is_multiple_of(32) {
        v.push(0);
    }
    v.extend(data);
    v
}

fn gguf_str(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u64).to_le_bytes().to_vec();
    v.extend(s.as_bytes());
    v
}

fn tensor_info(name: &str, dims: &[u64], type_id: u32, offset: u64) -> Vec<u8> {
    let mut v = gguf_str(name);
    v.extend((dims.len() as u32).to_le_bytes());
    dims.iter().for_each(|d| v.extend(d.to_le_bytes()));
    v.extend(type_id.to_le_bytes());
    v.extend(offset.to_le_bytes());
    v
}

#[test]
fn malformed_files_name_what_is_wrong() {
    let f32_4 = tensor_info("w", &[4], 0, 0);
    assert!(GgufFile::from_bytes("ok", raw_file(1, 0, &f32_4, &[0u8; 16])).is_ok());

    assert!(matches!(parse_err(b"GGML\x03\0\0\0".to_vec()), FormatError::BadMagic { .. }));
    let mut v1 = raw_file(0, 0, &[], &[]);
    v1[4] = 1;
    assert!(matches!(parse_err(v1), FormatError::UnsupportedVersion { version: 1, .. }));
    let mut be = raw_file(0, 0, &[], &[]);
    be[4..8].copy_from_slice(&3u32.to_be_bytes());
    assert!(parse_err(be).to_string().contains("big-endian"));
    assert!(matches!(parse_err(b"GGUF\x03\0".to_vec()), FormatError::Truncated { .. }));

    let mut kv = gguf_str("k");
    kv.extend(8u32.to_le_bytes());
    kv.extend(u64::MAX.to_le_bytes());
    assert!(matches!(parse_err(raw_file(0, 1, &kv, &[])), FormatError::LengthTooLarge { .. }));
    let mut arr = gguf_str("k");
    arr.extend(9u32.to_le_bytes());
    arr.extend(8u32.to_le_bytes());
    arr.extend((1u64 << 40).to_le_bytes());
    let e = parse_err(raw_file(0, 1, &arr, &[]));
    assert!(matches!(e, FormatError::LengthTooLarge { .. }) && e.to_string().contains("'k'"), "{e}");
    let mut unknown = gguf_str("k");
    unknown.extend(13u32.to_le_bytes());
    assert!(matches!(parse_err(raw_file(0, 1, &unknown, &[])), FormatError::UnknownValueType { id: 13, .. }));
    let mut deep = gguf_str("k");
    deep.extend(9u32.to_le_bytes());
    for _ in 0..100 {
        deep.extend(9u32.to_le_bytes());
        deep.extend(1u64.to_le_bytes());
    }
    deep.extend([0u8; 12]);
    assert!(matches!(parse_err(raw_file(0, 1, &deep, &[])), FormatError::NestingTooDeep { .. }));
    let mut dup = gguf_str("k");
    dup.extend(0u32.to_le_bytes());
    dup.push(1);
    let dup2 = [dup.clone(), dup].concat();
    assert!(matches!(parse_err(raw_file(0, 2, &dup2, &[])), FormatError::DuplicateKey { .. }));
    let mut align = gguf_str("general.alignment");
    align.extend(4u32.to_le_bytes());
    align.extend(48u32.to_le_bytes());
    assert!(matches!(parse_err(raw_file(0, 1, &align, &[])), FormatError::BadAlignment { .. }));

    let two = [f32_4.clone(), f32_4.clone()].concat();
    assert!(matches!(parse_err(raw_file(2, 0, &two, &[0u8; 64])), FormatError::DuplicateTensor { .. }));
    let five = tensor_info("w", &[1, 1, 1, 1, 1], 0, 0);
    assert!(matches!(parse_err(raw_file(1, 0, &five, &[0u8; 4])), FormatError::TooManyDims { n_dims: 5, .. }));
    let e = parse_err(raw_file(1, 0, &tensor_info("w", &[32], 4, 0), &[0u8; 64]));
    assert!(matches!(e, FormatError::UnknownGgmlType { id: 4, .. }) && e.to_string().contains("'w'"));
    let partial = tensor_info("w", &[33], 8, 0);
    assert!(matches!(parse_err(raw_file(1, 0, &partial, &[0u8; 64])), FormatError::PartialBlock { .. }));
    let past_end = tensor_info("w", &[4], 0, 32);
    assert!(matches!(parse_err(raw_file(1, 0, &past_end, &[0u8; 16])), FormatError::TensorOutOfBounds { .. }));
    let huge = tensor_info("w", &[1 << 40, 1 << 40], 0, 0);
    assert!(matches!(parse_err(raw_file(1, 0, &huge, &[])), FormatError::ShapeTooLarge { .. }));
    let misaligned = tensor_info("w", &[4], 0, 8);
    assert!(matches!(parse_err(raw_file(1, 0, &misaligned, &[0u8; 64])), FormatError::MisalignedTensor { .. }));
    let overlap = [tensor_info("a", &[16], 0, 0), tensor_info("b", &[4], 0, 32)].concat();
    assert!(matches!(parse_err(raw_file(2, 0, &overlap, &[0u8; 64])), FormatError::OverlappingTensors { .. }));
    let count = raw_file(u64::MAX, 0, &[], &[]);
    assert!(matches!(parse_err(count), FormatError::LengthTooLarge { .. }));
}

#[test]
fn never_panics_on_truncated_or_corrupted_files() {
    let mut buf = Vec::new();
    sample_writer().write_to(&mut buf, std::path::Path::new("sample")).unwrap();
    let python = std::fs::read(fixture("gguf/tiny_gguf_py.gguf")).unwrap();
    for file in [buf, python] {
        assert!(GgufFile::from_bytes("x", file.clone()).is_ok());
        for len in 0..file.len() {
            let r = std::panic::catch_unwind(|| GgufFile::from_bytes("x", file[..len].to_vec()).map(|_| ()));
            assert!(r.is_ok(), "panic on a file cut at {len}");
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for pos in 0..file.len() {
            for flip in [0xFFu8, 0x80, 0x01, (next() % 255 + 1) as u8] {
                let mut bad = file.clone();
                bad[pos] ^= flip;
                let r = std::panic::catch_unwind(|| {
                    if let Ok(f) = GgufFile::from_bytes("x", bad) {
                        for t in f.tensors() {
                            let _ = f.qmatrix(&t.name).map(|m| m.dequantize());
                        }
                    }
                });
                assert!(r.is_ok(), "panic with byte {pos} xor {flip:#x}");
            }
        }
    }
}

/// A packed matrix large enough to be moved out of the file mapping into huge-page memory keeps
/// its bytes, and a linear layer over it computes what one over the mapping computes.
#[test]
fn packed_weights_moved_to_huge_pages_keep_their_bytes() {
    use reasoner_model::formats::gguf::source::GgufSource;
    use reasoner_model::layers::linear::{Linear, LinearWeight};
    use std::sync::Arc;
    let (rows, cols) = (2048, 1024); // 2.2 MB of Q8_0: past the 2 MiB below which nothing moves
    let x: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 1e-3).collect();
    let mut w = GgufWriter::new();
    w.set("general.architecture", MetaValue::String("qwen2".into()));
    w.add_tensor_bytes(
        "token_embd.weight",
        &[cols as u64, rows as u64],
        GgmlType::Q8_0,
        quant::quantize(GgmlType::Q8_0, &x, cols).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.gguf");
    w.write(&path).unwrap();
    let src = GgufSource::new(Arc::new(GgufFile::open(&path).unwrap())).unwrap();
    let mapped = src.packed_matrix("model.embed_tokens.weight").unwrap();
    let moved = mapped.clone().into_huge_pages();
    assert_eq!(moved.bytes(), mapped.bytes());
    assert_ne!(moved.bytes().as_ptr(), mapped.bytes().as_ptr(), "the bytes should have moved");
    let input: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.37).sin()).collect();
    let input = candle_core::Tensor::from_vec(input, (1, cols), &candle_core::Device::Cpu).unwrap();
    let run = |weight: LinearWeight| {
        Linear { weight, bias: None }.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    assert_eq!(run(LinearWeight::Packed(mapped)), run(LinearWeight::Packed(moved)));
}
