//! Validation of topic names, topic filters and shared subscriptions, rule by rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![allow(missing_docs)]

use bytes::Bytes;
use mqttkit_topic::{
    MAX_TOPIC_LEN, SharedSubscription, SharedSubscriptionRef, TopicError, TopicFilter,
    TopicFilterRef, TopicName, TopicNameRef,
};
use proptest::prelude::*;

fn name(s: &str) -> Result<TopicName, TopicError> {
    let owned = TopicName::try_from(s);
    // Every constructor must agree.
    assert_eq!(TopicNameRef::new(s).map(|n| n.to_owned_name()), owned);
    assert_eq!(
        TopicName::from_bytes(Bytes::copy_from_slice(s.as_bytes())),
        owned
    );
    assert_eq!(TopicName::try_from(s.to_owned()), owned);
    assert_eq!(s.parse::<TopicName>(), owned);
    owned
}

fn filter(s: &str) -> Result<TopicFilter, TopicError> {
    let owned = TopicFilter::try_from(s);
    assert_eq!(TopicFilterRef::new(s).map(|f| f.to_owned_filter()), owned);
    assert_eq!(
        TopicFilter::from_bytes(Bytes::copy_from_slice(s.as_bytes())),
        owned
    );
    assert_eq!(TopicFilter::try_from(s.to_owned()), owned);
    assert_eq!(s.parse::<TopicFilter>(), owned);
    owned
}

/// v5 [MQTT-4.7.3-1], v3.1.1 [MQTT-4.7.3-1]
#[test]
fn v5_mqtt_4_7_3_1_empty_is_refused() {
    assert_eq!(name(""), Err(TopicError::Empty));
    assert_eq!(filter(""), Err(TopicError::Empty));
}

/// v5 [MQTT-4.7.3-3], v3.1.1 [MQTT-4.7.3-3]
#[test]
fn v5_mqtt_4_7_3_3_length_limit() {
    let max = "a".repeat(MAX_TOPIC_LEN);
    let over = "a".repeat(MAX_TOPIC_LEN + 1);
    assert_eq!(name(&max).unwrap().len(), 65_535);
    assert_eq!(filter(&max).unwrap().len(), 65_535);
    assert_eq!(name(&over), Err(TopicError::TooLong));
    assert_eq!(filter(&over), Err(TopicError::TooLong));
    // The limit counts bytes, not characters: 21,845 three-byte characters = 65,535.
    let wide = "€".repeat(21_845);
    assert!(name(&wide).is_ok());
    assert_eq!(name(&format!("{wide}a")), Err(TopicError::TooLong));
}

/// v5 [MQTT-4.7.3-2] [MQTT-1.5.4-2], v3.1.1 [MQTT-4.7.3-2] [MQTT-1.5.3-2]
#[test]
fn v5_mqtt_4_7_3_2_null_character_is_refused() {
    for s in ["\0", "a\0", "a/\0/b", "\0/#"] {
        assert_eq!(name(s), Err(TopicError::NullCharacter), "{s:?}");
        assert_eq!(filter(s), Err(TopicError::NullCharacter), "{s:?}");
    }
}

/// v5 [MQTT-1.5.4-1], v3.1.1 [MQTT-1.5.3-1]
#[test]
fn v5_mqtt_1_5_4_1_invalid_utf8_is_refused() {
    let cases: [&[u8]; 6] = [
        b"\xff",
        b"a/\xc3",             // truncated two-byte sequence
        b"\xed\xa0\x80",       // U+D800, an encoded surrogate
        b"a/\xed\xbf\xbf",     // U+DFFF
        b"\xc0\xaf",           // overlong '/'
        b"\xf4\x90\x80\x80/a", // above U+10FFFF
    ];
    for bytes in cases {
        let b = Bytes::from_static(bytes);
        assert_eq!(
            TopicName::from_bytes(b.clone()),
            Err(TopicError::InvalidUtf8)
        );
        assert_eq!(TopicFilter::from_bytes(b), Err(TopicError::InvalidUtf8));
        assert_eq!(
            TopicNameRef::from_slice(bytes),
            Err(TopicError::InvalidUtf8)
        );
        assert_eq!(
            TopicFilterRef::from_slice(bytes),
            Err(TopicError::InvalidUtf8)
        );
    }
}

/// v5 [MQTT-1.5.4-3]: U+FEFF is an ordinary character, kept as is.
#[test]
fn v5_mqtt_1_5_4_3_bom_is_kept() {
    let n = name("\u{feff}a").unwrap();
    assert_eq!(n.as_bytes(), b"\xef\xbb\xbfa");
}

/// Multi-byte UTF-8 is ordinary text, including as a first character.
#[test]
fn multi_byte_utf8_is_accepted() {
    for s in ["Юникод/åäö", "日本/東京", "😀", "$€/x"] {
        assert_eq!(name(s).unwrap().as_str(), s);
        assert_eq!(filter(s).unwrap().as_str(), s);
    }
    assert_eq!(filter("Юникод/+/#").unwrap().as_str(), "Юникод/+/#");
}

/// v5 [MQTT-3.3.2-2] [MQTT-4.7.0-1], v3.1.1 [MQTT-3.3.2-2] [MQTT-4.7.1-1]
#[test]
fn v5_mqtt_3_3_2_2_and_4_7_0_1_no_wildcards_in_names() {
    for s in ["+", "#", "a/+", "a/#", "a+", "a#b", "+/a", "sport/tennis/#"] {
        assert_eq!(name(s), Err(TopicError::WildcardInTopicName), "{s:?}");
    }
}

/// v5 [MQTT-4.7.1-2], v3.1.1 [MQTT-4.7.1-3]
#[test]
fn v5_mqtt_4_7_1_2_plus_occupies_a_whole_level() {
    for s in ["+", "+/", "/+", "+/+", "a/+/b", "+/#", "a//+", "+//+"] {
        assert!(filter(s).is_ok(), "{s:?}");
    }
    for s in ["a+", "+a", "a/b+", "a/+b/c", "++", "+#", "sport+"] {
        assert_eq!(filter(s), Err(TopicError::PlusNotWholeLevel), "{s:?}");
    }
}

/// v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]
#[test]
fn v5_mqtt_4_7_1_1_hash_is_the_whole_last_level() {
    for s in ["#", "/#", "a/#", "a//#", "+/#", "sport/tennis/player1/#"] {
        assert!(filter(s).is_ok(), "{s:?}");
    }
    for s in [
        "a/#/b",
        "#/",
        "#/a",
        "a/b#",
        "a#",
        "#a",
        "##",
        "sport/tennis#",
        "a/#b",
    ] {
        assert_eq!(filter(s), Err(TopicError::HashNotWholeLastLevel), "{s:?}");
    }
}

/// Empty levels and separators are ordinary (§4.7.1.1: "Topic level separators ...
/// adjacent Topic level separators indicate a zero-length topic level").
#[test]
fn empty_levels_and_leading_separator() {
    for s in ["/", "//", "a//b", "/a", "a/", "///"] {
        assert!(name(s).is_ok(), "{s:?}");
        assert!(filter(s).is_ok(), "{s:?}");
    }
    assert_eq!(name("/a").unwrap().levels().collect::<Vec<_>>(), ["", "a"]);
    assert_eq!(
        name("a//b").unwrap().levels().collect::<Vec<_>>(),
        ["a", "", "b"]
    );
    assert_eq!(name("/").unwrap().levels().count(), 2);
    assert_eq!(
        filter("a/+/#").unwrap().levels().collect::<Vec<_>>(),
        ["a", "+", "#"]
    );
}

/// v5 [MQTT-4.7.2-1]: `$` marks the first level only.
#[test]
fn v5_mqtt_4_7_2_1_is_dollar() {
    assert!(name("$SYS/uptime").unwrap().is_dollar());
    assert!(name("$").unwrap().is_dollar());
    assert!(!name("a/$b").unwrap().is_dollar());
    assert!(!name("/$SYS").unwrap().is_dollar());
    assert!(filter("$SYS/#").unwrap().is_dollar());
    assert!(!filter("+/$x").unwrap().is_dollar());
    assert!(TopicNameRef::new("$x").unwrap().is_dollar());
}

#[test]
fn has_wildcards() {
    assert!(!filter("a/b").unwrap().has_wildcards());
    assert!(filter("a/+").unwrap().has_wildcards());
    assert!(filter("#").unwrap().has_wildcards());
    assert!(TopicFilterRef::new("a/#").unwrap().has_wildcards());
}

#[test]
fn zero_copy_and_conversions() {
    let bytes = Bytes::from_static(b"xx/a/b/yy");
    let inner = bytes.slice(3..6);
    let n = TopicName::from_bytes(inner.clone()).unwrap();
    assert_eq!(n.as_bytes().as_ptr(), inner.as_ptr());
    assert_eq!(n.clone().into_bytes(), inner);
    assert_eq!(n.as_topic_ref().as_str(), "a/b");
    assert_eq!(n.to_string(), "a/b");
    assert_eq!(format!("{n:?}"), "TopicName(\"a/b\")");
    assert_eq!(AsRef::<str>::as_ref(&n), "a/b");
    let f = TopicFilter::from_static("a/+").unwrap();
    assert_eq!(format!("{f:?}"), "TopicFilter(\"a/+\")");
    assert_eq!(f.as_filter_ref().as_str(), "a/+");
    assert_eq!(
        TopicNameRef::new("a/b").unwrap().as_filter_ref().as_str(),
        "a/b"
    );
}

#[test]
fn errors_name_their_rule() {
    assert_eq!(
        TopicError::WildcardInTopicName.to_string(),
        "topic name contains a wildcard character, v5 [MQTT-3.3.2-2] [MQTT-4.7.0-1], \
         v3.1.1 [MQTT-3.3.2-2] [MQTT-4.7.1-1]"
    );
    let all = [
        TopicError::Empty,
        TopicError::TooLong,
        TopicError::NullCharacter,
        TopicError::InvalidUtf8,
        TopicError::WildcardInTopicName,
        TopicError::PlusNotWholeLevel,
        TopicError::HashNotWholeLastLevel,
        TopicError::EmptyShareName,
        TopicError::InvalidShareName,
        TopicError::EmptySharedFilter,
    ];
    for e in all {
        assert!(e.to_string().ends_with(e.rule()), "{e:?}");
        assert!(e.rule().starts_with("v5 [MQTT-"), "{e:?}");
    }
}

fn shared(s: &str) -> Result<Option<(String, String)>, TopicError> {
    let f = TopicFilter::try_from(s).unwrap();
    let owned = SharedSubscription::parse(&f)
        .map(|o| o.map(|s| (s.share_name().to_owned(), s.filter().as_str().to_owned())));
    let borrowed = SharedSubscriptionRef::parse(f.as_filter_ref())
        .map(|o| o.map(|s| (s.share_name().to_owned(), s.filter().as_str().to_owned())));
    assert_eq!(owned, borrowed, "{s:?}");
    owned
}

/// v5 [MQTT-4.8.2-1] [MQTT-4.8.2-2]: valid shared subscriptions.
#[test]
fn v5_mqtt_4_8_2_1_shared_subscription_parts() {
    let ok = |s: &str, g: &str, f: &str| {
        assert_eq!(shared(s), Ok(Some((g.to_owned(), f.to_owned()))), "{s:?}");
    };
    ok("$share/g/a/b", "g", "a/b");
    ok("$share/g/#", "g", "#");
    ok("$share/g/+/x", "g", "+/x");
    ok("$share/g//", "g", "/");
    ok("$share/g//a", "g", "/a");
    ok("$share/gruppe€/$SYS/#", "gruppe€", "$SYS/#");
    ok("$share/g/$share/t", "g", "$share/t");
}

/// Filters that only look like shared subscriptions are ordinary filters.
#[test]
fn not_shared_subscriptions() {
    for s in [
        "$share",
        "$sharex/a",
        "$SHARE/g/a",
        "share/g/a",
        "a/$share/g/b",
        "#",
        "+/g/a",
    ] {
        assert_eq!(shared(s), Ok(None), "{s:?}");
    }
}

/// v5 [MQTT-4.8.2-1]: the ShareName is at least one character long.
#[test]
fn v5_mqtt_4_8_2_1_empty_share_name() {
    assert_eq!(shared("$share/"), Err(TopicError::EmptyShareName));
    assert_eq!(shared("$share//a"), Err(TopicError::EmptyShareName));
    assert_eq!(shared("$share//#"), Err(TopicError::EmptyShareName));
}

/// v5 [MQTT-4.8.2-2]: no '+' or '#' in the ShareName; a '/' and a filter follow it.
#[test]
fn v5_mqtt_4_8_2_2_share_name_and_filter() {
    assert_eq!(shared("$share/+/a"), Err(TopicError::InvalidShareName));
    assert_eq!(shared("$share/#"), Err(TopicError::InvalidShareName));
    assert_eq!(shared("$share/g"), Err(TopicError::EmptySharedFilter));
    assert_eq!(shared("$share/g/"), Err(TopicError::EmptySharedFilter));
}

#[test]
fn shared_subscription_is_zero_copy() {
    let f = TopicFilter::from_static("$share/g/a/+").unwrap();
    let s = SharedSubscription::parse(&f).unwrap().unwrap();
    assert_eq!(s.filter().as_bytes().as_ptr(), f.as_bytes()[9..].as_ptr());
    assert_eq!(s.share_name().as_ptr(), f.as_bytes()[7..].as_ptr());
    assert_eq!(s.as_shared_ref().share_name(), "g");
}

/// The rules written the slow, obvious way: split into levels, look at each.
fn reference(s: &[u8], is_filter: bool) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > 65_535 {
        return Err(TopicError::TooLong);
    }
    let text = std::str::from_utf8(s).map_err(|_| TopicError::InvalidUtf8)?;
    let levels: Vec<&str> = text.split('/').collect();
    // The first offending character decides which error is reported.
    for (i, level) in levels.iter().enumerate() {
        for c in level.chars() {
            match c {
                '\0' => return Err(TopicError::NullCharacter),
                '+' | '#' if !is_filter => return Err(TopicError::WildcardInTopicName),
                '+' if *level != "+" => return Err(TopicError::PlusNotWholeLevel),
                '#' if *level != "#" || i + 1 != levels.len() => {
                    return Err(TopicError::HashNotWholeLastLevel);
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn topic_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => Just(b"a".to_vec()),
        2 => Just(b"/".to_vec()),
        2 => Just(b"+".to_vec()),
        2 => Just(b"#".to_vec()),
        1 => Just(b"$".to_vec()),
        1 => Just(b"\0".to_vec()),
        1 => Just("é".as_bytes().to_vec()),
        1 => Just(b"\xed\xa0\x80".to_vec()),
        1 => Just(b"\xc3".to_vec()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn validation_agrees_with_reference(bytes in topic_bytes()) {
        let b = Bytes::from(bytes.clone());
        prop_assert_eq!(TopicName::from_bytes(b.clone()).map(|_| ()), reference(&bytes, false));
        prop_assert_eq!(TopicFilter::from_bytes(b).map(|_| ()), reference(&bytes, true));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let b = Bytes::from(bytes.clone());
        prop_assert_eq!(TopicName::from_bytes(b.clone()).map(|_| ()), reference(&bytes, false));
        if let Ok(f) = TopicFilter::from_bytes(b) {
            let _ = SharedSubscription::parse(&f);
        }
    }
}
