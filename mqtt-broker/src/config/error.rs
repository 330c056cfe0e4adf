//! Why a configuration was refused, and where in the file the problem is.
//!
//! toml reports a byte span with each error; this module turns it into a
//! line and a key. For the rules [`Config::validate`] checks after
//! parsing, it finds the key's line by asking toml to deserialize the
//! file again and fail exactly at that key: the error then carries the
//! key's span. That needs no second parser and works for `[table]`
//! headers, dotted keys and inline tables alike.
//!
//! [`Config::validate`]: super::Config::validate

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Where in a configuration file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The file, as it was named to the broker.
    pub file: PathBuf,
    /// The line, counted from 1, when it could be found.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// Why a configuration was refused. Printed, it is one line that names
/// the file, the line and the key, for example
/// `broker.toml:12: key "max_keep_alive": invalid type: string "60", expected u16`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What toml said.
        message: String,
    },
    /// A key the configuration does not have, often a misspelling.
    #[error("{at}: unknown key \"{key}\" (expected {expected})")]
    UnknownKey {
        /// Where.
        at: Location,
        /// The key, with the tables it is in (`limits.max_inflght`).
        key: String,
        /// The keys allowed there.
        expected: String,
    },
    /// A value of the wrong type, out of range, or against a rule of
    /// [`Config::validate`](super::Config::validate).
    #[error("{}key \"{key}\": {reason}", prefix(.at))]
    Invalid {
        /// Where, when the value came from a file.
        at: Option<Location>,
        /// The key, with the tables it is in (`listener[1].bind`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A command-line option that breaks a rule or contradicts another.
    #[error("{option}: {reason}")]
    Option {
        /// The option, as typed (`--max-packet-size`).
        option: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn prefix(at: &Option<Location>) -> String {
    at.as_ref().map(|at| format!("{at}: ")).unwrap_or_default()
}

impl ConfigError {
    /// A broken rule of [`Config::validate`](super::Config::validate),
    /// not yet located in a file.
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            at: None,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Gives a validation error the line of its key in `text`, or of the
    /// nearest table around it when the key itself is not in the file
    /// (a missing `cert` is reported on its `[[listener]]`).
    pub(crate) fn locate(self, text: &str, origin: &Path) -> Self {
        match self {
            ConfigError::Invalid {
                at: None,
                key,
                reason,
            } => {
                let path = segments(&key);
                let span = (0..=path.len())
                    .rev()
                    .find_map(|len| path.get(..len).and_then(|p| span_of(text, p)));
                ConfigError::Invalid {
                    at: Some(location(text, origin, span)),
                    key,
                    reason,
                }
            }
            other => other,
        }
    }

    /// Explains an error of toml while reading `text` into a `Config`.
    pub(crate) fn from_toml(err: &toml::de::Error, text: &str, origin: &Path) -> Self {
        let message = one_line(err.message());
        let span = err.span();
        let at = location(text, origin, span.clone());
        // serde words this as "unknown field `NAME`, expected ...".
        if let Some((name, expected)) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once("`, "))
        {
            let table = span.and_then(|span| innermost_path(text, &span));
            let key = match table {
                Some(table) if !table.is_empty() => format!("{}.{name}", key_of(&table)),
                _ => name.to_owned(),
            };
            let expected = expected.strip_prefix("expected ").unwrap_or(expected);
            return ConfigError::UnknownKey {
                at,
                key,
                expected: expected.to_owned(),
            };
        }
        let path = span
            .filter(|_| text.parse::<toml::Table>().is_ok())
            .and_then(|span| innermost_path(text, &span));
        match path {
            Some(path) if !path.is_empty() => ConfigError::Invalid {
                at: Some(at),
                key: key_of(&path),
                reason: message,
            },
            _ => ConfigError::Syntax { at, message },
        }
    }
}

/// toml's syntax errors span several lines; the error must be one.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn location(text: &str, origin: &Path, span: Option<Range<usize>>) -> Location {
    Location {
        file: origin.to_path_buf(),
        line: span.map(|span| line_of(text, span.start)),
    }
}

/// The line, from 1, of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let newlines = text.bytes().take(offset).filter(|b| *b == b'\n').count();
    newlines.saturating_add(1)
}

/// One step of a key path: a key in a table or an index in an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Reads the keys this module writes (`listener[1].bind`); the broker's
/// key names hold no `.` or `[`.
fn segments(key: &str) -> Vec<Segment> {
    let mut path = Vec::new();
    for part in key.split('.') {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next() {
            path.push(Segment::Key(name.to_owned()));
        }
        for index in pieces {
            if let Some(Ok(index)) = index.strip_suffix(']').map(str::parse) {
                path.push(Segment::Index(index));
            }
        }
    }
    path
}

fn key_of(path: &[Segment]) -> String {
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Key(name) if key.is_empty() => key.push_str(name),
            Segment::Key(name) => {
                key.push('.');
                key.push_str(name);
            }
            Segment::Index(index) => key.push_str(&format!("[{index}]")),
        }
    }
    key
}

/// At most this many probes, each a parse of the file, go into naming the
/// key of one error: a real configuration needs a dozen, and a long file
/// must not make reporting its error slow.
const MAX_PROBES: usize = 64;

/// The path of the innermost value in `text` whose span holds `span`.
fn innermost_path(text: &str, span: &Range<usize>) -> Option<Vec<Segment>> {
    let root = toml::Value::Table(text.parse::<toml::Table>().ok()?);
    let mut search = Search {
        text,
        span,
        probes: 0,
        path: Vec::new(),
    };
    search.within(&root).then_some(search.path)
}

struct Search<'a> {
    text: &'a str,
    span: &'a Range<usize>,
    probes: usize,
    path: Vec<Segment>,
}

impl Search<'_> {
    /// Extends `path` down to the innermost value under `value` that holds
    /// the span; false, leaving `path` as it was, when none does.
    fn within(&mut self, value: &toml::Value) -> bool {
        match value {
            toml::Value::Table(table) => table
                .iter()
                .any(|(key, child)| self.enter(Segment::Key(key.clone()), child)),
            toml::Value::Array(values) => self.within_array(values),
            _ => false,
        }
    }

    /// Whether `child`, one `segment` below `path`, holds the span; if so,
    /// `path` now leads to the innermost value that does.
    fn enter(&mut self, segment: Segment, child: &toml::Value) -> bool {
        self.path.push(segment);
        match self.probe() {
            Some(found) if self.holds(&found) => {
                // A deeper value may hold it too: an array of one table
                // spans just what the table does.
                self.within(child);
                return true;
            }
            // A table made by dotted keys (`limits.max_inflight = 5`) spans
            // only its name, so look inside tables anyway.
            _ if child.is_table() && self.within(child) => return true,
            _ => {}
        }
        self.path.pop();
        false
    }

    /// An array's values appear in the file in order, so a binary search
    /// finds the one that holds the span, however many listeners there are.
    fn within_array(&mut self, values: &[toml::Value]) -> bool {
        let (mut low, mut high) = (0, values.len());
        while low < high {
            let middle = low.midpoint(high);
            let Some(child) = values.get(middle) else {
                return false;
            };
            self.path.push(Segment::Index(middle));
            match self.probe() {
                Some(found) if self.holds(&found) => {
                    self.within(child);
                    return true;
                }
                Some(found) if found.end <= self.span.start => low = middle.saturating_add(1),
                Some(_) => high = middle,
                None => low = high,
            }
            self.path.pop();
        }
        false
    }

    fn holds(&self, found: &Range<usize>) -> bool {
        found.start <= self.span.start && self.span.end <= found.end
    }

    /// The span of the value at `path`, while the budget lasts.
    fn probe(&mut self) -> Option<Range<usize>> {
        if self.probes >= MAX_PROBES {
            return None;
        }
        self.probes = self.probes.saturating_add(1);
        span_of(self.text, &self.path)
    }
}

/// The span of the value at `path`: toml attaches to an error the span of
/// the value being read when it was raised, so a reader that fails
/// exactly there reveals it.
fn span_of(text: &str, path: &[Segment]) -> Option<Range<usize>> {
    match Probe(path).deserialize(toml::Deserializer::new(text)) {
        Err(err) if err.message() == Probe::HERE => err.span(),
        _ => None,
    }
}

/// Walks to one path of a document and fails there.
struct Probe<'p>(&'p [Segment]);

impl Probe<'_> {
    const HERE: &'static str = "mqttkit-broker: the probed key";

    fn leaf<E: de::Error>(&self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(Self::HERE))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (wanted, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(Self::HERE)),
            Some((Segment::Key(wanted), rest)) => (Some(wanted), rest),
            Some((Segment::Index(_), _)) => (None, self.0),
        };
        while let Some(key) = map.next_key::<String>()? {
            if Some(&key) == wanted {
                map.next_value_seed(Probe(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (wanted, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(Self::HERE)),
            Some((Segment::Index(wanted), rest)) => (Some(*wanted), rest),
            Some((Segment::Key(_), _)) => (None, self.0),
        };
        let mut index = 0usize;
        loop {
            let found = if Some(index) == wanted {
                seq.next_element_seed(Probe(rest))?
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if found.is_none() {
                return Ok(());
            }
            index = index.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_round_trip() {
        for key in [
            "max_packet_size",
            "limits.max_inflight",
            "listener[12].bind",
        ] {
            assert_eq!(key_of(&segments(key)), key);
        }
    }

    #[test]
    fn the_probe_finds_dotted_keys_tables_and_array_elements() {
        let text = "limits.max_inflight = 5\n\n[[listener]]\nbind = 1\n[[listener]]\nbind = 2\n[sys]\ninterval = 3\n";
        let line = |key: &str| span_of(text, &segments(key)).map(|span| line_of(text, span.start));
        assert_eq!(line("limits.max_inflight"), Some(1));
        assert_eq!(line("listener[1].bind"), Some(6));
        assert_eq!(line("listener[1]"), Some(5));
        assert_eq!(line("sys.interval"), Some(8));
        assert_eq!(line("sys.enabled"), None);
        assert_eq!(line("listener[2]"), None);
    }
}
