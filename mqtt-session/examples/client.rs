//! A tokio MQTT client on `mqttkit-session`: connect, subscribe, publish at
//! QoS 0, 1 and 2, lose the link with messages in flight, reconnect with
//! the persistent session and finish the flows.
//!
//! ```text
//! cargo run -p mqttkit-session --example client -- 127.0.0.1:1883 5
//! cargo run -p mqttkit-session --example client -- 127.0.0.1:1883 3.1.1
//! cargo run -p mqttkit-session --example client -- mqtts://localhost:8883 5 --ca ca.pem
//! cargo run -p mqttkit-session --example client -- ws://127.0.0.1:8080/mqtt 5
//! cargo run -p mqttkit-session --example client -- wss://localhost:8443/mqtt 5 --ca ca.pem
//! ```
//!
//! The broker is a URL whose scheme picks the transport: `mqtt://` (TCP,
//! also a bare `host:port`), `mqtts://` (TLS), `ws://` (WebSocket,
//! subprotocol `mqtt`) or `wss://` (WebSocket over TLS). TLS trusts only
//! the certificate authorities of `--ca FILE` (PEM).
//!
//! The sans-IO `Client` does the protocol; this file only moves bytes
//! between it and a byte stream, and turns `poll_timeout` into a sleep.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use bytes::BytesMut;
use mqttkit_session::{Client, ClientConfig, Event, Instant, Message, Session};
use mqttkit_session::{
    Connect, Disconnect, DisconnectReasonCode, MqttString, ProtocolVersion, PubAckReasonCode, QoS,
    SubscriptionOptions,
};
use mqttkit_session::{TopicFilter, TopicName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[path = "transport/mod.rs"]
mod transport;

use transport::BoxedIo;

type BoxError = Box<dyn Error + Send + Sync>;

/// What a run observed.
#[derive(Debug, Default)]
pub struct Summary {
    /// Session Present of each CONNACK, in order.
    pub session_present: Vec<bool>,
    /// Completed publishes.
    pub published: usize,
    /// Received messages per payload, per QoS.
    pub received: BTreeMap<(u8, String), usize>,
}

/// Which transport, from the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Mqtt,
    Mqtts,
    Ws,
    Wss,
}

/// Where the broker is and how to reach it.
#[derive(Clone)]
pub struct Endpoint {
    scheme: Scheme,
    /// `host:port`, for the TCP connection.
    authority: String,
    /// The host alone, which the TLS certificate must name.
    host: String,
    /// The whole URL, for the WebSocket handshake.
    url: String,
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("scheme", &self.scheme)
            .field("url", &self.url)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The largest WebSocket message we accept from the broker.
const MAX_WS_MESSAGE: usize = 2 << 20;

impl Endpoint {
    /// Parses `mqtt://`, `mqtts://`, `ws://` and `wss://` URLs, and a bare
    /// `host:port` as MQTT over TCP. `ca` is the PEM file of the
    /// certificate authorities that TLS trusts.
    pub fn parse(url: &str, ca: Option<&std::path::Path>) -> Result<Self, BoxError> {
        let (scheme, rest) = match url.split_once("://") {
            None => (Scheme::Mqtt, url),
            Some(("mqtt" | "tcp", rest)) => (Scheme::Mqtt, rest),
            Some(("mqtts" | "ssl" | "tls", rest)) => (Scheme::Mqtts, rest),
            Some(("ws", rest)) => (Scheme::Ws, rest),
            Some(("wss", rest)) => (Scheme::Wss, rest),
            Some((other, _)) => return Err(format!("unknown scheme {other}:// in {url}").into()),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let default_port = match scheme {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        };
        // An IPv6 literal keeps its brackets in `host:port` only.
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>()?),
            _ => (authority, default_port),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(format!("no host in {url}").into());
        }
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tls = match (scheme, ca) {
            (Scheme::Mqtts | Scheme::Wss, Some(ca)) => Some(transport::tls::connector(ca)?),
            (Scheme::Mqtts | Scheme::Wss, None) => {
                return Err(format!("{url}: TLS needs --ca FILE").into());
            }
            _ => None,
        };
        let ws_scheme = if scheme == Scheme::Wss { "wss" } else { "ws" };
        let path = if path.is_empty() { "/" } else { path };
        Ok(Endpoint {
            scheme,
            url: format!("{ws_scheme}://{authority}{path}"),
            authority,
            host,
            tls,
        })
    }

    /// Opens the TCP connection and whatever the scheme puts over it.
    async fn open(&self) -> Result<BoxedIo, BoxError> {
        let tcp = TcpStream::connect(&self.authority).await?;
        let _ = tcp.set_nodelay(true);
        let tls = || self.tls.as_ref().ok_or("TLS without a configuration");
        Ok(match self.scheme {
            Scheme::Mqtt => Box::new(tcp),
            Scheme::Mqtts => Box::new(transport::tls::connect(tls()?, &self.host, tcp).await?),
            Scheme::Ws => Box::new(transport::ws::connect(&self.url, tcp, MAX_WS_MESSAGE).await?),
            Scheme::Wss => {
                let stream = transport::tls::connect(tls()?, &self.host, tcp).await?;
                Box::new(transport::ws::connect(&self.url, stream, MAX_WS_MESSAGE).await?)
            }
        })
    }
}

/// Drives one `Client` over one connection at a time.
struct Driver {
    client: Client,
    stream: Option<BoxedIo>,
    origin: std::time::Instant,
    out: BytesMut,
    summary: Summary,
}

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap())
    }

    /// Writes what the client has to send, then handles its events.
    async fn flush(&mut self) -> Result<(), BoxError> {
        loop {
            // A real application stores these before sending (write-ahead).
            while self.client.poll_persist().is_some() {}
            self.out.clear();
            if self.client.poll_transmit(&mut self.out).is_none() {
                break;
            }
            if let Some(stream) = self.stream.as_mut() {
                stream.write_all(&self.out).await?;
            }
        }
        while let Some(event) = self.client.poll_event() {
            self.on_event(event)?;
        }
        // Acks sent by `on_event` go out now.
        while let Some(_op) = self.client.poll_persist() {}
        self.out.clear();
        if self.client.poll_transmit(&mut self.out).is_some()
            && let Some(stream) = self.stream.as_mut()
        {
            stream.write_all(&self.out).await?;
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<(), BoxError> {
        match event {
            Event::Connected { session_present } => {
                println!("connected, session present: {session_present}");
                self.summary.session_present.push(session_present);
            }
            Event::Message { publish, ack } => {
                let payload = String::from_utf8_lossy(&publish.payload).into_owned();
                println!(
                    "message {} {:?} {payload}",
                    publish.topic_str(),
                    publish.qos.qos()
                );
                *self
                    .summary
                    .received
                    .entry((publish.qos.qos().bits(), payload))
                    .or_default() += 1;
                if let Some(token) = ack {
                    self.client
                        .ack(self.now(), token, PubAckReasonCode::Success)?;
                }
            }
            Event::Published { op, reason } => {
                println!("published {op:?}: {reason}");
                self.summary.published += 1;
            }
            Event::Closed(cause) => println!("closed: {cause:?}"),
            other => println!("{other:?}"),
        }
        Ok(())
    }

    /// Runs the connection until `done` holds or `limit` passes.
    async fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Summary) -> bool,
    ) -> Result<(), BoxError> {
        let give_up = tokio::time::Instant::now() + limit;
        let mut buf = vec![0u8; 4096];
        loop {
            self.flush().await?;
            if done(&self.summary) {
                return Ok(());
            }
            let deadline = self
                .client
                .poll_timeout()
                .map(|at| {
                    let wait = at.saturating_duration_since(self.now());
                    tokio::time::Instant::now() + wait
                })
                .unwrap_or(give_up)
                .min(give_up);
            let stream = self.stream.as_mut().ok_or("no connection")?;
            tokio::select! {
                read = stream.read(&mut buf) => {
                    let n = read?;
                    let now = self.now();
                    if n == 0 {
                        self.client.handle_transport_closed(now);
                        self.stream = None;
                        return Err("connection closed by the broker".into());
                    }
                    self.client.handle_bytes(now, buf.get(..n).unwrap_or_default());
                }
                () = tokio::time::sleep_until(deadline) => {
                    if tokio::time::Instant::now() >= give_up {
                        return Err("timed out".into());
                    }
                    self.client.handle_timeout(self.now());
                }
            }
        }
    }

    async fn connect(
        &mut self,
        endpoint: &Endpoint,
        version: ProtocolVersion,
        clean_start: bool,
    ) -> Result<(), BoxError> {
        self.stream = Some(endpoint.open().await?);
        let mut connect = Connect::new(version, MqttString::try_from("mqttkit-session-example")?);
        connect.clean_start = clean_start;
        connect.keep_alive = 30;
        // A clean start here only clears old state, so its session ends
        // with the connection; the persistent one outlives it (v5).
        if version.is_v5() && !clean_start {
            connect.properties.session_expiry_interval = Some(300);
        }
        self.client.connect(self.now(), connect)?;
        let n = self.summary.session_present.len();
        self.run_until(Duration::from_secs(5), |s| s.session_present.len() > n)
            .await
    }

    fn publish(&mut self, payload: &str, qos: QoS) -> Result<(), BoxError> {
        let topic = TopicName::try_from(format!("mqtt-session/example/{payload}"))?;
        self.client
            .publish(self.now(), Message::new(topic, payload.to_owned(), qos))?;
        Ok(())
    }

    async fn disconnect(&mut self) -> Result<(), BoxError> {
        self.client
            .disconnect(self.now(), Disconnect::new(DisconnectReasonCode::Success))?;
        self.flush().await?;
        self.stream = None;
        self.client.handle_transport_closed(self.now());
        Ok(())
    }
}

/// The scenario against the broker at `addr` (a URL or `host:port`, see
/// [`Endpoint::parse`]), without TLS.
#[allow(dead_code)] // Used by the tests that include this file.
pub async fn run(addr: &str, version: ProtocolVersion) -> Result<Summary, BoxError> {
    run_on(&Endpoint::parse(addr, None)?, version).await
}

/// The scenario against the broker at `addr`.
pub async fn run_on(addr: &Endpoint, version: ProtocolVersion) -> Result<Summary, BoxError> {
    let mut d = Driver {
        client: Client::new(
            Session::new(MqttString::try_from("mqttkit-session-example")?),
            ClientConfig::default(),
        ),
        stream: None,
        origin: std::time::Instant::now(),
        out: BytesMut::new(),
        summary: Summary::default(),
    };
    let tag = if version.is_v5() { "v5" } else { "v311" };
    // Start from a clean slate, then open a persistent session.
    d.connect(addr, version, true).await?;
    d.disconnect().await?;
    d.connect(addr, version, false).await?;
    let filter = TopicFilter::try_from("mqtt-session/example/#")?;
    let options = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        ..SubscriptionOptions::default()
    };
    d.client
        .subscribe(d.now(), vec![(filter, options)], Default::default())?;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        d.publish(&format!("{tag}-a{i}"), qos)?;
    }
    d.run_until(Duration::from_secs(5), |s| {
        s.published == 3 && s.received.len() == 3
    })
    .await?;
    // Publish and drop the link at once: the flows are in flight.
    for i in 0..3 {
        d.publish(&format!("{tag}-b{i}"), QoS::AtLeastOnce)?;
    }
    d.publish(&format!("{tag}-b3"), QoS::ExactlyOnce)?;
    d.flush().await?;
    d.stream = None;
    d.client.handle_transport_closed(d.now());
    println!(
        "link dropped with {} in flight",
        d.client.session().inflight().count()
    );
    // Reconnect with the session: unfinished flows are resent with DUP.
    d.connect(addr, version, false).await?;
    d.run_until(Duration::from_secs(5), |s| {
        s.published == 7 && s.received.len() == 7
    })
    .await?;
    d.disconnect().await?;
    Ok(d.summary)
}

#[allow(dead_code)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // Positional: the broker URL, then the protocol version; `--ca FILE`
    // anywhere.
    let mut positional = Vec::new();
    let mut ca = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--ca" {
            ca = Some(std::path::PathBuf::from(
                args.next().ok_or("--ca needs a file")?,
            ));
        } else {
            positional.push(arg);
        }
    }
    let mut positional = positional.into_iter();
    let addr = positional.next().unwrap_or_else(|| "127.0.0.1:1883".into());
    let version = match positional.next().as_deref() {
        Some("3.1.1") => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let endpoint = Endpoint::parse(&addr, ca.as_deref())?;
    let summary = run_on(&endpoint, version).await?;
    println!("{summary:#?}");
    Ok(())
}
