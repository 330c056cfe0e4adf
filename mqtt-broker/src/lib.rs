//! An MQTT 3.1.1 and 5.0 broker built on `mqttkit-tokio`.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod auth;
pub mod cli;
pub mod config;

pub use config::Config;
