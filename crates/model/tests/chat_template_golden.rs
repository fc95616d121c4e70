//! Chat templates (DeepSeek-R1, R1-Distill, Qwen2.5, Qwen3, Llama 3.1) rendered by us must equal
//! what transformers' `apply_chat_template` rendered for the same messages.

use reasoner_model::chat_template::ChatTemplate;
use reasoner_testutil::fixtures_dir;
use serde_json::{Value, json};

#[test]
fn templates_render_like_transformers() {
    let dir = fixtures_dir().join("chat_templates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let g: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in g["cases"].as_array().unwrap() {
            let name = format!("{}:{}", path.file_name().unwrap().to_string_lossy(), case["name"]);
            let t = ChatTemplate::new(
                case["template"].as_str().unwrap(),
                &name,
                case["bos_token"].as_str(),
                case["eos_token"].as_str(),
            )
            .unwrap();
            let mut ctx = json!({
                "messages": case["messages"],
                "add_generation_prompt": case["add_generation_prompt"],
                "bos_token": case["bos_token"],
                "eos_token": case["eos_token"],
            });
            for (k, v) in case["extra"].as_object().unwrap() {
                ctx[k] = v.clone();
            }
            let ours = t.render_value(&ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ours, case["rendered"].as_str().unwrap(), "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} template cases found");
}

#[test]
fn tokenizers_match_python_tokenizers() {
    let dir = fixtures_dir().join("tokenizer");
    let g: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    for flavour in ["qwen", "llama3", "deepseek"] {
        let tok = tokenizers::Tokenizer::from_file(dir.join(format!("tokenizer_{flavour}.json"))).unwrap();
        for case in g["cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let want = &case[flavour];
            let ids: Vec<u32> = want["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            let enc = tok.encode(text, true).unwrap();
            assert_eq!(enc.get_ids(), ids.as_slice(), "{flavour}: {text:?}");
            assert_eq!(
                tok.decode(&ids, false).unwrap(),
                want["decoded"].as_str().unwrap(),
                "{flavour} decode: {text:?}"
            );
            assert_eq!(
                tok.decode(&ids, true).unwrap(),
                want["decoded_skip_special"].as_str().unwrap(),
                "{flavour} decode skip special: {text:?}"
            );
        }
    }
}
