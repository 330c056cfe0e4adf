//! The broker load generator behind `broker_load`: raw MQTT 3.1.1 clients
//! on tokio, cheap enough that the broker is what is measured.

pub mod conn;
pub mod flow;
pub mod procfs;
pub mod record;
pub mod scenario;
pub mod summary;
pub mod wire;
