//! The formats the fuzzer covers: where each finds its seeds (the committed fixtures), how a
//! case is made from a seed, and under which file name the case is laid out for the loader.

use crate::rng::{Rng, fnv64};
use crate::{gguf_fields, mutate_bytes, mutate_json, mutate_template, safetensors_header};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gguf,
    Safetensors,
    Config,
    Tokenizer,
    Template,
    Jsonl,
    TrainConfig,
    Cli,
}

pub const ALL: [Format; 8] = [
    Format::Gguf,
    Format::Safetensors,
    Format::Config,
    Format::Tokenizer,
    Format::Template,
    Format::Jsonl,
    Format::TrainConfig,
    Format::Cli,
];

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Gguf => "gguf",
            Format::Safetensors => "safetensors",
            Format::Config => "config",
            Format::Tokenizer => "tokenizer",
            Format::Template => "template",
            Format::Jsonl => "jsonl",
            Format::TrainConfig => "train-config",
            Format::Cli => "cli",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whether a case replaces one file of its seed's directory (the rest of the directory is
    /// linked beside it), or is a file of its own.
    pub fn in_seed_dir(self) -> bool {
        !matches!(self, Format::Template | Format::Cli)
    }
}

/// A seed: the bytes, and the repository-relative file they came from (for directory formats,
/// the file the case replaces).
#[derive(Clone)]
pub struct Seed {
    pub base: PathBuf,
    pub bytes: Vec<u8>,
}

fn files_in(root: &Path, dir: &str, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| Path::new(dir).join(e.file_name()))
        .filter(|p| keep(&root.join(p)))
        .collect();
    out.sort();
    out
}

/// Fixture model directories (those with a config.json beside safetensors weights).
fn model_dirs(root: &Path) -> Vec<PathBuf> {
    files_in(root, "tests/fixtures", |p| p.join("config.json").is_file())
}

fn read_seeds(root: &Path, files: Vec<PathBuf>) -> Vec<Seed> {
    let mut seen = std::collections::HashSet::new();
    files
        .into_iter()
        .filter_map(|base| std::fs::read(root.join(&base)).ok().map(|bytes| Seed { base, bytes }))
        .filter(|s| seen.insert(fnv64(&s.bytes)))
        .collect()
}

/// The seeds of `format` under the repository `root`.
pub fn seeds(format: Format, root: &Path) -> Vec<Seed> {
    let ext = |e: &'static str| move |p: &Path| p.extension().is_some_and(|x| x == e);
    let files: Vec<PathBuf> = match format {
        Format::Gguf => {
            let mut f = files_in(root, "tests/fixtures/gguf_llamacpp", ext("gguf"));
            f.extend(files_in(root, "tests/fixtures/gguf", ext("gguf")));
            f
        }
        Format::Safetensors => {
            model_dirs(root).iter().flat_map(|d| files_in(root, &d.to_string_lossy(), ext("safetensors"))).collect()
        }
        Format::Config => model_dirs(root).into_iter().map(|d| d.join("config.json")).collect(),
        Format::Tokenizer => files_in(root, "tests/fixtures/tokenizer", |p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("tokenizer_"))
        }),
        Format::Template => return template_seeds(root),
        Format::Jsonl => {
            let mut f = files_in(root, "crates/fuzz/seeds", ext("jsonl"));
            f.push("recipes/data/smoke-sft.jsonl".into());
            f
        }
        Format::TrainConfig => {
            let mut f = files_in(root, "recipes", ext("toml"));
            f.extend(files_in(root, "recipes/tiny-r1", ext("toml")));
            f
        }
        Format::Cli => files_in(root, "crates/fuzz/seeds", |p| p.file_name().is_some_and(|n| n == "cli_args.jsonl")),
    };
    let seeds = read_seeds(root, files);
    if format == Format::Cli {
        // One seed per line: an argument vector.
        return seeds
            .iter()
            .flat_map(|s| {
                s.bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| Seed { base: s.base.clone(), bytes: l.to_vec() })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    seeds
}

/// The real templates: the transformers goldens' cases and the fixtures' `chat_template.jinja`.
fn template_seeds(root: &Path) -> Vec<Seed> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for base in files_in(root, "tests/fixtures/chat_templates", |p| p.extension().is_some_and(|x| x == "json")) {
        let Ok(text) = std::fs::read_to_string(root.join(&base)) else { continue };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        for case in json["cases"].as_array().into_iter().flatten() {
            if let Some(t) = case["template"].as_str()
                && seen.insert(fnv64(t.as_bytes()))
            {
                out.push(Seed { base: base.clone(), bytes: t.as_bytes().to_vec() });
            }
        }
    }
    for dir in model_dirs(root) {
        let base = dir.join("chat_template.jinja");
        if let Ok(bytes) = std::fs::read(root.join(&base))
            && seen.insert(fnv64(&bytes))
        {
            out.push(Seed { base, bytes });
        }
    }
    out
}

/// Digit runs in a text: where a TOML or command-line number can be swapped for a boundary one.
fn digit_runs(text: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() {
            let start = i;
            while i < text.len() && (text[i].is_ascii_digit() || text[i] == b'.') {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

const NUMBER_TEXT: [&str; 14] = [
    "0",
    "-1",
    "1",
    "2147483648",
    "4294967296",
    "4611686018427387904",
    "18446744073709551615",
    "18446744073709551616",
    "1e300",
    "-1e300",
    "nan",
    "inf",
    "0.0000001",
    "99999999999999999999999999",
];

fn swap_number(rng: &mut Rng, text: &mut Vec<u8>) {
    let runs = digit_runs(text);
    if runs.is_empty() {
        return;
    }
    let (a, b) = *rng.pick(&runs);
    text.splice(a..b, rng.pick(&NUMBER_TEXT).bytes());
}

/// Mutated JSONL: one line (or a few) JSON-mutated, sometimes a huge or endless-looking line.
fn mutate_jsonl(rng: &mut Rng, text: &[u8], other: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    match rng.below(8) {
        0 => {
            let mut out = text.to_vec();
            mutate_bytes::havoc(rng, &mut out, other);
            return out;
        }
        1 => lines.truncate(1 + rng.below(3)),
        _ => {}
    }
    for _ in 0..1 + rng.below(2) {
        let i = rng.below(lines.len());
        lines[i] = mutate_json::mutate_text(rng, &lines[i]).into_iter().filter(|&b| b != b'\n').collect();
    }
    lines.join(&b'\n')
}

fn mutate_cli(rng: &mut Rng, line: &[u8]) -> Vec<u8> {
    let Ok(mut args) = serde_json::from_slice::<Vec<String>>(line) else { return line.to_vec() };
    if args.is_empty() {
        return line.to_vec();
    }
    for _ in 0..1 + rng.below(2) {
        let i = rng.below(args.len());
        match rng.below(7) {
            0 | 1 => {
                let mut a = args[i].clone().into_bytes();
                swap_number(rng, &mut a);
                args[i] = String::from_utf8_lossy(&a).into_owned();
            }
            2 => args[i] = rng.pick(&NUMBER_TEXT).to_string(),
            3 => {
                args.remove(i);
            }
            4 => {
                let copy = args[i].clone();
                args.insert(rng.below(args.len() + 1), copy);
            }
            5 => args[i] = rng.pick(&["", "-", "--", "/dev/zero", "/", "\u{202e}x", "%s%n", "{root}"]).to_string(),
            _ => {
                let mut a = args[i].clone().into_bytes();
                mutate_bytes::havoc(rng, &mut a, &[]);
                args[i] = String::from_utf8_lossy(&a).into_owned();
            }
        }
        if args.is_empty() {
            break;
        }
    }
    serde_json::to_vec(&args).unwrap_or_else(|_| line.to_vec())
}

/// Case `case` of `format` from `seeds` (deterministic in seed, format and case number).
pub fn generate(format: Format, seeds: &[Seed], seed: u64, case: u64) -> (usize, Vec<u8>) {
    let mut rng = Rng::for_case(seed, format.name(), case);
    let which = rng.below(seeds.len());
    let other = &seeds[rng.below(seeds.len())].bytes;
    let mut data = seeds[which].bytes.clone();
    match format {
        Format::Gguf => {
            if rng.chance(2) || !gguf_fields::mutate(&mut rng, &mut data) {
                mutate_bytes::havoc(&mut rng, &mut data, other);
            }
        }
        Format::Safetensors => {
            if rng.chance(3) || !safetensors_header::mutate(&mut rng, &mut data) {
                mutate_bytes::havoc(&mut rng, &mut data, other);
            }
        }
        Format::Config | Format::Tokenizer => {
            if rng.chance(4) {
                mutate_bytes::havoc(&mut rng, &mut data, other);
            } else {
                data = mutate_json::mutate_text(&mut rng, &data);
                if rng.chance(8) {
                    mutate_bytes::havoc_once(&mut rng, &mut data, other);
                }
            }
        }
        Format::Template => mutate_template::mutate(&mut rng, &mut data, other),
        Format::Jsonl => data = mutate_jsonl(&mut rng, &data, other),
        Format::TrainConfig => {
            if rng.chance(2) {
                swap_number(&mut rng, &mut data);
            } else {
                mutate_bytes::havoc(&mut rng, &mut data, other);
            }
        }
        Format::Cli => data = mutate_cli(&mut rng, &data),
    }
    (which, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A (seed, case) pair names one input: the same bytes twice, different bytes for the next.
    #[test]
    fn cases_are_deterministic() {
        let seeds = vec![Seed { base: "a.json".into(), bytes: br#"{"vocab_size": 100, "n": [1, 2, 3]}"#.to_vec() }];
        for format in [Format::Config, Format::Gguf, Format::Template, Format::Jsonl] {
            let a = generate(format, &seeds, 7, 3);
            assert_eq!(a, generate(format, &seeds, 7, 3));
            let differ = (4..20).filter(|&c| generate(format, &seeds, 7, c).1 != a.1).count();
            assert!(differ >= 12, "{}: only {differ} of 16 other cases differ", format.name());
        }
    }
}
