//! Topic names: what a PUBLISH is sent to (§4.7, §3.3.2.1).

use alloc::string::String;
use bytes::Bytes;
use bytestring::ByteString;
use core::fmt;
use core::str::FromStr;

use crate::{TopicError, TopicFilterRef, validate};

/// A validated topic name (§4.7): 1 to 65,535 bytes of well-formed UTF-8, without
/// U+0000 and without the wildcard characters `+` and `#`.
///
/// It wraps [`Bytes`], so a name decoded from a packet is a zero-copy slice of the
/// packet, and cloning it is a reference-count increment.
///
/// ```
/// use mqttkit_topic::TopicName;
/// let name = TopicName::from_static("sensors/kitchen/temp")?;
/// assert_eq!(name.levels().collect::<Vec<_>>(), ["sensors", "kitchen", "temp"]);
/// assert!(TopicName::from_static("sensors/+").is_err());
/// # Ok::<(), mqttkit_topic::TopicError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(ByteString);

impl TopicName {
    /// Validates `bytes` as a topic name without copying them.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule the bytes break.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        validate::owned(bytes, validate::name_rules).map(Self)
    }

    /// Validates a static string as a topic name without copying it.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule the string breaks.
    pub fn from_static(s: &'static str) -> Result<Self, TopicError> {
        Self::from_bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The name as text, without a second UTF-8 check: the bytes are held as a
    /// [`ByteString`], checked once on construction.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes (UTF-8).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The borrowed form of this name.
    #[must_use]
    pub fn as_topic_ref(&self) -> TopicNameRef<'_> {
        TopicNameRef(self.as_str())
    }

    /// The underlying bytes, without copying.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// Length in bytes (never 0).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a topic name has at least one byte. Present because clippy expects
    /// `is_empty` beside `len`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topic levels, split on `/`; `"/a"` has the levels `""` and `"a"`.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.as_str().split('/')
    }

    /// True when the first level starts with `$` (for example `$SYS/uptime`): such
    /// names are not matched by filters starting with a wildcard, v5 [MQTT-4.7.2-1].
    #[must_use]
    pub fn is_dollar(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl TryFrom<&str> for TopicName {
    type Error = TopicError;
    /// Validates and copies `s`.
    fn try_from(s: &str) -> Result<Self, TopicError> {
        TopicNameRef::new(s).map(|name| name.to_owned_name())
    }
}

impl TryFrom<String> for TopicName {
    type Error = TopicError;
    /// Validates `s`, reusing its allocation.
    fn try_from(s: String) -> Result<Self, TopicError> {
        Self::from_bytes(Bytes::from(s))
    }
}

impl TryFrom<Bytes> for TopicName {
    type Error = TopicError;
    fn try_from(bytes: Bytes) -> Result<Self, TopicError> {
        Self::from_bytes(bytes)
    }
}

impl FromStr for TopicName {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, TopicError> {
        Self::try_from(s)
    }
}

impl AsRef<str> for TopicName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TopicName").field(&self.as_str()).finish()
    }
}

/// A validated topic name borrowed from somewhere else; see [`TopicName`] for the rules.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TopicNameRef<'a>(&'a str);

impl<'a> TopicNameRef<'a> {
    /// Validates `s` as a topic name.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule `s` breaks.
    pub fn new(s: &'a str) -> Result<Self, TopicError> {
        validate::topic_name(s.as_bytes())?;
        Ok(Self(s))
    }

    /// Validates UTF-8 bytes as a topic name.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule the bytes break.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, TopicError> {
        validate::topic_name(bytes)?;
        // Valid UTF-8 once validated, so the error is unreachable.
        core::str::from_utf8(bytes)
            .map(Self)
            .map_err(|_| TopicError::InvalidUtf8)
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The name's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    /// An owned copy.
    #[must_use]
    pub fn to_owned_name(&self) -> TopicName {
        TopicName(ByteString::from(self.0))
    }

    /// Length in bytes (never 0).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; see [`TopicName::is_empty`].
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topic levels, split on `/`.
    pub fn levels(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.0.split('/')
    }

    /// True when the first level starts with `$`; see [`TopicName::is_dollar`].
    #[must_use]
    pub fn is_dollar(&self) -> bool {
        self.0.starts_with('$')
    }

    /// Reads this name as a filter: a valid name is always a valid filter without
    /// wildcards, which is how an exact subscription is looked up.
    #[must_use]
    pub fn as_filter_ref(&self) -> TopicFilterRef<'a> {
        TopicFilterRef::from_name(*self)
    }
}

impl<'a> TryFrom<&'a str> for TopicNameRef<'a> {
    type Error = TopicError;
    fn try_from(s: &'a str) -> Result<Self, TopicError> {
        Self::new(s)
    }
}

impl<'a> From<&'a TopicName> for TopicNameRef<'a> {
    fn from(name: &'a TopicName) -> Self {
        name.as_topic_ref()
    }
}

impl AsRef<str> for TopicNameRef<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl fmt::Display for TopicNameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
