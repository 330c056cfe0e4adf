//! The broker side of `mqttkit-session` alone, in memory: two clients'
//! bytes (CONNECT and SUBSCRIBE from one, CONNECT and a QoS 1 PUBLISH from
//! the other) go into server sessions, the PUBLISH is routed through a
//! `SubscriptionIndex` and delivered, and the bytes that come out must
//! decode to the expected packets. Exits non-zero on any difference.
use mqttkit_session::bytes::BytesMut;
// Not re-exported at the crate root, though `Publish::qos` is of this type.
use mqttkit_session::mqttkit_codec::PublishQoS;
use mqttkit_session::{
    Connect, Decoded, Decoder, Delivery, Encoder, Incoming, Instant, Matched, Message, MqttString,
    Packet, PacketId, ProtocolVersion, PubAck, PubAckReasonCode, Publish, QoS, Server,
    ServerConfig, ServerEvent, SubAckReasonCode, Subscribe, SubscriptionIndex, SubscriptionOptions,
    TopicFilter, TopicName,
};

type Error = Box<dyn std::error::Error>;
const V5: ProtocolVersion = ProtocolVersion::V5;
const NOW: Instant = Instant::ZERO;

/// A server session for the client whose bytes are a CONNECT for `id`, then `then`.
fn accept(id: &str, then: Packet) -> Result<Server, Error> {
    let mut received = BytesMut::new();
    let connect = Connect::new(V5, MqttString::try_from(id)?);
    Encoder::new(V5).encode(&connect.into(), &mut received)?;
    Encoder::new(V5).encode(&then, &mut received)?;
    let incoming = Incoming::read(&mut received, None)?.ok_or("CONNECT incomplete")?;
    // A broker acknowledges after routing, so it takes the tokens.
    let config = ServerConfig {
        manual_ack: true,
        ..ServerConfig::default()
    };
    let mut server = incoming
        .accept(NOW, None, config)
        .map_err(|r| format!("{r:?}"))?;
    server.handle_bytes(NOW, &received);
    Ok(server)
}

/// The packets `server` sends, decoded.
fn sent(server: &mut Server) -> Result<Vec<Packet>, Error> {
    let mut out = BytesMut::new();
    while server.poll_transmit(&mut out).is_some() {}
    let (mut decoder, mut packets) = (Decoder::new(V5), Vec::new());
    while let Decoded::Packet(packet) = decoder.decode(&mut out)? {
        packets.push(packet);
    }
    Ok(packets)
}

fn packet_id(id: u16) -> Result<PacketId, Error> {
    Ok(PacketId::new(id).ok_or("packet identifier 0")?)
}

fn main() -> Result<(), Error> {
    // Client 0 subscribes; the application grants it and indexes it.
    let filter = TopicFilter::try_from("sensors/+/temp")?;
    let options = SubscriptionOptions::new(QoS::AtLeastOnce);
    let mut sessions = vec![accept(
        "subscriber",
        Subscribe::new(packet_id(1)?, filter, options).into(),
    )?];
    let Some(ServerEvent::Subscribe {
        packet_id: id,
        requests,
        subscription_identifier,
        ..
    }) = sessions[0].poll_event()
    else {
        return Err("no SUBSCRIBE event".into());
    };
    // The index stores mqttkit_topic's SubscriptionOptions, which the root does not
    // re-export; the packet's (the root's) converts with `for_index`.
    let mut index = SubscriptionIndex::new();
    for request in &requests {
        let options = request.options.for_index(subscription_identifier);
        index.subscribe(request.filter.as_filter_ref(), 0_usize, options)?;
    }
    let granted = requests
        .iter()
        .map(|r| SubAckReasonCode::granted(r.options.qos));
    sessions[0].suback(id, granted.collect())?;
    let out = sent(&mut sessions[0])?;
    assert!(
        matches!(out.as_slice(), [Packet::ConnAck(_), Packet::SubAck(_)]),
        "{out:?}"
    );

    // Client 1 publishes at QoS 1; the application routes, then acknowledges.
    let topic = TopicName::try_from("sensors/kitchen/temp")?;
    let publish = Publish::new(topic.clone(), &b"21.5"[..]);
    let qos1 = |id| Ok::<_, Error>(PublishQoS::new(QoS::AtLeastOnce, packet_id(id)?));
    sessions.push(accept(
        "publisher",
        publish.clone().with_qos(qos1(7)?).into(),
    )?);
    let Some(ServerEvent::Publish {
        publish: received,
        ack,
    }) = sessions[1].poll_event()
    else {
        return Err("no PUBLISH event".into());
    };
    let topic_in = received.topic.clone().ok_or("no topic")?;
    let message = Message::new(topic_in, received.payload.clone(), received.qos.qos());
    let mut routes = Vec::new();
    index.match_name(&message.topic, |matched| {
        if let Matched::Subscriber { key, options: o } = matched {
            // Back to the packet's options, which a Delivery takes.
            let mut options = SubscriptionOptions::new(o.qos);
            (options.no_local, options.retain_as_published) = (o.no_local, o.retain_as_published);
            routes.push((*key, options));
        }
    });
    assert_eq!(routes.len(), 1, "one subscription matches");
    for (key, options) in routes {
        sessions[key].deliver(NOW, Delivery::new(message.clone(), options))?;
    }
    let token = ack.ok_or("a QoS 1 PUBLISH has an ack token")?;
    sessions[1].ack(NOW, token, PubAckReasonCode::Success)?;
    let out = sent(&mut sessions[1])?;
    assert!(
        matches!(out.as_slice(), [Packet::ConnAck(_), Packet::PubAck(a)] if a.packet_id.get() == 7),
        "{out:?}"
    );

    // The subscriber receives it at QoS 1 with the first packet identifier, then acknowledges.
    let out = sent(&mut sessions[0])?;
    assert_eq!(out, [Packet::Publish(publish.with_qos(qos1(1)?))]);
    let mut wire = BytesMut::new();
    Encoder::new(V5).encode(&PubAck::new(packet_id(1)?).into(), &mut wire)?;
    sessions[0].handle_bytes(NOW, &wire);
    let event = sessions[0].poll_event();
    assert!(
        matches!(event, Some(ServerEvent::Delivered { .. })),
        "{event:?}"
    );
    println!("broker-side: SUBSCRIBE granted, PUBLISH routed, delivered and acknowledged");
    Ok(())
}
