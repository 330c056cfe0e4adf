//! The subscription index and the retained index against brute-force
//! references, over arbitrary operation sequences.
//!
//! Filters and topics are built from a few levels (`a`, `b`, `$s`, empty,
//! `+`, `#`) so that matches, misses, the `$` rule (v5 [MQTT-4.7.2-1]) and
//! empty levels all come up often. The reference matcher works on the split
//! levels, written from §4.7 of the standard; it shares no code with the crate.
//! `matches_str` is checked against it for every filter on every match.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqttkit_topic::{
    Matched, QoS, RetainedIndex, SharedSubscriptionRef, SubscriptionIndex, SubscriptionOptions,
    TopicFilterRef, TopicName, TopicNameRef,
};

const LEVELS: [&str; 6] = ["a", "b", "$s", "", "+", "#"];

#[derive(Arbitrary, Debug)]
enum Op {
    Subscribe {
        filter: Vec<u8>,
        key: u8,
        qos: u8,
    },
    Unsubscribe {
        filter: Vec<u8>,
        key: u8,
    },
    SubscribeShared {
        group: bool,
        filter: Vec<u8>,
        key: u8,
    },
    UnsubscribeShared {
        group: bool,
        filter: Vec<u8>,
        key: u8,
    },
    Match {
        topic: Vec<u8>,
    },
    Retain {
        topic: Vec<u8>,
        value: u8,
    },
    Forget {
        topic: Vec<u8>,
    },
    Lookup {
        filter: Vec<u8>,
    },
}

/// Up to five levels chosen from `LEVELS` (names use only the first four).
fn build(choice: &[u8], wildcards: bool) -> String {
    let choices = if wildcards { LEVELS.len() } else { 4 };
    let levels: Vec<&str> = choice
        .iter()
        .take(5)
        .map(|c| LEVELS[usize::from(*c) % choices])
        .collect();
    if levels.is_empty() {
        return String::from("a");
    }
    levels.join("/")
}

/// §4.7: level by level; `+` one level, `#` the rest including the parent;
/// a wildcard first level never matches a topic starting with `$`.
fn reference_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    let mut i = 0;
    loop {
        match (f.get(i), t.get(i)) {
            (Some(&"#"), _) => return true,
            (Some(&"+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
        i += 1;
    }
}

#[derive(Default)]
struct Reference {
    /// (share group or "", filter, key) -> QoS
    subscriptions: BTreeMap<(String, String, u8), u8>,
    retained: BTreeMap<String, u8>,
}

fuzz_target!(|ops: Vec<Op>| {
    let mut index: SubscriptionIndex<u8> = SubscriptionIndex::new();
    let mut retained: RetainedIndex<u8> = RetainedIndex::new();
    let mut model = Reference::default();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Subscribe { filter, key, qos } => {
                let filter = build(&filter, true);
                let Ok(f) = TopicFilterRef::new(&filter) else {
                    continue;
                };
                let qos = QoS::try_from(qos % 3).unwrap_or(QoS::AtMostOnce);
                let replaced = index.subscribe(f, key % 4, SubscriptionOptions::new(qos));
                let before = model
                    .subscriptions
                    .insert((String::new(), filter, key % 4), qos as u8);
                assert_eq!(replaced.map(|o| o.map(|o| o.qos as u8)), Ok(before));
            }
            Op::Unsubscribe { filter, key } => {
                let filter = build(&filter, true);
                let Ok(f) = TopicFilterRef::new(&filter) else {
                    continue;
                };
                let removed = index.unsubscribe(f, &(key % 4));
                let before = model
                    .subscriptions
                    .remove(&(String::new(), filter, key % 4));
                assert_eq!(removed.map(|o| o.qos as u8), before);
            }
            Op::SubscribeShared { group, filter, key } => {
                let group = if group { "g" } else { "h" };
                let text = format!("$share/{group}/{}", build(&filter, true));
                let Ok(f) = TopicFilterRef::new(&text) else {
                    continue;
                };
                let Ok(Some(shared)) = SharedSubscriptionRef::parse(f) else {
                    continue;
                };
                let filter = shared.filter().as_str().to_owned();
                let replaced = index.subscribe_shared(
                    shared,
                    key % 4,
                    SubscriptionOptions::new(QoS::AtLeastOnce),
                );
                let before = model
                    .subscriptions
                    .insert((group.to_owned(), filter, key % 4), 1);
                assert_eq!(replaced.map(|o| o.is_some()), Ok(before.is_some()));
            }
            Op::UnsubscribeShared { group, filter, key } => {
                let group = if group { "g" } else { "h" };
                let text = format!("$share/{group}/{}", build(&filter, true));
                let Ok(f) = TopicFilterRef::new(&text) else {
                    continue;
                };
                let Ok(Some(shared)) = SharedSubscriptionRef::parse(f) else {
                    continue;
                };
                let filter = shared.filter().as_str().to_owned();
                let removed = index.unsubscribe_shared(shared, &(key % 4));
                let before = model
                    .subscriptions
                    .remove(&(group.to_owned(), filter, key % 4));
                assert_eq!(removed.is_some(), before.is_some());
            }
            Op::Match { topic } => {
                let topic = build(&topic, false);
                let Ok(t) = TopicNameRef::new(&topic) else {
                    continue;
                };
                let mut got = BTreeSet::new();
                index.match_topic(t, |m| match m {
                    Matched::Subscriber { key, options } => {
                        got.insert((String::new(), *key, options.qos as u8));
                    }
                    Matched::Shared(group) => {
                        for (key, options) in group.members() {
                            got.insert((group.share_name().to_owned(), *key, options.qos as u8));
                        }
                    }
                });
                // One row per (group, key) and filter: several filters of one
                // key may match, so compare per subscription, not per key.
                let mut expected = BTreeSet::new();
                let mut expected_rows = 0usize;
                for (_, filter, _) in model.subscriptions.keys() {
                    // The single-pair matcher agrees with the reference too.
                    assert_eq!(
                        mqttkit_topic::matches_str(filter, &topic),
                        reference_matches(filter, &topic),
                        "matches({filter}, {topic})"
                    );
                }
                for ((group, filter, key), qos) in &model.subscriptions {
                    if reference_matches(filter, &topic) {
                        expected.insert((group.clone(), *key, *qos));
                        expected_rows += 1;
                    }
                }
                let mut rows = 0usize;
                index.match_topic(t, |m| match m {
                    Matched::Subscriber { .. } => rows += 1,
                    Matched::Shared(group) => rows += group.len(),
                });
                assert_eq!(rows, expected_rows, "topic {topic}");
                assert_eq!(got, expected, "topic {topic}");
                assert_eq!(index.has_match(t), expected_rows > 0, "has_match {topic}");
            }
            Op::Retain { topic, value } => {
                let topic = build(&topic, false);
                let Ok(name) = TopicName::try_from(topic.as_str()) else {
                    continue;
                };
                let before = retained.insert(name, value);
                assert_eq!(before.ok().flatten(), model.retained.insert(topic, value));
            }
            Op::Forget { topic } => {
                let topic = build(&topic, false);
                let Ok(t) = TopicNameRef::new(&topic) else {
                    continue;
                };
                assert_eq!(retained.remove(t), model.retained.remove(&topic));
                assert_eq!(retained.get(t), None);
            }
            Op::Lookup { filter } => {
                let filter = build(&filter, true);
                let Ok(f) = TopicFilterRef::new(&filter) else {
                    continue;
                };
                let mut got = BTreeMap::new();
                retained.match_filter(f, |topic, value| {
                    assert!(got.insert(topic.as_str().to_owned(), *value).is_none());
                });
                let expected: BTreeMap<String, u8> = model
                    .retained
                    .iter()
                    .filter(|(topic, _)| reference_matches(&filter, topic))
                    .map(|(t, v)| (t.clone(), *v))
                    .collect();
                assert_eq!(got, expected, "filter {filter}");
            }
        }
        assert_eq!(index.len(), model.subscriptions.len());
        assert_eq!(retained.len(), model.retained.len());
    }
});
