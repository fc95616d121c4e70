//! `reasoner eval`: placeholder until the evaluation command lands (being written now).

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct EvalArgs {}

pub fn run(_a: EvalArgs) -> Result<()> {
    bail!("reasoner eval is not available in this build yet")
}
