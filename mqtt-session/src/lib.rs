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

mod aliases;
mod client;
mod config;
mod error;
mod event;
mod ids;
mod link;
mod persist;
mod queue;
mod receive_buffer;
mod receive_flows;
mod send_flows;
mod server;
mod session;
mod time;
mod timers;
mod transmit;
mod violation;

pub use client::{Client, Negotiated};
pub use config::ClientConfig;
pub use error::{OpError, ProtocolViolation, ViolationKind};
pub use event::{AckToken, CloseCause, Event, Message, OpId};
pub use persist::{InboundRecord, OutboundRecord, PersistOp, RestoreError, SNAPSHOT_VERSION};
pub use server::{
    DeliverError, Delivery, Incoming, IncomingError, IncomingErrorKind, Refused, Server,
    ServerCloseCause, ServerConfig, ServerEvent, SubscribeRequest, Subscription, Undelivered,
};
pub use session::{InflightInfo, Session};
pub use time::Instant;
pub use transmit::Transmit;
pub use violation::PeerMisbehaved;

/// Re-exported so that users name the same packet, topic and buffer types.
pub use bytes;
pub use mqttkit_codec;
pub use mqttkit_topic;
// The packet, property, reason-code and topic types that `Client`, `Server`
// and `Session` take and return, re-exported so that one dependency is
// enough for either role.
pub use mqttkit_codec::{
    AckProperties, Auth, AuthProperties, AuthReasonCode, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, ConnectReasonCode, DecodeError, Decoded, Decoder, Disconnect,
    DisconnectProperties, DisconnectReasonCode, EncodeError, Encoder, LastWill, Login, MqttString,
    Packet, PacketId, PayloadFormat, ProtocolVersion, PubAck, PubAckReasonCode, PubComp, PubRec,
    PubRel, PubRelReasonCode, Publish, PublishProperties, PublishQoS, QoS, ReasonCode,
    RetainHandling, SubAck, SubAckReasonCode, Subscribe, SubscribeProperties,
    SubscriptionIdentifiers, SubscriptionOptions, UnsubAck, UnsubAckReasonCode, Unsubscribe,
    UnsubscribeProperties, UserProperties, WillProperties,
};
// A broker routes with the topic indexes; topic's own `Delivery` stays under
// `mqttkit_topic` because the server role has a `Delivery` of its own.
pub use mqttkit_topic::{
    Deliveries, IndexFull, Matched, RetainedIndex, SharedGroupRef, SharedSubscription,
    SharedSubscriptionRef, SubscriptionIndex, TopicError, TopicFilter, TopicFilterRef, TopicName,
    TopicNameRef, covers, matches,
};
