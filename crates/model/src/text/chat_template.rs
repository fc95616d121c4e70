//! Chat templates rendered as transformers' `apply_chat_template` renders them: Jinja2 with
//! `trim_blocks` and `lstrip_blocks`, loop controls, Python string methods (`split`, `strip`,
//! `startswith` …) and `raise_exception`. Rendering is the user's to see: no hidden system prompt.

use crate::error::{ModelError, Result};
use minijinja::{Environment, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// The assistant's thinking, when a caller keeps it apart from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> Self {
        Self { role: role.into(), content: content.into(), reasoning_content: None }
    }
}

pub struct ChatTemplate {
    env: Environment<'static>,
    pub origin: String,
    pub bos_token: String,
    pub eos_token: String,
}

const NAME: &str = "chat";

/// A template runs on every request, and templates come with downloaded models: each render gets
/// a budget. minijinja's fuel counts instructions and, since 3.1, every byte an operator, filter
/// or output creates (64 bytes per unit), so it bounds time and memory at once: 4 M is ~2 s of
/// instructions and 256 MiB of created strings and lists (a template that doubles a string in a
/// loop peaks near that, `tests/template_memory.rs`; at 20 M it peaked at 1.28 GB). R1's
/// template spends about 56 per message, so this is still ~70,000 messages.
const FUEL: u64 = 4_000_000;
/// Nested calls (macros, recursive includes) deeper than this are refused (minijinja allows 500,
/// more than a 2 MiB worker stack holds).
const RECURSION_LIMIT: usize = 100;
/// The longest prompt a template may write: far past any context window.
pub const MAX_RENDERED_BYTES: usize = 64 << 20;

impl ChatTemplate {
    /// Compile `source`; `origin` names the file it came from for error messages.
    pub fn new(source: &str, origin: &str, bos_token: Option<&str>, eos_token: Option<&str>) -> Result<Self> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| template_error(origin, &e))?;
        env.set_syntax(syntax);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| -> String { strftime_now(&fmt) });
        env.add_template_owned(NAME, source.to_string()).map_err(|e| template_error(origin, &e))?;
        Ok(Self {
            env,
            origin: origin.to_string(),
            bos_token: bos_token.unwrap_or("").to_string(),
            eos_token: eos_token.unwrap_or("").to_string(),
        })
    }

    /// Render `messages`; `extra` holds template variables such as `enable_thinking`.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: &serde_json::Map<String, Value>,
    ) -> Result<String> {
        let mut ctx = serde_json::Map::new();
        ctx.insert("messages".into(), serde_json::to_value(messages).map_err(|e| ModelError::Invalid(e.to_string()))?);
        ctx.insert("add_generation_prompt".into(), Value::Bool(add_generation_prompt));
        ctx.insert("bos_token".into(), Value::String(self.bos_token.clone()));
        ctx.insert("eos_token".into(), Value::String(self.eos_token.clone()));
        for (k, v) in extra {
            ctx.insert(k.clone(), v.clone());
        }
        self.render_value(&Value::Object(ctx))
    }

    /// Render with a fully custom context (messages as arbitrary JSON, tools, …).
    pub fn render_value(&self, ctx: &Value) -> Result<String> {
        let tmpl = self.env.get_template(NAME).map_err(|e| template_error(&self.origin, &e))?;
        let mut out = BoundedWriter { bytes: Vec::new(), limit: MAX_RENDERED_BYTES };
        tmpl.render_captured_to(minijinja::Value::from(minijinja::value::Serde(ctx)), &mut out)
            .map_err(|e| template_error(&self.origin, &e))?;
        String::from_utf8(out.bytes)
            .map_err(|e| ModelError::Template { origin: self.origin.clone(), message: e.to_string() })
    }
}

/// Collects a render's output and fails once it passes `limit` bytes.
struct BoundedWriter {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for BoundedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            let msg = format!("the rendered prompt passes {} MiB", self.limit >> 20);
            return Err(std::io::Error::other(msg));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn template_error(origin: &str, e: &minijinja::Error) -> ModelError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    ModelError::Template { origin: origin.to_string(), message }
}

/// Templates (Llama 3.1) print today's date; we format it ourselves to avoid a time-zone crate.
fn strftime_now(fmt: &str) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86400) as i64;
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    fmt.replace("%Y", &format!("{y:04}"))
        .replace("%m", &format!("{m:02}"))
        .replace("%d", &format!("{d:02}"))
        .replace("%b", &MONTHS[(m - 1) as usize][..3])
        .replace("%B", MONTHS[(m - 1) as usize])
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_methods_and_trim_blocks_work() {
        let src = "{% for m in messages %}{% if m['role'] == 'assistant' %}{% set c = m['content'].split('</think>')[-1] %}{% else %}{% set c = m['content'] %}{% endif %}\n{{ '<' + m['role'] + '>' + c.strip() }}\n{% endfor %}{% if add_generation_prompt %}<a><think>\n{% endif %}";
        let t = ChatTemplate::new(src, "test", Some("<s>"), None).unwrap();
        let msgs = vec![ChatMessage::new("user", " hi "), ChatMessage::new("assistant", "<think>x</think> yo")];
        let out = t.render(&msgs, true, &Default::default()).unwrap();
        assert_eq!(out, "<user>hi\n<assistant>yo\n<a><think>\n");
    }

    #[test]
    fn invalid_template_is_refused_with_origin() {
        let e = ChatTemplate::new("{% for x in %}", "dir/tokenizer_config.json", None, None).err().unwrap().to_string();
        assert!(e.contains("dir/tokenizer_config.json"), "{e}");
    }

    #[test]
    fn raise_exception_surfaces_message() {
        let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "t", None, None).unwrap();
        let e = t.render(&[], false, &Default::default()).unwrap_err().to_string();
        assert!(e.contains("roles must alternate"), "{e}");
    }

    fn r1_template() -> ChatTemplate {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/chat_templates/deepseek_r1.json");
        let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let src = json["cases"][0]["template"].as_str().expect("template text");
        ChatTemplate::new(src, "deepseek_r1", Some("<｜begin▁of▁sentence｜>"), Some("<｜end▁of▁sentence｜>")).unwrap()
    }

    /// R1's template over a long conversation stays far inside the budget (fuel measured and
    /// printed); the budget is what a real template needs for thousands of turns.
    #[test]
    fn real_template_fits_the_budget_with_room() {
        let t = r1_template();
        let msgs: Vec<ChatMessage> = (0..1000)
            .map(|i| ChatMessage::new(if i % 2 == 0 { "user" } else { "assistant" }, &format!("message {i}")))
            .collect();
        let tmpl = t.env.get_template(NAME).unwrap();
        let ctx =
            serde_json::json!({"messages": msgs, "add_generation_prompt": true, "bos_token": "", "eos_token": ""});
        let captured = tmpl.render_captured(minijinja::Value::from(minijinja::value::Serde(&ctx))).unwrap();
        let (used, _) = captured.state().fuel_levels().unwrap();
        eprintln!("R1 template, 1000 messages: {used} fuel ({} per message)", used / 1000);
        assert!(used * 20 < FUEL, "1000 messages used {used} of {FUEL}");
        assert!(t.render(&msgs, true, &Default::default()).is_ok());
    }

    /// Templates that would run for minutes, blow the stack or write gigabytes are refused with
    /// the template's origin, each within the budget.
    #[test]
    fn runaway_templates_are_refused() {
        let cases = [
            ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", "fuel"),
            ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
            ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "MiB"),
        ];
        for (src, expect) in cases {
            let t = ChatTemplate::new(src, "evil/tokenizer_config.json", None, None).unwrap();
            let started = std::time::Instant::now();
            let e = t.render(&[], false, &Default::default()).unwrap_err().to_string();
            assert!(
                e.contains("evil/tokenizer_config.json") && e.to_lowercase().contains(&expect.to_lowercase()),
                "{src}: {e}"
            );
            assert!(started.elapsed().as_secs() < 10, "{src}: took {:?}", started.elapsed());
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
    }
}
