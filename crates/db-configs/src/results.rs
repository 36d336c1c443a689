//! Building a result within its limits: at most `max_rows` rows, at most `max_bytes` of values
//! (their approximate size as JSON), and why rows were left out. Every target adapter builds
//! its results with this, so each enforces the limits itself.

use std::fmt::Write as _;

use crate::{ReadLimits, ResultColumn, ResultSet, Truncation};
use serde_json::{Number, Value};

/// Rows kept so far, and whether a cap was reached.
#[derive(Debug)]
pub struct Collector {
    max_rows: usize,
    max_bytes: usize,
    bytes: usize,
    rows: Vec<Vec<Value>>,
    truncated: Option<Truncation>,
}

impl Collector {
    pub fn new(limits: &ReadLimits) -> Self {
        Self {
            max_rows: limits.max_rows,
            max_bytes: limits.max_bytes,
            bytes: 0,
            rows: Vec::with_capacity(limits.max_rows.min(64)),
            truncated: None,
        }
    }

    /// Whether `max_rows` rows are kept: a further row only tells the result was cut, and
    /// need not be decoded (see [`Collector::cut_rows`]).
    pub fn is_full(&self) -> bool {
        self.rows.len() >= self.max_rows
    }

    /// Records that the query had more rows than `max_rows`.
    pub fn cut_rows(&mut self) {
        self.truncated = Some(Truncation::Rows);
    }

    /// Keeps `row` unless it would take the values past `max_bytes`. Returns false when the
    /// result is complete and no further row should be fetched.
    pub fn push(&mut self, row: Vec<Value>) -> bool {
        if self.is_full() {
            self.cut_rows();
            return false;
        }
        // Brackets and separators of the row and of the list it goes in.
        let size = row.iter().map(json_size).sum::<usize>() + row.len() + 2;
        if self.bytes.saturating_add(size) > self.max_bytes {
            self.truncated = Some(Truncation::Bytes);
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        true
    }

    pub fn finish(self, columns: Vec<ResultColumn>) -> ResultSet {
        ResultSet {
            columns,
            rows: self.rows,
            truncated: self.truncated,
        }
    }
}

/// Counts what is written, without keeping it.
struct Counter(usize);

impl std::fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// The length of `value` written as JSON, close enough to bound a response.
pub fn json_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        // Integers are counted, not written (this runs for every value of every row).
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => decimal_digits(u),
            (None, Some(i)) => 1 + decimal_digits(i.unsigned_abs()),
            _ => {
                let mut c = Counter(0);
                let _ = write!(c, "{n}");
                c.0
            }
        },
        Value::String(s) => string_size(s),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(json_size).sum::<usize>()
        }
        Value::Object(members) => {
            2 + members.len().saturating_sub(1)
                + members
                    .iter()
                    .map(|(k, v)| string_size(k) + 1 + json_size(v))
                    .sum::<usize>()
        }
    }
}

/// How many decimal digits `n` has.
fn decimal_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

fn string_size(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..0x20 => 5,
            _ => 0,
        })
        .sum();
    s.len() + 2 + escapes
}

/// A floating-point value: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has none).
pub fn float(x: f64) -> Value {
    match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// An exact decimal written in plain notation (`-12.50`): a JSON number when the value reads
/// back from a double unchanged, else the text itself, so no digit is ever lost.
pub fn decimal(text: &str) -> Value {
    // Trailing zeros of a fraction are scale, not value: 12.50 is the number 12.5.
    let plain = match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole
            } else {
                &text[..whole.len() + 1 + fraction.len()]
            }
        }
        None => text,
    };
    if !plain.contains('.')
        && let Ok(i) = plain.parse::<i64>()
        && i.unsigned_abs() <= 1 << 53
    {
        return Value::from(i);
    }
    // Up to 15 significant digits a decimal in plain notation always reads back from a double
    // unchanged (a double holds 15.9 of them), so only longer ones need the check below.
    let plain_notation = plain
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    let significant = plain
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&b| b == b'0')
        .count();
    if plain_notation
        && significant <= 15
        && let Ok(x) = plain.parse::<f64>()
        // Below the normal range a double keeps fewer digits, and a tiny value reads as 0.
        && (x.is_normal() || significant == 0)
        && let Some(n) = Number::from_f64(x)
    {
        return Value::Number(n);
    }
    if let Ok(x) = plain.parse::<f64>()
        && x.is_finite()
    {
        let mut shortest = String::with_capacity(plain.len());
        let _ = write!(shortest, "{x}");
        if shortest == plain
            && let Some(n) = Number::from_f64(x)
        {
            return Value::Number(n);
        }
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn limits(max_rows: usize, max_bytes: usize) -> ReadLimits {
        ReadLimits {
            max_rows,
            max_bytes,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn decimals_that_a_double_keeps_are_numbers_and_others_are_text() {
        assert_eq!(decimal("42"), json!(42));
        assert_eq!(decimal("-7.000"), json!(-7));
        assert_eq!(decimal("12.50"), json!(12.5));
        assert_eq!(decimal("0.1"), json!(0.1));
        assert_eq!(decimal("-0.0001"), json!(-0.0001));
        assert_eq!(
            decimal("12345678901234567890.123"),
            json!("12345678901234567890.123")
        );
        assert_eq!(decimal("9007199254740993"), json!("9007199254740993"));
        assert_eq!(
            decimal("0.10000000000000000001"),
            json!("0.10000000000000000001")
        );
        assert_eq!(decimal("NaN"), json!("NaN"));
        // Fifteen significant digits are kept by a double; sixteen are checked.
        assert_eq!(decimal("0.000123456789012345"), json!(0.000123456789012345));
        assert_eq!(decimal("-98765.4321098765"), json!(-98765.4321098765));
        assert_eq!(decimal("9876543210.987654"), json!(9876543210.987654));
        assert_eq!(
            decimal("0.1234567890123456789"),
            json!("0.1234567890123456789")
        );
        assert_eq!(decimal("1E+5"), json!("1E+5"));
        // Past a double's range: the exact text, never 0.
        let tiny = format!("0.{}1", "0".repeat(400));
        assert_eq!(decimal(&tiny), json!(tiny));
    }

    #[test]
    fn floats_without_a_json_form_are_text() {
        assert_eq!(float(1.5), json!(1.5));
        assert_eq!(float(f64::NAN), json!("NaN"));
        assert_eq!(float(f64::INFINITY), json!("Infinity"));
        assert_eq!(float(f64::NEG_INFINITY), json!("-Infinity"));
    }

    #[test]
    fn sizes_match_the_json_text() {
        for v in [
            json!(null),
            json!(true),
            json!(false),
            json!(-12345),
            json!(0),
            json!(9),
            json!(10),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.25),
            json!("a \"quoted\" \\ line\n"),
            json!("\u{1}"),
            json!([1, "two", null, [3]]),
            json!({"a": 1, "bc": [true, "x"]}),
        ] {
            assert_eq!(json_size(&v), v.to_string().len(), "{v}");
        }
    }

    #[test]
    fn the_row_cap_keeps_max_rows_and_reports_more() {
        let mut c = Collector::new(&limits(2, 1000));
        assert!(c.push(vec![json!(1)]));
        assert!(c.push(vec![json!(2)]));
        assert!(c.is_full());
        assert!(!c.push(vec![json!(3)]));
        let result = c.finish(Vec::new());
        assert_eq!(result.rows.len(), 2);
        assert_eq!(result.truncated, Some(Truncation::Rows));
    }

    #[test]
    fn the_byte_cap_is_never_exceeded() {
        // Each row `["abcd"]` is 8 bytes as JSON, plus a separator.
        let mut c = Collector::new(&limits(100, 20));
        assert!(c.push(vec![json!("abcd")]));
        assert!(c.push(vec![json!("abcd")]));
        assert!(!c.push(vec![json!("abcd")]));
        let result = c.finish(Vec::new());
        assert_eq!(result.rows.len(), 2);
        assert_eq!(result.truncated, Some(Truncation::Bytes));

        let mut c = Collector::new(&limits(100, 3));
        assert!(!c.push(vec![json!("wide")]));
        let result = c.finish(Vec::new());
        assert!(result.rows.is_empty());
        assert_eq!(result.truncated, Some(Truncation::Bytes));
    }
}
