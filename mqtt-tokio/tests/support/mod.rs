//! Peers for the driver tests: a small echo broker on the server role of
//! `mqttkit-session`, raw servers that misbehave on purpose, and the round
//! trip that runs against both the echo broker and mosquitto.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::future::Future;
use std::time::Duration;

use mqttkit_session::bytes::BytesMut;
use mqttkit_session::mqttkit_topic::matches_str;
use mqttkit_session::{
    Delivery, Incoming, Instant, MqttString, ServerCloseCause, ServerConfig, ServerEvent,
    UnsubAckReasonCode,
};
use mqttkit_tokio::{
    Client, ConnectOptions, Error, Event, Message, ProtocolVersion, PubAckReasonCode, QoS,
    ReasonCode, SubAckReasonCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Long enough for any step of a test on a loaded machine; a hang fails
/// the test instead of blocking the run.
pub const STEP: Duration = Duration::from_secs(10);

/// `fut`, or a failure after [`STEP`].
pub async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(STEP, fut)
        .await
        .expect("the step did not complete in time")
}

/// A listener on a free port of 127.0.0.1.
pub async fn listen() -> (TcpListener, ConnectOptions) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, ConnectOptions::new("127.0.0.1", port))
}

/// The server side's clock: milliseconds since `origin`.
fn now(origin: tokio::time::Instant) -> Instant {
    Instant::from_millis(origin.elapsed().as_millis() as u64)
}

/// Reads the client's CONNECT from any byte stream (TCP, TLS, WebSocket,
/// ...) and accepts it with the server role; returns the server, with
/// CONNACK queued, and the bytes after CONNECT.
pub async fn read_connect<S>(
    stream: &mut S,
    config: ServerConfig,
    origin: tokio::time::Instant,
) -> (mqttkit_session::Server, BytesMut)
where
    S: tokio::io::AsyncRead + Unpin,
{
    let mut received = BytesMut::new();
    let mut buf = [0u8; 1024];
    let mut incoming = loop {
        let n = within(stream.read(&mut buf)).await.unwrap();
        assert!(n > 0, "the client closed before CONNECT");
        received.extend_from_slice(&buf[..n]);
        if let Some(incoming) = Incoming::read(&mut received, None).unwrap() {
            break incoming;
        }
    };
    if incoming.client_id().is_empty() {
        // A broker assigns one (v5 [MQTT-3.1.3-6], v3.1.1 [MQTT-3.1.3-6]).
        let id = MqttString::try_from(format!("assigned-{}", origin.elapsed().as_nanos()));
        incoming.assign_client_id(id.unwrap()).unwrap();
    }
    let server = incoming
        .accept(now(origin), None, config)
        .expect("CONNECT accepted");
    (server, received)
}

/// Accepts one client and answers its CONNECT with an accepting CONNACK,
/// then hands the raw socket over; for servers that misbehave.
pub async fn accept_raw(listener: &TcpListener) -> TcpStream {
    let (mut stream, _) = within(listener.accept()).await.unwrap();
    let origin = tokio::time::Instant::now();
    let (mut server, _) = read_connect(&mut stream, ServerConfig::default(), origin).await;
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    stream.write_all(&out).await.unwrap();
    stream
}

/// Everything the client sends until it closes the connection.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    within(stream.read_to_end(&mut got)).await.unwrap();
    got
}

/// How a connection to the echo broker ended.
#[derive(Debug)]
pub struct Report {
    /// The server role's cause.
    pub cause: ServerCloseCause,
    /// The client closed the socket right after: nothing came after the
    /// packet that ended the connection.
    pub eof_after: bool,
}

/// A broker that accepts every client and sends each PUBLISH back to the
/// client that sent it, if one of its subscriptions matches. QoS 1 and 2
/// messages are acknowledged with `ack` (echoed only when it is Success).
/// Each ended connection is reported.
pub async fn echo_broker(
    ack: PubAckReasonCode,
) -> (ConnectOptions, mpsc::UnboundedReceiver<Report>) {
    let (listener, options) = listen().await;
    let (reports, reported) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_echo(stream, ack, Some(reports.clone())));
        }
    });
    (options, reported)
}

/// Serves one connection of the echo broker over any byte stream, until
/// it ends. With `reports`, how it ended is reported once the client has
/// closed its side (or [`STEP`] passed); without, the stream is shut down.
async fn serve_echo<S>(
    mut stream: S,
    ack: PubAckReasonCode,
    reports: Option<mpsc::UnboundedSender<Report>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let origin = tokio::time::Instant::now();
    let config = ServerConfig {
        manual_ack: ack != PubAckReasonCode::Success,
        // Room for the large echoes of the backpressure test.
        max_queued_bytes: 16 << 20,
        ..ServerConfig::default()
    };
    let (mut server, rest) = read_connect(&mut stream, config, origin).await;
    server.handle_bytes(now(origin), &rest);
    let mut buf = vec![0u8; 8192];
    let mut out = BytesMut::new();
    let mut closed = None;
    loop {
        loop {
            out.clear();
            let wrote = server.poll_transmit(&mut out).is_some();
            if wrote && stream.write_all(&out).await.is_err() {
                server.handle_transport_closed(now(origin));
            }
            let mut handled = false;
            while let Some(event) = server.poll_event() {
                handled = true;
                match event {
                    ServerEvent::Publish {
                        publish,
                        ack: token,
                    } => {
                        if let Some(token) = token {
                            server.ack(now(origin), token, ack).unwrap();
                        }
                        if ack != PubAckReasonCode::Success {
                            continue;
                        }
                        let topic = publish.topic.clone().unwrap();
                        let matching: Vec<_> = server
                            .subscriptions()
                            .filter(|(filter, _)| matches_str(filter.as_str(), topic.as_str()))
                            .map(|(_, subscription)| subscription.options)
                            .collect();
                        for options in matching {
                            let message = Message::new(
                                topic.clone(),
                                publish.payload.clone(),
                                publish.qos.qos(),
                            );
                            server
                                .deliver(now(origin), Delivery::new(message, options))
                                .unwrap();
                        }
                    }
                    ServerEvent::Subscribe {
                        packet_id,
                        requests,
                        ..
                    } => {
                        let granted = requests
                            .iter()
                            .map(|r| SubAckReasonCode::granted(r.options.qos))
                            .collect();
                        server.suback(packet_id, granted).unwrap();
                    }
                    ServerEvent::Unsubscribe { packet_id, filters } => {
                        let codes = filters
                            .iter()
                            .map(|(_, existed)| match existed {
                                true => UnsubAckReasonCode::Success,
                                false => UnsubAckReasonCode::NoSubscriptionExisted,
                            })
                            .collect();
                        server.unsuback(packet_id, codes).unwrap();
                    }
                    ServerEvent::Closed(cause) => closed = Some(cause),
                    _ => {}
                }
            }
            if !wrote && !handled {
                break;
            }
        }
        if let Some(cause) = closed {
            match reports {
                Some(reports) => {
                    let next = tokio::time::timeout(STEP, stream.read(&mut buf)).await;
                    let eof_after = matches!(next, Ok(Ok(0)));
                    let _ = reports.send(Report { cause, eof_after });
                }
                None => {
                    let _ = stream.shutdown().await;
                }
            }
            return;
        }
        let deadline = server
            .poll_timeout()
            .map(|at| origin + Duration::from_millis(at.as_millis()));
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => server.handle_transport_closed(now(origin)),
                Ok(n) => server.handle_bytes(now(origin), &buf[..n]),
            },
            () = tokio::time::sleep_until(deadline.unwrap_or(origin)), if deadline.is_some() => {
                server.handle_timeout(now(origin));
            }
        }
    }
}

/// Connects, subscribes to `{prefix}/#` at QoS 2, publishes at QoS 0, 1
/// and 2 and receives the three messages back, unsubscribes and
/// disconnects, checking every outcome.
pub async fn round_trip(options: ConnectOptions, prefix: &str) {
    let (client, mut events) = within(Client::connect(options)).await.unwrap();
    assert!(!client.session_present());
    let v5 = client.protocol_version() == ProtocolVersion::V5;
    let filter = format!("{prefix}/#");
    let granted = within(client.subscribe(&filter, QoS::ExactlyOnce))
        .await
        .unwrap();
    assert_eq!(granted, SubAckReasonCode::GrantedQoS2);

    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for (i, qos) in levels.into_iter().enumerate() {
        let topic = format!("{prefix}/{i}");
        let reason = within(client.publish(&topic, qos, format!("message {i}")))
            .await
            .unwrap();
        assert_eq!(reason, ReasonCode::Success, "QoS {qos:?}");
    }
    for (i, qos) in levels.into_iter().enumerate() {
        let event = within(events.recv()).await;
        let Some(Event::Message { publish, ack }) = event else {
            panic!("expected message {i}, got {event:?}");
        };
        assert_eq!(publish.topic_str(), format!("{prefix}/{i}"));
        assert_eq!(publish.payload, format!("message {i}").as_bytes());
        assert_eq!(publish.qos.qos(), qos);
        assert!(ack.is_none(), "acknowledged by the driver");
    }

    let code = within(client.unsubscribe(&filter)).await.unwrap();
    assert_eq!(code, mqttkit_tokio::UnsubAckReasonCode::Success, "v5: {v5}");
    within(client.disconnect()).await.unwrap();
    let last = within(events.recv()).await;
    assert!(
        matches!(last, Some(Event::Disconnected(Error::Closed))),
        "{last:?}"
    );
    assert!(within(events.recv()).await.is_none());
    let after = client
        .publish(&format!("{prefix}/late"), QoS::AtMostOnce, "x")
        .await;
    assert!(matches!(after, Err(Error::Closed)), "{after:?}");
}

/// The echo broker of [`echo_broker`] (acknowledging with Success) over
/// another transport: each accepted TCP connection goes through `wrap`
/// (a TLS or WebSocket handshake, say) first, and one that fails it is
/// dropped. Returns the port it listens on, on 127.0.0.1.
pub async fn echo_broker_over<F, Fut, S>(wrap: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = Option<S>> + Send + 'static,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let wrapped = wrap(stream);
            tokio::spawn(async move {
                if let Some(stream) = wrapped.await {
                    serve_echo(stream, PubAckReasonCode::Success, None).await;
                }
            });
        }
    });
    port
}
