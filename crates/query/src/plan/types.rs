//! What kind of value an expression holds, from the snapshot's column types (each provider's
//! spelling) and the functions and operations around them: enough to refuse what a database
//! would refuse (text compared with a number column, `sum` of a timestamp, CASE branches of
//! different kinds) before anything runs, and to bind values with a type the database takes.
//! Types this does not know are left to the database.

use std::borrow::Cow;

use db_configs::SqlValue;

/// The kinds of values the checks tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Number,
    Text,
    Bool,
    Date,
    Time,
    Timestamp,
    Json,
    /// A type the checks do not know (uuid, interval, arrays, blobs...), or no type at all.
    Other,
    /// The null value: compatible with every kind.
    Null,
}

impl ValueType {
    /// The kind of a column type as the snapshot spells it: PostgreSQL's `format_type`
    /// (`integer`, `character varying(255)`, `timestamp with time zone`), MySQL's
    /// `COLUMN_TYPE` (`int(11)`, `tinyint(1)`, `decimal(12,2)`, `enum('a','b')`), or a SQLite
    /// declared type, read by SQLite's affinity rules when it is none of the known names.
    pub fn of(data_type: &str) -> Self {
        let t = ascii_lowercase(data_type.trim());
        if t.is_empty() || t.ends_with(']') || t.contains("array") {
            return Self::Other;
        }
        // The name without its modifiers: `numeric(10,2)` -> `numeric`, `int unsigned` -> `int`.
        let base = t
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .trim_matches('"');
        match base {
            // MySQL's BOOLEAN is TINYINT(1), an integer that holds 0 and 1 by convention only:
            // `flag = 2`, `SUM(is_active)` and `is_active = true` all make sense there, so the
            // database decides.
            "tinyint" if t.starts_with("tinyint(1)") => return Self::Other,
            "bool" | "boolean" => return Self::Bool,
            "date" => return Self::Date,
            "time" | "timetz" => return Self::Time,
            "timestamp" | "timestamptz" | "datetime" | "smalldatetime" | "datetime2" => {
                return Self::Timestamp;
            }
            "json" | "jsonb" => return Self::Json,
            "smallint" | "integer" | "int" | "bigint" | "tinyint" | "mediumint" | "int2"
            | "int4" | "int8" | "serial" | "bigserial" | "smallserial" | "numeric" | "decimal"
            | "dec" | "real" | "double" | "float" | "float4" | "float8" | "number" | "year" => {
                return Self::Number;
            }
            "text" | "character" | "char" | "varchar" | "nchar" | "nvarchar" | "bpchar"
            | "citext" | "name" | "tinytext" | "mediumtext" | "longtext" | "enum" | "set"
            | "clob" | "string" => return Self::Text,
            "interval" | "point" | "uuid" | "bytea" | "blob" | "money" | "bit" | "varbinary"
            | "binary" | "geometry" | "geography" | "polygon" | "line" | "lseg" | "box"
            | "path" | "circle" | "inet" | "cidr" | "macaddr" | "tsvector" | "xml" => {
                return Self::Other;
            }
            _ => {}
        }
        // A name of its own (a PostgreSQL enum or domain such as `appointment_status`): not a
        // SQLite declared type, whose words the affinity rules below would misread.
        if t.contains('_') || t.contains('.') {
            return Self::Other;
        }
        // SQLite's affinity rules, in its order (NUMERIC affinity left to the database).
        if t.contains("int") {
            Self::Number
        } else if t.contains("char") || t.contains("clob") || t.contains("text") {
            Self::Text
        } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
            Self::Number
        } else {
            Self::Other
        }
    }

    /// The kind of a bound value.
    pub fn of_value(value: &SqlValue) -> Self {
        match value {
            SqlValue::Int(_) | SqlValue::Float(_) => Self::Number,
            SqlValue::Text(_) => Self::Text,
            SqlValue::Bool(_) => Self::Bool,
            SqlValue::Null => Self::Null,
        }
    }

    /// Whether the checks leave it to the database.
    pub fn unchecked(self) -> bool {
        matches!(self, Self::Other | Self::Null)
    }

    pub fn is_temporal(self) -> bool {
        matches!(self, Self::Date | Self::Time | Self::Timestamp)
    }

    /// What it is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Number => "a number",
            Self::Text => "text",
            Self::Bool => "true/false",
            Self::Date => "a date",
            Self::Time => "a time of day",
            Self::Timestamp => "a timestamp",
            Self::Json => "JSON",
            Self::Other => "a value",
            Self::Null => "null",
        }
    }

    /// How to write a value of this kind, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Self::Number => "a number, like {\"value\": 42}",
            Self::Text => "a string, like {\"value\": \"paid\"}",
            Self::Bool => "true or false, like {\"value\": true}",
            Self::Date | Self::Timestamp => {
                "a date or timestamp string, like {\"value\": \"2024-01-31\"} or {\"value\": \"2024-01-31 12:00:00\"}"
            }
            Self::Time => "a time string, like {\"value\": \"12:30:00\"}",
            Self::Json => "JSON text, like {\"value\": \"{\\\"k\\\": 1}\"}",
            Self::Other | Self::Null => "a value of the same kind",
        }
    }

    /// The PostgreSQL type a null of this kind is cast to, when it has one.
    pub fn sql_type(self) -> Option<&'static str> {
        match self {
            Self::Number => Some("NUMERIC"),
            Self::Text => Some("TEXT"),
            Self::Bool => Some("BOOLEAN"),
            Self::Date => Some("DATE"),
            Self::Time => Some("TIME"),
            Self::Timestamp => Some("TIMESTAMP"),
            Self::Json | Self::Other | Self::Null => None,
        }
    }

    /// Whether values of the two kinds can meet (be compared, or be the branches of one
    /// CASE) in every dialect.
    pub fn compatible(self, other: Self) -> bool {
        self.unchecked()
            || other.unchecked()
            || self == other
            || matches!(
                (self, other),
                (Self::Date | Self::Timestamp, Self::Date | Self::Timestamp)
            )
    }

    /// The kind of a result that may be either (the branches of a CASE, `coalesce`'s
    /// arguments): the checked one, a timestamp over a date.
    pub fn unify(self, other: Self) -> Self {
        match (self, other) {
            (Self::Null, t) | (t, Self::Null) => t,
            (Self::Other, _) | (_, Self::Other) => Self::Other,
            (Self::Date, Self::Timestamp) | (Self::Timestamp, Self::Date) => Self::Timestamp,
            (a, _) => a,
        }
    }

    /// `value` as a value of this kind, when it is one or reads as one: a numeric string is a
    /// number, a number or boolean is text, `0`/`1` and `"true"`/`"false"` are booleans, a date string is
    /// a date. `None` when it cannot be.
    pub fn coerce(self, value: &SqlValue) -> Option<SqlValue> {
        if matches!(value, SqlValue::Null) || self.unchecked() {
            return Some(value.clone());
        }
        match (self, value) {
            (Self::Number, SqlValue::Int(_) | SqlValue::Float(_)) => Some(value.clone()),
            (Self::Number, SqlValue::Text(s)) => number(s),
            (Self::Text, SqlValue::Text(_)) => Some(value.clone()),
            (Self::Text, SqlValue::Int(n)) => Some(SqlValue::Text(n.to_string())),
            (Self::Text, SqlValue::Float(x)) => Some(SqlValue::Text(x.to_string())),
            (Self::Text, SqlValue::Bool(b)) => Some(SqlValue::Text(b.to_string())),
            (Self::Bool, SqlValue::Bool(_)) => Some(value.clone()),
            (Self::Bool, SqlValue::Int(n @ (0 | 1))) => Some(SqlValue::Bool(*n == 1)),
            (Self::Bool, SqlValue::Text(s)) if s.eq_ignore_ascii_case("true") => {
                Some(SqlValue::Bool(true))
            }
            (Self::Bool, SqlValue::Text(s)) if s.eq_ignore_ascii_case("false") => {
                Some(SqlValue::Bool(false))
            }
            (Self::Date | Self::Timestamp, SqlValue::Text(s)) if is_date(s) => Some(value.clone()),
            (Self::Time, SqlValue::Text(s)) if is_time(s) => Some(value.clone()),
            (Self::Json, SqlValue::Text(s)) => serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .map(|_| value.clone()),
            (Self::Json, SqlValue::Int(_) | SqlValue::Float(_) | SqlValue::Bool(_)) => {
                Some(value.clone())
            }
            _ => None,
        }
    }
}

/// `text` with ASCII letters lowercased, copied only when it has an uppercase one (type names
/// mostly come lowercase).
pub(crate) fn ascii_lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// A string that is a number in every dialect's eyes: optional sign, digits, optional
/// fraction and exponent (no `inf`, `NaN` or hex).
fn number(s: &str) -> Option<SqlValue> {
    let t = s.trim();
    let plain = !t.is_empty()
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if !plain {
        return None;
    }
    if let Ok(n) = t.parse::<i64>() {
        return Some(SqlValue::Int(n));
    }
    t.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(SqlValue::Float)
}

/// `YYYY-MM-DD`, optionally followed (after `T` or a space) by a time of day.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 10 || !s.is_char_boundary(10) {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if year == 0 || day == 0 || day > days {
        return false;
    }
    match b.get(10) {
        None => true,
        Some(b'T' | b' ') => is_time(&s[11..]),
        Some(_) => false,
    }
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (up to nanoseconds, as Java's `Instant` writes
/// them; the database rounds to what it keeps), optionally with a zone (`Z`, `+02`, `+02:00`),
/// which may follow a space (`10:00:00 +02:00`, as PostgreSQL prints it).
pub(crate) fn is_time(s: &str) -> bool {
    let (clock, zone) = match s.find(['Z', 'z', '+', '-']) {
        Some(i) => (s[..i].strip_suffix(' ').unwrap_or(&s[..i]), &s[i..]),
        None => (s, ""),
    };
    let zone_ok = match zone.as_bytes() {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', rest @ ..] => {
            let rest: Vec<u8> = rest.iter().copied().filter(|c| *c != b':').collect();
            matches!(rest.len(), 2 | 4) && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    let (whole, fraction) = match clock.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (clock, None),
    };
    let parts: Vec<&str> = whole.split(':').collect();
    let two = |p: &str, max: u32| {
        p.len() == 2
            && p.bytes().all(|c| c.is_ascii_digit())
            && p.parse::<u32>().unwrap_or(99) <= max
    };
    let clock_ok = match parts.as_slice() {
        [h, m] => fraction.is_none() && two(h, 23) && two(m, 59),
        [h, m, sec] => two(h, 23) && two(m, 59) && two(sec, 59),
        _ => false,
    };
    let fraction_ok = fraction
        .is_none_or(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()));
    zone_ok && clock_ok && fraction_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_spellings_are_classified() {
        use ValueType::*;
        for (t, expected) in [
            // User-defined PostgreSQL types whose names hold `int`, and PostGIS.
            ("appointment_status", Other),
            ("print_state", Other),
            ("public.interest_kind", Other),
            ("geometry(Point,4326)", Other),
            ("UNSIGNED BIG INT", Number),
            ("integer", Number),
            ("bigint", Number),
            ("numeric(10,2)", Number),
            ("double precision", Number),
            ("int(11)", Number),
            ("int unsigned", Number),
            ("decimal(12,2)", Number),
            ("tinyint(4)", Number),
            ("INTEGER", Number),
            ("REAL", Number),
            ("UNSIGNED BIG INT", Number),
            ("text", Text),
            ("character varying(255)", Text),
            ("varchar(255)", Text),
            ("enum('a','b')", Text),
            ("NVARCHAR(20)", Text),
            ("longtext", Text),
            ("boolean", Bool),
            ("tinyint(1)", Other),
            ("BOOLEAN", Bool),
            ("date", Date),
            ("time without time zone", Time),
            ("timestamp with time zone", Timestamp),
            ("timestamp(3) without time zone", Timestamp),
            ("datetime", Timestamp),
            ("DATETIME", Timestamp),
            ("jsonb", Json),
            ("json", Json),
            ("interval", Other),
            ("point", Other),
            ("uuid", Other),
            ("integer[]", Other),
            ("ARRAY", Other),
            ("USER-DEFINED", Other),
            ("", Other),
            ("BLOB", Other),
            ("NUMERIC", Number),
        ] {
            assert_eq!(ValueType::of(t), expected, "{t}");
        }
    }

    #[test]
    fn values_coerce_to_the_kind_beside_them_or_not_at_all() {
        use ValueType::*;
        let text = |s: &str| SqlValue::Text(s.to_owned());
        assert_eq!(Number.coerce(&text("42")), Some(SqlValue::Int(42)));
        assert_eq!(Number.coerce(&text("-1.5")), Some(SqlValue::Float(-1.5)));
        for bad in ["last", "", "inf", "NaN", "0x10", "1 2"] {
            assert_eq!(Number.coerce(&text(bad)), None, "{bad}");
        }
        assert_eq!(Text.coerce(&SqlValue::Int(53)), Some(text("53")));
        assert_eq!(Text.coerce(&SqlValue::Bool(true)), Some(text("true")));
        assert_eq!(Bool.coerce(&SqlValue::Int(1)), Some(SqlValue::Bool(true)));
        assert_eq!(Bool.coerce(&SqlValue::Int(2)), None);
        assert!(Timestamp.coerce(&text("2024-02-29 10:00:00")).is_some());
        assert!(
            Timestamp
                .coerce(&text("2024-01-31T10:00:00.5+02:00"))
                .is_some()
        );
        assert!(Date.coerce(&text("2024-01-31")).is_some());
        for good in [
            "2024-01-31T10:00:00.123456789Z",
            "2024-01-31 10:00:00 +02:00",
            "2024-01-31 10:00:00.5 -0530",
        ] {
            assert!(Timestamp.coerce(&text(good)).is_some(), "{good}");
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-31 25:00",
            "yesterday",
            "2024",
            "2024-01-31T10:00:00.1234567890Z",
            "2024-01-31 10:00:00  +02:00",
            "2024-01-31 10:00:00 Z x",
            "2024-01-31 10:00 ",
        ] {
            assert_eq!(Timestamp.coerce(&text(bad)), None, "{bad}");
        }
        assert_eq!(Timestamp.coerce(&SqlValue::Int(2024)), None);
        assert!(Time.coerce(&text("12:30")).is_some());
        assert_eq!(Json.coerce(&text("{bad")), None);
        assert!(Other.coerce(&text("anything")).is_some());
        assert!(Number.coerce(&SqlValue::Null).is_some());
    }
}
