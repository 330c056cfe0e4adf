//! Shared subscriptions: `$share/{ShareName}/{filter}` (v5 §4.8.2).
//!
//! Shared subscriptions exist only in MQTT 5.0. In 3.1.1 a filter starting with
//! `$share/` is an ordinary filter, so whether to call [`SharedSubscription::parse`] is
//! the caller's choice, made from the negotiated protocol version.

use bytestring::ByteString;

use crate::{TopicError, TopicFilter, TopicFilterRef};

/// The prefix that marks a shared subscription, including its separator.
const SHARE_PREFIX: &str = "$share/";

/// Splits the text after `$share/` into ShareName and filter, checking §4.8.2.
fn split_shared(filter: &str) -> Result<Option<(&str, &str)>, TopicError> {
    let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else {
        // `$share` alone and `$sharex/a` are ordinary filters.
        return Ok(None);
    };
    let (share_name, topic_filter) = rest.split_once('/').unwrap_or((rest, ""));
    // "MUST contain a ShareName that is at least one character long"
    if share_name.is_empty() {
        return Err(TopicError::EmptyShareName);
    }
    // "The ShareName MUST NOT contain the characters "/", "+" or "#"": it cannot hold
    // a '/' by construction (we split at the first one).
    if share_name.contains(['+', '#']) {
        return Err(TopicError::InvalidShareName);
    }
    // "but MUST be followed by a "/" character. This "/" character MUST be followed by
    // a Topic Filter": a filter is at least one character long.
    if topic_filter.is_empty() {
        return Err(TopicError::EmptySharedFilter);
    }
    Ok(Some((share_name, topic_filter)))
}

/// A parsed shared subscription `$share/{ShareName}/{filter}`; both parts are zero-copy
/// slices of the original filter.
///
/// ```
/// use mqttkit_topic::{SharedSubscription, TopicFilter};
/// let filter = TopicFilter::from_static("$share/workers/jobs/+")?;
/// let shared = SharedSubscription::parse(&filter)?.expect("a shared subscription");
/// assert_eq!(shared.share_name(), "workers");
/// assert_eq!(shared.filter().as_str(), "jobs/+");
/// # Ok::<(), mqttkit_topic::TopicError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct SharedSubscription {
    /// Without `/`, `+`, `#`, never empty.
    share_name: ByteString,
    /// The filter after the ShareName.
    filter: TopicFilter,
}

impl SharedSubscription {
    /// Parses `filter` as a shared subscription.
    ///
    /// Returns `Ok(None)` when the filter does not start with `$share/`.
    ///
    /// # Errors
    /// When it does, but the ShareName is empty ([`TopicError::EmptyShareName`], v5
    /// [MQTT-4.8.2-1]) or contains `+` or `#` ([`TopicError::InvalidShareName`], v5
    /// [MQTT-4.8.2-2]), or no topic filter follows it
    /// ([`TopicError::EmptySharedFilter`], v5 [MQTT-4.8.2-2]).
    pub fn parse(filter: &TopicFilter) -> Result<Option<Self>, TopicError> {
        let text = filter.as_str();
        let Some((share_name, topic_filter)) = split_shared(text)? else {
            return Ok(None);
        };
        let whole = filter.as_byte_string();
        // The filter part is a whole-level suffix of a valid filter, so it is valid; it
        // is checked again anyway because the check is cheap and keeps the invariant
        // local to the type.
        let topic_filter = TopicFilter::from_bytes(whole.slice_ref(topic_filter).into_bytes())?;
        Ok(Some(Self {
            share_name: whole.slice_ref(share_name),
            filter: topic_filter,
        }))
    }

    /// The ShareName, the group of sessions that share the messages.
    #[must_use]
    pub fn share_name(&self) -> &str {
        &self.share_name
    }

    /// The topic filter that the group subscribes to.
    #[must_use]
    pub fn filter(&self) -> &TopicFilter {
        &self.filter
    }

    /// The borrowed form.
    #[must_use]
    pub fn as_shared_ref(&self) -> SharedSubscriptionRef<'_> {
        SharedSubscriptionRef {
            share_name: self.share_name(),
            filter: self.filter.as_filter_ref(),
        }
    }
}

/// The borrowed form of [`SharedSubscription`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SharedSubscriptionRef<'a> {
    /// Never empty; without `/`, `+`, `#`.
    share_name: &'a str,
    /// The filter after the ShareName.
    filter: TopicFilterRef<'a>,
}

impl<'a> SharedSubscriptionRef<'a> {
    /// Parses `filter` as a shared subscription; see [`SharedSubscription::parse`].
    ///
    /// # Errors
    /// As [`SharedSubscription::parse`].
    pub fn parse(filter: TopicFilterRef<'a>) -> Result<Option<Self>, TopicError> {
        let Some((share_name, topic_filter)) = split_shared(filter.as_str())? else {
            return Ok(None);
        };
        Ok(Some(Self {
            share_name,
            filter: TopicFilterRef::new(topic_filter)?,
        }))
    }

    /// The ShareName.
    #[must_use]
    pub fn share_name(&self) -> &'a str {
        self.share_name
    }

    /// The topic filter that the group subscribes to.
    #[must_use]
    pub fn filter(&self) -> TopicFilterRef<'a> {
        self.filter
    }
}
