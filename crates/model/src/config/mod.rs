//! config.json: reading the file, picking the architecture, and the RoPE settings that every
//! family shares (classic `rope_theta` + `rope_scaling`, or the newer `rope_parameters` dict).

pub mod deepseek;

use crate::error::{ModelError, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

/// The raw config.json of a model directory, kept as JSON so each architecture can parse its
/// own struct from it and errors can name the file.
#[derive(Debug, Clone)]
pub struct RawConfig {
    pub path: PathBuf,
    pub json: Value,
}

impl RawConfig {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| ModelError::Json { path: path.to_path_buf(), message: e.to_string() })?;
        if !json.is_object() {
            return Err(ModelError::key(path, "<root>", "config.json must be a JSON object"));
        }
        Ok(Self { path: path.to_path_buf(), json })
    }

    pub fn architecture(&self) -> Result<String> {
        let archs = self.json.get("architectures").and_then(|a| a.as_array()).ok_or_else(|| {
            ModelError::key(&self.path, "architectures", "missing (expected a list like [\"Qwen2ForCausalLM\"])")
        })?;
        archs
            .first()
            .and_then(|a| a.as_str())
            .map(str::to_string)
            .ok_or_else(|| ModelError::key(&self.path, "architectures", "must hold at least one architecture name"))
    }

    /// Parse the whole file into an architecture's config struct; serde's message names the key.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.json.clone()).map_err(|e| {
            let msg = e.to_string();
            let key = msg.split('`').nth(1).map(str::to_string).unwrap_or_else(|| "<config>".to_string());
            ModelError::key(&self.path, &key, msg)
        })
    }

    pub fn rope(&self) -> Result<RopeConfig> {
        RopeConfig::from_json(&self.json, &self.path)
    }
}

/// How rotary frequencies are scaled for long context.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    None,
    Linear {
        factor: f64,
    },
    /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: f64,
    },
    /// Per-frequency divisors, as llama.cpp stores Llama 3 scaling (`rope_freqs.weight`).
    FreqFactors {
        factors: Vec<f64>,
    },
    /// YaRN (DeepSeek-V3, Qwen long context): NTK-by-parts interpolation plus an attention factor.
    Yarn {
        factor: f64,
        original_max_position_embeddings: f64,
        beta_fast: f64,
        beta_slow: f64,
        mscale: Option<f64>,
        mscale_all_dim: Option<f64>,
        attention_factor: Option<f64>,
        truncate: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RopeConfig {
    pub theta: f64,
    pub scaling: RopeScaling,
    /// Fraction of head_dim that is rotated (1.0 for all supported families today).
    pub partial_rotary_factor: f64,
}

/// Ceilings on config.json sizes, each far past any released model (the largest today: 126
/// layers, hidden 18,432, 262k vocabulary, 256 experts), so that a corrupt or hostile config is
/// refused by name before its sizes are multiplied or allocated.
pub mod limits {
    pub const LAYERS: usize = 1024;
    pub const HIDDEN: usize = 1 << 16;
    pub const INTERMEDIATE: usize = 1 << 20;
    pub const HEADS: usize = 1024;
    pub const HEAD_DIM: usize = 1024;
    pub const VOCAB: usize = 1 << 22;
    pub const POSITIONS: usize = 1 << 24;
    pub const EXPERTS: usize = 1 << 14;
}

/// Each `(key, value, ceiling)` must be at most its ceiling; the first that is not is named.
pub fn check_ceilings(path: &Path, sizes: &[(&str, usize, usize)]) -> Result<()> {
    match sizes.iter().find(|(_, v, max)| v > max) {
        Some((key, v, max)) => Err(ModelError::key(path, key, format!("{v} is past the ceiling of {max}"))),
        None => Ok(()),
    }
}

fn num(v: &Value, key: &str, path: &Path) -> Result<Option<f64>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x.as_f64().map(Some).ok_or_else(|| ModelError::key(path, key, "must be a number")),
    }
}

impl RopeConfig {
    pub fn from_json(json: &Value, path: &Path) -> Result<Self> {
        // Newer transformers write `rope_parameters` holding theta and the scaling together;
        // older ones write `rope_theta` and an optional `rope_scaling` dict.
        let (scaling_json, theta) = match json.get("rope_parameters") {
            Some(p) if p.is_object() => {
                let theta = num(p, "rope_theta", path)?.or(num(json, "rope_theta", path)?);
                (Some(p.clone()), theta)
            }
            _ => (json.get("rope_scaling").filter(|s| !s.is_null()).cloned(), num(json, "rope_theta", path)?),
        };
        let theta = theta.unwrap_or(10000.0);
        if !(theta.is_finite() && theta > 0.0) {
            return Err(ModelError::key(path, "rope_theta", format!("{theta} must be a positive number")));
        }
        let partial_rotary_factor = num(json, "partial_rotary_factor", path)?.unwrap_or(1.0);
        if !(partial_rotary_factor > 0.0 && partial_rotary_factor <= 1.0) {
            return Err(ModelError::key(
                path,
                "partial_rotary_factor",
                format!("{partial_rotary_factor} must be in (0, 1]"),
            ));
        }
        let scaling = match scaling_json {
            None => RopeScaling::None,
            Some(s) => Self::parse_scaling(&s, json, path)?,
        };
        Ok(Self { theta, scaling, partial_rotary_factor })
    }

    fn parse_scaling(s: &Value, root: &Value, path: &Path) -> Result<RopeScaling> {
        let kind = s.get("rope_type").or_else(|| s.get("type")).and_then(|t| t.as_str()).unwrap_or("default");
        let need = |key: &str| -> Result<f64> {
            num(s, key, path)?.ok_or_else(|| ModelError::key(path, &format!("rope_scaling.{key}"), "missing"))
        };
        let orig = || -> Result<f64> {
            Ok(match num(s, "original_max_position_embeddings", path)? {
                Some(v) => v,
                None => num(root, "max_position_embeddings", path)?
                    .ok_or_else(|| ModelError::key(path, "rope_scaling.original_max_position_embeddings", "missing"))?,
            })
        };
        Ok(match kind {
            // transformers' dynamic NTK only changes the base past max_position_embeddings;
            // within it, which is all a static table covers, it is the default schedule.
            "default" | "dynamic" => RopeScaling::None,
            "linear" => RopeScaling::Linear { factor: need("factor")? },
            "freq_factors" => RopeScaling::FreqFactors {
                factors: s["factors"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                    .ok_or_else(|| ModelError::key(path, "rope_scaling.factors", "missing"))?,
            },
            "llama3" => RopeScaling::Llama3 {
                factor: need("factor")?,
                low_freq_factor: need("low_freq_factor")?,
                high_freq_factor: need("high_freq_factor")?,
                original_max_position_embeddings: orig()?,
            },
            "yarn" | "deepseek_yarn" => RopeScaling::Yarn {
                factor: need("factor")?,
                original_max_position_embeddings: orig()?,
                beta_fast: num(s, "beta_fast", path)?.unwrap_or(32.0),
                beta_slow: num(s, "beta_slow", path)?.unwrap_or(1.0),
                mscale: num(s, "mscale", path)?,
                mscale_all_dim: num(s, "mscale_all_dim", path)?,
                attention_factor: num(s, "attention_factor", path)?,
                truncate: s.get("truncate").and_then(|t| t.as_bool()).unwrap_or(true),
            },
            other => {
                return Err(ModelError::key(
                    path,
                    "rope_scaling.rope_type",
                    format!("unsupported rope scaling `{other}` (supported: default, linear, dynamic, llama3, yarn)"),
                ));
            }
        })
    }
}

/// generation_config.json: the sampling defaults the model's authors recommend.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct GenerationDefaults {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<usize>,
    pub min_p: Option<f64>,
    pub repetition_penalty: Option<f64>,
    pub do_sample: Option<bool>,
    pub max_new_tokens: Option<usize>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub eos_token_id: Vec<u32>,
    pub bos_token_id: Option<u32>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<u32>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Number(n) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Value::Array(a) => a.iter().filter_map(|x| x.as_u64().map(|x| x as u32)).collect(),
        _ => vec![],
    })
}
use serde::Deserialize;

impl GenerationDefaults {
    pub fn read_optional(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| ModelError::Json { path: path.to_path_buf(), message: e.to_string() })
    }
}

/// Inverse frequencies for a rotary dimension `dim`, and the factor applied to cos/sin
/// (YaRN's attention temperature; 1 elsewhere).
pub fn inv_freq(cfg: &RopeConfig, dim: usize) -> (Vec<f32>, f64) {
    let base = cfg.theta;
    let pos_freqs: Vec<f64> = (0..dim).step_by(2).map(|i| base.powf(i as f64 / dim as f64)).collect();
    let plain: Vec<f64> = pos_freqs.iter().map(|p| 1.0 / p).collect();
    let (freqs, attention_factor) = match &cfg.scaling {
        RopeScaling::None => (plain, 1.0),
        RopeScaling::Linear { factor } => (plain.iter().map(|f| f / factor).collect(), 1.0),
        RopeScaling::FreqFactors { factors } => {
            (plain.iter().zip(factors.iter().chain(std::iter::repeat(&1.0))).map(|(f, d)| f / d).collect(), 1.0)
        }
        RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings } => {
            let old = *original_max_position_embeddings;
            let low_wavelen = old / low_freq_factor;
            let high_wavelen = old / high_freq_factor;
            let f = plain
                .iter()
                .map(|&f| {
                    let wavelen = 2.0 * PI / f;
                    if wavelen < high_wavelen {
                        f
                    } else if wavelen > low_wavelen {
                        f / factor
                    } else {
                        let smooth = (old / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                })
                .collect();
            (f, 1.0)
        }
        RopeScaling::Yarn {
            factor,
            original_max_position_embeddings,
            beta_fast,
            beta_slow,
            mscale,
            mscale_all_dim,
            attention_factor,
            truncate,
        } => {
            let attention_factor = attention_factor.unwrap_or_else(|| match (mscale, mscale_all_dim) {
                (Some(m), Some(a)) if *m != 0.0 && *a != 0.0 => yarn_mscale(*factor, *m) / yarn_mscale(*factor, *a),
                _ => yarn_mscale(*factor, 1.0),
            });
            let correction_dim = |rot: f64| {
                (dim as f64 * (original_max_position_embeddings / (rot * 2.0 * PI)).ln()) / (2.0 * base.ln())
            };
            let (mut low, mut high) = (correction_dim(*beta_fast), correction_dim(*beta_slow));
            if *truncate {
                low = low.floor();
                high = high.ceil();
            }
            let low = low.max(0.0);
            let mut high = high.min(dim as f64 - 1.0);
            if low == high {
                high += 0.001;
            }
            let f = pos_freqs
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    // transformers computes the ramp in f32; do the same to match its rounding.
                    let ramp = ((i as f32 - low as f32) / (high as f32 - low as f32)).clamp(0.0, 1.0) as f64;
                    let extrapolation = 1.0 - ramp;
                    (1.0 / (factor * p)) * (1.0 - extrapolation) + (1.0 / p) * extrapolation
                })
                .collect();
            (f, attention_factor)
        }
    };
    (freqs.into_iter().map(|f| f as f32).collect(), attention_factor)
}

/// YaRN's magnitude correction `0.1 · m · ln(s) + 1` (1 when not extending).
pub fn yarn_mscale(scale: f64, m: f64) -> f64 {
    if scale <= 1.0 { 1.0 } else { 0.1 * m * scale.ln() + 1.0 }
}

/// How the rotated dimensions are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    /// (x[i], x[i + d/2]) pairs: Llama, Qwen, and DeepSeek in transformers after its permute.
    Half,
    /// (x[2i], x[2i + 1]) pairs: DeepSeek's own inference code.
    Interleaved,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classic_and_new_rope_layouts_agree() {
        let p = Path::new("config.json");
        let classic = json!({"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}});
        let new = json!({"rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}});
        assert_eq!(RopeConfig::from_json(&classic, p).unwrap(), RopeConfig::from_json(&new, p).unwrap());
        let plain = json!({"rope_parameters": {"rope_theta": 1e6, "rope_type": "default"}});
        let r = RopeConfig::from_json(&plain, p).unwrap();
        assert_eq!(r.theta, 1e6);
        assert_eq!(r.scaling, RopeScaling::None);
    }

    #[test]
    fn unknown_rope_type_names_the_key() {
        let j = json!({"rope_scaling": {"type": "weird", "factor": 2.0}});
        let e = RopeConfig::from_json(&j, Path::new("x/config.json")).unwrap_err().to_string();
        assert!(e.contains("rope_scaling.rope_type") && e.contains("weird"), "{e}");
    }
}
