//! Why a topic name, topic filter or shared subscription was refused.

/// Spec statements enforced by [`TopicError::Empty`].
const RULE_EMPTY: &str = "v5 [MQTT-4.7.3-1], v3.1.1 [MQTT-4.7.3-1]";
/// Spec statements enforced by [`TopicError::TooLong`].
const RULE_TOO_LONG: &str = "v5 [MQTT-4.7.3-3], v3.1.1 [MQTT-4.7.3-3]";
/// Spec statements enforced by [`TopicError::NullCharacter`].
const RULE_NULL: &str = "v5 [MQTT-4.7.3-2] [MQTT-1.5.4-2], v3.1.1 [MQTT-4.7.3-2] [MQTT-1.5.3-2]";
/// Spec statements enforced by [`TopicError::InvalidUtf8`].
const RULE_UTF8: &str = "v5 [MQTT-1.5.4-1], v3.1.1 [MQTT-1.5.3-1]";
/// Spec statements enforced by [`TopicError::WildcardInTopicName`].
const RULE_WILDCARD_IN_NAME: &str =
    "v5 [MQTT-3.3.2-2] [MQTT-4.7.0-1], v3.1.1 [MQTT-3.3.2-2] [MQTT-4.7.1-1]";
/// Spec statements enforced by [`TopicError::PlusNotWholeLevel`].
const RULE_PLUS: &str = "v5 [MQTT-4.7.1-2], v3.1.1 [MQTT-4.7.1-3]";
/// Spec statements enforced by [`TopicError::HashNotWholeLastLevel`].
const RULE_HASH: &str = "v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]";
/// Spec statements enforced by [`TopicError::EmptyShareName`].
const RULE_EMPTY_SHARE_NAME: &str = "v5 [MQTT-4.8.2-1]";
/// Spec statements enforced by [`TopicError::InvalidShareName`] and
/// [`TopicError::EmptySharedFilter`].
const RULE_SHARE_NAME: &str = "v5 [MQTT-4.8.2-2]";

/// A topic name, topic filter or shared subscription broke one of the spec's rules.
///
/// Each variant's message and [`TopicError::rule`] name the statement it enforces, for
/// MQTT 5.0 and for MQTT 3.1.1 where the rule exists there. A receiver that finds one of
/// these in a packet treats the packet as malformed (v3.1.1) or answers with reason code
/// 0x8F Topic Filter invalid / 0x90 Topic Name invalid (v5), which is the codec's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic name or filter is zero bytes long.
    #[error("topic is empty, {RULE_EMPTY}")]
    Empty,
    /// The topic name or filter is longer than [`crate::MAX_TOPIC_LEN`] bytes.
    #[error("topic is longer than 65,535 bytes, {RULE_TOO_LONG}")]
    TooLong,
    /// The topic name or filter contains U+0000.
    #[error("topic contains the null character U+0000, {RULE_NULL}")]
    NullCharacter,
    /// The bytes are not well-formed UTF-8 (this includes encoded surrogates).
    #[error("topic is not well-formed UTF-8, {RULE_UTF8}")]
    InvalidUtf8,
    /// A topic name contains `+` or `#`.
    #[error("topic name contains a wildcard character, {RULE_WILDCARD_IN_NAME}")]
    WildcardInTopicName,
    /// A `+` in a topic filter shares its level with other characters.
    #[error("single-level wildcard '+' does not occupy an entire level, {RULE_PLUS}")]
    PlusNotWholeLevel,
    /// A `#` in a topic filter is not alone in the last level.
    #[error("multi-level wildcard '#' is not the whole last level, {RULE_HASH}")]
    HashNotWholeLastLevel,
    /// `$share/` is followed by an empty ShareName.
    #[error("shared subscription has an empty ShareName, {RULE_EMPTY_SHARE_NAME}")]
    EmptyShareName,
    /// The ShareName contains `+` or `#`.
    #[error("shared subscription ShareName contains '+' or '#', {RULE_SHARE_NAME}")]
    InvalidShareName,
    /// The ShareName is not followed by `/` and a non-empty topic filter.
    #[error("shared subscription has no topic filter after the ShareName, {RULE_SHARE_NAME}")]
    EmptySharedFilter,
}

impl TopicError {
    /// The spec statement id(s) this error enforces, per protocol version.
    ///
    /// For example `"v5 [MQTT-4.7.3-1], v3.1.1 [MQTT-4.7.3-1]"`. Shared subscription
    /// errors name only 5.0 statements: 3.1.1 has no shared subscriptions.
    #[must_use]
    pub const fn rule(&self) -> &'static str {
        match self {
            Self::Empty => RULE_EMPTY,
            Self::TooLong => RULE_TOO_LONG,
            Self::NullCharacter => RULE_NULL,
            Self::InvalidUtf8 => RULE_UTF8,
            Self::WildcardInTopicName => RULE_WILDCARD_IN_NAME,
            Self::PlusNotWholeLevel => RULE_PLUS,
            Self::HashNotWholeLastLevel => RULE_HASH,
            Self::EmptyShareName => RULE_EMPTY_SHARE_NAME,
            Self::InvalidShareName | Self::EmptySharedFilter => RULE_SHARE_NAME,
        }
    }
}
