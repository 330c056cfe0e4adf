//! The ACL file: ordered allow/deny rules for publish and subscribe.

use std::path::Path;

use mqttkit_tokio::mqttkit_session::mqttkit_topic::{
    SharedSubscriptionRef, TopicFilter, TopicFilterRef, TopicNameRef, covers, matches_str,
};

use super::error::{AuthFileError, LineError, entries, line_error, read};

/// What a client asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send a PUBLISH to a topic name.
    Publish,
    /// SUBSCRIBE with a topic filter (possibly `$share/{ShareName}/{filter}`).
    Subscribe,
}

/// Who asks: the user name from CONNECT (after authentication) and the client id
/// (the one the server assigned when the client sent none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The user name, when the client gave one.
    pub user: Option<&'a str>,
    /// The client identifier.
    pub client_id: &'a str,
}

/// Ordered allow/deny rules read from an ACL file.
///
/// Each rule is `allow|deny  publish|subscribe|all  user NAME | client ID | anyone
/// FILTER`. Rules are tried in order and the first one that applies decides; when
/// none applies, the action is denied. See the [module documentation](super) for
/// when a rule applies.
///
/// ```
/// use mqttkit_broker::auth::{Acl, Action, Identity};
///
/// let acl = Acl::parse(
///     "deny subscribe anyone public/secret/#\n\
///      allow all anyone public/#\n\
///      allow publish user alice sensors/%u/#\n",
///     "acl".as_ref(),
/// )?;
/// let alice = Identity { user: Some("alice"), client_id: "c1" };
/// assert!(acl.allows(&alice, Action::Publish, "sensors/alice/temp"));
/// assert!(!acl.allows(&alice, Action::Publish, "sensors/bob/temp"));
/// assert!(acl.allows(&alice, Action::Subscribe, "public/news/+"));
/// // `public/#` overlaps the denied `public/secret/#`.
/// assert!(!acl.allows(&alice, Action::Subscribe, "public/#"));
/// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Acl {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actions {
    Publish,
    Subscribe,
    All,
}

impl Actions {
    fn includes(self, action: Action) -> bool {
        match self {
            Actions::All => true,
            Actions::Publish => action == Action::Publish,
            Actions::Subscribe => action == Action::Subscribe,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Anyone,
    User(String),
    Client(String),
}

impl Subject {
    fn includes(&self, who: &Identity<'_>) -> bool {
        match self {
            Subject::Anyone => true,
            Subject::User(name) => who.user == Some(name.as_str()),
            Subject::Client(id) => who.client_id == id,
        }
    }
}

#[derive(Debug, Clone)]
enum RuleFilter {
    /// A filter without `%u` or `%c`, validated once.
    Fixed(TopicFilter),
    /// A filter with `%u` or `%c`, validated per identity after substitution.
    Pattern(String),
}

#[derive(Debug, Clone)]
struct Rule {
    verdict: Verdict,
    actions: Actions,
    subject: Subject,
    filter: RuleFilter,
}

/// What is being checked, validated once per call.
#[derive(Clone, Copy)]
enum Target<'a> {
    Topic(&'a str),
    Filter(&'a str),
}

impl Acl {
    /// Reads and parses the ACL file at `path`.
    ///
    /// # Errors
    /// [`AuthFileError::Io`] when it cannot be read, [`AuthFileError::Line`] for the
    /// first line that is not a valid rule (see [`Acl::parse`]).
    ///
    /// ```no_run
    /// use mqttkit_broker::auth::Acl;
    /// let acl = Acl::load("/etc/mqttkit/acl".as_ref())?;
    /// println!("{} rules", acl.len());
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self, AuthFileError> {
        Self::parse(&read(path)?, path)
    }

    /// Parses the text of an ACL file; `origin` names it in errors.
    ///
    /// A line whose first non-blank character is `#` is a comment (a `#` later in a
    /// line is part of the filter). The filter is the rest of the line after the
    /// subject, trimmed, so it may contain inner spaces; user names and client ids
    /// cannot.
    ///
    /// # Errors
    /// [`AuthFileError::Line`] for the first line with an unknown word, a missing
    /// field, or a filter that is not a valid MQTT topic filter.
    ///
    /// ```
    /// use mqttkit_broker::auth::Acl;
    /// let err = Acl::parse("allow all anyone a/#/b\n", "acl".as_ref()).unwrap_err();
    /// assert!(err.to_string().starts_with(r#"acl:1: invalid topic filter "a/#/b""#));
    /// ```
    pub fn parse(text: &str, origin: &Path) -> Result<Self, AuthFileError> {
        let mut rules = Vec::new();
        for (line_no, line) in entries(text) {
            let rule = parse_rule(line).map_err(|problem| line_error(origin, line_no, problem))?;
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// The number of rules.
    ///
    /// ```
    /// # use mqttkit_broker::auth::Acl;
    /// let acl = Acl::parse("# none\nallow all anyone #\n", "acl".as_ref())?;
    /// assert_eq!(acl.len(), 1);
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules (then everything is denied).
    ///
    /// ```
    /// # use mqttkit_broker::auth::{Acl, Action, Identity};
    /// let acl = Acl::parse("", "acl".as_ref())?;
    /// assert!(acl.is_empty());
    /// let who = Identity { user: None, client_id: "c" };
    /// assert!(!acl.allows(&who, Action::Publish, "a"));
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `who` may publish to the topic name, or subscribe with the topic
    /// filter, `topic_or_filter`.
    ///
    /// The first rule that applies decides; when none does, the answer is no. An
    /// invalid topic name or filter is refused. For a shared subscription
    /// `$share/{ShareName}/{filter}` the rules are checked against `{filter}`.
    /// Rules without `%u` and `%c` are checked without allocating.
    ///
    /// ```
    /// use mqttkit_broker::auth::{Acl, Action, Identity};
    ///
    /// let acl = Acl::parse("allow subscribe anyone jobs/#\n", "acl".as_ref())?;
    /// let who = Identity { user: None, client_id: "worker-1" };
    /// assert!(acl.allows(&who, Action::Subscribe, "$share/workers/jobs/+"));
    /// assert!(!acl.allows(&who, Action::Subscribe, "#"));
    /// assert!(!acl.allows(&who, Action::Publish, "jobs/1"));
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn allows(&self, who: &Identity<'_>, action: Action, topic_or_filter: &str) -> bool {
        let Some(target) = Target::new(action, topic_or_filter) else {
            return false;
        };
        for rule in &self.rules {
            if !rule.actions.includes(action) || !rule.subject.includes(who) {
                continue;
            }
            let applies = match &rule.filter {
                RuleFilter::Fixed(filter) => rule.verdict.applies(filter.as_str(), target),
                RuleFilter::Pattern(template) => substitute(template, who)
                    .is_some_and(|filter| rule.verdict.applies(&filter, target)),
            };
            if applies {
                return rule.verdict == Verdict::Allow;
            }
        }
        false
    }
}

impl<'a> Target<'a> {
    fn new(action: Action, text: &'a str) -> Option<Self> {
        match action {
            Action::Publish => TopicNameRef::new(text).ok().map(|_| Target::Topic(text)),
            Action::Subscribe => {
                let filter = TopicFilterRef::new(text).ok()?;
                let filter = match SharedSubscriptionRef::parse(filter).ok()? {
                    Some(shared) => shared.filter(),
                    None => filter,
                };
                Some(Target::Filter(filter.as_str()))
            }
        }
    }
}

impl Verdict {
    /// Whether a rule with this verdict and the (valid) filter `rule` applies.
    ///
    /// For a subscription, an allow rule must cover every topic the requested filter
    /// can match, while a deny rule stops any request that could receive one of its
    /// topics.
    fn applies(self, rule: &str, target: Target<'_>) -> bool {
        match (self, target) {
            (_, Target::Topic(topic)) => matches_str(rule, topic),
            (Verdict::Allow, Target::Filter(filter)) => filter_covers(rule, filter),
            (Verdict::Deny, Target::Filter(filter)) => filters_overlap(rule, filter),
        }
    }
}

/// Splits off the first whitespace-separated word of `s`.
fn next_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(char::is_whitespace).unwrap_or((s, "")))
}

fn parse_rule(line: &str) -> Result<Rule, LineError> {
    let (word, rest) = next_word(line).ok_or(LineError::Missing("verdict"))?;
    let verdict = match word {
        "allow" => Verdict::Allow,
        "deny" => Verdict::Deny,
        other => return Err(LineError::UnknownVerdict(other.to_owned())),
    };
    let (word, rest) = next_word(rest).ok_or(LineError::Missing("action"))?;
    let actions = match word {
        "publish" => Actions::Publish,
        "subscribe" => Actions::Subscribe,
        "all" => Actions::All,
        other => return Err(LineError::UnknownAction(other.to_owned())),
    };
    let (word, rest) = next_word(rest).ok_or(LineError::Missing("subject"))?;
    let (subject, rest) = match word {
        "anyone" => (Subject::Anyone, rest),
        "user" => {
            let (name, rest) = next_word(rest).ok_or(LineError::Missing("user name"))?;
            (Subject::User(name.to_owned()), rest)
        }
        "client" => {
            let (id, rest) = next_word(rest).ok_or(LineError::Missing("client id"))?;
            (Subject::Client(id.to_owned()), rest)
        }
        other => return Err(LineError::UnknownSubject(other.to_owned())),
    };
    let text = rest.trim();
    if text.is_empty() {
        return Err(LineError::Missing("topic filter"));
    }
    let bad_filter = |error| LineError::BadFilter {
        filter: text.to_owned(),
        error,
    };
    let filter = if text.contains("%u") || text.contains("%c") {
        // Any name that reaches the substitution has no `+`, `#` or `/`, so a filter
        // valid with a plain sample name is valid with every name (up to length).
        let sample = Identity {
            user: Some("u"),
            client_id: "c",
        };
        let substituted = substitute_unchecked(text, &sample);
        TopicFilterRef::new(&substituted).map_err(bad_filter)?;
        RuleFilter::Pattern(text.to_owned())
    } else {
        RuleFilter::Fixed(TopicFilter::try_from(text).map_err(bad_filter)?)
    };
    Ok(Rule {
        verdict,
        actions,
        subject,
        filter,
    })
}

/// A name that may be put into a filter: one whole, ordinary piece of a level.
///
/// A `/` would reach into another subtree, `+` or `#` would widen the filter, and an
/// empty name would let every client without one share a subtree.
fn substitutable(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '+', '#'])
}

/// The filter of a `%u`/`%c` rule for `who`, or `None` when the rule cannot apply
/// to `who`: a placeholder without a usable value, or a result that is not a valid
/// filter.
fn substitute(template: &str, who: &Identity<'_>) -> Option<String> {
    if template.contains("%u") && !who.user.is_some_and(substitutable) {
        return None;
    }
    if template.contains("%c") && !substitutable(who.client_id) {
        return None;
    }
    let filter = substitute_unchecked(template, who);
    // A name starting with `$` put at the front would turn the rule into one for
    // `$SYS`-like topics, which a wildcard rule never reaches (v5 [MQTT-4.7.2-1]).
    if filter.starts_with('$') && !template.starts_with('$') {
        return None;
    }
    TopicFilterRef::new(&filter).ok()?;
    Some(filter)
}

/// Replaces each `%u` by the user name and each `%c` by the client id; any other
/// `%` is kept.
fn substitute_unchecked(template: &str, who: &Identity<'_>) -> String {
    let mut out = String::with_capacity(template.len().saturating_add(32));
    let mut rest = template;
    while let Some((head, tail)) = rest.split_once('%') {
        out.push_str(head);
        if let Some(after) = tail.strip_prefix('u') {
            out.push_str(who.user.unwrap_or_default());
            rest = after;
        } else if let Some(after) = tail.strip_prefix('c') {
            out.push_str(who.client_id);
            rest = after;
        } else {
            out.push('%');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// True when the first level of a filter is a wildcard: such a filter matches no
/// topic starting with `$` (v5 [MQTT-4.7.2-1]).
fn starts_with_wildcard(filter: &str) -> bool {
    filter.starts_with('+') || filter.starts_with('#')
}

/// True when every topic name that the valid filter `f` matches is also matched by
/// the valid filter `r` (`f` is a subset of `r`).
pub(crate) fn filter_covers(r: &str, f: &str) -> bool {
    // The topic crate's containment check; the property tests below hold it to the
    // brute-force definition.
    match (TopicFilterRef::new(r), TopicFilterRef::new(f)) {
        (Ok(r), Ok(f)) => covers(r, f),
        _ => false,
    }
}

/// True when some valid topic name is matched by both valid filters `a` and `b`.
pub(crate) fn filters_overlap(a: &str, b: &str) -> bool {
    // A first level that is a literal starting with `$` matches only `$` topics, and
    // a first level that is a wildcard matches none of them.
    if (starts_with_wildcard(a) && b.starts_with('$'))
        || (starts_with_wildcard(b) && a.starts_with('$'))
    {
        return false;
    }
    let mut a_levels = a.split('/');
    let mut b_levels = b.split('/');
    // Whether the topic built so far is exactly one empty level, which is the empty
    // string and not a topic name (v5 [MQTT-4.7.3-1]).
    let mut only_empty_level = false;
    let mut first = true;
    loop {
        match (a_levels.next(), b_levels.next()) {
            // `#` matches the topic so far and anything below it. When the other filter
            // goes on, build the witness from its remaining levels (a `+` or `#` taken
            // as a non-empty level), which makes a non-empty name; when it has ended,
            // the witness is the topic so far.
            (Some("#"), other) | (other, Some("#")) => {
                return other.is_some() || !only_empty_level;
            }
            (None, None) => return !only_empty_level,
            // One filter needs more levels than the other allows.
            (Some(_), None) | (None, Some(_)) => return false,
            (Some(a_level), Some(b_level)) => {
                let level = if a_level == "+" {
                    b_level
                } else if b_level == "+" || a_level == b_level {
                    a_level
                } else {
                    return false;
                };
                // When both are `+`, `level` is `+` and the witness takes a non-empty
                // level.
                only_empty_level = first && level.is_empty();
                first = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn acl(text: &str) -> Acl {
        Acl::parse(text, Path::new("acl")).unwrap()
    }

    fn user<'a>(name: &'a str, client_id: &'a str) -> Identity<'a> {
        Identity {
            user: Some(name),
            client_id,
        }
    }

    fn anonymous(client_id: &str) -> Identity<'_> {
        Identity {
            user: None,
            client_id,
        }
    }

    fn line_problem(text: &str) -> (usize, LineError) {
        match Acl::parse(text, Path::new("acl")) {
            Err(AuthFileError::Line { line, problem, .. }) => (line, problem),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn the_first_rule_that_applies_decides() {
        let acl = acl("deny publish anyone a/secret\nallow publish anyone a/+\n");
        let who = anonymous("c");
        assert!(!acl.allows(&who, Action::Publish, "a/secret"));
        assert!(acl.allows(&who, Action::Publish, "a/open"));
        let reversed = self::acl("allow publish anyone a/+\ndeny publish anyone a/secret\n");
        assert!(reversed.allows(&who, Action::Publish, "a/secret"));
    }

    #[test]
    fn nothing_is_allowed_unless_a_rule_says_so() {
        let acl = acl("allow publish anyone a/#\n");
        let who = anonymous("c");
        assert!(!acl.allows(&who, Action::Publish, "b"));
        assert!(!acl.allows(&who, Action::Subscribe, "a/#"));
        assert!(!self::acl("").allows(&who, Action::Publish, "a"));
    }

    #[test]
    fn actions_select_rules() {
        let acl =
            acl("allow subscribe anyone s/#\nallow publish anyone p/#\nallow all anyone both/#\n");
        let who = anonymous("c");
        assert!(acl.allows(&who, Action::Subscribe, "s/x"));
        assert!(!acl.allows(&who, Action::Publish, "s/x"));
        assert!(acl.allows(&who, Action::Publish, "p/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "p/x"));
        assert!(acl.allows(&who, Action::Publish, "both/x"));
        assert!(acl.allows(&who, Action::Subscribe, "both/x"));
    }

    #[test]
    fn subjects_select_rules() {
        let acl =
            acl("allow all user alice a/#\nallow all client c1 c/#\nallow all anyone any/#\n");
        assert!(acl.allows(&user("alice", "x"), Action::Publish, "a/1"));
        assert!(!acl.allows(&user("bob", "x"), Action::Publish, "a/1"));
        assert!(!acl.allows(&anonymous("alice"), Action::Publish, "a/1"));
        assert!(acl.allows(&anonymous("c1"), Action::Publish, "c/1"));
        assert!(!acl.allows(&user("c1", "c2"), Action::Publish, "c/1"));
        assert!(acl.allows(&anonymous("z"), Action::Publish, "any/1"));
    }

    #[test]
    fn an_allow_rule_must_cover_the_whole_subscription() {
        let acl = acl("allow subscribe anyone a/#\nallow subscribe anyone b/+\n");
        let who = anonymous("c");
        assert!(acl.allows(&who, Action::Subscribe, "a/+/b"));
        assert!(acl.allows(&who, Action::Subscribe, "a"));
        assert!(acl.allows(&who, Action::Subscribe, "a/#"));
        assert!(acl.allows(&who, Action::Subscribe, "b/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "b/#"));
        assert!(!acl.allows(&who, Action::Subscribe, "+/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "#"));
    }

    #[test]
    fn a_deny_rule_stops_any_subscription_that_overlaps_it() {
        let acl = acl("deny subscribe anyone a/secret/#\nallow subscribe anyone #\n");
        let who = anonymous("c");
        assert!(!acl.allows(&who, Action::Subscribe, "#"));
        assert!(!acl.allows(&who, Action::Subscribe, "a/+/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "+/secret"));
        assert!(acl.allows(&who, Action::Subscribe, "a/public/#"));
        assert!(acl.allows(&who, Action::Subscribe, "b/#"));
    }

    /// v5 [MQTT-4.7.2-1]: a filter starting with a wildcard matches no `$` topic, so
    /// `#` in the ACL grants nothing under `$SYS`, and a deny of `#` does not stop a
    /// `$SYS` subscription.
    #[test]
    fn v5_mqtt_4_7_2_1_wildcard_rules_do_not_reach_dollar_topics() {
        let who = anonymous("c");
        let acl = acl("allow all anyone #\n");
        assert!(acl.allows(&who, Action::Publish, "a/b"));
        assert!(!acl.allows(&who, Action::Publish, "$SYS/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "$SYS/#"));
        assert!(!acl.allows(&who, Action::Subscribe, "$SYS/+"));
        let acl = self::acl("allow all anyone +/#\n");
        assert!(!acl.allows(&who, Action::Subscribe, "$SYS/uptime"));
        let acl = self::acl("deny all anyone #\nallow all anyone $SYS/#\n");
        assert!(acl.allows(&who, Action::Subscribe, "$SYS/#"));
        assert!(acl.allows(&who, Action::Publish, "$SYS/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "a"));
    }

    /// v5 [MQTT-4.8.2-2]: in `$share/{ShareName}/{filter}` the filter is what is
    /// subscribed to, so it is what the rules check.
    #[test]
    fn v5_mqtt_4_8_2_2_shared_subscriptions_are_checked_by_their_filter() {
        let acl = acl("deny subscribe anyone jobs/secret\nallow subscribe anyone jobs/#\n");
        let who = anonymous("c");
        assert!(acl.allows(&who, Action::Subscribe, "$share/g/jobs/public/+"));
        assert!(!acl.allows(&who, Action::Subscribe, "$share/g/jobs/+"));
        assert!(!acl.allows(&who, Action::Subscribe, "$share/g/other"));
        // A malformed shared subscription is refused.
        assert!(!acl.allows(&who, Action::Subscribe, "$share//jobs/x"));
        assert!(!acl.allows(&who, Action::Subscribe, "$share/g"));
    }

    #[test]
    fn invalid_topics_and_filters_are_refused() {
        let acl = acl("allow all anyone #\n");
        let who = anonymous("c");
        assert!(!acl.allows(&who, Action::Publish, "a/+"));
        assert!(!acl.allows(&who, Action::Publish, "a/#"));
        assert!(!acl.allows(&who, Action::Publish, ""));
        assert!(!acl.allows(&who, Action::Subscribe, "a/#/b"));
        assert!(!acl.allows(&who, Action::Subscribe, "a+"));
        assert!(!acl.allows(&who, Action::Subscribe, ""));
        assert!(!acl.allows(&who, Action::Publish, "a\0b"));
    }

    #[test]
    fn user_and_client_placeholders_are_substituted() {
        let acl = acl("allow all anyone users/%u/#\nallow publish anyone clients/%c/status\n");
        let alice = user("alice", "phone");
        assert!(acl.allows(&alice, Action::Publish, "users/alice/x"));
        assert!(acl.allows(&alice, Action::Subscribe, "users/alice/#"));
        assert!(!acl.allows(&alice, Action::Publish, "users/bob/x"));
        assert!(!acl.allows(&alice, Action::Subscribe, "users/+/x"));
        assert!(acl.allows(&alice, Action::Publish, "clients/phone/status"));
        assert!(!acl.allows(&alice, Action::Publish, "clients/tablet/status"));
        // Inside a level, and more than once.
        let acl = self::acl("allow publish anyone dev-%c/%u%u\n");
        assert!(acl.allows(&user("ab", "7"), Action::Publish, "dev-7/abab"));
        // Other `%` sequences are literal text.
        let acl = self::acl("allow publish anyone 100%/%x/%u\n");
        assert!(acl.allows(&user("a", "c"), Action::Publish, "100%/%x/a"));
    }

    #[test]
    fn a_user_placeholder_never_applies_without_a_user_name() {
        let acl = acl("deny publish anyone users/%u/locked\nallow publish anyone users/#\n");
        // The deny rule cannot apply to an anonymous client: the next rule decides.
        assert!(acl.allows(&anonymous("c"), Action::Publish, "users/x/locked"));
        let acl = self::acl("allow publish anyone users/%u/#\n");
        assert!(!acl.allows(&anonymous("c"), Action::Publish, "users//x"));
        assert!(!acl.allows(&anonymous("c"), Action::Publish, "users/c/x"));
    }

    #[test]
    fn names_with_wildcards_or_separators_never_match_placeholders() {
        let acl = acl("allow all anyone users/%u/#\nallow all anyone clients/%c/#\n");
        for name in ["+", "#", "a/b", "..//x", "a+", ""] {
            let who = user(name, name);
            for topic in ["users/a/b/x", "users/x", "users//x", "users/a+/x"] {
                assert!(
                    !acl.allows(&who, Action::Publish, topic),
                    "{name:?} {topic}"
                );
            }
            for filter in ["users/#", "users/+/x", "clients/#", "clients/+"] {
                assert!(
                    !acl.allows(&who, Action::Subscribe, filter),
                    "{name:?} {filter}"
                );
            }
        }
        // A name that would move the rule under `$`.
        let acl = self::acl("allow all anyone %u/#\n");
        assert!(!acl.allows(&user("$SYS", "c"), Action::Subscribe, "$SYS/#"));
        assert!(acl.allows(&user("alice", "c"), Action::Subscribe, "alice/#"));
    }

    #[test]
    fn filters_may_hold_inner_spaces() {
        let acl = acl("allow publish user alice   my topic/#  \n");
        assert!(acl.allows(&user("alice", "c"), Action::Publish, "my topic/x"));
    }

    #[test]
    fn bad_rules_name_the_line_and_the_problem() {
        let err =
            Acl::parse("# rules\n\nallow pub anyone a/#\n", Path::new("acl.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"acl.txt:3: unknown action "pub"; expected publish, subscribe or all"#
        );
        assert_eq!(
            line_problem("permit all anyone #"),
            (1, LineError::UnknownVerdict("permit".into()))
        );
        assert_eq!(line_problem("allow"), (1, LineError::Missing("action")));
        assert_eq!(
            line_problem("allow all"),
            (1, LineError::Missing("subject"))
        );
        assert_eq!(
            line_problem("allow all users a #"),
            (1, LineError::UnknownSubject("users".into()))
        );
        assert_eq!(
            line_problem("allow all user"),
            (1, LineError::Missing("user name"))
        );
        assert_eq!(
            line_problem("allow all client "),
            (1, LineError::Missing("client id"))
        );
        assert_eq!(
            line_problem("\n\nallow all anyone   "),
            (3, LineError::Missing("topic filter"))
        );
        assert!(matches!(
            line_problem("allow all anyone a/b#"),
            (1, LineError::BadFilter { .. })
        ));
        assert!(matches!(
            line_problem("allow all anyone #\nallow all anyone a/+%u/#"),
            (2, LineError::BadFilter { .. })
        ));
        assert!(matches!(
            line_problem("allow all anyone a/\0"),
            (1, LineError::BadFilter { .. })
        ));
    }

    #[test]
    fn load_reads_the_test_data_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auth/acl");
        let acl = Acl::load(&path).unwrap();
        assert_eq!(acl.len(), 4);
        let alice = user("alice", "c1");
        assert!(acl.allows(&alice, Action::Publish, "sensors/alice/t"));
        assert!(!acl.allows(&alice, Action::Subscribe, "secret/x"));
        assert!(acl.allows(&alice, Action::Subscribe, "public/x"));
        assert!(!acl.allows(&anonymous("c1"), Action::Subscribe, "public/#"));
    }

    #[test]
    fn load_reports_a_missing_file_with_its_path() {
        let err = Acl::load(Path::new("/nonexistent/acl")).unwrap_err();
        assert!(matches!(err, AuthFileError::Io { .. }));
        assert!(err.to_string().starts_with("/nonexistent/acl: "));
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Acl>();
    }

    #[test]
    fn overlap_and_cover_edge_cases() {
        // `/#` matches only names starting with `/` (its parent is the empty string,
        // not a topic name, v5 [MQTT-4.7.3-1]), so a single level never meets it.
        assert!(!filters_overlap("+", "/#"));
        assert!(filters_overlap("+/#", "/#"));
        assert!(filters_overlap("#", "/#"));
        assert!(filters_overlap("/", "/#"));
        assert!(filter_covers("+/#", "#"));
        assert!(!filter_covers("+", "#"));
        assert!(filters_overlap("$SYS/#", "$SYS/+"));
        assert!(!filters_overlap("$SYS/#", "+/#"));
        assert!(!filters_overlap("#", "$x"));
        assert!(filters_overlap("a/+/c", "a/b/#"));
        assert!(!filters_overlap("a/+/c", "a/b"));
    }

    /// The levels filters and topics are built from: the empty level and a `$` level
    /// are where the rules have edge cases. Topics also use a level no filter names.
    const FILTER_LEVELS: [&str; 5] = ["a", "b", "", "$x", "+"];
    const TOPIC_LEVELS: [&str; 5] = ["a", "b", "", "$x", "c"];

    /// Every valid topic name of one to five levels over [`TOPIC_LEVELS`]: deep
    /// enough for a counterexample to any claim about filters of at most four levels.
    static ALL_TOPICS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(all_topics);

    fn all_topics() -> Vec<String> {
        let mut topics: Vec<String> = Vec::new();
        let mut layer: Vec<String> = TOPIC_LEVELS.iter().map(|l| (*l).to_owned()).collect();
        for _ in 0..5 {
            topics.extend(layer.iter().cloned());
            layer = layer
                .iter()
                .flat_map(|t| TOPIC_LEVELS.iter().map(move |l| format!("{t}/{l}")))
                .collect();
        }
        topics.retain(|t| TopicNameRef::new(t).is_ok());
        topics
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(proptest::sample::select(&FILTER_LEVELS[..]), 0..=3),
            any::<bool>(),
        )
            .prop_map(|(levels, hash)| {
                let mut levels: Vec<&str> = levels;
                if hash {
                    levels.push("#");
                }
                levels.join("/")
            })
            .prop_filter("a valid filter", |f| TopicFilterRef::new(f).is_ok())
    }

    /// Every valid filter of at most two levels over [`FILTER_LEVELS`], with or
    /// without a final `#`.
    fn short_filters() -> Vec<String> {
        let mut prefixes: Vec<Vec<&str>> = vec![vec![]];
        for level in FILTER_LEVELS {
            prefixes.push(vec![level]);
            for second in FILTER_LEVELS {
                prefixes.push(vec![level, second]);
            }
        }
        let mut filters = Vec::new();
        for prefix in prefixes {
            let mut with_hash = prefix.clone();
            with_hash.push("#");
            filters.push(prefix.join("/"));
            filters.push(with_hash.join("/"));
        }
        filters.retain(|f| TopicFilterRef::new(f).is_ok());
        filters
    }

    /// Both checks against the brute-force definitions for every pair of short
    /// filters, where the edge cases (`+` against `/#`, `$` levels) live.
    #[test]
    fn covers_and_overlap_agree_with_brute_force_on_all_short_filters() {
        let filters = short_filters();
        let topics: Vec<&String> = ALL_TOPICS
            .iter()
            .filter(|t| t.split('/').count() <= 4)
            .collect();
        let matched: Vec<Vec<bool>> = filters
            .iter()
            .map(|f| topics.iter().map(|t| matches_str(f, t)).collect())
            .collect();
        for (a, a_matches) in filters.iter().zip(&matched) {
            for (b, b_matches) in filters.iter().zip(&matched) {
                let covers = a_matches.iter().zip(b_matches).all(|(a, b)| !b || *a);
                let overlap = a_matches.iter().zip(b_matches).any(|(a, b)| *a && *b);
                assert_eq!(filter_covers(a, b), covers, "covers({a:?}, {b:?})");
                assert_eq!(filters_overlap(a, b), overlap, "overlap({a:?}, {b:?})");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `filter_covers(r, f)` is exactly "every topic `f` matches, `r` matches".
        #[test]
        fn covers_agrees_with_brute_force(r in filter_strategy(), f in filter_strategy()) {
            let expected = ALL_TOPICS.iter().all(|t| !matches_str(&f, t) || matches_str(&r, t));
            prop_assert_eq!(filter_covers(&r, &f), expected, "r={:?} f={:?}", r, f);
        }

        /// `filters_overlap(a, b)` is exactly "some topic matches both".
        #[test]
        fn overlap_agrees_with_brute_force(a in filter_strategy(), b in filter_strategy()) {
            let expected = ALL_TOPICS.iter().any(|t| matches_str(&a, t) && matches_str(&b, t));
            prop_assert_eq!(filters_overlap(&a, &b), expected, "a={:?} b={:?}", a, b);
            prop_assert_eq!(filters_overlap(&b, &a), expected);
        }

        /// No file text makes parsing panic, and no request makes checking panic.
        #[test]
        fn parse_and_allows_never_panic(
            text in "((allow|deny|x) (all|publish|subscribe|p) (anyone|user|client|u) ?[a-z%uc+#/$ ]{0,12}\n){0,4}",
            name in proptest::option::of("[a-z+#/$%]{0,4}"),
            target in "[a-z+#/$%]{0,8}",
        ) {
            if let Ok(acl) = Acl::parse(&text, Path::new("acl")) {
                let who = Identity { user: name.as_deref(), client_id: name.as_deref().unwrap_or("") };
                let _ = acl.allows(&who, Action::Publish, &target);
                let _ = acl.allows(&who, Action::Subscribe, &target);
            }
        }
    }
}
