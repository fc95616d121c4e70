//! One module per subcommand.

pub mod chat;
pub mod generate;
pub mod info;
pub mod logprobs;
pub mod transcript;
