//! The TLS and WebSocket transports against in-process servers on
//! 127.0.0.1, built with the crate's own accept helpers around the echo
//! broker of `support`, and raw servers that misbehave. The certificates
//! are in `tests/data` (see its README). No external peer is needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    // tungstenite's handshake callback returns its large error response.
    clippy::result_large_err
)]

mod support;

/// A file of `tests/data`.
#[cfg(feature = "tls")]
fn data(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::Arc;

    use mqttkit_tokio::transport::{
        TlsAcceptor, TlsError, Transport, accept_tls, rustls, tls_acceptor_from_pem,
    };
    use mqttkit_tokio::{Client, ConnectOptions, Error, ProtocolVersion};

    use super::data;
    use crate::support::{echo_broker_over, round_trip, within};

    pub fn acceptor() -> TlsAcceptor {
        let chain = std::fs::read(data("server.pem")).unwrap();
        let key = std::fs::read(data("server.key")).unwrap();
        tls_acceptor_from_pem(&chain, &key).unwrap()
    }

    /// An echo broker behind TLS; its port.
    async fn tls_echo_broker() -> u16 {
        let acceptor = acceptor();
        echo_broker_over(move |tcp| {
            let acceptor = acceptor.clone();
            async move { accept_tls(&acceptor, tcp).await.ok() }
        })
        .await
    }

    #[tokio::test]
    async fn tls_round_trip_qos_0_1_2_in_v5_and_v3_1_1() {
        let port = tls_echo_broker().await;
        let options = ConnectOptions::from_url(&format!("mqtts://localhost:{port}"))
            .unwrap()
            .tls_ca_pem_file(data("ca.pem"))
            .client_id("tls-5");
        assert_eq!(options.transport(), &Transport::Tls);
        round_trip(options, "tls5").await;
        // By IP address, which the certificate names too; the CA as bytes.
        let ca = std::fs::read(data("ca.pem")).unwrap();
        let options = ConnectOptions::from_url(&format!("mqtts://127.0.0.1:{port}"))
            .unwrap()
            .tls_ca_pem(ca)
            .client_id("tls-3")
            .protocol_version(ProtocolVersion::V3_1_1);
        round_trip(options, "tls3").await;
    }

    #[tokio::test]
    async fn a_server_certificate_from_another_ca_fails_with_a_tls_error() {
        let port = tls_echo_broker().await;
        let options = ConnectOptions::from_url(&format!("mqtts://localhost:{port}"))
            .unwrap()
            .tls_ca_pem_file(data("other-ca.pem"));
        let err = within(Client::connect(options)).await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Tls(TlsError::Rustls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                )))
            ),
            "{err:?}"
        );
    }

    /// The server name override is what the certificate is checked for.
    #[tokio::test]
    async fn the_server_name_override_is_checked() {
        let port = tls_echo_broker().await;
        let url = format!("mqtts://127.0.0.1:{port}");
        let options = |name: &str| {
            ConnectOptions::from_url(&url)
                .unwrap()
                .tls_ca_pem_file(data("ca.pem"))
                .tls_server_name(name)
        };
        let err = within(Client::connect(options("broker.example")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Tls(TlsError::Rustls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. }
                )))
            ),
            "{err:?}"
        );
        let (client, _events) = within(Client::connect(options("localhost"))).await.unwrap();
        within(client.disconnect()).await.unwrap();
    }

    #[tokio::test]
    async fn a_whole_client_config_replaces_the_ca_options() {
        let port = tls_echo_broker().await;
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(data("ca.pem")).unwrap();
        let ca = rustls::pki_types::pem::PemObject::from_pem_slice(&pem).unwrap();
        roots.add(ca).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let options = ConnectOptions::from_url(&format!("mqtts://localhost:{port}"))
            .unwrap()
            // Would fail the connection if it were used.
            .tls_ca_pem_file(data("other-ca.pem"))
            .tls_client_config(Arc::new(config));
        let (client, _events) = within(Client::connect(options)).await.unwrap();
        within(client.disconnect()).await.unwrap();
    }

    #[tokio::test]
    async fn no_trusted_ca_is_refused_before_the_handshake() {
        let port = tls_echo_broker().await;
        let options = ConnectOptions::from_url(&format!("mqtts://localhost:{port}")).unwrap();
        let err = within(Client::connect(options)).await.unwrap_err();
        assert!(matches!(err, Error::Tls(TlsError::NoTrustedCa)), "{err:?}");
    }
}

#[cfg(feature = "websocket")]
mod websocket {
    use mqttkit_session::bytes::BytesMut;
    use mqttkit_session::{Delivery, Message, ServerConfig, ServerEvent, SubscriptionOptions};
    use mqttkit_tokio::transport::{
        Transport, WebSocketError, WsStream, accept_websocket, tungstenite,
    };
    use mqttkit_tokio::{
        Client, ConnectOptions, Error, Event, ProtocolVersion, QoS, SubAckReasonCode, TopicName,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tungstenite::http::header;

    use crate::support::{echo_broker_over, read_connect, round_trip, within};

    /// An unmasked binary (`opcode` 2) or text (1) frame, as a server
    /// sends it.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..126 => frame.push(n as u8),
            n => {
                frame.push(126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(payload);
        frame
    }

    async fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    /// Accepts one WebSocket client on `listener` and its CONNECT with the
    /// server role; returns the stream, the session, its clock's origin
    /// and the CONNACK to send.
    async fn accept_session(
        listener: &TcpListener,
    ) -> (
        WsStream<TcpStream>,
        mqttkit_session::Server,
        tokio::time::Instant,
        BytesMut,
    ) {
        let (tcp, _) = within(listener.accept()).await.unwrap();
        let mut ws = accept_websocket(tcp).await.unwrap();
        let origin = tokio::time::Instant::now();
        let (mut session, _) = read_connect(&mut ws, ServerConfig::default(), origin).await;
        let mut connack = BytesMut::new();
        while session.poll_transmit(&mut connack).is_some() {}
        (ws, session, origin, connack)
    }

    #[tokio::test]
    async fn websocket_round_trip_qos_0_1_2_in_v5_and_v3_1_1() {
        let port = echo_broker_over(|tcp| async move { accept_websocket(tcp).await.ok() }).await;
        let options = ConnectOptions::from_url(&format!("ws://127.0.0.1:{port}"))
            .unwrap()
            .client_id("ws-5");
        assert_eq!(
            options.transport(),
            &Transport::WebSocket {
                path: "/mqtt".into()
            }
        );
        round_trip(options, "ws5").await;
        let options = ConnectOptions::from_url(&format!("ws://localhost:{port}/other/path"))
            .unwrap()
            .client_id("ws-3")
            .protocol_version(ProtocolVersion::V3_1_1);
        round_trip(options, "ws3").await;
    }

    /// The client asks for the URL's path and offers `mqtt`
    /// (v5 [MQTT-6.0.0-3], v3.1.1 [MQTT-6.0.0-3]).
    #[tokio::test]
    async fn v5_mqtt_6_0_0_3_the_client_offers_mqtt_on_the_urls_path() {
        let (listener, port) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut seen = None;
            let callback =
                |request: &tungstenite::handshake::server::Request,
                 mut response: tungstenite::handshake::server::Response| {
                    let offered = request
                        .headers()
                        .get(header::SEC_WEBSOCKET_PROTOCOL)
                        .map(|v| v.to_str().unwrap().to_owned());
                    seen = Some((request.uri().to_string(), offered));
                    let mqtt = header::HeaderValue::from_static("mqtt");
                    response
                        .headers_mut()
                        .insert(header::SEC_WEBSOCKET_PROTOCOL, mqtt);
                    Ok(response)
                };
            let ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await;
            drop(ws);
            seen
        });
        let url = format!("ws://127.0.0.1:{port}/a/b?token=1");
        // The server ends the connection after the handshake.
        let _ = within(Client::connect(ConnectOptions::from_url(&url).unwrap())).await;
        let (path, offered) = within(server).await.unwrap().unwrap();
        assert_eq!(path, "/a/b?token=1");
        assert_eq!(offered.as_deref(), Some("mqtt"));
    }

    /// A server that does not select `mqtt` is refused
    /// (v5 [MQTT-6.0.0-4], v3.1.1 [MQTT-6.0.0-4]).
    #[tokio::test]
    async fn v5_mqtt_6_0_0_4_a_server_that_does_not_select_mqtt_is_refused() {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // Answers the upgrade without any subprotocol.
            let ws = tokio_tungstenite::accept_async(tcp).await;
            tokio::time::sleep(crate::support::STEP).await;
            drop(ws);
        });
        let url = format!("ws://127.0.0.1:{port}");
        let err = within(Client::connect(ConnectOptions::from_url(&url).unwrap()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::WebSocket(WebSocketError::SubprotocolNotSelected)
            ),
            "{err:?}"
        );
    }

    /// `accept_websocket` refuses a client that does not offer `mqtt`
    /// with HTTP 400 (v5 [MQTT-6.0.0-3], v3.1.1 [MQTT-6.0.0-3]).
    #[tokio::test]
    async fn v5_mqtt_6_0_0_3_a_client_that_does_not_offer_mqtt_is_refused() {
        let (listener, port) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            accept_websocket(tcp).await.map(drop)
        });
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!("ws://127.0.0.1:{port}/mqtt");
        let client = within(tokio_tungstenite::client_async(url, tcp)).await;
        match client {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
            other => panic!("expected HTTP 400, got {other:?}"),
        }
        let accepted = within(server).await.unwrap();
        assert!(
            matches!(accepted, Err(WebSocketError::SubprotocolNotOffered)),
            "{accepted:?}"
        );
    }

    /// A text message ends the connection, after a Close with status
    /// 1003 (v5 [MQTT-6.0.0-1], v3.1.1 [MQTT-6.0.0-1]).
    #[tokio::test]
    async fn v5_mqtt_6_0_0_1_a_text_message_closes_the_connection() {
        let (listener, port) = listener().await;
        let server = tokio::spawn(async move {
            let (mut ws, _, _, connack) = accept_session(&listener).await;
            ws.write_all(&connack).await.unwrap();
            ws.flush().await.unwrap();
            // A text message written under the adapter, which sends
            // binary ones only.
            let raw = ws.get_mut();
            raw.write_all(&frame(1, b"hello")).await.unwrap();
            let mut rest = Vec::new();
            within(raw.read_to_end(&mut rest)).await.unwrap();
            rest
        });
        let url = format!("ws://127.0.0.1:{port}");
        let (_client, mut events) =
            within(Client::connect(ConnectOptions::from_url(&url).unwrap()))
                .await
                .unwrap();
        let last = within(events.recv()).await;
        let Some(Event::Disconnected(Error::Io(err))) = last else {
            panic!("expected an I/O error, got {last:?}");
        };
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<WebSocketError>());
        assert!(
            matches!(inner, Some(WebSocketError::TextMessage)),
            "{err:?}"
        );
        // The client's Close frame (masked, as a client's are): status 1003.
        let rest = within(server).await.unwrap();
        assert_eq!(rest[0], 0x88, "a Close frame first: {rest:?}");
        let len = usize::from(rest[1] & 0x7f);
        assert_eq!(rest[1] & 0x80, 0x80, "masked");
        let mask = &rest[2..6];
        let payload: Vec<u8> = rest[6..6 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1003);
    }

    /// Packets and messages need not line up: CONNACK split over two
    /// messages, SUBACK and two PUBLISH in one, a PUBLISH over three
    /// (v5 [MQTT-6.0.0-2], v3.1.1 [MQTT-6.0.0-2]).
    #[tokio::test]
    async fn v5_mqtt_6_0_0_2_packets_span_messages_and_share_them() {
        let (listener, port) = listener().await;
        let server = tokio::spawn(async move {
            let (mut ws, mut session, origin, connack) = accept_session(&listener).await;
            let now = || mqttkit_session::Instant::from_millis(origin.elapsed().as_millis() as u64);
            let (first, second) = connack.split_at(2);
            let mut raw = frame(2, first);
            raw.extend(frame(2, second));
            ws.get_mut().write_all(&raw).await.unwrap();

            let mut buf = [0u8; 1024];
            let (packet_id, options) = loop {
                let n = within(ws.read(&mut buf)).await.unwrap();
                assert!(n > 0, "the client closed");
                session.handle_bytes(now(), &buf[..n]);
                if let Some(ServerEvent::Subscribe {
                    packet_id,
                    requests,
                    ..
                }) = session.poll_event()
                {
                    break (packet_id, requests[0].options);
                }
            };
            assert_eq!(options, SubscriptionOptions::default());
            session
                .suback(packet_id, vec![SubAckReasonCode::Success])
                .unwrap();
            let topic = TopicName::try_from("t").unwrap();
            for payload in ["a", "b", "c"] {
                let message = Message::new(topic.clone(), payload, QoS::AtMostOnce);
                session
                    .deliver(now(), Delivery::new(message, options))
                    .unwrap();
            }
            let mut out = BytesMut::new();
            while session.poll_transmit(&mut out).is_some() {}
            // SUBACK, then PUBLISH a, b, c, each 7 bytes (v5, no
            // properties: 30 05 00 01 74 00, then the payload).
            let publish_c = out.split_off(out.len() - 7);
            ws.get_mut().write_all(&frame(2, &out)).await.unwrap();
            let mut raw = frame(2, &publish_c[..1]);
            raw.extend(frame(2, &publish_c[1..4]));
            raw.extend(frame(2, &publish_c[4..]));
            ws.get_mut().write_all(&raw).await.unwrap();
            let mut rest = Vec::new();
            within(ws.read_to_end(&mut rest)).await.unwrap();
        });
        let url = format!("ws://127.0.0.1:{port}");
        let (client, mut events) = within(Client::connect(ConnectOptions::from_url(&url).unwrap()))
            .await
            .unwrap();
        let granted = within(client.subscribe("t", QoS::AtMostOnce))
            .await
            .unwrap();
        assert_eq!(granted, SubAckReasonCode::Success);
        for payload in ["a", "b", "c"] {
            let event = within(events.recv()).await;
            let Some(Event::Message { publish, .. }) = event else {
                panic!("expected message {payload}, got {event:?}");
            };
            assert_eq!(publish.payload, payload.as_bytes());
        }
        within(client.disconnect()).await.unwrap();
        within(server).await.unwrap();
    }

    #[cfg(feature = "tls")]
    #[tokio::test]
    async fn secure_websocket_round_trip_in_v5_and_v3_1_1() {
        use mqttkit_tokio::transport::accept_tls;

        let acceptor = crate::tls::acceptor();
        let port = echo_broker_over(move |tcp| {
            let acceptor = acceptor.clone();
            async move {
                let tls = accept_tls(&acceptor, tcp).await.ok()?;
                accept_websocket(tls).await.ok()
            }
        })
        .await;
        let options = ConnectOptions::from_url(&format!("wss://localhost:{port}/mqtt"))
            .unwrap()
            .tls_ca_pem_file(crate::data("ca.pem"))
            .client_id("wss-5");
        round_trip(options.clone(), "wss5").await;
        let options = options
            .client_id("wss-3")
            .protocol_version(ProtocolVersion::V3_1_1);
        round_trip(options, "wss3").await;
    }
}
