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

use mqttkit_topic::{
    RetainedIndex, SubscriptionIndex, SubscriptionOptions, TopicFilter, TopicFilterRef, TopicName,
    TopicNameRef, covers, matches, matches_str,
};
use proptest::prelude::*;

/// (filter, topic, expected, the statement it checks and where the case comes from)
const TABLE: &[(&str, &str, bool, &str)] = &[
    // `#` (v5 §4.7.1.2; v3.1.1 §4.7.1.2): the parent level and any number of children.
    ("sport/tennis/player1/#", "sport/tennis/player1", true, H),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/ranking",
        true,
        H,
    ),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/score/wimbledon",
        true,
        H,
    ),
    ("sport/#", "sport", true, H),
    ("sport/#", "sport/", true, H),
    (
        "sport/#",
        "sports",
        false,
        "v5 [MQTT-4.7.1-1]: a level, not a string prefix (MQTTX#1741)",
    ),
    (
        "foo/#",
        "foobar/x",
        false,
        "v5 [MQTT-4.7.1-1]: a level, not a string prefix (MQTTX#1741)",
    ),
    ("#", "sport/tennis", true, H),
    ("#", "/", true, H),
    ("#", "a", true, H),
    ("/#", "/", true, H),
    (
        "/#",
        "a",
        false,
        "v5 [MQTT-4.7.1-1]: a leading / is an empty first level",
    ),
    (
        "+/#",
        "sport",
        true,
        "v5 [MQTT-4.7.1-1] [MQTT-4.7.1-2] (mosquitto#618)",
    ),
    (
        "foo/+/#",
        "foo/bar",
        true,
        "v5 [MQTT-4.7.1-1] [MQTT-4.7.1-2] (mosquitto#670)",
    ),
    (
        "foo/+/#",
        "foo",
        false,
        "v5 [MQTT-4.7.1-2]: + needs a level",
    ),
    // `+` (v5 §4.7.1.3; v3.1.1 §4.7.1.3): exactly one level, possibly empty.
    ("sport/tennis/+", "sport/tennis/player1", true, P),
    ("sport/tennis/+", "sport/tennis/player2", true, P),
    ("sport/tennis/+", "sport/tennis/player1/ranking", false, P),
    ("sport/+", "sport", false, P),
    ("sport/+", "sport/", true, P),
    ("+", "a", true, P),
    ("+", "/finance", false, P),
    ("+/+", "/finance", true, P),
    ("/+", "/finance", true, P),
    (
        "+/+",
        "/",
        true,
        "v5 [MQTT-4.7.1-2]: two empty levels (HiveMQ edge case)",
    ),
    ("+", "/", false, P),
    (
        "a/+/b",
        "a//b",
        true,
        "v5 [MQTT-4.7.1-2]: + matches an empty level (aedes#373)",
    ),
    (
        "+/+/+/+/+/+",
        "/////",
        true,
        "v5 [MQTT-4.7.1-2]: six empty levels (HiveMQ)",
    ),
    (
        "house/+/room",
        "house/x/room",
        true,
        "v5 [MQTT-4.7.1-2] (MQTTnet#1612)",
    ),
    (
        "house/+/room/+",
        "house/x/room/y",
        true,
        "v5 [MQTT-4.7.1-2] (MQTTnet#1612)",
    ),
    // Topics beginning with `$` (v5 §4.7.2; v3.1.1 §4.7.2).
    ("#", "$SYS/monitor/Clients", false, D),
    ("+/monitor/Clients", "$SYS/monitor/Clients", false, D),
    ("$SYS/#", "$SYS/monitor/Clients", true, D),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", true, D),
    (
        "$SYS/#",
        "$SYS",
        true,
        "v5 [MQTT-4.7.2-1] with the parent rule of [MQTT-4.7.1-1]",
    ),
    ("+", "$", false, D),
    ("#", "$", false, D),
    ("+/#", "$SYS/x", false, D),
    (
        "+/$b",
        "a/$b",
        true,
        "v5 [MQTT-4.7.2-1]: only the first level (rmqtt deviates)",
    ),
    (
        "a/+",
        "a/$b",
        true,
        "v5 [MQTT-4.7.2-1]: only the first level (emqx#1398)",
    ),
    (
        "a/#",
        "a/$b/c",
        true,
        "v5 [MQTT-4.7.2-1]: only the first level",
    ),
    (
        "devices/dev_1/+",
        "devices/dev_1/$online",
        true,
        "v5 [MQTT-4.7.2-1] (emqx#1398)",
    ),
    (
        "#",
        "/$SYS",
        true,
        "v5 [MQTT-4.7.2-1]: the first level is empty, not $",
    ),
    (
        "+/+",
        "/$SYS",
        true,
        "v5 [MQTT-4.7.2-1]: the first level is empty, not $",
    ),
    (
        "$share/g/a",
        "$share/g/a",
        true,
        "v5 [MQTT-4.7.2-1]: a literal $ filter matches",
    ),
    // Semantics (v5 §4.7.3; v3.1.1 §4.7.3): byte comparison, no normalisation.
    ("ACCOUNTS", "Accounts", false, N),
    ("Accounts payable", "Accounts payable", true, N),
    ("/finance", "finance", false, N),
    ("e\u{301}", "\u{e9}", false, N),
    (
        "Юникод/+",
        "Юникод/åäö",
        true,
        "v5 [MQTT-4.7.3-4]: multi-byte (rumqttc panics)",
    ),
    ("+/åäö", "Юникод/åäö", true, N),
    ("€/#", "€", true, N),
    ("a/b", "a/b", true, N),
    ("a/b", "a/b/", false, N),
    ("a/b/", "a/b", false, N),
    ("a//b", "a/b", false, N),
];

/// v5 [MQTT-4.7.1-1] / v3.1.1 [MQTT-4.7.1-2], examples of v5 §4.7.1.2.
const H: &str = "v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]";
/// v5 [MQTT-4.7.1-2] / v3.1.1 [MQTT-4.7.1-3], examples of v5 §4.7.1.3.
const P: &str = "v5 [MQTT-4.7.1-2], v3.1.1 [MQTT-4.7.1-3]";
/// v5 [MQTT-4.7.2-1] / v3.1.1 [MQTT-4.7.2-1], examples of v5 §4.7.2.
const D: &str = "v5 [MQTT-4.7.2-1], v3.1.1 [MQTT-4.7.2-1]";
/// v5 [MQTT-4.7.3-4] / v3.1.1 [MQTT-4.7.3-4], examples of v5 §4.7.3.
const N: &str = "v5 [MQTT-4.7.3-4], v3.1.1 [MQTT-4.7.3-4]";

/// The table, checked by `matches`, by the owned methods, by the subscription index and
/// by the retained index.
///
/// v5 [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.2-1] [MQTT-4.7.3-4];
/// v3.1.1 [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] [MQTT-4.7.3-4]
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
///
/// v5 [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.2-1]
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
        // `/#` cannot match its parent, the empty string, which is no topic name.
        ("+/+/#", "/#", true),
        ("/+/#", "/#", true),
        ("+/+/#", "a/#", false),
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
