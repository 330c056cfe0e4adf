//! What the server role tells the application, and what the application
//! hands it to deliver.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::num::NonZeroU32;

use mqttkit_codec::{
    Disconnect, DisconnectReasonCode, LastWill, MqttString, PacketId, Publish, ReasonCode,
    RetainHandling, SubscriptionOptions, UserProperties,
};
use mqttkit_topic::TopicFilter;

use crate::error::{OpError, ProtocolViolation};
use crate::event::{AckToken, Message, OpId};

/// A message the application routes to this client because one of its
/// subscriptions matched (v5 §3.3.4). The session applies the
/// subscription's options; the router only supplies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message as published: its QoS, RETAIN flag and properties. A
    /// Message Expiry Interval is the time left when it is handed over.
    pub message: Message,
    /// The options of the matching subscription (for several overlapping
    /// subscriptions, the merged ones: highest QoS, v5 [MQTT-3.3.4-2]).
    pub options: SubscriptionOptions,
    /// The Subscription Identifiers of the matching subscriptions
    /// (v5 [MQTT-3.3.4-3], [MQTT-3.3.4-4]).
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// The client that published it, for No Local (v5 [MQTT-3.8.3-3]);
    /// `None` for a will or a message from elsewhere.
    pub origin: Option<MqttString>,
    /// A retained message sent because of a new subscription: RETAIN stays
    /// set (v5 [MQTT-3.3.1-9], v3.1.1 [MQTT-3.3.1-8]). With Retain Handling
    /// 2 in `options` it is refused ([`DeliverError::RetainHandling`]).
    pub from_retained: bool,
}

impl Delivery {
    /// A delivery of `message` for a subscription with `options`.
    pub fn new(message: Message, options: SubscriptionOptions) -> Self {
        Self {
            message,
            options,
            subscription_identifiers: Vec::new(),
            origin: None,
            from_retained: false,
        }
    }
}

/// One topic filter of a received SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeRequest {
    /// The filter, validated by the codec (`$share/...` included).
    pub filter: TopicFilter,
    /// The requested options.
    pub options: SubscriptionOptions,
    /// The session already had a subscription with this filter, which a
    /// granted code replaces (v5 [MQTT-3.8.4-3], v3.1.1 [MQTT-3.8.4-3]).
    pub exists: bool,
}

impl SubscribeRequest {
    /// A request as a SUBSCRIBE would carry it. The server role builds
    /// these itself; this is for tests, and for brokers that run stored
    /// subscriptions through the same rules.
    pub fn new(filter: TopicFilter, options: SubscriptionOptions, exists: bool) -> Self {
        Self {
            filter,
            options,
            exists,
        }
    }

    /// Whether retained messages are sent for this filter once granted
    /// (Retain Handling, v5 §3.8.3.1, [MQTT-3.3.1-9] to [MQTT-3.3.1-11]).
    /// A shared subscription never gets them (v5 §4.8.2).
    pub fn wants_retained(&self) -> bool {
        if self.filter.as_str().starts_with("$share/") {
            return false;
        }
        match self.options.retain_handling {
            RetainHandling::SendAtSubscribe => true,
            RetainHandling::SendAtSubscribeIfNew => !self.exists,
            RetainHandling::DoNotSend => false,
        }
    }
}

/// A subscription held by the session (v5 §4.1: the client's
/// subscriptions are part of the server's session state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subscription {
    /// The options granted (QoS at most the granted one).
    pub options: SubscriptionOptions,
    /// The Subscription Identifier of the SUBSCRIBE that made it.
    pub identifier: Option<NonZeroU32>,
}

/// Why a server connection ended. After [`ServerEvent::Closed`] flush
/// [`crate::Server::poll_transmit`] and close the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCloseCause {
    /// The client sent DISCONNECT.
    ByClient(Disconnect),
    /// The application called [`crate::Server::disconnect`].
    ByServer(DisconnectReasonCode),
    /// The client broke a rule; a DISCONNECT with its reason code is queued (5.0).
    ProtocolViolation(ProtocolViolation),
    /// Nothing arrived within 1.5 times the keep-alive (v5 [MQTT-3.1.2-22]).
    KeepAliveTimeout,
    /// Another connection took the session (0x8E sent in 5.0, v5 [MQTT-3.1.4-3]).
    TakenOver,
    /// The transport closed ([`crate::Server::handle_transport_closed`]).
    TransportClosed,
}

/// The messages a session that ended still held, taken with
/// [`crate::Server::take_undelivered`], each with the operation that
/// delivered it, in original order.
///
/// A broker may hand the messages of a shared subscription to another
/// member of the group (v5 §4.8.2): those in [`Undelivered::redistributable`]
/// only. A QoS 2 message that was sent to this client may have reached it,
/// and v5 [MQTT-4.8.2-5] forbids sending it to any other subscriber, so
/// such messages are kept apart in [`Undelivered::sent_exactly_once`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Undelivered {
    /// Queued messages never sent, and QoS 1 messages sent but not
    /// acknowledged: another member may receive them (at least once).
    pub redistributable: Vec<(OpId, Message)>,
    /// QoS 2 messages sent to this client and not completed: they end with
    /// the session and must not go to anyone else (v5 [MQTT-4.8.2-5]).
    pub sent_exactly_once: Vec<(OpId, Message)>,
}

/// Something the broker must act on, drained with
/// [`crate::Server::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// An application message from the client, topic alias resolved. QoS 2
    /// messages are reported exactly once. Authorize and route it; with
    /// [`crate::ServerConfig::manual_ack`], then pass the token to
    /// [`crate::Server::ack`] with the outcome.
    Publish {
        /// The PUBLISH, with its topic filled in.
        publish: Publish,
        /// With [`crate::ServerConfig::manual_ack`], for QoS 1 and 2. `None`
        /// for QoS 0, and by default, when the server acknowledged it with
        /// Success as it arrived.
        ack: Option<AckToken>,
    },
    /// A SUBSCRIBE: answer with [`crate::Server::suback`] (one code per
    /// filter), then deliver the retained messages the requests ask for.
    Subscribe {
        /// Its packet identifier.
        packet_id: PacketId,
        /// The filters, in order.
        requests: Vec<SubscribeRequest>,
        /// Its Subscription Identifier.
        subscription_identifier: Option<NonZeroU32>,
        /// Its User Properties.
        user_properties: UserProperties,
    },
    /// An UNSUBSCRIBE: answer with [`crate::Server::unsuback`].
    Unsubscribe {
        /// Its packet identifier.
        packet_id: PacketId,
        /// The filters, in order, with whether the session has each.
        filters: Vec<(TopicFilter, bool)>,
    },
    /// A delivery completed: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on
    /// PUBCOMP or a PUBREC error.
    Delivered {
        /// The delivery.
        op: OpId,
        /// The client's reason code.
        reason: ReasonCode,
    },
    /// A delivery was discarded: its Message Expiry Interval passed
    /// (v5 [MQTT-3.3.2-5]) or it is larger than the client's Maximum Packet
    /// Size (v5 [MQTT-3.1.2-25]). The connection is unaffected.
    Dropped {
        /// The delivery.
        op: OpId,
        /// Why.
        error: OpError,
    },
    /// Publish this will now (will delay over, session ended, keep-alive
    /// timeout, DISCONNECT 0x04 ...; v5 §3.1.2.5, [MQTT-3.1.2-8]). Boxed:
    /// a will is rare and large, and every event is moved through queues.
    Will(Box<LastWill>),
    /// The session expired (v5 §3.1.2.11.2): remove its subscriptions and
    /// drop the [`crate::Server`].
    SessionExpired,
    /// The connection ended; the session stays for the next one unless it
    /// expires.
    Closed(ServerCloseCause),
}

/// Why [`crate::Server::deliver`] did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The queue holds [`crate::ServerConfig::max_queued`] messages.
    #[error("the client's queue is full")]
    QueueFull,
    /// No Local: the client published it itself (v5 [MQTT-3.8.3-3]).
    #[error("No Local subscription and the client published this message, v5 [MQTT-3.8.3-3]")]
    NoLocal,
    /// QoS 0 while no connection is open: not stored (v5 §3.1.2.4 lets a
    /// server keep QoS 0 messages; this one does not).
    #[error("QoS 0 message for a client that is not connected")]
    NotConnected,
    /// A retained message ([`Delivery::from_retained`]) for a subscription
    /// with Retain Handling 2, Do not send (v5 [MQTT-3.3.1-11]). Retain
    /// Handling 1 depends on whether the subscription existed before the
    /// SUBSCRIBE, which only the request knows: ask
    /// [`SubscribeRequest::wants_retained`] before delivering.
    #[error("Retain Handling 2 takes no retained messages, v5 [MQTT-3.3.1-11]")]
    RetainHandling,
}
