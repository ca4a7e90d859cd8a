//! Benchmarks live in `protocols.rs`; run them with `cargo bench -p httplab-benches`.
#![forbid(unsafe_code)]
