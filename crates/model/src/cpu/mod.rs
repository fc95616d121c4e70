//! The machine the kernels run on: which instruction sets this CPU has (asked once), the thread
//! pool's work splitting, and huge-page memory for weights.

pub mod features;
pub mod huge_pages;
pub mod parallel;

pub use features::{CpuFeatures, cpu_features};
