//! Benchmarks of the workspace crates, side by side with peer crates.
//!
//! The benchmark targets live under `benches/`; this library holds what they
//! share: the workloads and one adapter per peer crate, and the tests that
//! check every crate decodes the same packet before anything is timed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

pub mod client_tcp;
pub mod codec_fanout;
pub mod codec_malformed;
pub mod codec_peers;
pub mod codec_streams;
pub mod session_depth;
pub mod session_pair;
