//! Authorization and server-side rules (v5 §3.3.5, §3.8.3, §3.8.4,
//! §3.1.2.11.7).

use mqttkit_codec::{
    AckProperties, Packet, ProtocolVersion, PubAck, PubAckReasonCode, PubRec, QoS, RetainHandling,
    SubAckReasonCode, Subscribe, SubscriptionOptions,
};
use mqttkit_session::TopicFilter;
use mqttkit_session::{ServerConfig, ServerEvent, SubscribeRequest};

use crate::{Peer, connect, id, publish, s};

/// v5 §3.4.2.1, §3.5.2.1: the application refuses a PUBLISH with 0x87,
/// 0x97 or 0x99 in PUBACK/PUBREC.
#[test]
fn v5_publish_refused_with_reason_code() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    p.send(publish("a", QoS::AtLeastOnce, 1).into()).unwrap();
    let t = p.last_token();
    p.server
        .ack(p.now, t, PubAckReasonCode::NotAuthorized)
        .unwrap();
    p.send(publish("a", QoS::ExactlyOnce, 2).into()).unwrap();
    let t = p.last_token();
    p.server
        .ack(p.now, t, PubAckReasonCode::PayloadFormatInvalid)
        .unwrap();
    p.drain();
    assert_eq!(
        p.take(),
        [
            Packet::PubAck(PubAck::new(id(1)).with_reason(PubAckReasonCode::NotAuthorized)),
            Packet::PubRec(PubRec::new(id(2)).with_reason(PubAckReasonCode::PayloadFormatInvalid)),
        ]
    );
    // v5 [MQTT-4.3.3-9]: after a PUBREC error the id is free again.
    assert_eq!(p.server.session().inbound_qos2_len(), 0);
}

/// v3.1.1 [MQTT-3.3.5-2]: a refused PUBLISH cannot be signalled in 3.1.1;
/// the server closes the connection.
#[test]
fn v3_mqtt_3_3_5_2_refusal_closes() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V3_1_1, "c1", true),
        ServerConfig::default(),
        None,
    );
    p.take();
    p.send(publish("a", QoS::AtLeastOnce, 1).into()).unwrap();
    let t = p.last_token();
    p.server
        .ack(p.now, t, PubAckReasonCode::NotAuthorized)
        .unwrap();
    p.drain();
    assert!(p.take().is_empty());
    assert!(!p.server.is_connected());
}

/// v5 [MQTT-3.2.2-11]: a PUBLISH above the Maximum QoS we announced is
/// answered with DISCONNECT 0x9B.
#[test]
fn v5_mqtt_3_2_2_11_maximum_qos() {
    let mut p = Peer::open(
        connect(ProtocolVersion::V5, "c1", true),
        ServerConfig {
            maximum_qos: QoS::AtLeastOnce,
            ..ServerConfig::default()
        },
        None,
    );
    let Packet::ConnAck(ack) = &p.take()[0] else {
        panic!()
    };
    assert_eq!(ack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    let err = p
        .send(publish("a", QoS::ExactlyOnce, 1).into())
        .unwrap_err();
    assert_eq!(err.reason, mqttkit_codec::ReasonCode::QoSNotSupported);
}

fn request(filter: &str, handling: RetainHandling, exists: bool) -> SubscribeRequest {
    let mut options = SubscriptionOptions::new(QoS::AtMostOnce);
    options.retain_handling = handling;
    SubscribeRequest::new(TopicFilter::try_from(filter).unwrap(), options, exists)
}

/// v5 [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11]: Retain Handling 0
/// sends retained messages, 1 only for a new subscription, 2 never; a
/// shared subscription gets none (v5 §4.8.2).
#[test]
fn v5_mqtt_3_3_1_10_retain_handling() {
    assert!(request("a", RetainHandling::SendAtSubscribe, true).wants_retained());
    assert!(request("a", RetainHandling::SendAtSubscribeIfNew, false).wants_retained());
    assert!(!request("a", RetainHandling::SendAtSubscribeIfNew, true).wants_retained());
    assert!(!request("a", RetainHandling::DoNotSend, false).wants_retained());
    assert!(!request("$share/g/a", RetainHandling::SendAtSubscribe, false).wants_retained());
}

/// v5 [MQTT-3.8.4-3], v3.1.1 [MQTT-3.8.4-3]: a SUBSCRIBE repeating a
/// filter replaces the subscription (one entry, the new options: in 3.1.1
/// the new maximum QoS), and the request says it exists so that Retain
/// Handling 1 can apply.
#[test]
fn v5_mqtt_3_8_4_3_subscribe_replaces() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut p = Peer::open(connect(version, "c1", true), ServerConfig::default(), None);
        p.take();
        let f = TopicFilter::try_from("a/#").unwrap();
        p.subscribe_with(
            Subscribe::new(id(1), f.clone(), SubscriptionOptions::new(QoS::AtLeastOnce)),
            vec![SubAckReasonCode::GrantedQoS1],
        );
        let mut second = SubscriptionOptions::new(QoS::ExactlyOnce);
        // 3.1.1 has no other option to carry.
        second.retain_as_published = version.is_v5();
        p.send(Subscribe::new(id(2), f, second).into()).unwrap();
        let ServerEvent::Subscribe { requests, .. } = p.events.pop().unwrap() else {
            panic!()
        };
        assert!(requests[0].exists, "{version}");
        p.server
            .suback(id(2), vec![SubAckReasonCode::GrantedQoS2])
            .unwrap();
        let subs: Vec<_> = p.server.subscriptions().map(|(_, s)| s.options).collect();
        assert_eq!(subs, [second], "{version}");
    }
}

/// v5 [MQTT-3.1.2-29]: with Request Problem Information 0 no Reason String
/// or User Properties go on PUBACK (and the other non-PUBLISH packets);
/// with 1 they do.
#[test]
fn v5_mqtt_3_1_2_29_request_problem_information() {
    for rpi in [false, true] {
        let mut c = connect(ProtocolVersion::V5, "c1", true);
        c.properties.request_problem_information = Some(rpi);
        let mut p = Peer::open(c, ServerConfig::default(), None);
        p.take();
        p.send(publish("a", QoS::AtLeastOnce, 1).into()).unwrap();
        let t = p.last_token();
        let mut props = AckProperties::default();
        props.reason_string = Some(s("denied by ACL"));
        p.server
            .ack_with_properties(p.now, t, PubAckReasonCode::NotAuthorized, props)
            .unwrap();
        p.drain();
        let Packet::PubAck(ack) = &p.take()[0] else {
            panic!()
        };
        assert_eq!(ack.properties.reason_string.is_some(), rpi);
    }
}
