//! API keys and per-key rate limits. The keys file holds SHA-256 hashes (`sha256:HEX`, one a
//! line, optionally followed by a requests-per-minute limit); a plain key line is hashed on load
//! and never kept. A presented key is hashed and compared with every stored hash in constant
//! time, so neither the time taken nor an early exit tells how close a guess was.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Line { path: String, line: usize, message: String },
}

struct Key {
    hash: [u8; 32],
    /// Requests per minute; `None`: the server's default.
    rpm: Option<u32>,
}

pub struct ApiKeys {
    keys: Vec<Key>,
}

pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl ApiKeys {
    pub fn load(path: &Path) -> Result<Self, KeysError> {
        let p = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| KeysError::Read { path: p.clone(), message: e.to_string() })?;
        Self::parse(&text, &p)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, KeysError> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| KeysError::Line { path: origin.to_string(), line: n + 1, message };
            let mut parts = line.split_whitespace();
            let key = parts.next().unwrap_or_default();
            let hash = match key.strip_prefix("sha256:") {
                Some(h) => parse_hex(&h.to_ascii_lowercase())
                    .ok_or_else(|| err("expected sha256: and 64 hex digits".into()))?,
                None => sha256(key),
            };
            let rpm = match parts.next() {
                Some(r) => Some(
                    r.parse::<u32>().map_err(|_| err(format!("requests per minute `{r}` is not a whole number")))?,
                ),
                None => None,
            };
            keys.push(Key { hash, rpm });
        }
        if keys.is_empty() {
            return Err(KeysError::Read { path: origin.to_string(), message: "no keys in the file".into() });
        }
        Ok(Self { keys })
    }

    /// The index of the key `presented` matches, checking every key in constant time.
    pub fn check(&self, presented: &str) -> Option<usize> {
        let h = sha256(presented);
        let mut found = None;
        for (i, k) in self.keys.iter().enumerate() {
            if bool::from(k.hash.ct_eq(&h)) {
                found = Some(i);
            }
        }
        found
    }

    pub fn rpm(&self, index: usize) -> Option<u32> {
        self.keys.get(index).and_then(|k| k.rpm)
    }
}

/// Token buckets per key: `rpm` requests a minute, bursts of up to `rpm` at once.
pub struct RateLimiter {
    buckets: Mutex<HashMap<usize, (f64, Instant)>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self { buckets: Mutex::new(HashMap::new()) }
    }
}

impl RateLimiter {
    /// Take `cost` requests from `key`'s bucket; false when it does not hold that many.
    pub fn allow(&self, key: usize, rpm: u32, cost: f64) -> bool {
        if rpm == 0 {
            return true;
        }
        let Ok(mut b) = self.buckets.lock() else { return true };
        let now = Instant::now();
        let cap = f64::from(rpm);
        let (tokens, last) = b.entry(key).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * cap / 60.0).min(cap);
        *last = now;
        if *tokens >= cost {
            *tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_and_plain_lines_both_match_and_others_do_not() {
        // sha256("secret-one"), as `printf %s secret-one | sha256sum` prints it.
        let file = "# keys\nsha256:ea77193cc4e6f18656f3130e296203880c4b9b3772afc855211b82fdd46e9185 10\nsecret-two\n";
        let keys = ApiKeys::parse(file, "keys.txt").unwrap();
        assert_eq!(keys.check("secret-one"), Some(0));
        assert_eq!(keys.check("secret-two"), Some(1));
        assert_eq!(keys.check("secret-three"), None);
        assert_eq!(keys.rpm(0), Some(10));
        assert!(ApiKeys::parse("sha256:abc\n", "k").err().is_some_and(|e| e.to_string().contains("k:1")));
    }

    #[test]
    fn bucket_refuses_past_its_size() {
        let l = RateLimiter::default();
        assert!((0..3).all(|_| l.allow(0, 3, 1.0)));
        assert!(!l.allow(0, 3, 1.0));
        assert!(l.allow(1, 3, 1.0), "another key has its own bucket");
    }
}
