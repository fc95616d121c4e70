//! One module per subcommand.

pub mod bench;
pub mod chat;
pub mod completions;
pub mod distill;
pub mod eval;
pub mod generate;
pub mod grade;
pub mod info;
pub mod logprobs;
pub mod pull;
pub mod quantize;
pub mod recipe;
pub mod roofline;
pub mod serve;
pub mod tokenize;
pub mod train;
pub mod transcript;
