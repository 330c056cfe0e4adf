//! A small but real MQTT 3.1.1 / 5.0 broker on tokio, built only on the
//! workspace's three crates: `mqttkit-codec` frames and checks packets,
//! `mqttkit-session`'s [`Server`] runs each client's session (QoS flows,
//! keep-alive, topic aliases, will, expiry), `mqttkit-topic` routes
//! (subscription index, retained index, shared subscriptions).
//!
//! ```text
//! cargo run -p mqttkit-session --example broker -- --port 1883
//! cargo run -p mqttkit-session --example broker -- --port 1883 --ws-port 8080 \
//!     --tls-port 8883 --wss-port 8443 --cert server.pem --key server.key
//! ```
//!
//! Beside MQTT over TCP (`--port`, 1883 by default) it can listen for MQTT
//! over WebSocket (`--ws-port`, subprotocol `mqtt`, v5 §6.0), over TLS
//! (`--tls-port`) and over WebSocket over TLS (`--wss-port`); TLS needs
//! `--cert` (PEM chain, leaf first) and `--key` (PEM). Every listener binds
//! to `--bind` (127.0.0.1 by default); port 0 lets the system choose. At
//! start-up it prints one line per listener, TCP first, e.g.
//! `listening on 127.0.0.1:1883` then `listening ws on 127.0.0.1:8080`,
//! `listening tls on ...`, `listening wss on ...`, so that scripts starting
//! it on port 0 can read the ports.
//!
//! One task owns all broker state (sessions, indexes) and is fed by one
//! task per connection; nothing is shared behind locks. Sessions live in
//! memory only. The transports end as byte streams (`transport/`), so the
//! MQTT code below does not know which one a connection uses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttkit_session::{
    self, Deliveries, RetainedIndex, SharedSubscriptionRef, SubscriptionIndex, TopicFilter,
    TopicName,
};
use mqttkit_session::{
    ConnectReasonCode, LastWill, MqttString, PubAckReasonCode, PublishProperties, SubAckReasonCode,
    SubscriptionOptions, UnsubAckReasonCode,
};
use mqttkit_session::{
    Delivery, Incoming, Instant, Message, OpId, Server, ServerConfig, ServerEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

#[path = "transport/mod.rs"]
mod transport;

use transport::Io;

/// Our Maximum Packet Size, also for the CONNECT.
const MAX_PACKET: u32 = 1 << 20;

enum ToBroker {
    Open(u64, mpsc::UnboundedSender<ToConn>),
    Bytes(u64, Bytes),
    Closed(u64),
}

enum ToConn {
    Bytes(Bytes),
    Close,
}

struct Conn {
    tx: mpsc::UnboundedSender<ToConn>,
    /// Bytes before the CONNECT could be read.
    buf: BytesMut,
    client: Option<String>,
}

struct Session {
    server: Server,
    conn: Option<u64>,
}

struct Broker {
    start: std::time::Instant,
    conns: HashMap<u64, Conn>,
    sessions: HashMap<String, Session>,
    index: SubscriptionIndex<String>,
    retained: RetainedIndex<Message>,
    deliveries: Deliveries<String>,
    /// Round-robin position per shared group (`share/filter`).
    round_robin: HashMap<String, usize>,
    /// Deliveries made through a shared group: `(client, op)` to the group's
    /// `$share/...` filter, so that they can go to another member.
    shared_ops: HashMap<(String, OpId), String>,
    next_client: u64,
    /// Sessions with events or bytes to drain.
    dirty: Vec<String>,
}

fn will_message(will: LastWill) -> Message {
    let w = will.properties;
    let mut properties = PublishProperties::default();
    properties.payload_format_indicator = w.payload_format_indicator;
    properties.message_expiry_interval = w.message_expiry_interval;
    properties.set_content_type(w.content_type);
    properties.set_response_topic(w.response_topic);
    properties.set_correlation_data(w.correlation_data);
    properties.set_user_properties(w.user_properties);
    Message {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties,
    }
}

impl Broker {
    fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            conns: HashMap::new(),
            sessions: HashMap::new(),
            index: SubscriptionIndex::new(),
            retained: RetainedIndex::new(),
            deliveries: Deliveries::new(),
            round_robin: HashMap::new(),
            shared_ops: HashMap::new(),
            next_client: 0,
            dirty: Vec::new(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn config() -> ServerConfig {
        ServerConfig {
            maximum_packet_size: Some(MAX_PACKET),
            // Acknowledged after routing, with 0x10 when nobody subscribed.
            manual_ack: true,
            ..ServerConfig::default()
        }
    }

    fn handle(&mut self, input: ToBroker) {
        match input {
            ToBroker::Open(id, tx) => {
                self.conns.insert(
                    id,
                    Conn {
                        tx,
                        buf: BytesMut::new(),
                        client: None,
                    },
                );
            }
            ToBroker::Bytes(id, data) => self.on_bytes(id, &data),
            ToBroker::Closed(id) => {
                let now = self.now();
                let Some(conn) = self.conns.remove(&id) else {
                    return;
                };
                if let Some(cid) = conn.client
                    && let Some(s) = self.sessions.get_mut(&cid)
                    && s.conn == Some(id)
                {
                    s.conn = None;
                    s.server.handle_transport_closed(now);
                    self.dirty.push(cid);
                }
            }
        }
        self.flush();
    }

    fn on_bytes(&mut self, id: u64, data: &[u8]) {
        let now = self.now();
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(cid) = conn.client.clone() {
            if let Some(s) = self.sessions.get_mut(&cid).filter(|s| s.conn == Some(id)) {
                // A violation by the client comes back as ServerEvent::Closed.
                s.server.handle_bytes(now, data);
                self.dirty.push(cid);
            }
            return;
        }
        conn.buf.extend_from_slice(data);
        match Incoming::read(&mut conn.buf, Some(MAX_PACKET)) {
            Ok(None) => {}
            Ok(Some(incoming)) => self.on_connect(id, incoming),
            Err(err) => {
                eprintln!("broker: connection {id} refused: {err}");
                if let Some(reply) = err.reply {
                    let _ = conn.tx.send(ToConn::Bytes(reply));
                }
                let _ = conn.tx.send(ToConn::Close);
            }
        }
    }

    fn on_connect(&mut self, id: u64, mut incoming: Incoming) {
        let now = self.now();
        // This broker knows no enhanced authentication method: accepting
        // one would tell the client it was authenticated by it, so it is
        // refused (v5 [MQTT-4.12.0-1]: 0x8C, then close).
        if incoming
            .connect()
            .properties
            .authentication_method
            .is_some()
        {
            self.refuse(
                id,
                incoming.refuse(ConnectReasonCode::BadAuthenticationMethod),
            );
            return;
        }
        if incoming.client_id().is_empty() {
            self.next_client = self.next_client.wrapping_add(1);
            let assigned = MqttString::try_from(format!("auto-{}", self.next_client)).unwrap();
            if let Err(code) = incoming.assign_client_id(assigned) {
                self.refuse(id, incoming.refuse(code));
                return;
            }
        }
        let cid = incoming.client_id().as_str().to_owned();
        // Take the session over from a connection still open on it.
        if let Some(old) = self.sessions.get_mut(&cid)
            && let Some(old_conn) = old.conn.take()
        {
            old.server.take_over(now);
            let mut out = BytesMut::new();
            while old.server.poll_transmit(&mut out).is_some() {}
            if let Some(c) = self.conns.get_mut(&old_conn) {
                let _ = c.tx.send(ToConn::Bytes(out.freeze()));
                let _ = c.tx.send(ToConn::Close);
                c.client = None;
            }
            self.drain_events(&cid);
        }
        let existing = self.sessions.remove(&cid).map(|s| s.server);
        if incoming.connect().clean_start
            && let Some(old) = &existing
        {
            self.remove_subscriptions(&cid, old);
        }
        match incoming.accept(now, existing, Self::config()) {
            Ok(mut server) => {
                let rest = self.conns.get_mut(&id).map(|c| {
                    c.client = Some(cid.clone());
                    c.buf.split()
                });
                if let Some(rest) = rest.filter(|r| !r.is_empty()) {
                    server.handle_bytes(now, &rest);
                }
                self.sessions.insert(
                    cid.clone(),
                    Session {
                        server,
                        conn: Some(id),
                    },
                );
                self.dirty.push(cid);
            }
            Err(refused) => {
                if let Some(server) = refused.session {
                    self.sessions.insert(
                        cid,
                        Session {
                            server: *server,
                            conn: None,
                        },
                    );
                }
                self.refuse(id, refused.reply);
            }
        }
    }

    fn refuse(&mut self, id: u64, reply: Bytes) {
        if let Some(c) = self.conns.get(&id) {
            let _ = c.tx.send(ToConn::Bytes(reply));
            let _ = c.tx.send(ToConn::Close);
        }
    }

    fn remove_subscriptions(&mut self, cid: &str, server: &Server) {
        let filters: Vec<TopicFilter> = server.subscriptions().map(|(f, _)| f.clone()).collect();
        for f in filters {
            self.unsubscribe(cid, &f);
        }
    }

    fn unsubscribe(&mut self, cid: &str, filter: &TopicFilter) -> bool {
        let key = cid.to_owned();
        match SharedSubscriptionRef::parse(filter.as_filter_ref()) {
            Ok(Some(shared)) => self.index.unsubscribe_shared(shared, &key).is_some(),
            _ => self
                .index
                .unsubscribe(filter.as_filter_ref(), &key)
                .is_some(),
        }
    }

    /// Drains events and bytes of every dirty session until none is left.
    fn flush(&mut self) {
        while let Some(cid) = self.dirty.pop() {
            self.drain_events(&cid);
            self.send_out(&cid);
        }
    }

    /// Writes the session's bytes to its connection, and closes the
    /// connection once the session says it is over.
    fn send_out(&mut self, cid: &str) {
        let Some(s) = self.sessions.get_mut(cid) else {
            return;
        };
        let mut out = BytesMut::new();
        while s.server.poll_transmit(&mut out).is_some() {}
        let Some(conn_id) = s.conn else { return };
        let connected = s.server.is_connected();
        if !connected {
            s.conn = None;
        }
        if let Some(c) = self.conns.get_mut(&conn_id) {
            if !out.is_empty() {
                let _ = c.tx.send(ToConn::Bytes(out.freeze()));
            }
            if !connected {
                let _ = c.tx.send(ToConn::Close);
                c.client = None;
            }
        }
    }

    fn drain_events(&mut self, cid: &str) {
        loop {
            let now = self.now();
            let Some(s) = self.sessions.get_mut(cid) else {
                return;
            };
            let Some(event) = s.server.poll_event() else {
                return;
            };
            match event {
                ServerEvent::Publish { publish, ack } => {
                    if let Some(token) = ack {
                        // v5 §3.4.2.1, §3.5.2.1: 0x10 tells a 5.0 publisher
                        // that no subscription matched (a MAY: Success is
                        // never wrong, so a match the No Local option will
                        // skip still counts as one).
                        let nobody = s.server.version().is_some_and(|v| v.is_v5())
                            && publish
                                .topic
                                .as_ref()
                                .is_some_and(|t| !self.index.has_match(t.as_topic_ref()));
                        let reason = if nobody {
                            PubAckReasonCode::NoMatchingSubscribers
                        } else {
                            PubAckReasonCode::Success
                        };
                        let _ = s.server.ack(now, token, reason);
                    }
                    let Some(topic) = publish.topic.clone() else {
                        continue;
                    };
                    let mut properties = publish.properties;
                    properties.topic_alias = None;
                    let message = Message {
                        topic,
                        payload: publish.payload,
                        qos: publish.qos.qos(),
                        retain: publish.retain,
                        properties,
                    };
                    self.publish(message, Some(cid));
                }
                ServerEvent::Subscribe {
                    packet_id,
                    requests,
                    subscription_identifier,
                    ..
                } => {
                    let mut codes = Vec::with_capacity(requests.len());
                    for r in &requests {
                        let options = r.options.for_index(subscription_identifier);
                        let added = match SharedSubscriptionRef::parse(r.filter.as_filter_ref()) {
                            Ok(Some(shared)) => {
                                self.index.subscribe_shared(shared, cid.to_owned(), options)
                            }
                            _ => self.index.subscribe(
                                r.filter.as_filter_ref(),
                                cid.to_owned(),
                                options,
                            ),
                        };
                        codes.push(match added {
                            Ok(_) => SubAckReasonCode::granted(r.options.qos),
                            Err(_) => SubAckReasonCode::QuotaExceeded,
                        });
                    }
                    let Some(s) = self.sessions.get_mut(cid) else {
                        return;
                    };
                    let _ = s.server.suback(packet_id, codes);
                    // Retained messages after the SUBACK (Retain Handling).
                    for r in requests.iter().filter(|r| r.wants_retained()) {
                        let mut found = Vec::new();
                        self.retained
                            .match_filter(r.filter.as_filter_ref(), |_, m| found.push(m.clone()));
                        for message in found {
                            let mut d = Delivery::new(message, r.options);
                            d.from_retained = true;
                            d.subscription_identifiers.extend(subscription_identifier);
                            let _ = s.server.deliver(now, d);
                        }
                    }
                }
                ServerEvent::Unsubscribe { packet_id, filters } => {
                    let codes = filters
                        .iter()
                        .map(|(f, _)| {
                            if self.unsubscribe(cid, f) {
                                UnsubAckReasonCode::Success
                            } else {
                                UnsubAckReasonCode::NoSubscriptionExisted
                            }
                        })
                        .collect();
                    if let Some(s) = self.sessions.get_mut(cid) {
                        let _ = s.server.unsuback(packet_id, codes);
                    }
                }
                ServerEvent::Will(will) => self.publish(will_message(will), None),
                ServerEvent::SessionExpired => {
                    if !s.server.is_expired() {
                        continue;
                    }
                    self.send_out(cid);
                    let Some(mut gone) = self.sessions.remove(cid) else {
                        return;
                    };
                    let undelivered = gone.server.take_undelivered();
                    self.remove_subscriptions(cid, &gone.server);
                    // A member left without a session: its unacknowledged
                    // shared messages go to another member (v5 §4.8.2),
                    // except QoS 2 ones it was sent (v5 [MQTT-4.8.2-5]).
                    for (op, message) in undelivered.redistributable {
                        if let Some(share) = self.shared_ops.remove(&(cid.to_owned(), op)) {
                            self.publish_to_share(message, &share);
                        }
                    }
                    self.shared_ops.retain(|(c, _), _| c != cid);
                    return;
                }
                ServerEvent::Delivered { op, .. } | ServerEvent::Dropped { op, .. } => {
                    self.shared_ops.remove(&(cid.to_owned(), op));
                }
                ServerEvent::Closed(cause) => eprintln!("broker: {cid}: closed: {cause:?}"),
                _ => {}
            }
        }
    }

    /// Routes a message: the retained index, then one copy per subscribed
    /// client and one per matching shared group (round-robin).
    fn publish(&mut self, message: Message, origin: Option<&str>) {
        if message.retain {
            if message.payload.is_empty() {
                self.retained.remove(message.topic.as_topic_ref());
            } else {
                let mut stored = message.clone();
                stored.retain = true;
                let _ = self.retained.insert(message.topic.clone(), stored);
            }
        }
        let origin_key = origin.map(str::to_owned);
        let (sessions, round_robin) = (&self.sessions, &mut self.round_robin);
        let targets = self
            .deliveries
            .collect(
                &self.index,
                message.topic.as_topic_ref(),
                origin_key.as_ref(),
                |group| {
                    let key = format!("$share/{}/{}", group.share_name(), group.filter());
                    let next = round_robin.entry(key).or_insert(0);
                    let len = group.len();
                    // The next member that is connected, else the next one.
                    let pick = (0..len)
                        .map(|i| next.wrapping_add(i).checked_rem(len).unwrap_or(0))
                        .find(|&i| {
                            group
                                .member(i)
                                .and_then(|(k, _)| sessions.get(k))
                                .is_some_and(|s| s.server.is_connected())
                        })
                        .unwrap_or_else(|| next.checked_rem(len).unwrap_or(0));
                    *next = pick.wrapping_add(1);
                    Some(pick)
                },
            )
            .to_vec();
        for t in targets {
            let mut options = SubscriptionOptions::new(t.qos);
            options.retain_as_published = t.retain_as_published;
            let mut d = Delivery::new(message.clone(), options);
            d.subscription_identifiers = t.subscription_identifiers.clone();
            d.origin = origin.map(|o| MqttString::try_from(o).unwrap());
            self.deliver_to(
                &t.key,
                d,
                t.shared
                    .then(|| self.share_of(&t.key, &message.topic))
                    .flatten(),
            );
        }
    }

    /// The shared group filter of `key` that matches `topic` (for bookkeeping).
    fn share_of(&self, key: &str, topic: &TopicName) -> Option<String> {
        let s = self.sessions.get(key)?;
        s.server
            .subscriptions()
            .map(|(f, _)| f)
            .filter_map(|f| {
                let shared = SharedSubscriptionRef::parse(f.as_filter_ref()).ok()??;
                mqttkit_topic::matches(shared.filter(), topic.as_topic_ref())
                    .then(|| f.as_str().to_owned())
            })
            .next()
    }

    fn publish_to_share(&mut self, message: Message, share: &str) {
        let Ok(filter) = TopicFilter::try_from(share) else {
            return;
        };
        let Ok(Some(shared)) = SharedSubscriptionRef::parse(filter.as_filter_ref()) else {
            return;
        };
        let mut member = None;
        self.index.match_name(&message.topic, |m| {
            if let mqttkit_topic::Matched::Shared(g) = m
                && g.share_name() == shared.share_name()
                && g.filter() == shared.filter().as_str()
            {
                member = g.members().map(|(k, o)| (k.clone(), o.qos)).next();
            }
        });
        if let Some((key, qos)) = member {
            let d = Delivery::new(message, SubscriptionOptions::new(qos));
            self.deliver_to(&key, d, Some(share.to_owned()));
        }
    }

    fn deliver_to(&mut self, key: &str, d: Delivery, share: Option<String>) {
        let now = self.now();
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        match s.server.deliver(now, d) {
            Ok(op) => {
                if let Some(share) = share {
                    self.shared_ops.insert((key.to_owned(), op), share);
                }
            }
            Err(e) => {
                if !matches!(e, mqttkit_session::DeliverError::NotConnected) {
                    eprintln!("broker: {key}: {e}");
                }
            }
        }
        self.dirty.push(key.to_owned());
    }

    /// Keep-alive, will delay and session expiry deadlines.
    fn tick(&mut self) {
        let now = self.now();
        let due: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.server.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for cid in due {
            if let Some(s) = self.sessions.get_mut(&cid) {
                s.server.handle_timeout(now);
                self.dirty.push(cid);
            }
        }
        self.flush();
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection id unique across all listeners.
fn next_conn_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Moves bytes between one connection, whatever its transport, and the
/// broker task.
async fn connection<S: Io + 'static>(id: u64, stream: S, broker: mpsc::UnboundedSender<ToBroker>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel();
    if broker.send(ToBroker::Open(id, tx)).is_err() {
        return;
    }
    let to_broker = broker.clone();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_broker
                        .send(ToBroker::Bytes(
                            id,
                            Bytes::copy_from_slice(buf.get(..n).unwrap_or_default()),
                        ))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = to_broker.send(ToBroker::Closed(id));
    });
    while let Some(msg) = rx.recv().await {
        match msg {
            ToConn::Bytes(b) => {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
            ToConn::Close => break,
        }
    }
    let _ = wr.shutdown().await;
    reader.abort();
    let _ = broker.send(ToBroker::Closed(id));
}

/// A transport on top of TCP.
#[derive(Clone)]
enum Layers {
    WebSocket,
    Tls(TlsAcceptor),
    TlsWebSocket(TlsAcceptor),
}

impl Layers {
    fn name(&self) -> &'static str {
        match self {
            Layers::WebSocket => "ws",
            Layers::Tls(_) => "tls",
            Layers::TlsWebSocket(_) => "wss",
        }
    }
}

/// A peer that opens TCP and never finishes the handshake holds only its
/// own task, and only this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest WebSocket message: a packet of our Maximum Packet Size
/// (1 MiB) plus the start of the next, as a message need not end with a
/// packet.
const MAX_WS_MESSAGE: usize = 2 << 20;

/// Opens the layers over an accepted TCP connection, then runs it.
async fn handshake(
    tcp: TcpStream,
    layers: Layers,
    broker: mpsc::UnboundedSender<ToBroker>,
) -> Result<(), BoxError> {
    let _ = tcp.set_nodelay(true);
    let id = next_conn_id();
    let opened = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        Ok::<transport::BoxedIo, BoxError>(match layers {
            Layers::WebSocket => Box::new(transport::ws::accept(tcp, MAX_WS_MESSAGE).await?),
            Layers::Tls(acceptor) => Box::new(acceptor.accept(tcp).await?),
            Layers::TlsWebSocket(acceptor) => {
                let tls = acceptor.accept(tcp).await?;
                Box::new(transport::ws::accept(tls, MAX_WS_MESSAGE).await?)
            }
        })
    })
    .await
    .map_err(|_| "handshake timed out")??;
    connection(id, opened, broker).await;
    Ok(())
}

/// Accepts connections that need `layers` until the listener fails.
async fn accept_layered(
    listener: TcpListener,
    layers: Layers,
    broker: mpsc::UnboundedSender<ToBroker>,
) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let (layers, broker) = (layers.clone(), broker.clone());
        tokio::spawn(async move {
            if let Err(e) = handshake(tcp, layers.clone(), broker).await {
                eprintln!(
                    "broker: {} connection from {peer} failed: {e}",
                    layers.name()
                );
            }
        });
    }
}

/// Runs the broker on `listener` (MQTT over TCP) until the listener fails.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    serve_layered(listener, Vec::new()).await
}

/// Runs the broker on `tcp` and on each of `layered` until one of the
/// listeners fails.
async fn serve_layered(
    tcp: TcpListener,
    layered: Vec<(TcpListener, Layers)>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut broker = Broker::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let (failed_tx, mut failed) = mpsc::unbounded_channel();
    for (listener, layers) in layered {
        let (tx, failed_tx) = (tx.clone(), failed_tx.clone());
        tokio::spawn(async move {
            let _ = failed_tx.send(accept_layered(listener, layers, tx).await);
        });
    }
    loop {
        tokio::select! {
            accepted = tcp.accept() => {
                let (stream, _) = accepted?;
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(next_conn_id(), stream, tx.clone()));
            }
            Some(result) = failed.recv() => result?,
            Some(input) = rx.recv() => broker.handle(input),
            _ = ticker.tick() => broker.tick(),
        }
    }
}

/// The command line: where to listen, and the TLS identity.
struct Options {
    bind: IpAddr,
    port: u16,
    ws_port: Option<u16>,
    tls_port: Option<u16>,
    wss_port: Option<u16>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

const USAGE: &str = "usage: broker [--bind ADDR] [--port N] [--ws-port N] \
[--tls-port N] [--wss-port N] [--cert CHAIN.pem --key KEY.pem]";

impl Options {
    fn from_args() -> Result<Self, BoxError> {
        let mut o = Options {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 1883,
            ws_port: None,
            tls_port: None,
            wss_port: None,
            cert: None,
            key: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let port = || {
                value
                    .parse::<u16>()
                    .map_err(|_| format!("{flag} takes a port number, not {value:?}"))
            };
            match flag.as_str() {
                "--bind" => o.bind = value.parse().map_err(|_| format!("--bind {value:?}"))?,
                "--port" => o.port = port()?,
                "--ws-port" => o.ws_port = Some(port()?),
                "--tls-port" => o.tls_port = Some(port()?),
                "--wss-port" => o.wss_port = Some(port()?),
                "--cert" => o.cert = Some(value.into()),
                "--key" => o.key = Some(value.into()),
                _ => return Err(format!("unknown option {flag}\n{USAGE}").into()),
            }
        }
        Ok(o)
    }

    /// The TLS identity, when a TLS listener asks for one.
    fn acceptor(&self) -> Result<Option<TlsAcceptor>, BoxError> {
        if self.tls_port.is_none() && self.wss_port.is_none() {
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Err(format!("--tls-port and --wss-port need --cert and --key\n{USAGE}").into());
        };
        Ok(Some(transport::tls::acceptor(cert, key)?))
    }
}

#[allow(dead_code)] // Tests include this file as a module and call `serve`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    // Displayed, not debug-printed: the usage text spans lines.
    match start().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("broker: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start() -> Result<(), BoxError> {
    let options = Options::from_args()?;
    let acceptor = options.acceptor()?;
    let tcp = TcpListener::bind((options.bind, options.port)).await?;
    // The first line says where MQTT over TCP listens (with `--port 0`, the
    // chosen port); scripts rely on it.
    println!("listening on {}", tcp.local_addr()?);
    let mut layered = Vec::new();
    let wanted = [
        (options.ws_port, Some(Layers::WebSocket)),
        (options.tls_port, acceptor.clone().map(Layers::Tls)),
        (options.wss_port, acceptor.map(Layers::TlsWebSocket)),
    ];
    for (port, layers) in wanted {
        if let (Some(port), Some(layers)) = (port, layers) {
            let listener = TcpListener::bind((options.bind, port)).await?;
            println!("listening {} on {}", layers.name(), listener.local_addr()?);
            layered.push((listener, layers));
        }
    }
    Ok(serve_layered(tcp, layered).await?)
}
