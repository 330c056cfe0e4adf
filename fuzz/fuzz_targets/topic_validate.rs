//! Topic validation against a reference written from the standard's text.
//!
//! The reference works level by level on the split string, where the crate
//! scans bytes once, so the two share no code. Where an input breaks several
//! rules the crate reports the first one it meets: the reference computes the
//! set of broken rules and the crate's error must be one of them.
//!
//! `mqttkit-topic` has no matcher or index yet on this branch; when it does, a
//! differential against a brute-force matcher belongs here too.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mqttkit_topic::{
    MAX_TOPIC_LEN, SharedSubscription, SharedSubscriptionRef, TopicError, TopicFilter,
    TopicFilterRef, TopicName, TopicNameRef,
};

/// Rules that apply to names and filters alike, in the order the crate
/// documents: empty, too long, then not UTF-8.
fn string_rules(bytes: &[u8]) -> Result<&str, TopicError> {
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    std::str::from_utf8(bytes).map_err(|_| TopicError::InvalidUtf8)
}

/// Every rule a topic name breaks (§4.7.1, §4.7.3).
fn name_violations(bytes: &[u8]) -> Result<Vec<TopicError>, TopicError> {
    let text = string_rules(bytes)?;
    let mut broken = Vec::new();
    if text.contains('\0') {
        broken.push(TopicError::NullCharacter);
    }
    if text.contains(['+', '#']) {
        broken.push(TopicError::WildcardInTopicName);
    }
    Ok(broken)
}

/// Every rule a topic filter breaks (§4.7.1, §4.7.3).
fn filter_violations(bytes: &[u8]) -> Result<Vec<TopicError>, TopicError> {
    let text = string_rules(bytes)?;
    let mut broken = Vec::new();
    if text.contains('\0') {
        broken.push(TopicError::NullCharacter);
    }
    let levels: Vec<&str> = text.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('+') && *level != "+" {
            broken.push(TopicError::PlusNotWholeLevel);
        }
        let last = i + 1 == levels.len();
        if level.contains('#') && (*level != "#" || !last) {
            broken.push(TopicError::HashNotWholeLastLevel);
        }
    }
    Ok(broken)
}

/// What a valid filter is as a shared subscription (§4.8.2): `None` if it is
/// not one, else share name and filter, or the rules it breaks.
fn shared_reference(filter: &str) -> Option<Result<(&str, &str), Vec<TopicError>>> {
    let rest = filter.strip_prefix("$share/")?;
    let (name, topic_filter) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let mut broken = Vec::new();
    if name.is_empty() {
        broken.push(TopicError::EmptyShareName);
    }
    if name.contains('+') || name.contains('#') {
        broken.push(TopicError::InvalidShareName);
    }
    if topic_filter.is_empty() {
        broken.push(TopicError::EmptySharedFilter);
    }
    Some(if broken.is_empty() {
        Ok((name, topic_filter))
    } else {
        Err(broken)
    })
}

/// Checks a crate result against the reference's set of broken rules.
fn agree<T: std::fmt::Debug>(
    what: &str,
    input: &[u8],
    actual: &Result<T, TopicError>,
    expected: &Result<Vec<TopicError>, TopicError>,
) {
    match (actual, expected) {
        (Ok(_), Ok(broken)) if broken.is_empty() => {}
        (Err(e), Ok(broken)) if broken.contains(e) => {}
        (Err(e), Err(first)) if e == first => {}
        _ => panic!("{what} {input:02x?}: crate {actual:?}, reference {expected:?}"),
    }
}

fn check(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);

    let name = TopicName::from_bytes(bytes.clone());
    agree("name", data, &name, &name_violations(data));
    assert_eq!(
        TopicNameRef::from_slice(data).map(|n| n.as_bytes()),
        name.as_ref().map(TopicName::as_bytes).map_err(|e| *e),
        "borrowed and owned names disagree"
    );

    let filter = TopicFilter::from_bytes(bytes);
    agree("filter", data, &filter, &filter_violations(data));
    assert_eq!(
        TopicFilterRef::from_slice(data).map(|f| f.as_bytes()),
        filter.as_ref().map(TopicFilter::as_bytes).map_err(|e| *e),
        "borrowed and owned filters disagree"
    );

    if let Ok(name) = &name {
        // A name is a filter without wildcards, with the same levels.
        let as_filter = filter.as_ref().expect("a valid name is a valid filter");
        assert!(!as_filter.has_wildcards());
        assert_eq!(name.as_str().as_bytes(), data);
        assert_eq!(name.levels().collect::<Vec<_>>().join("/"), name.as_str());
        assert_eq!(name.len(), data.len());
        assert_eq!(name.is_dollar(), data.first() == Some(&b'$'));
        assert_eq!(name.as_topic_ref().as_filter_ref().as_str(), name.as_str());
    }

    let Ok(filter) = filter else {
        return;
    };
    let text = filter.as_str();
    assert_eq!(text.as_bytes(), data);
    assert_eq!(filter.levels().collect::<Vec<_>>().join("/"), text);
    assert_eq!(filter.has_wildcards(), text.contains(['+', '#']));
    assert_eq!(
        name.is_ok(),
        !filter.has_wildcards(),
        "a filter without wildcards is a valid name"
    );
    assert_eq!(filter.is_dollar(), text.starts_with('$'));

    let shared = SharedSubscription::parse(&filter);
    let shared_ref = SharedSubscriptionRef::parse(filter.as_filter_ref());
    match (&shared, shared_reference(text)) {
        (Ok(None), None) => assert_eq!(shared_ref, Ok(None)),
        (Ok(Some(s)), Some(Ok((name, topic_filter)))) => {
            assert_eq!(s.share_name(), name);
            assert_eq!(s.filter().as_str(), topic_filter);
            assert_eq!(shared_ref, Ok(Some(s.as_shared_ref())));
            // The part after the share name is a filter in its own right.
            assert!(TopicFilter::try_from(topic_filter).is_ok());
        }
        (Err(e), Some(Err(broken))) if broken.contains(e) => {
            assert_eq!(shared_ref, Err(*e));
        }
        (actual, expected) => {
            panic!("shared {data:02x?}: crate {actual:?}, reference {expected:?}")
        }
    }
}

fuzz_target!(
    init: {
        // Lengths around the 65,535-byte limit, which libFuzzer's input size
        // never reaches; checked once per run because each costs 64 KiB.
        for pattern in ["a", "/", "+", "#", "a/+/#", "\u{e9}", "$share/g/", "\0"] {
            for len in [MAX_TOPIC_LEN - 1, MAX_TOPIC_LEN, MAX_TOPIC_LEN + 1] {
                let long: Vec<u8> = pattern.bytes().cycle().take(len).collect();
                check(&long);
            }
        }
    },
    |data: &[u8]| check(data)
);
