//! Values of a result, from PostgreSQL's binary format to JSON, and the names of their types.
//! Anything without a faithful JSON form is text (ISO 8601 dates, exact numerics, base64
//! binaries); a type this file does not know reads as `"<unsupported type ...>"`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use serde_json::Value;
use tokio_postgres::types::{FromSql, Kind, Type};

use db_configs::results::{decimal, float};

/// The bytes of a value as the server sent them, whatever its type.
pub(crate) struct Raw<'a>(pub(crate) &'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

// Object ids of the built-in types (pg_type.oid), stable across versions.
const BOOL: u32 = 16;
const BYTEA: u32 = 17;
const CHAR: u32 = 18;
const NAME: u32 = 19;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const OID: u32 = 26;
const JSON: u32 = 114;
const XML: u32 = 142;
const CIDR: u32 = 650;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const UNKNOWN: u32 = 705;
const MACADDR8: u32 = 774;
const MACADDR: u32 = 829;
const INET: u32 = 869;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const DATE: u32 = 1082;
const TIME: u32 = 1083;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const INTERVAL: u32 = 1186;
const TIMETZ: u32 = 1266;
const NUMERIC: u32 = 1700;
const UUID: u32 = 2950;
const JSONB: u32 = 3802;

/// The name of a type as `format_type` writes it (`integer`, `timestamp with time zone`,
/// `text[]`), lower case, as in schema snapshots.
pub(crate) fn type_name(ty: &Type) -> String {
    if let Kind::Array(element) = ty.kind() {
        return format!("{}[]", type_name(element));
    }
    let name = match ty.oid() {
        BOOL => "boolean",
        INT2 => "smallint",
        INT4 => "integer",
        INT8 => "bigint",
        FLOAT4 => "real",
        FLOAT8 => "double precision",
        VARCHAR => "character varying",
        BPCHAR => "character",
        TIMESTAMP => "timestamp without time zone",
        TIMESTAMPTZ => "timestamp with time zone",
        TIME => "time without time zone",
        TIMETZ => "time with time zone",
        CHAR => "\"char\"",
        _ => return ty.name().to_lowercase(),
    };
    name.to_owned()
}

/// A value of type `ty` as JSON; `None` is SQL NULL.
pub(crate) fn to_json(ty: &Type, raw: Option<&[u8]>) -> Value {
    match raw {
        None => Value::Null,
        Some(raw) => decode(ty, raw)
            .unwrap_or_else(|| Value::String(format!("<unsupported type {}>", type_name(ty)))),
    }
}

fn decode(ty: &Type, raw: &[u8]) -> Option<Value> {
    match ty.kind() {
        Kind::Array(element) => return array(element, raw),
        Kind::Domain(base) => return decode(base, raw),
        // An enum's label, sent as text.
        Kind::Enum(_) => return text(raw),
        _ => {}
    }
    Some(match ty.oid() {
        BOOL => Value::Bool(*raw.first()? != 0),
        INT2 => Value::from(i16::from_be_bytes(raw.try_into().ok()?)),
        INT4 => Value::from(i32::from_be_bytes(raw.try_into().ok()?)),
        INT8 => Value::from(i64::from_be_bytes(raw.try_into().ok()?)),
        OID => Value::from(u32::from_be_bytes(raw.try_into().ok()?)),
        FLOAT4 => {
            let x = f32::from_be_bytes(raw.try_into().ok()?);
            // Through its shortest decimal form, so 0.1 stays 0.1 and not 0.10000000149.
            float(x.to_string().parse().unwrap_or(f64::from(x)))
        }
        FLOAT8 => float(f64::from_be_bytes(raw.try_into().ok()?)),
        NUMERIC => decimal(&numeric(raw)?),
        TEXT | VARCHAR | BPCHAR | NAME | UNKNOWN | XML | CHAR => text(raw)?,
        JSON => serde_json::from_slice(raw).ok()?,
        JSONB => match raw.split_first()? {
            (1, json) => serde_json::from_slice(json).ok()?,
            _ => return None,
        },
        BYTEA => Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
        UUID => Value::String(uuid(raw)?),
        DATE => Value::String(date(i32::from_be_bytes(raw.try_into().ok()?))),
        TIME => {
            let mut s = String::with_capacity(15);
            push_time(&mut s, i64::from_be_bytes(raw.try_into().ok()?));
            Value::String(s)
        }
        TIMETZ => Value::String(timetz(raw)?),
        TIMESTAMP => Value::String(timestamp(i64::from_be_bytes(raw.try_into().ok()?), "")),
        TIMESTAMPTZ => Value::String(timestamp(i64::from_be_bytes(raw.try_into().ok()?), "Z")),
        INTERVAL => Value::String(interval(raw)?),
        INET | CIDR => Value::String(inet(raw)?),
        MACADDR | MACADDR8 => {
            let parts: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
            Value::String(parts.join(":"))
        }
        // Extension types whose binary form is their text: citext, and the like.
        _ if matches!(ty.name(), "citext") => text(raw)?,
        _ => return None,
    })
}

fn text(raw: &[u8]) -> Option<Value> {
    std::str::from_utf8(raw)
        .ok()
        .map(|s| Value::String(s.to_owned()))
}

/// Reads big-endian integers off the front of a buffer.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
}

/// An array (of any number of dimensions) as nested JSON arrays.
fn array(element: &Type, raw: &[u8]) -> Option<Value> {
    let mut r = Reader(raw);
    let dimensions = usize::try_from(r.i32()?).ok()?;
    let _has_nulls = r.i32()?;
    let _element_oid = r.i32()?;
    let mut lengths = Vec::with_capacity(dimensions);
    for _ in 0..dimensions {
        lengths.push(usize::try_from(r.i32()?).ok()?);
        let _lower_bound = r.i32()?;
    }
    if lengths.is_empty() {
        return Some(Value::Array(Vec::new()));
    }
    let value = nested(element, &lengths, &mut r)?;
    r.0.is_empty().then_some(value)
}

fn nested(element: &Type, lengths: &[usize], r: &mut Reader<'_>) -> Option<Value> {
    let (&n, inner) = lengths.split_first()?;
    let mut items = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        items.push(if inner.is_empty() {
            match r.i32()? {
                -1 => Value::Null,
                len => to_json(element, Some(r.bytes(usize::try_from(len).ok()?)?)),
            }
        } else {
            nested(element, inner, r)?
        });
    }
    Some(Value::Array(items))
}

/// A `numeric` in plain decimal notation, from its binary form: base-10000 digits, the
/// weight of the first, a sign, and the number of decimals to show.
fn numeric(raw: &[u8]) -> Option<String> {
    let mut r = Reader(raw);
    let count = usize::try_from(r.i16()?).ok()?;
    let weight = i32::from(r.i16()?);
    let sign = r.u16()?;
    let scale = usize::from(r.u16()?);
    let mut digits = Vec::with_capacity(count);
    for _ in 0..count {
        // Base-10000 digits: anything else is no numeric.
        digits.push(u16::try_from(r.i16()?).ok().filter(|d| *d <= 9999)?);
    }
    let mut out = String::with_capacity(8 + 4 * count + scale);
    match sign {
        0x0000 => {}
        0x4000 => out.push('-'),
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => return None,
    }
    let digit = |i: i32| -> u64 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .map_or(0, u64::from)
    };
    if weight < 0 {
        out.push('0');
    } else {
        push_padded(&mut out, digit(0), 1);
        for i in 1..=weight {
            push_padded(&mut out, digit(i), 4);
        }
    }
    if scale > 0 {
        out.push('.');
        let start = out.len();
        let mut i = weight + 1;
        while out.len() - start < scale {
            push_padded(&mut out, digit(i), 4);
            i += 1;
        }
        out.truncate(start + scale);
    }
    Some(out)
}

fn uuid(raw: &[u8]) -> Option<String> {
    let bytes: [u8; 16] = raw.try_into().ok()?;
    let mut s = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    Some(s)
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The civil date of a day number (days since 1970-01-01), proleptic Gregorian, for any
/// year (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `value` in decimal, zero-padded to `width` digits (at most 20). Dates and times are
/// written on every row read, and `write!` took more time than the rest of decoding them.
fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value);
    for _ in digits.len()..width.min(20) {
        out.push('0');
    }
    out.push_str(digits);
}

/// `YYYY-MM-DD`; years past 9999 or before 1 (astronomical numbering: 0 is 1 BC) get a sign.
fn push_date(out: &mut String, days_since_1970: i64) {
    let (y, m, d) = civil(days_since_1970);
    match y {
        0..=9999 => {}
        ..0 => out.push('-'),
        _ => out.push('+'),
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(m), 2);
    out.push('-');
    push_padded(out, u64::from(d), 2);
}

/// `HH:MM:SS` with the fraction of a second, when there is one, trimmed of zeros.
fn push_time(out: &mut String, micros: i64) {
    if micros < 0 {
        out.push('-');
    }
    let micros = micros.unsigned_abs();
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    push_padded(out, seconds / 3600, 2);
    out.push(':');
    push_padded(out, seconds / 60 % 60, 2);
    out.push(':');
    push_padded(out, seconds % 60, 2);
    if fraction != 0 {
        out.push('.');
        let (mut fraction, mut width) = (fraction, 6);
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        push_padded(out, fraction, width);
    }
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => {
            let mut s = String::with_capacity(10);
            push_date(&mut s, i64::from(days) + PG_EPOCH_DAYS);
            s
        }
    }
}

fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ => {
            let mut s = String::with_capacity(27);
            push_date(&mut s, micros.div_euclid(MICROS_PER_DAY) + PG_EPOCH_DAYS);
            s.push('T');
            push_time(&mut s, micros.rem_euclid(MICROS_PER_DAY));
            s.push_str(zone);
            s
        }
    }
}

/// `HH:MM:SS+hh:mm`: the wire form counts the offset in seconds west of UTC.
fn timetz(raw: &[u8]) -> Option<String> {
    let mut r = Reader(raw);
    let micros = r.i64()?;
    let west = r.i32()?;
    let mut s = String::with_capacity(21);
    push_time(&mut s, micros);
    let east = -west;
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    let _ = write!(s, "{sign}{:02}:{:02}", east / 3600, east / 60 % 60);
    if east % 60 != 0 {
        let _ = write!(s, ":{:02}", east % 60);
    }
    Some(s)
}

/// An ISO 8601 duration (`P1Y2M3DT4H5M6.5S`), each part with its own sign as PostgreSQL's
/// `iso_8601` style writes it.
fn interval(raw: &[u8]) -> Option<String> {
    let mut r = Reader(raw);
    let micros = r.i64()?;
    let days = r.i32()?;
    let months = r.i32()?;
    let mut s = String::from("P");
    if months / 12 != 0 {
        let _ = write!(s, "{}Y", months / 12);
    }
    if months % 12 != 0 {
        let _ = write!(s, "{}M", months % 12);
    }
    if days != 0 {
        let _ = write!(s, "{days}D");
    }
    if micros != 0 {
        s.push('T');
        let sign = if micros < 0 { "-" } else { "" };
        let total = micros.unsigned_abs();
        let (hours, minutes) = (total / 3_600_000_000, total / 60_000_000 % 60);
        let (seconds, fraction) = (total / 1_000_000 % 60, total % 1_000_000);
        if hours != 0 {
            let _ = write!(s, "{sign}{hours}H");
        }
        if minutes != 0 {
            let _ = write!(s, "{sign}{minutes}M");
        }
        if seconds != 0 || fraction != 0 {
            let _ = write!(s, "{sign}{seconds}");
            if fraction != 0 {
                let digits = format!("{fraction:06}");
                let _ = write!(s, ".{}", digits.trim_end_matches('0'));
            }
            s.push('S');
        }
    }
    if s == "P" {
        s.push_str("T0S");
    }
    Some(s)
}

/// `inet` and `cidr`: an address, with its prefix length unless it is a single host.
fn inet(raw: &[u8]) -> Option<String> {
    let mut r = Reader(raw);
    let [family, bits, is_cidr, len] = r.take::<4>()?;
    let address = r.bytes(usize::from(len))?;
    let (text, full) = match family {
        2 => (
            Ipv4Addr::from(<[u8; 4]>::try_from(address).ok()?).to_string(),
            32,
        ),
        3 => (
            Ipv6Addr::from(<[u8; 16]>::try_from(address).ok()?).to_string(),
            128,
        ),
        _ => return None,
    };
    Some(if is_cidr != 0 || bits != full {
        format!("{text}/{bits}")
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn numeric_bytes(weight: i16, sign: u16, scale: u16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&scale.to_be_bytes());
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_decode_to_their_exact_text() {
        let n = |w, s, sc, d: &[i16]| numeric(&numeric_bytes(w, s, sc, d)).unwrap();
        assert_eq!(n(0, 0, 0, &[]), "0");
        assert_eq!(n(0, 0, 2, &[]), "0.00");
        assert_eq!(n(0, 0, 2, &[12, 5000]), "12.50");
        assert_eq!(n(1, 0x4000, 0, &[1, 2345]), "-12345");
        assert_eq!(n(-2, 0, 6, &[1200]), "0.000012");
        assert_eq!(n(-2, 0, 8, &[12]), "0.00000012");
        assert_eq!(n(2, 0, 0, &[1]), "100000000");
        assert_eq!(
            n(4, 0, 3, &[1234, 5678, 9012, 3456, 7890, 1230]),
            "12345678901234567890.123"
        );
        assert_eq!(n(0, 0xC000, 0, &[]), "NaN");
        assert_eq!(n(1, 0, 0, &[7, 9]), "70009");
        // A digit outside base 10000 is no numeric (never written as "-001").
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, &[10_000])), None);
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, &[-1])), None);
    }

    #[test]
    fn dates_and_times_are_iso_8601() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(i32::MAX), "infinity");
        assert_eq!(timestamp(0, "Z"), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp(-1, ""), "1999-12-31T23:59:59.999999");
        assert_eq!(
            timestamp(86_400_000_000 + 1_500_000, ""),
            "2000-01-02T00:00:01.5"
        );
        // 24 November 4714 BC (year -4713), Julian day 0, is PostgreSQL's first day.
        assert_eq!(date(-2_451_545), "-4713-11-24");
        assert_eq!(date(2_921_940), "+10000-01-01");
        assert_eq!(
            timestamp(43_200_000_001, "Z"),
            "2000-01-01T12:00:00.000001Z"
        );
        let mut t = String::new();
        push_time(&mut t, 13 * 3_600_000_000 + 5 * 60_000_000 + 7_000_250);
        assert_eq!(t, "13:05:07.00025");
    }

    #[test]
    fn intervals_are_iso_8601_durations() {
        let i = |micros: i64, days: i32, months: i32| {
            let mut v = micros.to_be_bytes().to_vec();
            v.extend_from_slice(&days.to_be_bytes());
            v.extend_from_slice(&months.to_be_bytes());
            interval(&v).unwrap()
        };
        assert_eq!(i(0, 0, 0), "PT0S");
        assert_eq!(i(3_723_500_000, 3, 14), "P1Y2M3DT1H2M3.5S");
        assert_eq!(i(-60_000_000, -1, 0), "P-1DT-1M");
    }

    #[test]
    fn arrays_nest_by_dimension() {
        let mut raw = Vec::new();
        for n in [2i32, 1, 23, 2, 1, 2, 1] {
            raw.extend_from_slice(&n.to_be_bytes());
        }
        for cell in [Some(1i32), None, Some(3), Some(4)] {
            match cell {
                Some(v) => {
                    raw.extend_from_slice(&4i32.to_be_bytes());
                    raw.extend_from_slice(&v.to_be_bytes());
                }
                None => raw.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        assert_eq!(array(&Type::INT4, &raw), Some(json!([[1, null], [3, 4]])));
    }
}
