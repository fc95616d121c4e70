//! reasoner-engine: KV caches, sampling, stop rules, the reasoning parser and batched generation.
