//! Filter containment: does one filter match every topic another filter matches?
//!
//! ACLs ask it ("may this client subscribe to `B` when it is allowed `A`?") and brokers
//! that merge overlapping subscriptions ask it too.

use crate::{TopicFilter, TopicFilterRef};

/// True when every topic name that `b` matches is also matched by `a`.
///
/// `#` covers every filter whose first level does not start with `$` (it does not
/// cover `$SYS/#`, v5 [MQTT-4.7.2-1]); `a/+` covers `a/b`; `a/#` covers `a` and `a/#`;
/// `+` does not cover `#`.
///
/// ```
/// use mqttkit_topic::{covers, TopicFilterRef};
/// let f = |s| TopicFilterRef::new(s).unwrap();
/// assert!(covers(f("#"), f("a/+/c")));
/// assert!(covers(f("a/#"), f("a")));
/// assert!(!covers(f("#"), f("$SYS/x")));
/// assert!(!covers(f("a/+"), f("a/#")));
/// ```
#[must_use]
pub fn covers(a: TopicFilterRef<'_>, b: TopicFilterRef<'_>) -> bool {
    covers_str(a.as_str(), b.as_str())
}

/// True when the first level of a filter is a wildcard.
fn starts_with_wildcard(filter: &str) -> bool {
    filter.starts_with('+') || filter.starts_with('#')
}

/// [`covers`] on text assumed to be valid filters.
fn covers_str(a: &str, b: &str) -> bool {
    // A filter whose first level is a literal starting with `$` matches only `$` topics,
    // and a filter starting with a wildcard matches none of them.
    if starts_with_wildcard(a) && b.starts_with('$') {
        return false;
    }
    let mut a_levels = a.split('/');
    let mut b_levels = b.split('/');
    loop {
        match (a_levels.next(), b_levels.next()) {
            // `a/#` matches everything under `a`, and `a` itself.
            (Some("#"), _) => return true,
            // Both ended together: same depth, and every level was covered.
            (None, None) => return true,
            // B ended where A still has a level that is not `#` (the first arm took a
            // final `#`, which matches B's topics as their parent): A needs more levels.
            // Or B goes deeper where A ended.
            (Some(_), None) | (None, Some(_)) => return false,
            // A `#` in B matches its parent level and arbitrarily deep topics, which
            // only a `#` in A covers. One exception: when the parent is not a topic
            // name, `+/#` covers it too. `#` alone has no parent level, and the parent
            // of `/#` is the empty string, which is not a valid topic name either
            // (v5 [MQTT-4.7.3-1]); so B matches only topics one level deeper.
            (Some(a_level), Some("#")) => {
                return a_level == "+"
                    && (b == "#" || b == "/#")
                    && a_levels.next() == Some("#")
                    && a_levels.next().is_none();
            }
            (Some("+"), Some(_)) => {}
            (Some(a_level), Some(b_level)) => {
                if a_level != b_level {
                    return false;
                }
            }
        }
    }
}

impl TopicFilter {
    /// True when this filter matches every topic that `other` matches; see [`covers`].
    #[must_use]
    pub fn covers(&self, other: &TopicFilter) -> bool {
        covers_str(self.as_str(), other.as_str())
    }
}

impl TopicFilterRef<'_> {
    /// True when this filter matches every topic that `other` matches; see [`covers`].
    #[must_use]
    pub fn covers(&self, other: TopicFilterRef<'_>) -> bool {
        covers(*self, other)
    }
}
