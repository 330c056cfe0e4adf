//! A tokio MQTT client on `mqtt-session`: connect, subscribe, publish at
//! QoS 0, 1 and 2, lose the link with messages in flight, reconnect with
//! the persistent session and finish the flows.
//!
//! ```text
//! cargo run -p mqtt-session --example client -- 127.0.0.1:1883 5
//! cargo run -p mqtt-session --example client -- 127.0.0.1:1883 3.1.1
//! ```
//!
//! The sans-IO `Client` does the protocol; this file only moves bytes
//! between it and a `TcpStream`, and turns `poll_timeout` into a sleep.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_session::mqtt_codec::mqtt_topic::{TopicFilter, TopicName};
use mqtt_session::mqtt_codec::{
    Connect, Disconnect, DisconnectReasonCode, MqttString, ProtocolVersion, PubAckReasonCode, QoS,
    SubscriptionOptions,
};
use mqtt_session::{Client, ClientConfig, Event, Instant, Message, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// Drives one `Client` over one TCP connection at a time.
struct Driver {
    client: Client,
    stream: Option<TcpStream>,
    origin: std::time::Instant,
    out: BytesMut,
    summary: Summary,
}

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap())
    }

    /// Writes what the client has to send, then handles its events.
    async fn flush(&mut self) -> Result<(), Box<dyn Error>> {
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

    fn on_event(&mut self, event: Event) -> Result<(), Box<dyn Error>> {
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
    ) -> Result<(), Box<dyn Error>> {
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
                    self.client.handle_bytes(now, buf.get(..n).unwrap_or_default())?;
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
        addr: &str,
        version: ProtocolVersion,
        clean_start: bool,
    ) -> Result<(), Box<dyn Error>> {
        self.stream = Some(TcpStream::connect(addr).await?);
        let mut connect = Connect::new(version, MqttString::try_from("mqtt-session-example")?);
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

    fn publish(&mut self, payload: &str, qos: QoS) -> Result<(), Box<dyn Error>> {
        let topic = TopicName::try_from(format!("mqtt-session/example/{payload}"))?;
        self.client
            .publish(self.now(), Message::new(topic, payload.to_owned(), qos))?;
        Ok(())
    }

    async fn disconnect(&mut self) -> Result<(), Box<dyn Error>> {
        self.client
            .disconnect(self.now(), Disconnect::new(DisconnectReasonCode::Success))?;
        self.flush().await?;
        self.stream = None;
        self.client.handle_transport_closed(self.now());
        Ok(())
    }
}

/// The scenario against the broker at `addr`.
pub async fn run(addr: &str, version: ProtocolVersion) -> Result<Summary, Box<dyn Error>> {
    let mut d = Driver {
        client: Client::new(
            Session::new(MqttString::try_from("mqtt-session-example")?),
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
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:1883".into());
    let version = match args.next().as_deref() {
        Some("3.1.1") => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let summary = run(&addr, version).await?;
    println!("{summary:#?}");
    Ok(())
}
