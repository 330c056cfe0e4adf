//! Connects to the broker at the URL given as the first argument (default
//! `mqtt://127.0.0.1:1883`), subscribes to `x/#`, publishes three QoS 1
//! messages, receives them and disconnects.
//!
//! ```text
//! cargo run -p mqttkit-tokio --example client -- mqtt://127.0.0.1:1883
//! ```

use mqttkit_tokio::{Client, ConnectOptions, Event, QoS};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1);
    let url = url.as_deref().unwrap_or("mqtt://127.0.0.1:1883");
    let options = ConnectOptions::from_url(url)?.client_id("mqttkit-tokio-example");
    let (client, mut events) = Client::connect(options).await?;

    let granted = client.subscribe("x/#", QoS::AtLeastOnce).await?;
    println!("subscribed to x/#: {granted}");
    for i in 1..=3 {
        // Resolves on PUBACK, with its reason code.
        let reason = client
            .publish("x/hello", QoS::AtLeastOnce, format!("hello {i}"))
            .await?;
        println!("published hello {i}: {reason}");
    }

    for _ in 0..3 {
        match events.recv().await {
            Some(Event::Message { publish, .. }) => {
                let payload = String::from_utf8_lossy(&publish.payload);
                println!("received on {}: {payload}", publish.topic_str());
            }
            Some(Event::Disconnected(why)) => return Err(why.into()),
            _ => return Err("the connection ended".into()),
        }
    }
    client.disconnect().await?;
    Ok(())
}
