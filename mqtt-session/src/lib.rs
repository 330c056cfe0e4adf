//! Sans-IO MQTT session state machines, client role.
//!
//! The crate never touches a socket or a clock (the pattern of quinn-proto,
//! rustls and str0m): the caller feeds received bytes, the current time,
//! expired deadlines and application commands into a [`Client`], and drains
//! bytes to send, the next deadline, events and persistence operations.
//!
//! - A durable [`Session`] (ordered in-flight list, pending queue, inbound
//!   QoS 2 state, packet identifier allocator) outlives each connection;
//!   negotiated limits, send quota, topic aliases and keep-alive are
//!   rebuilt on every connect.
//! - QoS 0, 1 and 2 in both directions; inbound QoS 2 delivered exactly
//!   once, also across reconnects and restarts; application acks in any
//!   order, PUBACK/PUBREC on the wire in arrival order.
//! - Resume with DUP, PUBREL for released flows, original order, counted
//!   against the new Receive Maximum; a lost session hands every message
//!   back ([`Event::Returned`]).
//! - MQTT 5 flow control: send quota (queue, never reject), our Receive
//!   Maximum (0x93), Maximum Packet Size both ways (0x95), Topic Alias both
//!   ways (0x94), Server Keep Alive, Assigned Client Identifier, Maximum
//!   QoS, Retain Available, wildcard/shared/subscription identifier
//!   availability.
//! - Fatal protocol violations are sticky, name the rule and leave the
//!   DISCONNECT that explains them to be flushed.
//! - Write-ahead persistence ([`PersistOp`]) and versioned snapshots.
//!
//! `#![no_std]` + `alloc`; the default `std` feature only enables `std` in
//! the dependencies.
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

mod client;
mod config;
mod error;
mod event;
mod ids;
mod persist;
mod session;
mod time;

pub use client::{Client, Negotiated};
pub use config::ClientConfig;
pub use error::{OpError, ProtocolViolation, ViolationKind};
pub use event::{AckToken, CloseCause, Event, Message, OpId};
pub use persist::{InboundRecord, OutboundRecord, PersistOp, RestoreError, SNAPSHOT_VERSION};
pub use session::{InflightInfo, Session};
pub use time::Instant;

/// Re-exported so that users name the same packet types.
pub use mqtt_codec;
