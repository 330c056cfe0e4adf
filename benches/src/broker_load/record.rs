//! One result line per scenario run: a flat JSON object, written and read
//! here so that the report needs nothing but this binary.

use std::collections::BTreeMap;
use std::fmt::Write;

/// A value of a result field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// A number.
    Num(f64),
    /// A flag.
    Bool(bool),
}

impl Value {
    /// The number, if this is one.
    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The fields of one result, in the order they were set.
#[derive(Debug, Clone, Default)]
pub struct Record {
    fields: Vec<(String, Value)>,
}

impl Record {
    /// Sets a number.
    pub fn num(&mut self, key: &str, v: f64) -> &mut Self {
        self.fields.push((key.to_owned(), Value::Num(v)));
        self
    }

    /// Sets a string.
    pub fn str(&mut self, key: &str, v: &str) -> &mut Self {
        self.fields.push((key.to_owned(), Value::Str(v.to_owned())));
        self
    }

    /// Sets a flag.
    pub fn flag(&mut self, key: &str, v: bool) -> &mut Self {
        self.fields.push((key.to_owned(), Value::Bool(v)));
        self
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote(&mut out, k);
            out.push(':');
            match v {
                Value::Str(s) => quote(&mut out, s),
                Value::Num(n) if n.is_finite() => {
                    let _ = write!(out, "{n}");
                }
                Value::Num(_) => out.push_str("null"),
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            }
        }
        out.push('}');
        out
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one line written by [`Record::to_json`]; `None` if it is not one.
pub fn parse(line: &str) -> Option<BTreeMap<String, Value>> {
    let mut p = line.trim().chars().peekable();
    let mut map = BTreeMap::new();
    if p.next()? != '{' {
        return None;
    }
    loop {
        skip_ws(&mut p);
        match p.next()? {
            '}' => return Some(map),
            ',' => continue,
            '"' => {}
            _ => return None,
        }
        let key = read_string(&mut p)?;
        skip_ws(&mut p);
        if p.next()? != ':' {
            return None;
        }
        skip_ws(&mut p);
        let value = match p.peek()? {
            '"' => {
                p.next();
                Value::Str(read_string(&mut p)?)
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = p.peek() {
                    if c == ',' || c == '}' || c.is_whitespace() {
                        break;
                    }
                    word.push(c);
                    p.next();
                }
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Num(f64::NAN),
                    w => Value::Num(w.parse().ok()?),
                }
            }
        };
        map.insert(key, value);
    }
}

fn skip_ws(p: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while p.peek().is_some_and(|c| c.is_whitespace()) {
        p.next();
    }
}

fn read_string(p: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut s = String::new();
    loop {
        match p.next()? {
            '"' => return Some(s),
            '\\' => match p.next()? {
                'u' => {
                    let hex: String = p.by_ref().take(4).collect();
                    s.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => s.push(c),
            },
            c => s.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let mut r = Record::default();
        r.str("case", "fan-in \"q1\"\n")
            .num("rate", 12_345.5)
            .flag("ok", true)
            .num("nan", f64::NAN);
        let map = parse(&r.to_json()).unwrap();
        assert_eq!(map["case"], Value::Str("fan-in \"q1\"\n".into()));
        assert_eq!(map["rate"], Value::Num(12_345.5));
        assert_eq!(map["ok"], Value::Bool(true));
        assert!(map["nan"].num().unwrap().is_nan());
        assert!(parse("not json").is_none());
        assert!(parse("{\"a\":").is_none());
    }
}
