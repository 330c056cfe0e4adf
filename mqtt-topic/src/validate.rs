//! The §4.7 rules, checked in one pass over the bytes.
//!
//! The common topic is plain ASCII without NUL or wildcards: one branch-free pass that
//! the compiler vectorises proves it valid, with no UTF-8 decode at all. Anything else
//! goes through `core::str::from_utf8` and then a rule pass that names the broken rule.
//! Because every byte the rules care about (`/`, `+`, `#`, NUL) is ASCII, checking bytes
//! of valid UTF-8 can never confuse them with a part of a multi-byte character.

use bytes::Bytes;
use bytestring::ByteString;

use crate::TopicError;

/// Longest topic name or filter: the length prefix of a UTF-8 Encoded String is two
/// bytes, v5 [MQTT-4.7.3-3], v3.1.1 [MQTT-4.7.3-3].
pub const MAX_TOPIC_LEN: usize = 65_535;

/// The length rules shared by names and filters.
fn check_length(bytes: &[u8]) -> Result<(), TopicError> {
    // "All Topic Names and Topic Filters MUST be at least one character long"
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    // "they MUST NOT encode to more than 65,535 bytes"; checked before UTF-8 so an
    // oversized input costs nothing more than its length.
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    Ok(())
}

/// Length and encoding rules shared by names and filters; returns the text.
fn check_string(bytes: &[u8]) -> Result<&str, TopicError> {
    check_length(bytes)?;
    // "MUST be well-formed UTF-8 ... MUST NOT include encodings of code points between
    // U+D800 and U+DFFF": `from_utf8` rejects surrogates and overlong forms.
    core::str::from_utf8(bytes).map_err(|_| TopicError::InvalidUtf8)
}

/// Checks owned bytes against `rules` (applied to well-formed UTF-8 only) and keeps
/// them as text, so that reading them as `&str` later costs nothing: UTF-8 is checked
/// once, by [`ByteString`], and for the common plain-ASCII topic that check is a pass
/// of `is_ascii` after the word-at-a-time one.
pub(crate) fn owned(
    bytes: Bytes,
    rules: fn(&[u8]) -> Result<(), TopicError>,
) -> Result<ByteString, TopicError> {
    let plain = plain(&bytes);
    if !plain {
        check_length(&bytes)?;
    }
    // The same rule as `check_string`: well-formed UTF-8 without surrogates.
    let text = ByteString::try_from(bytes).map_err(|_| TopicError::InvalidUtf8)?;
    if !plain {
        rules(text.as_bytes())?;
    }
    Ok(text)
}

/// Eight `a`s, the padding of a short string: a byte no check flags.
const PADDING: u64 = 0x6161_6161_6161_6161;

/// One word holding every byte of `bytes` (1 to 7 of them), read without a byte
/// loop or a `memcpy`: from four to seven bytes, the first four and the last four,
/// which overlap; from one to three, the first, middle and last byte padded with
/// `a`. Bytes may appear twice, which changes no or of per-byte flags.
#[inline]
fn short_word(bytes: &[u8]) -> u64 {
    let four = |chunk: Option<&[u8; 4]>| chunk.map_or(0, |c| u64::from(u32::from_le_bytes(*c)));
    if bytes.len() >= 4 {
        four(bytes.first_chunk::<4>()) | four(bytes.last_chunk::<4>()).wrapping_shl(32)
    } else {
        let byte = |i: usize| bytes.get(i).map_or(0x61, |&b| u64::from(b));
        let len = bytes.len();
        (PADDING & !0xFF_FFFF)
            | byte(0)
            | byte(len / 2).wrapping_shl(8)
            | byte(len.saturating_sub(1)).wrapping_shl(16)
    }
}

/// The bitwise or of `flag` over `bytes` read eight at a time: a short or ragged end
/// is read as one more word, overlapping the previous one or padded with `a`, so
/// `flag` must never flag an `a`. Strings here are typically 10 to 40 bytes, too
/// short for a vectorised byte loop to pay off.
///
/// Shared with `mqttkit-codec`'s string check; not part of the stable API.
#[doc(hidden)]
#[inline]
pub fn or_over_words(bytes: &[u8], flag: impl Fn([u8; 8]) -> u64) -> u64 {
    let (words, tail) = bytes.as_chunks::<8>();
    let mut found = words.iter().fold(0, |found, word| found | flag(*word));
    if !tail.is_empty() {
        found |= match bytes.last_chunk::<8>() {
            Some(last) => flag(*last),
            None => flag(short_word(tail).to_le_bytes()),
        };
    }
    found
}

/// True when every byte is ASCII other than NUL, `+` and `#`, and the length is
/// allowed: such bytes are a valid topic name and a valid filter without wildcards.
#[inline]
fn plain(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len() <= MAX_TOPIC_LEN && or_over_words(bytes, special_bytes) == 0
}

/// Non-zero when one of the eight bytes of `chunk` is non-ASCII, NUL, `+` or `#`.
#[inline]
fn special_bytes(chunk: [u8; 8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const PLUS: u64 = 0x2B2B_2B2B_2B2B_2B2B;
    const HASH: u64 = 0x2323_2323_2323_2323;
    // The high bit of each byte that is zero. Exact as a whole: a borrow only starts
    // at a zero byte, so without one no bit is set.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let x = u64::from_le_bytes(chunk);
    (x & HIGH) | zero(x) | zero(x ^ PLUS) | zero(x ^ HASH)
}

/// True when `bytes` contains NUL, `+` or `#`.
///
/// Written without an early exit so that the compiler vectorises it: on valid input
/// (the common case) it is the whole rule check, and the byte-by-byte loops that name
/// the offending rule run only when it finds something.
#[inline]
fn has_special(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &b| {
        found | (b == 0) | (b == b'+') | (b == b'#')
    })
}

/// Checks a topic name (§4.7).
pub(crate) fn topic_name(bytes: &[u8]) -> Result<(), TopicError> {
    if plain(bytes) {
        return Ok(());
    }
    check_string(bytes)?;
    name_rules(bytes)
}

/// The rules of a topic name beyond length and UTF-8, on well-formed UTF-8.
pub(crate) fn name_rules(bytes: &[u8]) -> Result<(), TopicError> {
    if !has_special(bytes) {
        return Ok(());
    }
    for &b in bytes {
        match b {
            // "Topic Names and Topic Filters MUST NOT include the null character"
            0 => return Err(TopicError::NullCharacter),
            // "The Topic Name in the PUBLISH packet MUST NOT contain wildcard characters"
            b'+' | b'#' => return Err(TopicError::WildcardInTopicName),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a topic filter (§4.7).
pub(crate) fn topic_filter(bytes: &[u8]) -> Result<(), TopicError> {
    if plain(bytes) {
        return Ok(());
    }
    check_string(bytes)?;
    filter_rules(bytes)
}

/// The rules of a topic filter beyond length and UTF-8, on well-formed UTF-8.
pub(crate) fn filter_rules(bytes: &[u8]) -> Result<(), TopicError> {
    if !has_special(bytes) {
        return Ok(());
    }
    // A wildcard must start a level: the byte before it is a separator, or it is first.
    let mut previous = b'/';
    let mut rest = bytes.iter().copied().peekable();
    while let Some(b) = rest.next() {
        match b {
            0 => return Err(TopicError::NullCharacter),
            // "Where it is used, it MUST occupy an entire level of the filter"
            b'+' if previous != b'/' || !matches!(rest.peek(), None | Some(b'/')) => {
                return Err(TopicError::PlusNotWholeLevel);
            }
            // "MUST be specified either on its own or following a topic level separator.
            // In either case it MUST be the last character specified in the Topic Filter"
            b'#' if previous != b'/' || rest.peek().is_some() => {
                return Err(TopicError::HashNotWholeLastLevel);
            }
            _ => {}
        }
        previous = b;
    }
    Ok(())
}

/// True when a validated filter contains `+` or `#`.
pub(crate) fn has_wildcards(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b == b'+' || b == b'#')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    use super::*;

    /// The word-at-a-time check agrees with a byte-by-byte one for every byte value
    /// at every position of every length up to three words, whole or ragged.
    #[test]
    fn plain_agrees_with_a_byte_loop() {
        let naive = |bytes: &[u8]| {
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|&b| b != 0 && b < 0x80 && b != b'+' && b != b'#')
        };
        assert!(!plain(b""));
        for len in 1..=24 {
            for pos in 0..len {
                for b in 0..=u8::MAX {
                    let mut bytes = alloc::vec![b'a'; len];
                    bytes[pos] = b;
                    assert_eq!(plain(&bytes), naive(&bytes), "{bytes:?}");
                }
            }
        }
        assert!(plain(&[b'a'; MAX_TOPIC_LEN]));
        assert!(!plain(&[b'a'; MAX_TOPIC_LEN + 1]));
    }
}
