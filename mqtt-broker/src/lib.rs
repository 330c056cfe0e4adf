#![doc = include_str!("../README.md")]
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
mod broker;
pub mod cli;
pub mod config;
mod listener;
pub mod metrics;
mod pacing;
mod retained;
mod router;
mod session;
mod state;

pub use broker::{Broker, StartError};
pub use config::Config;
pub use listener::ListenError;
