//! Loading problem files: JSONL in our own form, GSM8K (`question`, `answer` ending `#### N`),
//! MATH / MATH-500 (`problem` with `answer` or a `solution` holding `\boxed{}`) and AIME-style
//! (`problem`, integer `answer`, `id`), detected line by line; bad lines name file and line.

use crate::extract::last_boxed;
use crate::problem::Problem;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip and count malformed lines instead of failing on the first.
    pub skip_bad: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    pub problems: Vec<Problem>,
    /// Malformed lines skipped (only with `skip_bad`).
    pub skipped: usize,
    /// The skipped lines and why, so a caller can report them.
    pub bad_lines: Vec<BadLine>,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}:{line}: {message}")]
    BadLine { file: String, line: usize, message: String },
    #[error("cannot write {file}: {source}")]
    Write { file: String, source: std::io::Error },
}

/// The longest line a JSONL file may have: far past any real problem or solution, and short
/// enough that a file with no newline (`/dev/zero`) is refused instead of read into memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Lines of `reader` (without the newline), each at most `max_bytes` long; a longer line is an
/// `InvalidData` error that says so, read no further than the limit.
pub fn bounded_lines<R: BufRead>(mut reader: R, max_bytes: usize) -> impl Iterator<Item = std::io::Result<String>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut buf = Vec::new();
        let limit = max_bytes as u64 + 1;
        match <&mut R as std::io::Read>::take(&mut reader, limit).read_until(b'\n', &mut buf) {
            Err(e) => {
                done = true;
                Some(Err(e))
            }
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                } else if buf.len() > max_bytes {
                    done = true;
                    let msg = format!("line longer than {max_bytes} bytes (is this a JSONL file?)");
                    return Some(Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg)));
                }
                Some(
                    String::from_utf8(buf)
                        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8")),
                )
            }
        }
    })
}

/// Reads problems from the JSONL file at `path`.
pub fn load_jsonl(path: &Path, opts: &LoadOptions) -> Result<Loaded, DatasetError> {
    let file = path.display().to_string();
    let handle = File::open(path).map_err(|source| DatasetError::Read { file: file.clone(), source })?;
    read_jsonl(BufReader::new(handle), &file, opts)
}

/// Reads problems from JSONL text; `source` names it in errors.
pub fn read_jsonl<R: BufRead>(reader: R, source: &str, opts: &LoadOptions) -> Result<Loaded, DatasetError> {
    let mut loaded = Loaded::default();
    for (i, line) in bounded_lines(reader, MAX_LINE_BYTES).enumerate() {
        let line_no = i + 1;
        let text = line.map_err(|e| DatasetError::Read { file: format!("{source}:{line_no}"), source: e })?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match parse_line(text) {
            Ok(p) => loaded.problems.push(p),
            Err(message) if opts.skip_bad => {
                loaded.skipped += 1;
                loaded.bad_lines.push(BadLine { line: line_no, message });
            }
            Err(message) => {
                return Err(DatasetError::BadLine { file: source.to_string(), line: line_no, message });
            }
        }
    }
    Ok(loaded)
}

/// One JSON line to a problem, detecting its format from its keys.
pub fn parse_line(text: &str) -> Result<Problem, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    if obj.contains_key("prompt") {
        own_format(obj)
    } else if obj.contains_key("question") {
        gsm8k(obj)
    } else if obj.contains_key("problem") {
        math_or_aime(obj)
    } else {
        Err("unrecognized record: expected keys prompt+answer (ours), question+answer (GSM8K) \
             or problem+answer/solution (MATH, AIME)"
            .into())
    }
}

fn text_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("'{key}' must be a string or number, not {other}")),
    }
}

fn required(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    let v = text_field(obj, key)?.ok_or_else(|| format!("missing '{key}'"))?;
    if v.trim().is_empty() {
        return Err(format!("'{key}' is empty"));
    }
    Ok(v)
}

fn own_format(obj: &Map<String, Value>) -> Result<Problem, String> {
    let mut p = Problem::new(required(obj, "prompt")?, required(obj, "answer")?);
    p.task = text_field(obj, "task")?;
    p.id = text_field(obj, "id")?;
    if let Some(v) = obj.get("numbers").filter(|v| !v.is_null()) {
        let nums = v.as_array().ok_or("'numbers' must be an array of integers")?;
        let parsed: Option<Vec<i64>> = nums.iter().map(Value::as_i64).collect();
        p.numbers = Some(parsed.ok_or("'numbers' must be an array of integers")?);
    }
    if let Some(v) = obj.get("target").filter(|v| !v.is_null()) {
        p.target = Some(v.as_i64().ok_or("'target' must be an integer")?);
    }
    if p.numbers.is_some() != p.target.is_some() {
        return Err("'numbers' and 'target' come together".into());
    }
    p.difficulty = difficulty(obj.get("difficulty"))?;
    Ok(p)
}

fn gsm8k(obj: &Map<String, Value>) -> Result<Problem, String> {
    let solution = required(obj, "answer")?;
    let (_, tail) = solution.rsplit_once("####").ok_or("GSM8K 'answer' has no '#### N' line")?;
    let answer: String = tail.trim().chars().filter(|&c| c != ',').collect();
    if answer.is_empty() {
        return Err("GSM8K 'answer' has nothing after '####'".into());
    }
    let mut p = Problem::new(required(obj, "question")?, answer);
    p.task = Some("gsm8k".into());
    p.id = text_field(obj, "id")?;
    Ok(p)
}

fn math_or_aime(obj: &Map<String, Value>) -> Result<Problem, String> {
    let prompt = required(obj, "problem")?;
    let answer = match text_field(obj, "answer")? {
        Some(a) if !a.trim().is_empty() => a.trim().to_string(),
        _ => {
            let solution = text_field(obj, "solution")?.ok_or("missing 'answer' (or 'solution')")?;
            last_boxed(&solution).ok_or("'solution' has no \\boxed{} answer")?
        }
    };
    // AIME needs evidence: its sets give the answer as a JSON integer or a zero-padded
    // three-digit string ("033"), or name AIME in `url`/`id`/`source`, or carry a `year`.
    // MATH rows (`level`, `subject`, `type`, `unique_id`) and rows with no evidence are MATH:
    // a MATH-style row with an integer answer and no solution is not an AIME problem.
    let integer_answer = matches!(obj.get("answer"), Some(Value::Number(n)) if n.is_i64() || n.is_u64());
    let padded = answer.len() == 3 && answer.starts_with('0') && answer.bytes().all(|b| b.is_ascii_digit());
    let named = ["url", "id", "source"]
        .iter()
        .any(|k| obj.get(*k).and_then(Value::as_str).is_some_and(|s| s.to_ascii_lowercase().contains("aime")));
    let math_keys = ["level", "subject", "type", "unique_id"].iter().any(|k| obj.contains_key(*k));
    let aime = !math_keys && (integer_answer || padded || named || obj.contains_key("year"));
    let mut p = Problem::new(prompt, answer);
    p.task = Some(if aime { "aime" } else { "math" }.into());
    p.id = text_field(obj, "unique_id")?.or(text_field(obj, "id")?);
    p.difficulty = difficulty(obj.get("level"))?;
    Ok(p)
}

/// `3`, `"3"` or MATH's `"Level 3"`; `"Level ?"` counts as none.
fn difficulty(v: Option<&Value>) -> Result<Option<u8>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64().and_then(|n| u8::try_from(n).ok()).map(Some).ok_or_else(|| format!("bad level {n}"))
        }
        Some(Value::String(s)) => Ok(s.trim().trim_start_matches("Level").trim().parse::<u8>().ok()),
        Some(other) => Err(format!("bad level {other}")),
    }
}

/// Writes one JSON object per line (problems, per-item results, …).
pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> Result<(), DatasetError> {
    let file = path.display().to_string();
    let err = |source| DatasetError::Write { file: file.clone(), source };
    let mut out = BufWriter::new(File::create(path).map_err(err)?);
    for item in items {
        let line = serde_json::to_string(item).map_err(|e| err(std::io::Error::other(e)))?;
        writeln!(out, "{line}").map_err(err)?;
    }
    out.flush().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_line_ends_stripped() {
        let text = b"ab\r\ncd\n\nlast";
        let lines: Vec<String> = bounded_lines(&text[..], 4).collect::<std::io::Result<_>>().unwrap();
        assert_eq!(lines, ["ab", "cd", "", "last"]);
        // A 5-byte line with a 4-byte limit: an error, and nothing after it.
        let mut it = bounded_lines(&b"ok\ntoolong\nmore\n"[..], 4);
        assert_eq!(it.next().unwrap().unwrap(), "ok");
        let e = it.next().unwrap().unwrap_err();
        assert!(e.to_string().contains("longer than 4 bytes"), "{e}");
        assert!(it.next().is_none());
    }

    #[test]
    fn detects_formats() {
        let own = parse_line(r#"{"prompt":"p","answer":"4","task":"countdown","numbers":[1,3],"target":4}"#).unwrap();
        assert_eq!(own.countdown_spec(), Some((&[1, 3][..], 4)));
        let g = parse_line(r#"{"question":"q","answer":"steps\n#### 1,234"}"#).unwrap();
        assert_eq!((g.answer.as_str(), g.task_name()), ("1234", "gsm8k"));
        let m = parse_line(r#"{"problem":"p","solution":"so \\boxed{\\frac{1}{2}}.","level":"Level 4"}"#).unwrap();
        assert_eq!((m.answer.as_str(), m.task_name(), m.difficulty), ("\\frac{1}{2}", "math", Some(4)));
        let m5 = parse_line(
            r#"{"problem":"p","solution":"s","answer":"5","subject":"Algebra","level":2,"unique_id":"test/x.json"}"#,
        )
        .unwrap();
        assert_eq!((m5.task_name(), m5.id.as_deref()), ("math", Some("test/x.json")));
        let a = parse_line(r#"{"id":"2024-I-1","problem":"p","answer":204}"#).unwrap();
        assert_eq!((a.answer.as_str(), a.task_name()), ("204", "aime"));
        let a2 = parse_line(r#"{"id":7,"problem":"p","answer":"033"}"#).unwrap();
        assert_eq!(a2.task_name(), "aime");
        // HuggingFaceH4/aime_2024's shape: a solution, a string answer, the year and url.
        let a3 = parse_line(r#"{"id":60,"problem":"p","solution":"s","answer":"204","url":"https://artofproblemsolving.com/wiki/index.php/2024_AIME_I_Problems/Problem_1","year":"2024"}"#).unwrap();
        assert_eq!(a3.task_name(), "aime");
        // MATH-style, no solution, an integer answer as text: MATH, not AIME.
        let m6 = parse_line(r#"{"problem":"What is 2+3?","answer":"5"}"#).unwrap();
        assert_eq!(m6.task_name(), "math");
    }

    #[test]
    fn bad_lines_named() {
        for bad in [
            "not json",
            "[1,2]",
            r#"{"foo":1}"#,
            r#"{"prompt":"p"}"#,
            r#"{"question":"q","answer":"no marker"}"#,
            r#"{"problem":"p","solution":"no box"}"#,
            r#"{"prompt":"p","answer":"1","numbers":[1,"x"],"target":3}"#,
            r#"{"prompt":"p","answer":"1","numbers":[1]}"#,
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        let text = "{\"prompt\":\"a\",\"answer\":\"1\"}\n\nnot json\n{\"prompt\":\"b\",\"answer\":\"2\"}\n";
        let err = read_jsonl(text.as_bytes(), "data.jsonl", &LoadOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("data.jsonl:3: invalid JSON"), "{err}");
        let ok = read_jsonl(text.as_bytes(), "data.jsonl", &LoadOptions { skip_bad: true }).unwrap();
        assert_eq!((ok.problems.len(), ok.skipped, ok.bad_lines[0].line), (2, 1, 3));
    }

    #[test]
    fn round_trip_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.jsonl");
        let mut p = Problem::new("Using the numbers [1, 3], ...", "1 + 3");
        p.task = Some("countdown".into());
        p.numbers = Some(vec![1, 3]);
        p.target = Some(4);
        write_jsonl(&path, &[p.clone(), Problem::new("q", "a")]).unwrap();
        let back = load_jsonl(&path, &LoadOptions::default()).unwrap();
        assert_eq!(back.problems, vec![p, Problem::new("q", "a")]);
        let missing = load_jsonl(&dir.path().join("nope.jsonl"), &LoadOptions::default()).unwrap_err();
        assert!(missing.to_string().contains("nope.jsonl"));
    }
}
