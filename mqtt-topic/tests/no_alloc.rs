//! The match paths allocate nothing: checked with a counting global allocator.
//!
//! This file holds a single test so that no other test thread allocates while the
//! counter runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs)]

use std::alloc::System;

use mqtt_topic::{
    Matched, QoS, SharedSubscriptionRef, SubscriptionIndex, SubscriptionOptions, TopicFilterRef,
    TopicName, TopicNameRef, covers, matches,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn matching_allocates_nothing() {
    let mut index = SubscriptionIndex::new();
    let o = SubscriptionOptions::new(QoS::AtLeastOnce);
    for id in 0..50u32 {
        for num in 0..20u32 {
            let f = format!("device/{id}/+/{num}/#");
            index
                .subscribe(TopicFilterRef::new(&f).unwrap(), id * 100 + num, o)
                .unwrap();
            let e = format!("device/{id}/x/{num}");
            index
                .subscribe(TopicFilterRef::new(&e).unwrap(), id, o)
                .unwrap();
        }
    }
    for f in ["#", "+/+", "$SYS/#", "device/+/x/+"] {
        index
            .subscribe(TopicFilterRef::new(f).unwrap(), 7, o)
            .unwrap();
    }
    let shared = SharedSubscriptionRef::parse(TopicFilterRef::new("$share/g/device/#").unwrap())
        .unwrap()
        .unwrap();
    index.subscribe_shared(shared, 9, o).unwrap();

    let topics: Vec<TopicName> = [
        "device/3/foo/7/bar/1/2/3/4/5",
        "device/3/x/7",
        "$SYS/uptime",
        "nothing/here",
        "device/49/x/19",
    ]
    .iter()
    .map(|t| TopicName::try_from(*t).unwrap())
    .collect();
    let filter = TopicFilterRef::new("device/+/foo/#").unwrap();

    let region = Region::new(GLOBAL);
    let mut hits = 0usize;
    let mut members = 0usize;
    for _ in 0..100 {
        for topic in &topics {
            let topic_ref: TopicNameRef<'_> = topic.as_topic_ref();
            index.match_topic(topic_ref, |m| match m {
                Matched::Subscriber { .. } => hits += 1,
                Matched::Shared(group) => members += group.len(),
            });
            index.match_name(topic, |_| hits += 1);
            hits += usize::from(index.has_match(topic_ref));
            hits += usize::from(matches(filter, topic_ref));
            hits += usize::from(covers(filter, topic_ref.as_filter_ref()));
        }
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    assert!(hits > 0 && members > 0);
}
