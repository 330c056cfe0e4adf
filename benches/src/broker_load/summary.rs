//! The markdown tables of `broker_load summarize`: per scenario and broker
//! the median and range of each metric over the runs, the ratios of the
//! first broker (ours) to each other one, and the CPU each process used.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::record::Value;

type Run = BTreeMap<String, Value>;

/// The metrics shown, in order: key, label, divisor, decimals.
const METRICS: &[(&str, &str, f64, usize)] = &[
    ("rate", "messages/s at the subscribers", 1.0, 0),
    ("delivered_pct", "% of the messages delivered", 1.0, 1),
    ("p50_us", "latency p50 (µs)", 1.0, 0),
    ("p99_us", "latency p99 (µs)", 1.0, 0),
    ("bytes_per_conn", "RSS per idle connection (bytes)", 1.0, 0),
    (
        "rss_open",
        "RSS with the connections open (MiB)",
        1_048_576.0,
        1,
    ),
    ("rss_closed", "RSS after they closed (MiB)", 1_048_576.0, 1),
    (
        "reading_publish_s",
        "publish time, subscriber reading (s)",
        1.0,
        2,
    ),
    (
        "stalled_publish_s",
        "publish time, subscriber stalled (s)",
        1.0,
        2,
    ),
    (
        "stalled_peak_rss",
        "peak RSS while stalled (MiB)",
        1_048_576.0,
        1,
    ),
    ("stalled_received", "received after resuming", 1.0, 0),
];

fn text<'a>(run: &'a Run, key: &str) -> &'a str {
    run.get(key).and_then(Value::str).unwrap_or("?")
}

fn median(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    let mid = v.get(v.len() / 2).copied()?;
    let lo = v.first().copied()?;
    let hi = v.last().copied()?;
    let med = if v.len().is_multiple_of(2) {
        let below = v.get((v.len() / 2).saturating_sub(1)).copied()?;
        f64::midpoint(below, mid)
    } else {
        mid
    };
    Some((med, lo, hi))
}

fn fmt(x: f64, decimals: usize) -> String {
    if decimals > 0 {
        return format!("{x:.decimals$}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len().saturating_sub(i)) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// Renders the runs (parsed result lines) as markdown.
pub fn render(runs: &[Run]) -> String {
    let mut brokers: Vec<&str> = Vec::new();
    let mut cases: Vec<&str> = Vec::new();
    for run in runs {
        let b = text(run, "broker");
        if !brokers.contains(&b) {
            brokers.push(b);
        }
        let c = text(run, "case");
        if !cases.contains(&c) {
            cases.push(c);
        }
    }
    let of = |case: &str, broker: &str| -> Vec<&Run> {
        runs.iter()
            .filter(|r| text(r, "case") == case && text(r, "broker") == broker)
            .collect()
    };
    let mut out = String::new();
    let ours = brokers.first().copied().unwrap_or("?");
    let others: Vec<&str> = brokers.iter().skip(1).copied().collect();
    let _ = write!(out, "| scenario | metric |");
    for b in &brokers {
        let _ = write!(out, " {b} |");
    }
    for o in &others {
        let _ = write!(out, " {ours}/{o} |");
    }
    out.push('\n');
    out.push_str("|---|---|");
    for _ in 0..brokers.len().saturating_add(others.len()) {
        out.push_str("---|");
    }
    out.push('\n');
    for case in &cases {
        for (key, label, div, dec) in METRICS {
            let present = runs
                .iter()
                .any(|r| text(r, "case") == *case && r.contains_key(*key));
            if !present {
                continue;
            }
            let _ = write!(out, "| {case} | {label} |");
            let mut medians = Vec::new();
            for b in &brokers {
                let rs = of(case, b);
                let vals: Vec<f64> = rs
                    .iter()
                    .filter_map(|r| r.get(*key).and_then(Value::num))
                    .map(|x| x / div)
                    .collect();
                let failed = rs
                    .iter()
                    .filter(|r| r.get("ok") != Some(&Value::Bool(true)))
                    .count();
                let cell = match median(vals) {
                    None if rs.is_empty() => "–".to_owned(),
                    None => "failed".to_owned(),
                    Some((m, lo, hi)) if rs.len() > 1 => {
                        format!("{} ({}–{})", fmt(m, *dec), fmt(lo, *dec), fmt(hi, *dec))
                    }
                    Some((m, _, _)) => fmt(m, *dec),
                };
                let note = if failed > 0 {
                    format!(" ⚠ {failed}/{} failed", rs.len())
                } else {
                    String::new()
                };
                let _ = write!(out, " {cell}{note} |");
                medians.push(median(
                    rs.iter()
                        .filter_map(|r| r.get(*key).and_then(Value::num))
                        .collect(),
                ));
            }
            let first = medians.first().copied().flatten();
            for m in medians.iter().skip(1) {
                match (first, m) {
                    (Some((a, _, _)), Some((b, _, _))) if *b != 0.0 => {
                        let _ = write!(out, " {:.2} |", a / b);
                    }
                    _ => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
    }
    out.push_str(
        "\nCPU used during the measured phase, as a share of its wall time \
         (100% = one core fully busy; the machine has the cores listed above):\n\n",
    );
    out.push_str("| scenario |");
    for b in &brokers {
        let _ = write!(out, " {b}: broker | {b}: generator |");
    }
    out.push('\n');
    out.push_str("|---|");
    for _ in 0..brokers.len().saturating_mul(2) {
        out.push_str("---|");
    }
    out.push('\n');
    for case in &cases {
        let _ = write!(out, "| {case} |");
        for b in &brokers {
            for key in ["broker_cpu_s", "gen_cpu_s"] {
                let shares: Vec<f64> = of(case, b)
                    .iter()
                    .filter_map(|r| {
                        let cpu = r.get(key)?.num()?;
                        let wall = r.get("active_s").or(r.get("wall_s"))?.num()?;
                        (wall > 0.0).then(|| cpu / wall * 100.0)
                    })
                    .collect();
                match median(shares) {
                    Some((m, _, _)) => {
                        let _ = write!(out, " {m:.0}% |");
                    }
                    None => out.push_str(" – |"),
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::record::parse;
    use super::*;

    #[test]
    fn medians_ranges_and_ratios() {
        let lines = [
            r#"{"broker":"ours","case":"fan-in-q1","ok":true,"rate":100,"wall_s":1,"broker_cpu_s":1.5,"gen_cpu_s":0.5}"#,
            r#"{"broker":"ours","case":"fan-in-q1","ok":true,"rate":300,"wall_s":1,"broker_cpu_s":1.5,"gen_cpu_s":0.5}"#,
            r#"{"broker":"ours","case":"fan-in-q1","ok":false,"rate":200,"wall_s":1,"broker_cpu_s":1.5,"gen_cpu_s":0.5}"#,
            r#"{"broker":"mosquitto","case":"fan-in-q1","ok":true,"rate":100,"wall_s":2,"broker_cpu_s":1,"gen_cpu_s":1}"#,
        ];
        let runs: Vec<Run> = lines.iter().map(|l| parse(l).unwrap()).collect();
        let md = render(&runs);
        assert!(
            md.contains("| 200 (100–300) ⚠ 1/3 failed | 100 | 2.00 |"),
            "{md}"
        );
        assert!(
            md.contains("| fan-in-q1 | 150% | 50% | 50% | 50% |"),
            "{md}"
        );
        assert_eq!(fmt(1_234_567.0, 0), "1,234,567");
        assert_eq!(fmt(12.0, 0), "12");
    }
}
