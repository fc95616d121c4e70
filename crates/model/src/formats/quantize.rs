//! `reasoner quantize`: a Hugging Face directory or a GGUF file in, a GGUF file out, with the
//! tensor names, metadata and tokenizer llama.cpp expects. Norms and biases stay f32; a tensor
//! whose rows do not fill whole blocks of the target type falls back as llama.cpp's quantizer
//! does (Q4_K → Q5_0, Q6_K → Q8_0, and F16 where not even a multiple of 32), and is reported.
//! DeepSeek (`deepseek2`) is written as llama.cpp's converter writes it: routed experts stacked
//! into 3-D `ffn_*_exps`, kv_b_proj split into `attn_k_b` (transposed) and `attn_v_b`, routers
//! kept f32, MTP blocks as `blk.N.nextn.*` after the main blocks.

use crate::config::inv_freq;
use crate::config::{GenerationDefaults, RawConfig, RopeScaling};
use crate::error::{ModelError, Result};
use crate::formats::gguf::config::{DeepseekLayout, config_from_metadata, deepseek_layout, metadata_from_config};
use crate::formats::gguf::names::{
    gguf_experts_name, hf_expert_name, hf_expert_of, hf_to_gguf_name, llama_qk_permutation, split_kv_b,
};
use crate::formats::gguf::source::GgufSource;
use crate::formats::gguf::tokenizer::tokenizer_metadata;
use crate::formats::gguf::{GgufFile, GgufWriter, MetaValue, TensorBytes};
use crate::formats::safetensors::SafetensorsDir;
use crate::formats::weights::WeightSource;
use crate::quant::{GgmlType, quantize};
use crate::text::tokenizer::TokenizerConfig;
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
    let fits = |t: GgmlType| cols.is_multiple_of(t.block_size());
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
    deepseek: Option<DeepseekLayout>,
}

fn open_source(input: &Path) -> Result<Source> {
    if input.is_file() {
        let file = Arc::new(GgufFile::open(input).map_err(|e| ModelError::Invalid(e.to_string()))?);
        let meta = file.metadata();
        let arch = meta.get("general.architecture").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let heads = meta.get(&format!("{arch}.attention.head_count")).and_then(|v| v.as_u64()).unwrap_or(1) as usize;
        let kv = meta.get(&format!("{arch}.attention.head_count_kv")).and_then(|v| v.as_u64()).unwrap_or(heads as u64)
            as usize;
        let metadata = meta
            .iter()
            .filter(|(k, _)| !k.starts_with("general.file_type") && *k != "general.alignment")
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let rope_freqs = match file.tensor("rope_freqs.weight") {
            Some(info) => {
                let mut f = vec![0f32; info.n_elements() as usize];
                crate::quant::dequantize_row(info.dtype, file.data_of(info), &mut f)
                    .map_err(|e| ModelError::Invalid(e.to_string()))?;
                Some(f)
            }
            None => None,
        };
        let src = GgufSource::new(file.clone())?;
        let mut metadata: Vec<(String, MetaValue)> = metadata;
        let mut deepseek = None;
        if arch == "deepseek2" {
            // Rewrite the model keys from the config they describe, so a file from an older
            // converter (unsplit attn_kv_b, no `_mla` lengths) comes out in today's layout.
            let vocab = src.shape_of("model.embed_tokens.weight").map_or(0, |s| s[0]);
            let cfg = config_from_metadata(meta, input, vocab, &|n| file.tensor(n).is_some())?;
            let (_, model_keys) = metadata_from_config(&cfg, input, &|n| src.contains(n))?;
            metadata.retain(|(k, _)| !k.starts_with("deepseek2."));
            metadata.extend(model_keys.into_iter().filter(|(k, _)| k.starts_with("deepseek2.")));
            deepseek = Some(deepseek_layout(&cfg, input, &|n| src.contains(n))?);
        }
        return Ok(Source { weights: Box::new(src), metadata, arch, heads: (heads, kv), rope_freqs, deepseek });
    }
    let raw = RawConfig::read(&input.join("config.json"))?;
    crate::models::check_config(&raw)?;
    let weights = SafetensorsDir::open(input)?;
    let (arch, mut metadata) = metadata_from_config(&raw.json, &raw.path, &|n| weights.contains(n))?;
    let deepseek =
        if arch == "deepseek2" { Some(deepseek_layout(&raw.json, &raw.path, &|n| weights.contains(n))?) } else { None };
    let tok_path = input.join("tokenizer.json");
    let tj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tok_path).map_err(|e| ModelError::io(&tok_path, e))?)
            .map_err(|e| ModelError::Json { path: tok_path.clone(), message: e.to_string() })?;
    metadata.extend(tokenizer_metadata(&tj, &tok_path, raw.json["vocab_size"].as_u64().map(|v| v as usize))?);
    let tok = tokenizers::Tokenizer::from_file(&tok_path)
        .map_err(|e| ModelError::Tokenizer { path: tok_path.clone(), message: e.to_string() })?;
    let tcfg = TokenizerConfig::read_optional(&input.join("tokenizer_config.json"))?;
    let generation = GenerationDefaults::read_optional(&input.join("generation_config.json"))?;
    let bos = tcfg.bos_token.as_deref().and_then(|t| tok.token_to_id(t)).or(generation.bos_token_id);
    let eos =
        generation.eos_token_id.first().copied().or_else(|| tcfg.eos_token.as_deref().and_then(|t| tok.token_to_id(t)));
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
            let head_dim = raw.json["head_dim"]
                .as_u64()
                .map_or(raw.json["hidden_size"].as_u64().unwrap_or(0) as usize / heads, |d| d as usize);
            let plain = inv_freq(&crate::config::RopeConfig { scaling: RopeScaling::None, ..rope.clone() }, head_dim).0;
            let scaled = inv_freq(&rope, head_dim).0;
            Some(plain.iter().zip(&scaled).map(|(p, s)| p / s).collect())
        }
        _ => None,
    };
    Ok(Source { weights: Box::new(weights), metadata, arch, heads: (heads, kv), rope_freqs, deepseek })
}

/// How one output tensor's f32 values are made from the source.
enum Build {
    /// One source tensor; with `rows`, output row p is source row rows[p].
    Plain { name: String, rows: Option<Vec<usize>> },
    /// Per-expert matrices stacked into (experts, rows, cols).
    Stack(Vec<String>),
    /// kv_b_proj's halves as llama.cpp splits it (`split_kv_b`): false = k_b, true = v_b.
    KvB { name: String, v: bool },
}

struct Planned {
    build: Build,
    gname: String,
    /// Row-major, outermost first.
    shape: Vec<usize>,
    wanted: GgmlType,
    used: GgmlType,
}

/// `model.layers.L.<rest>` -> (L, rest).
fn layer_of(name: &str) -> Option<(usize, &str)> {
    let (l, rest) = name.strip_prefix("model.layers.")?.split_once('.')?;
    Some((l.parse().ok()?, rest))
}

/// Output tensors for the source's names: (build, GGUF name, shape).
fn output_tensors(src: &Source, names: &[String]) -> Vec<(Build, String, Vec<usize>)> {
    let weights = &src.weights;
    let shape = |n: &str| weights.shape_of(n).unwrap_or_default();
    let mut out = Vec::new();
    for name in names {
        if let Some(ds) = &src.deepseek {
            if let Some((layer, rest)) = layer_of(name) {
                if layer >= ds.layers + ds.nextn {
                    continue; // MTP blocks not counted in nextn_predict_layers
                }
                if rest == "self_attn.kv_b_proj.weight" {
                    let (h, dn, dv, r) = (ds.heads, ds.qk_nope_head_dim, ds.v_head_dim, ds.kv_lora_rank);
                    out.push((
                        Build::KvB { name: name.clone(), v: false },
                        format!("blk.{layer}.attn_k_b.weight"),
                        vec![h, r, dn],
                    ));
                    out.push((
                        Build::KvB { name: name.clone(), v: true },
                        format!("blk.{layer}.attn_v_b.weight"),
                        vec![h, dv, r],
                    ));
                    continue;
                }
            }
            if let Some((layer, expert, proj)) = hf_expert_of(name) {
                if expert == 0 {
                    let members: Vec<String> = (0..ds.experts).map(|e| hf_expert_name(layer, e, proj)).collect();
                    let mut s = vec![ds.experts];
                    s.extend(shape(name));
                    out.push((Build::Stack(members), gguf_experts_name(layer, proj), s));
                }
                continue;
            }
        }
        // Tensors without a llama.cpp name (FP8 scales, unknown extras) are skipped.
        let Some(gname) = hf_to_gguf_name(name) else { continue };
        let rows = src
            .deepseek
            .as_ref()
            .and_then(|ds| deepseek_rope_rows(ds, name, shape(name).first().copied().unwrap_or(0)));
        out.push((Build::Plain { name: name.clone(), rows }, gname, shape(name)));
    }
    out
}

/// For a `rope_interleave: false` DeepSeek checkpoint, the row order that turns the rope rows
/// of q and of the shared rope key from rotate-half pairs into the interleaved pairs that
/// llama.cpp's deepseek2 rope (and our GGUF reader) expects.
fn deepseek_rope_rows(ds: &DeepseekLayout, name: &str, rows: usize) -> Option<Vec<usize>> {
    if !ds.half_rope {
        return None;
    }
    let dr = ds.qk_rope_head_dim;
    let perm = llama_qk_permutation(dr, 1);
    let mut order: Vec<usize> = (0..rows).collect();
    let mut reorder = |start: usize| {
        for (p, &q) in perm.iter().enumerate() {
            order[start + p] = start + q;
        }
    };
    if name.ends_with("self_attn.q_proj.weight") || name.ends_with("self_attn.q_b_proj.weight") {
        let per_head = ds.qk_nope_head_dim + dr;
        for h in 0..rows / per_head {
            reorder(h * per_head + ds.qk_nope_head_dim);
        }
    } else if name.ends_with("self_attn.kv_a_proj_with_mqa.weight")
        || name.ends_with("self_attn.kv_a_proj_with_mqa.bias")
    {
        reorder(ds.kv_lora_rank);
    } else {
        return None;
    }
    Some(order)
}

type ProduceError = Box<dyn std::error::Error + Send + Sync>;

fn load_vec(weights: &dyn WeightSource, name: &str) -> std::result::Result<Vec<f32>, ProduceError> {
    Ok(weights.load_f32(name)?.flatten_all()?.to_vec1()?)
}

pub fn quantize_model(
    input: &Path,
    output: &Path,
    opts: &QuantizeOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<QuantizeReport> {
    if !input.exists() {
        return Err(ModelError::MissingPath { path: input.to_path_buf() });
    }
    // Writing over the file being read would destroy the input (it is memory-mapped).
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        return Err(ModelError::io(output, "is the input file itself; write the quantized model elsewhere"));
    }
    let src = open_source(input)?;
    let names: Vec<String> = src.weights.names();
    let mut plan = Vec::new();
    for (build, gname, shape) in output_tensors(&src, &names) {
        let cols = *shape.last().unwrap_or(&1);
        let wanted = if shape.len() < 2 {
            GgmlType::F32
        } else if let Some(rule) = opts.keep.iter().find(|r| gname.contains(&r.pattern)) {
            rule.dtype
        } else if gname.ends_with("ffn_gate_inp.weight") {
            // Expert routers stay f32, as in llama.cpp's converter and quantizer.
            GgmlType::F32
        } else if opts.keep.is_empty() && gname == "output.weight" && matches!(opts.to, GgmlType::Q4K | GgmlType::Q4_0)
        {
            GgmlType::Q6K
        } else {
            opts.to
        };
        let used = fallback_type(wanted, cols);
        plan.push(Planned { build, gname, shape, wanted, used });
    }
    let mut report = QuantizeReport { tensors: plan.len() + src.rope_freqs.is_some() as usize, ..Default::default() };
    let total = plan.len();
    let done = RefCell::new((0usize, progress));
    let permute = src.arch == "llama";
    let deepseek = src.deepseek;
    let weights: &dyn WeightSource = src.weights.as_ref();
    let mut w = GgufWriter::new();
    for (k, v) in &src.metadata {
        w.set(k.clone(), v.clone());
    }
    w.set("general.file_type", MetaValue::U32(file_type(opts.to)));
    w.set("general.quantization_version", MetaValue::U32(2));
    for Planned { build, gname, shape, wanted, used } in plan {
        if wanted != used {
            report.fallbacks.push((gname.clone(), wanted.name().to_string(), used.name().to_string()));
        }
        let dims: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
        let n: usize = shape.iter().product();
        report.f32_bytes += n as u64 * 4;
        report.bytes_out += used.row_bytes(dims[0]).unwrap_or(0) * (n as u64 / dims[0].max(1));
        let (heads, kv) = src.heads;
        let done = &done;
        let name_for_progress = gname.clone();
        let producer = move || -> std::result::Result<Vec<u8>, ProduceError> {
            let cols = *shape.last().unwrap_or(&1);
            let bytes = match &build {
                Build::Plain { name, rows } => {
                    let mut v = load_vec(weights, name)?;
                    // llama.cpp's converter interleaves Llama's q/k rows for its rope; do the same.
                    let n = if name.contains("self_attn.q_proj") {
                        Some(heads)
                    } else if name.contains("self_attn.k_proj") {
                        Some(kv)
                    } else {
                        None
                    };
                    let order = match (permute, n, rows) {
                        (true, Some(n), _) => Some(llama_qk_permutation(v.len() / cols.max(1), n)),
                        (_, _, Some(rows)) => Some(rows.clone()),
                        _ => None,
                    };
                    if let Some(order) = order {
                        let src_rows = v.clone();
                        for (p, &r) in order.iter().enumerate() {
                            v[p * cols..(p + 1) * cols].copy_from_slice(&src_rows[r * cols..(r + 1) * cols]);
                        }
                    }
                    quantize(used, &v, cols)?
                }
                Build::Stack(members) => {
                    // Rows quantize independently, so one expert at a time gives the same bytes
                    // as the whole stack (and holds one expert in f32, not hundreds).
                    let mut bytes = Vec::new();
                    for m in members {
                        let part = load_vec(weights, m)?;
                        if part.len() * members.len() != n {
                            return Err(format!(
                                "expert `{m}` has {} values, {} expected",
                                part.len(),
                                n / members.len()
                            )
                            .into());
                        }
                        bytes.extend(quantize(used, &part, cols)?);
                    }
                    bytes
                }
                Build::KvB { name, v: is_v } => {
                    let ds = deepseek.ok_or("kv_b split outside DeepSeek")?;
                    let kv_b = load_vec(weights, name)?;
                    let (h, dn, dv, r) = (ds.heads, ds.qk_nope_head_dim, ds.v_head_dim, ds.kv_lora_rank);
                    if kv_b.len() != h * (dn + dv) * r {
                        return Err(format!("`{name}` has {} values, {h}·({dn}+{dv})·{r} expected", kv_b.len()).into());
                    }
                    let (k_b, v_b) = split_kv_b(&kv_b, h, dn, dv, r);
                    quantize(used, if *is_v { &v_b } else { &k_b }, cols)?
                }
            };
            let mut d = done.borrow_mut();
            d.0 += 1;
            let count = d.0;
            (d.1)(count, total, &name_for_progress);
            Ok(bytes)
        };
        w.add_tensor(gname, &dims, used, TensorBytes::Later(Box::new(producer)))
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
