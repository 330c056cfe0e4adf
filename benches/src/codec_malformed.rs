//! The malformed-input matrix:
//! the smallest frame that shows each problem, plus a few valid frames some
//! crates wrongly refuse. Every crate gets each frame whole; its outcome is
//! recorded, a panic included, so the report can show who accepts what the
//! standards forbid, and the bench can time the rejections.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::BytesMut;
use mqttkit_codec::ProtocolVersion;

use crate::codec_peers::Crate;
use crate::codec_streams::{Stream, decode_frame, decode_stream, supports};

/// One frame of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// What is wrong with it (or what a valid frame shows).
    pub name: &'static str,
    /// The statement it breaks, with its version.
    pub rule: &'static str,
    /// The version it is read in.
    pub version: ProtocolVersion,
    /// The frame.
    pub bytes: &'static [u8],
    /// Whether the standard allows it.
    pub valid: bool,
}

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

const fn bad(
    version: ProtocolVersion,
    name: &'static str,
    rule: &'static str,
    bytes: &'static [u8],
) -> Case {
    Case {
        name,
        rule,
        version,
        bytes,
        valid: false,
    }
}

const fn good(version: ProtocolVersion, name: &'static str, bytes: &'static [u8]) -> Case {
    Case {
        name,
        rule: "valid",
        version,
        bytes,
        valid: true,
    }
}

/// The matrix, 3.1.1 rows first.
pub const CASES: &[Case] = &[
    good(V3, "valid QoS 1 PUBLISH", b"\x32\x09\x00\x03a/b\x00\x07hi"),
    bad(
        V3,
        "SUBSCRIBE flags 0000",
        "v3.1.1 [MQTT-3.8.1-1]",
        b"\x80\x06\x00\x01\x00\x01a\x00",
    ),
    bad(
        V3,
        "PUBREL flags 0000",
        "v3.1.1 [MQTT-3.6.1-1]",
        b"\x60\x02\x00\x01",
    ),
    bad(
        V3,
        "Remaining Length of 5 bytes",
        "v3.1.1 §2.2.3",
        b"\x30\xff\xff\xff\xff\x7f",
    ),
    bad(
        V3,
        "QoS 3",
        "v3.1.1 [MQTT-3.3.1-4]",
        b"\x36\x05\x00\x01a\x00\x01",
    ),
    bad(
        V3,
        "QoS 1 packet id 0",
        "v3.1.1 [MQTT-2.3.1-1]",
        b"\x32\x05\x00\x01a\x00\x00",
    ),
    bad(
        V3,
        "invalid UTF-8 topic",
        "v3.1.1 [MQTT-1.5.3-1]",
        b"\x30\x03\x00\x01\xff",
    ),
    bad(
        V3,
        "U+0000 in topic",
        "v3.1.1 [MQTT-1.5.3-2]",
        b"\x30\x03\x00\x01\x00",
    ),
    bad(
        V3,
        "`+` in PUBLISH topic",
        "v3.1.1 [MQTT-3.3.2-2]",
        b"\x30\x03\x00\x01+",
    ),
    bad(
        V3,
        "empty topic",
        "v3.1.1 [MQTT-4.7.3-1]",
        b"\x30\x02\x00\x00",
    ),
    bad(
        V3,
        "SUBSCRIBE with no filter",
        "v3.1.1 [MQTT-3.8.3-3]",
        b"\x82\x02\x00\x01",
    ),
    bad(
        V3,
        "SUBSCRIBE QoS byte bits 2–7 set",
        "v3.1.1 [MQTT-3.8.3-4]",
        b"\x82\x06\x00\x01\x00\x01a\xc0",
    ),
    bad(
        V3,
        "SUBSCRIBE filter `a/#/b`",
        "v3.1.1 [MQTT-4.7.1-2]",
        b"\x82\x0a\x00\x01\x00\x05a/#/b\x00",
    ),
    bad(
        V3,
        "CONNECT reserved flag set",
        "v3.1.1 [MQTT-3.1.2-3]",
        b"\x10\x0d\x00\x04MQTT\x04\x03\x00\x3c\x00\x01c",
    ),
    bad(
        V3,
        "topic length beyond the packet",
        "v3.1.1 §2.2.3",
        b"\x30\x04\x00\x09ab\xc0\x00",
    ),
    bad(
        V3,
        "PINGREQ with Remaining Length 1",
        "v3.1.1 §3.12",
        b"\xc0\x01\x00",
    ),
    good(V5, "valid QoS 0 PUBLISH", b"\x30\x04\x00\x01a\x00"),
    bad(
        V5,
        "Message Expiry twice",
        "v5 §2.2.2.2",
        b"\x30\x0e\x00\x01a\x0a\x02\x00\x00\x00\x05\x02\x00\x00\x00\x05",
    ),
    bad(
        V5,
        "Session Expiry in PUBLISH",
        "v5 §2.2.2.2",
        b"\x30\x09\x00\x01a\x05\x11\x00\x00\x00\x05",
    ),
    bad(
        V5,
        "Topic Alias 0",
        "v5 [MQTT-3.3.2-8]",
        b"\x30\x07\x00\x01a\x03\x23\x00\x00",
    ),
    bad(
        V5,
        "`#` in PUBLISH topic",
        "v5 [MQTT-3.3.2-2]",
        b"\x30\x04\x00\x01#\x00",
    ),
    bad(
        V5,
        "invalid UTF-8 topic",
        "v5 [MQTT-1.5.4-1]",
        b"\x30\x04\x00\x01\xff\x00",
    ),
    bad(
        V5,
        "U+0000 in topic",
        "v5 [MQTT-1.5.4-2]",
        b"\x30\x04\x00\x01\x00\x00",
    ),
    good(V5, "DISCONNECT `E0 00`", b"\xe0\x00"),
    good(V5, "AUTH `F0 00`", b"\xf0\x00"),
    good(V5, "PUBACK with Remaining Length 2", b"\x40\x02\x00\x01"),
];

/// What a crate did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned a packet.
    Accepted,
    /// It returned an error.
    Rejected,
    /// It waited for more bytes of a frame that was whole.
    WaitedForMore,
    /// It panicked.
    Panicked,
}

impl Outcome {
    /// Whether this is what the standard asks for `case`.
    pub fn is_right(self, case: &Case) -> bool {
        if case.valid {
            self == Outcome::Accepted
        } else {
            self == Outcome::Rejected
        }
    }
}

fn stream(case: &Case) -> Stream {
    Stream {
        name: case.name.to_owned(),
        version: case.version,
        bytes: case.bytes.to_vec(),
        packets: 1,
        chunk: None,
    }
}

/// Whether `krate` reads `case`'s version (the in-place view reads PUBLISH
/// only, so it is left out of the matrix).
pub fn applies(krate: Crate, case: &Case) -> bool {
    supports(krate, &stream(case))
}

/// Feeds `case` whole to `krate`: to its streaming decoder where it has
/// one, else straight to its frame decoder (not through our fixed-header
/// reader, which would reject some frames on the peer's behalf).
fn decode(krate: Crate, case: &Case) -> Result<usize, String> {
    let mut input = BytesMut::from(case.bytes);
    let mut each = |p: &dyn core::fmt::Debug| {
        std::hint::black_box(p);
    };
    match krate {
        Crate::MqttProto | Crate::Mqttrs | Crate::Mqtt5Protocol => {
            decode_frame(krate, case.version, input, &mut each).map(|()| 1)
        }
        _ => decode_stream(krate, &stream(case), &mut input, each),
    }
}

/// What `krate` does with `case`.
pub fn outcome(krate: Crate, case: &Case) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| decode(krate, case))) {
        Err(_) => Outcome::Panicked,
        Ok(Ok(0)) => Outcome::WaitedForMore,
        Ok(Ok(_)) => Outcome::Accepted,
        Ok(Err(e)) if e.ends_with("left undecoded") || e == "incomplete" => Outcome::WaitedForMore,
        Ok(Err(_)) => Outcome::Rejected,
    }
}

/// Decodes every case of `version` with `krate` (which must not panic on
/// any), for timing; returns how many it rejected.
pub fn decode_all_cases(krate: Crate, version: ProtocolVersion) -> usize {
    CASES
        .iter()
        .filter(|c| c.version == version)
        .filter(|case| decode(krate, case).is_err())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our codec gets every row right: rejects each malformed frame, accepts
    /// each valid one.
    #[test]
    fn mqttkit_codec_is_right_on_every_case() {
        for case in CASES {
            let got = outcome(Crate::MqttCodec, case);
            assert!(got.is_right(case), "{}: {got:?}", case.name);
        }
    }
}
