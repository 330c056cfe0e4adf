//! Topic filters: what a SUBSCRIBE asks for (§4.7, §3.8.3).

use alloc::string::String;
use bytes::Bytes;
use bytestring::ByteString;
use core::fmt;
use core::str::FromStr;

use crate::{TopicError, TopicNameRef, validate};

/// A validated topic filter (§4.7): 1 to 65,535 bytes of well-formed UTF-8, without
/// U+0000, where `+` occupies a whole level and `#` only the whole last level.
///
/// It wraps [`Bytes`], so a filter decoded from a packet is a zero-copy slice of the
/// packet, and cloning it is a reference-count increment. A `$share/{ShareName}/...`
/// string is a valid filter too; [`crate::SharedSubscription::parse`] splits it (v5).
///
/// ```
/// use mqttkit_topic::TopicFilter;
/// let filter = TopicFilter::from_static("sensors/+/temp")?;
/// assert_eq!(filter.levels().collect::<Vec<_>>(), ["sensors", "+", "temp"]);
/// assert!(filter.has_wildcards());
/// assert!(TopicFilter::from_static("sensors/kitchen+").is_err());
/// # Ok::<(), mqttkit_topic::TopicError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(ByteString);

impl TopicFilter {
    /// Validates `bytes` as a topic filter without copying them.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule the bytes break.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        validate::owned(bytes, validate::filter_rules).map(Self)
    }

    /// Validates a static string as a topic filter without copying it.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule the string breaks.
    pub fn from_static(s: &'static str) -> Result<Self, TopicError> {
        Self::from_bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The filter as text, without a second UTF-8 check: the bytes are held as a
    /// [`ByteString`], checked once on construction.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The filter's bytes (UTF-8).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The text, for slicing without a copy.
    pub(crate) fn as_byte_string(&self) -> &ByteString {
        &self.0
    }

    /// The borrowed form of this filter.
    #[must_use]
    pub fn as_filter_ref(&self) -> TopicFilterRef<'_> {
        TopicFilterRef(self.as_str())
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

    /// Always false: a topic filter has at least one byte. Present because clippy expects
    /// `is_empty` beside `len`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topic levels, split on `/`; `"/a"` has the levels `""` and `"a"`.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.as_str().split('/')
    }

    /// True when the first level starts with `$` (for example `$SYS/#`): only such
    /// filters can match topic names beginning with `$`, v5 [MQTT-4.7.2-1].
    #[must_use]
    pub fn is_dollar(&self) -> bool {
        self.0.starts_with('$')
    }

    /// True when the filter contains `+` or `#`.
    #[must_use]
    pub fn has_wildcards(&self) -> bool {
        validate::has_wildcards(self.0.as_bytes())
    }
}

impl TryFrom<&str> for TopicFilter {
    type Error = TopicError;
    /// Validates and copies `s`.
    fn try_from(s: &str) -> Result<Self, TopicError> {
        TopicFilterRef::new(s).map(|filter| filter.to_owned_filter())
    }
}

impl TryFrom<String> for TopicFilter {
    type Error = TopicError;
    /// Validates `s`, reusing its allocation.
    fn try_from(s: String) -> Result<Self, TopicError> {
        Self::from_bytes(Bytes::from(s))
    }
}

impl TryFrom<Bytes> for TopicFilter {
    type Error = TopicError;
    fn try_from(bytes: Bytes) -> Result<Self, TopicError> {
        Self::from_bytes(bytes)
    }
}

impl FromStr for TopicFilter {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, TopicError> {
        Self::try_from(s)
    }
}

impl AsRef<str> for TopicFilter {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TopicFilter").field(&self.as_str()).finish()
    }
}

/// A validated topic filter borrowed from somewhere else; see [`TopicFilter`] for the rules.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TopicFilterRef<'a>(&'a str);

impl<'a> TopicFilterRef<'a> {
    /// Validates `s` as a topic filter.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule `s` breaks.
    pub fn new(s: &'a str) -> Result<Self, TopicError> {
        validate::topic_filter(s.as_bytes())?;
        Ok(Self(s))
    }

    /// Validates UTF-8 bytes as a topic filter.
    ///
    /// # Errors
    /// The [`TopicError`] naming the first rule the bytes break.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, TopicError> {
        validate::topic_filter(bytes)?;
        // Valid UTF-8 once validated, so the error is unreachable.
        core::str::from_utf8(bytes)
            .map(Self)
            .map_err(|_| TopicError::InvalidUtf8)
    }

    /// The filter as text.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The filter's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    /// An owned copy.
    #[must_use]
    pub fn to_owned_filter(&self) -> TopicFilter {
        TopicFilter(ByteString::from(self.0))
    }

    /// Length in bytes (never 0).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; see [`TopicFilter::is_empty`].
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topic levels, split on `/`.
    pub fn levels(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.0.split('/')
    }

    /// True when the first level starts with `$`; see [`TopicFilter::is_dollar`].
    #[must_use]
    pub fn is_dollar(&self) -> bool {
        self.0.starts_with('$')
    }

    /// True when the filter contains `+` or `#`.
    #[must_use]
    pub fn has_wildcards(&self) -> bool {
        validate::has_wildcards(self.0.as_bytes())
    }

    /// A topic name is always a valid filter without wildcards.
    pub(crate) fn from_name(name: TopicNameRef<'a>) -> Self {
        Self(name.as_str())
    }
}

impl<'a> TryFrom<&'a str> for TopicFilterRef<'a> {
    type Error = TopicError;
    fn try_from(s: &'a str) -> Result<Self, TopicError> {
        Self::new(s)
    }
}

impl<'a> From<&'a TopicFilter> for TopicFilterRef<'a> {
    fn from(filter: &'a TopicFilter) -> Self {
        filter.as_filter_ref()
    }
}

impl AsRef<str> for TopicFilterRef<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl fmt::Display for TopicFilterRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
