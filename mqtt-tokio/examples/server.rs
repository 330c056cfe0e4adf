//! A small MQTT 3.1.1 / 5.0 broker on the server-side `Connection`
//! driver: one task per client, one `SubscriptionIndex` behind a mutex.
//! Sessions of disconnected clients are kept in memory and receive their
//! QoS 1 and 2 messages; this small example does not run their timers
//! (will delay, session expiry) nor keep retained messages or shared
//! subscriptions (CONNACK says so).
//!
//! ```text
//! cargo run -p mqttkit-tokio --example server -- --port 1883
//! ```
//!
//! It binds 127.0.0.1 (port 0 lets the system choose) and prints
//! `listening on ADDR` first, for scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mqttkit_tokio::mqttkit_session::{
    Delivery, Matched, MqttString, Server, ServerEvent, SubscriptionIndex,
};
use mqttkit_tokio::server::{Closed, ServerConfig};
use mqttkit_tokio::{
    ConnectReasonCode, Connecting, Connection, ConnectionEvent, ConnectionOptions, Message,
    SubAckReasonCode, SubscriptionOptions, UnsubAckReasonCode,
};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Broker {
    index: SubscriptionIndex<String>,
    live: HashMap<String, Connection>,
    /// Sessions of disconnected clients, with a Session Expiry.
    offline: HashMap<String, Server>,
}

type Shared = Arc<Mutex<Broker>>;

fn config() -> ServerConfig {
    ServerConfig {
        retain_available: false,
        shared_subscription_available: false,
        ..ServerConfig::default()
    }
}

/// Hands `message` to every client with a matching subscription, online
/// or offline.
fn route(broker: &Shared, options: &ConnectionOptions, message: &Message, origin: Option<&str>) {
    let mut broker = broker.lock().unwrap();
    let mut targets = Vec::new();
    broker.index.match_name(&message.topic, |m| {
        if let Matched::Subscriber { key, options } = m {
            targets.push((key.clone(), *options));
        }
    });
    for (client, sub) in targets {
        let mut sub_options = SubscriptionOptions::new(sub.qos);
        sub_options.no_local = sub.no_local;
        sub_options.retain_as_published = sub.retain_as_published;
        let mut delivery = Delivery::new(message.clone(), sub_options);
        delivery
            .subscription_identifiers
            .extend(sub.subscription_identifier);
        delivery.origin = origin.and_then(|o| MqttString::try_from(o).ok());
        if let Some(connection) = broker.live.get(&client) {
            match connection.deliver(delivery) {
                Err(mqttkit_tokio::server::DeliverFailed::Closed(back)) => delivery = *back,
                // Delivered, or refused by a full queue: a slow client
                // loses messages rather than slowing everyone down.
                _ => continue,
            }
        }
        if let Some(session) = broker.offline.get_mut(&client) {
            let _ = session.deliver(options.now(), delivery);
        }
    }
}

fn forget_subscriptions(broker: &mut Broker, client: &str, session: &Server) {
    let key = client.to_owned();
    for (filter, _) in session.subscriptions() {
        broker.index.unsubscribe(filter.as_filter_ref(), &key);
    }
}

async fn serve(stream: TcpStream, broker: Shared, options: ConnectionOptions) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let mut connecting = match Connecting::read(stream, &options).await {
        Ok(connecting) => connecting,
        Err(e) => return eprintln!("server: no CONNECT: {e}"),
    };
    if connecting.client_id().is_empty() {
        let id = format!("auto-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        if let Err(code) = connecting.assign_client_id(MqttString::try_from(id).unwrap()) {
            return connecting.refuse(code).await;
        }
    }
    if connecting
        .connect()
        .properties
        .authentication_method
        .is_some()
    {
        // No enhanced authentication here (v5 [MQTT-4.12.0-1]).
        return connecting
            .refuse(ConnectReasonCode::BadAuthenticationMethod)
            .await;
    }
    let client = connecting.client_id().as_str().to_owned();
    // A connection still open on this session is taken over (0x8E).
    let old = broker.lock().unwrap().live.remove(&client);
    let existing = match old {
        Some(old) => old.take_over().await,
        None => broker.lock().unwrap().offline.remove(&client),
    };
    if connecting.connect().clean_start
        && let Some(old) = &existing
    {
        forget_subscriptions(&mut broker.lock().unwrap(), &client, old);
    }
    let (connection, mut events) = match connecting.accept(existing, config()).await {
        Ok(accepted) => accepted,
        Err(refusal) => return eprintln!("server: {client} refused: {refusal}"),
    };
    broker
        .lock()
        .unwrap()
        .live
        .insert(client.clone(), connection.clone());
    while let Some(event) = events.recv().await {
        match event {
            ConnectionEvent::Session(ServerEvent::Subscribe {
                packet_id,
                requests,
                subscription_identifier,
                ..
            }) => {
                let mut b = broker.lock().unwrap();
                let codes = requests
                    .iter()
                    .map(|r| {
                        let filter = r.filter.as_filter_ref();
                        let sub_options = r.options.for_index(subscription_identifier);
                        match b.index.subscribe(filter, client.clone(), sub_options) {
                            Ok(_) => SubAckReasonCode::granted(r.options.qos),
                            Err(_) => SubAckReasonCode::QuotaExceeded,
                        }
                    })
                    .collect();
                drop(b);
                let _ = connection.suback(packet_id, codes);
            }
            ConnectionEvent::Session(ServerEvent::Unsubscribe { packet_id, filters }) => {
                let mut b = broker.lock().unwrap();
                let codes = filters
                    .iter()
                    .map(
                        |(f, _)| match b.index.unsubscribe(f.as_filter_ref(), &client) {
                            Some(_) => UnsubAckReasonCode::Success,
                            None => UnsubAckReasonCode::NoSubscriptionExisted,
                        },
                    )
                    .collect();
                drop(b);
                let _ = connection.unsuback(packet_id, codes);
            }
            // Acknowledged as it arrived (the default); routed here.
            ConnectionEvent::Session(ServerEvent::Publish { publish, .. }) => {
                if let Some(topic) = publish.topic {
                    let mut message = Message::new(topic, publish.payload, publish.qos.qos());
                    message.properties = publish.properties;
                    route(&broker, &options, &message, Some(&client));
                }
            }
            ConnectionEvent::Session(ServerEvent::Will(will)) => {
                route(&broker, &options, &Message::from(*will), None);
            }
            ConnectionEvent::Closed(Closed { cause, session, .. }) => {
                eprintln!("server: {client} closed: {cause:?}");
                let mut b = broker.lock().unwrap();
                if b.live
                    .get(&client)
                    .is_some_and(|c| c.same_connection(&connection))
                {
                    b.live.remove(&client);
                }
                match session {
                    Some(s) if !s.is_expired() => drop(b.offline.insert(client.clone(), *s)),
                    Some(s) => forget_subscriptions(&mut b, &client, &s),
                    None => {}
                }
            }
            _ => {}
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut port = 1883u16;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--port", Some(p)) => port = p,
            _ => {
                eprintln!("usage: server [--port N]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let broker = Shared::default();
    // One clock for every connection: sessions move between them.
    let options = ConnectionOptions::new();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, broker.clone(), options.clone()));
    }
}
