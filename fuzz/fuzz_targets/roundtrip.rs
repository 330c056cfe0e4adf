//! Structured round trip: an arbitrary valid packet, built with the public
//! constructors, encodes to exactly `encoded_len` bytes and decodes back to
//! an equal packet (whole and streamed byte by byte), and its encoding is
//! canonical.
//!
//! Inputs that do not make a valid packet for the chosen version (an invalid
//! string, a reason code the packet does not allow, a 5.0-only field in 3.1.1)
//! are skipped. A packet the encoder accepts must decode: an encoder that
//! writes what its own decoder refuses is a finding.
#![no_main]

use std::num::{NonZeroU16, NonZeroU32};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mqttkit_codec::mqttkit_topic::{TopicFilter, TopicName};
use mqttkit_codec::{
    AckProperties, Auth, AuthProperties, AuthReasonCode, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, ConnectReasonCode, Disconnect, DisconnectProperties, DisconnectReasonCode,
    LastWill, Login, MqttString, Packet, PacketId, PayloadFormat, ProtocolVersion, PubAck,
    PubAckReasonCode, PubComp, PubRec, PubRel, PubRelReasonCode, Publish, PublishProperties,
    PublishQoS, QoS, RetainHandling, SubAck, SubAckReasonCode, Subscribe, SubscribeProperties,
    SubscriptionOptions, UnsubAck, UnsubAckReasonCode, Unsubscribe, UnsubscribeProperties,
    UserProperties, WillProperties,
};

#[derive(Debug, Arbitrary)]
enum Version {
    V31,
    V311,
    V5,
}

impl From<&Version> for ProtocolVersion {
    fn from(v: &Version) -> Self {
        match v {
            Version::V31 => ProtocolVersion::V3_1,
            Version::V311 => ProtocolVersion::V3_1_1,
            Version::V5 => ProtocolVersion::V5,
        }
    }
}

/// Some text: an MQTT string when it is one.
#[derive(Debug, Arbitrary)]
struct Text(String);

impl Text {
    fn string(&self) -> Option<MqttString> {
        MqttString::try_from(self.0.as_str()).ok()
    }
}

/// Topic name levels, joined with `/`.
#[derive(Debug, Arbitrary)]
struct Name(Vec<String>);

impl Name {
    fn topic(&self) -> Option<TopicName> {
        TopicName::try_from(self.0.join("/")).ok()
    }
}

#[derive(Debug, Arbitrary)]
enum Level {
    Plus,
    Text(String),
}

/// A topic filter: levels, maybe a final `#`, maybe shared.
#[derive(Debug, Arbitrary)]
struct Filter {
    share: Option<String>,
    levels: Vec<Level>,
    hash: bool,
}

impl Filter {
    fn filter(&self) -> Option<TopicFilter> {
        let mut levels: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Plus => "+",
                Level::Text(t) => t.as_str(),
            })
            .collect();
        if self.hash {
            levels.push("#");
        }
        let mut text = levels.join("/");
        if let Some(share) = &self.share {
            text = format!("$share/{share}/{text}");
        }
        TopicFilter::try_from(text).ok()
    }
}

fn string(t: &Option<Text>) -> Option<Option<MqttString>> {
    match t {
        None => Some(None),
        Some(t) => t.string().map(Some),
    }
}

fn topic(t: &Option<Name>) -> Option<Option<TopicName>> {
    match t {
        None => Some(None),
        Some(t) => t.topic().map(Some),
    }
}

fn bytes(b: &Option<Vec<u8>>) -> Option<Bytes> {
    b.as_deref().map(Bytes::copy_from_slice)
}

fn user_properties(pairs: &[(Text, Text)]) -> Option<UserProperties> {
    let mut props = UserProperties::new();
    for (k, v) in pairs {
        props.push(k.string()?, v.string()?);
    }
    Some(props)
}

fn packet_id(id: NonZeroU16) -> PacketId {
    PacketId::from_non_zero(id)
}

#[derive(Debug, Arbitrary)]
struct ArbConnectProperties {
    session_expiry_interval: Option<u32>,
    receive_maximum: Option<NonZeroU16>,
    maximum_packet_size: Option<NonZeroU32>,
    topic_alias_maximum: Option<u16>,
    request_response_information: Option<bool>,
    request_problem_information: Option<bool>,
    authentication_method: Option<Text>,
    authentication_data: Option<Vec<u8>>,
    user_properties: Vec<(Text, Text)>,
}

impl ArbConnectProperties {
    fn build(&self) -> Option<ConnectProperties> {
        let mut p = ConnectProperties::default();
        p.session_expiry_interval = self.session_expiry_interval;
        p.receive_maximum = self.receive_maximum;
        p.maximum_packet_size = self.maximum_packet_size;
        p.topic_alias_maximum = self.topic_alias_maximum;
        p.request_response_information = self.request_response_information;
        p.request_problem_information = self.request_problem_information;
        p.authentication_method = string(&self.authentication_method)?;
        p.authentication_data = bytes(&self.authentication_data);
        p.user_properties = user_properties(&self.user_properties)?;
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbWillProperties {
    will_delay_interval: Option<u32>,
    payload_format_indicator: Option<bool>,
    message_expiry_interval: Option<u32>,
    content_type: Option<Text>,
    response_topic: Option<Name>,
    correlation_data: Option<Vec<u8>>,
    user_properties: Vec<(Text, Text)>,
}

fn payload_format(utf8: Option<bool>) -> Option<PayloadFormat> {
    utf8.map(|utf8| {
        if utf8 {
            PayloadFormat::Utf8
        } else {
            PayloadFormat::Unspecified
        }
    })
}

impl ArbWillProperties {
    fn build(&self) -> Option<WillProperties> {
        let mut p = WillProperties::default();
        p.will_delay_interval = self.will_delay_interval;
        p.payload_format_indicator = payload_format(self.payload_format_indicator);
        p.message_expiry_interval = self.message_expiry_interval;
        p.content_type = string(&self.content_type)?;
        p.response_topic = topic(&self.response_topic)?;
        p.correlation_data = bytes(&self.correlation_data);
        p.user_properties = user_properties(&self.user_properties)?;
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbConnAckProperties {
    session_expiry_interval: Option<u32>,
    receive_maximum: Option<NonZeroU16>,
    maximum_qos_1: Option<bool>,
    retain_available: Option<bool>,
    maximum_packet_size: Option<NonZeroU32>,
    assigned_client_identifier: Option<Text>,
    topic_alias_maximum: Option<u16>,
    reason_string: Option<Text>,
    wildcard_subscription_available: Option<bool>,
    subscription_identifier_available: Option<bool>,
    shared_subscription_available: Option<bool>,
    server_keep_alive: Option<u16>,
    response_information: Option<Text>,
    server_reference: Option<Text>,
    authentication_method: Option<Text>,
    authentication_data: Option<Vec<u8>>,
    user_properties: Vec<(Text, Text)>,
}

impl ArbConnAckProperties {
    fn build(&self) -> Option<ConnAckProperties> {
        let mut p = ConnAckProperties::default();
        p.session_expiry_interval = self.session_expiry_interval;
        p.receive_maximum = self.receive_maximum;
        p.maximum_qos = self.maximum_qos_1.map(|one| {
            if one {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            }
        });
        p.retain_available = self.retain_available;
        p.maximum_packet_size = self.maximum_packet_size;
        p.assigned_client_identifier = string(&self.assigned_client_identifier)?;
        p.topic_alias_maximum = self.topic_alias_maximum;
        p.reason_string = string(&self.reason_string)?;
        p.wildcard_subscription_available = self.wildcard_subscription_available;
        p.subscription_identifier_available = self.subscription_identifier_available;
        p.shared_subscription_available = self.shared_subscription_available;
        p.server_keep_alive = self.server_keep_alive;
        p.response_information = string(&self.response_information)?;
        p.server_reference = string(&self.server_reference)?;
        p.authentication_method = string(&self.authentication_method)?;
        p.authentication_data = bytes(&self.authentication_data);
        p.user_properties = user_properties(&self.user_properties)?;
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbPublishProperties {
    payload_format_indicator: Option<bool>,
    message_expiry_interval: Option<u32>,
    topic_alias: Option<NonZeroU16>,
    response_topic: Option<Name>,
    correlation_data: Option<Vec<u8>>,
    content_type: Option<Text>,
    subscription_identifiers: Vec<NonZeroU32>,
    user_properties: Vec<(Text, Text)>,
}

impl ArbPublishProperties {
    fn build(&self) -> Option<PublishProperties> {
        let mut p = PublishProperties::default();
        p.payload_format_indicator = payload_format(self.payload_format_indicator);
        p.message_expiry_interval = self.message_expiry_interval;
        p.topic_alias = self.topic_alias;
        p.set_response_topic(topic(&self.response_topic)?);
        p.set_correlation_data(bytes(&self.correlation_data));
        p.set_content_type(string(&self.content_type)?);
        for &id in &self.subscription_identifiers {
            p.push_subscription_identifier(id);
        }
        p.set_user_properties(user_properties(&self.user_properties)?);
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbAckProperties {
    reason_string: Option<Text>,
    user_properties: Vec<(Text, Text)>,
}

impl ArbAckProperties {
    fn build(&self) -> Option<AckProperties> {
        let mut p = AckProperties::default();
        p.reason_string = string(&self.reason_string)?;
        p.user_properties = user_properties(&self.user_properties)?;
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbDisconnectProperties {
    session_expiry_interval: Option<u32>,
    reason_string: Option<Text>,
    server_reference: Option<Text>,
    user_properties: Vec<(Text, Text)>,
}

impl ArbDisconnectProperties {
    fn build(&self) -> Option<DisconnectProperties> {
        let mut p = DisconnectProperties::default();
        p.session_expiry_interval = self.session_expiry_interval;
        p.reason_string = string(&self.reason_string)?;
        p.server_reference = string(&self.server_reference)?;
        p.user_properties = user_properties(&self.user_properties)?;
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbAuthProperties {
    authentication_method: Option<Text>,
    authentication_data: Option<Vec<u8>>,
    reason_string: Option<Text>,
    user_properties: Vec<(Text, Text)>,
}

impl ArbAuthProperties {
    fn build(&self) -> Option<AuthProperties> {
        let mut p = AuthProperties::default();
        p.authentication_method = string(&self.authentication_method)?;
        p.authentication_data = bytes(&self.authentication_data);
        p.reason_string = string(&self.reason_string)?;
        p.user_properties = user_properties(&self.user_properties)?;
        Some(p)
    }
}

#[derive(Debug, Arbitrary)]
struct ArbWill {
    topic: Name,
    payload: Vec<u8>,
    qos: u8,
    retain: bool,
    properties: Option<ArbWillProperties>,
}

#[derive(Debug, Arbitrary)]
struct ArbSubscription {
    filter: Filter,
    qos: u8,
    no_local: bool,
    retain_as_published: bool,
    retain_handling: u8,
}

#[derive(Debug, Arbitrary)]
enum ArbPacket {
    Connect {
        version: Version,
        clean_start: bool,
        keep_alive: u16,
        client_id: Text,
        will: Option<ArbWill>,
        username: Option<Text>,
        password: Option<Vec<u8>>,
        properties: Option<ArbConnectProperties>,
    },
    ConnAck {
        session_present: bool,
        code: u8,
        properties: Option<ArbConnAckProperties>,
    },
    Publish {
        topic: Option<Name>,
        qos: u8,
        packet_id: NonZeroU16,
        dup: bool,
        retain: bool,
        payload: Vec<u8>,
        properties: Option<ArbPublishProperties>,
    },
    PubAck {
        packet_id: NonZeroU16,
        code: u8,
        properties: Option<ArbAckProperties>,
    },
    PubRec {
        packet_id: NonZeroU16,
        code: u8,
        properties: Option<ArbAckProperties>,
    },
    PubRel {
        packet_id: NonZeroU16,
        code: u8,
        properties: Option<ArbAckProperties>,
    },
    PubComp {
        packet_id: NonZeroU16,
        code: u8,
        properties: Option<ArbAckProperties>,
    },
    Subscribe {
        packet_id: NonZeroU16,
        first: ArbSubscription,
        more: Vec<ArbSubscription>,
        subscription_identifier: Option<NonZeroU32>,
        user_properties: Vec<(Text, Text)>,
    },
    SubAck {
        packet_id: NonZeroU16,
        codes: Vec<u8>,
        properties: Option<ArbAckProperties>,
    },
    Unsubscribe {
        packet_id: NonZeroU16,
        first: Filter,
        more: Vec<Filter>,
        user_properties: Vec<(Text, Text)>,
    },
    UnsubAck {
        packet_id: NonZeroU16,
        codes: Vec<u8>,
        properties: Option<ArbAckProperties>,
    },
    PingReq,
    PingResp,
    Disconnect {
        code: u8,
        properties: Option<ArbDisconnectProperties>,
    },
    Auth {
        code: u8,
        properties: Option<ArbAuthProperties>,
    },
}

/// Properties only exist in 5.0: a 3.1.1 packet carries none.
fn props<A, P: Default>(
    version: ProtocolVersion,
    arb: &Option<A>,
    build: impl FnOnce(&A) -> Option<P>,
) -> Option<P> {
    match arb {
        Some(a) if version.is_v5() => build(a),
        _ => Some(P::default()),
    }
}

/// A reason code for `version`: 3.1.1 acknowledgements carry only Success.
fn code<R>(version: ProtocolVersion, code: u8, from_u8: fn(u8) -> Option<R>) -> Option<R> {
    if version.is_v5() {
        from_u8(code)
    } else {
        from_u8(0)
    }
}

fn build(arb: &ArbPacket, version: ProtocolVersion) -> Option<Packet> {
    let v5 = version.is_v5();
    Some(match arb {
        ArbPacket::Connect {
            version: connect_version,
            clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        } => {
            // A CONNECT is written and read with its own version.
            let version = ProtocolVersion::from(connect_version);
            let mut connect = Connect::new(version, client_id.string()?);
            connect.clean_start = *clean_start;
            connect.keep_alive = *keep_alive;
            connect.properties = props(version, properties, ArbConnectProperties::build)?;
            if let Some(w) = will {
                let mut will = LastWill::new(w.topic.topic()?, w.payload.clone());
                will.qos = QoS::from_bits(w.qos % 4)?;
                will.retain = w.retain;
                will.properties = props(version, &w.properties, ArbWillProperties::build)?;
                connect.will = Some(will);
            }
            connect.login = Login {
                username: string(username)?,
                password: bytes(password),
            };
            connect.into()
        }
        ArbPacket::ConnAck {
            session_present,
            code,
            properties,
        } => {
            let reason = if v5 {
                ConnectReasonCode::from_u8(*code)?
            } else {
                ConnectReasonCode::from_v3_return_code(*code % 8)?
            };
            let mut connack = ConnAck::new(*session_present, reason);
            connack.properties = props(version, properties, ArbConnAckProperties::build)?;
            connack.into()
        }
        ArbPacket::Publish {
            topic: name,
            qos,
            packet_id: id,
            dup,
            retain,
            payload,
            properties,
        } => {
            let properties = props(version, properties, ArbPublishProperties::build)?;
            let mut qos = PublishQoS::new(QoS::from_bits(qos % 4)?, packet_id(*id));
            if *dup {
                qos = qos.redelivery();
            }
            let topic = topic(name)?;
            let mut publish = match topic {
                Some(topic) => Publish::new(topic, payload.clone()),
                None => {
                    let mut p = Publish::new(TopicName::from_static("t").ok()?, payload.clone());
                    p.topic = None;
                    p
                }
            };
            publish = publish
                .with_qos(qos)
                .with_retain(*retain)
                .with_properties(properties);
            publish.into()
        }
        ArbPacket::PubAck {
            packet_id: id,
            code: c,
            properties,
        } => {
            let mut ack = PubAck::new(packet_id(*id)).with_reason(code(
                version,
                *c,
                PubAckReasonCode::from_u8,
            )?);
            ack.properties = props(version, properties, ArbAckProperties::build)?;
            ack.into()
        }
        ArbPacket::PubRec {
            packet_id: id,
            code: c,
            properties,
        } => {
            let mut ack = PubRec::new(packet_id(*id)).with_reason(code(
                version,
                *c,
                PubAckReasonCode::from_u8,
            )?);
            ack.properties = props(version, properties, ArbAckProperties::build)?;
            ack.into()
        }
        ArbPacket::PubRel {
            packet_id: id,
            code: c,
            properties,
        } => {
            let mut ack = PubRel::new(packet_id(*id)).with_reason(code(
                version,
                *c,
                PubRelReasonCode::from_u8,
            )?);
            ack.properties = props(version, properties, ArbAckProperties::build)?;
            ack.into()
        }
        ArbPacket::PubComp {
            packet_id: id,
            code: c,
            properties,
        } => {
            let mut ack = PubComp::new(packet_id(*id)).with_reason(code(
                version,
                *c,
                PubRelReasonCode::from_u8,
            )?);
            ack.properties = props(version, properties, ArbAckProperties::build)?;
            ack.into()
        }
        ArbPacket::Subscribe {
            packet_id: id,
            first,
            more,
            subscription_identifier,
            user_properties: pairs,
        } => {
            let mut filters = Vec::new();
            for s in std::iter::once(first).chain(more) {
                let qos = QoS::from_bits(s.qos % 4)?;
                let options = if v5 {
                    let mut o = SubscriptionOptions::new(qos);
                    o.no_local = s.no_local;
                    o.retain_as_published = s.retain_as_published;
                    o.retain_handling = match s.retain_handling % 4 {
                        0 => RetainHandling::SendAtSubscribe,
                        1 => RetainHandling::SendAtSubscribeIfNew,
                        2 => RetainHandling::DoNotSend,
                        _ => return None,
                    };
                    o
                } else {
                    SubscriptionOptions::new(qos)
                };
                filters.push((s.filter.filter()?, options));
            }
            let (filter, options) = filters.remove(0);
            let mut subscribe = Subscribe::new(packet_id(*id), filter, options);
            subscribe.filters.extend(filters);
            if v5 {
                let mut p = SubscribeProperties::default();
                p.subscription_identifier = *subscription_identifier;
                p.user_properties = user_properties(pairs)?;
                subscribe.properties = p;
            }
            subscribe.into()
        }
        ArbPacket::SubAck {
            packet_id: id,
            codes,
            properties,
        } => {
            let codes = codes
                .iter()
                .map(|&c| SubAckReasonCode::from_u8(c))
                .collect::<Option<Vec<_>>>()?;
            let mut suback = SubAck::new(packet_id(*id), codes);
            suback.properties = props(version, properties, ArbAckProperties::build)?;
            suback.into()
        }
        ArbPacket::Unsubscribe {
            packet_id: id,
            first,
            more,
            user_properties: pairs,
        } => {
            let mut unsubscribe = Unsubscribe::new(packet_id(*id), first.filter()?);
            for f in more {
                unsubscribe.filters.push(f.filter()?);
            }
            if v5 {
                let mut p = UnsubscribeProperties::default();
                p.user_properties = user_properties(pairs)?;
                unsubscribe.properties = p;
            }
            unsubscribe.into()
        }
        ArbPacket::UnsubAck {
            packet_id: id,
            codes,
            properties,
        } => {
            // 3.1.1 UNSUBACK has no payload.
            let codes = if v5 {
                codes
                    .iter()
                    .map(|&c| UnsubAckReasonCode::from_u8(c))
                    .collect::<Option<Vec<_>>>()?
            } else {
                Vec::new()
            };
            let mut unsuback = UnsubAck::new(packet_id(*id), codes);
            unsuback.properties = props(version, properties, ArbAckProperties::build)?;
            unsuback.into()
        }
        ArbPacket::PingReq => Packet::PingReq,
        ArbPacket::PingResp => Packet::PingResp,
        ArbPacket::Disconnect {
            code: c,
            properties,
        } => {
            let mut disconnect = Disconnect::new(code(version, *c, DisconnectReasonCode::from_u8)?);
            disconnect.properties = props(version, properties, ArbDisconnectProperties::build)?;
            disconnect.into()
        }
        ArbPacket::Auth {
            code: c,
            properties,
        } => {
            let mut auth = Auth::new(AuthReasonCode::from_u8(*c)?);
            auth.properties = props(version, properties, ArbAuthProperties::build)?;
            auth.into()
        }
    })
}

fuzz_target!(|input: (Version, ArbPacket)| {
    let (version, arb) = input;
    let version = ProtocolVersion::from(&version);
    let Some(packet) = build(&arb, version) else {
        return;
    };
    // `None`: the encoder refused the packet (for example SUBACK without
    // reason codes); `check_reencode` checked it wrote nothing.
    let _ = mqttkit_fuzz::check_reencode(&packet, version);
});
