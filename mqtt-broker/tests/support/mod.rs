//! Shared by the broker's tests: a broker on a free port, and a raw client
//! that writes and reads single packets, for flows a well-behaved client
//! library would not produce (a PUBREC never followed up, junk bytes).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use mqttkit_broker::config::{Listener, Protocol};
use mqttkit_broker::{Broker, Config};
use mqttkit_tokio::mqttkit_session::bytes::BytesMut;
use mqttkit_tokio::mqttkit_session::{
    Connect, Decoded, Decoder, Encoder, MqttString, Packet, PacketId, Subscribe,
};
use mqttkit_tokio::{Client, ConnectOptions, Event, Events, Publish};
use mqttkit_tokio::{ConnectReasonCode, ProtocolVersion, QoS, SubscriptionOptions, TopicFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A config with one TCP listener on a free port of 127.0.0.1.
pub fn config() -> Config {
    let mut config = Config::default();
    config.listeners = vec![Listener::tcp(SocketAddr::from(([127, 0, 0, 1], 0)))];
    config
}

/// Starts a broker and returns it with its TCP address.
pub async fn start(config: Config) -> (Broker, SocketAddr) {
    let broker = Broker::start(config).await.unwrap();
    let addr = broker
        .local_addrs()
        .iter()
        .find(|(p, _)| *p == Protocol::Tcp)
        .map(|(_, a)| *a)
        .unwrap();
    (broker, addr)
}

/// Connect options for `id` at `addr`.
pub fn options(addr: SocketAddr, id: &str, version: ProtocolVersion) -> ConnectOptions {
    ConnectOptions::new(addr.ip().to_string(), addr.port())
        .client_id(id)
        .protocol_version(version)
}

/// Connects a client library client.
pub async fn client(addr: SocketAddr, id: &str, version: ProtocolVersion) -> (Client, Events) {
    Client::connect(options(addr, id, version)).await.unwrap()
}

/// The next application message, within [`PATIENCE`].
pub async fn next_message(events: &mut Events) -> Publish {
    loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Some(Event::Message { publish, .. })) => return publish,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the client ended"),
            Err(_) => panic!("no message in time"),
        }
    }
}

/// The next application message if one comes within `wait`.
pub async fn message_within(events: &mut Events, wait: Duration) -> Option<Publish> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Message { publish, .. })) => return Some(publish),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

/// A client that writes and reads whole packets by hand.
pub struct Raw {
    pub stream: TcpStream,
    encoder: Encoder,
    decoder: Decoder,
    buf: BytesMut,
}

impl Raw {
    pub async fn connect(addr: SocketAddr, version: ProtocolVersion) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            encoder: Encoder::new(version),
            decoder: Decoder::new(version),
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, packet: impl Into<Packet>) {
        let mut out = BytesMut::new();
        self.encoder.encode(&packet.into(), &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// The next packet; `None` once the broker closed the connection.
    pub async fn recv(&mut self) -> Option<Packet> {
        let read = async {
            loop {
                match self.decoder.decode(&mut self.buf) {
                    Ok(Decoded::Packet(packet)) => return Some(packet),
                    Ok(Decoded::Incomplete { .. }) => {}
                    Err(e) => panic!("bad packet from the broker: {e}"),
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(PATIENCE, read)
            .await
            .expect("no packet in time")
    }
}

/// Reads CONNACK and SUBACK of a raw client.
pub async fn handshake(raw: &mut Raw, id: &str, filter: &str, qos: QoS) {
    handshake_with(
        raw,
        Connect::new(ProtocolVersion::V5, MqttString::try_from(id).unwrap()),
        filter,
        qos,
    )
    .await;
}

/// [`handshake`] with a CONNECT of the caller's.
pub async fn handshake_with(raw: &mut Raw, connect: Connect, filter: &str, qos: QoS) {
    connected(raw, connect).await;
    subscribed(raw, filter, SubscriptionOptions::new(qos)).await;
}

/// Sends `connect` and reads a successful CONNACK.
pub async fn connected(raw: &mut Raw, connect: Connect) {
    raw.send(connect).await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    assert_eq!(ack.reason_code, ConnectReasonCode::Success);
}

/// Subscribes to `filter` with `options` and reads the SUBACK.
pub async fn subscribed(raw: &mut Raw, filter: &str, options: SubscriptionOptions) {
    let subscribe = Subscribe::new(
        PacketId::new(1).unwrap(),
        TopicFilter::try_from(filter).unwrap(),
        options,
    );
    raw.send(Packet::Subscribe(subscribe)).await;
    let Some(Packet::SubAck(_)) = raw.recv().await else {
        panic!("no SUBACK");
    };
}
