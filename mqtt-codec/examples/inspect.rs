//! Packet inspector: reads one direction of an MQTT connection as raw bytes
//! and prints one line per packet.
//!
//! ```text
//! cargo run -p mqttkit-codec --example inspect -- [--protocol 3.1|3.1.1|5] [--reencode OUT] [FILE]
//! ```
//!
//! The version comes from a leading CONNECT, otherwise from `--protocol`
//! (default 3.1.1). With `--reencode OUT` the encoding of every decoded packet
//! is written to OUT. Exit status 0 means the whole input decoded; otherwise
//! the byte offset and the error are printed and the status is 1 (2 for a
//! usage or I/O error).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::ExitCode;

use mqttkit_codec::bytes::BytesMut;
use mqttkit_codec::{Decoded, Decoder, Packet, PropertyId, PropertyValue, ProtocolVersion};

struct Args {
    version: ProtocolVersion,
    reencode: Option<String>,
    input: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        version: ProtocolVersion::V3_1_1,
        reencode: None,
        input: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--protocol" => {
                args.version = match it.next().as_deref() {
                    Some("3.1") => ProtocolVersion::V3_1,
                    Some("3.1.1") => ProtocolVersion::V3_1_1,
                    Some("5" | "5.0") => ProtocolVersion::V5,
                    other => return Err(format!("unknown protocol {other:?}")),
                }
            }
            "--reencode" => args.reencode = Some(it.next().ok_or("--reencode needs a file")?),
            "-h" | "--help" => {
                return Err(String::from(
                    "usage: inspect [--protocol 3.1|3.1.1|5] [--reencode OUT] [FILE]",
                ));
            }
            _ if args.input.is_none() => args.input = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(args)
}

fn properties(out: &mut String, visit: impl FnOnce(&mut dyn FnMut(PropertyId, PropertyValue<'_>))) {
    let mut first = true;
    visit(&mut |id, value| {
        out.push_str(if first { " props{" } else { ", " });
        first = false;
        let _ = write!(out, "{id:?}={value}");
    });
    if !first {
        out.push('}');
    }
}

/// One line: the packet type in capitals, then its fields.
fn describe(packet: &Packet) -> String {
    let mut out = String::from(packet.packet_type().name());
    let o = &mut out;
    match packet {
        Packet::Connect(c) => {
            let _ = write!(
                o,
                " protocol={} clean_start={} keep_alive={} client_id={:?}",
                c.protocol_version,
                u8::from(c.clean_start),
                c.keep_alive,
                c.client_id.as_str()
            );
            if let Some(will) = &c.will {
                let _ = write!(
                    o,
                    " will{{topic={:?} qos={} retain={} payload={}B}}",
                    will.topic.as_str(),
                    will.qos.bits(),
                    u8::from(will.retain),
                    will.payload.len()
                );
                properties(o, |f| will.properties.for_each_property(f));
            }
            if let Some(user) = &c.login.username {
                let _ = write!(o, " username={:?}", user.as_str());
            }
            if let Some(password) = &c.login.password {
                let _ = write!(o, " password={}B", password.len());
            }
            properties(o, |f| c.properties.for_each_property(f));
        }
        Packet::ConnAck(c) => {
            let _ = write!(
                o,
                " session_present={} reason={}",
                u8::from(c.session_present),
                c.reason_code
            );
            properties(o, |f| c.properties.for_each_property(f));
        }
        Packet::Publish(p) => {
            let _ = write!(
                o,
                " dup={} qos={} retain={}",
                u8::from(p.qos.dup()),
                p.qos.qos().bits(),
                u8::from(p.retain)
            );
            if let Some(id) = p.qos.packet_id() {
                let _ = write!(o, " id={id}");
            }
            let _ = write!(o, " topic={:?} payload={}B", p.topic_str(), p.payload.len());
            properties(o, |f| p.properties.for_each_property(f));
        }
        Packet::PubAck(a) => ack(o, a.packet_id, &a.reason_code, &a.properties),
        Packet::PubRec(a) => ack(o, a.packet_id, &a.reason_code, &a.properties),
        Packet::PubRel(a) => ack(o, a.packet_id, &a.reason_code, &a.properties),
        Packet::PubComp(a) => ack(o, a.packet_id, &a.reason_code, &a.properties),
        Packet::Subscribe(s) => {
            let _ = write!(o, " id={}", s.packet_id);
            for (filter, opts) in &s.filters {
                let _ = write!(
                    o,
                    " filter={:?}(qos={} nl={} rap={} rh={})",
                    filter.as_str(),
                    opts.qos.bits(),
                    u8::from(opts.no_local),
                    u8::from(opts.retain_as_published),
                    opts.retain_handling as u8
                );
            }
            properties(o, |f| s.properties.for_each_property(f));
        }
        Packet::SubAck(s) => {
            let _ = write!(o, " id={} reasons=[", s.packet_id);
            codes(o, s.reason_codes.iter().map(|c| c.code()));
            properties(o, |f| s.properties.for_each_property(f));
        }
        Packet::Unsubscribe(u) => {
            let _ = write!(o, " id={}", u.packet_id);
            for filter in &u.filters {
                let _ = write!(o, " filter={:?}", filter.as_str());
            }
            properties(o, |f| u.properties.for_each_property(f));
        }
        Packet::UnsubAck(u) => {
            let _ = write!(o, " id={} reasons=[", u.packet_id);
            codes(o, u.reason_codes.iter().map(|c| c.code()));
            properties(o, |f| u.properties.for_each_property(f));
        }
        Packet::Disconnect(d) => {
            let _ = write!(o, " reason={}", d.reason_code);
            properties(o, |f| d.properties.for_each_property(f));
        }
        Packet::Auth(a) => {
            let _ = write!(o, " reason={}", a.reason_code);
            properties(o, |f| a.properties.for_each_property(f));
        }
        _ => {}
    }
    out
}

fn ack(
    out: &mut String,
    id: mqttkit_codec::PacketId,
    reason: &dyn std::fmt::Display,
    props: &mqttkit_codec::AckProperties,
) {
    let _ = write!(out, " id={id} reason={reason}");
    properties(out, |f| props.for_each_property(f));
}

fn codes(out: &mut String, codes: impl Iterator<Item = u8>) {
    let list: Vec<String> = codes.map(|c| format!("{c:#04x}")).collect();
    out.push_str(&list.join(","));
    out.push(']');
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut input = Vec::new();
    let read = match &args.input {
        Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut input)),
        None => std::io::stdin().read_to_end(&mut input),
    };
    if let Err(err) = read {
        eprintln!("cannot read input: {err}");
        return ExitCode::from(2);
    }
    let mut reencoded = Vec::new();
    let mut decoder = Decoder::new(args.version);
    let mut buf = BytesMut::from(&input[..]);
    let mut offset = 0usize;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let status = loop {
        if buf.is_empty() {
            break ExitCode::SUCCESS;
        }
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(packet)) => {
                let _ = writeln!(stdout, "{}", describe(&packet));
                if let Err(err) = packet.encode(decoder.version(), &mut reencoded) {
                    eprintln!(
                        "offset {offset}: cannot re-encode {}: {err}",
                        packet.packet_type()
                    );
                    break ExitCode::FAILURE;
                }
                offset = offset.saturating_add(before.saturating_sub(buf.len()));
            }
            Ok(Decoded::Incomplete { missing }) => {
                let missing = missing.map_or_else(|| String::from("more"), |n| n.to_string());
                eprintln!("offset {offset}: input ends inside a packet ({missing} bytes missing)");
                break ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("offset {offset}: malformed packet: {err}");
                break ExitCode::FAILURE;
            }
        }
    };
    if let Some(path) = &args.reencode
        && let Err(err) = std::fs::write(path, &reencoded)
    {
        eprintln!("cannot write {path}: {err}");
        return ExitCode::from(2);
    }
    status
}
