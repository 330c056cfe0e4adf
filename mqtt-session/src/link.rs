//! What every connection has, in both roles: the negotiated version, the
//! codec and its receive buffer, the send quota, the receive side of the
//! QoS flows, the Topic Alias tables, and the violation that ended it. Each
//! role's connection type holds one [`Link`] beside what only that role
//! needs (the client's CONNACK state and timers, the server's pending
//! SUBSCRIBE answers and keep-alive window).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};

use bytes::BytesMut;
use mqttkit_codec::{Decoder, Encoder, PacketId, ProtocolVersion, Publish, QoS};

use crate::aliases::{InAliases, OutAliases};
use crate::error::ProtocolViolation;
use crate::receive_flows::{Inbound, PendingAck};
use crate::send_flows::OutFlow;
use crate::session::{InQos2, Session};
use crate::violation::PeerMisbehaved;

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
///
/// What only traffic fills (the receive buffer, the acknowledgements owed,
/// the Topic Alias tables) is kept out of line in a [`LinkIo`], taken on
/// first use and given back by [`Link::release_if_idle`]: a server holds
/// many connections that are idle most of the time.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) decoder: Decoder,
    pub(crate) encoder: Encoder,
    io: Option<Box<LinkIo>>,
    /// The violation that ended this connection; boxed, as it ends at most
    /// one connection of many.
    pub(crate) violation: Option<Box<ProtocolViolation>>,
    /// The session's connection number, for ack tokens.
    pub(crate) number: u32,
    /// QoS 1/2 PUBLISH we may still send: the peer's Receive Maximum less
    /// those in flight (v5 §4.9).
    pub(crate) send_quota: u16,
    /// Our Receive Maximum.
    pub(crate) receive_maximum: u16,
    /// Received QoS 1/2 PUBLISH without PUBACK or PUBCOMP sent yet.
    pub(crate) inbound_unacked: u16,
    /// The most aliases we assign on this connection (0: none).
    out_alias_max: u16,
    /// Our Topic Alias Maximum: the aliases the peer may set.
    in_alias_max: u16,
    pub(crate) state: State,
    pub(crate) version: ProtocolVersion,
}

/// The part of a [`Link`] that traffic fills.
#[derive(Debug)]
pub(crate) struct LinkIo {
    pub(crate) rx: BytesMut,
    /// PUBACK/PUBREC owed to the peer, in arrival order.
    pub(crate) acks: VecDeque<PendingAck>,
    pub(crate) out_aliases: OutAliases,
    pub(crate) in_aliases: InAliases,
}

impl Link {
    /// A new connection numbered `number` speaking `version`, with no
    /// limits of its own yet: each role sets the decoder's and encoder's
    /// Maximum Packet Size, the quotas and the alias tables from CONNECT
    /// and CONNACK.
    pub(crate) fn new(number: u32, version: ProtocolVersion) -> Self {
        Self {
            decoder: Decoder::new(version),
            encoder: Encoder::new(version),
            io: None,
            violation: None,
            number,
            send_quota: 0,
            receive_maximum: u16::MAX,
            inbound_unacked: 0,
            out_alias_max: 0,
            in_alias_max: 0,
            state: State::Connecting,
            version,
        }
    }

    /// The traffic state, taken on first use.
    pub(crate) fn io_mut(&mut self) -> &mut LinkIo {
        take_io(&mut self.io, self.out_alias_max, self.in_alias_max)
    }

    /// The receive buffer and the decoder, to read into.
    pub(crate) fn receive_state(&mut self) -> (&mut BytesMut, &mut Decoder) {
        let io = take_io(&mut self.io, self.out_alias_max, self.in_alias_max);
        (&mut io.rx, &mut self.decoder)
    }

    /// A new outbound alias table of at most `max` aliases.
    pub(crate) fn reset_out_aliases(&mut self, max: u16) {
        self.out_alias_max = max;
        if let Some(io) = self.io.as_deref_mut() {
            io.out_aliases = OutAliases::new(max);
        }
    }

    /// Our Topic Alias Maximum on this connection.
    pub(crate) fn set_in_alias_max(&mut self, max: u16) {
        self.in_alias_max = max;
        if let Some(io) = self.io.as_deref_mut() {
            io.in_aliases.max = max;
        }
    }

    /// Whether outgoing PUBLISHes may get a Topic Alias on this connection.
    pub(crate) fn uses_out_aliases(&self) -> bool {
        self.out_alias_max > 0
    }

    /// Replaces the topic of an outbound PUBLISH by an alias when one is
    /// mapped, or maps one ([`OutAliases::apply`]).
    pub(crate) fn apply_out_alias(&mut self, publish: &mut Publish) {
        // Without aliases there is no table to take storage for.
        if self.out_alias_max > 0 {
            self.io_mut().out_aliases.apply(publish);
        }
    }

    /// Resolves the Topic Alias of a received PUBLISH
    /// ([`InAliases::resolve`]).
    pub(crate) fn resolve_in_alias(
        &mut self,
        publish: &mut Publish,
        above_maximum: PeerMisbehaved,
    ) -> Result<(), ProtocolViolation> {
        if publish.properties.topic_alias.is_none() {
            return Ok(());
        }
        self.io_mut().in_aliases.resolve(publish, above_maximum)
    }

    /// The acknowledgement owed for `packet_id` at `qos` that waits for the
    /// application's answer.
    pub(crate) fn unanswered_ack(
        &mut self,
        packet_id: PacketId,
        qos: QoS,
    ) -> Option<&mut PendingAck> {
        self.io
            .as_deref_mut()?
            .acks
            .iter_mut()
            .find(|a| a.packet_id == packet_id && a.qos == qos && a.acked.is_none())
    }

    /// Gives back the traffic state when nothing is in it: no received
    /// bytes waiting, no acknowledgement owed, no alias in use. Otherwise
    /// the receive buffer's storage goes back if it is empty.
    pub(crate) fn release_if_idle(&mut self) {
        let Some(io) = self.io.as_deref_mut() else {
            return;
        };
        if io.rx.is_empty()
            && io.acks.is_empty()
            && io.out_aliases.is_empty()
            && io.in_aliases.map.is_empty()
        {
            self.io = None;
            return;
        }
        crate::receive_buffer::release_if_empty(&mut io.rx);
        if io.acks.is_empty() {
            io.acks = VecDeque::new();
        }
    }

    /// Whether the connection is not closed (it may still await CONNACK).
    pub(crate) fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// Whether acknowledgements wait to go out to the peer.
    pub(crate) fn owes_acks(&self) -> bool {
        self.io.as_ref().is_some_and(|io| !io.acks.is_empty())
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
        let flows = session.flows_mut();
        let flow = flows.inflight.complete(&mut flows.ids, id, released, qos)?;
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
        let io = take_io(&mut self.io, self.out_alias_max, self.in_alias_max);
        Inbound {
            qos2,
            acks: &mut io.acks,
            unacked: &mut self.inbound_unacked,
            receive_maximum: self.receive_maximum,
            connection: self.number,
        }
    }
}

/// The traffic state in `slot`, taken on first use with the alias limits
/// of its connection.
fn take_io(slot: &mut Option<Box<LinkIo>>, out_alias_max: u16, in_alias_max: u16) -> &mut LinkIo {
    slot.get_or_insert_with(|| {
        Box::new(LinkIo {
            rx: BytesMut::new(),
            acks: VecDeque::new(),
            out_aliases: OutAliases::new(out_alias_max),
            in_aliases: InAliases {
                max: in_alias_max,
                map: BTreeMap::new(),
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqttkit_codec::Publish;
    use mqttkit_topic::TopicName;

    fn publish(topic: &'static str) -> Publish {
        Publish::new(TopicName::from_static(topic).unwrap(), Bytes::new())
    }

    /// An idle connection gives its traffic state back, and one whose
    /// outbound alias table maps a topic keeps it: the peer still knows
    /// the alias (v5 [MQTT-3.3.2-12]).
    #[test]
    fn release_if_idle_keeps_only_what_is_in_use() {
        let mut link = Link::new(1, ProtocolVersion::V5);
        link.reset_out_aliases(4);
        link.io_mut();
        link.release_if_idle();
        assert!(link.io.is_none(), "nothing in use: given back");

        let mut first = publish("a/b");
        link.apply_out_alias(&mut first);
        assert_eq!(first.properties.topic_alias.map(|a| a.get()), Some(1));
        link.release_if_idle();
        assert!(link.io.is_some(), "an alias is mapped: kept");
        let mut again = publish("a/b");
        link.apply_out_alias(&mut again);
        assert!(again.topic.is_none(), "sent with the alias alone");
    }
}
