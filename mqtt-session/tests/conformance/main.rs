//! Conformance tests of the client role, one per session-level normative
//! statement; each doc line cites the statement with its version.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[path = "../harness/mod.rs"]
mod harness;

mod connection;
mod flow;
mod qos;
mod resume;
mod session;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::Bytes;
use harness::{Pair, connect_packet};
use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, ConnectReasonCode, Disconnect, DisconnectReasonCode, MqttString,
    Packet, PacketId, ProtocolVersion, PubAck, PubAckReasonCode, PubComp, PubRec, PubRel,
    PubRelReasonCode, Publish, PublishQoS, QoS, ReasonCode, SubAck, SubAckReasonCode,
    SubscriptionOptions,
};
use mqttkit_session::{
    ClientConfig, CloseCause, Event, Instant, Message, OpError, PeerMisbehaved, ProtocolViolation,
    Session, ViolationKind,
};
use mqttkit_topic::{TopicFilter, TopicName};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn msg(topic: &'static str, qos: QoS) -> Message {
    Message::new(TopicName::from_static(topic).unwrap(), &b"x"[..], qos)
}

fn connack_with(f: impl FnOnce(&mut ConnAck)) -> ConnAck {
    let mut c = ConnAck::new(false, ConnectReasonCode::Success);
    f(&mut c);
    c
}

fn publishes(p: &[Packet]) -> Vec<(Option<u16>, bool)> {
    p.iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((p.qos.packet_id().map(PacketId::get), p.qos.dup())),
            _ => None,
        })
        .collect()
}

fn incoming(qos: QoS, n: u16) -> Publish {
    Publish::new(TopicName::from_static("in/t").unwrap(), &b"m"[..])
        .with_qos(PublishQoS::new(qos, id(n)))
}

fn tokens(events: &[Event]) -> Vec<mqttkit_session::AckToken> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { ack: Some(t), .. } => Some(*t),
            _ => None,
        })
        .collect()
}

fn violation_rule(e: &Event) -> Option<(&'static str, ReasonCode)> {
    match e {
        Event::Closed(CloseCause::ProtocolViolation(v)) => match v.kind {
            ViolationKind::Rule(rule) => Some((rule.rule(), v.reason)),
            ViolationKind::Malformed(_) => Some(("malformed", v.reason)),
            _ => None,
        },
        _ => None,
    }
}

fn last_disconnect(p: &[Packet]) -> Option<DisconnectReasonCode> {
    p.iter().rev().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason_code),
        _ => None,
    })
}
