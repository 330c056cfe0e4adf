//! `broker_load`: puts one MQTT broker under load and prints one JSON line
//! per run; `broker_load summarize FILE...` turns such lines into markdown.
//!
//! ```text
//! broker_load fan-in  --addr 127.0.0.1:1883 --pid 4242 --broker ours --qos 1
//! broker_load fan-out --addr ... [--connections 64] [--messages 20000]
//! broker_load pairs   --addr ... [--connections 100] [--rate 100] [--seconds 5]
//! broker_load idle    --addr ... [--connections 5000]
//! broker_load stalled --addr ... [--messages 200000] [--expect-stalled 1020]
//!                     [--max-slowdown 2] [--max-rss-mib 64]
//! broker_load summarize results.jsonl
//! ```
//!
//! Every scenario is bounded by `--timeout` seconds (60 by default): past
//! it the run fails instead of hanging. The exit status is non-zero when
//! the run failed: an error, a timeout, a QoS 1 message missing or
//! duplicated, a reading subscriber missing a message or a stalled one
//! receiving less than `--expect-stalled` once it reads again, the stalled
//! subscriber slowing the publisher down more than `--max-slowdown` times,
//! or the broker's memory passing `--max-rss-mib` meanwhile.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

#[path = "../broker_load/mod.rs"]
mod broker_load;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use broker_load::record::{self, Record};
use broker_load::scenario::{self, Params};

const USAGE: &str = "usage: broker_load fan-in|fan-out|pairs|idle|stalled --addr HOST:PORT \
[--pid PID] [--broker NAME] [--qos 0|1] [--messages N] [--connections N] [--window N] \
[--outstanding N] [--rate N] [--seconds N] [--timeout S] [--expect-stalled N] \
[--max-slowdown F] [--max-rss-mib N]\n\
       broker_load summarize FILE...";

struct Args {
    scenario: String,
    broker: String,
    timeout: u64,
    params: Params,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let scenario = args.next().ok_or("no scenario")?;
    let (connections, messages) = match scenario.as_str() {
        "fan-in" => (16, 200_000),
        "fan-out" => (64, 20_000),
        "pairs" => (100, 0),
        "idle" => (5_000, 0),
        "stalled" => (1, 200_000),
        other => return Err(format!("unknown scenario {other:?}")),
    };
    let mut params = Params {
        addr: SocketAddr::from(([127, 0, 0, 1], 1883)),
        pid: None,
        qos: 1,
        messages,
        connections,
        window: 64,
        outstanding: 512,
        rate: 100,
        seconds: 5,
        expect_stalled: None,
        max_slowdown: None,
        max_rss_mib: None,
    };
    let mut broker = String::from("broker");
    let mut timeout = 60;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--addr" => params.addr = value.parse().map_err(|e| bad(&e))?,
            "--pid" => params.pid = Some(value),
            "--broker" => broker = value,
            "--qos" => params.qos = value.parse().map_err(|e| bad(&e))?,
            "--messages" => params.messages = value.parse().map_err(|e| bad(&e))?,
            "--connections" => params.connections = value.parse().map_err(|e| bad(&e))?,
            "--window" => params.window = value.parse().map_err(|e| bad(&e))?,
            "--outstanding" => params.outstanding = value.parse().map_err(|e| bad(&e))?,
            "--rate" => params.rate = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => params.seconds = value.parse().map_err(|e| bad(&e))?,
            "--timeout" => timeout = value.parse().map_err(|e| bad(&e))?,
            "--expect-stalled" => {
                params.expect_stalled = Some(value.parse().map_err(|e| bad(&e))?);
            }
            "--max-slowdown" => {
                params.max_slowdown = Some(value.parse().map_err(|e| bad(&e))?);
            }
            "--max-rss-mib" => {
                params.max_rss_mib = Some(value.parse().map_err(|e| bad(&e))?);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if params.qos > 1 {
        return Err("--qos is 0 or 1".into());
    }
    if params.window == 0 || params.outstanding == 0 || params.connections == 0 {
        return Err("--window, --outstanding and --connections must be positive".into());
    }
    Ok(Args {
        scenario,
        broker,
        timeout,
        params,
    })
}

fn summarize(files: impl Iterator<Item = String>) -> ExitCode {
    let mut runs = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => runs.extend(text.lines().filter_map(record::parse)),
            Err(e) => {
                eprintln!("broker_load: {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{}", broker_load::summary::render(&runs));
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("summarize") {
        return summarize(argv.skip(1));
    }
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("broker_load: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("broker_load: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let p = &args.params;
    let case = match args.scenario.as_str() {
        "idle" | "stalled" => args.scenario.clone(),
        s => format!("{s}-q{}", p.qos),
    };
    let mut r = Record::default();
    r.str("broker", &args.broker).str("case", &case);
    let outcome = runtime.block_on(async {
        let run = async {
            match args.scenario.as_str() {
                "fan-in" => scenario::fan_in(p, &mut r).await,
                "fan-out" => scenario::fan_out(p, &mut r).await,
                "pairs" => scenario::pairs(p, &mut r).await,
                "idle" => scenario::idle(p, &mut r).await,
                _ => scenario::stalled(p, &mut r).await,
            }
        };
        tokio::time::timeout(Duration::from_secs(args.timeout), run).await
    });
    let ok = match outcome {
        Ok(Ok(ok)) => ok,
        Ok(Err(e)) => {
            r.str("error", &e.to_string());
            false
        }
        Err(_) => {
            r.str("error", &format!("timed out after {} s", args.timeout));
            false
        }
    };
    r.flag("ok", ok);
    println!("{}", r.to_json());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
