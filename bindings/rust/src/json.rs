//! A small JSON reader for the documents kiln returns (no serde here). Parse
//! a document with [`parse`] and walk it with [`Value::get`], [`Value::index`]
//! and the `as_*` accessors. Numbers keep their text, so 64-bit sizes and
//! digests of any length survive exactly.
use std::fmt;

/// A parsed JSON value. Objects keep their members in document order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (the first one if repeated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The element `i` of an array.
    pub fn index(&self, i: usize) -> Option<&Value> {
        self.as_array().and_then(|a| a.get(i))
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// An integral number that fits in i64.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// An array of strings (tags, repositories), or None if anything else.
    pub fn as_string_list(&self) -> Option<Vec<String>> {
        self.as_array()?.iter().map(|v| v.as_str().map(str::to_string)).collect()
    }
}

/// Where and why a document is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub problem: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.problem)
    }
}

impl std::error::Error for JsonError {}

/// Parses a whole document (surrounding white space allowed).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { s: text.as_bytes(), i: 0, depth: 0 };
    let v = p.value()?;
    p.space();
    if p.i != p.s.len() {
        return Err(p.fail("trailing characters after the document"));
    }
    Ok(v)
}

/// The string member `key` of the top-level object of `text`, if any.
pub fn string_field(text: &str, key: &str) -> Option<String> {
    parse(text).ok()?.get(key)?.as_str().map(str::to_string)
}

// Deep enough for any kiln document; bounds the recursion on hostile input.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn fail(&self, problem: &'static str) -> JsonError {
        JsonError { offset: self.i, problem }
    }
    fn space(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.fail("unknown literal"))
        }
    }
    fn value(&mut self) -> Result<Value, JsonError> {
        self.space();
        match self.peek() {
            None => Err(self.fail("unexpected end")),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') | Some(b'{') => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.fail("nested too deeply"));
                }
                let v = if self.peek() == Some(b'[') { self.array() } else { self.object() };
                self.depth -= 1;
                v
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.fail("unexpected character")),
        }
    }
    fn array(&mut self) -> Result<Value, JsonError> {
        self.i += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.space();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.fail("expected ',' or ']'")),
            }
        }
    }
    fn object(&mut self) -> Result<Value, JsonError> {
        self.i += 1;
        let mut members = Vec::new();
        self.space();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return Err(self.fail("expected a member name"));
            }
            let key = self.string()?;
            self.space();
            if self.peek() != Some(b':') {
                return Err(self.fail("expected ':'"));
            }
            self.i += 1;
            members.push((key, self.value()?));
            self.space();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.fail("expected ',' or '}'")),
            }
        }
    }
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i > from
        };
        if !digits(self) {
            return Err(self.fail("expected digits"));
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.fail("expected digits after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.fail("expected exponent digits"));
            }
        }
        // Only ASCII was consumed, so this slice is valid UTF-8.
        Ok(Value::Number(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()))
    }
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.s.get(self.i..self.i + 4).ok_or_else(|| self.fail("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.fail("bad \\u escape"))?;
        let n = u32::from_str_radix(text, 16).map_err(|_| self.fail("bad \\u escape"))?;
        self.i += 4;
        Ok(n)
    }
    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek().ok_or_else(|| self.fail("unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| self.fail("string is not UTF-8")),
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.fail("unterminated escape"))?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut n = self.hex4()?;
                            if (0xD800..0xDC00).contains(&n) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.fail("unpaired surrogate"));
                                }
                                n = 0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00);
                            }
                            char::from_u32(n).ok_or_else(|| self.fail("unpaired surrogate"))?
                        }
                        _ => return Err(self.fail("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.fail("control character in string")),
                _ => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kiln_documents() {
        let v = parse(
            r#" {"digest":"sha256:ab","size":9007199254740993,"tags":["a","\u00e9\ud83d\ude00"],
                          "ok":true,"none":null,"f":-1.5e3,"o":{}} "#,
        )
        .unwrap();
        assert_eq!(v.get("digest").and_then(Value::as_str), Some("sha256:ab"));
        assert_eq!(v.get("size").and_then(Value::as_i64), Some(9007199254740993));
        assert_eq!(v.get("tags").and_then(Value::as_string_list), Some(vec!["a".into(), "é😀".into()]));
        assert_eq!(v.get("ok").and_then(Value::as_bool), Some(true));
        assert_eq!(v.get("f").and_then(Value::as_f64), Some(-1500.0));
        assert_eq!(v.get("none"), Some(&Value::Null));
        assert_eq!(v.get("o"), Some(&Value::Object(vec![])));
        assert_eq!(string_field(r#"{"a":1,"b":"x\ny"}"#, "b").as_deref(), Some("x\ny"));
    }

    #[test]
    fn rejects_malformed_input_without_panicking() {
        for bad in ["", "{", "[1,]", r#"{"a" 1}"#, r#""\ud800""#, r#""\u12"#, "01x", "tru", "\"a\u{1}\"", "[] x", "-"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(parse(&deep).unwrap_err().problem, "nested too deeply");
    }
}
