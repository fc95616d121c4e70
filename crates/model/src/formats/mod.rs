//! Where weights come from and how they are written: the `WeightSource` trait that architecture
//! files load through, safetensors checkpoints, in-memory (trained) tensors, GGUF files read and
//! written, and the quantize command's core (a checkpoint in, a GGUF file out).

pub mod gguf;
pub mod loading;
pub mod mapped;
pub mod named_tensors;
pub mod quantize;
pub mod safetensors;
pub mod weights;
