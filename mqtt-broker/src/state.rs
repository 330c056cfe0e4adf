//! What every task of a running broker shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mqttkit_tokio::mqttkit_session::MqttString;
use mqttkit_tokio::server::{ConnectionOptions, ServerConfig};

use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pacing::{Behind, Pacer};
use crate::router::Router;

/// The broker's shared state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    /// The session settings every connection starts from.
    pub(crate) server_config: ServerConfig,
    /// Sizes, timeouts and the one clock of every connection.
    pub(crate) options: ConnectionOptions,
    pub(crate) auth: Auth,
    pub(crate) metrics: Arc<Metrics>,
    /// Holds publishers while a subscriber they feed catches up.
    pub(crate) pacer: Arc<Pacer>,
    router: Mutex<Router>,
    next_client: AtomicU64,
}

impl State {
    pub(crate) fn new(config: Config, auth: Auth) -> Self {
        let metrics = Arc::new(Metrics::default());
        let limits = &config.limits;
        let server_config = ServerConfig {
            receive_maximum: limits.receive_maximum,
            maximum_packet_size: Some(config.max_packet_size),
            inflight_window: limits.max_inflight,
            max_queued: limits.max_queued,
            max_queued_bytes: limits.max_queued_bytes,
            retain_available: config.retained.enabled,
            // Acknowledged after the ACL check and routing.
            manual_ack: true,
            ..ServerConfig::default()
        };
        let options = ConnectionOptions::new()
            .connect_timeout(std::time::Duration::from_secs(config.connect_timeout))
            .max_connect_size(config.max_packet_size)
            .max_unwritten(limits.max_unwritten);
        let behind = Behind::from_bounds(limits.max_queued, limits.max_unwritten);
        let router = Router::new(
            limits,
            config.retained.clone(),
            Arc::clone(&metrics),
            behind,
        );
        Self {
            config,
            server_config,
            options,
            auth,
            metrics,
            pacer: Arc::new(Pacer::new(behind)),
            router: Mutex::new(router),
            next_client: AtomicU64::new(1),
        }
    }

    /// The router, locked. A task that panicked while holding it cannot
    /// have left it in a state worse than stopping the broker, so the
    /// poison is ignored.
    pub(crate) fn router(&self) -> MutexGuard<'_, Router> {
        self.router
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh identifier for a client that sent none.
    pub(crate) fn next_client_id(&self) -> MqttString {
        crate::session::assigned_id(self.next_client.fetch_add(1, Ordering::Relaxed))
    }
}
