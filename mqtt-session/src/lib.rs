#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod admit;
mod client;
mod config;
mod error;
mod event;
mod ids;
mod persist;
mod rx;
mod server;
mod session;
mod time;

pub use client::{Client, Negotiated};
pub use config::ClientConfig;
pub use error::{OpError, ProtocolViolation, ViolationKind};
pub use event::{AckToken, CloseCause, Event, Message, OpId};
pub use persist::{InboundRecord, OutboundRecord, PersistOp, RestoreError, SNAPSHOT_VERSION};
pub use server::{
    DeliverError, Delivery, Incoming, IncomingError, IncomingErrorKind, Refused, Server,
    ServerCloseCause, ServerConfig, ServerEvent, SubscribeRequest, Subscription,
};
pub use session::{InflightInfo, Session};
pub use time::Instant;

/// Re-exported so that users name the same packet types.
pub use mqttkit_codec;
