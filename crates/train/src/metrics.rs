//! Metrics as JSON lines, one object per optimizer step, appended and flushed as they come so
//! a crashed run keeps what it logged; a resumed run first drops rows past its checkpoint.

use crate::error::{Result, TrainError};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Open `run/metrics.jsonl` for appending, keeping only rows with `step` ≤ `keep_through`.
    pub fn open(run: &Path, keep_through: usize) -> Result<Self> {
        let path = run.join("metrics.jsonl");
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
            let kept: String = text
                .lines()
                .filter(|l| {
                    serde_json::from_str::<Value>(l)
                        .ok()
                        .and_then(|v| v.get("step").and_then(Value::as_u64))
                        .is_some_and(|s| s as usize <= keep_through)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&path, kept).map_err(|e| TrainError::io(&path, e))?;
        }
        let file =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path, file })
    }

    pub fn write(&mut self, row: &Map<String, Value>) -> Result<()> {
        let mut line = serde_json::to_string(row).map_err(|e| TrainError::Invalid(e.to_string()))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| TrainError::io(&self.path, e))?;
        self.file.flush().map_err(|e| TrainError::io(&self.path, e))
    }
}

/// Every row of a metrics file.
pub fn read_metrics(path: &Path) -> Result<Vec<Map<String, Value>>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => rows.push(m),
            _ => {
                return Err(TrainError::DataLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: "not a JSON object".into(),
                });
            }
        }
    }
    Ok(rows)
}

/// Build a row from (key, number) pairs.
pub fn row(pairs: &[(&str, f64)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect()
}
