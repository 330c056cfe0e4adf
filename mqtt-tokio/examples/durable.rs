//! A publisher that loses nothing: not when the broker goes away, and not
//! when this process is killed.
//!
//! It publishes numbered QoS 1 readings to `durable/readings`. Each one is
//! in the session file before it counts as taken; the client reconnects on
//! its own with a capped, jittered backoff; and after a restart (also
//! after `kill -9`) it resends what the broker had not acknowledged, with
//! DUP and in order, and sends what it had taken but never sent.
//!
//! ```text
//! cargo run -p mqttkit-tokio --example durable -- mqtt://127.0.0.1:1883 durable.session 100
//! # stop the broker, start it again, kill this program, run it again: watch
//! mosquitto_sub -t durable/readings -q 1 -v
//! ```

use std::time::Duration;

use mqttkit_tokio::{Client, ConnectOptions, Event, FileStore, Message, QoS, Reconnect};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let path = args.next().unwrap_or_else(|| "durable.session".into());
    let count: u32 = args.next().map_or(Ok(100), |n| n.parse())?;

    let client_id = "mqttkit-durable-example";
    let store = FileStore::open(&path, client_id)?;
    let options = ConnectOptions::from_url(&url)?
        .client_id(client_id)
        // The broker keeps the session (and what it has of ours) this long
        // while we are away.
        .session_expiry(Duration::from_secs(24 * 3600))
        .reconnect(Reconnect::new(
            Duration::from_millis(200),
            Duration::from_secs(10),
        ))
        .store(store);
    // `start` does not wait for the broker: readings are taken and stored
    // while it is down, and sent once it is back.
    let (client, mut events) = Client::start(options).await?;
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                Event::Connected { session_present } => {
                    println!("connected (session present: {session_present})");
                }
                Event::ConnectionLost { error, retry_in } => {
                    println!("connection lost ({error}); retrying in {retry_in:?}");
                }
                Event::Disconnected(why) => println!("stopped: {why}"),
                _ => {}
            }
        }
    });

    let mut deliveries = Vec::new();
    for n in 1..=count {
        let topic = "durable/readings".try_into()?;
        let message = Message::new(topic, format!("reading {n}"), QoS::AtLeastOnce);
        // Resolves once the reading is in the session file.
        deliveries.push((n, client.submit(message).await?));
        println!("stored reading {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (n, delivery) in deliveries {
        println!("reading {n}: {}", delivery.await?);
    }
    client.disconnect().await?;
    Ok(())
}
