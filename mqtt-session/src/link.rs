//! What every connection has, in both roles: the negotiated version, the
//! codec and its receive buffer, the send quota, the receive side of the
//! QoS flows, the Topic Alias tables, and the violation that ended it. Each
//! role's connection type holds one [`Link`] beside what only that role
//! needs (the client's CONNACK state and timers, the server's pending
//! SUBSCRIBE answers and keep-alive window).

use alloc::collections::{BTreeMap, VecDeque};

use bytes::BytesMut;
use mqttkit_codec::{Decoder, Encoder, PacketId, ProtocolVersion, QoS};

use crate::aliases::{InAliases, OutAliases};
use crate::error::ProtocolViolation;
use crate::receive_flows::{Inbound, PendingAck};
use crate::send_flows::OutFlow;
use crate::session::{InQos2, Session};
use crate::timers::Timers;

/// Where a connection is in its life, in both roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// CONNECT sent, CONNACK not yet received (client role only: the server
    /// role's connection starts when it accepts the CONNECT).
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
    /// Closed: by DISCONNECT, a violation, a timeout or the transport.
    Closed,
}

/// The state one network connection has in either role.
#[derive(Debug)]
pub(crate) struct Link {
    /// The session's connection number, for ack tokens.
    pub(crate) number: u32,
    pub(crate) state: State,
    /// Its deadlines.
    pub(crate) timers: Timers,
    pub(crate) version: ProtocolVersion,
    pub(crate) decoder: Decoder,
    pub(crate) encoder: Encoder,
    pub(crate) rx: BytesMut,
    /// QoS 1/2 PUBLISH we may still send: the peer's Receive Maximum less
    /// those in flight (v5 §4.9).
    pub(crate) send_quota: u16,
    /// Our Receive Maximum.
    pub(crate) receive_maximum: u16,
    /// Received QoS 1/2 PUBLISH without PUBACK or PUBCOMP sent yet.
    pub(crate) inbound_unacked: u16,
    pub(crate) out_aliases: OutAliases,
    pub(crate) in_aliases: InAliases,
    /// PUBACK/PUBREC owed to the peer, in arrival order.
    pub(crate) acks: VecDeque<PendingAck>,
    /// The violation that ended this connection.
    pub(crate) violation: Option<ProtocolViolation>,
}

impl Link {
    /// A new connection numbered `number` speaking `version`, with no
    /// limits of its own yet: each role sets the decoder's and encoder's
    /// Maximum Packet Size, the quotas and the alias tables from CONNECT
    /// and CONNACK.
    pub(crate) fn new(number: u32, version: ProtocolVersion) -> Self {
        Self {
            number,
            state: State::Connecting,
            timers: Timers::default(),
            version,
            decoder: Decoder::new(version),
            encoder: Encoder::new(version),
            rx: BytesMut::new(),
            send_quota: 0,
            receive_maximum: u16::MAX,
            inbound_unacked: 0,
            out_aliases: OutAliases::new(0),
            in_aliases: InAliases {
                max: 0,
                map: BTreeMap::new(),
            },
            acks: VecDeque::new(),
            violation: None,
        }
    }

    /// Whether the connection is not closed (it may still await CONNACK).
    pub(crate) fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// Ends the outbound flow `id` that an acknowledgement of the expected
    /// kind completed: its identifier goes back to the session and, if it
    /// was sent on this connection, its slot of the send quota comes back.
    pub(crate) fn complete(
        &mut self,
        session: &mut Session,
        id: PacketId,
        released: bool,
        qos: QoS,
    ) -> Option<OutFlow> {
        let flow = session
            .inflight
            .complete(&mut session.ids, id, released, qos)?;
        if flow.on_wire {
            self.send_quota = self.send_quota.saturating_add(1);
        }
        Some(flow)
    }

    /// The receive side of this connection's QoS flows, over the session's
    /// QoS 2 state.
    pub(crate) fn inbound<'a>(
        &'a mut self,
        qos2: &'a mut BTreeMap<PacketId, InQos2>,
    ) -> Inbound<'a> {
        Inbound {
            qos2,
            acks: &mut self.acks,
            unacked: &mut self.inbound_unacked,
            receive_maximum: self.receive_maximum,
            connection: self.number,
        }
    }
}
