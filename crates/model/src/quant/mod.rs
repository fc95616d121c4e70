//! Quantized weight blocks (Q8_0, Q4_0, Q5_0, Q4_K, Q6_K) and their mat-vec kernels.
