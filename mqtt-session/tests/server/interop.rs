//! Server-role regressions found by replaying mosquitto's broker compliance
//! corpus against the example broker (`tests/interop/replay_corpus.py`,
//! `INTEROP.md`). Each test names the statement our old behaviour broke.

use std::num::NonZeroU32;

use bytes::BytesMut;
use mqtt_codec::{ProtocolVersion, ReasonCode};
use mqtt_session::{Incoming, ServerCloseCause, ServerConfig, ServerEvent};

use crate::{Peer, connect};

/// v5 [MQTT-3.1.2-24], [MQTT-3.2.0-1]: a client whose Maximum Packet Size
/// is smaller than our CONNACK cannot be answered, and nothing may go
/// before the CONNACK: the connection is closed without a packet (it used
/// to stay open, silent, until the keep-alive ran out).
#[test]
fn v5_mqtt_3_1_2_24_connack_too_large_closes() {
    let mut c = connect(ProtocolVersion::V5, "c1", true);
    c.properties.maximum_packet_size = NonZeroU32::new(2);
    let mut p = Peer::open(c, ServerConfig::default(), None);
    assert!(p.take().is_empty());
    assert!(!p.server.is_connected());
    assert!(p.take_events().iter().any(|e| matches!(
        e,
        ServerEvent::Closed(ServerCloseCause::ProtocolViolation(v))
            if v.reason == ReasonCode::PacketTooLarge
    )));
}

/// v3.1.1 [MQTT-3.1.2-1], v5 [MQTT-3.1.2-1]: a protocol name that is not
/// `MQTT` (here `MQTU`, and one cut to `MQT`) is closed without a CONNACK:
/// 3.1.1 must not go on "in line with this specification", 5.0 only allows
/// the CONNACK. An unknown level with the right name still gets 0x01
/// (v3.1.1 [MQTT-3.1.2-2]).
#[test]
fn v3_mqtt_3_1_2_1_bad_protocol_name_closes_without_connack() {
    for bytes in [
        &b"\x10\x0d\x00\x04MQTU\x04\x02\x00\x0a\x00\x01p"[..],
        &b"\x10\x0c\x00\x03MQT\x04\x02\x00\x0a\x00\x01p"[..],
    ] {
        let mut buf = BytesMut::from(bytes);
        let err = Incoming::read(&mut buf, None).unwrap_err();
        assert_eq!(err.reply, None, "{bytes:02x?}");
    }
}
