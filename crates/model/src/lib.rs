//! reasoner-model: configs, tokenizer and chat template, weight formats, and one file per
//! architecture with its forward pass.

pub mod gguf;
pub mod quant;
