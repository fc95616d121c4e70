//! Helpers the engine's integration tests share: the workspace's fixture helpers.
#![allow(dead_code, unused_imports)] // each test binary uses its own subset

pub use reasoner_testutil::fixture;
