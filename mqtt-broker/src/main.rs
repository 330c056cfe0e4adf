//! `mqttkit-broker`: runs the broker.

fn main() {}
