//! How Hugging Face checkpoints and llama.cpp's GGUF name the same tensors, in both directions
//! (`model.layers.3.self_attn.q_proj.weight` ↔ `blk.3.attn_q.weight`), and the reshapes that go
//! with a name change (DeepSeek's stacked experts and split `kv_b_proj`, Llama's q/k row order).
//! Reading and writing share these tables so a file we write reads back as what we started from.
//! config.json ↔ metadata is in `config`, tokenizer.json ↔ `tokenizer.ggml.*` in `tokenizer`.

/// Per-layer tensor names: (HF suffix after `model.layers.N.`, GGUF suffix after `blk.N.`).
const LAYER_TENSORS: &[(&str, &str)] = &[
    ("input_layernorm.weight", "attn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("self_attn.o_proj.bias", "attn_output.bias"),
    ("self_attn.q_norm.weight", "attn_q_norm.weight"),
    ("self_attn.k_norm.weight", "attn_k_norm.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
    ("mlp.gate_proj.bias", "ffn_gate.bias"),
    ("mlp.up_proj.bias", "ffn_up.bias"),
    ("mlp.down_proj.bias", "ffn_down.bias"),
    // DeepSeek MLA. kv_b_proj is written split (attn_k_b / attn_v_b, see `split_kv_b`);
    // `attn_kv_b` is what older llama.cpp files hold, and reads as it is.
    ("self_attn.q_a_proj.weight", "attn_q_a.weight"),
    ("self_attn.q_a_proj.bias", "attn_q_a.bias"),
    ("self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"),
    ("self_attn.q_b_proj.weight", "attn_q_b.weight"),
    ("self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"),
    ("self_attn.kv_a_proj_with_mqa.bias", "attn_kv_a_mqa.bias"),
    ("self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"),
    ("self_attn.kv_b_proj.weight", "attn_kv_b.weight"),
    // DeepSeekMoE: router, its bias, shared experts. Routed experts are stacked 3-D tensors
    // (see `EXPERT_PROJS`).
    ("mlp.gate.weight", "ffn_gate_inp.weight"),
    ("mlp.gate.e_score_correction_bias", "exp_probs_b.bias"),
    ("mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"),
    ("mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"),
    ("mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"),
    // DeepSeek-V3 multi-token prediction, stored as the blocks after the main ones.
    ("eh_proj.weight", "nextn.eh_proj.weight"),
    ("enorm.weight", "nextn.enorm.weight"),
    ("hnorm.weight", "nextn.hnorm.weight"),
    ("embed_tokens.weight", "nextn.embed_tokens.weight"),
    ("shared_head.head.weight", "nextn.shared_head_head.weight"),
    ("shared_head.norm.weight", "nextn.shared_head_norm.weight"),
];

/// Routed experts: (HF projection, GGUF stacked tensor). `model.layers.L.mlp.experts.E.gate_proj.weight`
/// is expert E of `blk.L.ffn_gate_exps.weight`, shape (experts, rows, cols).
pub const EXPERT_PROJS: [(&str, &str); 3] =
    [("gate_proj", "ffn_gate_exps"), ("up_proj", "ffn_up_exps"), ("down_proj", "ffn_down_exps")];

/// `model.layers.L.mlp.experts.E.{proj}.weight` -> (L, E, index into `EXPERT_PROJS`).
pub fn hf_expert_of(name: &str) -> Option<(usize, usize, usize)> {
    let rest = name.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let rest = rest.strip_prefix("mlp.experts.")?;
    let (expert, rest) = rest.split_once('.')?;
    let proj = rest.strip_suffix(".weight")?;
    let p = EXPERT_PROJS.iter().position(|(h, _)| *h == proj)?;
    Some((layer.parse().ok()?, expert.parse().ok()?, p))
}

pub fn hf_expert_name(layer: usize, expert: usize, proj: usize) -> String {
    format!("model.layers.{layer}.mlp.experts.{expert}.{}.weight", EXPERT_PROJS[proj].0)
}

pub fn gguf_experts_name(layer: usize, proj: usize) -> String {
    format!("blk.{layer}.{}.weight", EXPERT_PROJS[proj].1)
}

/// `blk.L.ffn_gate_exps.weight` -> (L, index into `EXPERT_PROJS`).
pub fn gguf_experts_of(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let stem = rest.strip_suffix(".weight")?;
    let p = EXPERT_PROJS.iter().position(|(_, g)| *g == stem)?;
    Some((layer.parse().ok()?, p))
}

/// `blk.L.attn_k_b.weight` / `blk.L.attn_v_b.weight` -> (L, is_v).
pub fn gguf_kv_b_part_of(name: &str) -> Option<(usize, bool)> {
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let is_v = match rest {
        "attn_k_b.weight" => false,
        "attn_v_b.weight" => true,
        _ => return None,
    };
    Some((layer.parse().ok()?, is_v))
}

/// The split llama.cpp's converter makes of MLA's kv_b_proj (h·(nope+v), r), rows per head
/// [nope | v]: k_b = the nope rows of each head transposed, (h, r, nope) — ggml
/// `{nope, r, h}` — and v_b = the v rows as they are, (h, v, r) — ggml `{r, v, h}`.
pub fn split_kv_b(kv_b: &[f32], heads: usize, nope: usize, v: usize, r: usize) -> (Vec<f32>, Vec<f32>) {
    let mut k_b = vec![0f32; heads * r * nope];
    let mut v_b = Vec::with_capacity(heads * v * r);
    for h in 0..heads {
        let head = &kv_b[h * (nope + v) * r..(h + 1) * (nope + v) * r];
        for i in 0..nope {
            for j in 0..r {
                k_b[(h * r + j) * nope + i] = head[i * r + j];
            }
        }
        v_b.extend_from_slice(&head[nope * r..]);
    }
    (k_b, v_b)
}

/// The inverse of `split_kv_b`.
pub fn join_kv_b(k_b: &[f32], v_b: &[f32], heads: usize, nope: usize, v: usize, r: usize) -> Vec<f32> {
    let mut kv_b = Vec::with_capacity(heads * (nope + v) * r);
    for h in 0..heads {
        for i in 0..nope {
            kv_b.extend((0..r).map(|j| k_b[(h * r + j) * nope + i]));
        }
        kv_b.extend_from_slice(&v_b[h * v * r..(h + 1) * v * r]);
    }
    kv_b
}

const GLOBAL_TENSORS: &[(&str, &str)] = &[
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

pub fn hf_to_gguf_name(name: &str) -> Option<String> {
    if let Some((_, g)) = GLOBAL_TENSORS.iter().find(|(h, _)| *h == name) {
        return Some(g.to_string());
    }
    let rest = name.strip_prefix("model.layers.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    LAYER_TENSORS.iter().find(|(h, _)| *h == suffix).map(|(_, g)| format!("blk.{layer}.{g}"))
}

pub fn gguf_to_hf_name(name: &str) -> Option<String> {
    if let Some((h, _)) = GLOBAL_TENSORS.iter().find(|(_, g)| *g == name) {
        return Some(h.to_string());
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    LAYER_TENSORS.iter().find(|(_, g)| *g == suffix).map(|(h, _)| format!("model.layers.{layer}.{h}"))
}

/// llama.cpp's converter permutes Llama's q/k rows from rotate-half order into interleaved
/// pairs (its "normal" rope): row (h, i, half) -> (h, half... ) as in `LlamaModel.permute`.
/// Returns, for each output row, the source row.
pub fn llama_qk_permutation(rows: usize, n_heads: usize) -> Vec<usize> {
    // A head count from a damaged file (0, or not dividing the rows into even head sizes) has
    // no such permutation: keep the rows as they are; the config and shape checks refuse the
    // file by key (a fuzzed GGUF with 0 kv heads divided by zero here).
    if n_heads == 0 || !rows.is_multiple_of(n_heads) || !(rows / n_heads).is_multiple_of(2) {
        return (0..rows).collect();
    }
    let head_dim = rows / n_heads;
    let half = head_dim / 2;
    let mut perm = Vec::with_capacity(rows);
    for h in 0..n_heads {
        for i in 0..half {
            for j in 0..2 {
                // reshape(n_head, 2, half) then swap axes 1 and 2: new (h, i, j) = old (h, j, i)
                perm.push(h * head_dim + j * half + i);
            }
        }
    }
    perm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in [
            "model.embed_tokens.weight",
            "lm_head.weight",
            "model.layers.11.self_attn.k_proj.bias",
            "model.layers.0.mlp.down_proj.weight",
        ] {
            let g = hf_to_gguf_name(n).unwrap();
            assert_eq!(gguf_to_hf_name(&g).unwrap(), n);
        }
        assert_eq!(hf_to_gguf_name("model.layers.3.self_attn.q_proj.weight").unwrap(), "blk.3.attn_q.weight");
    }

    #[test]
    fn deepseek_names() {
        for n in [
            "model.layers.1.self_attn.q_a_proj.weight",
            "model.layers.1.mlp.gate.e_score_correction_bias",
            "model.layers.3.shared_head.head.weight",
        ] {
            assert_eq!(gguf_to_hf_name(&hf_to_gguf_name(n).unwrap()).unwrap(), n);
        }
        assert_eq!(
            hf_to_gguf_name("model.layers.2.mlp.gate.e_score_correction_bias").unwrap(),
            "blk.2.exp_probs_b.bias"
        );
        assert_eq!(hf_to_gguf_name("model.layers.61.eh_proj.weight").unwrap(), "blk.61.nextn.eh_proj.weight");
        assert_eq!(hf_expert_of("model.layers.5.mlp.experts.17.down_proj.weight"), Some((5, 17, 2)));
        assert_eq!(hf_expert_of("model.layers.5.mlp.shared_experts.down_proj.weight"), None);
        assert_eq!(hf_expert_name(5, 17, 2), "model.layers.5.mlp.experts.17.down_proj.weight");
        assert_eq!(gguf_experts_of(&gguf_experts_name(4, 0)), Some((4, 0)));
        assert_eq!(gguf_experts_name(4, 1), "blk.4.ffn_up_exps.weight");
        assert_eq!(gguf_kv_b_part_of("blk.9.attn_v_b.weight"), Some((9, true)));
    }

    #[test]
    fn kv_b_split_matches_llama_cpp_and_inverts() {
        // 2 heads, nope 2, v 1, r 3: rows per head [k0 k1 v0], values = 100·row + col.
        let (h, dn, dv, r) = (2, 2, 1, 3);
        let kv: Vec<f32> = (0..h * (dn + dv)).flat_map(|row| (0..r).map(move |c| (100 * row + c) as f32)).collect();
        let (k_b, v_b) = split_kv_b(&kv, h, dn, dv, r);
        // k_b[h][j][i] = kv[h·3 + i][j]; v_b[h][i][j] = kv[h·3 + 2 + i][j].
        assert_eq!(k_b[..6], [0., 100., 1., 101., 2., 102.]);
        assert_eq!(k_b[6..], [300., 400., 301., 401., 302., 402.]);
        assert_eq!(v_b, [200., 201., 202., 500., 501., 502.]);
        assert_eq!(join_kv_b(&k_b, &v_b, h, dn, dv, r), kv);
    }

    #[test]
    fn llama_permutation_interleaves_halves() {
        // head_dim 4: rows [a0 a1 b0 b1] -> [a0 b0 a1 b1]
        assert_eq!(llama_qk_permutation(8, 2), vec![0, 2, 1, 3, 4, 6, 5, 7]);
    }
}
