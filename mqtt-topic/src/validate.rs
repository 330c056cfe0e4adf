//! The §4.7 rules, checked in one pass over the bytes.
//!
//! The common topic is plain ASCII without NUL or wildcards: one branch-free pass that
//! the compiler vectorises proves it valid, with no UTF-8 decode at all. Anything else
//! goes through `core::str::from_utf8` and then a rule pass that names the broken rule.
//! Because every byte the rules care about (`/`, `+`, `#`, NUL) is ASCII, checking bytes
//! of valid UTF-8 can never confuse them with a part of a multi-byte character.

use crate::TopicError;

/// Longest topic name or filter: the length prefix of a UTF-8 Encoded String is two
/// bytes, v5 [MQTT-4.7.3-3], v3.1.1 [MQTT-4.7.3-3].
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Length and encoding rules shared by names and filters; returns the text.
fn check_string(bytes: &[u8]) -> Result<&str, TopicError> {
    // "All Topic Names and Topic Filters MUST be at least one character long"
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    // "they MUST NOT encode to more than 65,535 bytes"; checked before UTF-8 so an
    // oversized input costs nothing more than its length.
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    // "MUST be well-formed UTF-8 ... MUST NOT include encodings of code points between
    // U+D800 and U+DFFF": `from_utf8` rejects surrogates and overlong forms.
    core::str::from_utf8(bytes).map_err(|_| TopicError::InvalidUtf8)
}

/// True when every byte is ASCII other than NUL, `+` and `#`, and the length is
/// allowed: such bytes are a valid topic name and a valid filter without wildcards.
#[inline]
fn plain(bytes: &[u8]) -> bool {
    let special = bytes.iter().fold(false, |found, &b| {
        found | (b >= 0x80) | (b == 0) | (b == b'+') | (b == b'#')
    });
    !special && !bytes.is_empty() && bytes.len() <= MAX_TOPIC_LEN
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
