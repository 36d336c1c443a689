//! Values of a result, from MySQL's binary protocol to JSON, and the names of their types.
//! Binary strings (character set 63) are base64, decimals exact, dates and times ISO 8601
//! (`TIMESTAMP` in UTC: the session's time zone is UTC).

use std::fmt::Write as _;

use base64::Engine as _;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Value};
use serde_json::Value as Json;

use db_configs::results::{decimal, float};

/// The character set of binary strings.
const BINARY: u16 = 63;

fn is_binary(column: &Column) -> bool {
    column.character_set() == BINARY
}

/// `TINYINT(1)`, which is what `BOOLEAN` means to MySQL.
fn is_boolean(column: &Column) -> bool {
    column.column_type() == ColumnType::MYSQL_TYPE_TINY && column.column_length() == 1
}

/// The name of a column's type, lower case (`int`, `varchar`, `decimal`, `tinyint(1)`).
pub(crate) fn type_name(column: &Column) -> String {
    use ColumnType::*;
    let flags = column.flags();
    let name = match column.column_type() {
        MYSQL_TYPE_TINY if is_boolean(column) => "tinyint(1)",
        MYSQL_TYPE_TINY => "tinyint",
        MYSQL_TYPE_SHORT => "smallint",
        MYSQL_TYPE_INT24 => "mediumint",
        MYSQL_TYPE_LONG => "int",
        MYSQL_TYPE_LONGLONG => "bigint",
        MYSQL_TYPE_FLOAT => "float",
        MYSQL_TYPE_DOUBLE => "double",
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => "decimal",
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "date",
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => "time",
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => "datetime",
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => "timestamp",
        MYSQL_TYPE_YEAR => "year",
        MYSQL_TYPE_BIT => "bit",
        MYSQL_TYPE_JSON => "json",
        MYSQL_TYPE_GEOMETRY => "geometry",
        MYSQL_TYPE_NULL => "null",
        MYSQL_TYPE_VECTOR => "vector",
        MYSQL_TYPE_ENUM => "enum",
        MYSQL_TYPE_SET => "set",
        _ if flags.contains(ColumnFlags::ENUM_FLAG) => "enum",
        _ if flags.contains(ColumnFlags::SET_FLAG) => "set",
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING if is_binary(column) => "varbinary",
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => "varchar",
        MYSQL_TYPE_STRING if is_binary(column) => "binary",
        MYSQL_TYPE_STRING => "char",
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB
            if is_binary(column) =>
        {
            "blob"
        }
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            "text"
        }
        _ => "unknown",
    };
    let integer = matches!(
        column.column_type(),
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
    );
    if integer && flags.contains(ColumnFlags::UNSIGNED_FLAG) && !is_boolean(column) {
        format!("{name} unsigned")
    } else {
        name.to_owned()
    }
}

/// A value of `column` as JSON.
pub(crate) fn to_json(column: &Column, value: Value) -> Json {
    use ColumnType::*;
    match value {
        Value::NULL => Json::Null,
        Value::Int(i) if is_boolean(column) && (i == 0 || i == 1) => Json::Bool(i == 1),
        Value::Int(i) => Json::from(i),
        Value::UInt(u) => Json::from(u),
        // Through its shortest decimal form, so 0.1 stays 0.1 and not 0.10000000149.
        Value::Float(x) => float(x.to_string().parse().unwrap_or(f64::from(x))),
        Value::Double(x) => float(x),
        Value::Date(y, mo, d, h, mi, s, us) => {
            let mut out = String::with_capacity(27);
            let _ = write!(out, "{y:04}-{mo:02}-{d:02}");
            match column.column_type() {
                MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => {}
                kind => {
                    let _ = write!(out, "T{h:02}:{mi:02}:{s:02}");
                    push_fraction(&mut out, us);
                    if matches!(kind, MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2) {
                        out.push('Z');
                    }
                }
            }
            Json::String(out)
        }
        Value::Time(negative, days, h, mi, s, us) => {
            let mut out = String::with_capacity(17);
            if negative {
                out.push('-');
            }
            let hours = u64::from(days) * 24 + u64::from(h);
            let _ = write!(out, "{hours:02}:{mi:02}:{s:02}");
            push_fraction(&mut out, us);
            Json::String(out)
        }
        Value::Bytes(bytes) => from_bytes(column, bytes),
    }
}

/// `.ffffff` trimmed of trailing zeros, or nothing.
fn push_fraction(out: &mut String, micros: u32) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

fn base64(bytes: &[u8]) -> Json {
    Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn from_bytes(column: &Column, bytes: Vec<u8>) -> Json {
    use ColumnType::*;
    match column.column_type() {
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => decimal(&text(bytes)),
        MYSQL_TYPE_JSON => {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Json::String(text(bytes)))
        }
        MYSQL_TYPE_BIT if column.column_length() == 1 => Json::Bool(bytes.iter().any(|b| *b != 0)),
        MYSQL_TYPE_BIT if bytes.len() <= 8 => {
            Json::from(bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
        }
        MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => base64(&bytes),
        // Numbers sent as text (the text protocol does this for every type).
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
        | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR | MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => {
            decimal(&text(bytes))
        }
        _ if is_binary(column) && !is_temporal(column.column_type()) => base64(&bytes),
        _ => Json::String(text(bytes)),
    }
}

fn is_temporal(kind: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        kind,
        MYSQL_TYPE_DATE
            | MYSQL_TYPE_NEWDATE
            | MYSQL_TYPE_TIME
            | MYSQL_TYPE_TIME2
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn column(kind: ColumnType, charset: u16, length: u32) -> Column {
        Column::new(kind)
            .with_character_set(charset)
            .with_column_length(length)
    }

    #[test]
    fn values_decode_by_their_column() {
        use ColumnType::*;
        let utf8 = 45;
        let cases = [
            (
                column(MYSQL_TYPE_TINY, BINARY, 1),
                Value::Int(1),
                json!(true),
            ),
            (column(MYSQL_TYPE_TINY, BINARY, 4), Value::Int(1), json!(1)),
            (
                column(MYSQL_TYPE_LONGLONG, BINARY, 20),
                Value::UInt(u64::MAX),
                json!(u64::MAX),
            ),
            (
                column(MYSQL_TYPE_FLOAT, BINARY, 12),
                Value::Float(0.1),
                json!(0.1),
            ),
            (
                column(MYSQL_TYPE_NEWDECIMAL, BINARY, 40),
                Value::Bytes(b"12345678901234567890.12".to_vec()),
                json!("12345678901234567890.12"),
            ),
            (
                column(MYSQL_TYPE_NEWDECIMAL, BINARY, 12),
                Value::Bytes(b"10.50".to_vec()),
                json!(10.5),
            ),
            (
                column(MYSQL_TYPE_VAR_STRING, utf8, 40),
                Value::Bytes("héllo".as_bytes().to_vec()),
                json!("héllo"),
            ),
            (
                column(MYSQL_TYPE_BLOB, BINARY, 65535),
                Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]),
                json!("3q2+7w=="),
            ),
            (
                column(MYSQL_TYPE_JSON, BINARY, 0),
                Value::Bytes(br#"{"a": [1]}"#.to_vec()),
                json!({"a": [1]}),
            ),
            (
                column(MYSQL_TYPE_DATE, BINARY, 10),
                Value::Date(2024, 2, 29, 0, 0, 0, 0),
                json!("2024-02-29"),
            ),
            (
                column(MYSQL_TYPE_DATETIME, BINARY, 26),
                Value::Date(2024, 3, 1, 12, 34, 56, 789_000),
                json!("2024-03-01T12:34:56.789"),
            ),
            (
                column(MYSQL_TYPE_TIMESTAMP, BINARY, 19),
                Value::Date(2024, 3, 1, 10, 0, 0, 0),
                json!("2024-03-01T10:00:00Z"),
            ),
            (
                column(MYSQL_TYPE_TIME, BINARY, 10),
                Value::Time(true, 1, 2, 3, 4, 0),
                json!("-26:03:04"),
            ),
            (
                column(MYSQL_TYPE_BIT, BINARY, 1),
                Value::Bytes(vec![1]),
                json!(true),
            ),
            (
                column(MYSQL_TYPE_BIT, BINARY, 16),
                Value::Bytes(vec![1, 2]),
                json!(258),
            ),
            (
                column(MYSQL_TYPE_LONG, BINARY, 11),
                Value::NULL,
                json!(null),
            ),
        ];
        for (column, value, expected) in cases {
            assert_eq!(to_json(&column, value.clone()), expected, "{value:?}");
        }
    }

    #[test]
    fn type_names_tell_text_from_binary() {
        use ColumnType::*;
        assert_eq!(type_name(&column(MYSQL_TYPE_BLOB, 45, 65535)), "text");
        assert_eq!(type_name(&column(MYSQL_TYPE_BLOB, BINARY, 65535)), "blob");
        assert_eq!(
            type_name(&column(MYSQL_TYPE_VAR_STRING, BINARY, 8)),
            "varbinary"
        );
        assert_eq!(type_name(&column(MYSQL_TYPE_VAR_STRING, 45, 8)), "varchar");
        assert_eq!(
            type_name(
                &column(MYSQL_TYPE_LONGLONG, BINARY, 20).with_flags(ColumnFlags::UNSIGNED_FLAG)
            ),
            "bigint unsigned"
        );
    }
}
