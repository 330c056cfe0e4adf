//! Matching one topic filter against one topic name (§4.7.1, §4.7.2).

use crate::{TopicFilter, TopicFilterRef, TopicName, TopicNameRef};

/// True when `filter` matches `topic`.
///
/// - `+` matches exactly one level, which may be empty (`a/+` matches `a/`).
/// - `#` matches the parent level and any number of child levels (`sport/#` matches
///   `sport`), v5 [MQTT-4.7.1-1].
/// - A filter starting with `+` or `#` never matches a topic whose first level starts
///   with `$`, v5 [MQTT-4.7.2-1]; only the first level counts, so `a/$b` is ordinary.
/// - Levels are compared byte for byte, without normalisation, v5 [MQTT-4.7.3-4].
///
/// ```
/// use mqttkit_topic::{matches, TopicFilterRef, TopicNameRef};
/// let f = |s| TopicFilterRef::new(s).unwrap();
/// let t = |s| TopicNameRef::new(s).unwrap();
/// assert!(matches(f("sport/#"), t("sport")));
/// assert!(matches(f("+/+"), t("/finance")));
/// assert!(!matches(f("#"), t("$SYS/uptime")));
/// ```
#[must_use]
pub fn matches(filter: TopicFilterRef<'_>, topic: TopicNameRef<'_>) -> bool {
    matches_str(filter.as_str(), topic.as_str())
}

/// [`matches()`] on unvalidated text.
///
/// Never panics, whatever the input. On invalid input the answer is that of the level
/// rules applied literally: a `+` or `#` that does not fill a level is an ordinary
/// character, and a `#` before the last level matches everything below it.
#[must_use]
pub fn matches_str(filter: &str, topic: &str) -> bool {
    // "The Server MUST NOT match Topic Filters starting with a wildcard character (# or
    // +) with Topic Names beginning with a $ character"
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for filter_level in filter.split('/') {
        if filter_level == "#" {
            // "#" also matches the parent: `sport/#` matches `sport`.
            return true;
        }
        let Some(topic_level) = topic_levels.next() else {
            return false;
        };
        if filter_level != "+" && filter_level != topic_level {
            return false;
        }
    }
    topic_levels.next().is_none()
}

impl TopicFilter {
    /// True when this filter matches `topic`; see [`matches()`].
    #[must_use]
    pub fn matches(&self, topic: &TopicName) -> bool {
        matches_str(self.as_str(), topic.as_str())
    }
}

impl TopicFilterRef<'_> {
    /// True when this filter matches `topic`; see [`matches()`].
    #[must_use]
    pub fn matches(&self, topic: TopicNameRef<'_>) -> bool {
        matches(*self, topic)
    }
}
