//! Starting and stopping a broker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mqttkit_tokio::{DisconnectReasonCode, Message, QoS, TopicName};
use tokio::task::JoinHandle;

use crate::auth::{Auth, AuthFileError};
use crate::config::{Config, Protocol};
use crate::listener::{self, ListenError};
use crate::metrics::Snapshot;
use crate::router::Slot;
use crate::state::State;

/// How often disconnected sessions' timers (will delay, expiry) are run.
const TICK: Duration = Duration::from_millis(250);

/// How often expired retained messages are dropped.
const RETAINED_PURGE: Duration = Duration::from_secs(10);

/// Why a broker did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The password or ACL file.
    #[error(transparent)]
    Auth(#[from] AuthFileError),
    /// A listener.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// A running broker. Dropping it stops accepting connections and stops
/// its timers; [`Broker::shutdown`] also disconnects the clients.
#[derive(Debug)]
pub struct Broker {
    state: Arc<State>,
    addrs: Vec<(Protocol, SocketAddr)>,
    tasks: Vec<JoinHandle<()>>,
}

impl Broker {
    /// Binds every listener of `config` and starts serving, on the tokio
    /// runtime this is called in (a multi-threaded one runs connections on
    /// every core).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_broker::StartError> {
    /// use mqttkit_broker::{Broker, Config};
    ///
    /// let broker = Broker::start(Config::default()).await?;
    /// println!("listening on {:?}", broker.local_addrs());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let auth = Auth::from_config(&config.auth)?;
        let mut bound = Vec::with_capacity(config.listeners.len());
        for listener in &config.listeners {
            bound.push(listener::bind(listener).await?);
        }
        let sys = config
            .sys
            .enabled
            .then(|| Duration::from_secs(config.sys.interval.max(1)));
        let state = Arc::new(State::new(config, auth));
        let mut addrs = Vec::with_capacity(bound.len());
        let mut tasks = Vec::with_capacity(bound.len().saturating_add(3));
        for b in bound {
            let addr = b.tcp.local_addr().map_err(|source| ListenError::Bind {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                source,
            })?;
            addrs.push((b.protocol, addr));
            tasks.push(tokio::spawn(listener::accept_loop(b, Arc::clone(&state))));
        }
        tasks.push(tokio::spawn(timers(Arc::clone(&state))));
        tasks.push(tokio::spawn(Arc::clone(&state.pacer).run()));
        if let Some(every) = sys {
            tasks.push(tokio::spawn(publish_sys(Arc::clone(&state), every)));
        }
        Ok(Self {
            state,
            addrs,
            tasks,
        })
    }

    /// The listeners' addresses, in the order configured (with the port the
    /// system chose for port 0).
    ///
    /// ```no_run
    /// # async fn run(broker: mqttkit_broker::Broker) {
    /// for (protocol, addr) in broker.local_addrs() {
    ///     println!("{} on {addr}", protocol.name());
    /// }
    /// # }
    /// ```
    pub fn local_addrs(&self) -> &[(Protocol, SocketAddr)] {
        &self.addrs
    }

    /// The counters and sizes the `$SYS` tree publishes.
    ///
    /// ```no_run
    /// # async fn run(broker: mqttkit_broker::Broker) {
    /// println!("{} clients", broker.metrics().clients_connected);
    /// # }
    /// ```
    pub fn metrics(&self) -> Snapshot {
        snapshot(&self.state)
    }

    /// Stops accepting connections and disconnects every client with
    /// 0x8B Server shutting down (5.0), so that they publish their wills
    /// and reconnect elsewhere.
    ///
    /// ```no_run
    /// # async fn run(broker: mqttkit_broker::Broker) {
    /// broker.shutdown();
    /// # }
    /// ```
    pub fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        let router = self.state.router();
        for client in router.clients.values() {
            if let Slot::Live(connection) = &client.slot {
                connection.disconnect(DisconnectReasonCode::ServerShuttingDown);
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn snapshot(state: &State) -> Snapshot {
    let mut snapshot = state.metrics.counters();
    state.router().fill(&mut snapshot);
    snapshot
}

/// Runs disconnected sessions' timers and publishes the wills they
/// release; drops expired retained messages now and then.
async fn timers(state: Arc<State>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purged = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = state.options.now();
        let mut router = state.router();
        for will in router.tick(now) {
            router.route(now, &will, None);
        }
        if purged.elapsed() >= RETAINED_PURGE {
            purged = tokio::time::Instant::now();
            router.purge_retained(now);
        }
    }
}

/// Publishes the `$SYS/broker/...` tree, retained, every `every`.
async fn publish_sys(state: Arc<State>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let snapshot = snapshot(&state);
        let now = state.options.now();
        let mut router = state.router();
        for (topic, value) in snapshot.sys_topics() {
            let Ok(topic) = TopicName::try_from(topic) else {
                continue;
            };
            let mut message = Message::new(topic, value, QoS::AtMostOnce);
            message.retain = true;
            router.route(now, &message, None);
        }
    }
}
