//! The subscription index against a brute-force reference: a list of (filter, key)
//! pairs matched one by one with `matches`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![allow(missing_docs)]

use std::collections::BTreeSet;

use mqttkit_topic::{
    Matched, QoS, SharedSubscriptionRef, SubscriptionIndex, SubscriptionOptions, TopicFilterRef,
    TopicNameRef, matches,
};
use proptest::prelude::*;

/// A topic level: literals from a tiny alphabet so that filters overlap, the empty
/// level, and `$` levels (which only matter first).
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("c".to_owned()),
        Just(String::new()),
        Just("$s".to_owned()),
    ]
}

/// Filter levels with weights literal 5 : `+` 2 : `#` 1 (EMQX's PropEr generator).
fn filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![5 => literal(), 2 => Just("+".to_owned()), 1 => Just("#".to_owned())];
    prop::collection::vec(level, 1..6).prop_map(|levels| {
        // `#` is only valid last: cut the filter after the first one.
        let cut = levels
            .iter()
            .position(|l| l == "#")
            .map_or(levels.len(), |i| i + 1);
        non_empty(levels[..cut].join("/"))
    })
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(literal(), 1..6).prop_map(|levels| non_empty(levels.join("/")))
}

/// A single empty level is the empty string, which is not a valid topic.
fn non_empty(s: String) -> String {
    if s.is_empty() { "/".to_owned() } else { s }
}

#[derive(Clone, Debug)]
enum Op {
    Subscribe(String, u8, u8),
    Unsubscribe(String, u8),
    SubscribeShared(String, u8, u8),
    UnsubscribeShared(String, u8),
    Match(String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (filter(), 0..4u8, 0..3u8).prop_map(|(f, k, q)| Op::Subscribe(f, k, q)),
        2 => (filter(), 0..4u8).prop_map(|(f, k)| Op::Unsubscribe(f, k)),
        1 => (filter(), 0..4u8, 0..3u8).prop_map(|(f, k, q)| Op::SubscribeShared(f, k, q)),
        1 => (filter(), 0..4u8).prop_map(|(f, k)| Op::UnsubscribeShared(f, k)),
        4 => topic().prop_map(Op::Match),
    ]
}

#[derive(Default)]
struct Reference {
    /// (filter, key, qos, shared)
    subs: Vec<(String, u8, u8, bool)>,
}

impl Reference {
    fn upsert(&mut self, f: &str, k: u8, q: u8, shared: bool) -> Option<u8> {
        if let Some(e) = self
            .subs
            .iter_mut()
            .find(|e| e.0 == f && e.1 == k && e.3 == shared)
        {
            return Some(std::mem::replace(&mut e.2, q));
        }
        self.subs.push((f.to_owned(), k, q, shared));
        None
    }
    fn remove(&mut self, f: &str, k: u8, shared: bool) -> Option<u8> {
        let i = self
            .subs
            .iter()
            .position(|e| e.0 == f && e.1 == k && e.3 == shared)?;
        Some(self.subs.remove(i).2)
    }
    fn matching(&self, t: &str) -> BTreeSet<(String, u8, u8, bool)> {
        let topic = TopicNameRef::new(t).unwrap();
        self.subs
            .iter()
            .filter(|e| matches(TopicFilterRef::new(&e.0).unwrap(), topic))
            .cloned()
            .collect()
    }
}

fn qos(q: u8) -> SubscriptionOptions {
    SubscriptionOptions::new(QoS::try_from(q).unwrap())
}

fn index_matching(index: &SubscriptionIndex<u8>, t: &str) -> BTreeSet<(String, u8, u8, bool)> {
    let mut got = BTreeSet::new();
    let mut count = 0;
    index.match_topic(TopicNameRef::new(t).unwrap(), |m| match m {
        Matched::Subscriber { .. } => count += 1,
        Matched::Shared(group) => {
            assert_eq!(group.share_name(), "g");
            for (k, o) in group.members() {
                got.insert((group.filter().to_owned(), *k, u8::from(o.qos), true));
            }
        }
    });
    // Ordinary matches carry no filter; compare them through the reference's set of
    // (key, qos) per filter by re-deriving: collect them separately.
    let mut ordinary = Vec::new();
    index.match_topic(TopicNameRef::new(t).unwrap(), |m| {
        if let Matched::Subscriber { key, options } = m {
            ordinary.push((*key, u8::from(options.qos)));
        }
    });
    assert_eq!(ordinary.len(), count);
    for (k, q) in ordinary {
        got.insert((String::new(), k, q, false));
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn index_agrees_with_brute_force(ops in prop::collection::vec(op(), 1..60)) {
        let mut index = SubscriptionIndex::<u8>::new();
        let mut reference = Reference::default();
        for op in ops {
            match op {
                Op::Subscribe(f, k, q) => {
                    let got = index.subscribe(TopicFilterRef::new(&f).unwrap(), k, qos(q)).unwrap();
                    prop_assert_eq!(got.map(|o| u8::from(o.qos)), reference.upsert(&f, k, q, false));
                }
                Op::Unsubscribe(f, k) => {
                    let got = index.unsubscribe(TopicFilterRef::new(&f).unwrap(), &k);
                    prop_assert_eq!(got.map(|o| u8::from(o.qos)), reference.remove(&f, k, false));
                }
                Op::SubscribeShared(f, k, q) => {
                    let s = format!("$share/g/{f}");
                    let shared = SharedSubscriptionRef::parse(TopicFilterRef::new(&s).unwrap()).unwrap().unwrap();
                    let got = index.subscribe_shared(shared, k, qos(q)).unwrap();
                    prop_assert_eq!(got.map(|o| u8::from(o.qos)), reference.upsert(&f, k, q, true));
                }
                Op::UnsubscribeShared(f, k) => {
                    let s = format!("$share/g/{f}");
                    let shared = SharedSubscriptionRef::parse(TopicFilterRef::new(&s).unwrap()).unwrap().unwrap();
                    let got = index.unsubscribe_shared(shared, &k);
                    prop_assert_eq!(got.map(|o| u8::from(o.qos)), reference.remove(&f, k, true));
                }
                Op::Match(t) => {
                    let want: BTreeSet<_> = reference
                        .matching(&t)
                        .into_iter()
                        .map(|(f, k, q, shared)| (if shared { f } else { String::new() }, k, q, shared))
                        .collect();
                    // Ordinary subscriptions may repeat (same key, same qos, other filter);
                    // compare multiplicities through counts as well.
                    let want_ordinary = reference.matching(&t).iter().filter(|e| !e.3).count();
                    let mut got_ordinary = 0;
                    index.match_topic(TopicNameRef::new(&t).unwrap(), |m| {
                        if matches!(m, Matched::Subscriber { .. }) { got_ordinary += 1; }
                    });
                    prop_assert_eq!(got_ordinary, want_ordinary, "topic {:?}", t);
                    prop_assert_eq!(index_matching(&index, &t), want, "topic {:?}", t);
                    prop_assert_eq!(index.has_match(TopicNameRef::new(&t).unwrap()), !reference.matching(&t).is_empty());
                }
            }
            prop_assert_eq!(index.len(), reference.subs.len());
        }
        // Unsubscribing everything frees every node.
        for (f, k, _, shared) in reference.subs.clone() {
            if shared {
                let s = format!("$share/g/{f}");
                let sh = SharedSubscriptionRef::parse(TopicFilterRef::new(&s).unwrap()).unwrap().unwrap();
                prop_assert!(index.unsubscribe_shared(sh, &k).is_some());
            } else {
                prop_assert!(index.unsubscribe(TopicFilterRef::new(&f).unwrap(), &k).is_some());
            }
        }
        prop_assert_eq!(index.len(), 0);
        prop_assert_eq!(index.node_count(), 1);
        prop_assert_eq!(index.exact_filter_count(), 0);
    }
}
