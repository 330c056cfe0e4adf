//! What the driver tells the application: received messages, and the end
//! of the connection.

use mqttkit_session::{AckToken, Publish};
use tokio::sync::mpsc;

use crate::Error;

/// Something the application learns from [`Events::recv`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A received application message; the topic is always filled in, also
    /// when the server used a Topic Alias, and a QoS 2 message arrives
    /// exactly once.
    Message {
        /// The PUBLISH.
        publish: Publish,
        /// With [`crate::ConnectOptions::manual_ack`], for QoS 1 and 2:
        /// pass it to [`crate::Client::ack`] once the message is processed.
        /// `None` for QoS 0, and by default, when the driver acknowledged
        /// the message as it arrived.
        ack: Option<AckToken>,
    },
    /// CONNACK accepted a connection: one made again after
    /// [`Event::ConnectionLost`], or the first one of
    /// [`crate::Client::start`] ([`crate::Client::connect`] returns the
    /// first one's outcome instead).
    Connected {
        /// The server resumed the session (Session Present). When it did
        /// not, a reconnecting client has submitted its messages again and
        /// made its subscriptions again.
        session_present: bool,
    },
    /// The connection ended and the client connects again after
    /// `retry_in` ([`crate::ConnectOptions::reconnect`]); publishes and
    /// subscriptions are taken meanwhile and sent on the next connection.
    ConnectionLost {
        /// Why the connection ended, or why the attempt failed.
        error: Error,
        /// The wait before the next attempt.
        retry_in: std::time::Duration,
    },
    /// The connection ended for good, and why; reported once, as the last
    /// event.
    /// [`Error::Closed`] after [`crate::Client::disconnect`]. Every
    /// operation still waiting failed with the same error.
    Disconnected(Error),
}

/// The events of one connection, in the order they happened; from
/// [`crate::Client::connect`].
///
/// The queue between the driver and this receiver is bounded
/// ([`crate::ConnectOptions::event_capacity`]). When it is full the driver
/// **stops reading the socket** until the application takes an event: a
/// slow application slows the server down through TCP instead of
/// buffering without bound. Meanwhile commands and timers still run, but
/// acknowledgements from the server are not read either, so
///
/// - read events while awaiting publishes to topics you are subscribed to
///   (from another task, or with `tokio::select!`), or those publishes
///   wait for you;
/// - a stall longer than the keep-alive interval plus the PINGRESP wait
///   ends the connection with [`Error::KeepAliveTimeout`].
///
/// Dropping `Events` discards later events and lets the driver read
/// freely; the connection stays open while a [`crate::Client`] handle
/// exists. When the handles and `Events` are all dropped, the driver sends
/// DISCONNECT and closes.
#[derive(Debug)]
pub struct Events {
    pub(crate) rx: mpsc::Receiver<Event>,
}

impl Events {
    /// The next event; `None` once the driver has ended and every event was
    /// taken. The last event before `None` is [`Event::Disconnected`].
    ///
    /// Cancel safe: used in `tokio::select!`, no event is lost.
    ///
    /// ```no_run
    /// use mqttkit_tokio::{Client, ConnectOptions, Event};
    ///
    /// # async fn run() -> Result<(), mqttkit_tokio::Error> {
    /// let (client, mut events) = Client::connect(ConnectOptions::new("localhost", 1883)).await?;
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         Event::Message { publish, .. } => println!("{}: {:?}", publish.topic_str(), publish.payload),
    ///         Event::Disconnected(why) => println!("disconnected: {why}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}
