//! Arbitrary bytes from the server never panic the client, and every fatal
//! error maps to a DISCONNECT reason code that is flushed (5.0).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use bytes::BytesMut;
use mqttkit_codec::{
    ConnAck, Connect, ConnectReasonCode, Decoded, Decoder, DisconnectReasonCode, Encoder,
    MqttString, Packet, ProtocolVersion,
};
use mqttkit_session::{Client, ClientConfig, CloseCause, Event, Instant, Session};
use proptest::prelude::*;

fn connected(version: ProtocolVersion) -> Client {
    let mut client = Client::new(
        Session::new(MqttString::try_from("g").unwrap()),
        ClientConfig::default(),
    );
    let now = Instant::from_millis(0);
    client
        .connect(
            now,
            Connect::new(version, MqttString::try_from("g").unwrap()),
        )
        .unwrap();
    let mut wire = BytesMut::new();
    Encoder::new(version)
        .encode(
            &Packet::from(ConnAck::new(false, ConnectReasonCode::Success)),
            &mut wire,
        )
        .unwrap();
    client.handle_bytes(now, &wire);
    let mut out = BytesMut::new();
    while client.poll_transmit(&mut out).is_some() {}
    client
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn garbage_never_panics_and_maps_to_a_reason(
        v5 in any::<bool>(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
    ) {
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V3_1_1 };
        let mut client = connected(version);
        // The loop an application writes: input, then drain.
        let mut reported = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            client.handle_bytes(Instant::from_millis(i as u64), chunk);
            while let Some(event) = client.poll_event() {
                if let Event::Closed(CloseCause::ProtocolViolation(v)) = event {
                    reported.push(v);
                }
            }
            while client.poll_persist().is_some() {}
            client.handle_timeout(Instant::from_millis(i as u64));
            if client.violation().is_some() {
                break;
            }
        }
        if let Some(v) = client.violation() {
            prop_assert_eq!(&reported, &[v], "reported once, as the Closed event");
            let mut out = BytesMut::new();
            while client.poll_transmit(&mut out).is_some() {}
            if v5 {
                let code = DisconnectReasonCode::try_from(v.reason).unwrap();
                let mut last = None;
                let mut d = Decoder::new(version);
                while let Ok(Decoded::Packet(p)) = d.decode(&mut out) {
                    last = Some(p);
                }
                let Some(Packet::Disconnect(sent)) = last else { panic!("no DISCONNECT flushed") };
                prop_assert_eq!(sent.reason_code, code);
            }
            // Later input is ignored and reports nothing more.
            client.handle_bytes(Instant::from_millis(99), &[0xC0, 0]);
            prop_assert!(client.poll_event().is_none());
            prop_assert_eq!(client.violation(), Some(v));
        } else {
            prop_assert!(reported.is_empty());
        }
    }
}
