//! The server-side `Connection` driver, in process: the crate's own
//! `Client` and raw sockets against small brokers built in the test on
//! `Connecting` / `Connection`, and peers that misbehave (random bytes, a
//! slowloris CONNECT, a client that stops reading).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqttkit_session::bytes::BytesMut;
use mqttkit_session::mqttkit_topic::matches_str;
use mqttkit_session::{
    ConnAck, Connect, Decoded, Decoder, Delivery, Encoder, IncomingErrorKind, LastWill, MqttString,
    Packet, PacketId, Server, ServerCloseCause, ServerEvent, Subscribe,
};
use mqttkit_tokio::server::{
    Closed, ConnectError, Connecting, Connection, ConnectionEvent, ConnectionEvents,
    ConnectionOptions, DeliverError, DeliverFailed, ServerConfig,
};
use mqttkit_tokio::{
    Client, ConnectOptions, ConnectReasonCode, DisconnectReasonCode, Error, Event, Message,
    ProtocolVersion, QoS, SubAckReasonCode, SubscriptionOptions, TopicFilter, TopicName,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Long enough for any step on a loaded machine; a hang fails the test.
const STEP: Duration = Duration::from_secs(10);

async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(STEP, fut)
        .await
        .expect("the step did not complete in time")
}

/// [`within`] for tests on paused time, where the clock jumps ahead
/// whenever every task waits: generous in virtual time.
async fn within_virtual<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), fut)
        .await
        .expect("the step did not complete in time")
}

// ---- a small broker on the driver ------------------------------------

/// What the test broker saw.
#[derive(Debug)]
enum Seen {
    Will(String, LastWill),
    Closed(String, ServerCloseCause),
}

/// Subscriptions by client, live connections and offline sessions.
#[derive(Clone, Default)]
struct Router {
    subs: Arc<Mutex<Vec<(String, TopicFilter, QoS)>>>,
    live: Arc<Mutex<HashMap<String, (u64, Connection)>>>,
    offline: Arc<Mutex<HashMap<String, Server>>>,
}

impl Router {
    fn route(&self, options: &ConnectionOptions, message: &Message) {
        let subs = self.subs.lock().unwrap().clone();
        for (cid, filter, qos) in subs {
            if !matches_str(filter.as_str(), message.topic.as_str()) {
                continue;
            }
            let mut delivery = Delivery::new(message.clone(), SubscriptionOptions::new(qos));
            let live = self.live.lock().unwrap().get(&cid).map(|(_, c)| c.clone());
            if let Some(live) = live {
                match live.deliver(delivery) {
                    Err(DeliverFailed::Closed(back)) => delivery = *back,
                    _ => continue,
                }
            }
            if let Some(server) = self.offline.lock().unwrap().get_mut(&cid) {
                let _ = server.deliver(options.now(), delivery);
            }
        }
    }
}

/// A broker on 127.0.0.1 that grants every subscription, routes every
/// message, refuses the user name "bad" and takes sessions over.
async fn broker(
    options: ConnectionOptions,
    config: ServerConfig,
) -> (ConnectOptions, mpsc::UnboundedReceiver<Seen>, Router) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    let router = Router::default();
    let r = router.clone();
    tokio::spawn(async move {
        let mut serial = 0u64;
        while let Ok((stream, _)) = listener.accept().await {
            serial += 1;
            let (options, config, seen, router) =
                (options.clone(), config.clone(), seen.clone(), r.clone());
            tokio::spawn(serve(stream, serial, options, config, seen, router));
        }
    });
    (ConnectOptions::new("127.0.0.1", port), seen_rx, router)
}

async fn serve(
    stream: TcpStream,
    serial: u64,
    options: ConnectionOptions,
    config: ServerConfig,
    seen: mpsc::UnboundedSender<Seen>,
    router: Router,
) {
    let Ok(connecting) = Connecting::read(stream, &options).await else {
        return;
    };
    if connecting
        .connect()
        .login
        .username
        .as_ref()
        .map(|u| u.as_str())
        == Some("bad")
    {
        let mut connack = ConnAck::new(false, ConnectReasonCode::BadUserNameOrPassword);
        connack.properties.reason_string = Some(MqttString::try_from("who are you?").unwrap());
        connecting.refuse_with(connack).await;
        return;
    }
    let cid = connecting.client_id().as_str().to_owned();
    let old = router.live.lock().unwrap().remove(&cid);
    let existing = match old {
        Some((_, old)) => old.take_over().await,
        None => router.offline.lock().unwrap().remove(&cid),
    };
    if connecting.connect().clean_start {
        router.subs.lock().unwrap().retain(|(c, _, _)| *c != cid);
    }
    let Ok((connection, mut events)) = connecting.accept(existing, config).await else {
        return;
    };
    router
        .live
        .lock()
        .unwrap()
        .insert(cid.clone(), (serial, connection.clone()));
    while let Some(event) = events.recv().await {
        match event {
            ConnectionEvent::Session(ServerEvent::Subscribe {
                packet_id,
                requests,
                ..
            }) => {
                let mut subs = router.subs.lock().unwrap();
                for r in &requests {
                    subs.retain(|(c, f, _)| !(*c == cid && *f == r.filter));
                    subs.push((cid.clone(), r.filter.clone(), r.options.qos));
                }
                drop(subs);
                let codes = requests
                    .iter()
                    .map(|r| SubAckReasonCode::granted(r.options.qos))
                    .collect();
                connection.suback(packet_id, codes).unwrap();
            }
            ConnectionEvent::Session(ServerEvent::Unsubscribe { packet_id, filters }) => {
                router
                    .subs
                    .lock()
                    .unwrap()
                    .retain(|(c, f, _)| !(*c == cid && filters.iter().any(|(g, _)| g == f)));
                let codes = filters
                    .iter()
                    .map(|_| mqttkit_tokio::UnsubAckReasonCode::Success);
                connection.unsuback(packet_id, codes.collect()).unwrap();
            }
            ConnectionEvent::Session(ServerEvent::Publish { publish, ack }) => {
                if let Some(topic) = publish.topic.clone() {
                    let mut message = Message::new(topic, publish.payload, publish.qos.qos());
                    message.retain = publish.retain;
                    router.route(&options, &message);
                }
                if let Some(token) = ack {
                    connection
                        .ack(token, mqttkit_tokio::PubAckReasonCode::Success)
                        .unwrap();
                }
            }
            ConnectionEvent::Session(ServerEvent::Will(will)) => {
                let _ = seen.send(Seen::Will(cid.clone(), *will));
            }
            ConnectionEvent::Closed(Closed { cause, session, .. }) => {
                let mut live = router.live.lock().unwrap();
                if live.get(&cid).is_some_and(|(s, _)| *s == serial) {
                    live.remove(&cid);
                }
                drop(live);
                if let Some(session) = session.filter(|s| !s.is_expired()) {
                    router.offline.lock().unwrap().insert(cid.clone(), *session);
                }
                let _ = seen.send(Seen::Closed(cid.clone(), cause));
            }
            _ => {}
        }
    }
}

// ---- raw clients ------------------------------------------------------

fn encode(version: ProtocolVersion, packet: Packet) -> BytesMut {
    let mut out = BytesMut::new();
    Encoder::new(version).encode(&packet, &mut out).unwrap();
    out
}

fn connect_packet(version: ProtocolVersion, id: &str, keep_alive: u16) -> Connect {
    let mut connect = Connect::new(version, MqttString::try_from(id).unwrap());
    connect.keep_alive = keep_alive;
    connect
}

fn subscribe_packet(filter: &str, qos: QoS) -> Packet {
    Packet::Subscribe(Subscribe::new(
        PacketId::new(1).unwrap(),
        TopicFilter::try_from(filter).unwrap(),
        SubscriptionOptions::new(qos),
    ))
}

/// Reads one packet from a raw client socket; `None` at the end of the
/// stream.
async fn read_packet<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    version: ProtocolVersion,
) -> Option<Packet> {
    let mut decoder = Decoder::new(version);
    loop {
        if let Decoded::Packet(packet) = decoder.decode(buf).unwrap() {
            return Some(packet);
        }
        if within(stream.read_buf(buf)).await.unwrap() == 0 {
            return None;
        }
    }
}

/// Everything until the end of the stream.
async fn read_to_end<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut got = Vec::new();
    within(stream.read_to_end(&mut got)).await.unwrap();
    got
}

/// A raw client that sent CONNECT and got CONNACK.
async fn raw_client(options: &ConnectOptions, connect: Connect) -> (TcpStream, BytesMut) {
    let version = connect.protocol_version;
    let mut stream = TcpStream::connect((options.host(), options.port()))
        .await
        .unwrap();
    stream
        .write_all(&encode(version, Packet::from(connect)))
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let packet = read_packet(&mut stream, &mut buf, version).await;
    assert!(matches!(packet, Some(Packet::ConnAck(_))), "{packet:?}");
    (stream, buf)
}

async fn next_closed(seen: &mut mpsc::UnboundedReceiver<Seen>) -> (String, ServerCloseCause) {
    loop {
        match within(seen.recv()).await.unwrap() {
            Seen::Closed(cid, cause) => return (cid, cause),
            Seen::Will(..) => {}
        }
    }
}

/// A client's message round trip in QoS 0, 1 and 2 through the broker.
async fn round_trip(client_options: ConnectOptions, topic: &str) {
    let (client, mut events) = within(Client::connect(client_options)).await.unwrap();
    let granted = within(client.subscribe(&format!("{topic}/#"), QoS::ExactlyOnce)).await;
    assert_eq!(granted.unwrap(), SubAckReasonCode::GrantedQoS2);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let reason = within(client.publish(&format!("{topic}/{qos:?}"), qos, "hi")).await;
        assert!(!reason.unwrap().is_error());
    }
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let Some(Event::Message { publish, .. }) = within(events.recv()).await else {
            panic!("expected a message");
        };
        assert_eq!(publish.topic_str(), format!("{topic}/{qos:?}"));
        assert_eq!(publish.qos.qos(), qos);
    }
    within(client.disconnect()).await.unwrap();
}

// ---- tests -------------------------------------------------------------

#[tokio::test]
async fn v5_round_trip_qos_0_1_2_with_the_crate_client() {
    let (options, mut seen, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    round_trip(options.client_id("rt5"), "x").await;
    let (cid, cause) = next_closed(&mut seen).await;
    assert_eq!(cid, "rt5");
    assert!(matches!(cause, ServerCloseCause::ByClient(_)), "{cause:?}");
}

#[tokio::test]
async fn v3_1_1_round_trip_qos_0_1_2_with_the_crate_client() {
    let config = ServerConfig {
        manual_ack: true,
        ..ServerConfig::default()
    };
    let (options, _, _) = broker(ConnectionOptions::new(), config).await;
    let options = options
        .client_id("rt3")
        .protocol_version(ProtocolVersion::V3_1_1);
    round_trip(options, "y").await;
}

/// Large messages reach every subscriber whole and in order, between
/// small ones: the driver writes their payloads from the shared message
/// with vectored writes that the socket may take only part of.
#[tokio::test]
async fn large_payloads_reach_every_subscriber_whole_and_in_order() {
    let (options, _, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    let mut subscribers = Vec::new();
    for n in 0..2 {
        let (client, events) = within(Client::connect(
            options.clone().client_id(format!("big-sub-{n}")),
        ))
        .await
        .unwrap();
        let granted = within(client.subscribe("big/#", QoS::AtLeastOnce)).await;
        assert_eq!(granted.unwrap(), SubAckReasonCode::GrantedQoS1);
        subscribers.push((client, events));
    }
    let (publisher, _publisher_events) = within(Client::connect(options.client_id("big-pub")))
        .await
        .unwrap();
    let sizes = [40 * 1024, 3, 600, 60 * 1024, 1];
    let payload = |i: usize, len: usize| -> Vec<u8> {
        (0..len)
            .map(|j| u8::try_from((i * 31 + j) % 251).unwrap())
            .collect()
    };
    for (i, len) in sizes.into_iter().enumerate() {
        let reason =
            within(publisher.publish(&format!("big/{i}"), QoS::AtLeastOnce, payload(i, len))).await;
        assert!(!reason.unwrap().is_error());
    }
    for (_, events) in &mut subscribers {
        for (i, len) in sizes.into_iter().enumerate() {
            let Some(Event::Message { publish, .. }) = within(events.recv()).await else {
                panic!("expected message {i}");
            };
            assert_eq!(publish.topic_str(), format!("big/{i}"));
            assert!(
                publish.payload == payload(i, len),
                "message {i} arrived whole"
            );
        }
    }
}

/// v5 [MQTT-3.2.2-7]: a refusing CONNACK (here with a Reason String) is
/// followed by the close of the connection; v5 [MQTT-3.2.2-6]: Session
/// Present 0.
#[tokio::test]
async fn v5_mqtt_3_2_2_7_refused_connect_gets_its_connack_then_the_close() {
    let (options, _, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    let mut connect = connect_packet(ProtocolVersion::V5, "refused", 0);
    connect.login.username = Some(MqttString::try_from("bad").unwrap());
    let mut stream = TcpStream::connect((options.host(), options.port()))
        .await
        .unwrap();
    stream
        .write_all(&encode(ProtocolVersion::V5, Packet::from(connect)))
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let packet = read_packet(&mut stream, &mut buf, ProtocolVersion::V5).await;
    let Some(Packet::ConnAck(connack)) = packet else {
        panic!("expected CONNACK, got {packet:?}");
    };
    assert_eq!(
        connack.reason_code,
        ConnectReasonCode::BadUserNameOrPassword
    );
    assert!(!connack.session_present);
    assert_eq!(
        connack
            .properties
            .reason_string
            .as_ref()
            .map(|s| s.as_str()),
        Some("who are you?")
    );
    assert!(
        read_to_end(&mut stream).await.is_empty(),
        "closed after CONNACK"
    );

    // The crate's client reports the refusal with the code.
    let refused = within(Client::connect(options.username("bad"))).await;
    let Err(Error::Refused(connack)) = refused else {
        panic!("expected a refusal, got {:?}", refused.map(|_| ()));
    };
    assert_eq!(
        connack.reason_code,
        ConnectReasonCode::BadUserNameOrPassword
    );
}

/// v5 [MQTT-3.1.0-1]: the first packet must be CONNECT; anything else
/// closes the connection without CONNACK.
#[tokio::test]
async fn v5_mqtt_3_1_0_1_a_first_packet_other_than_connect_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        Connecting::read(stream, &ConnectionOptions::new()).await
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(&[0xC0, 0x00]).await.unwrap(); // PINGREQ
    let read = within(server).await.unwrap();
    let Err(ConnectError::Invalid(err)) = read else {
        panic!("expected the refusal, got {read:?}");
    };
    assert_eq!(err.error, IncomingErrorKind::NotConnect);
    assert!(read_to_end(&mut client).await.is_empty());
}

/// A slowloris CONNECT: one byte at a time, never complete. The whole
/// CONNECT has one deadline, so the connection is closed although bytes
/// keep coming.
#[tokio::test]
async fn slowloris_connect_is_closed_at_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ConnectionOptions::new().connect_timeout(Duration::from_millis(300));
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        Connecting::read(stream, &options).await
    });
    let client = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = client.into_split();
    let connect = encode(
        ProtocolVersion::V5,
        Packet::from(connect_packet(ProtocolVersion::V5, "slow", 0)),
    );
    let dripping = tokio::spawn(async move {
        // Far more time than the timeout, one byte at a time.
        for byte in connect.iter().take(connect.len() - 1).cycle().take(10_000) {
            if wr.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server never closed the connection");
    });
    let read = within(server).await.unwrap();
    assert!(matches!(read, Err(ConnectError::Timeout)), "{read:?}");
    let mut rest = Vec::new();
    assert_eq!(within(rd.read_to_end(&mut rest)).await.unwrap_or(0), 0);
    within(dripping).await.unwrap();
}

/// Random bytes before and after CONNECT: no panic, every connection
/// ends with a `Closed` event, in 5.0 after a DISCONNECT of 0x80 or more
/// if the server wrote one (v5 [MQTT-4.13.1-1]).
#[tokio::test]
async fn v5_mqtt_4_13_1_1_random_bytes_close_the_connection_without_panic() {
    let (options, mut seen, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let len = (next() % 300) as usize + 1;
        let garbage: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 {
            // Before CONNECT: `Connecting::read` refuses it.
            let mut stream = TcpStream::connect((options.host(), options.port()))
                .await
                .unwrap();
            let _ = stream.write_all(&garbage).await;
            let _ = stream.shutdown().await;
            let _ = within(stream.read_to_end(&mut Vec::new())).await;
            continue;
        }
        let id = format!("garbage-{round}");
        let connect = connect_packet(ProtocolVersion::V5, &id, 0);
        let (mut stream, _) = raw_client(&options, connect).await;
        let _ = stream.write_all(&garbage).await;
        let _ = stream.shutdown().await;
        let got = read_to_end(&mut stream).await;
        if let Some(&[0xE0, _, code, ..]) = Some(got.as_slice()) {
            assert!(code >= 0x80, "DISCONNECT {code:#x}");
        }
        let (cid, _) = next_closed(&mut seen).await;
        assert_eq!(cid, id, "every connection is reported closed");
    }
    // The broker still serves.
    round_trip(options.client_id("after-garbage"), "g").await;
}

/// v5 [MQTT-3.1.2-22]: with a Keep Alive, the server closes a connection
/// that sends nothing for one and a half times it, with DISCONNECT 0x8D.
/// Paused time: the clock moves only when every task waits.
#[tokio::test(start_paused = true)]
async fn v5_mqtt_3_1_2_22_keep_alive_closes_after_one_and_a_half_times() {
    keep_alive_case(ProtocolVersion::V5).await;
}

/// v3.1.1 [MQTT-3.1.2-24]: the same, closed without DISCONNECT.
#[tokio::test(start_paused = true)]
async fn v3_1_1_mqtt_3_1_2_24_keep_alive_closes_after_one_and_a_half_times() {
    keep_alive_case(ProtocolVersion::V3_1_1).await;
}

/// A raw client over an in-memory pipe of `capacity` bytes, connected
/// with `connect`: returns its end, its read buffer (CONNACK read and
/// checked) and the server's connection with its events.
async fn duplex_session(
    options: ConnectionOptions,
    capacity: usize,
    version: ProtocolVersion,
    connect: Connect,
) -> (DuplexStream, BytesMut, Connection, ConnectionEvents) {
    let (mut client, server_io) = tokio::io::duplex(capacity);
    let accepted = tokio::spawn(async move {
        let connecting = Connecting::read(server_io, &options).await.unwrap();
        connecting
            .accept(None, ServerConfig::default())
            .await
            .unwrap()
    });
    client
        .write_all(&encode(version, Packet::from(connect)))
        .await
        .unwrap();
    let (connection, events) = accepted.await.unwrap();
    let mut buf = BytesMut::new();
    let connack = read_packet(&mut client, &mut buf, version).await;
    assert!(matches!(connack, Some(Packet::ConnAck(_))), "{connack:?}");
    (client, buf, connection, events)
}

async fn keep_alive_case(version: ProtocolVersion) {
    let connect = connect_packet(version, "ka", 10);
    let (mut client, mut buf, _connection, mut events) =
        duplex_session(ConnectionOptions::new(), 4096, version, connect).await;
    // 14 s of silence is within 1.5 x 10 s: PINGREQ is still answered.
    tokio::time::sleep(Duration::from_secs(14)).await;
    client.write_all(&[0xC0, 0x00]).await.unwrap();
    let pong = read_packet(&mut client, &mut buf, version).await;
    assert!(matches!(pong, Some(Packet::PingResp)), "{pong:?}");
    // Then silence: the server closes.
    let mut got = Vec::new();
    within_virtual(client.read_to_end(&mut got)).await.unwrap();
    if version.is_v5() {
        assert_eq!(got, [0xE0, 0x01, 0x8D], "DISCONNECT 0x8D, then the close");
    } else {
        assert!(got.is_empty(), "3.1.1: closed without a word");
    }
    let closed = loop {
        match within_virtual(events.recv()).await {
            // Session Expiry 0: the session ends with the connection.
            Some(ConnectionEvent::Session(ServerEvent::SessionExpired)) => {}
            Some(ConnectionEvent::Closed(closed)) => break closed,
            other => panic!("expected Closed, got {other:?}"),
        }
    };
    assert_eq!(closed.cause, ServerCloseCause::KeepAliveTimeout);
    assert!(closed.session.is_some_and(|s| s.is_expired()));
    assert!(within_virtual(events.recv()).await.is_none());
}

/// A will is published when the connection closes without DISCONNECT
/// (v5 [MQTT-3.1.2-8]) and discarded on a normal DISCONNECT
/// (v5 [MQTT-3.14.4-3]).
#[tokio::test]
async fn v5_mqtt_3_1_2_8_will_on_abnormal_close_and_mqtt_3_14_4_3_none_on_disconnect() {
    let (options, mut seen, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    for (id, clean) in [("will-clean", true), ("will-dropped", false)] {
        let mut connect = connect_packet(ProtocolVersion::V5, id, 0);
        connect.will = Some(LastWill::new(TopicName::try_from("wills").unwrap(), id));
        let (mut stream, _) = raw_client(&options, connect).await;
        if clean {
            stream.write_all(&[0xE0, 0x00]).await.unwrap(); // DISCONNECT 0x00
        }
        drop(stream);
        let mut will = None;
        let cause = loop {
            match within(seen.recv()).await.unwrap() {
                Seen::Will(cid, w) => will = Some((cid, w)),
                Seen::Closed(_, cause) => break cause,
            }
        };
        if clean {
            assert!(will.is_none(), "no will after DISCONNECT 0x00");
            assert!(matches!(cause, ServerCloseCause::ByClient(_)));
        } else {
            let (cid, will) = will.expect("the will");
            assert_eq!((cid.as_str(), &will.payload[..]), (id, id.as_bytes()));
            assert_eq!(cause, ServerCloseCause::TransportClosed);
        }
    }
}

/// The broker disconnects a client with a reason code: the 5.0 client
/// gets DISCONNECT with it (v5 [MQTT-4.13.2-1]: then the connection is
/// closed).
#[tokio::test]
async fn v5_mqtt_4_13_2_1_broker_disconnects_a_client_with_a_reason_code() {
    let (options, mut seen, router) =
        broker(ConnectionOptions::new(), ServerConfig::default()).await;
    let (_client, mut events) = within(Client::connect(options.client_id("kicked")))
        .await
        .unwrap();
    let connection = router.live.lock().unwrap()["kicked"].1.clone();
    connection.disconnect(DisconnectReasonCode::AdministrativeAction);
    let event = within(events.recv()).await;
    let Some(Event::Disconnected(Error::ByServer(disconnect))) = event else {
        panic!("expected the server's DISCONNECT, got {event:?}");
    };
    assert_eq!(
        disconnect.reason_code,
        DisconnectReasonCode::AdministrativeAction
    );
    let (_, cause) = next_closed(&mut seen).await;
    assert_eq!(
        cause,
        ServerCloseCause::ByServer(DisconnectReasonCode::AdministrativeAction)
    );
    assert!(!connection.is_connected());
    let late = Delivery::new(
        Message::new(TopicName::try_from("t").unwrap(), "x", QoS::AtLeastOnce),
        SubscriptionOptions::new(QoS::AtLeastOnce),
    );
    assert!(matches!(
        connection.deliver(late),
        Err(DeliverFailed::Closed(_))
    ));
}

/// A raw 5.0 client with Clean Start 0 and a Session Expiry of 600 s:
/// the crate's `Client` keeps no session state across instances, and a
/// client without state must refuse Session Present 1 (v5 [MQTT-3.2.2-4]).
fn durable_connect(id: &str) -> Connect {
    let mut connect = connect_packet(ProtocolVersion::V5, id, 0);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(600);
    connect
}

async fn expect_session_present(stream: &mut TcpStream, expected: bool, id: &str) -> BytesMut {
    let v5 = ProtocolVersion::V5;
    stream
        .write_all(&encode(v5, Packet::from(durable_connect(id))))
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let packet = read_packet(stream, &mut buf, v5).await;
    let Some(Packet::ConnAck(connack)) = packet else {
        panic!("expected CONNACK, got {packet:?}");
    };
    assert_eq!(connack.session_present, expected);
    buf
}

/// Session resumption: the session handed back at the close keeps the
/// subscription and the QoS 1 message routed while offline; the next
/// connection with Clean Start 0 gets Session Present 1
/// (v5 [MQTT-3.2.2-3]) and the message.
#[tokio::test]
async fn v5_mqtt_3_2_2_3_a_kept_session_is_resumed_with_its_queued_messages() {
    let (options, mut seen, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    let v5 = ProtocolVersion::V5;
    let addr = (options.host().to_owned(), options.port());
    let mut stream = TcpStream::connect(addr.clone()).await.unwrap();
    let mut buf = expect_session_present(&mut stream, false, "durable").await;
    stream
        .write_all(&encode(v5, subscribe_packet("news", QoS::AtLeastOnce)))
        .await
        .unwrap();
    let suback = read_packet(&mut stream, &mut buf, v5).await;
    assert!(matches!(suback, Some(Packet::SubAck(_))), "{suback:?}");
    stream.write_all(&[0xE0, 0x00]).await.unwrap();
    assert!(read_to_end(&mut stream).await.is_empty());
    next_closed(&mut seen).await;

    let (publisher, _e) = within(Client::connect(options.client_id("pub")))
        .await
        .unwrap();
    within(publisher.publish("news", QoS::AtLeastOnce, "while away"))
        .await
        .unwrap();

    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut buf = expect_session_present(&mut stream, true, "durable").await;
    let packet = read_packet(&mut stream, &mut buf, v5).await;
    let Some(Packet::Publish(publish)) = packet else {
        panic!("expected the queued message, got {packet:?}");
    };
    assert_eq!(&publish.payload[..], b"while away");
}

/// Session takeover: a second connection with the same client identifier
/// takes the session; the first gets DISCONNECT 0x8E and is closed
/// (v5 [MQTT-3.1.4-3]), and the subscription carries over.
#[tokio::test]
async fn v5_mqtt_3_1_4_3_takeover_disconnects_the_old_connection_with_0x8e() {
    let (options, _seen, _) = broker(ConnectionOptions::new(), ServerConfig::default()).await;
    let twin = options
        .clone()
        .client_id("twin")
        .session_expiry(Duration::from_secs(600));
    let (first, mut first_events) = within(Client::connect(twin)).await.unwrap();
    within(first.subscribe("tw", QoS::AtLeastOnce))
        .await
        .unwrap();
    let mut second = TcpStream::connect((options.host(), options.port()))
        .await
        .unwrap();
    let mut buf = expect_session_present(&mut second, true, "twin").await;
    let event = within(first_events.recv()).await;
    let Some(Event::Disconnected(Error::ByServer(disconnect))) = event else {
        panic!("expected DISCONNECT 0x8E, got {event:?}");
    };
    assert_eq!(
        disconnect.reason_code,
        DisconnectReasonCode::SessionTakenOver
    );
    let (publisher, _e) = within(Client::connect(options.client_id("tw-pub")))
        .await
        .unwrap();
    within(publisher.publish("tw", QoS::AtLeastOnce, "mine"))
        .await
        .unwrap();
    let packet = read_packet(&mut second, &mut buf, ProtocolVersion::V5).await;
    let Some(Packet::Publish(publish)) = packet else {
        panic!("expected the message on the new connection, got {packet:?}");
    };
    assert_eq!(&publish.payload[..], b"mine");
}

/// A slow application: while the event queue is full the driver does not
/// read the socket, so the client's writes stop being taken; once the
/// events are read everything arrives, in order. Paused time makes "not
/// taken" exact: the clock only moves once every task waits.
#[tokio::test(start_paused = true)]
async fn a_full_event_queue_stops_reading_the_socket() {
    let options = ConnectionOptions::new().event_capacity(4);
    let v5 = ProtocolVersion::V5;
    let connect = connect_packet(v5, "flood", 0);
    let (client, _, _connection, mut events) = duplex_session(options, 256, v5, connect).await;
    let mut publishes = BytesMut::new();
    for i in 0..200u32 {
        let publish = mqttkit_session::Publish::new(
            TopicName::try_from("f").unwrap(),
            i.to_be_bytes().to_vec(),
        );
        publishes.extend_from_slice(&encode(v5, Packet::Publish(publish)));
    }
    let (rd, mut wr) = tokio::io::split(client);
    let writer = tokio::spawn(async move { wr.write_all(&publishes).await });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!writer.is_finished(), "the driver kept reading");
    let mut next = 0u32;
    while next < 200 {
        match within(events.recv()).await {
            Some(ConnectionEvent::Session(ServerEvent::Publish { publish, .. })) => {
                assert_eq!(publish.payload[..], next.to_be_bytes());
                next += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    within(writer).await.unwrap().unwrap();
    drop(rd);
}

/// Delivers 1 KiB messages at `qos` to `connection`, yielding to the
/// driver after each, until one is refused with `QueueFull`; returns how
/// many were taken. Fails if more than `most` are.
async fn deliver_until_full(connection: &Connection, qos: QoS, most: usize) -> usize {
    let message = Message::new(TopicName::try_from("big").unwrap(), vec![7u8; 1024], qos);
    let mut taken = 0usize;
    loop {
        let delivery = Delivery::new(message.clone(), SubscriptionOptions::new(qos));
        match connection.deliver(delivery) {
            Ok(_) => taken += 1,
            Err(DeliverFailed::Refused(DeliverError::QueueFull)) => return taken,
            Err(other) => panic!("{other}"),
        }
        assert!(taken < most, "{qos:?} deliveries were never refused");
        tokio::task::yield_now().await;
    }
}

/// A client that stops reading: QoS 0 deliveries are refused once the
/// unwritten bytes reach the bound, QoS 1 ones once the session's queue is
/// full; nothing blocks the broker, and another connection on the same
/// single-threaded runtime is served meanwhile.
#[tokio::test]
async fn a_client_that_stops_reading_fills_only_its_bounded_queues() {
    let config = ServerConfig {
        max_queued_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let (options, mut seen, router) = broker(ConnectionOptions::new(), config.clone()).await;
    let (stuck, _) = raw_client(&options, connect_packet(ProtocolVersion::V5, "stuck", 0)).await;
    let connection = router.live.lock().unwrap()["stuck"].1.clone();
    // QoS 0: written until the socket's buffers and then the driver's
    // bound are full.
    deliver_until_full(&connection, QoS::AtMostOnce, 1_000_000).await;
    // QoS 1: the inflight window goes out (and waits), then the session's
    // queue fills up to its bound.
    let queued = deliver_until_full(&connection, QoS::AtLeastOnce, 100_000).await;
    assert!(queued * 1024 <= 64 * 1024 + 20 * 1024 + 1024, "{queued}");

    // Another client on the same runtime is unaffected.
    round_trip(options.client_id("bystander"), "b").await;
    let (cid, _) = next_closed(&mut seen).await;
    assert_eq!(cid, "bystander");

    // The stuck client goes away: the connection ends and the session
    // comes back within its bound.
    drop(stuck);
    let (cid, _) = next_closed(&mut seen).await;
    assert_eq!(cid, "stuck");
    assert!(!connection.is_connected());
}

/// With a handler instead of the event stream, the driver task runs it on
/// every event, in order: the SUBSCRIBE (answered through the handle), the
/// client's PUBLISH, the end of its session (expiry 0), then `Closed` last.
#[tokio::test]
async fn handler_sees_every_event_in_order_and_closed_last() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<String>();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let connecting = Connecting::read(stream, &ConnectionOptions::new())
            .await
            .unwrap();
        connecting
            .accept_with_handler(None, ServerConfig::default(), move |connection| {
                let connection = connection.clone();
                move |event| {
                    let name = match event {
                        ConnectionEvent::Session(ServerEvent::Subscribe {
                            packet_id,
                            requests,
                            ..
                        }) => {
                            let codes = requests
                                .iter()
                                .map(|r| SubAckReasonCode::granted(r.options.qos))
                                .collect();
                            connection.suback(packet_id, codes).unwrap();
                            "subscribe".to_owned()
                        }
                        ConnectionEvent::Session(ServerEvent::Publish { publish, .. }) => {
                            format!("publish {}", publish.topic_str())
                        }
                        ConnectionEvent::Session(other) => format!("{other:?}"),
                        ConnectionEvent::Closed(_) => "closed".to_owned(),
                        _ => "other".to_owned(),
                    };
                    let _ = seen_tx.send(name);
                }
            })
            .await
            .unwrap()
    });
    let options = ConnectOptions::new("127.0.0.1", addr.port()).client_id("handled");
    let (client, _events) = within(Client::connect(options)).await.unwrap();
    let granted = within(client.subscribe("h/#", QoS::AtLeastOnce)).await;
    assert_eq!(granted.unwrap(), SubAckReasonCode::GrantedQoS1);
    within(client.publish("h/1", QoS::AtLeastOnce, "x"))
        .await
        .unwrap();
    within(client.disconnect()).await.unwrap();
    let connection = within(server).await.unwrap();
    let mut names = Vec::new();
    while let Some(name) = within(seen.recv()).await {
        let last = name == "closed";
        names.push(name);
        if last {
            break;
        }
    }
    assert_eq!(
        names,
        ["subscribe", "publish h/1", "SessionExpired", "closed"]
    );
    assert!(!connection.is_connected());
}

/// A paused connection reads nothing until the pause ends: a PUBLISH sent
/// meanwhile is reported only after it (virtual time). Keep alive is
/// untouched: the session's timers run on.
#[tokio::test(start_paused = true)]
async fn pause_reading_holds_the_clients_packets_until_it_ends() {
    let version = ProtocolVersion::V5;
    let connect = connect_packet(version, "paused", 60);
    let (mut client, _buf, connection, mut events) =
        duplex_session(ConnectionOptions::new(), 4096, version, connect).await;
    connection.pause_reading(Duration::from_secs(10));
    let publish = mqttkit_session::Publish::new(TopicName::try_from("p/1").unwrap(), "x");
    client
        .write_all(&encode(version, Packet::from(publish)))
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_secs(9), events.recv()).await;
    assert!(early.is_err(), "read during the pause: {early:?}");
    match within_virtual(events.recv()).await {
        Some(ConnectionEvent::Session(ServerEvent::Publish { publish, .. })) => {
            assert_eq!(publish.topic_str(), "p/1");
        }
        other => panic!("expected the PUBLISH after the pause, got {other:?}"),
    }
    assert!(connection.is_connected());
    assert_eq!(connection.backlog(), (0, 0));
}
