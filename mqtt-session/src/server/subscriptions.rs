//! A session's subscriptions, kept sorted by filter in one vector: most
//! clients hold a handful, and a tree's node would cost an idle session more
//! than everything else it holds.

use alloc::vec::Vec;

use mqttkit_topic::TopicFilter;

use super::event::Subscription;

/// The subscriptions of one session, one per filter (v5 [MQTT-3.8.4-3]).
#[derive(Debug, Clone, Default)]
pub(super) struct Subscriptions(Vec<(TopicFilter, Subscription)>);

impl Subscriptions {
    fn find(&self, filter: &[u8]) -> Result<usize, usize> {
        self.0.binary_search_by(|(f, _)| f.as_bytes().cmp(filter))
    }

    /// Adds the subscription, replacing one with the same filter.
    pub(super) fn insert(&mut self, filter: TopicFilter, subscription: Subscription) {
        match self.find(filter.as_bytes()) {
            Ok(at) => {
                if let Some(entry) = self.0.get_mut(at) {
                    *entry = (filter, subscription);
                }
            }
            Err(at) => self.0.insert(at, (filter, subscription)),
        }
    }

    /// Removes the subscription to `filter`; `false` if there was none.
    pub(super) fn remove(&mut self, filter: &[u8]) -> bool {
        match self.find(filter) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    pub(super) fn contains(&self, filter: &[u8]) -> bool {
        self.find(filter).is_ok()
    }

    /// By filter, in byte order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&TopicFilter, &Subscription)> + '_ {
        self.0.iter().map(|(f, s)| (f, s))
    }

    /// Gives back spare capacity.
    pub(super) fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttkit_codec::{QoS, SubscriptionOptions};

    fn sub(qos: QoS) -> Subscription {
        Subscription {
            options: SubscriptionOptions::new(qos),
            identifier: None,
        }
    }

    /// v5 [MQTT-3.8.4-3]: a subscription to a filter already held replaces it.
    #[test]
    fn v5_mqtt_3_8_4_3_same_filter_replaces() {
        let mut subs = Subscriptions::default();
        subs.insert(TopicFilter::try_from("b/#").unwrap(), sub(QoS::AtMostOnce));
        subs.insert(TopicFilter::try_from("a/+").unwrap(), sub(QoS::AtMostOnce));
        subs.insert(TopicFilter::try_from("b/#").unwrap(), sub(QoS::ExactlyOnce));
        let held: Vec<(&str, QoS)> = subs
            .iter()
            .map(|(f, s)| (f.as_str(), s.options.qos))
            .collect();
        assert_eq!(held, [("a/+", QoS::AtMostOnce), ("b/#", QoS::ExactlyOnce)]);
        assert!(subs.contains(b"a/+"));
        assert!(subs.remove(b"a/+"));
        assert!(!subs.remove(b"a/+"));
        assert!(!subs.contains(b"a/+"));
    }
}
