//! Weights held in memory as named f32 tensors, the source a trainable model is built from.
//! `NamedTensors` hands out exactly the tensors it holds (so a model built from `Var`s computes
//! with those `Var`s and autograd reaches them); `RandomInit` makes a checkpoint's tensors from
//! nothing, as transformers' `_init_weights` does, for training from scratch.

use crate::error::{ModelError, Result};
use crate::formats::weights::{StorageSummary, WeightSource};
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Tensors by checkpoint name, in name order.
#[derive(Debug, Clone, Default)]
pub struct NamedTensors {
    pub origin: String,
    pub tensors: BTreeMap<String, Tensor>,
}

impl NamedTensors {
    pub fn new(origin: impl Into<String>, tensors: BTreeMap<String, Tensor>) -> Self {
        Self { origin: origin.into(), tensors }
    }

    /// Every tensor of `src` widened to f32.
    pub fn read_all(src: &dyn WeightSource) -> Result<Self> {
        let mut tensors = BTreeMap::new();
        for name in src.names() {
            tensors.insert(name.clone(), src.load_f32(&name)?);
        }
        Ok(Self { origin: src.origin(), tensors })
    }
}

impl WeightSource for NamedTensors {
    fn origin(&self) -> String {
        self.origin.clone()
    }
    fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|t| t.dims().to_vec())
    }
    fn load_f32(&self, name: &str) -> Result<Tensor> {
        self.tensors
            .get(name)
            .cloned()
            .ok_or_else(|| ModelError::MissingTensor { tensor: name.to_string(), source_name: self.origin.clone() })
    }
    fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }
}

impl StorageSummary for NamedTensors {
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64) {
        let bytes = self.tensors.values().map(|t| t.elem_count() as u64 * 4).sum();
        (BTreeMap::from([("F32".to_string(), self.tensors.len())]), bytes)
    }
    fn stored_dtype(&self, name: &str) -> Option<String> {
        self.tensors.contains_key(name).then(|| "F32".to_string())
    }
}

/// Makes each tensor an architecture asks for: norm weights 1, biases 0, every other matrix
/// drawn from N(0, std²) (transformers' `initializer_range`, 0.02 by default). Each tensor's
/// values depend only on the seed and its name, so the result does not depend on load order.
/// Nothing is "contained", so optional tensors stay absent and tied heads stay tied.
pub struct RandomInit {
    seed: u64,
    std: f64,
    made: Mutex<BTreeMap<String, Tensor>>,
}

impl RandomInit {
    pub fn new(seed: u64, std: f64) -> Self {
        Self { seed, std, made: Mutex::new(BTreeMap::new()) }
    }

    /// The tensors made so far (after `load_architecture`, the whole checkpoint).
    pub fn into_tensors(self) -> BTreeMap<String, Tensor> {
        self.made.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn make(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let leaf = name.rsplit('.').nth(1).unwrap_or("");
        let values: Vec<f32> = if name.ends_with(".bias") {
            vec![0.0; n]
        } else if leaf.ends_with("norm") || leaf.ends_with("layernorm") {
            vec![1.0; n]
        } else {
            let mut rng = SplitMix64(self.seed ^ fnv1a(name.as_bytes()));
            normal_values(&mut rng, n, self.std)
        };
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
    }
}

impl WeightSource for RandomInit {
    fn origin(&self) -> String {
        format!("random init (seed {}, std {})", self.seed, self.std)
    }
    fn contains(&self, _name: &str) -> bool {
        false
    }
    fn shape_of(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }
    fn load_f32(&self, name: &str) -> Result<Tensor> {
        Err(ModelError::MissingTensor { tensor: name.to_string(), source_name: self.origin() })
    }
    fn names(&self) -> Vec<String> {
        self.made.lock().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let mut made = self.made.lock().map_err(|_| ModelError::Invalid("random init: lock poisoned".into()))?;
        if let Some(t) = made.get(name) {
            return Ok(t.clone());
        }
        let t = self.make(name, shape)?;
        made.insert(name.to_string(), t.clone());
        Ok(t)
    }
    fn get_optional(&self, _name: &str, _shape: &[usize]) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

impl StorageSummary for RandomInit {
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64) {
        (BTreeMap::new(), 0)
    }
}

/// A small, seedable generator (SplitMix64): fixed output for a seed on every platform.
#[derive(Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn normal_values(rng: &mut SplitMix64, n: usize, std: f64) -> Vec<f32> {
    // Box–Muller, two values per pair of uniforms.
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1 = rng.next_f64().max(f64::MIN_POSITIVE);
        let u2 = rng.next_f64();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let t = 2.0 * std::f64::consts::PI * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n);
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_follows_the_name_and_not_the_order() {
        let a = RandomInit::new(7, 0.02);
        let w1 = a.get("model.layers.0.mlp.up_proj.weight", &[64, 32]).unwrap();
        let n = a.get("model.layers.0.input_layernorm.weight", &[32]).unwrap();
        let b = a.get("model.layers.0.self_attn.q_proj.bias", &[32]).unwrap();
        let other = RandomInit::new(7, 0.02);
        let w2 = other.get("model.layers.0.mlp.up_proj.weight", &[64, 32]).unwrap();
        assert_eq!(w1.to_vec2::<f32>().unwrap(), w2.to_vec2::<f32>().unwrap());
        assert!(n.to_vec1::<f32>().unwrap().iter().all(|&v| v == 1.0));
        assert!(b.to_vec1::<f32>().unwrap().iter().all(|&v| v == 0.0));
        let v: Vec<f32> = w1.flatten_all().unwrap().to_vec1().unwrap();
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
        assert!(mean.abs() < 0.002 && (std - 0.02).abs() < 0.0015, "mean {mean} std {std}");
        assert_eq!(a.names().len(), 3);
    }
}
