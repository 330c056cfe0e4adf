//! A blocking MQTT 5.0 client on `mqttkit-session` alone: the sans-IO
//! `Client` driven over a `std::net::TcpStream` with a read timeout. It
//! connects, subscribes to `downstream/#`, publishes one QoS 1 message to
//! `downstream/hello`, waits for its PUBACK and for the message to come
//! back, then disconnects.
//!
//!     client HOST:PORT
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as Clock};

use mqttkit_session::bytes::BytesMut;
use mqttkit_session::{
    Client, ClientConfig, Connect, Disconnect, Event, Instant, Message, MqttString,
    ProtocolVersion, PubAckReasonCode, QoS, Session, SubscribeProperties, SubscriptionOptions,
    TopicFilter, TopicName,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).ok_or("usage: client HOST:PORT")?;
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let start = Clock::now();
    let now =
        || Instant::from_millis(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));

    let id = MqttString::try_from("mqttkit-downstream")?;
    let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    client.connect(now(), Connect::new(ProtocolVersion::V5, id))?;
    let filter = TopicFilter::try_from("downstream/#")?;
    let options = SubscriptionOptions::new(QoS::AtLeastOnce);
    client.subscribe(
        now(),
        vec![(filter, options)],
        SubscribeProperties::default(),
    )?;
    let topic = TopicName::try_from("downstream/hello")?;
    let op = client.publish(now(), Message::new(topic, &b"hello"[..], QoS::AtLeastOnce))?;

    let (mut acked, mut received) = (false, false);
    let mut out = BytesMut::new();
    let mut buf = [0_u8; 4096];
    while !(acked && received) {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("no PUBACK or no message back within 10 s".into());
        }
        while client.poll_persist().is_some() {} // an in-memory session: nothing to store
        while client.poll_transmit(&mut out).is_some() {}
        stream.write_all(&out)?;
        out.clear();
        while let Some(event) = client.poll_event() {
            match event {
                Event::Published { op: done, reason } if done == op => {
                    println!("published, {reason:?}");
                    acked = true;
                }
                Event::Message { publish, ack } => {
                    println!("received {} {:?}", publish.topic_str(), publish.payload);
                    if let Some(token) = ack {
                        client.ack(now(), token, PubAckReasonCode::Success)?;
                    }
                    received = true;
                }
                Event::Closed(cause) => return Err(format!("closed: {cause:?}").into()),
                other => println!("{other:?}"),
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err("the broker closed the connection".into()),
            Ok(n) => client.handle_bytes(now(), &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                client.handle_timeout(now());
            }
            Err(e) => return Err(e.into()),
        }
    }
    client.disconnect(now(), Disconnect::default())?;
    while client.poll_transmit(&mut out).is_some() {}
    stream.write_all(&out)?;
    println!("disconnected");
    Ok(())
}
