//! The driver against in-process servers on 127.0.0.1: an echo broker on
//! the server role of `mqttkit-session`, and raw servers that misbehave.
//! No external broker is needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::time::Duration;

use mqttkit_session::ServerCloseCause;
use mqttkit_tokio::{
    Client, ConnectOptions, ConnectReasonCode, DisconnectReasonCode, Error, Event, OpError,
    ProtocolVersion, PubAckReasonCode, QoS, ReasonCode, SubAckReasonCode,
};
use support::{Report, accept_raw, echo_broker, listen, read_until_closed, round_trip, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn v5_round_trip_qos_0_1_2() {
    let (options, _) = echo_broker(PubAckReasonCode::Success).await;
    round_trip(options.client_id("round-trip-5"), "x").await;
}

#[tokio::test]
async fn v3_1_1_round_trip_qos_0_1_2() {
    let (options, _) = echo_broker(PubAckReasonCode::Success).await;
    let options = options
        .client_id("round-trip-3")
        .protocol_version(ProtocolVersion::V3_1_1);
    round_trip(options, "x").await;
}

/// The publish future resolves with the code of the acknowledgement that
/// ended the flow: PUBACK for QoS 1, a PUBREC error code for QoS 2
/// (v5 §4.3.3: a PUBREC with a code of 0x80 or more ends the flow).
#[tokio::test]
async fn v5_publish_resolves_with_the_reason_code_of_the_acknowledgement() {
    let (options, _) = echo_broker(PubAckReasonCode::NotAuthorized).await;
    let (client, _events) = within(Client::connect(options)).await.unwrap();
    let qos0 = within(client.publish("t", QoS::AtMostOnce, "a")).await;
    assert_eq!(qos0.unwrap(), ReasonCode::Success);
    let qos1 = within(client.publish("t", QoS::AtLeastOnce, "b")).await;
    assert_eq!(qos1.unwrap(), ReasonCode::NotAuthorized);
    let qos2 = within(client.publish("t", QoS::ExactlyOnce, "c")).await;
    assert_eq!(qos2.unwrap(), ReasonCode::NotAuthorized);
    within(client.disconnect()).await.unwrap();
}

#[tokio::test]
async fn invalid_topics_are_refused_before_reaching_the_driver() {
    let (options, _) = echo_broker(PubAckReasonCode::Success).await;
    let (client, _events) = within(Client::connect(options)).await.unwrap();
    let publish = client.publish("a/+", QoS::AtMostOnce, "x").await;
    assert!(
        matches!(publish, Err(Error::InvalidTopic(_))),
        "{publish:?}"
    );
    let subscribe = client.subscribe("a/#/b", QoS::AtMostOnce).await;
    assert!(
        matches!(subscribe, Err(Error::InvalidTopic(_))),
        "{subscribe:?}"
    );
    // The connection is unaffected.
    let ok = within(client.subscribe("a/#", QoS::AtMostOnce)).await;
    assert_eq!(ok.unwrap(), SubAckReasonCode::Success);
}

/// A malformed packet from the server: the client reports one
/// `Disconnected` with the violation, and the server receives DISCONNECT
/// 0x81 before the connection closes (v5 [MQTT-4.13.2-1]: with a reason
/// code of 0x80 or more the connection is closed).
#[tokio::test]
async fn v5_mqtt_4_13_2_1_malformed_packet_gets_disconnect_0x81_then_the_close() {
    let (listener, options) = listen().await;
    let server = tokio::spawn(async move {
        let mut stream = accept_raw(&listener).await;
        // Packet type 15 with flags 0xF: no such packet.
        stream.write_all(&[0xFF, 0x00]).await.unwrap();
        read_until_closed(&mut stream).await
    });
    let (client, mut events) = within(Client::connect(options)).await.unwrap();
    let event = within(events.recv()).await;
    let Some(Event::Disconnected(Error::ProtocolViolation(violation))) = event else {
        panic!("expected the violation, got {event:?}");
    };
    assert_eq!(violation.reason, ReasonCode::MalformedPacket);
    assert!(within(events.recv()).await.is_none(), "reported once");
    let received = within(server).await.unwrap();
    assert_eq!(received, [0xE0, 0x01, 0x81], "DISCONNECT 0x81, then EOF");
    let after = client.publish("t", QoS::AtMostOnce, "x").await;
    assert!(matches!(after, Err(Error::Closed)), "{after:?}");
}

/// 3.1.1 has no DISCONNECT from the client for a violation: the client
/// just closes the connection (v3.1.1 [MQTT-4.8.0-1]).
#[tokio::test]
async fn v3_1_1_mqtt_4_8_0_1_protocol_violation_closes_the_connection() {
    let (listener, options) = listen().await;
    let server = tokio::spawn(async move {
        let mut stream = accept_raw(&listener).await;
        stream.write_all(&[0xFF, 0x00]).await.unwrap();
        read_until_closed(&mut stream).await
    });
    let options = options.protocol_version(ProtocolVersion::V3_1_1);
    let (_client, mut events) = within(Client::connect(options)).await.unwrap();
    let event = within(events.recv()).await;
    assert!(
        matches!(
            event,
            Some(Event::Disconnected(Error::ProtocolViolation(_)))
        ),
        "{event:?}"
    );
    assert!(within(events.recv()).await.is_none());
    assert_eq!(within(server).await.unwrap(), [] as [u8; 0]);
}

/// `disconnect()` writes DISCONNECT and then closes the socket: nothing
/// follows the DISCONNECT (v5 [MQTT-3.14.4-1]) and the connection is
/// closed (v5 [MQTT-3.14.4-2]).
#[tokio::test]
async fn v5_mqtt_3_14_4_2_disconnect_writes_disconnect_and_closes_the_connection() {
    let (options, mut reports) = echo_broker(PubAckReasonCode::Success).await;
    let (client, mut events) = within(Client::connect(options)).await.unwrap();
    within(client.disconnect()).await.unwrap();
    let Report { cause, eof_after } = within(reports.recv()).await.unwrap();
    let ServerCloseCause::ByClient(disconnect) = cause else {
        panic!("the server saw {cause:?}");
    };
    assert_eq!(disconnect.reason_code, DisconnectReasonCode::Success);
    assert!(eof_after, "the socket was closed after DISCONNECT");
    let event = within(events.recv()).await;
    assert!(
        matches!(event, Some(Event::Disconnected(Error::Closed))),
        "{event:?}"
    );
    assert!(within(events.recv()).await.is_none());
    let again = client.disconnect().await;
    assert!(matches!(again, Err(Error::Closed)), "{again:?}");
}

/// The client sends PINGREQ after a keep-alive interval of silence
/// (v5 [MQTT-3.1.2-20]); a server that never answers it is declared dead
/// once the PINGRESP wait (one more interval) has passed.
#[tokio::test]
async fn v5_mqtt_3_1_2_20_pingreq_without_pingresp_ends_in_a_keep_alive_timeout() {
    let (listener, options) = listen().await;
    let server = tokio::spawn(async move {
        let mut stream = accept_raw(&listener).await;
        read_until_closed(&mut stream).await
    });
    let options = options.keep_alive(Duration::from_secs(1));
    let started = tokio::time::Instant::now();
    let (client, mut events) = within(Client::connect(options)).await.unwrap();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.subscribe("never/acked", QoS::AtLeastOnce).await }
    });
    let event = within(events.recv()).await;
    assert!(
        matches!(event, Some(Event::Disconnected(Error::KeepAliveTimeout))),
        "{event:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert!(within(events.recv()).await.is_none());
    let received = within(server).await.unwrap();
    // SUBSCRIBE (packet id 1), then PINGREQ a keep-alive later, then the
    // close: 0x8D is the server's code, so the client sends no DISCONNECT.
    assert_eq!(received.get(..1), Some(&[0x82][..]), "{received:02x?}");
    assert!(received.ends_with(&[0xC0, 0x00]), "{received:02x?}");
    let subscribe = within(pending).await.unwrap();
    assert!(
        matches!(subscribe, Err(Error::KeepAliveTimeout)),
        "{subscribe:?}"
    );
}

/// Operations waiting for an acknowledgement fail with the cause when the
/// transport closes; none hangs, and the event comes once.
#[tokio::test]
async fn pending_operations_fail_when_the_server_closes_the_connection() {
    let (listener, options) = listen().await;
    let server = tokio::spawn(async move {
        let mut stream = accept_raw(&listener).await;
        // Wait for the two publishes, then close without acknowledging.
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.iter().filter(|b| **b & 0xF0 == 0x30).count() < 2 {
            let n = within(stream.read(&mut buf)).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
    });
    let (client, mut events) = within(Client::connect(options)).await.unwrap();
    let publish = |payload: &'static str, qos| {
        let client = client.clone();
        tokio::spawn(async move { client.publish("t", qos, payload).await })
    };
    let qos1 = publish("1", QoS::AtLeastOnce);
    let qos2 = publish("2", QoS::ExactlyOnce);
    within(server).await.unwrap();
    for outcome in [within(qos1).await.unwrap(), within(qos2).await.unwrap()] {
        assert!(
            matches!(outcome, Err(Error::ConnectionClosed)),
            "{outcome:?}"
        );
    }
    let event = within(events.recv()).await;
    assert!(
        matches!(event, Some(Event::Disconnected(Error::ConnectionClosed))),
        "{event:?}"
    );
    assert!(within(events.recv()).await.is_none());
}

#[tokio::test]
async fn v5_refused_connect_returns_the_connack() {
    let (listener, options) = listen().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = mqttkit_tokio::bytes::BytesMut::new();
        let mut buf = [0u8; 256];
        let incoming = loop {
            let n = stream.read(&mut buf).await.unwrap();
            received.extend_from_slice(&buf[..n]);
            if let Some(incoming) = mqttkit_session::Incoming::read(&mut received, None).unwrap() {
                break incoming;
            }
        };
        let reply = incoming.refuse(ConnectReasonCode::BadUserNameOrPassword);
        stream.write_all(&reply).await.unwrap();
    });
    let options = options.username("alice").password("wrong");
    let refused = within(Client::connect(options)).await;
    let Err(Error::Refused(connack)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!(
        connack.reason_code,
        ConnectReasonCode::BadUserNameOrPassword
    );
}

#[tokio::test]
async fn bad_options_fail_before_connecting() {
    let options = ConnectOptions::new("127.0.0.1", 9).client_id("nul\0");
    let err = Client::connect(options).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "client_id",
                ..
            }
        ),
        "{err}"
    );
    let (listener, options) = listen().await;
    drop(listener);
    let err = within(Client::connect(options)).await.unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
}

/// With `manual_ack` a QoS 1 message carries a token, and the PUBACK goes
/// out only when the application acks it.
#[tokio::test]
async fn manual_ack_hands_out_the_token() {
    let (options, _) = echo_broker(PubAckReasonCode::Success).await;
    let (client, mut events) = within(Client::connect(options.manual_ack(true)))
        .await
        .unwrap();
    within(client.subscribe("m/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    within(client.publish("m/1", QoS::AtLeastOnce, "job"))
        .await
        .unwrap();
    let event = within(events.recv()).await;
    let Some(Event::Message {
        ack: Some(token), ..
    }) = event
    else {
        panic!("expected a message with a token, got {event:?}");
    };
    within(client.ack(token, PubAckReasonCode::Success))
        .await
        .unwrap();
    let again = within(client.ack(token, PubAckReasonCode::Success)).await;
    assert!(
        matches!(again, Err(Error::Op(OpError::UnknownAck))),
        "{again:?}"
    );
}

/// Many tasks publishing through a command queue of one, with an event
/// queue of one read by another task: every publish completes and every
/// echoed message arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn command_backpressure_does_not_deadlock() {
    const TASKS: usize = 16;
    const EACH: usize = 50;
    let (options, _) = echo_broker(PubAckReasonCode::Success).await;
    let options = options.command_capacity(1).event_capacity(1);
    let (client, mut events) = within(Client::connect(options)).await.unwrap();
    within(client.subscribe("load/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut received = 0;
        while received < TASKS * EACH {
            match events.recv().await {
                Some(Event::Message { .. }) => received += 1,
                other => panic!("after {received} messages: {other:?}"),
            }
        }
        received
    });
    let publishers: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3];
                    let reason = client.publish(&format!("load/{task}"), qos, "x").await;
                    assert_eq!(reason.unwrap(), ReasonCode::Success);
                }
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), async {
        for publisher in publishers {
            publisher.await.unwrap();
        }
        assert_eq!(reader.await.unwrap(), TASKS * EACH);
    })
    .await
    .expect("publishers or reader stalled");
    within(client.disconnect()).await.unwrap();
}

/// Events nobody reads stop the socket reads but lose nothing: the
/// publishes wait, and all complete once the application reads again.
#[tokio::test]
async fn unread_events_pause_the_socket_without_losing_messages() {
    // Large enough that the echoes cannot all fit in one read plus the
    // loopback socket buffers.
    const N: usize = 64;
    const PAYLOAD: usize = 64 * 1024;
    let (options, _) = echo_broker(PubAckReasonCode::Success).await;
    let (client, mut events) = within(Client::connect(options.event_capacity(1)))
        .await
        .unwrap();
    within(client.subscribe("p/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    let publishers: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut payload = i.to_string().into_bytes();
                payload.resize(PAYLOAD, b' ');
                client.publish("p/x", QoS::AtLeastOnce, payload).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = publishers.iter().filter(|p| p.is_finished()).count();
    assert!(
        done < N,
        "all {N} publishes completed while no event was read"
    );
    let mut payloads = Vec::new();
    for i in 0..N {
        let event = within(events.recv()).await;
        let Some(Event::Message { publish, .. }) = event else {
            panic!("message {i}: {event:?}");
        };
        let text = String::from_utf8(publish.payload.to_vec()).unwrap();
        payloads.push(text.trim_end().to_owned());
    }
    payloads.sort_by_key(|p| p.parse::<usize>().unwrap());
    let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    for publisher in publishers {
        assert_eq!(
            within(publisher).await.unwrap().unwrap(),
            ReasonCode::Success
        );
    }
}

/// When every handle and the events are dropped, the driver ends the
/// connection with a normal DISCONNECT.
#[tokio::test]
async fn dropping_the_client_and_events_disconnects() {
    let (options, mut reports) = echo_broker(PubAckReasonCode::Success).await;
    let (client, events) = within(Client::connect(options)).await.unwrap();
    drop(client);
    drop(events);
    let Report { cause, eof_after } = within(reports.recv()).await.unwrap();
    assert!(matches!(cause, ServerCloseCause::ByClient(_)), "{cause:?}");
    assert!(eof_after);
}
