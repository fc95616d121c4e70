//! One module per subcommand.

pub mod bench;
pub mod chat;
pub mod completions;
pub mod eval;
pub mod generate;
pub mod grade;
pub mod info;
pub mod logprobs;
pub mod pull;
pub mod quantize;
pub mod roofline;
pub mod tokenize;
pub mod transcript;
