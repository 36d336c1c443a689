//! Comparing results across providers. Values are normalised first, since the same row comes
//! back in each provider's own types: booleans as numbers, numerics as numbers or strings,
//! timestamps with `T` or a space, with or without a zero offset, JSON as text or as JSON.
//! Rows are compared as multisets (sorted by their normalised form), so that ties in an
//! ORDER BY do not matter; numbers are equal within a relative 1e-9.

use db_configs::ResultSet;
use serde_json::Value;

/// A cell reduced to what every provider can agree on.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
    Json(Value),
}

impl Cell {
    fn key(&self) -> String {
        match self {
            Cell::Null => "0".to_owned(),
            Cell::Number(n) => format!("1{n:.6}"),
            Cell::Text(s) => format!("2{s}"),
            Cell::Json(v) => format!("3{v}"),
        }
    }

    fn same(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Number(a), Cell::Number(b)) => {
                a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
            }
            _ => self == other,
        }
    }
}

fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let date = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !date {
        return None;
    }
    if b.len() == 10 {
        return Some(format!("{s} 00:00:00"));
    }
    if !(b[10] == b'T' || b[10] == b' ') || b.len() < 19 {
        return None;
    }
    let mut rest = s[11..].to_owned();
    for zero in ["Z", "+00:00", "+00"] {
        if let Some(r) = rest.strip_suffix(zero) {
            rest = r.to_owned();
        }
    }
    if let Some((whole, frac)) = rest.split_once('.') {
        let frac = frac.trim_end_matches('0');
        rest = if frac.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{frac}")
        };
    }
    Some(format!("{} {rest}", &s[..10]))
}

/// The normalised form of one value.
pub fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Number(f64::from(u8::from(*b))),
        Value::Number(n) => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => {
            if let Ok(n) = s.trim().parse::<f64>() {
                return Cell::Number(n);
            }
            if let Some(t) = timestamp(s) {
                return Cell::Text(t);
            }
            match serde_json::from_str::<Value>(s) {
                Ok(j @ (Value::Object(_) | Value::Array(_))) => Cell::Json(j),
                _ => Cell::Text(s.clone()),
            }
        }
        other => Cell::Json(other.clone()),
    }
}

/// The rows of a result, normalised and sorted.
pub fn rows(result: &ResultSet) -> Vec<Vec<Cell>> {
    let mut rows: Vec<Vec<Cell>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    rows.sort_by_cached_key(|r| r.iter().map(Cell::key).collect::<Vec<_>>().join("\u{1}"));
    rows
}

/// Where two results differ: `None` when they hold the same rows.
pub fn difference(a: &ResultSet, b: &ResultSet) -> Option<String> {
    if a.rows.len() != b.rows.len() {
        return Some(format!("{} rows against {}", a.rows.len(), b.rows.len()));
    }
    if a.columns.len() != b.columns.len() {
        return Some(format!(
            "{} columns against {}",
            a.columns.len(),
            b.columns.len()
        ));
    }
    let (ra, rb) = (rows(a), rows(b));
    for (x, y) in ra.iter().zip(&rb) {
        if x.len() != y.len() || x.iter().zip(y).any(|(p, q)| !p.same(q)) {
            return Some(format!("row {x:?} against {y:?}"));
        }
    }
    None
}
