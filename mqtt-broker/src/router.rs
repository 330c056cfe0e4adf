//! Where messages go: the subscription index, the retained messages, the
//! shared groups, and the table of clients (connected, or a session kept
//! for a disconnected one). One value behind one mutex, held for a routing
//! step and never across an await; every connection task routes what its
//! client publishes itself, so routing runs on every core, in publish
//! order per client.

use std::collections::HashMap;
use std::sync::Arc;

use mqttkit_tokio::mqttkit_session::{
    Deliveries, Delivery, Instant, Matched, OpId, Server, ServerEvent, SharedSubscriptionRef,
    SubscriptionIndex,
};
use mqttkit_tokio::server::{Connection, DeliverError, DeliverFailed};
use mqttkit_tokio::{Message, SubscriptionOptions, TopicFilter};

use crate::config::{Limits, RetainedLimits};
use crate::metrics::{Metrics, Snapshot};
use crate::pacing::Behind;
use crate::retained::{RetainedStore, Stored, message_size};

/// A client identifier as the router keys it: cheap to clone into the
/// index and the delivery lists.
pub(crate) type ClientKey = Arc<str>;

/// Where a client's session is.
#[derive(Debug)]
pub(crate) enum Slot {
    /// Connected: the driver task holds the session.
    Live(Connection),
    /// Disconnected, kept until it expires; its timers run on the ticker.
    Offline(Box<Server>),
    /// Being handed from an old connection to a new one.
    Moving,
}

/// One client known to the router.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) slot: Slot,
    /// Deliveries that met the connection as it ended, for wherever the
    /// session goes next; bounded by the queue limit.
    /// Boxed: rarely used, and the table holds every client, so one
    /// pointer beats an empty `Vec`'s three words.
    #[allow(clippy::box_collection)]
    pending: Option<Box<Vec<Delivery>>>,
    /// Messages refused by a full queue in the current overflow episode.
    dropped: u32,
}

impl Client {
    pub(crate) fn new(slot: Slot) -> Self {
        Self {
            slot,
            pending: None,
            dropped: 0,
        }
    }
}

/// The broker's routing state.
#[derive(Debug)]
pub(crate) struct Router {
    index: SubscriptionIndex<ClientKey>,
    deliveries: Deliveries<ClientKey>,
    retained: RetainedStore,
    pub(crate) clients: HashMap<ClientKey, Client>,
    /// Next member per shared group (`$share/name/filter`).
    round_robin: HashMap<String, usize>,
    /// Shared-subscription messages in flight: the group filter they were
    /// sent through, so that a member leaving hands them to another.
    shared_ops: HashMap<(ClientKey, OpId), String>,
    metrics: Arc<Metrics>,
    max_pending: usize,
    behind: Behind,
}

/// What routing one message did.
#[derive(Debug)]
pub(crate) struct Routed {
    /// Subscriptions matched.
    pub(crate) matched: usize,
    /// A connected client it went to that falls behind, the first if
    /// several: the publisher should wait for it (see [`crate::pacing`]).
    pub(crate) behind: Option<(ClientKey, Connection)>,
}

/// A shared filter's group, from `$share/name/filter`.
fn group_key(share_name: &str, filter: &str) -> String {
    format!("$share/{share_name}/{filter}")
}

impl Router {
    pub(crate) fn new(
        limits: &Limits,
        retained: RetainedLimits,
        metrics: Arc<Metrics>,
        behind: Behind,
    ) -> Self {
        Self {
            index: SubscriptionIndex::new(),
            deliveries: Deliveries::new(),
            retained: RetainedStore::new(retained),
            clients: HashMap::new(),
            round_robin: HashMap::new(),
            shared_ops: HashMap::new(),
            metrics,
            max_pending: limits.max_queued,
            behind,
        }
    }

    /// The sizes for the `$SYS` tree.
    pub(crate) fn fill(&self, snapshot: &mut Snapshot) {
        snapshot.subscriptions = self.index.len() as u64;
        snapshot.retained_messages = self.retained.len() as u64;
        snapshot.clients_disconnected = self
            .clients
            .values()
            .filter(|c| matches!(c.slot, Slot::Offline(_)))
            .count() as u64;
    }

    /// Adds a subscription; `false` when the index is full.
    pub(crate) fn subscribe(
        &mut self,
        key: &ClientKey,
        filter: &TopicFilter,
        options: mqttkit_tokio::mqttkit_session::mqttkit_topic::SubscriptionOptions,
    ) -> bool {
        let added = match SharedSubscriptionRef::parse(filter.as_filter_ref()) {
            Ok(Some(shared)) => self.index.subscribe_shared(shared, key.clone(), options),
            _ => self
                .index
                .subscribe(filter.as_filter_ref(), key.clone(), options),
        };
        added.is_ok()
    }

    /// Removes a subscription; whether there was one.
    pub(crate) fn unsubscribe(&mut self, key: &ClientKey, filter: &TopicFilter) -> bool {
        match SharedSubscriptionRef::parse(filter.as_filter_ref()) {
            Ok(Some(shared)) => self.index.unsubscribe_shared(shared, key).is_some(),
            _ => self
                .index
                .unsubscribe(filter.as_filter_ref(), key)
                .is_some(),
        }
    }

    /// Removes every subscription of `session`.
    pub(crate) fn forget_subscriptions(&mut self, key: &ClientKey, session: &Server) {
        let filters: Vec<TopicFilter> = session.subscriptions().map(|(f, _)| f.clone()).collect();
        for filter in &filters {
            self.unsubscribe(key, filter);
        }
    }

    /// The retained messages for a new subscription to `filter`.
    pub(crate) fn retained_for(&mut self, filter: &TopicFilter, now: Instant) -> Vec<Message> {
        self.retained.matching(filter, now)
    }

    /// Drops expired retained messages.
    pub(crate) fn purge_retained(&mut self, now: Instant) -> usize {
        self.retained.purge(now)
    }

    /// Routes `message`: the retained store, then one delivery per
    /// subscribed client and one per matching shared group. Returns how
    /// many subscriptions matched, and whether a connected client it went
    /// to is falling behind (see [`Router::deliver_to`]).
    pub(crate) fn route(
        &mut self,
        now: Instant,
        message: &Message,
        origin: Option<&ClientKey>,
    ) -> Routed {
        if message.retain && self.retained.store(message, now) == Stored::Full {
            tracing::debug!(
                topic = message.topic.as_str(),
                "retained store full: not retained"
            );
        }
        // Taken out for the loop below, which needs the router: its
        // buffers are kept for the next message rather than copied.
        let mut deliveries = std::mem::take(&mut self.deliveries);
        let Self {
            index,
            clients,
            round_robin,
            ..
        } = self;
        // The member picked in each shared group, with the group's name.
        let mut picked: Vec<(ClientKey, String)> = Vec::new();
        let targets = deliveries.collect(index, message.topic.as_topic_ref(), origin, |group| {
            let len = group.len();
            let name = group_key(group.share_name(), group.filter());
            let next = round_robin.get(&name).copied().unwrap_or(0);
            // The next member that is connected, else the next one.
            let pick = (0..len)
                .map(|i| next.wrapping_add(i).checked_rem(len).unwrap_or(0))
                .find(|&i| {
                    group
                        .member(i)
                        .and_then(|(k, _)| clients.get(k))
                        .is_some_and(|c| matches!(c.slot, Slot::Live(_)))
                })
                .unwrap_or_else(|| next.checked_rem(len).unwrap_or(0));
            if let Some((key, _)) = group.member(pick) {
                picked.push((key.clone(), name.clone()));
            }
            round_robin.insert(name, pick.wrapping_add(1));
            Some(pick)
        });
        let matched = targets.len();
        let mut routed = Routed {
            matched,
            behind: None,
        };
        // No Local (v5 [MQTT-3.8.3-3]) was applied by `collect`, so the
        // deliveries carry no origin for the session to check again.
        for target in targets {
            let mut options = SubscriptionOptions::new(target.qos);
            options.retain_as_published = target.retain_as_published;
            let mut delivery = Delivery::new(message.clone(), options);
            delivery
                .subscription_identifiers
                .clone_from(&target.subscription_identifiers);
            let share = if target.shared {
                picked
                    .iter()
                    .position(|(k, _)| *k == target.key)
                    .map(|i| picked.swap_remove(i).1)
            } else {
                None
            };
            let behind = self.deliver_to(now, &target.key, delivery, share);
            if routed.behind.is_none() {
                routed.behind = behind.map(|c| (target.key.clone(), c));
            }
        }
        self.deliveries = deliveries;
        routed
    }

    /// Hands `delivery` to the client's session, wherever it is. Returns
    /// the client's connection when it is connected and falls behind
    /// ([`Behind`]); whether its publishers wait for it is the pacer's
    /// call. A message that finds its queue full is dropped.
    pub(crate) fn deliver_to(
        &mut self,
        now: Instant,
        key: &ClientKey,
        delivery: Delivery,
        share: Option<String>,
    ) -> Option<Connection> {
        let client = self.clients.get_mut(key)?;
        let mut behind = None;
        let size = message_size(&delivery.message);
        let result = match &mut client.slot {
            Slot::Live(connection) => {
                let result = match connection.deliver(delivery) {
                    Ok(op) => Ok(op),
                    Err(DeliverFailed::Refused(e)) => Err(e),
                    Err(DeliverFailed::Closed(back)) => {
                        park(client, *back, self.max_pending, &self.metrics);
                        return None;
                    }
                    Err(_) => return None,
                };
                if self.behind.at(connection.backlog()) {
                    behind = Some(connection.clone());
                }
                result
            }
            Slot::Offline(session) => {
                let result = session.deliver(now, delivery);
                drain_offline_outcomes(session);
                result
            }
            Slot::Moving => {
                park(client, delivery, self.max_pending, &self.metrics);
                return None;
            }
        };
        match result {
            Ok(op) => {
                self.metrics.sent(size);
                if client.dropped > 0 {
                    tracing::info!(
                        client = &**key,
                        dropped = client.dropped,
                        "queue has room again"
                    );
                    client.dropped = 0;
                }
                if let Some(share) = share {
                    self.shared_ops.insert((key.clone(), op), share);
                }
            }
            Err(DeliverError::QueueFull) => {
                self.metrics.dropped();
                if client.dropped == 0 {
                    tracing::warn!(
                        client = &**key,
                        "queue full: messages to this client are dropped until it reads again"
                    );
                }
                client.dropped = client.dropped.saturating_add(1);
            }
            // No Local, QoS 0 to a disconnected client, Retain Handling:
            // not for this client.
            Err(_) => {}
        }
        behind
    }

    /// A delivery to `key` completed or was dropped: a shared-subscription
    /// message no longer needs its group remembered.
    pub(crate) fn outcome(&mut self, key: &ClientKey, op: OpId) {
        self.shared_ops.remove(&(key.clone(), op));
    }

    /// Attaches a connection to the client's entry, with what waited for
    /// its session.
    pub(crate) fn attach(&mut self, now: Instant, key: &ClientKey, connection: Connection) {
        self.place(now, key, Slot::Live(connection));
    }

    /// A connection ended with `session` still alive: keep it offline, with
    /// what waited for it.
    pub(crate) fn park_session(&mut self, now: Instant, key: &ClientKey, session: Server) {
        self.place(now, key, Slot::Offline(Box::new(session)));
    }

    /// Puts the client's session in `slot` and hands it the deliveries that
    /// met it while it was moving.
    fn place(&mut self, now: Instant, key: &ClientKey, slot: Slot) {
        let client = self
            .clients
            .entry(key.clone())
            .or_insert_with(|| Client::new(Slot::Moving));
        client.slot = slot;
        let pending = client.pending.take().map(|p| *p).unwrap_or_default();
        for delivery in pending {
            self.deliver_to(now, key, delivery, None);
        }
    }

    /// A session is over (expired, or Clean Start replaced it): its
    /// subscriptions go, and its shared-subscription messages go to another
    /// member of their group, except QoS 2 ones that were sent to it
    /// (v5 [MQTT-4.8.2-5]).
    pub(crate) fn end_session(&mut self, now: Instant, key: &ClientKey, mut session: Server) {
        self.forget_subscriptions(key, &session);
        let undelivered = session.take_undelivered();
        for (op, message) in undelivered.redistributable {
            if let Some(share) = self.shared_ops.remove(&(key.clone(), op)) {
                self.hand_to_share(now, message, &share);
            }
        }
        self.shared_ops.retain(|(k, _), _| k != key);
    }

    /// Sends `message` to one member of the shared group `share`.
    fn hand_to_share(&mut self, now: Instant, message: Message, share: &str) {
        let Ok(filter) = TopicFilter::try_from(share) else {
            return;
        };
        let Ok(Some(shared)) = SharedSubscriptionRef::parse(filter.as_filter_ref()) else {
            return;
        };
        let clients = &self.clients;
        let mut member = None;
        self.index.match_name(&message.topic, |m| {
            if let Matched::Shared(group) = m
                && group.share_name() == shared.share_name()
                && group.filter() == shared.filter().as_str()
            {
                let mut members = group.members();
                let first = members.next().map(|(k, o)| (k.clone(), o.qos));
                member = group
                    .members()
                    .find(|(k, _)| {
                        clients
                            .get(*k)
                            .is_some_and(|c| matches!(c.slot, Slot::Live(_)))
                    })
                    .map(|(k, o)| (k.clone(), o.qos))
                    .or(first);
            }
        });
        if let Some((key, qos)) = member {
            let delivery = Delivery::new(message, SubscriptionOptions::new(qos));
            self.deliver_to(now, &key, delivery, Some(share.to_owned()));
        }
    }

    /// Runs the timers of disconnected sessions due by `now`: wills to
    /// publish, sessions that expired. Returns the wills.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<Message> {
        let due: Vec<ClientKey> = self
            .clients
            .iter()
            .filter(|(_, c)| match &c.slot {
                Slot::Offline(s) => s.poll_timeout().is_some_and(|t| t <= now),
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut wills = Vec::new();
        for key in due {
            let Some(client) = self.clients.get_mut(&key) else {
                continue;
            };
            let Slot::Offline(session) = &mut client.slot else {
                continue;
            };
            session.handle_timeout(now);
            let mut expired = false;
            while let Some(event) = session.poll_event() {
                match event {
                    ServerEvent::Will(will) => wills.push(Message::from(*will)),
                    ServerEvent::SessionExpired => expired |= session.is_expired(),
                    _ => {}
                }
            }
            if expired
                && let Some(client) = self.clients.remove(&key)
                && let Slot::Offline(session) = client.slot
            {
                tracing::info!(client = &*key, "session expired");
                self.end_session(now, &key, *session);
            }
        }
        wills
    }
}

/// Keeps `delivery` for the session's next place, within the queue bound.
fn park(client: &mut Client, delivery: Delivery, max: usize, metrics: &Metrics) {
    let pending = client.pending.get_or_insert_default();
    if pending.len() < max {
        pending.push(delivery);
    } else {
        metrics.dropped();
    }
}

/// Drains what an offline session reports after a delivery (drops of
/// queued QoS 0 messages to make room); nothing there needs the router.
fn drain_offline_outcomes(session: &mut Server) {
    while session.poll_event().is_some() {}
}
