//! Benchmarks live in `protocols.rs`; run them with `cargo bench -p httplab-benches`.
#![forbid(unsafe_code)]
// The dependencies serve the bench targets, which share this library.
#![allow(unused_crate_dependencies)]
