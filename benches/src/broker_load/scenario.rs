//! The scenarios: each opens its connections, runs its load, and fills one
//! [`Record`]. Every one is bounded in messages; the caller bounds it in
//! time.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::conn::{self, Reader};
use super::flow::{Publisher, Received, Subscriber};
use super::procfs;
use super::record::Record;

/// The knobs of a run, from the command line.
#[derive(Debug, Clone)]
pub struct Params {
    /// The broker's MQTT listener.
    pub addr: SocketAddr,
    /// The broker's process id, for its CPU time and memory.
    pub pid: Option<String>,
    /// QoS of publishes and subscriptions.
    pub qos: u8,
    /// Messages in total (fan-in, stalled) or per publisher (fan-out).
    pub messages: u64,
    /// Connections: publishers (fan-in), subscribers (fan-out), pairs, or
    /// idle connections.
    pub connections: u32,
    /// Unacknowledged QoS 1 messages per publishing connection.
    pub window: u32,
    /// Messages published but not yet received, at most, per subscriber.
    pub outstanding: u32,
    /// Messages per second per publisher (pairs).
    pub rate: u32,
    /// Seconds of publishing (pairs).
    pub seconds: u32,
    /// The least a stalled subscriber must receive once it reads again;
    /// with it, the reading subscriber must receive every message.
    pub expect_stalled: Option<u64>,
    /// The most the stalled subscriber may slow the publisher down: its
    /// publish phase over the reading one's.
    pub max_slowdown: Option<f64>,
    /// The most resident memory the broker may reach while the subscriber
    /// is stalled, in MiB.
    pub max_rss_mib: Option<f64>,
}

/// How long a subscriber waits, once publishing is over, for messages a
/// broker may have dropped.
const IDLE: Duration = Duration::from_millis(1000);

struct Usage {
    at: Instant,
    broker: Option<Duration>,
    generator: Option<Duration>,
}

impl Usage {
    fn now(p: &Params) -> Self {
        Self {
            at: Instant::now(),
            broker: p.pid.as_deref().and_then(procfs::cpu_time),
            generator: procfs::cpu_time("self"),
        }
    }

    /// Wall time, broker and generator CPU seconds since `self`.
    fn record(&self, p: &Params, r: &mut Record) {
        let end = Usage::now(p);
        let secs = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
            _ => f64::NAN,
        };
        r.num("wall_s", end.at.duration_since(self.at).as_secs_f64())
            .num("broker_cpu_s", secs(self.broker, end.broker))
            .num("gen_cpu_s", secs(self.generator, end.generator));
    }
}

fn rss(p: &Params) -> f64 {
    p.pid
        .as_deref()
        .and_then(procfs::rss_bytes)
        .map_or(f64::NAN, |b| b as f64)
}

fn id(p: &Params, role: &str, i: u32) -> String {
    format!("load-{}-{role}-{i}", p.addr.port())
}

async fn open_all(
    p: &Params,
    role: &str,
    n: u32,
    filter: Option<&str>,
) -> io::Result<Vec<(Reader, OwnedWriteHalf)>> {
    let mut all = Vec::new();
    for i in 0..n {
        let f = filter.map(|f| (f, p.qos));
        all.push(conn::open(p.addr, &id(p, role, i), f).await?);
    }
    Ok(all)
}

fn rate(count: u64, start: Instant, got: &[Received]) -> f64 {
    let last = got.iter().filter_map(|g| g.last).max();
    match last {
        Some(last) => count as f64 / last.duration_since(start).as_secs_f64().max(1e-9),
        None => 0.0,
    }
}

/// The time from the start to the last message received: the share of CPU
/// is taken over it, not over the wait for messages that never came.
fn active(r: &mut Record, start: Instant, got: &[Received]) {
    if let Some(last) = got.iter().filter_map(|g| g.last).max() {
        r.num("active_s", last.duration_since(start).as_secs_f64());
    }
}

fn pct(count: u64, of: u64) -> f64 {
    count as f64 * 100.0 / (of.max(1) as f64)
}

async fn join<T: 'static>(set: JoinSet<io::Result<T>>) -> io::Result<Vec<T>> {
    let mut out = Vec::new();
    for r in set.join_all().await {
        out.push(r?);
    }
    Ok(out)
}

/// Many publishers, one subscriber, one topic.
///
/// At QoS 1 each publisher also waits while `outstanding` messages are
/// published but not yet at the subscriber, so that a broker's per-client
/// queue bound does not drop messages of a fast run: the count measures
/// completeness, the rate measures throughput.
pub async fn fan_in(p: &Params, r: &mut Record) -> io::Result<bool> {
    let topic = "load/fan-in";
    let mut subs = open_all(p, "sub", 1, Some(topic)).await?;
    let pubs = open_all(p, "pub", p.connections, None).await?;
    let credit =
        (p.qos > 0).then(|| Arc::new(Semaphore::new(usize::try_from(p.outstanding).unwrap_or(1))));
    let done = Arc::new(AtomicBool::new(false));
    let usage = Usage::now(p);
    let start = Instant::now();
    let (sr, sw) = subs
        .pop()
        .ok_or_else(|| io::Error::other("no subscriber"))?;
    let sub = tokio::spawn(
        Subscriber {
            expected: p.messages,
            id_limit: p.messages,
            credit: credit.clone(),
            done: done.clone(),
            idle: IDLE,
            latency: false,
            epoch: start,
        }
        .run(sr, sw),
    );
    let mut set = JoinSet::new();
    let per = p
        .messages
        .checked_div(u64::from(p.connections))
        .unwrap_or(0);
    let mut first = 0u64;
    for (i, (pr, pw)) in (0..p.connections).zip(pubs) {
        let last = if i.saturating_add(1) == p.connections {
            p.messages
        } else {
            first.saturating_add(per)
        };
        set.spawn(
            Publisher {
                topic: topic.to_owned(),
                qos: p.qos,
                ids: first..last,
                window: p.window,
                credits: credit.iter().cloned().collect(),
                interval: None,
                epoch: start,
            }
            .run(pr, pw),
        );
        first = last;
    }
    join(set).await?;
    done.store(true, Ordering::Release);
    let got = sub.await.map_err(io::Error::other)??;
    usage.record(p, r);
    active(r, start, std::slice::from_ref(&got));
    let all = got.count == p.messages && got.duplicates == 0 && got.unknown == 0;
    r.num("sent", p.messages as f64)
        .num("received", got.count as f64)
        .num("duplicates", got.duplicates as f64)
        .num("delivered_pct", pct(got.count, p.messages))
        .num("rate", rate(got.count, start, std::slice::from_ref(&got)))
        .flag("all_arrived", all);
    Ok(p.qos == 0 && got.duplicates == 0 || all)
}

/// One publisher, many subscribers on the same topic.
pub async fn fan_out(p: &Params, r: &mut Record) -> io::Result<bool> {
    let topic = "load/fan-out";
    let subs = open_all(p, "sub", p.connections, Some(topic)).await?;
    let mut pubs = open_all(p, "pub", 1, None).await?;
    let credits: Vec<Arc<Semaphore>> = if p.qos > 0 {
        (0..p.connections)
            .map(|_| Arc::new(Semaphore::new(usize::try_from(p.outstanding).unwrap_or(1))))
            .collect()
    } else {
        Vec::new()
    };
    let done = Arc::new(AtomicBool::new(false));
    let usage = Usage::now(p);
    let start = Instant::now();
    let mut set = JoinSet::new();
    for (i, (sr, sw)) in subs.into_iter().enumerate() {
        set.spawn(
            Subscriber {
                expected: p.messages,
                id_limit: p.messages,
                credit: credits.get(i).cloned(),
                done: done.clone(),
                idle: IDLE,
                latency: false,
                epoch: start,
            }
            .run(sr, sw),
        );
    }
    let (pr, pw) = pubs.pop().ok_or_else(|| io::Error::other("no publisher"))?;
    Publisher {
        topic: topic.to_owned(),
        qos: p.qos,
        ids: 0..p.messages,
        window: p.window,
        credits,
        interval: None,
        epoch: start,
    }
    .run(pr, pw)
    .await?;
    done.store(true, Ordering::Release);
    let got = join(set).await?;
    usage.record(p, r);
    active(r, start, &got);
    let expected = p.messages.saturating_mul(u64::from(p.connections));
    let count: u64 = got.iter().map(|g| g.count).sum();
    let dups: u64 = got
        .iter()
        .map(|g| g.duplicates.saturating_add(g.unknown))
        .sum();
    let all = count == expected && dups == 0;
    r.num("sent", p.messages as f64)
        .num("expected", expected as f64)
        .num("received", count as f64)
        .num("duplicates", dups as f64)
        .num("delivered_pct", pct(count, expected))
        .num("rate", rate(count, start, &got))
        .flag("all_arrived", all);
    Ok(p.qos == 0 && dups == 0 || all)
}

/// The value at `permille` thousandths of the sorted values (nearest rank).
fn percentile(sorted: &[u32], permille: usize) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let at = last.saturating_mul(permille).saturating_add(500) / 1000;
    sorted.get(at.min(last)).map_or(f64::NAN, |v| f64::from(*v))
}

/// Publisher/subscriber pairs on distinct topics at a fixed rate: latency.
pub async fn pairs(p: &Params, r: &mut Record) -> io::Result<bool> {
    let per = u64::from(p.rate).saturating_mul(u64::from(p.seconds));
    let mut conns = Vec::new();
    for i in 0..p.connections {
        let topic = format!("load/pairs/{i}");
        let sub = conn::open(p.addr, &id(p, "sub", i), Some((&topic, p.qos))).await?;
        let publ = conn::open(p.addr, &id(p, "pub", i), None).await?;
        conns.push((topic, sub, publ));
    }
    let done = Arc::new(AtomicBool::new(false));
    let usage = Usage::now(p);
    let start = Instant::now();
    let interval = Duration::from_secs(1)
        .checked_div(p.rate)
        .unwrap_or(Duration::from_secs(1));
    let mut subs = JoinSet::new();
    let mut pubs = JoinSet::new();
    for (topic, (sr, sw), (pr, pw)) in conns {
        subs.spawn(
            Subscriber {
                expected: per,
                id_limit: per,
                credit: None,
                done: done.clone(),
                idle: IDLE,
                latency: true,
                epoch: start,
            }
            .run(sr, sw),
        );
        pubs.spawn(
            Publisher {
                topic,
                qos: p.qos,
                ids: 0..per,
                window: p.window,
                credits: Vec::new(),
                interval: Some(interval),
                epoch: start,
            }
            .run(pr, pw),
        );
        // Spread the publishers' ticks over one interval.
        tokio::time::sleep(interval.checked_div(p.connections).unwrap_or_default()).await;
    }
    join(pubs).await?;
    done.store(true, Ordering::Release);
    let got = join(subs).await?;
    usage.record(p, r);
    let expected = per.saturating_mul(u64::from(p.connections));
    let count: u64 = got.iter().map(|g| g.count).sum();
    let dups: u64 = got
        .iter()
        .map(|g| g.duplicates.saturating_add(g.unknown))
        .sum();
    let mut lat: Vec<u32> = got.into_iter().flat_map(|g| g.latencies_us).collect();
    lat.sort_unstable();
    let all = count == expected && dups == 0;
    r.num("expected", expected as f64)
        .num("received", count as f64)
        .num("duplicates", dups as f64)
        .num("p50_us", percentile(&lat, 500))
        .num("p99_us", percentile(&lat, 990))
        .num("max_us", percentile(&lat, 1000))
        .flag("all_arrived", all);
    Ok(p.qos == 0 && dups == 0 || all)
}

/// Many connections, each subscribed to its own filter, then idle: memory.
pub async fn idle(p: &Params, r: &mut Record) -> io::Result<bool> {
    let before = rss(p);
    let usage = Usage::now(p);
    let mut set = JoinSet::new();
    // Connections opened a few at a time stay below every listen backlog.
    let gate = Arc::new(Semaphore::new(64));
    for i in 0..p.connections {
        let gate = gate.clone();
        let addr = p.addr;
        let client = id(p, "idle", i);
        let qos = p.qos;
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(io::Error::other)?;
            let filter = format!("load/idle/{i}/+");
            conn::open(addr, &client, Some((&filter, qos))).await
        });
    }
    let open = join(set).await?;
    let opened = Instant::now();
    usage.record(p, r);
    // Let the broker finish whatever it does after the SUBACK.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = rss(p);
    let n = open.len();
    drop(open);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss(p);
    r.num("connections", n as f64)
        .num("open_s", opened.duration_since(usage.at).as_secs_f64())
        .num("rss_before", before)
        .num("rss_open", during)
        .num("rss_closed", after)
        .num("bytes_per_conn", (during - before) / (n.max(1) as f64));
    Ok(n == usize::try_from(p.connections).unwrap_or(0))
}

/// Samples the broker's RSS every 50 ms until `stop`; the peak.
fn sample_peak(p: &Params, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<f64> {
    let pid = p.pid.clone();
    tokio::spawn(async move {
        let mut peak = f64::NAN;
        let Some(pid) = pid else { return peak };
        loop {
            if let Some(b) = procfs::rss_bytes(&pid) {
                peak = if peak.is_nan() {
                    b as f64
                } else {
                    peak.max(b as f64)
                };
            }
            if stop.load(Ordering::Acquire) {
                return peak;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// One QoS 1 publishing phase to one subscriber that reads (`stalled`
/// false) or does not read until publishing is over.
async fn stalled_phase(
    p: &Params,
    r: &mut Record,
    name: &str,
    stalled: bool,
) -> io::Result<(Received, f64, f64)> {
    let topic = format!("load/stalled/{name}");
    let (sr, sw) = conn::open(p.addr, &id(p, name, 0), Some((&topic, 1))).await?;
    let (pr, pw) = conn::open(p.addr, &id(p, name, 1), None).await?;
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let peak = sample_peak(p, stop.clone());
    let start = Instant::now();
    let sub = Subscriber {
        expected: p.messages,
        id_limit: p.messages,
        credit: None,
        done: done.clone(),
        idle: if stalled {
            IDLE.saturating_mul(2)
        } else {
            IDLE
        },
        latency: false,
        epoch: start,
    };
    let (reading, parked) = if stalled {
        (None, Some((sub, sr, sw)))
    } else {
        (Some(tokio::spawn(sub.run(sr, sw))), None)
    };
    let end = Publisher {
        topic,
        qos: 1,
        ids: 0..p.messages,
        window: p.window,
        credits: Vec::new(),
        interval: None,
        epoch: start,
    }
    .run(pr, pw)
    .await?;
    stop.store(true, Ordering::Release);
    let peak = peak.await.map_err(io::Error::other)?;
    done.store(true, Ordering::Release);
    let got = match (reading, parked) {
        (Some(task), _) => task.await.map_err(io::Error::other)??,
        (None, Some((sub, sr, sw))) => sub.run(sr, sw).await?,
        (None, None) => Received::default(),
    };
    let publish_s = end.duration_since(start).as_secs_f64();
    r.num(&format!("{name}_publish_s"), publish_s)
        .num(&format!("{name}_peak_rss"), peak)
        .num(&format!("{name}_received"), got.count as f64)
        .num(
            &format!("{name}_duplicates"),
            got.duplicates.saturating_add(got.unknown) as f64,
        );
    Ok((got, publish_s, peak))
}

/// A QoS 1 subscriber that stops reading while one publisher sends; first
/// the same run with a subscriber that reads, for comparison.
pub async fn stalled(p: &Params, r: &mut Record) -> io::Result<bool> {
    let usage = Usage::now(p);
    r.num("sent", p.messages as f64).num("rss_before", rss(p));
    let (reading, reading_s, _) = stalled_phase(p, r, "reading", false).await?;
    let (stalled, stalled_s, peak) = stalled_phase(p, r, "stalled", true).await?;
    usage.record(p, r);
    r.num("rss_after", rss(p));
    let enough = p
        .expect_stalled
        .is_none_or(|e| stalled.count >= e && reading.count == p.messages);
    if let Some(e) = p.expect_stalled {
        r.num("stalled_expected", e as f64);
    }
    // NaN (no broker PID to measure) passes: nothing was measured.
    let slowdown = stalled_s / reading_s;
    let fast_enough = p
        .max_slowdown
        .is_none_or(|m| slowdown.is_nan() || slowdown <= m);
    let small_enough = p
        .max_rss_mib
        .is_none_or(|m| peak.is_nan() || peak / (1024.0 * 1024.0) <= m);
    r.num("stalled_slowdown", slowdown);
    Ok(enough
        && fast_enough
        && small_enough
        && stalled.duplicates == 0
        && stalled.unknown == 0
        && reading.duplicates == 0
        && reading.unknown == 0)
}
