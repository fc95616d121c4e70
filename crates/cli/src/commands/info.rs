//! `reasoner info --model PATH [--json]`: what the model is and what it costs in memory.

use crate::human;
use crate::model_arg;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct InfoArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    /// Print one JSON object (exact numbers) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InfoArgs) -> Result<()> {
    let m = model_arg::open_with(&a.model, a.load)?;
    let info = m.model.info();
    let template = m.chat_template.as_ref().map(|t| t.origin.clone());
    if a.json {
        let mut v = serde_json::to_value(&info)?;
        v["path"] = serde_json::json!(m.path.display().to_string());
        v["storage_dtypes"] = serde_json::json!(m.storage_dtypes);
        v["weight_bytes"] = serde_json::json!(m.weight_bytes);
        v["chat_template"] = serde_json::json!(template);
        v["eos_token_ids"] = serde_json::json!(m.eos_ids());
        // Bytes of weights one token reads (MoE: the routed experts it uses), as held in memory.
        v["weight_bytes_per_token"] = serde_json::json!(m.model.decode_weight_bytes());
        v["weight_paths"] = serde_json::json!(reasoner_model::summarize_paths(&m.tensor_paths));
        v["tensor_paths"] = serde_json::json!(m.tensor_paths);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("path              {}", m.path.display());
    println!("architecture      {}", info.architecture);
    println!("parameters        {} ({})", human::count(info.parameters), info.parameters);
    println!("layers            {}", info.layers);
    println!("hidden size       {}", info.hidden_size);
    println!("vocabulary        {}", human::count(info.vocab_size as u64));
    println!("context window    {} tokens", info.max_positions);
    let dtypes: Vec<String> = m.storage_dtypes.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!("stored dtypes     {}", dtypes.join(", "));
    println!("weights           {}", human::bytes(m.weight_bytes));
    if let Some(read) = m.model.decode_weight_bytes() {
        // For a mixture of experts: the routed experts a token uses, not all of them.
        println!("read per token    {} of weights (as held in memory)", human::bytes(read));
    }
    // stored type → computed as, per tensor: what the kernels multiply (see --quantize).
    let paths: Vec<String> =
        reasoner_model::summarize_paths(&m.tensor_paths).iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!("computed as       {}", paths.join(", "));
    println!(
        "KV cache / token  {} in f32 ({} values per layer; half in f16, --kv-cache); a full multi-head cache: {}",
        human::bytes(info.kv_cache_bytes_per_token),
        info.kv_cache_values_per_token_per_layer,
        human::bytes(info.mha_kv_cache_bytes_per_token)
    );
    println!("chat template     {}", template.unwrap_or_else(|| "none".into()));
    Ok(())
}
