//! Retained messages with their arrival time, so that they expire and are
//! delivered with the time they have left (v5 [MQTT-3.3.2-5],
//! [MQTT-3.3.2-6]), within a count and byte bound.

use mqttkit_tokio::mqttkit_session::{Instant, RetainedIndex};
use mqttkit_tokio::{Message, TopicFilter, TopicName};

use crate::config::RetainedLimits;

/// One retained message.
#[derive(Debug, Clone)]
struct Retained {
    message: Message,
    /// When it arrived, for its Message Expiry Interval.
    at: Instant,
}

/// What a new retained message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Kept (or a previous one removed by an empty payload).
    Kept,
    /// Not kept: the count or byte bound is reached.
    Full,
}

/// The retained messages.
#[derive(Debug)]
pub(crate) struct RetainedStore {
    index: RetainedIndex<Retained>,
    limits: RetainedLimits,
    bytes: usize,
}

/// The bytes a message counts for in the bounds and the metrics: topic
/// and payload.
pub(crate) fn message_size(message: &Message) -> usize {
    topic_and_payload_size(&message.topic, &message.payload)
}

/// [`message_size`] of a message not built yet.
pub(crate) fn topic_and_payload_size(topic: &TopicName, payload: &[u8]) -> usize {
    topic.as_str().len().saturating_add(payload.len())
}

/// The whole seconds left of `message`'s expiry interval at `now`;
/// `Some(None)` without one, `None` once it has expired.
fn remaining(message: &Message, at: Instant, now: Instant) -> Option<Option<u32>> {
    let Some(interval) = message.properties.message_expiry_interval else {
        return Some(None);
    };
    let elapsed = now.saturating_duration_since(at).as_secs();
    let left = u64::from(interval)
        .checked_sub(elapsed)
        .filter(|&l| l > 0)?;
    Some(Some(u32::try_from(left).unwrap_or(interval)))
}

impl RetainedStore {
    pub(crate) fn new(limits: RetainedLimits) -> Self {
        Self {
            index: RetainedIndex::new(),
            limits,
            bytes: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Stores `message` as the topic's retained message, or removes it for
    /// an empty payload (v5 [MQTT-3.3.1-6]).
    pub(crate) fn store(&mut self, message: &Message, now: Instant) -> Stored {
        if message.payload.is_empty() {
            self.remove(&message.topic);
            return Stored::Kept;
        }
        let new = message_size(message);
        let old = self
            .index
            .get(message.topic.as_topic_ref())
            .map(|r| message_size(&r.message));
        let count_after = self.index.len().saturating_add(usize::from(old.is_none()));
        let bytes_after = self
            .bytes
            .saturating_sub(old.unwrap_or(0))
            .saturating_add(new);
        if !self.limits.enabled
            || count_after > self.limits.max_messages
            || bytes_after > self.limits.max_bytes
        {
            return Stored::Full;
        }
        let mut message = message.clone();
        message.retain = true;
        match self
            .index
            .insert(message.topic.clone(), Retained { message, at: now })
        {
            Ok(_) => {
                self.bytes = bytes_after;
                Stored::Kept
            }
            Err(_) => Stored::Full,
        }
    }

    fn remove(&mut self, topic: &TopicName) {
        if let Some(old) = self.index.remove(topic.as_topic_ref()) {
            self.bytes = self.bytes.saturating_sub(message_size(&old.message));
        }
    }

    /// The retained messages matching `filter` that have not expired, each
    /// with the expiry interval it has left.
    pub(crate) fn matching(&mut self, filter: &TopicFilter, now: Instant) -> Vec<Message> {
        let mut found = Vec::new();
        let mut expired = Vec::new();
        self.index.match_filter(filter.as_filter_ref(), |topic, r| {
            match remaining(&r.message, r.at, now) {
                Some(left) => {
                    let mut message = r.message.clone();
                    message.properties.message_expiry_interval = left;
                    found.push(message);
                }
                None => expired.push(topic.clone()),
            }
        });
        for topic in expired {
            self.remove(&topic);
        }
        found
    }

    /// Drops every expired message; returns how many.
    pub(crate) fn purge(&mut self, now: Instant) -> usize {
        let Ok(all) = TopicFilter::try_from("#") else {
            return 0;
        };
        let mut expired = Vec::new();
        // `#` skips `$` topics: an expired one goes when a filter reaches it,
        // and counts against the bounds until then.
        self.index.match_filter(all.as_filter_ref(), |topic, r| {
            if remaining(&r.message, r.at, now).is_none() {
                expired.push(topic.clone());
            }
        });
        let count = expired.len();
        for topic in expired {
            self.remove(&topic);
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttkit_tokio::QoS;

    fn message(topic: &str, payload: &'static str, expiry: Option<u32>) -> Message {
        let mut m = Message::new(
            TopicName::try_from(topic).unwrap(),
            payload,
            QoS::AtMostOnce,
        );
        m.properties.message_expiry_interval = expiry;
        m.retain = true;
        m
    }

    fn at(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    fn filter(f: &str) -> TopicFilter {
        TopicFilter::try_from(f).unwrap()
    }

    /// v5 [MQTT-3.3.2-5]: a retained message is not delivered once its
    /// expiry interval has passed.
    #[test]
    fn v5_mqtt_3_3_2_5_expired_retained_message_is_not_delivered() {
        let mut store = RetainedStore::new(RetainedLimits::default());
        store.store(&message("a/b", "x", Some(1)), at(10));
        assert_eq!(store.matching(&filter("a/#"), at(10)).len(), 1);
        assert!(store.matching(&filter("a/#"), at(11)).is_empty());
        assert_eq!(store.len(), 0, "an expired message is removed");
    }

    /// v5 [MQTT-3.3.2-6]: the interval sent is the received one minus the
    /// time the message waited.
    #[test]
    fn v5_mqtt_3_3_2_6_retained_message_carries_remaining_interval() {
        let mut store = RetainedStore::new(RetainedLimits::default());
        store.store(&message("a/b", "x", Some(100)), at(10));
        store.store(&message("a/c", "y", None), at(10));
        let mut found = store.matching(&filter("a/+"), at(40));
        found.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
        assert_eq!(found[0].properties.message_expiry_interval, Some(70));
        assert_eq!(found[1].properties.message_expiry_interval, None);
    }

    #[test]
    fn purge_removes_only_expired_messages() {
        let mut store = RetainedStore::new(RetainedLimits::default());
        store.store(&message("a", "x", Some(5)), at(0));
        store.store(&message("b", "y", Some(50)), at(0));
        store.store(&message("c", "z", None), at(0));
        assert_eq!(store.purge(at(6)), 1);
        assert_eq!(store.len(), 2);
    }

    /// v5 [MQTT-3.3.1-6]: an empty retained payload removes the message.
    #[test]
    fn v5_mqtt_3_3_1_6_empty_payload_removes_retained_message() {
        let mut store = RetainedStore::new(RetainedLimits::default());
        store.store(&message("a", "x", None), at(0));
        store.store(&message("a", "", None), at(0));
        assert_eq!(store.len(), 0);
        assert_eq!(store.bytes, 0);
        assert!(
            store.matching(&filter("#"), at(0)).is_empty(),
            "a later subscriber gets none"
        );
    }

    #[test]
    fn limits_refuse_new_topics_but_allow_replacing() {
        let limits = RetainedLimits {
            max_messages: 2,
            max_bytes: 1000,
            ..RetainedLimits::default()
        };
        let mut store = RetainedStore::new(limits);
        assert_eq!(store.store(&message("a", "x", None), at(0)), Stored::Kept);
        assert_eq!(store.store(&message("b", "x", None), at(0)), Stored::Kept);
        assert_eq!(store.store(&message("c", "x", None), at(0)), Stored::Full);
        assert_eq!(store.store(&message("a", "y", None), at(0)), Stored::Kept);
        let limits = RetainedLimits {
            max_bytes: 4,
            ..RetainedLimits::default()
        };
        let mut store = RetainedStore::new(limits);
        assert_eq!(store.store(&message("ab", "xy", None), at(0)), Stored::Kept);
        assert_eq!(store.store(&message("c", "x", None), at(0)), Stored::Full);
    }
}
