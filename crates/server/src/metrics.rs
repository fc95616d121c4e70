//! `/metrics` in Prometheus' text format: requests by status, tokens, time to first token and
//! inter-token latency histograms, running and queued requests, KV-cache use and prefix-cache
//! hits. Written by hand: a few counters do not need a metrics framework.

use reasoner_engine::EngineStatus;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const TTFT_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const ITL_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }
    fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(&mut self.counts) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            self.count, self.sum, self.count
        );
    }
}

pub struct Metrics {
    by_status: Mutex<BTreeMap<u16, u64>>,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub reasoning_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
    pub cancelled: AtomicU64,
    ttft: Mutex<Histogram>,
    itl: Mutex<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            by_status: Mutex::new(BTreeMap::new()),
            prompt_tokens: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
            reasoning_tokens: AtomicU64::new(0),
            cached_tokens: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            ttft: Mutex::new(Histogram::new(TTFT_BUCKETS)),
            itl: Mutex::new(Histogram::new(ITL_BUCKETS)),
        }
    }
}

impl Metrics {
    pub fn count_status(&self, status: u16) {
        if let Ok(mut m) = self.by_status.lock() {
            *m.entry(status).or_default() += 1;
        }
    }
    pub fn observe_ttft(&self, secs: f64) {
        if let Ok(mut h) = self.ttft.lock() {
            h.observe(secs);
        }
    }
    pub fn observe_itl(&self, secs: f64) {
        if let Ok(mut h) = self.itl.lock() {
            h.observe(secs);
        }
    }
    pub fn add_usage(&self, prompt: usize, completion: usize, reasoning: usize, cached: usize) {
        self.prompt_tokens.fetch_add(prompt as u64, Ordering::Relaxed);
        self.completion_tokens.fetch_add(completion as u64, Ordering::Relaxed);
        self.reasoning_tokens.fetch_add(reasoning as u64, Ordering::Relaxed);
        self.cached_tokens.fetch_add(cached as u64, Ordering::Relaxed);
    }

    pub fn render(&self, engine: &EngineStatus) -> String {
        let mut out = String::new();
        out.push_str("# HELP reasoner_requests_total HTTP requests answered, by status code.\n# TYPE reasoner_requests_total counter\n");
        if let Ok(m) = self.by_status.lock() {
            for (status, n) in m.iter() {
                let _ = writeln!(out, "reasoner_requests_total{{status=\"{status}\"}} {n}");
            }
        }
        let counters = [
            ("reasoner_prompt_tokens_total", "Prompt tokens of finished requests.", &self.prompt_tokens),
            ("reasoner_completion_tokens_total", "Generated tokens of finished requests.", &self.completion_tokens),
            ("reasoner_reasoning_tokens_total", "Generated tokens that were thinking.", &self.reasoning_tokens),
            ("reasoner_cached_prompt_tokens_total", "Prompt tokens served by the prefix cache.", &self.cached_tokens),
            ("reasoner_cancelled_requests_total", "Requests whose client went away before the end.", &self.cancelled),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        if let Ok(h) = self.ttft.lock() {
            h.render("reasoner_time_to_first_token_seconds", "Time from request to first generated token.", &mut out);
        }
        if let Ok(h) = self.itl.lock() {
            h.render(
                "reasoner_inter_token_latency_seconds",
                "Time between consecutive generated tokens of a stream.",
                &mut out,
            );
        }
        let p = engine.prefix;
        let gauges: [(&str, &str, f64); 9] = [
            ("reasoner_requests_running", "Requests in the decoding batch.", engine.running as f64),
            ("reasoner_requests_queued", "Requests waiting for a place in the batch.", engine.waiting as f64),
            (
                "reasoner_kv_cache_reserved_bytes",
                "KV-cache bytes reserved by running requests.",
                engine.kv_reserved_bytes as f64,
            ),
            ("reasoner_kv_cache_used_bytes", "KV-cache bytes holding positions now.", engine.kv_used_bytes as f64),
            (
                "reasoner_kv_cache_budget_bytes",
                "KV-cache budget (0: none).",
                engine.kv_budget_bytes.unwrap_or(0) as f64,
            ),
            ("reasoner_prefix_cache_lookups", "Prefix-cache lookups.", p.lookups as f64),
            ("reasoner_prefix_cache_hits", "Prefix-cache lookups that found a prefix.", p.hits as f64),
            ("reasoner_prefix_cache_hit_tokens", "Prompt tokens the prefix cache served.", p.hit_tokens as f64),
            ("reasoner_prefix_cache_bytes", "Bytes held by the prefix cache.", p.bytes as f64),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
