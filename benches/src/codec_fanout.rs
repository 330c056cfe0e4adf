//! Forwarding one received PUBLISH to 64 subscribers, as a broker does:
//! each subscriber gets its own packet identifier, QoS and Topic Alias, so
//! each needs its own head, while the payload is the same for all.
//!
//! Two ways are timed over the same subscribers. The fan-out path writes
//! each subscriber's head with `Encoder::encode_publish_head` and leaves the
//! payload to a vectored write; the whole-packet path writes head and
//! payload with `Encoder::encode_publish`, copying the payload once per
//! subscriber. The timing bench and the allocation bench share this module.

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    Decoded, Decoder, EncodeError, Encoder, Packet, PacketId, ProtocolVersion, Publish, PublishQoS,
    QoS,
};

use crate::codec_peers::{Workload, workloads};

/// Subscribers per forwarded message.
pub const SUBSCRIBERS: usize = 64;

/// What differs from one subscriber to the next.
#[derive(Debug, Clone, Copy)]
pub struct Subscriber {
    /// The QoS and packet identifier of this subscriber's copy.
    pub qos: PublishQoS,
    /// The Topic Alias used towards this subscriber (5.0 only), and
    /// whether it is already known to it, so that the topic is left out.
    pub alias: Option<(u16, bool)>,
}

/// One decoded PUBLISH and the subscribers it goes to.
#[derive(Debug, Clone)]
pub struct Fanout {
    /// Name used in the report.
    pub name: String,
    /// The version of every connection.
    pub version: ProtocolVersion,
    /// The message as the broker decoded it from its publisher.
    pub publish: Publish,
    /// Its subscribers.
    pub subscribers: Vec<Subscriber>,
}

/// The fan-out workloads: QoS 1 messages of 64 B and 16 KiB in 3.1.1 and
/// 5.0, and the 5.0 one with 5 properties, each decoded from its wire bytes.
pub fn fanouts() -> Vec<Fanout> {
    workloads()
        .into_iter()
        .filter(|w| {
            w.name.contains("QoS1") && (w.name.contains(" 64 B") || w.name.contains("16 KiB"))
        })
        .map(|w| fanout(&w))
        .collect()
}

fn fanout(workload: &Workload) -> Fanout {
    let mut buf = BytesMut::from(&workload.frame[..]);
    let decoded = Decoder::new(workload.version).decode(&mut buf);
    let publish = match decoded {
        Ok(Decoded::Packet(Packet::Publish(publish))) => Some(publish),
        _ => None,
    }
    .expect("every workload decodes to a PUBLISH");
    let subscribers = (0..SUBSCRIBERS)
        .map(|i| {
            let id = u16::try_from(i + 1).unwrap_or(u16::MAX);
            let qos = match i % 3 {
                0 => PublishQoS::AtMostOnce,
                1 => PublishQoS::new(QoS::AtLeastOnce, PacketId::new(id).expect("not 0")),
                _ => PublishQoS::new(QoS::ExactlyOnce, PacketId::new(id).expect("not 0")),
            };
            // A third without an alias, a third with one the subscriber
            // knows, a third setting a new one.
            let alias = workload
                .version
                .is_v5()
                .then_some(match i % 3 {
                    0 => None,
                    1 => Some((id, true)),
                    _ => Some((id, false)),
                })
                .flatten();
            Subscriber { qos, alias }
        })
        .collect();
    Fanout {
        name: workload.name.replace("QoS1 ", ""),
        version: workload.version,
        publish,
        subscribers,
    }
}

impl Fanout {
    /// The copy of the message for `subscriber`: a clone of the received
    /// packet (reference counts, no copy) with its own QoS and alias.
    pub fn copy_for(&self, subscriber: &Subscriber) -> Publish {
        let mut copy = self.publish.clone().with_qos(subscriber.qos);
        if let Some((alias, known)) = subscriber.alias {
            copy.properties.topic_alias = core::num::NonZeroU16::new(alias);
            if known {
                copy.topic = None;
            }
        }
        copy
    }

    /// The fan-out path: every subscriber's head into `heads` (cleared per
    /// subscriber, as a writer would after each vectored write), the
    /// payload handed on by reference.
    pub fn forward_heads(&self, heads: &mut BytesMut) -> Result<Forwarded, EncodeError> {
        let encoder = Encoder::new(self.version);
        let mut forwarded = Forwarded::default();
        for subscriber in &self.subscribers {
            let copy = self.copy_for(subscriber);
            heads.clear();
            let head = encoder.encode_publish_head(&copy, heads)?;
            let payload: &Bytes = std::hint::black_box(&copy.payload);
            forwarded.sent += head + payload.len();
            forwarded.encoded += head;
        }
        Ok(forwarded)
    }

    /// The whole-packet path: every subscriber's packet, payload copied,
    /// into `out` (cleared per subscriber).
    pub fn forward_whole(&self, out: &mut BytesMut) -> Result<Forwarded, EncodeError> {
        let encoder = Encoder::new(self.version);
        let mut forwarded = Forwarded::default();
        for subscriber in &self.subscribers {
            let copy = self.copy_for(subscriber);
            out.clear();
            let n = encoder.encode_publish(&copy, out)?;
            forwarded.sent += n;
            forwarded.encoded += n;
        }
        Ok(forwarded)
    }
}

/// What forwarding one message to every subscriber took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// Bytes the subscribers are sent in all.
    pub sent: usize,
    /// Bytes written into the buffer (the rest is the payload by reference).
    pub encoded: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_paths_send_the_same_bytes() {
        let all = fanouts();
        assert_eq!(all.len(), 5);
        for fanout in all {
            let mut heads = BytesMut::new();
            let mut whole = BytesMut::new();
            let by_head = fanout.forward_heads(&mut heads).unwrap();
            let by_whole = fanout.forward_whole(&mut whole).unwrap();
            assert_eq!(by_head.sent, by_whole.sent, "{}", fanout.name);
            assert_eq!(by_whole.encoded, by_whole.sent, "{}", fanout.name);
            let payloads = SUBSCRIBERS * fanout.publish.payload.len();
            assert_eq!(by_head.encoded + payloads, by_head.sent, "{}", fanout.name);
            // The last subscriber's packet, head then payload, is the same.
            let last = fanout.subscribers.last().unwrap();
            let copy = fanout.copy_for(last);
            heads.extend_from_slice(&copy.payload);
            assert_eq!(heads, whole, "{}", fanout.name);
        }
    }
}
