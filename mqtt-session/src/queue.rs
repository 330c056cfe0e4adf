//! The messages a session holds that were not sent yet, in both roles,
//! counted in messages and in bytes so that both can be bounded.

use alloc::collections::VecDeque;

use mqttkit_codec::QoS;

use crate::event::{Message, OpId};
use crate::time::Instant;

/// A publish waiting for a connection, send quota or packet identifier.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) op: OpId,
    pub(crate) message: Message,
    /// From the Message Expiry Interval: not sent after this instant.
    pub(crate) expires_at: Option<Instant>,
}

impl Queued {
    /// What the message counts against a byte bound: its topic and payload,
    /// the parts that grow with what peers send.
    pub(crate) fn size(&self) -> usize {
        self.message
            .payload
            .len()
            .saturating_add(self.message.topic.len())
    }
}

/// The queue of messages not sent yet, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Queue {
    messages: VecDeque<Queued>,
    /// The sum of [`Queued::size`] over `messages`.
    bytes: usize,
}

impl Queue {
    /// No messages.
    pub(crate) const EMPTY: Self = Self {
        messages: VecDeque::new(),
        bytes: 0,
    };

    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Topic and payload bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Queued> + '_ {
        self.messages.iter()
    }

    pub(crate) fn push_back(&mut self, queued: Queued) {
        self.bytes = self.bytes.saturating_add(queued.size());
        self.messages.push_back(queued);
    }

    /// The oldest message, ready to send at `now`: one whose Message Expiry
    /// Interval passed while it waited is removed instead and returned as
    /// `Err` (it is not sent, v5 [MQTT-3.3.2-5]); one that goes out carries
    /// the whole seconds it has left (v5 [MQTT-3.3.2-6]).
    pub(crate) fn front_at(&mut self, now: Instant) -> Option<Result<&mut Queued, Queued>> {
        let front = self.messages.front_mut()?;
        if let Some(at) = front.expires_at {
            if at <= now {
                return self.pop_front().map(Err);
            }
            let left_ms = at.as_millis().saturating_sub(now.as_millis());
            let left = u32::try_from(left_ms.div_ceil(1000)).unwrap_or(u32::MAX);
            front.message.properties.message_expiry_interval = Some(left);
        }
        self.messages.front_mut().map(Ok)
    }

    pub(crate) fn pop_front(&mut self) -> Option<Queued> {
        let queued = self.messages.pop_front()?;
        self.bytes = self.bytes.saturating_sub(queued.size());
        Some(queued)
    }

    /// Removes the oldest QoS 0 message: the first to go when the queue is
    /// full, since the protocol promises it nothing (v5 §4.3.1).
    pub(crate) fn remove_oldest_qos0(&mut self) -> Option<Queued> {
        let at = self
            .messages
            .iter()
            .position(|q| q.message.qos == QoS::AtMostOnce)?;
        let queued = self.messages.remove(at)?;
        self.bytes = self.bytes.saturating_sub(queued.size());
        Some(queued)
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.messages.shrink_to_fit();
    }

    /// Removes every message, oldest first.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Queued> + '_ {
        self.bytes = 0;
        self.messages.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttkit_codec::TopicName;

    fn queued(op: u64, qos: QoS, payload: &'static [u8]) -> Queued {
        Queued {
            op: OpId(op),
            message: Message::new(TopicName::from_static("t/1").unwrap(), payload, qos),
            expires_at: None,
        }
    }

    #[test]
    fn counts_topic_and_payload_bytes() {
        let mut q = Queue::default();
        q.push_back(queued(0, QoS::AtLeastOnce, b"12345"));
        q.push_back(queued(1, QoS::AtMostOnce, b"1"));
        assert_eq!((q.len(), q.bytes()), (2, 8 + 4));
        assert_eq!(q.pop_front().map(|q| q.op), Some(OpId(0)));
        assert_eq!(q.bytes(), 4);
        q.drain().for_each(drop);
        assert_eq!((q.len(), q.bytes()), (0, 0));
    }

    #[test]
    fn qos0_goes_first_when_full() {
        let mut q = Queue::default();
        q.push_back(queued(0, QoS::ExactlyOnce, b"a"));
        q.push_back(queued(1, QoS::AtMostOnce, b"b"));
        q.push_back(queued(2, QoS::AtMostOnce, b"c"));
        assert_eq!(q.remove_oldest_qos0().map(|q| q.op), Some(OpId(1)));
        assert_eq!(q.remove_oldest_qos0().map(|q| q.op), Some(OpId(2)));
        assert!(q.remove_oldest_qos0().is_none());
        assert_eq!((q.len(), q.bytes()), (1, 4));
    }
}
