//! `reasoner quantize`: a Hugging Face directory or a GGUF file in, a GGUF file out, with the
//! tensor names, metadata and tokenizer llama.cpp expects. Norms and biases stay f32; a tensor
//! whose rows do not fill whole blocks of the target type falls back as llama.cpp's quantizer
//! does (Q4_K → Q5_0, Q6_K → Q8_0, and F16 where not even a multiple of 32), and is reported.

use crate::config::{GenerationDefaults, RawConfig, RopeScaling};
use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, GgufWriter, MetaValue, TensorBytes};
use crate::gguf_arch::{hf_to_gguf_name, llama_qk_permutation, metadata_from_config, tokenizer_metadata};
use crate::gguf_source::GgufSource;
use crate::layers::rope::inv_freq;
use crate::quant::{quantize, GgmlType};
use crate::tokenizer::TokenizerConfig;
use crate::weights::{SafetensorsDir, WeightSource};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// Keep tensors whose GGUF name contains `pattern` at `dtype` (e.g. `output.weight=q8_0`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeepRule {
    pub pattern: String,
    pub dtype: GgmlType,
}

impl std::str::FromStr for KeepRule {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (pattern, ty) = s.split_once('=').unwrap_or((s, "f16"));
        let dtype = parse_target(ty)?;
        Ok(Self { pattern: pattern.to_string(), dtype })
    }
}

/// `q8_0|q4_0|q5_0|q4_k|q6_k|f16|bf16|f32`.
pub fn parse_target(s: &str) -> std::result::Result<GgmlType, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "q8_0" => GgmlType::Q8_0,
        "q4_0" => GgmlType::Q4_0,
        "q5_0" => GgmlType::Q5_0,
        "q4_k" | "q4_k_m" => GgmlType::Q4K,
        "q6_k" => GgmlType::Q6K,
        "f16" => GgmlType::F16,
        "bf16" => GgmlType::BF16,
        "f32" => GgmlType::F32,
        other => return Err(format!("unknown type `{other}` (q8_0, q4_0, q5_0, q4_k, q6_k, f16, bf16, f32)")),
    })
}

#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    pub to: GgmlType,
    /// Explicit rules first; when empty, K-quant targets keep `output.weight` at Q6_K as
    /// llama.cpp's Q4_K_M does.
    pub keep: Vec<KeepRule>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct QuantizeReport {
    pub tensors: usize,
    /// (tensor, wanted, used)
    pub fallbacks: Vec<(String, String, String)>,
    pub bytes_out: u64,
    pub f32_bytes: u64,
}

/// What llama.cpp's `general.file_type` calls a model mostly of this type.
fn file_type(t: GgmlType) -> u32 {
    match t {
        GgmlType::F32 => 0,
        GgmlType::F16 => 1,
        GgmlType::Q4_0 => 2,
        GgmlType::Q8_0 => 7,
        GgmlType::Q5_0 => 8,
        GgmlType::Q4K => 15,
        GgmlType::Q6K => 18,
        GgmlType::BF16 => 32,
        _ => 0,
    }
}

/// The type a `cols`-wide row can actually take when `wanted` does not fit.
pub fn fallback_type(wanted: GgmlType, cols: usize) -> GgmlType {
    let fits = |t: GgmlType| cols % t.block_size() == 0;
    if fits(wanted) {
        return wanted;
    }
    let next = match wanted {
        GgmlType::Q4K => GgmlType::Q5_0,
        GgmlType::Q6K => GgmlType::Q8_0,
        _ => GgmlType::F16,
    };
    if fits(next) { next } else { GgmlType::F16 }
}

struct Source {
    weights: Box<dyn WeightSource>,
    metadata: Vec<(String, MetaValue)>,
    arch: String,
    heads: (usize, usize),
    rope_freqs: Option<Vec<f32>>,
}

fn open_source(input: &Path) -> Result<Source> {
    if input.is_file() {
        let file = Arc::new(GgufFile::open(input).map_err(|e| ModelError::io(input, e))?);
        let meta = file.metadata();
        let arch = meta.get("general.architecture").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let heads = meta.get(&format!("{arch}.attention.head_count")).and_then(|v| v.as_u64()).unwrap_or(1) as usize;
        let kv = meta.get(&format!("{arch}.attention.head_count_kv")).and_then(|v| v.as_u64()).unwrap_or(heads as u64) as usize;
        let metadata = meta.iter().filter(|(k, _)| !k.starts_with("general.file_type") && *k != "general.alignment").map(|(k, v)| (k.to_string(), v.clone())).collect();
        let rope_freqs = match file.tensor("rope_freqs.weight") {
            Some(info) => {
                let mut f = vec![0f32; info.n_elements() as usize];
                crate::quant::dequantize_row(info.dtype, file.data_of(info), &mut f).map_err(|e| ModelError::Invalid(e.to_string()))?;
                Some(f)
            }
            None => None,
        };
        let src = GgufSource::new(file.clone())?;
        return Ok(Source { weights: Box::new(src), metadata, arch, heads: (heads, kv), rope_freqs });
    }
    let raw = RawConfig::read(&input.join("config.json"))?;
    let (arch, mut metadata) = metadata_from_config(&raw.json, &raw.path)?;
    let tok_path = input.join("tokenizer.json");
    let tj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&tok_path).map_err(|e| ModelError::io(&tok_path, e))?)
        .map_err(|e| ModelError::Json { path: tok_path.clone(), message: e.to_string() })?;
    metadata.extend(tokenizer_metadata(&tj, &tok_path)?);
    let tok = tokenizers::Tokenizer::from_file(&tok_path).map_err(|e| ModelError::Tokenizer { path: tok_path.clone(), message: e.to_string() })?;
    let tcfg = TokenizerConfig::read_optional(&input.join("tokenizer_config.json"))?;
    let generation = GenerationDefaults::read_optional(&input.join("generation_config.json"))?;
    let bos = tcfg.bos_token.as_deref().and_then(|t| tok.token_to_id(t)).or(generation.bos_token_id);
    let eos = generation.eos_token_id.first().copied().or_else(|| tcfg.eos_token.as_deref().and_then(|t| tok.token_to_id(t)));
    if let Some(b) = bos {
        metadata.push(("tokenizer.ggml.bos_token_id".into(), MetaValue::U32(b)));
    }
    if let Some(e) = eos {
        metadata.push(("tokenizer.ggml.eos_token_id".into(), MetaValue::U32(e)));
    }
    let jinja = input.join("chat_template.jinja");
    let template = if jinja.exists() { std::fs::read_to_string(&jinja).ok() } else { tcfg.chat_template.clone() };
    if let Some(t) = template {
        metadata.push(("tokenizer.chat_template".into(), MetaValue::String(t)));
    }
    let name = input.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    metadata.push(("general.name".into(), MetaValue::String(name)));
    let heads = raw.json["num_attention_heads"].as_u64().unwrap_or(1) as usize;
    let kv = raw.json["num_key_value_heads"].as_u64().map_or(heads, |k| k as usize);
    let rope = raw.rope()?;
    // llama.cpp has no Llama 3 scaling key: it stores the per-frequency divisors as a tensor.
    let rope_freqs = match rope.scaling {
        RopeScaling::Llama3 { .. } => {
            let head_dim = raw.json["head_dim"].as_u64().map_or(raw.json["hidden_size"].as_u64().unwrap_or(0) as usize / heads, |d| d as usize);
            let plain = inv_freq(&crate::config::RopeConfig { scaling: RopeScaling::None, ..rope.clone() }, head_dim).0;
            let scaled = inv_freq(&rope, head_dim).0;
            Some(plain.iter().zip(&scaled).map(|(p, s)| p / s).collect())
        }
        _ => None,
    };
    Ok(Source { weights: Box::new(SafetensorsDir::open(input)?), metadata, arch, heads: (heads, kv), rope_freqs })
}

pub fn quantize_model(input: &Path, output: &Path, opts: &QuantizeOptions, progress: &mut dyn FnMut(usize, usize, &str)) -> Result<QuantizeReport> {
    if !input.exists() {
        return Err(ModelError::MissingPath { path: input.to_path_buf() });
    }
    let src = open_source(input)?;
    let names: Vec<String> = src.weights.names();
    let mut plan = Vec::new();
    for name in &names {
        // MTP / unknown tensors have no llama.cpp name: skip them, as llama.cpp's converter does.
        let Some(gname) = hf_to_gguf_name(name) else { continue };
        let shape = src.weights.shape_of(name).unwrap_or_default();
        let cols = *shape.last().unwrap_or(&1);
        let wanted = if shape.len() < 2 {
            GgmlType::F32
        } else if let Some(rule) = opts.keep.iter().find(|r| gname.contains(&r.pattern)) {
            rule.dtype
        } else if opts.keep.is_empty() && gname == "output.weight" && matches!(opts.to, GgmlType::Q4K | GgmlType::Q4_0) {
            GgmlType::Q6K
        } else {
            opts.to
        };
        let used = fallback_type(wanted, cols);
        plan.push((name.clone(), gname, shape, wanted, used));
    }
    let mut report = QuantizeReport { tensors: plan.len() + src.rope_freqs.is_some() as usize, ..Default::default() };
    let total = plan.len();
    let done = RefCell::new((0usize, progress));
    let permute = src.arch == "llama";
    let weights = &src.weights;
    let mut w = GgufWriter::new();
    for (k, v) in &src.metadata {
        w.set(k.clone(), v.clone());
    }
    w.set("general.file_type", MetaValue::U32(file_type(opts.to)));
    w.set("general.quantization_version", MetaValue::U32(2));
    for (name, gname, shape, wanted, used) in &plan {
        if wanted != used {
            report.fallbacks.push((gname.clone(), wanted.name().to_string(), used.name().to_string()));
        }
        let dims: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
        report.f32_bytes += shape.iter().product::<usize>() as u64 * 4;
        report.bytes_out += used.row_bytes(dims[0]).unwrap_or(0) * (shape.iter().product::<usize>() as u64 / dims[0].max(1));
        let (heads, kv) = src.heads;
        let done = &done;
        let producer = move || -> std::result::Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
            let t = weights.load_f32(name)?;
            let mut v: Vec<f32> = t.flatten_all()?.to_vec1()?;
            let cols = *shape.last().unwrap_or(&1);
            let rows = v.len() / cols.max(1);
            // llama.cpp's converter interleaves Llama's q/k rows for its rope; do the same.
            let n = if name.contains("self_attn.q_proj") { Some(heads) } else if name.contains("self_attn.k_proj") { Some(kv) } else { None };
            if let (true, Some(n)) = (permute, n) {
                let perm = llama_qk_permutation(rows, n);
                let src_rows = v.clone();
                for (p, &r) in perm.iter().enumerate() {
                    v[p * cols..(p + 1) * cols].copy_from_slice(&src_rows[r * cols..(r + 1) * cols]);
                }
            }
            let bytes = quantize(*used, &v, cols)?;
            let mut d = done.borrow_mut();
            d.0 += 1;
            let count = d.0;
            (d.1)(count, total, gname);
            Ok(bytes)
        };
        w.add_tensor(gname.clone(), &dims, *used, TensorBytes::Later(Box::new(producer)))
            .map_err(|e| ModelError::io(output, e))?;
    }
    if let Some(f) = &src.rope_freqs {
        let bytes: Vec<u8> = f.iter().flat_map(|x| x.to_le_bytes()).collect();
        w.add_tensor("rope_freqs.weight", &[f.len() as u64], GgmlType::F32, TensorBytes::Ready(bytes.into()))
            .map_err(|e| ModelError::io(output, e))?;
    }
    w.write(output).map_err(|e| ModelError::io(output, e))?;
    report.bytes_out = std::fs::metadata(output).map(|m| m.len()).unwrap_or(report.bytes_out);
    Ok(report)
}
