//! The application's handle: commands go to the driver task over a bounded
//! channel, each with a oneshot for its outcome.

use mqttkit_session::bytes::Bytes;
use mqttkit_session::{
    AckToken, ClientConfig, Message, ProtocolVersion, PubAckReasonCode, QoS, ReasonCode, Session,
    SubAckReasonCode, SubscriptionOptions, TopicFilter, TopicName, UnsubAckReasonCode,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

use crate::driver::{Driver, Setup};
use crate::store::restore;
use crate::{ConnectOptions, Error, Events, StoreError};

/// A reply the driver sends when an operation completes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// What the handle asks the driver to do.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        message: Message,
        /// Answered once the driver accepted the message (and a store
        /// keeps it).
        accepted: Option<oneshot::Sender<Result<(), Error>>>,
        reply: Reply<ReasonCode>,
    },
    Subscribe {
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        reply: Reply<Vec<SubAckReasonCode>>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        reply: Reply<Vec<UnsubAckReasonCode>>,
    },
    Ack {
        token: AckToken,
        reason: PubAckReasonCode,
        reply: Reply<()>,
    },
    Disconnect {
        reply: Reply<()>,
    },
}

impl Command {
    /// Answers the command with `error` without running it.
    pub(crate) fn fail(self, error: Error) {
        // A caller that stopped waiting does not need the answer.
        match self {
            Self::Publish { reply, .. } => drop(reply.send(Err(error))),
            Self::Subscribe { reply, .. } => drop(reply.send(Err(error))),
            Self::Unsubscribe { reply, .. } => drop(reply.send(Err(error))),
            Self::Ack { reply, .. } | Self::Disconnect { reply } => drop(reply.send(Err(error))),
        }
    }
}

/// A handle on one MQTT connection, run by a task that
/// [`Client::connect`] spawns. Cheap to clone and `Send`: every clone
/// drives the same connection, from any task.
///
/// Each operation is an `async fn` that resolves when the protocol flow
/// completes. Dropping its future does not cancel the operation once the
/// driver took it.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    session_present: bool,
    protocol_version: ProtocolVersion,
}

impl Client {
    /// Opens a TCP connection to the broker, sends CONNECT and resolves
    /// once CONNACK accepted it, with the handle and the connection's
    /// [`Events`]. Must be called from within a tokio runtime: it spawns
    /// the one task that owns the socket and the session state.
    ///
    /// Fails with [`Error::Refused`] when CONNACK refuses the connection,
    /// [`Error::ConnAckTimeout`] when none arrives within 30 s,
    /// [`Error::ProtocolViolation`] when the server breaks a rule,
    /// [`Error::Io`] when the socket fails, and [`Error::InvalidOption`]
    /// for a client identifier or user name that is no MQTT string. The
    /// TCP connection attempt itself has the system's timeout; wrap the
    /// call in `tokio::time::timeout` for a shorter one.
    ///
    /// ```no_run
    /// use mqttkit_tokio::{Client, ConnectOptions};
    ///
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// let options = ConnectOptions::from_url("mqtt://localhost:1883")?.client_id("sensor-7");
    /// let (client, events) = Client::connect(options).await?;
    /// println!("session present: {}", client.session_present());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(options: ConnectOptions) -> Result<(Self, Events), Error> {
        let (connected, outcome) = oneshot::channel();
        let (client, events) = Self::spawn(options, Some(connected)).await?;
        let session_present = outcome.await.map_err(|_| Error::Closed)??;
        Ok((
            Self {
                session_present,
                ..client
            },
            events,
        ))
    }

    /// Starts the client without waiting for the broker: returns at once
    /// (after loading the store, when there is one), and the outcome of
    /// each connection attempt arrives as [`crate::Event::Connected`],
    /// [`crate::Event::ConnectionLost`] or [`crate::Event::Disconnected`]. Meanwhile
    /// publishes and subscriptions are taken and sent once connected. With
    /// [`ConnectOptions::reconnect`] this is how a client that must start
    /// while the broker is down begins.
    ///
    /// Fails only for options that can never work (an invalid client
    /// identifier, ...) and for a store that cannot be loaded.
    ///
    /// ```no_run
    /// use mqttkit_tokio::{Client, ConnectOptions, Event, QoS, Reconnect};
    ///
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// let options = ConnectOptions::new("localhost", 1883)
    ///     .client_id("sensor-7")
    ///     .reconnect(Reconnect::default());
    /// let (client, mut events) = Client::start(options).await?;
    /// // Queued until the broker is reachable, then sent.
    /// let delivery = client.submit(mqttkit_tokio::Message::new(
    ///     "t/temp".try_into()?, "21.5", QoS::AtLeastOnce)).await?;
    /// while let Some(event) = events.recv().await {
    ///     if let Event::Connected { .. } = event {
    ///         break;
    ///     }
    /// }
    /// delivery.await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(options: ConnectOptions) -> Result<(Self, Events), Error> {
        Self::spawn(options, None).await
    }

    async fn spawn(
        options: ConnectOptions,
        connected: Option<oneshot::Sender<Result<bool, Error>>>,
    ) -> Result<(Self, Events), Error> {
        let mut connect = options.connect_packet()?;
        let protocol_version = connect.protocol_version;
        let mut config = ClientConfig {
            manual_ack: options.manual_ack,
            persistence: options.store.is_some(),
            ..ClientConfig::default()
        };
        // New publishes wait in the command channel beyond this many.
        let max_pending = config.max_pending;
        let stored = match &options.store {
            Some(store) => Some(restore::load(store, &connect).await?),
            None => None,
        };
        if let Some(stored) = &stored {
            // Everything stored was accepted once and is kept, even beyond
            // the bound a store written with other settings left behind;
            // new publishes wait until the session is below the bound.
            let held = stored.queued.len().saturating_add(stored.outbound.len());
            config.max_pending = config.max_pending.max(held);
        }
        let session = match &stored {
            Some(stored) if stored.established => {
                // Resume the session the server keeps for us.
                connect.clean_start = false;
                Session::from_records(
                    connect.client_id.clone(),
                    stored.outbound.iter().cloned(),
                    stored.inbound.iter().copied(),
                )
                .map_err(|err| {
                    Error::Store(Arc::new(StoreError::Corrupt(format!(
                        "the stored session cannot be restored: {err}"
                    ))))
                })?
            }
            _ => Session::new(connect.client_id.clone()),
        };
        let session = mqttkit_session::Client::new(session, config);
        let (commands, command_rx) = mpsc::channel(options.command_capacity.max(1));
        let (event_tx, events) = mpsc::channel(options.event_capacity.max(1));
        let dialing = Driver::dial(&options);
        let setup = Setup {
            session,
            max_pending,
            options,
            connect,
            commands: command_rx,
            events: event_tx,
            connected,
        };
        let mut driver = Driver::new(setup, dialing);
        if let Some(stored) = stored {
            driver.restore(stored).await?;
        }
        tokio::spawn(driver.run());
        Ok((
            Self {
                commands,
                session_present: false,
                protocol_version,
            },
            Events { rx: events },
        ))
    }

    /// Whether the server resumed an existing session (CONNACK Session
    /// Present).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use std::time::Duration;
    /// use mqttkit_tokio::{Client, ConnectOptions};
    ///
    /// let options = ConnectOptions::new("localhost", 1883)
    ///     .client_id("sensor-7")
    ///     .clean_start(false)
    ///     .session_expiry(Duration::from_secs(3600));
    /// let (client, _events) = Client::connect(options).await?;
    /// if !client.session_present() {
    ///     client.subscribe("cmd/sensor-7/#", mqttkit_tokio::QoS::AtLeastOnce).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn session_present(&self) -> bool {
        self.session_present
    }

    /// The protocol version of the connection.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use mqttkit_tokio::{Client, ConnectOptions, ProtocolVersion};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// assert_eq!(client.protocol_version(), ProtocolVersion::V5); // the default
    /// # Ok(())
    /// # }
    /// ```
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol_version
    }

    /// Publishes `payload` to `topic` and resolves when the flow is
    /// complete: QoS 0 once written to the socket (with Success), QoS 1 on
    /// PUBACK, QoS 2 on PUBCOMP, or on a PUBREC carrying an error code.
    /// The result is the server's reason code (always Success in 3.1.1):
    /// check [`ReasonCode::is_error`], a 5.0 server may refuse a message,
    /// for example with 0x87 Not authorized.
    ///
    /// Fails with [`Error::InvalidTopic`] for a bad topic name,
    /// [`Error::Op`] when the session refuses the message (QoS or size
    /// above the server's limits, ...), or with the reason the connection
    /// ended before the flow completed.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use mqttkit_tokio::{Client, ConnectOptions, QoS};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// let reason = client.publish("sensors/7/temp", QoS::AtLeastOnce, "21.5").await?;
    /// assert!(!reason.is_error());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn publish(
        &self,
        topic: &str,
        qos: QoS,
        payload: impl Into<Bytes>,
    ) -> Result<ReasonCode, Error> {
        let topic = TopicName::try_from(topic)?;
        self.publish_message(Message::new(topic, payload, qos))
            .await
    }

    /// [`Client::publish`] with everything a message can carry: RETAIN
    /// and the 5.0 properties (a Topic Alias is managed by the session and
    /// ignored here).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::{Client, ConnectOptions, Message, QoS, TopicName};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// let mut message = Message::new(TopicName::try_from("status/sensor-7")?, "online", QoS::AtLeastOnce);
    /// message.retain = true;
    /// message.properties.message_expiry_interval = Some(3600);
    /// client.publish_message(message).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn publish_message(&self, message: Message) -> Result<ReasonCode, Error> {
        self.request(|reply| Command::Publish {
            message,
            accepted: None,
            reply,
        })
        .await
    }

    /// Hands a message to the driver and resolves once it is accepted: in
    /// the session's queue and, with a [`ConnectOptions::store`], stored
    /// durably. The returned [`Delivery`] resolves when the publish
    /// completes, as [`Client::publish_message`] does. A gateway answers
    /// its devices when `submit` resolves, before the broker has the
    /// message.
    ///
    /// ```no_run
    /// use mqttkit_tokio::{Client, ConnectOptions, Message, QoS};
    ///
    /// # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let message = Message::new("t/temp".try_into()?, "21.5", QoS::ExactlyOnce);
    /// let delivery = client.submit(message).await?; // stored: safe to acknowledge upstream
    /// let reason = delivery.await?; // PUBCOMP
    /// println!("delivered: {reason}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit(&self, message: Message) -> Result<Delivery, Error> {
        let (accepted, on_accepted) = oneshot::channel();
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Publish {
                message,
                accepted: Some(accepted),
                reply,
            })
            .await
            .map_err(|_| Error::Closed)?;
        on_accepted.await.map_err(|_| Error::Closed)??;
        Ok(Delivery { answer })
    }

    /// Subscribes to `filter` with maximum QoS `qos` and resolves with the
    /// SUBACK's code: the granted QoS, or an error code (check
    /// [`SubAckReasonCode::is_error`]).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use mqttkit_tokio::{Client, ConnectOptions, QoS, SubAckReasonCode};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// let granted = client.subscribe("sensors/+/temp", QoS::AtLeastOnce).await?;
    /// assert_eq!(granted, SubAckReasonCode::GrantedQoS1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<SubAckReasonCode, Error> {
        let filter = TopicFilter::try_from(filter)?;
        let codes = self
            .subscribe_many(vec![(filter, SubscriptionOptions::new(qos))])
            .await?;
        // The session checks that SUBACK has one code per filter.
        codes
            .into_iter()
            .next()
            .ok_or(Error::Op(mqttkit_session::OpError::NoTopicFilter))
    }

    /// Subscribes to several filters in one SUBSCRIBE, each with all its
    /// options (No Local, Retain As Published, Retain Handling), and
    /// resolves with one SUBACK code per filter, in order.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::{Client, ConnectOptions, QoS, SubscriptionOptions, TopicFilter};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// let mut own = SubscriptionOptions::new(QoS::AtLeastOnce);
    /// own.no_local = true; // not our own messages (5.0)
    /// let codes = client
    ///     .subscribe_many(vec![
    ///         (TopicFilter::try_from("chat/#")?, own),
    ///         (TopicFilter::try_from("status/+")?, SubscriptionOptions::new(QoS::AtMostOnce)),
    ///     ])
    ///     .await?;
    /// assert_eq!(codes.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe_many(
        &self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
    ) -> Result<Vec<SubAckReasonCode>, Error> {
        self.request(|reply| Command::Subscribe { filters, reply })
            .await
    }

    /// Unsubscribes from `filter` and resolves with the UNSUBACK's code
    /// (5.0); a 3.1.1 UNSUBACK carries none and is reported as Success.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use mqttkit_tokio::{Client, ConnectOptions};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// let code = client.unsubscribe("sensors/+/temp").await?;
    /// println!("unsubscribed: {code}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn unsubscribe(&self, filter: &str) -> Result<UnsubAckReasonCode, Error> {
        let filter = TopicFilter::try_from(filter)?;
        let codes = self.unsubscribe_many(vec![filter]).await?;
        Ok(codes
            .into_iter()
            .next()
            .unwrap_or(UnsubAckReasonCode::Success))
    }

    /// Unsubscribes from several filters in one UNSUBSCRIBE; resolves with
    /// one code per filter in 5.0, none in 3.1.1.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use mqttkit_tokio::{Client, ConnectOptions, TopicFilter};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// let filters = vec![TopicFilter::try_from("chat/#")?, TopicFilter::try_from("status/+")?];
    /// let codes = client.unsubscribe_many(filters).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn unsubscribe_many(
        &self,
        filters: Vec<TopicFilter>,
    ) -> Result<Vec<UnsubAckReasonCode>, Error> {
        self.request(|reply| Command::Unsubscribe { filters, reply })
            .await
    }

    /// Acknowledges a received QoS 1 or 2 message with `reason`, with
    /// [`ConnectOptions::manual_ack`]. Tokens may be given in any order;
    /// PUBACK and PUBREC still go out in arrival order. Resolves when the
    /// driver took the acknowledgement.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use mqttkit_tokio::{Client, ConnectOptions, Event, PubAckReasonCode, QoS};
    ///
    /// let options = ConnectOptions::new("localhost", 1883).manual_ack(true);
    /// let (client, mut events) = Client::connect(options).await?;
    /// client.subscribe("jobs/#", QoS::AtLeastOnce).await?;
    /// while let Some(Event::Message { publish, ack }) = events.recv().await {
    ///     // ... store the job durably, then:
    ///     if let Some(token) = ack {
    ///         client.ack(token, PubAckReasonCode::Success).await?;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ack(&self, token: AckToken, reason: PubAckReasonCode) -> Result<(), Error> {
        self.request(|reply| Command::Ack {
            token,
            reason,
            reply,
        })
        .await
    }

    /// Sends DISCONNECT (Normal disconnection) and resolves once it is
    /// written and the socket shut down. The events end with
    /// [`crate::Event::Disconnected`]`(`[`Error::Closed`]`)`; operations
    /// still waiting fail with [`Error::Closed`]. Fails with
    /// [`Error::Closed`] when the connection had already ended.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// use mqttkit_tokio::{Client, ConnectOptions};
    ///
    /// let (client, _events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// client.disconnect().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.request(|reply| Command::Disconnect { reply }).await
    }

    /// Sends a command (waiting for room in the bounded queue) and waits
    /// for its answer.
    async fn request<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

/// A publish the driver accepted ([`Client::submit`]): resolves when it
/// completes, with the reason code of the acknowledgement (on PUBACK for
/// QoS 1, PUBCOMP for QoS 2, once written for QoS 0).
///
/// Dropping it does not cancel the publish.
#[derive(Debug)]
#[must_use = "a Delivery tells whether the publish completed"]
pub struct Delivery {
    answer: oneshot::Receiver<Result<ReasonCode, Error>>,
}

impl Future for Delivery {
    type Output = Result<ReasonCode, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| answer.map_err(|_| Error::Closed)?)
    }
}
