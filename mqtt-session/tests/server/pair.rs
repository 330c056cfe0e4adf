//! The crate's client and server joined in memory (quinn-proto's `Pair`):
//! both roles tested against each other with a hand-advanced clock.

use bytes::BytesMut;
use mqttkit_codec::{
    Connect, ProtocolVersion, PubAckReasonCode, QoS, SubAckReasonCode, SubscriptionOptions,
};
use mqttkit_session::TopicFilter;
use mqttkit_session::{
    Client, ClientConfig, Delivery, Event, Incoming, Instant, Server, ServerConfig, ServerEvent,
    Session,
};

use crate::{message, s};

/// A client and a server over a perfect link.
pub struct Duo {
    pub client: Client,
    pub server: Option<Server>,
    pub now: Instant,
    pub client_events: Vec<Event>,
    pub server_events: Vec<ServerEvent>,
    to_server: BytesMut,
}

impl Duo {
    pub fn connect(
        version: ProtocolVersion,
        session: Option<Server>,
        client: Option<Client>,
    ) -> Self {
        let mut client =
            client.unwrap_or_else(|| Client::new(Session::new(s("duo")), ClientConfig::default()));
        let mut c = Connect::new(version, s("duo"));
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(300);
        client.connect(Instant::ZERO, c).unwrap();
        let mut to_server = BytesMut::new();
        while let Some(_op) = client.poll_persist() {}
        while client.poll_transmit(&mut to_server).is_some() {}
        let incoming = Incoming::read(&mut to_server, None).unwrap().unwrap();
        let server = incoming
            .accept(Instant::ZERO, session, ServerConfig::default())
            .unwrap();
        let mut duo = Self {
            client,
            server: Some(server),
            now: Instant::ZERO,
            client_events: Vec::new(),
            server_events: Vec::new(),
            to_server,
        };
        duo.run();
        duo
    }

    pub fn server(&mut self) -> &mut Server {
        self.server.as_mut().unwrap()
    }

    /// Moves bytes both ways until both sides are quiet, answering every
    /// server-side Publish with Success and every SUBSCRIBE with its QoS.
    pub fn run(&mut self) {
        loop {
            let mut moved = false;
            while self.client.poll_persist().is_some() {}
            while self.client.poll_transmit(&mut self.to_server).is_some() {}
            let server = self.server.as_mut().unwrap();
            if !self.to_server.is_empty() {
                let bytes = std::mem::take(&mut self.to_server);
                server.handle_bytes(self.now, &bytes);
                moved = true;
            }
            while let Some(e) = server.poll_event() {
                match &e {
                    ServerEvent::Publish { ack: Some(t), .. } => {
                        server.ack(self.now, *t, PubAckReasonCode::Success).unwrap()
                    }
                    ServerEvent::Subscribe {
                        packet_id,
                        requests,
                        ..
                    } => server
                        .suback(
                            *packet_id,
                            requests
                                .iter()
                                .map(|r| SubAckReasonCode::granted(r.options.qos))
                                .collect(),
                        )
                        .unwrap(),
                    _ => {}
                }
                self.server_events.push(e);
            }
            let mut to_client = BytesMut::new();
            while server.poll_transmit(&mut to_client).is_some() {}
            if !to_client.is_empty() {
                self.client.handle_bytes(self.now, &to_client);
                moved = true;
            }
            while let Some(e) = self.client.poll_event() {
                if let Event::Message { ack: Some(t), .. } = &e {
                    self.client
                        .ack(self.now, *t, PubAckReasonCode::Success)
                        .unwrap();
                }
                self.client_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }
}

/// Both roles: QoS 0, 1 and 2 each way between the crate's own client and
/// server, subscriptions granted, everything completes.
#[test]
fn client_and_server_exchange_all_qos() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut duo = Duo::connect(version, None, None);
        assert!(duo.client.is_connected());
        duo.client
            .subscribe(
                duo.now,
                vec![(
                    TopicFilter::try_from("t/#").unwrap(),
                    SubscriptionOptions::new(QoS::ExactlyOnce),
                )],
                Default::default(),
            )
            .unwrap();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            duo.client.publish(duo.now, message("up", qos)).unwrap();
            let now = duo.now;
            duo.server()
                .deliver(
                    now,
                    Delivery::new(
                        message("t/down", qos),
                        SubscriptionOptions::new(QoS::ExactlyOnce),
                    ),
                )
                .unwrap();
        }
        duo.run();
        let up = duo
            .server_events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Publish { .. }))
            .count();
        let delivered = duo
            .server_events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Delivered { .. }))
            .count();
        let down = duo
            .client_events
            .iter()
            .filter(|e| matches!(e, Event::Message { .. }))
            .count();
        let published = duo
            .client_events
            .iter()
            .filter(|e| matches!(e, Event::Published { .. }))
            .count();
        assert_eq!((up, delivered, down, published), (3, 3, 3, 3), "{version}");
        assert!(
            duo.client_events
                .iter()
                .any(|e| matches!(e, Event::Subscribed { .. }))
        );
        assert_eq!(duo.server().subscriptions().count(), 1);
        assert_eq!(duo.server().session().packet_ids_in_use(), 0);
    }
}
