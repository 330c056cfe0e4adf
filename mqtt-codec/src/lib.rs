//! A zero-copy, strict, complete MQTT packet codec for MQTT 3.1, 3.1.1 and 5.0.
//!
//! - **Complete**: all 15 packet types (AUTH included), all 27 MQTT 5.0
//!   properties and every reason code as typed values; 3.1 (`MQIsdp`) CONNECT.
//! - **Zero-copy**: topics, strings, binary data, user properties and
//!   payloads of a decoded packet are slices of the received frame
//!   ([`bytes::Bytes`]); decoding a PUBLISH allocates nothing.
//! - **Strict**: every rule of the standards a single packet can break is
//!   checked, and each error names the rule and the reason code to answer with.
//! - **Streaming**: [`Decoder`] frames a receive buffer, says how many bytes
//!   are missing, and refuses an oversized packet from its fixed header.
//! - **No panics, no `unsafe`**, `no_std` + `alloc` with `default-features = false`.
//!
//! The protocol version is a parameter of every decode and encode, because
//! the same bytes mean different things in 3.1.1 and 5.0.
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_codec::{Decoded, Decoder, Packet, ProtocolVersion, Publish, PublishQoS, PacketId, QoS};
//! use mqtt_topic::TopicName;
//!
//! // Encode a QoS 1 PUBLISH for MQTT 5.0.
//! let publish = Publish::new(TopicName::from_static("sensors/42/temp")?, &b"21.5"[..])
//!     .with_qos(PublishQoS::new(QoS::AtLeastOnce, PacketId::new(7).unwrap()));
//! let mut wire = BytesMut::new();
//! let written = Packet::from(publish.clone()).encode(ProtocolVersion::V5, &mut wire)?;
//! assert_eq!(written, wire.len());
//!
//! // Decode it back, feeding the bytes in two pieces.
//! let mut decoder = Decoder::new(ProtocolVersion::V5);
//! let mut received = BytesMut::from(&wire[..5]);
//! assert_eq!(decoder.decode(&mut received)?, Decoded::Incomplete { missing: Some(wire.len() - 5) });
//! received.extend_from_slice(&wire[5..]);
//! let Decoded::Packet(Packet::Publish(decoded)) = decoder.decode(&mut received)? else {
//!     unreachable!()
//! };
//! assert_eq!(decoded, publish);
//! assert_eq!(decoded.topic_str(), "sensors/42/temp");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Tests may panic on purpose; the library target is still linted without this.
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

mod codec;
mod coding;
mod error;
mod header;
mod packet;
mod property;
mod reason;
mod types;
mod version;

#[cfg(feature = "tokio-util")]
pub use codec::CodecError;
pub use codec::{Decoded, Decoder, Encoder, MqttCodec};
pub use coding::MAX_VARIABLE_BYTE_INTEGER;
pub use error::{DecodeError, EncodeError};
pub use header::{FixedHeader, HeaderStatus, PacketType, read_fixed_header};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, LastWill, Login, Packet, PubAck, PubComp, PubRec, PubRel,
    Publish, PublishQoS, PublishView, RetainHandling, SubAck, Subscribe, SubscriptionOptions,
    UnsubAck, Unsubscribe,
};
pub use property::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormat, PropertyId, PropertyValue, PublishProperties, SubscribeProperties,
    SubscriptionIdentifiers, UnsubscribeProperties, UserProperties, WillProperties,
};
pub use reason::{
    AuthReasonCode, ConnectReasonCode, DisconnectReasonCode, PubAckReasonCode, PubRelReasonCode,
    ReasonCode, SubAckReasonCode, UnsubAckReasonCode,
};
pub use types::{MAX_STRING_LEN, MqttString, PacketId, QoS};
pub use version::ProtocolVersion;

/// Re-exported so that users name the same `bytes` and topic types.
pub use bytes;
pub use mqtt_topic;
