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

mod client;
mod clock;
mod driver;
mod error;
mod event;
mod options;
mod reconnect;
pub mod server;
pub mod store;
pub mod transport;

pub use client::{Client, Delivery};
pub use error::Error;
pub use event::{Event, Events};
pub use options::{ConnectOptions, DEFAULT_PORT};
pub use reconnect::Reconnect;
pub use server::{Connecting, Connection, ConnectionEvent, ConnectionEvents, ConnectionOptions};
pub use store::{FileStore, FileStoreOptions, SyncPolicy};
pub use store::{Record, Store, StoreError, Stored};

/// The sans-IO session crate this driver runs, for everything not
/// re-exported below (properties, the session's own events, ...).
pub use mqttkit_session;
/// Re-exported so that payloads are the same `Bytes` the session uses.
pub use mqttkit_session::bytes;
// The types the driver's methods take and return, so that one dependency
// is enough for a client.
pub use mqttkit_session::{
    AckToken, ConnAck, ConnectProperties, ConnectReasonCode, Disconnect, DisconnectReasonCode,
    LastWill, Message, OpError, ProtocolVersion, ProtocolViolation, PubAckReasonCode, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, SubAckReasonCode, SubscriptionOptions,
    TopicError, TopicFilter, TopicName, UnsubAckReasonCode,
};
