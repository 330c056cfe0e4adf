//! One client from CONNECT to close: admission (credentials, keep alive,
//! client identifier), taking its session from the router or a previous
//! connection, then the connection's events, routed as they come. The
//! driver task of `mqttkit-tokio` moves the bytes; this task decides.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mqttkit_tokio::mqttkit_session::{
    Delivery, MqttString, Server, ServerCloseCause, ServerEvent, SubscribeRequest,
};
use mqttkit_tokio::server::{Closed, ConnectError, Connecting, Connection, ConnectionEvent};
use mqttkit_tokio::transport::Io;
use mqttkit_tokio::{
    ConnectReasonCode, DisconnectReasonCode, Message, ProtocolVersion, PubAckReasonCode,
    ReasonCode, SubAckReasonCode, UnsubAckReasonCode,
};

use crate::auth::{ConnectDecision, Identity};
use crate::config::Protocol;
use crate::router::{ClientKey, Slot};
use crate::state::State;

/// Whether `text` holds a control character the option refuses
/// (U+0001..U+001F, U+007F..U+009F; v5 §1.5.4). U+0000 the codec refuses
/// always.
pub(crate) fn has_control_characters(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{1}'..='\u{1f}' | '\u{7f}'..='\u{9f}'))
}

fn version_name(version: ProtocolVersion) -> &'static str {
    if version.is_v5() {
        "5.0"
    } else if version == ProtocolVersion::V3_1_1 {
        "3.1.1"
    } else {
        "3.1"
    }
}

/// Why a connection ended, in words for the log.
fn describe(closed: &Closed) -> String {
    match &closed.cause {
        ServerCloseCause::ByClient(d) if d.reason_code == DisconnectReasonCode::Success => {
            "the client disconnected".to_owned()
        }
        ServerCloseCause::ByClient(d) => {
            format!(
                "the client disconnected with {}",
                ReasonCode::from(d.reason_code)
            )
        }
        ServerCloseCause::ByServer(code) => {
            format!("the broker closed it: {}", ReasonCode::from(*code))
        }
        ServerCloseCause::ProtocolViolation(v) => format!("{v}"),
        ServerCloseCause::KeepAliveTimeout => "nothing received within the keep alive".to_owned(),
        ServerCloseCause::TakenOver => "a new connection took the session over".to_owned(),
        ServerCloseCause::TransportClosed => match &closed.io_error {
            Some(e) => format!("the connection was lost: {e}"),
            None => "the connection was lost".to_owned(),
        },
        other => format!("{other:?}"),
    }
}

/// Runs one connection to its end.
pub(crate) async fn serve(io: impl Io, peer: SocketAddr, protocol: Protocol, state: Arc<State>) {
    let connecting = match Connecting::read(io, &state.options).await {
        Ok(connecting) => connecting,
        // Health checks and port scans open and close.
        Err(ConnectError::Closed) => {
            return tracing::debug!(%peer, "connection closed before CONNECT");
        }
        Err(e) => return tracing::info!(%peer, "connection refused: {e}"),
    };
    let Some((connecting, admitted)) = admit(connecting, &state).await else {
        return;
    };
    let key: ClientKey = Arc::from(connecting.client_id().as_str());
    let version = connecting.version();
    let clean_start = connecting.connect().clean_start;
    let mut existing = take_session(&state, &key).await;
    if clean_start && let Some(old) = existing.take() {
        let now = state.options.now();
        state.router().end_session(now, &key, old);
    }
    let resumed = existing.is_some();
    let shared_member = existing.as_ref().is_some_and(|s| {
        s.subscriptions()
            .any(|(f, _)| f.as_str().starts_with(SHARE_PREFIX))
    });
    let user = admitted.user;
    let handler_state = Arc::clone(&state);
    let handler_key = key.clone();
    let accepted = connecting
        .accept_with_handler(existing, admitted.config, move |connection| {
            let now = handler_state.options.now();
            handler_state
                .router()
                .attach(now, &handler_key, connection.clone());
            let mut client = ClientTask {
                state: handler_state,
                key: handler_key,
                user: user.map(String::into_boxed_str),
                v5: version.is_v5(),
                connection: connection.clone(),
                shared_member,
                peer: Peer(peer.ip(), peer.port()),
            };
            // Run by the connection's driver task, event by event: an idle
            // client is its driver and this value.
            move |event| match event {
                ConnectionEvent::Session(event) => client.handle(event),
                ConnectionEvent::Closed(closed) => client.closed(closed),
                _ => {}
            }
        })
        .await;
    match accepted {
        Ok(connection) => {
            state.metrics.connected();
            tracing::info!(
                client = connection.client_id().as_str(),
                %peer,
                listener = protocol.name(),
                version = version_name(version),
                resumed,
                "connected"
            );
        }
        Err(refusal) => {
            let now = state.options.now();
            let mut router = state.router();
            match refusal.session {
                Some(session) => router.park_session(now, &key, *session),
                None => drop(router.clients.remove(&key)),
            }
            tracing::info!(client = &*key, %peer, "refused: {}", refusal.code);
        }
    }
}

/// What admission decided for an accepted CONNECT.
struct Admitted {
    config: mqttkit_tokio::server::ServerConfig,
    user: Option<String>,
}

/// Checks the CONNECT against the broker's rules; a refusal is answered
/// here and gives `None`.
async fn admit(mut connecting: Connecting, state: &State) -> Option<(Connecting, Admitted)> {
    let connect = connecting.connect();
    let v5 = connecting.version().is_v5();
    let mut config = state.server_config.clone();
    let controls = state.config.refuse_control_characters;
    let control_in = |c: &mqttkit_tokio::mqttkit_session::Connect| {
        has_control_characters(c.client_id.as_str())
            || c.will
                .as_ref()
                .is_some_and(|w| has_control_characters(w.topic.as_str()))
            || c.login
                .username
                .as_ref()
                .is_some_and(|u| has_control_characters(u.as_str()))
    };
    if controls && !v5 && control_in(connect) {
        // 3.1.1 has no return code for it: closed as a malformed packet,
        // as mosquitto does.
        tracing::info!(
            client = connect.client_id.as_str(),
            "control characters in CONNECT"
        );
        return None;
    }
    let refusal = if controls && has_control_characters(connect.client_id.as_str()) {
        Some(ConnectReasonCode::ClientIdentifierNotValid)
    } else if controls
        && connect
            .will
            .as_ref()
            .is_some_and(|w| has_control_characters(w.topic.as_str()))
    {
        Some(ConnectReasonCode::TopicNameInvalid)
    } else if controls
        && connect
            .login
            .username
            .as_ref()
            .is_some_and(|u| has_control_characters(u.as_str()))
    {
        Some(ConnectReasonCode::BadUserNameOrPassword)
    } else if connect.properties.authentication_method.is_some() {
        // No enhanced authentication method is known here (v5 [MQTT-4.12.0-1]).
        Some(ConnectReasonCode::BadAuthenticationMethod)
    } else {
        match state.config.max_keep_alive {
            Some(max) if connect.keep_alive == 0 || connect.keep_alive > max => {
                if v5 {
                    // Told to the client as Server Keep Alive (v5 [MQTT-3.2.2-21]).
                    config.server_keep_alive = Some(max);
                    None
                } else {
                    // 3.1.1 has no way to tell the client: refused, as
                    // mosquitto does.
                    Some(ConnectReasonCode::ClientIdentifierNotValid)
                }
            }
            _ => None,
        }
    };
    let user = connect
        .login
        .username
        .as_ref()
        .map(|u| u.as_str().to_owned());
    let refusal = match refusal {
        Some(code) => Some(code),
        None => {
            let password = connect.login.password.clone();
            match state
                .auth
                .check_connect(user.as_deref(), password.as_deref())
                .await
            {
                ConnectDecision::Allowed => None,
                ConnectDecision::BadCredentials => Some(ConnectReasonCode::BadUserNameOrPassword),
                _ => Some(ConnectReasonCode::NotAuthorized),
            }
        }
    };
    if let Some(code) = refusal {
        tracing::info!(
            client = connecting.client_id().as_str(),
            user = user.as_deref().unwrap_or(""),
            "refused: {code}"
        );
        connecting.refuse(code).await;
        return None;
    }
    if connecting.client_id().is_empty() {
        let id = state.next_client_id();
        if let Err(code) = connecting.assign_client_id(id) {
            tracing::info!("refused a client without identifier: {code}");
            connecting.refuse(code).await;
            return None;
        }
    }
    Some((connecting, Admitted { config, user }))
}

/// Takes the client's session from the router: an offline one, or one
/// taken over from a connection still open (v5 [MQTT-3.1.4-3]). The entry
/// is left `Moving` until the new connection is attached.
async fn take_session(state: &State, key: &ClientKey) -> Option<Server> {
    // A concurrent CONNECT of the same client, or an old connection whose
    // driver ended and whose task is about to park its session, settles
    // within a few rounds; bounded all the same.
    for _ in 0..500 {
        let live = {
            let mut router = state.router();
            let Some(client) = router.clients.get_mut(key) else {
                router
                    .clients
                    .insert(key.clone(), crate::router::Client::new(Slot::Moving));
                return None;
            };
            match std::mem::replace(&mut client.slot, Slot::Moving) {
                Slot::Offline(session) => return Some(*session),
                Slot::Live(connection) => Some(connection),
                Slot::Moving => None,
            }
        };
        match live {
            Some(old) => {
                if let Some(session) = old.take_over().await {
                    return Some(session);
                }
            }
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    tracing::warn!(
        client = &**key,
        "session still moving after 5 s: starting a new one"
    );
    None
}

/// The connected client, as its events are handled.
struct ClientTask {
    state: Arc<State>,
    key: ClientKey,
    user: Option<Box<str>>,
    v5: bool,
    connection: Connection,
    /// The client has (or had, on this connection) a shared subscription:
    /// the router tracks the outcome of the messages it was sent through
    /// one. Known locally, so that other clients' acknowledgements never
    /// take the router's lock.
    shared_member: bool,
    peer: Peer,
}

/// A client's address, for its disconnect line: `SocketAddr` carries IPv6
/// flow and scope fields this does not need, and every idle client keeps
/// one.
#[derive(Debug, Clone, Copy)]
struct Peer(std::net::IpAddr, u16);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&SocketAddr::new(self.0, self.1), f)
    }
}

impl ClientTask {
    fn identity(&self) -> Identity<'_> {
        Identity {
            user: self.user.as_deref(),
            client_id: &self.key,
        }
    }

    fn handle(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Publish { publish, ack } => {
                let Some(topic) = publish.topic else { return };
                let size = crate::retained::topic_and_payload_size(&topic, &publish.payload);
                self.state.metrics.received(size);
                if self.state.config.refuse_control_characters
                    && has_control_characters(topic.as_str())
                {
                    // Treated as a malformed string, as mosquitto does.
                    tracing::info!(client = &*self.key, "topic with control characters");
                    return self
                        .connection
                        .disconnect(DisconnectReasonCode::MalformedPacket);
                }
                if !self
                    .state
                    .auth
                    .may_publish(&self.identity(), topic.as_str())
                {
                    tracing::debug!(
                        client = &*self.key,
                        topic = topic.as_str(),
                        "publish denied"
                    );
                    if let Some(token) = ack {
                        // 3.1.1 has no refusal: the message is dropped.
                        let reason = if self.v5 {
                            PubAckReasonCode::NotAuthorized
                        } else {
                            PubAckReasonCode::Success
                        };
                        let _ = self.connection.ack(token, reason);
                    }
                    return;
                }
                let mut properties = publish.properties;
                properties.topic_alias = None;
                let mut message = Message::new(topic, publish.payload, publish.qos.qos());
                message.retain = publish.retain;
                message.properties = properties;
                let now = self.state.options.now();
                let routed = self.state.router().route(now, &message, Some(&self.key));
                if let Some((key, subscriber)) = &routed.behind {
                    self.state
                        .pacer
                        .hold((key, subscriber), (&self.key, &self.connection));
                }
                let matched = routed.matched;
                if let Some(token) = ack {
                    // 0x10 tells a 5.0 publisher that nobody subscribed
                    // (v5 §3.4.2.1).
                    let reason = if self.v5 && matched == 0 {
                        PubAckReasonCode::NoMatchingSubscribers
                    } else {
                        PubAckReasonCode::Success
                    };
                    let _ = self.connection.ack(token, reason);
                }
            }
            ServerEvent::Subscribe {
                packet_id,
                requests,
                subscription_identifier,
                ..
            } => {
                if !self.v5
                    && self.state.config.refuse_control_characters
                    && requests
                        .iter()
                        .any(|r| has_control_characters(r.filter.as_str()))
                {
                    // 3.1.1 has no code for a bad filter: closed, as a
                    // malformed packet.
                    tracing::info!(client = &*self.key, "filter with control characters");
                    return self
                        .connection
                        .disconnect(DisconnectReasonCode::MalformedPacket);
                }
                let codes: Vec<SubAckReasonCode> = requests
                    .iter()
                    .map(|r| self.grant(r, subscription_identifier))
                    .collect();
                let _ = self.connection.suback(packet_id, codes.clone());
                // Retained messages after the SUBACK (v5 [MQTT-3.3.1-9]).
                let now = self.state.options.now();
                for (r, code) in requests.iter().zip(&codes) {
                    if code.is_error() || !r.wants_retained() {
                        continue;
                    }
                    let found = self.state.router().retained_for(&r.filter, now);
                    for message in found {
                        let mut delivery = Delivery::new(message, r.options);
                        delivery.from_retained = true;
                        delivery
                            .subscription_identifiers
                            .extend(subscription_identifier);
                        let _ = self.connection.deliver(delivery);
                    }
                }
            }
            ServerEvent::Unsubscribe { packet_id, filters } => {
                if self.state.config.refuse_control_characters
                    && filters
                        .iter()
                        .any(|(f, _)| has_control_characters(f.as_str()))
                {
                    tracing::info!(client = &*self.key, "filter with control characters");
                    return self
                        .connection
                        .disconnect(DisconnectReasonCode::MalformedPacket);
                }
                let codes = {
                    let mut router = self.state.router();
                    filters
                        .iter()
                        .map(|(f, _)| {
                            if router.unsubscribe(&self.key, f) {
                                UnsubAckReasonCode::Success
                            } else {
                                UnsubAckReasonCode::NoSubscriptionExisted
                            }
                        })
                        .collect()
                };
                let _ = self.connection.unsuback(packet_id, codes);
            }
            ServerEvent::Will(will) => {
                let message = Message::from(*will);
                let now = self.state.options.now();
                self.state.router().route(now, &message, None);
            }
            ServerEvent::Delivered { op, .. } | ServerEvent::Dropped { op, .. }
                if self.shared_member =>
            {
                self.state.router().outcome(&self.key, op);
            }
            _ => {}
        }
    }

    /// The code for one filter of a SUBSCRIBE, subscribing when granted.
    fn grant(
        &mut self,
        request: &SubscribeRequest,
        subscription_identifier: Option<std::num::NonZeroU32>,
    ) -> SubAckReasonCode {
        let filter = request.filter.as_str();
        if self.state.config.refuse_control_characters && has_control_characters(filter) {
            return SubAckReasonCode::TopicFilterInvalid;
        }
        if !self.state.auth.may_subscribe(&self.identity(), filter) {
            tracing::debug!(client = &*self.key, filter, "subscribe denied");
            return SubAckReasonCode::NotAuthorized;
        }
        let options = request.options.for_index(subscription_identifier);
        if self
            .state
            .router()
            .subscribe(&self.key, &request.filter, options)
        {
            self.shared_member |= filter.starts_with(SHARE_PREFIX);
            SubAckReasonCode::granted(request.options.qos)
        } else {
            SubAckReasonCode::QuotaExceeded
        }
    }

    /// The connection is over: its session is kept offline, or ended.
    fn closed(&mut self, closed: Closed) {
        self.state.metrics.disconnected();
        let peer = self.peer;
        tracing::info!(client = &*self.key, %peer, "disconnected: {}", describe(&closed));
        let now = self.state.options.now();
        let mut router = self.state.router();
        let ours = match router.clients.get(&self.key).map(|c| &c.slot) {
            Some(Slot::Live(c)) => c.same_connection(&self.connection),
            Some(Slot::Moving) => true,
            _ => false,
        };
        let Some(session) = closed.session else {
            // Taken over: the new connection has it.
            return;
        };
        if !ours {
            // Another connection holds the client's entry now.
            return;
        }
        if !session.is_expired() {
            router.park_session(now, &self.key, *session);
            return;
        }
        router.clients.remove(&self.key);
        router.end_session(now, &self.key, *session);
    }
}

/// Shared subscriptions' filters start with this (v5 §4.8.2).
const SHARE_PREFIX: &str = "$share/";

/// Client identifiers the broker assigns start with this.
pub(crate) const ASSIGNED_PREFIX: &str = "auto-";

/// An assigned identifier from a counter.
pub(crate) fn assigned_id(n: u64) -> MqttString {
    MqttString::try_from(format!("{ASSIGNED_PREFIX}{n}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v5 §1.5.4: the control characters a server may refuse.
    #[test]
    fn control_characters_are_the_c0_and_c1_ranges() {
        for c in ['\u{1}', '\u{1f}', '\u{7f}', '\u{9f}'] {
            assert!(has_control_characters(&format!("a{c}b")), "{c:?}");
        }
        for c in [' ', '~', '\u{a0}', 'é'] {
            assert!(!has_control_characters(&format!("a{c}b")), "{c:?}");
        }
    }
}
