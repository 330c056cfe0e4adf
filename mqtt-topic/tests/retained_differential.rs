//! The retained-topic index against a brute-force list, with random insert / remove /
//! lookup sequences.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![allow(missing_docs)]

use std::collections::BTreeMap;

use mqttkit_topic::{RetainedIndex, TopicFilterRef, TopicName, TopicNameRef, matches_str};
use proptest::prelude::*;

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("c".to_owned()),
        Just(String::new()),
        Just("$s".to_owned()),
    ]
}

fn non_empty(s: String) -> String {
    if s.is_empty() { "/".to_owned() } else { s }
}

fn filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![5 => literal(), 2 => Just("+".to_owned()), 1 => Just("#".to_owned())];
    prop::collection::vec(level, 1..6).prop_map(|levels| {
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

#[derive(Clone, Debug)]
enum Op {
    Insert(String, u32),
    Remove(String),
    Get(String),
    Match(String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (topic(), any::<u32>()).prop_map(|(t, v)| Op::Insert(t, v)),
        2 => topic().prop_map(Op::Remove),
        1 => topic().prop_map(Op::Get),
        3 => filter().prop_map(Op::Match),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn retained_agrees_with_brute_force(ops in prop::collection::vec(op(), 1..60)) {
        let mut index = RetainedIndex::new();
        let mut reference = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(t, v) => {
                    let got = index.insert(TopicName::try_from(t.as_str()).unwrap(), v).unwrap();
                    prop_assert_eq!(got, reference.insert(t, v));
                }
                Op::Remove(t) => {
                    prop_assert_eq!(index.remove(TopicNameRef::new(&t).unwrap()), reference.remove(&t));
                }
                Op::Get(t) => {
                    prop_assert_eq!(index.get(TopicNameRef::new(&t).unwrap()), reference.get(&t));
                }
                Op::Match(f) => {
                    let want: BTreeMap<String, u32> = reference
                        .iter()
                        .filter(|(t, _)| matches_str(&f, t))
                        .map(|(t, v)| (t.clone(), *v))
                        .collect();
                    let mut got = BTreeMap::new();
                    let mut count = 0;
                    index.match_filter(TopicFilterRef::new(&f).unwrap(), |t, v| {
                        count += 1;
                        got.insert(t.as_str().to_owned(), *v);
                    });
                    prop_assert_eq!(count, want.len(), "each topic once, filter {:?}", f);
                    prop_assert_eq!(got, want, "filter {:?}", f);
                }
            }
            prop_assert_eq!(index.len(), reference.len());
        }
        let topics: Vec<String> = reference.keys().cloned().collect();
        for t in topics {
            prop_assert!(index.remove(TopicNameRef::new(&t).unwrap()).is_some());
        }
        prop_assert_eq!(index.node_count(), 1);
    }
}
