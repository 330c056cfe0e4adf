//! Single-pair matching and filter containment: an edge-case table from the spec text
//! (v5 §4.7 non-normative examples and statements) and from peers' bugs, plus property
//! tests against brute-force references.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![allow(missing_docs)]

use mqtt_topic::{
    RetainedIndex, SubscriptionIndex, SubscriptionOptions, TopicFilter, TopicFilterRef, TopicName,
    TopicNameRef, covers, matches, matches_str,
};
use proptest::prelude::*;

/// (filter, topic, expected, where it comes from)
const TABLE: &[(&str, &str, bool, &str)] = &[
    // v5 §4.7.1.2 / v3.1.1 §4.7.1.2 examples of `#`.
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1",
        true,
        "v5 [MQTT-4.7.1-1] example",
    ),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/ranking",
        true,
        "v5 §4.7.1.2 example",
    ),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/score/wimbledon",
        true,
        "v5 §4.7.1.2",
    ),
    (
        "sport/#",
        "sport",
        true,
        "v5 §4.7.1.2: # includes the parent level",
    ),
    ("sport/#", "sport/", true, "v5 §4.7.1.2"),
    (
        "sport/#",
        "sports",
        false,
        "string prefix is not a level prefix (MQTTX#1741)",
    ),
    ("foo/#", "foobar/x", false, "MQTTX#1741"),
    (
        "#",
        "sport/tennis",
        true,
        "v5 §4.7.1.2: # alone matches every topic",
    ),
    ("#", "/", true, "v5 §4.7.1.2"),
    ("#", "a", true, "v5 §4.7.1.2"),
    ("/#", "/", true, "v5 §4.7.1.2"),
    ("/#", "a", false, "leading / is a distinct empty level"),
    ("+/#", "sport", true, "mosquitto#618"),
    ("foo/+/#", "foo/bar", true, "mosquitto#670"),
    ("foo/+/#", "foo", false, "+ needs a level"),
    // v5 §4.7.1.3 examples of `+`.
    (
        "sport/tennis/+",
        "sport/tennis/player1",
        true,
        "v5 [MQTT-4.7.1-2] example",
    ),
    (
        "sport/tennis/+",
        "sport/tennis/player2",
        true,
        "v5 §4.7.1.3",
    ),
    (
        "sport/tennis/+",
        "sport/tennis/player1/ranking",
        false,
        "v5 §4.7.1.3",
    ),
    (
        "sport/+",
        "sport",
        false,
        "v5 §4.7.1.3: sport/+ does not match sport",
    ),
    (
        "sport/+",
        "sport/",
        true,
        "v5 §4.7.1.3: + matches the empty level",
    ),
    ("+", "a", true, "v5 §4.7.1.3"),
    (
        "+",
        "/finance",
        false,
        "v5 §4.7.1.3: + does not match /finance",
    ),
    ("+/+", "/finance", true, "v5 §4.7.1.3: +/+ matches /finance"),
    ("/+", "/finance", true, "v5 §4.7.1.3: /+ matches /finance"),
    ("+/+", "/", true, "HiveMQ edge case: two empty levels"),
    ("+", "/", false, "two levels"),
    (
        "a/+/b",
        "a//b",
        true,
        "+ matches an empty level (aedes#373)",
    ),
    ("+/+/+/+/+/+", "/////", true, "HiveMQ edge case"),
    ("house/+/room", "house/x/room", true, "MQTTnet#1612"),
    ("house/+/room/+", "house/x/room/y", true, "MQTTnet#1612"),
    // v5 §4.7.2 topics beginning with $.
    ("#", "$SYS/monitor/Clients", false, "v5 [MQTT-4.7.2-1]"),
    (
        "+/monitor/Clients",
        "$SYS/monitor/Clients",
        false,
        "v5 [MQTT-4.7.2-1]",
    ),
    ("$SYS/#", "$SYS/monitor/Clients", true, "v5 §4.7.2 example"),
    (
        "$SYS/monitor/+",
        "$SYS/monitor/Clients",
        true,
        "v5 §4.7.2 example",
    ),
    ("$SYS/#", "$SYS", true, "v5 §4.7.1.2 parent rule with $"),
    ("+", "$", false, "v5 [MQTT-4.7.2-1]"),
    ("#", "$", false, "v5 [MQTT-4.7.2-1]"),
    ("+/#", "$SYS/x", false, "v5 [MQTT-4.7.2-1]"),
    (
        "+/$b",
        "a/$b",
        true,
        "only the first level counts (rmqtt deviates)",
    ),
    (
        "a/+",
        "a/$b",
        true,
        "only the first level counts (emqx#1398)",
    ),
    ("a/#", "a/$b/c", true, "only the first level counts"),
    (
        "devices/dev_1/+",
        "devices/dev_1/$online",
        true,
        "emqx#1398",
    ),
    ("#", "/$SYS", true, "first level is empty, not $"),
    ("+/+", "/$SYS", true, "first level is empty, not $"),
    (
        "$share/g/a",
        "$share/g/a",
        true,
        "a literal $ filter matches itself",
    ),
    // v5 §4.7.3: case sensitive, no normalisation.
    (
        "ACCOUNTS",
        "Accounts",
        false,
        "v5 [MQTT-4.7.3-4] case sensitive",
    ),
    (
        "Accounts payable",
        "Accounts payable",
        true,
        "v5 §4.7.3: spaces are ordinary",
    ),
    (
        "/finance",
        "finance",
        false,
        "v5 §4.7.3: leading / is distinct",
    ),
    (
        "e\u{301}",
        "\u{e9}",
        false,
        "v5 [MQTT-4.7.3-4] no normalisation",
    ),
    (
        "Юникод/+",
        "Юникод/åäö",
        true,
        "multi-byte first char (rumqttc panics)",
    ),
    ("+/åäö", "Юникод/åäö", true, "multi-byte first char"),
    ("€/#", "€", true, "multi-byte"),
    ("a/b", "a/b", true, "exact"),
    ("a/b", "a/b/", false, "trailing empty level"),
    ("a/b/", "a/b", false, "trailing empty level"),
    ("a//b", "a/b", false, "empty level is a level"),
];

/// The table, checked by `matches`, by the owned methods, by the subscription index and
/// by the retained index.
#[test]
fn spec_edge_case_table() {
    for &(f, t, want, why) in TABLE {
        let filter = TopicFilterRef::new(f).unwrap();
        let topic = TopicNameRef::new(t).unwrap();
        assert_eq!(matches(filter, topic), want, "{f:?} vs {t:?} ({why})");
        assert_eq!(matches_str(f, t), want, "{f:?} vs {t:?} ({why})");
        assert_eq!(filter.matches(topic), want);
        let (of, ot) = (
            TopicFilter::try_from(f).unwrap(),
            TopicName::try_from(t).unwrap(),
        );
        assert_eq!(of.matches(&ot), want);

        let mut index = SubscriptionIndex::new();
        index
            .subscribe(filter, 1u8, SubscriptionOptions::default())
            .unwrap();
        assert_eq!(
            index.has_match(topic),
            want,
            "index: {f:?} vs {t:?} ({why})"
        );

        let mut retained = RetainedIndex::new();
        retained.insert(ot, ()).unwrap();
        let mut n = 0;
        retained.match_filter(filter, |_, ()| n += 1);
        assert_eq!(n == 1, want, "retained: {f:?} vs {t:?} ({why})");
        // A filter always covers a topic it matches, read as a filter.
        assert_eq!(
            covers(filter, topic.as_filter_ref()),
            want,
            "covers: {f:?} ⊇ {t:?}"
        );
    }
}

/// Filter containment cases (ntex-mqtt's and mosquitto's ACL vectors, plus `$`).
#[test]
fn covers_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("#", "a", true),
        ("#", "a/+/#", true),
        ("#", "#", true),
        ("#", "+", true),
        ("#", "/", true),
        ("#", "$SYS/x", false),
        ("#", "$SYS/#", false),
        ("+/#", "$SYS", false),
        ("$SYS/#", "$SYS/x/+", true),
        ("$SYS/#", "$SYS", true),
        ("+", "$SYS", false),
        ("+", "+", true),
        ("+", "#", false),
        ("+", "a", true),
        ("+", "a/b", false),
        ("a/+", "a/b", true),
        ("a/+", "a/+", true),
        ("a/+", "a/#", false),
        ("a/+", "a", false),
        ("a/#", "a", true),
        ("a/#", "a/#", true),
        ("a/#", "a/b/+", true),
        ("a/#", "b", false),
        ("a/b", "a/+", false),
        ("a/b", "a/b", true),
        ("a/+/c", "a/b/c", true),
        ("a/+/c", "a/+/+", false),
        ("+/+", "/", true),
        ("+/#", "a", true),
        ("+/+/#", "a", false),
        ("+/#", "#", true),
        ("+/+/#", "#", false),
        ("a/+/#", "a/#", false),
    ];
    for &(a, b, want) in cases {
        let (fa, fb) = (
            TopicFilterRef::new(a).unwrap(),
            TopicFilterRef::new(b).unwrap(),
        );
        assert_eq!(covers(fa, fb), want, "{a:?} ⊇ {b:?}");
        assert_eq!(fa.covers(fb), want);
        let (oa, ob) = (
            TopicFilter::try_from(a).unwrap(),
            TopicFilter::try_from(b).unwrap(),
        );
        assert_eq!(oa.covers(&ob), want);
    }
}

/// Straightforward recursive matcher used as the reference.
fn reference_matches(filter: &[&str], topic: &[&str], first: bool) -> bool {
    if first
        && topic.first().is_some_and(|l| l.starts_with('$'))
        && filter.first().is_some_and(|l| *l == "+" || *l == "#")
    {
        return false;
    }
    match (filter.split_first(), topic.split_first()) {
        (None, None) => true,
        (Some((&"#", _)), _) => true,
        (Some((&"+", fr)), Some((_, tr))) => reference_matches(fr, tr, false),
        (Some((f, fr)), Some((t, tr))) => f == t && reference_matches(fr, tr, false),
        _ => false,
    }
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".into()),
        Just("b".into()),
        Just(String::new()),
        Just("$s".into())
    ]
}

fn filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![5 => literal(), 2 => Just("+".to_owned()), 1 => Just("#".to_owned())];
    prop::collection::vec(level, 1..5).prop_map(|levels| {
        let cut = levels
            .iter()
            .position(|l| l == "#")
            .map_or(levels.len(), |i| i + 1);
        let s = levels[..cut].join("/");
        if s.is_empty() { "/".into() } else { s }
    })
}

/// Every topic over the alphabet with 1 to 4 levels: small enough to enumerate.
fn all_topics() -> Vec<String> {
    let alphabet = ["a", "b", "", "$s", "c"];
    let mut out: Vec<Vec<&str>> = alphabet.iter().map(|l| vec![*l]).collect();
    let mut last = out.clone();
    for _ in 1..4 {
        let mut next = Vec::new();
        for t in &last {
            for l in alphabet {
                let mut t = t.clone();
                t.push(l);
                next.push(t);
            }
        }
        out.extend(next.iter().cloned());
        last = next;
    }
    out.into_iter()
        .map(|t| t.join("/"))
        .filter(|t| !t.is_empty())
        .collect()
}

proptest! {
    #[test]
    fn matches_agrees_with_reference(f in filter(), t in prop::collection::vec(literal(), 1..5)) {
        let topic = t.join("/");
        prop_assume!(!topic.is_empty());
        let fl: Vec<&str> = f.split('/').collect();
        let tl: Vec<&str> = topic.split('/').collect();
        prop_assert_eq!(matches_str(&f, &topic), reference_matches(&fl, &tl, true));
    }

    /// `covers(a, b)` is true exactly when every topic b matches is matched by a, over
    /// every topic of up to four levels from an alphabet that includes the filters'
    /// literals (plus one they never use, standing for "anything else"). Filters have at
    /// most four levels, so deeper topics behave like some four-level one.
    #[test]
    fn covers_agrees_with_brute_force(a in filter(), b in filter()) {
        let topics = all_topics();
        let brute = topics.iter().all(|t| !matches_str(&b, t) || matches_str(&a, t));
        let (fa, fb) = (TopicFilterRef::new(&a).unwrap(), TopicFilterRef::new(&b).unwrap());
        prop_assert_eq!(covers(fa, fb), brute, "{:?} ⊇ {:?}", a, b);
    }

    /// No panic on any UTF-8 input, valid or not.
    #[test]
    fn matches_str_never_panics(f in "\\PC{0,12}", t in "\\PC{0,12}") {
        let _ = matches_str(&f, &t);
        let _ = matches_str(&t, &f);
    }
}
