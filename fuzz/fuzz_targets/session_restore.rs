//! Arbitrary bytes read as a session snapshot (`Session::restore`), as a
//! damaged or hostile file would give them. The oracle: no panic, and a
//! snapshot that is accepted writes out again and restores to the same
//! bytes.
//!
//! `data[0]` picks the layout, so that the fuzzer gets past the header:
//! - even: the rest is the whole snapshot;
//! - odd: a real snapshot (a session with queued messages of every QoS and
//!   an inbound QoS 2 flow), whose bytes from `data[1]` on are replaced by
//!   the rest of the input, and cut where the input ends.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mqttkit_session::{
    Client, ClientConfig, Instant, Message, MqttString, QoS, Session, TopicName,
};

fn real_snapshot() -> Vec<u8> {
    let id = MqttString::try_from("fuzz-restore").expect("a valid client id");
    let mut client = Client::new(Session::new(id), ClientConfig::default());
    for (n, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let topic = TopicName::try_from(format!("plant/{n}/temp")).expect("a valid topic");
        let mut message = Message::new(topic, Bytes::from(vec![n as u8; 8]), qos);
        message.properties.message_expiry_interval = Some(60);
        let _ = client.publish(Instant::ZERO, message);
    }
    client
        .session()
        .snapshot(Instant::ZERO)
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some((&layout, rest)) = data.split_first() else {
        return;
    };
    let bytes = if layout % 2 == 0 {
        rest.to_vec()
    } else {
        let Some((&at, tail)) = rest.split_first() else {
            return;
        };
        let mut snapshot = real_snapshot();
        let at = usize::from(at).min(snapshot.len());
        snapshot.truncate(at);
        snapshot.extend_from_slice(tail);
        snapshot
    };
    let Ok(session) = Session::restore(Bytes::from(bytes), Instant::ZERO, Duration::ZERO) else {
        return;
    };
    let again = session.snapshot(Instant::ZERO).expect("a restored session writes out");
    let twice = Session::restore(again.clone(), Instant::ZERO, Duration::ZERO)
        .expect("its snapshot restores");
    assert_eq!(twice.snapshot(Instant::ZERO).expect("and writes out again"), again);
});
