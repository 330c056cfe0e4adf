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
//!   against the new Receive Maximum; a lost or expired session hands every
//!   message back ([`Event::Returned`]); Session Present for a client
//!   without Session State closes the connection ([`Session`] defines it).
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
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_session::mqtt_codec::{
//!     ConnAck, Connect, ConnectReasonCode, Encoder, MqttString, Packet, ProtocolVersion, PubAck,
//!     PacketId, QoS,
//! };
//! use mqtt_session::mqtt_codec::mqtt_topic::TopicName;
//! use mqtt_session::{Client, ClientConfig, Event, Instant, Message, PersistOp, Session};
//!
//! let mut client = Client::new(Session::new(MqttString::try_from("sensor-7")?), ClientConfig::default());
//! let mut now = Instant::from_millis(0);
//! client.connect(now, Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?))?;
//! // A message submitted before CONNACK waits in the session.
//! let op = client.publish(now, Message::new(TopicName::from_static("t/temp")?, &b"21.5"[..], QoS::AtLeastOnce))?;
//!
//! // The transport: here the server's bytes are made with the codec.
//! let server = Encoder::new(ProtocolVersion::V5);
//! let mut wire = BytesMut::new();
//! server.encode(&ConnAck::new(false, ConnectReasonCode::Success).into(), &mut wire)?;
//! now = Instant::from_millis(20);
//! client.handle_bytes(now, &wire)?;
//!
//! // Drain: persist first, then transmit, then events, then the deadline.
//! let mut stored = Vec::new();
//! while let Some(op) = client.poll_persist() {
//!     stored.push(op); // write to durable storage here
//! }
//! assert!(matches!(stored[0], PersistOp::PutOutbound(_)));
//! let mut out = BytesMut::new();
//! while client.poll_transmit(&mut out).is_some() {}
//! assert!(!out.is_empty()); // CONNECT, then the PUBLISH: write them to the socket
//! assert_eq!(client.poll_event(), Some(Event::Connected { session_present: false }));
//! assert!(client.poll_timeout().is_some()); // the keep-alive deadline
//!
//! wire.clear();
//! server.encode(&PubAck::new(PacketId::new(1).unwrap()).into(), &mut wire)?;
//! client.handle_bytes(now, &wire)?;
//! assert!(matches!(client.poll_event(), Some(Event::Published { op: done, .. }) if done == op));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
pub use mqtt_codec;
