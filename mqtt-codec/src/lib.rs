#![doc = include_str!("../README.md")]
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
pub use error::{DecodeError, EncodeError, InvalidPacket, VersionFeature};
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
pub use mqttkit_topic;
// The topic types that packets carry, re-exported so that a user of the codec
// needs no second dependency to build or read a PUBLISH or SUBSCRIBE.
pub use mqttkit_topic::{
    SharedSubscription, SharedSubscriptionRef, TopicError, TopicFilter, TopicFilterRef, TopicName,
    TopicNameRef,
};
