//! Benchmarks of the workspace crates, side by side with peer crates.
//!
//! The benchmark targets live under `benches/`; this library holds only what
//! they share.
