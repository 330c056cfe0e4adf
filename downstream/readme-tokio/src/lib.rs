// The documentation is the repository's mqtt-tokio/README.md, which scripts/downstream.sh
// copies beside Cargo.toml; `cargo test --doc` runs its examples.
#![doc = include_str!("../README.md")]
