//! Small value types whose invariants hold by construction.

use core::fmt;
use core::num::NonZeroU16;

use bytes::Bytes;
use bytestring::ByteString;
pub use mqttkit_topic::QoS;

use crate::error::{DecodeError, EncodeError};

/// A packet identifier: never zero (v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The identifier `value`, or `None` for zero.
    pub const fn new(value: u16) -> Option<Self> {
        match NonZeroU16::new(value) {
            Some(id) => Some(Self(id)),
            None => None,
        }
    }

    /// The identifier from a value known not to be zero.
    pub const fn from_non_zero(value: NonZeroU16) -> Self {
        Self(value)
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl From<NonZeroU16> for PacketId {
    fn from(value: NonZeroU16) -> Self {
        Self(value)
    }
}

impl TryFrom<u16> for PacketId {
    type Error = DecodeError;

    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Self::new(value).ok_or(DecodeError::ZeroPacketId)
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A UTF-8 Encoded String (§1.5.4 of both versions) held as a zero-copy
/// slice of the received frame.
///
/// It is well-formed UTF-8 without surrogates ([MQTT-1.5.4-1] in both
/// versions), contains no U+0000 ([MQTT-1.5.4-2]) and is at most 65,535
/// bytes long. A leading U+FEFF is kept ([MQTT-1.5.4-3]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttString(ByteString);

/// The longest UTF-8 string or binary data field: its length is a two-byte integer.
pub const MAX_STRING_LEN: usize = u16::MAX as usize;

impl MqttString {
    /// The empty string.
    pub const fn new() -> Self {
        Self(ByteString::new())
    }

    /// Validates `bytes` as an MQTT UTF-8 string without copying it.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        validate_string(&bytes)?;
        Ok(Self::from_validated(bytes))
    }

    /// Wraps bytes that [`validate_string`] accepted already, so that a
    /// decoded string is checked once, not once per layer.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert_eq!(validate_string(&bytes), Ok(()));
        // `ByteString` checks UTF-8 once more (for the common ASCII string, one
        // `is_ascii` pass), which is what lets `as_str` skip it on every read; the
        // fallback is unreachable for validated bytes.
        Self(ByteString::try_from(bytes).unwrap_or_default())
    }

    /// A string from a `'static` literal, validated, without copying.
    pub fn from_static(s: &'static str) -> Result<Self, EncodeError> {
        Self::from_bytes(Bytes::from_static(s.as_bytes())).map_err(|_| EncodeError::InvalidString)
    }

    /// The string, without a second UTF-8 check: it is held as a
    /// [`ByteString`], checked once on construction.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The raw bytes, without the length prefix.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<&str> for MqttString {
    type Error = EncodeError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::from_bytes(Bytes::copy_from_slice(value.as_bytes()))
            .map_err(|_| EncodeError::InvalidString)
    }
}

impl TryFrom<alloc::string::String> for MqttString {
    type Error = EncodeError;

    fn try_from(value: alloc::string::String) -> Result<Self, Self::Error> {
        Self::from_bytes(Bytes::from(value.into_bytes())).map_err(|_| EncodeError::InvalidString)
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

/// Checks the rules every MQTT UTF-8 string obeys.
#[inline]
pub(crate) fn validate_string(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() > MAX_STRING_LEN {
        return Err(DecodeError::StringTooLong);
    }
    // The common string (a client id, a content type, a user property) is
    // ASCII without U+0000, which satisfies both rules below; one pass over
    // the bytes proves it without decoding UTF-8 or searching for NUL.
    if is_ascii_without_nul(bytes) {
        return Ok(());
    }
    validate_string_slow(bytes)
}

/// Whether every byte is in 0x01..=0x7F, eight bytes at a time.
#[inline]
pub(crate) fn is_ascii_without_nul(bytes: &[u8]) -> bool {
    mqttkit_topic::or_over_words(bytes, non_ascii_or_nul) == 0
}

/// Non-zero when one of the eight bytes of `chunk` is 0 or above 0x7F.
#[inline]
fn non_ascii_or_nul(chunk: [u8; 8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(chunk);
    // The high bit of a byte above 0x7F, or of a zero byte: a borrow of
    // `x - ONES` only starts at a zero byte, so without one none is set.
    (x | (x.wrapping_sub(ONES) & !x)) & HIGH
}

#[cold]
fn validate_string_slow(bytes: &[u8]) -> Result<(), DecodeError> {
    // v5 [MQTT-1.5.4-1], v3.1.1 [MQTT-1.5.3-1]: well-formed UTF-8, no surrogates.
    core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
    // v5 [MQTT-1.5.4-2], v3.1.1 [MQTT-1.5.3-2]: no U+0000.
    if bytes.contains(&0) {
        return Err(DecodeError::NullCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_bits_round_trip_and_3_is_reserved() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            assert_eq!(QoS::from_bits(qos.bits()), Some(qos));
        }
        assert_eq!(QoS::from_bits(3), None);
    }

    /// v5 [MQTT-2.2.1-3], v3.1.1 [MQTT-2.3.1-1]: packet identifier zero does not exist.
    #[test]
    fn v5_mqtt_2_2_1_3_packet_id_zero_is_unrepresentable() {
        assert_eq!(PacketId::new(0), None);
        assert_eq!(PacketId::new(7).map(PacketId::get), Some(7));
    }

    /// v5 [MQTT-1.5.4-1], [MQTT-1.5.4-2], [MQTT-1.5.4-3].
    #[test]
    fn v5_mqtt_1_5_4_string_rules() {
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(b"\xED\xA0\x80")),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(b"a\0b")),
            Err(DecodeError::NullCharacter)
        );
        let bom = MqttString::from_bytes(Bytes::from_static(b"\xEF\xBB\xBFx")).unwrap();
        assert_eq!(bom.as_str(), "\u{FEFF}x");
        let long = alloc::vec![b'a'; MAX_STRING_LEN + 1];
        assert_eq!(
            MqttString::from_bytes(Bytes::from(long)),
            Err(DecodeError::StringTooLong)
        );
    }

    /// The word-at-a-time check agrees with a byte loop for every byte value
    /// at every position of every length up to three words.
    #[test]
    #[allow(clippy::indexing_slicing)]
    fn ascii_without_nul_agrees_with_a_byte_loop() {
        assert!(is_ascii_without_nul(b""));
        for len in 1..=24 {
            for pos in 0..len {
                for b in 0..=u8::MAX {
                    let mut bytes = alloc::vec![b'a'; len];
                    bytes[pos] = b;
                    let naive = bytes.iter().all(|&b| b != 0 && b < 0x80);
                    assert_eq!(is_ascii_without_nul(&bytes), naive, "{bytes:?}");
                }
            }
        }
    }
}
