//! Topic matching, subscription churn, retained lookup and memory per subscription:
//! `mqttkit-topic` side by side with `mqtt-topic-engine` 0.2.1 and rmqtt 0.24.0's trie.
//!
//! Workloads: W1 EMQX run1 shape, W2 exact heavy, W3 dense wildcards, W4 misses, W5
//! deep topics, W6 `$SYS` and shared, W7 concurrent readers, W8 churn, W9 retained by
//! filter. Before any timing, every implementation's match set is compared on sample
//! topics; a mismatch aborts the run.
//! Heap bytes per subscription are measured with a counting global allocator and
//! printed as `MEMORY ...` lines.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::alloc::System;
use std::hint::black_box;
use std::str::FromStr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mqttkit_topic::{
    RetainedIndex, SharedSubscriptionRef, SubscriptionIndex, SubscriptionOptions, TopicFilter,
    TopicFilterRef, TopicName, TopicNameRef,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated through the global allocator. (`stats_alloc` already
/// adds a growing `realloc` to `bytes_allocated` and a shrinking one to
/// `bytes_deallocated`; `bytes_reallocated` is the same change again.)
fn heap_now() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// A small deterministic generator (64-bit LCG), so runs are comparable.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % u64::from(bound)) as u32
    }
}

// ---------------------------------------------------------------- implementations

/// What every implementation under test offers.
trait Impl: Sized {
    const NAME: &'static str;
    type Topic;
    /// Builds an index; the value of each subscription is its position in `filters`.
    fn build(filters: &[String]) -> Self;
    fn prep(topic: &str) -> Self::Topic;
    /// Number of matching subscriptions.
    fn count(&self, topic: &Self::Topic) -> usize;
    /// The matching values, sorted.
    fn set(&self, topic: &Self::Topic) -> Vec<u32>;
    /// Number of matching subscriptions for a topic that arrives as text, parse
    /// (or validation) included: what a broker pays per PUBLISH.
    fn count_str(&self, topic: &str) -> usize {
        self.count(&Self::prep(topic))
    }
}

struct Ours(SubscriptionIndex<u32>);

impl Impl for Ours {
    const NAME: &'static str = "mqttkit-topic";
    type Topic = TopicName;
    fn build(filters: &[String]) -> Self {
        let mut index = SubscriptionIndex::new();
        for (i, f) in filters.iter().enumerate() {
            let filter = TopicFilterRef::new(f).unwrap();
            let options = SubscriptionOptions::default();
            // As a v5 broker does: `$share/{group}/...` joins a group.
            match SharedSubscriptionRef::parse(filter).unwrap() {
                Some(shared) => index.subscribe_shared(shared, i as u32, options),
                None => index.subscribe(filter, i as u32, options),
            }
            .unwrap();
        }
        Self(index)
    }
    fn prep(topic: &str) -> TopicName {
        TopicName::try_from(topic).unwrap()
    }
    fn count(&self, topic: &TopicName) -> usize {
        let mut n = 0;
        self.0.match_name(topic, |m| {
            black_box(m);
            n += 1;
        });
        n
    }
    fn count_str(&self, topic: &str) -> usize {
        // Validation is what the codec does anyway; it borrows, so nothing is copied.
        let mut n = 0;
        self.0.match_topic(TopicNameRef::new(topic).unwrap(), |m| {
            black_box(m);
            n += 1;
        });
        n
    }
    fn set(&self, topic: &TopicName) -> Vec<u32> {
        let mut v = Vec::new();
        self.0.match_name(topic, |m| match m {
            mqttkit_topic::Matched::Subscriber { key, .. } => v.push(*key),
            mqttkit_topic::Matched::Shared(group) => v.extend(group.members().map(|(k, _)| *k)),
        });
        v.sort_unstable();
        v
    }
}

struct Engine(mqtt_topic_engine::TopicRouter<u32>);

impl Impl for Engine {
    const NAME: &'static str = "mqtt-topic-engine 0.2.1";
    type Topic = mqtt_topic_engine::TopicPath;
    fn build(filters: &[String]) -> Self {
        let mut router = mqtt_topic_engine::TopicRouter::new();
        for (i, f) in filters.iter().enumerate() {
            let pattern = mqtt_topic_engine::TopicPatternPath::try_from(f.as_str()).unwrap();
            router.add_subscription(pattern, mqtt_topic_engine::QoS::AtMostOnce, i as u32);
        }
        Self(router)
    }
    fn prep(topic: &str) -> Self::Topic {
        mqtt_topic_engine::TopicPath::new(topic.to_owned()).unwrap()
    }
    fn count(&self, topic: &Self::Topic) -> usize {
        self.0.get_subscribers(topic).len()
    }
    fn set(&self, topic: &Self::Topic) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .0
            .get_subscribers(topic)
            .iter()
            .map(|(_, _, x)| **x)
            .collect();
        v.sort_unstable();
        v
    }
}

struct Rmqtt(rmqtt::trie::TopicTree<u32>);

impl Impl for Rmqtt {
    const NAME: &'static str = "rmqtt 0.24.0 trie";
    type Topic = rmqtt::topic::Topic;
    fn build(filters: &[String]) -> Self {
        let mut tree = rmqtt::trie::TopicTree::default();
        for (i, f) in filters.iter().enumerate() {
            tree.insert(&rmqtt::topic::Topic::from_str(f).unwrap(), i as u32);
        }
        Self(tree)
    }
    fn prep(topic: &str) -> Self::Topic {
        rmqtt::topic::Topic::from_str(topic).unwrap()
    }
    fn count(&self, topic: &Self::Topic) -> usize {
        self.0
            .matches(topic)
            .iter()
            .map(|(_, values)| values.len())
            .sum()
    }
    fn set(&self, topic: &Self::Topic) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .0
            .matches(topic)
            .iter()
            .flat_map(|(_, values)| values.into_iter().copied())
            .collect();
        v.sort_unstable();
        v
    }
}

// ---------------------------------------------------------------- workloads

/// W1, EMQX `emqx_broker_bench:run1`: 80 ids x 1,000 nums of `device/{id}/+/{num}/#`.
fn w1_filters() -> Vec<String> {
    let mut v = Vec::with_capacity(80_000);
    for id in 0..80 {
        for num in 0..1000 {
            v.push(format!("device/{id}/+/{num}/#"));
        }
    }
    v
}

fn w1_topics(n: usize) -> Vec<String> {
    let mut rng = Lcg(1);
    (0..n)
        .map(|_| {
            format!(
                "device/{}/foo/{}/bar/1/2/3/4/5",
                rng.next(80),
                rng.next(1000)
            )
        })
        .collect()
}

/// W2: 100,000 exact `site/{s}/dev/{i}/temp` + 1,000 wildcard subscriptions on 100
/// distinct `site/{s}/dev/+/temp` filters (10 each).
fn w2_filters() -> Vec<String> {
    let mut v = Vec::with_capacity(101_000);
    for s in 0..100 {
        for i in 0..1000 {
            v.push(format!("site/{s}/dev/{i}/temp"));
        }
    }
    for _ in 0..10 {
        for s in 0..100 {
            v.push(format!("site/{s}/dev/+/temp"));
        }
    }
    v
}

fn w2_topics(n: usize) -> Vec<String> {
    let mut rng = Lcg(2);
    (0..n)
        .map(|_| format!("site/{}/dev/{}/temp", rng.next(100), rng.next(1000)))
        .collect()
}

const TOPICS_PER_ITER: usize = 1000;

/// Builds an implementation, measuring its heap bytes per subscription.
fn build_measured<I: Impl>(workload: &str, filters: &[String]) -> I {
    let before = heap_now();
    let index = I::build(filters);
    let bytes = heap_now() - before;
    println!(
        "MEMORY workload={workload} impl={} subscriptions={} heap_bytes={bytes} bytes_per_subscription={:.1}",
        I::NAME,
        filters.len(),
        bytes as f64 / filters.len() as f64
    );
    index
}

/// Fails the run unless all three implementations agree on every sample topic.
fn check_same(name: &str, ours: &Ours, engine: &Engine, rmqtt: &Rmqtt, topics: &[String]) {
    let mut hits = 0;
    for t in topics {
        let a = ours.set(&Ours::prep(t));
        let b = engine.set(&Engine::prep(t));
        let c = rmqtt.set(&Rmqtt::prep(t));
        assert_eq!(
            a, b,
            "{name}: mqttkit-topic and mqtt-topic-engine differ on {t}"
        );
        assert_eq!(a, c, "{name}: mqttkit-topic and rmqtt differ on {t}");
        hits += a.len();
    }
    println!(
        "CHECK workload={name} topics={} identical_match_sets=true hits={hits}",
        topics.len()
    );
}

/// Counts the heap allocations of matching `topics` (prepared beforehand,
/// as in the timed loops) and prints them as an `ALLOCS` line.
fn allocs_per_match<I: Impl>(workload: &str, index: &I, topics: &[String]) {
    let prepared: Vec<I::Topic> = topics.iter().map(|t| I::prep(t)).collect();
    let region = Region::new(GLOBAL);
    let mut n = 0;
    for t in &prepared {
        n += index.count(t);
    }
    black_box(n);
    let change = region.change();
    println!(
        "ALLOCS workload={workload} impl={} topics={} allocations_per_match={:.2} bytes_per_match={:.1}",
        I::NAME,
        prepared.len(),
        change.allocations as f64 / prepared.len() as f64,
        change.bytes_allocated as f64 / prepared.len() as f64
    );
}

/// [`allocs_per_match`] for the three implementations.
fn allocs_all(workload: &str, ours: &Ours, engine: &Engine, rmqtt: &Rmqtt, topics: &[String]) {
    allocs_per_match(workload, ours, topics);
    allocs_per_match(workload, engine, topics);
    allocs_per_match(workload, rmqtt, topics);
}

fn bench_matches<I: Impl>(c: &mut Criterion, group: &str, index: &I, topics: &[String]) {
    let prepared: Vec<I::Topic> = topics.iter().map(|t| I::prep(t)).collect();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(prepared.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(I::NAME), |b| {
        b.iter(|| {
            let mut n = 0;
            for t in &prepared {
                n += index.count(t);
            }
            black_box(n)
        });
    });
    g.finish();
}

/// As [`bench_matches`], with each topic parsed from text inside the timed loop.
fn bench_matches_from_str<I: Impl>(c: &mut Criterion, group: &str, index: &I, topics: &[String]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(topics.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(I::NAME), |b| {
        b.iter(|| {
            let mut n = 0;
            for t in topics {
                n += index.count_str(t);
            }
            black_box(n)
        });
    });
    g.finish();
}

fn matching(c: &mut Criterion) {
    // W1
    let filters = w1_filters();
    let ours = build_measured::<Ours>("w1-emqx-80k", &filters);
    let engine = build_measured::<Engine>("w1-emqx-80k", &filters);
    let rmqtt = build_measured::<Rmqtt>("w1-emqx-80k", &filters);
    let topics = w1_topics(TOPICS_PER_ITER);
    check_same("w1-emqx-80k", &ours, &engine, &rmqtt, &topics);
    let mut rng = Lcg(3);
    let miss_first: Vec<String> = (0..TOPICS_PER_ITER)
        .map(|i| format!("nothing/{i}/foo/1/bar"))
        .collect();
    let miss_deep: Vec<String> = (0..TOPICS_PER_ITER)
        .map(|_| {
            format!(
                "device/{}/foo/{}/bar/1",
                rng.next(80),
                1000 + rng.next(1000)
            )
        })
        .collect();
    check_same("w4-miss-first-level", &ours, &engine, &rmqtt, &miss_first);
    check_same("w4-miss-deep", &ours, &engine, &rmqtt, &miss_deep);
    allocs_all("w1-emqx-80k", &ours, &engine, &rmqtt, &topics);
    allocs_all("w4-miss-deep", &ours, &engine, &rmqtt, &miss_deep);
    bench_matches(c, "w1_emqx_80k_match", &ours, &topics);
    bench_matches(c, "w1_emqx_80k_match", &engine, &topics);
    bench_matches(c, "w1_emqx_80k_match", &rmqtt, &topics);
    bench_matches_from_str(c, "w1_emqx_80k_match_from_str", &ours, &topics);
    bench_matches_from_str(c, "w1_emqx_80k_match_from_str", &engine, &topics);
    bench_matches_from_str(c, "w1_emqx_80k_match_from_str", &rmqtt, &topics);
    bench_matches(c, "w4_miss_first_level_w1", &ours, &miss_first);
    bench_matches(c, "w4_miss_first_level_w1", &engine, &miss_first);
    bench_matches(c, "w4_miss_first_level_w1", &rmqtt, &miss_first);
    bench_matches(c, "w4_miss_deep_w1", &ours, &miss_deep);
    bench_matches(c, "w4_miss_deep_w1", &engine, &miss_deep);
    bench_matches(c, "w4_miss_deep_w1", &rmqtt, &miss_deep);
    bench_matches_from_str(c, "w4_miss_deep_w1_from_str", &ours, &miss_deep);
    bench_matches_from_str(c, "w4_miss_deep_w1_from_str", &engine, &miss_deep);
    bench_matches_from_str(c, "w4_miss_deep_w1_from_str", &rmqtt, &miss_deep);
    drop((ours, engine, rmqtt));

    // W2
    let filters = w2_filters();
    let ours = build_measured::<Ours>("w2-exact-100k+1k", &filters);
    let engine = build_measured::<Engine>("w2-exact-100k+1k", &filters);
    let rmqtt = build_measured::<Rmqtt>("w2-exact-100k+1k", &filters);
    let topics = w2_topics(TOPICS_PER_ITER);
    check_same("w2-exact-100k+1k", &ours, &engine, &rmqtt, &topics);
    let mut rng = Lcg(4);
    let miss: Vec<String> = (0..TOPICS_PER_ITER)
        .map(|_| format!("site/{}/dev/{}/humidity", rng.next(100), rng.next(1000)))
        .collect();
    check_same("w4-miss-w2", &ours, &engine, &rmqtt, &miss);
    allocs_all("w2-exact-100k+1k", &ours, &engine, &rmqtt, &topics);
    bench_matches(c, "w2_exact_100k_wild_1k_match", &ours, &topics);
    bench_matches(c, "w2_exact_100k_wild_1k_match", &engine, &topics);
    bench_matches(c, "w2_exact_100k_wild_1k_match", &rmqtt, &topics);
    bench_matches_from_str(c, "w2_exact_100k_wild_1k_match_from_str", &ours, &topics);
    bench_matches_from_str(c, "w2_exact_100k_wild_1k_match_from_str", &engine, &topics);
    bench_matches_from_str(c, "w2_exact_100k_wild_1k_match_from_str", &rmqtt, &topics);
    bench_matches(c, "w4_miss_last_level_w2", &ours, &miss);
    bench_matches(c, "w4_miss_last_level_w2", &engine, &miss);
    bench_matches(c, "w4_miss_last_level_w2", &rmqtt, &miss);

    // W8 churn: on the W2 index, subscribe then unsubscribe 1,000 filters not in it
    // (half exact, half wildcard); one element = one subscribe + one unsubscribe.
    let churn: Vec<String> = (0..TOPICS_PER_ITER)
        .map(|i| {
            if i % 2 == 0 {
                format!("site/{}/dev/{}/pressure", i % 100, i)
            } else {
                format!("site/{}/+/{}/#", i % 100, i)
            }
        })
        .collect();
    let mut g = c.benchmark_group("w8_churn_subscribe_unsubscribe_on_w2");
    g.throughput(Throughput::Elements(churn.len() as u64));
    let mut ours = ours;
    let churn_filters: Vec<TopicFilter> = churn
        .iter()
        .map(|f| TopicFilter::try_from(f.as_str()).unwrap())
        .collect();
    g.bench_function(BenchmarkId::from_parameter(Ours::NAME), |b| {
        b.iter(|| {
            for (i, f) in churn_filters.iter().enumerate() {
                ours.0
                    .subscribe(
                        f.as_filter_ref(),
                        1_000_000 + i as u32,
                        SubscriptionOptions::default(),
                    )
                    .unwrap();
            }
            for (i, f) in churn_filters.iter().enumerate() {
                ours.0
                    .unsubscribe(f.as_filter_ref(), &(1_000_000 + i as u32))
                    .unwrap();
            }
        });
    });
    let mut engine = engine;
    let engine_filters: Vec<mqtt_topic_engine::TopicPatternPath> = churn
        .iter()
        .map(|f| mqtt_topic_engine::TopicPatternPath::try_from(f.as_str()).unwrap())
        .collect();
    g.bench_function(BenchmarkId::from_parameter(Engine::NAME), |b| {
        b.iter(|| {
            let mut ids = Vec::with_capacity(engine_filters.len());
            for (i, f) in engine_filters.iter().enumerate() {
                let (_, id) = engine.0.add_subscription(
                    f.clone(),
                    mqtt_topic_engine::QoS::AtMostOnce,
                    1_000_000 + i as u32,
                );
                ids.push(id);
            }
            for id in &ids {
                engine.0.unsubscribe(id).unwrap();
            }
        });
    });
    let mut rmqtt = rmqtt;
    let rmqtt_filters: Vec<rmqtt::topic::Topic> = churn
        .iter()
        .map(|f| rmqtt::topic::Topic::from_str(f).unwrap())
        .collect();
    g.bench_function(BenchmarkId::from_parameter(Rmqtt::NAME), |b| {
        b.iter(|| {
            for (i, f) in rmqtt_filters.iter().enumerate() {
                rmqtt.0.insert(f, 1_000_000 + i as u32);
            }
            for (i, f) in rmqtt_filters.iter().enumerate() {
                assert!(rmqtt.0.remove(f, &(1_000_000 + i as u32)));
            }
        });
    });
    g.finish();
    // Churn must leave the indexes as they were.
    check_same("w2-after-churn", &ours, &engine, &rmqtt, &topics);
}

/// W9: 100,000 retained topics (the W2 names) + 1,000 `$SYS/...`, looked up by filter.
fn retained(c: &mut Criterion) {
    let mut names: Vec<String> = Vec::with_capacity(101_000);
    for s in 0..100 {
        for i in 0..1000 {
            names.push(format!("site/{s}/dev/{i}/temp"));
        }
    }
    for i in 0..1000 {
        names.push(format!("$SYS/broker/{i}"));
    }
    let topic_names: Vec<TopicName> = names
        .iter()
        .map(|n| TopicName::try_from(n.as_str()).unwrap())
        .collect();
    let rmqtt_topics: Vec<rmqtt::topic::Topic> = names
        .iter()
        .map(|n| rmqtt::topic::Topic::from_str(n).unwrap())
        .collect();

    let before = heap_now();
    let mut ours = RetainedIndex::new();
    for (i, t) in topic_names.iter().enumerate() {
        ours.insert(t.clone(), i as u32).unwrap();
    }
    let bytes = heap_now() - before;
    println!(
        "MEMORY workload=w9-retained-101k impl=mqttkit-topic retained={} heap_bytes={bytes} bytes_per_topic={:.1}",
        names.len(),
        bytes as f64 / names.len() as f64
    );
    let before = heap_now();
    let mut theirs: rmqtt::retain::RetainTree<u32> = rmqtt::retain::RetainTree::default();
    for (i, t) in rmqtt_topics.iter().enumerate() {
        theirs.insert(t, i as u32);
    }
    let bytes = heap_now() - before;
    println!(
        "MEMORY workload=w9-retained-101k impl=rmqtt-0.24.0-retain retained={} heap_bytes={bytes} bytes_per_topic={:.1}",
        names.len(),
        bytes as f64 / names.len() as f64
    );

    let queries = [
        "site/7/dev/42/temp",
        "site/7/dev/+/temp",
        "site/+/dev/42/#",
        "$SYS/#",
        "+/+/dev/999/temp",
    ];
    for q in queries {
        let filter = TopicFilterRef::new(q).unwrap();
        let mut a = Vec::new();
        ours.match_filter(filter, |_, v| a.push(*v));
        a.sort_unstable();
        let rq = rmqtt::topic::Topic::from_str(q).unwrap();
        let mut b: Vec<u32> = theirs.matches(&rq).into_iter().map(|(_, v)| v).collect();
        b.sort_unstable();
        assert_eq!(a, b, "retained {q}");
        println!(
            "CHECK workload=w9-retained query={q} identical_match_sets=true hits={}",
            a.len()
        );
        let mut g = c.benchmark_group(format!("w9_retained_by_filter/{q}"));
        g.bench_function(BenchmarkId::from_parameter("mqttkit-topic"), |bch| {
            bch.iter(|| {
                let mut n = 0u64;
                ours.match_filter(filter, |_, v| n += u64::from(*v));
                black_box(n)
            });
        });
        g.bench_function(BenchmarkId::from_parameter("rmqtt 0.24.0 retain"), |bch| {
            bch.iter(|| black_box(theirs.matches(&rq).len()));
        });
        g.finish();
    }
    // Removal gives the nodes back.
    for t in &topic_names {
        ours.remove(t.as_topic_ref()).unwrap();
    }
    assert_eq!(ours.node_count(), 1);
}

// ---------------------------------------------------------------- more shapes

/// How many of `topics` a peer answers differently from `mqttkit-topic`. A peer
/// that is wrong on a shape is reported, not timed: its time would not be for
/// the same work.
fn differing<I: Impl>(ours: &Ours, peer: &I, topics: &[String]) -> usize {
    topics
        .iter()
        .filter(|t| ours.set(&Ours::prep(t)) != peer.set(&I::prep(t)))
        .count()
}

/// Checks the peers against ours on `topics` and times every implementation
/// that agreed, printing one `CHECK` line per peer.
#[allow(clippy::too_many_arguments)]
fn check_and_bench(
    c: &mut Criterion,
    name: &str,
    group: &str,
    ours: &Ours,
    engine: &Engine,
    rmqtt: &Rmqtt,
    topics: &[String],
) {
    let hits: usize = topics.iter().map(|t| ours.count(&Ours::prep(t))).sum();
    bench_matches(c, group, ours, topics);
    let wrong = differing(ours, engine, topics);
    println!(
        "CHECK workload={name} impl={} topics={} identical_match_sets={} differing_topics={wrong} hits={hits}",
        Engine::NAME,
        topics.len(),
        wrong == 0
    );
    if wrong == 0 {
        bench_matches(c, group, engine, topics);
    }
    let wrong = differing(ours, rmqtt, topics);
    println!(
        "CHECK workload={name} impl={} topics={} identical_match_sets={} differing_topics={wrong} hits={hits}",
        Rmqtt::NAME,
        topics.len(),
        wrong == 0
    );
    if wrong == 0 {
        bench_matches(c, group, rmqtt, topics);
    }
}

/// W3, dense wildcards: 10,000 filters of 3 to 5 levels over ten level
/// names, each level `+` with probability 3/10 and a final `#` in 1 of 10,
/// so a topic matches dozens of them.
fn w3_filters() -> Vec<String> {
    let mut rng = Lcg(5);
    let mut seen = std::collections::HashSet::new();
    let mut v = Vec::with_capacity(10_000);
    while v.len() < 10_000 {
        let depth = 3 + rng.next(3);
        let mut levels: Vec<String> = (0..depth)
            .map(|_| {
                if rng.next(10) < 3 {
                    "+".to_owned()
                } else {
                    format!("l{}", rng.next(10))
                }
            })
            .collect();
        if rng.next(10) == 0 {
            levels.push("#".to_owned());
        }
        let f = levels.join("/");
        if seen.insert(f.clone()) {
            v.push(f);
        }
    }
    v
}

fn w3_topics(n: usize) -> Vec<String> {
    let mut rng = Lcg(6);
    (0..n)
        .map(|_| {
            let depth = 3 + rng.next(3);
            (0..depth)
                .map(|_| format!("l{}", rng.next(10)))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

/// W5, deep topics: 10,000 exact filters of 24 levels and 1,000 with a `+`
/// at level 12 and a `#` at level 20; topics of 24 levels.
fn w5_filters() -> Vec<String> {
    let prefix: Vec<String> = (0..22).map(|l| format!("level{l}")).collect();
    let mut v = Vec::with_capacity(11_000);
    for i in 0..10_000 {
        v.push(format!("{}/{}/leaf", prefix.join("/"), i));
    }
    for i in 0..1_000 {
        let mut levels = prefix.clone();
        levels[12] = "+".to_owned();
        levels.truncate(20);
        v.push(format!("{}/{i}/#", levels.join("/")));
    }
    v
}

fn w5_topics(n: usize) -> Vec<String> {
    let prefix: Vec<String> = (0..22).map(|l| format!("level{l}")).collect();
    let mut rng = Lcg(7);
    (0..n)
        .map(|k| {
            let mut levels = prefix.clone();
            let i = rng.next(10_000);
            // Odd topics take the wildcard path, even ones the exact one.
            if k % 2 == 1 {
                levels[12] = format!("x{}", rng.next(100));
                levels[20] = (i % 1000).to_string();
            }
            format!("{}/{i}/leaf", levels.join("/"))
        })
        .collect()
}

/// W6, `$SYS` and shared: 1,000 `$SYS/broker/{i}/#`, 1,000 `sensors/{i}/+`,
/// 1,000 `$share/g{i % 10}/sensors/{i}/+`, and the root wildcards `#` and
/// `+/+/+`, which must not match a `$` topic (v5 [MQTT-4.7.2-1]); topics
/// alternate between `$SYS/broker/{i}/load` and `sensors/{i}/temp`.
fn w6_filters() -> Vec<String> {
    let mut v = Vec::with_capacity(3_002);
    for i in 0..1000 {
        v.push(format!("$SYS/broker/{i}/#"));
        v.push(format!("sensors/{i}/+"));
        v.push(format!("$share/g{}/sensors/{i}/+", i % 10));
    }
    v.push("#".to_owned());
    v.push("+/+/+".to_owned());
    v
}

/// The W6 filters as a peer without shared subscriptions indexes them: a
/// broker strips `$share/{group}/` and keeps the group beside the value.
fn w6_filters_for_peers() -> Vec<String> {
    w6_filters()
        .into_iter()
        .map(|f| match f.strip_prefix("$share/") {
            Some(rest) => rest
                .split_once('/')
                .map_or(f.clone(), |(_, f)| f.to_owned()),
            None => f,
        })
        .collect()
}

fn w6_topics(n: usize) -> Vec<String> {
    let mut rng = Lcg(8);
    (0..n)
        .map(|k| {
            if k % 2 == 0 {
                format!("$SYS/broker/{}/load", rng.next(1000))
            } else {
                format!("sensors/{}/temp", rng.next(1000))
            }
        })
        .collect()
}

/// Counts the matches of `topics` on `threads` threads at once, each thread
/// going through all of them; the index is shared by reference.
fn concurrent_reads<I: Impl + Sync>(index: &I, prepared: &[I::Topic], threads: usize) -> usize
where
    I::Topic: Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| prepared.iter().map(|t| index.count(t)).sum::<usize>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// W7, concurrent readers: the W1 index matched by two threads at once (the
/// machine's core count), throughput per topic over both threads.
fn bench_concurrent<I: Impl + Sync>(c: &mut Criterion, index: &I, topics: &[String])
where
    I::Topic: Sync,
{
    const THREADS: usize = 2;
    let prepared: Vec<I::Topic> = topics.iter().map(|t| I::prep(t)).collect();
    let mut g = c.benchmark_group("w7_concurrent_readers_w1");
    g.throughput(Throughput::Elements((prepared.len() * THREADS) as u64));
    g.bench_function(BenchmarkId::from_parameter(I::NAME), |b| {
        b.iter(|| black_box(concurrent_reads(index, &prepared, THREADS)));
    });
    g.finish();
}

fn shapes(c: &mut Criterion) {
    let filters = w3_filters();
    let ours = build_measured::<Ours>("w3-dense-wildcards-10k", &filters);
    let engine = build_measured::<Engine>("w3-dense-wildcards-10k", &filters);
    let rmqtt = build_measured::<Rmqtt>("w3-dense-wildcards-10k", &filters);
    let topics = w3_topics(TOPICS_PER_ITER);
    check_and_bench(
        c,
        "w3-dense-wildcards-10k",
        "w3_dense_wildcards_10k_match",
        &ours,
        &engine,
        &rmqtt,
        &topics,
    );
    drop((ours, engine, rmqtt));

    let filters = w5_filters();
    let ours = build_measured::<Ours>("w5-deep-24-levels-11k", &filters);
    let engine = build_measured::<Engine>("w5-deep-24-levels-11k", &filters);
    let rmqtt = build_measured::<Rmqtt>("w5-deep-24-levels-11k", &filters);
    let topics = w5_topics(TOPICS_PER_ITER);
    check_and_bench(
        c,
        "w5-deep-24-levels-11k",
        "w5_deep_24_levels_match",
        &ours,
        &engine,
        &rmqtt,
        &topics,
    );
    drop((ours, engine, rmqtt));

    let name = "w6-sys-and-shared-3k";
    let ours = build_measured::<Ours>(name, &w6_filters());
    let peer_filters = w6_filters_for_peers();
    let engine = build_measured::<Engine>(name, &peer_filters);
    let rmqtt = build_measured::<Rmqtt>(name, &peer_filters);
    let topics = w6_topics(TOPICS_PER_ITER);
    check_and_bench(
        c,
        name,
        "w6_sys_and_shared_match",
        &ours,
        &engine,
        &rmqtt,
        &topics,
    );
    drop((ours, engine, rmqtt));

    let filters = w1_filters();
    let topics = w1_topics(TOPICS_PER_ITER);
    let ours = Ours::build(&filters);
    bench_concurrent(c, &ours, &topics);
    drop(ours);
    let engine = Engine::build(&filters);
    bench_concurrent(c, &engine, &topics);
    drop(engine);
    let rmqtt = Rmqtt::build(&filters);
    bench_concurrent(c, &rmqtt, &topics);
}

criterion_group!(benches, matching, retained, shapes);
criterion_main!(benches);
