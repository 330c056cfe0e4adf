//! Wire primitives shared by every packet: the variable byte integer, two-
//! and four-byte integers, UTF-8 strings, binary data and string pairs
//! (§1.5 of both versions). Decoders are `nom` parsers over the frame's
//! bytes; `Bytes::slice_ref` turns what they return into zero-copy handles.

use bytes::{BufMut, Bytes};
use nom::IResult;
use nom::error::{ErrorKind, ParseError};

use crate::error::{DecodeError, EncodeError};
use crate::header::PacketType;
use crate::types::{MAX_STRING_LEN, MqttString, validate_string};

/// The result of a parser over a frame body.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, DecodeError>;

/// The largest value a variable byte integer holds (four bytes).
pub const MAX_VARIABLE_BYTE_INTEGER: u32 = 268_435_455;

impl ParseError<&[u8]> for DecodeError {
    fn from_error_kind(_input: &[u8], _kind: ErrorKind) -> Self {
        // Every nom primitive we use fails only by running out of input; the
        // packet decoder replaces the placeholder type with the real one.
        Self::UnexpectedEnd(PacketType::Connect)
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

fn fail<T>(err: DecodeError) -> PResult<'static, T> {
    Err(nom::Err::Failure(err))
}

/// Outcome of reading a variable byte integer from a buffer that may not
/// hold all of it yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarInt {
    /// The value and the number of bytes it took.
    Complete(u32, usize),
    /// The buffer ends inside the integer.
    Incomplete,
}

/// Reads a variable byte integer from the start of `bytes`, rejecting a
/// fifth byte and a non-minimal encoding (v5 [MQTT-1.5.5-1]).
pub(crate) fn read_var_int(bytes: &[u8]) -> Result<VarInt, DecodeError> {
    let mut value: u32 = 0;
    for (len, shift, &byte) in var_int_groups(bytes) {
        value |= u32::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            // v5 [MQTT-1.5.5-1]: a trailing zero group means the value fitted
            // in fewer bytes.
            if len > 1 && byte == 0 {
                return Err(DecodeError::MalformedVariableByteInteger);
            }
            return Ok(VarInt::Complete(value, len));
        }
    }
    if bytes.len() >= 4 {
        Err(DecodeError::MalformedVariableByteInteger)
    } else {
        Ok(VarInt::Incomplete)
    }
}

/// The first four bytes with their 1-based position and the shift of their
/// seven value bits.
fn var_int_groups(bytes: &[u8]) -> impl Iterator<Item = (usize, u32, &u8)> {
    [(1, 0), (2, 7), (3, 14), (4, 21)]
        .into_iter()
        .zip(bytes)
        .map(|((len, shift), byte)| (len, shift, byte))
}

/// `nom` parser for a variable byte integer inside a complete frame.
pub(crate) fn var_int(input: &[u8]) -> PResult<'_, u32> {
    match read_var_int(input) {
        Ok(VarInt::Complete(value, len)) => Ok((input.get(len..).unwrap_or_default(), value)),
        Ok(VarInt::Incomplete) => Err(nom::Err::Error(DecodeError::from_error_kind(
            input,
            ErrorKind::Eof,
        ))),
        Err(err) => fail(err),
    }
}

/// Saturating sum of encoded field sizes: a saturated total is larger than
/// any packet can be, so the caller refuses it as too large.
pub(crate) fn sum<const N: usize>(parts: [usize; N]) -> usize {
    parts.into_iter().fold(0, usize::saturating_add)
}

/// Bytes a variable byte integer of `value` takes on the wire.
pub(crate) const fn var_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a variable byte integer; `value` must not exceed
/// [`MAX_VARIABLE_BYTE_INTEGER`], which the length pass has checked.
#[inline]
pub(crate) fn put_var_int(buf: &mut impl BufMut, mut value: u32) {
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

pub(crate) use nom::number::complete::{be_u16, u8 as byte};

/// The error of a parser that runs out of input: what nom's complete
/// parsers return, with the placeholder type the packet decoder replaces.
pub(crate) fn end_of_input() -> nom::Err<DecodeError> {
    nom::Err::Error(DecodeError::UnexpectedEnd(PacketType::Connect))
}

/// A two-byte length followed by that many bytes.
///
/// Written with slice operations rather than `be_u16` and `take`: every
/// string, binary field and topic goes through it, and the combinators
/// cost more than the field.
#[inline]
pub(crate) fn length_prefixed(input: &[u8]) -> PResult<'_, &[u8]> {
    let (len, input) = input.split_first_chunk::<2>().ok_or_else(end_of_input)?;
    let (data, rest) = input
        .split_at_checked(usize::from(u16::from_be_bytes(*len)))
        .ok_or_else(end_of_input)?;
    Ok((rest, data))
}

/// Binary Data (§1.5.6) as a zero-copy slice of `frame`.
pub(crate) fn binary<'a>(frame: &Bytes, input: &'a [u8]) -> PResult<'a, Bytes> {
    let (rest, data) = length_prefixed(input)?;
    Ok((rest, frame.slice_ref(data)))
}

/// A UTF-8 Encoded String (§1.5.4) as a zero-copy slice of `frame`.
pub(crate) fn string<'a>(frame: &Bytes, input: &'a [u8]) -> PResult<'a, MqttString> {
    let (rest, data) = length_prefixed(input)?;
    if let Err(err) = validate_string(data) {
        return fail(err);
    }
    Ok((rest, MqttString::from_validated(frame.slice_ref(data))))
}

/// Writes a two-byte length and the bytes; the caller has checked the length.
#[inline]
pub(crate) fn put_length_prefixed(buf: &mut impl BufMut, data: &[u8]) {
    buf.put_u16(u16::try_from(data.len()).unwrap_or(u16::MAX));
    buf.put_slice(data);
}

/// Bytes a length-prefixed field takes, or an error when it is too long.
pub(crate) fn length_prefixed_len(data: &[u8]) -> Result<usize, EncodeError> {
    if data.len() > MAX_STRING_LEN {
        Err(EncodeError::BinaryTooLong)
    } else {
        Ok(sum([2, data.len()]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn encode(value: u32) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        put_var_int(&mut out, value);
        out
    }

    /// v5 §1.5.5 table of boundaries.
    #[test]
    fn var_int_boundaries_round_trip() {
        for (value, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (MAX_VARIABLE_BYTE_INTEGER, 4),
        ] {
            let bytes = encode(value);
            assert_eq!(bytes.len(), len);
            assert_eq!(var_int_len(value), len);
            assert_eq!(read_var_int(&bytes), Ok(VarInt::Complete(value, len)));
        }
    }

    /// v5 [MQTT-1.5.5-1]: the minimum number of bytes.
    #[test]
    fn v5_mqtt_1_5_5_1_non_minimal_var_int_is_rejected() {
        for bytes in [
            &[0x80, 0x00][..],
            &[0xFF, 0x80, 0x00],
            &[0x80, 0x80, 0x80, 0x00],
        ] {
            assert_eq!(
                read_var_int(bytes),
                Err(DecodeError::MalformedVariableByteInteger)
            );
        }
    }

    #[test]
    fn var_int_of_five_bytes_is_rejected_and_short_input_is_incomplete() {
        assert_eq!(
            read_var_int(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(DecodeError::MalformedVariableByteInteger)
        );
        assert_eq!(read_var_int(&[0xFF, 0xFF]), Ok(VarInt::Incomplete));
        assert_eq!(read_var_int(&[]), Ok(VarInt::Incomplete));
    }

    #[test]
    fn string_is_a_slice_of_the_frame() {
        let frame = Bytes::from_static(b"\x00\x03abcrest");
        let (rest, s) = string(&frame, &frame).unwrap();
        assert_eq!(rest, b"rest");
        assert_eq!(s.as_str(), "abc");
        assert_eq!(s.as_bytes().as_ptr(), frame[2..].as_ptr());
    }

    #[test]
    fn string_overrunning_its_input_is_an_error() {
        let frame = Bytes::from_static(b"\x00\x09abc");
        assert!(string(&frame, &frame).is_err());
    }
}
