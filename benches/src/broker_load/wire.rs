//! The few MQTT 3.1.1 packets the load generator sends, hand-encoded, and a
//! frame reader that decodes only what it must (CONNACK and SUBACK return
//! codes, PUBLISH QoS, packet id and payload, PUBACK packet id).
//!
//! Hand-written rather than `mqttkit-codec` so that the generator does no
//! validation work the brokers are measured on, and costs the same against
//! every broker.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The Keep Alive every connection announces: rumqttd refuses 0.
pub const KEEP_ALIVE: u16 = 60;

/// The largest packet accepted from a broker; the generator only ever
/// receives small ones, so anything larger is a broken stream.
const MAX_INCOMING: usize = 1 << 20;

/// A packet received from the broker, reduced to what the scenarios read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNACK with its return code (0 is accepted).
    ConnAck(u8),
    /// SUBACK with its first return code (0x80 is failure).
    SubAck(u8),
    /// PUBLISH: QoS, packet id (0 for QoS 0) and payload.
    Publish {
        /// The QoS of the delivery.
        qos: u8,
        /// The packet id, 0 for QoS 0.
        packet_id: u16,
        /// The application message.
        payload: Bytes,
    },
    /// PUBACK with its packet id.
    PubAck(u16),
    /// Any other packet, by its fixed-header type nibble.
    Other(u8),
}

/// A stream of bytes that is not MQTT as the generator expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub &'static str);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for WireError {}

fn put_remaining_length(dst: &mut BytesMut, mut len: usize) {
    loop {
        let byte = u8::try_from(len % 128).unwrap_or(0);
        len /= 128;
        if len == 0 {
            dst.put_u8(byte);
            return;
        }
        dst.put_u8(byte | 0x80);
    }
}

fn put_str(dst: &mut BytesMut, s: &[u8]) {
    dst.put_u16(u16::try_from(s.len()).unwrap_or(u16::MAX));
    dst.put_slice(s);
}

fn str_len(s: &[u8]) -> usize {
    s.len().saturating_add(2)
}

/// Appends a 3.1.1 CONNECT with Clean Session 1 and [`KEEP_ALIVE`].
pub fn connect(dst: &mut BytesMut, client_id: &str) {
    let body = 10usize.saturating_add(str_len(client_id.as_bytes()));
    dst.put_u8(0x10);
    put_remaining_length(dst, body);
    put_str(dst, b"MQTT");
    dst.put_u8(4);
    dst.put_u8(0x02);
    dst.put_u16(KEEP_ALIVE);
    put_str(dst, client_id.as_bytes());
}

/// Appends a SUBSCRIBE to one filter at `qos`.
pub fn subscribe(dst: &mut BytesMut, packet_id: u16, filter: &str, qos: u8) {
    let body = 3usize.saturating_add(str_len(filter.as_bytes()));
    dst.put_u8(0x82);
    put_remaining_length(dst, body);
    dst.put_u16(packet_id);
    put_str(dst, filter.as_bytes());
    dst.put_u8(qos);
}

/// Appends a PUBLISH; `packet_id` is written only for QoS 1 and 2.
pub fn publish(dst: &mut BytesMut, topic: &str, qos: u8, packet_id: u16, payload: &[u8]) {
    let id_len = if qos > 0 { 2 } else { 0 };
    let body = str_len(topic.as_bytes())
        .saturating_add(id_len)
        .saturating_add(payload.len());
    dst.put_u8(0x30 | ((qos & 3) << 1));
    put_remaining_length(dst, body);
    put_str(dst, topic.as_bytes());
    if qos > 0 {
        dst.put_u16(packet_id);
    }
    dst.put_slice(payload);
}

/// Appends a PUBACK.
pub fn puback(dst: &mut BytesMut, packet_id: u16) {
    dst.put_u8(0x40);
    dst.put_u8(2);
    dst.put_u16(packet_id);
}

/// Appends a DISCONNECT.
pub fn disconnect(dst: &mut BytesMut) {
    dst.put_u8(0xE0);
    dst.put_u8(0);
}

/// Takes the next whole packet off the front of `buf`, or `None` while the
/// buffer holds only part of one.
pub fn next_packet(buf: &mut BytesMut) -> Result<Option<Packet>, WireError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len = 0usize;
    let mut header = 1usize;
    let mut shift = 0u32;
    loop {
        let Some(&byte) = buf.get(header) else {
            return Ok(None);
        };
        header = header.saturating_add(1);
        len |= usize::from(byte & 0x7F).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            break;
        }
        shift = shift.saturating_add(7);
        if shift > 21 {
            return Err(WireError("remaining length longer than four bytes"));
        }
    }
    if len > MAX_INCOMING {
        return Err(WireError("packet larger than the generator accepts"));
    }
    let total = header.saturating_add(len);
    if buf.len() < total {
        buf.reserve(total.saturating_sub(buf.len()));
        return Ok(None);
    }
    buf.advance(header);
    let mut body = buf.split_to(len).freeze();
    let kind = first >> 4;
    let packet = match kind {
        2 => {
            if body.len() != 2 {
                return Err(WireError("CONNACK of the wrong length"));
            }
            body.advance(1);
            Packet::ConnAck(body.get_u8())
        }
        9 => {
            if body.len() < 3 {
                return Err(WireError("SUBACK too short"));
            }
            body.advance(2);
            Packet::SubAck(body.get_u8())
        }
        3 => {
            let qos = (first >> 1) & 3;
            if body.len() < 2 {
                return Err(WireError("PUBLISH without a topic"));
            }
            let topic_len = usize::from(body.get_u16());
            let id_len = if qos > 0 { 2 } else { 0 };
            if body.len() < topic_len.saturating_add(id_len) {
                return Err(WireError("PUBLISH shorter than its topic"));
            }
            body.advance(topic_len);
            let packet_id = if qos > 0 { body.get_u16() } else { 0 };
            Packet::Publish {
                qos,
                packet_id,
                payload: body,
            }
        }
        4 => {
            if body.len() < 2 {
                return Err(WireError("PUBACK too short"));
            }
            Packet::PubAck(body.get_u16())
        }
        other => Packet::Other(other),
    };
    Ok(Some(packet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_decodes_to_what_was_encoded() {
        let mut buf = BytesMut::new();
        publish(&mut buf, "a/b", 1, 7, &[1, 2, 3]);
        publish(&mut buf, "a/b", 0, 0, &[9; 200]);
        let first = next_packet(&mut buf).unwrap().unwrap();
        assert_eq!(
            first,
            Packet::Publish {
                qos: 1,
                packet_id: 7,
                payload: Bytes::from_static(&[1, 2, 3])
            }
        );
        let second = next_packet(&mut buf).unwrap().unwrap();
        assert_eq!(
            second,
            Packet::Publish {
                qos: 0,
                packet_id: 0,
                payload: Bytes::from(vec![9; 200])
            }
        );
        assert_eq!(next_packet(&mut buf).unwrap(), None);
    }

    #[test]
    fn a_partial_packet_waits_for_the_rest() {
        let mut whole = BytesMut::new();
        puback(&mut whole, 513);
        let mut buf = BytesMut::new();
        for (i, byte) in whole.iter().enumerate() {
            buf.put_u8(*byte);
            let got = next_packet(&mut buf).unwrap();
            if i + 1 < whole.len() {
                assert_eq!(got, None);
            } else {
                assert_eq!(got, Some(Packet::PubAck(513)));
            }
        }
    }

    #[test]
    fn connect_and_subscribe_have_the_311_layout() {
        let mut buf = BytesMut::new();
        connect(&mut buf, "c1");
        assert_eq!(
            &buf[..],
            &[
                0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'c', b'1'
            ]
        );
        let mut buf = BytesMut::new();
        subscribe(&mut buf, 1, "t", 1);
        assert_eq!(&buf[..], &[0x82, 6, 0, 1, 0, 1, b't', 1]);
    }

    #[test]
    fn broken_streams_are_errors_not_panics() {
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..]);
        assert!(next_packet(&mut buf).is_err());
        let mut buf = BytesMut::from(&[0x30, 3, 0, 9, b'a'][..]);
        assert!(next_packet(&mut buf).is_err());
        let mut buf = BytesMut::from(&[0x20, 1, 0][..]);
        assert!(next_packet(&mut buf).is_err());
    }
}
