//! Text in and out of token ids: the tokenizer (tokenizer.json, or rebuilt from GGUF metadata
//! around the compact BPE model), BPE training for new models, and the chat template that turns
//! messages into a prompt.

pub mod bpe_train;
pub mod chat_template;
pub mod compact_bpe;
pub mod tokenizer;
