//! DTOs of `/api/audit` (seed 002, camelCase).

use audit::{AuditFilter, AuditPage, Outcome, StoredEvent, Verification};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, Time};
use utoipa::{IntoParams, ToSchema};

use crate::ApiError;

/// Which events to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1-based; default 1.
    pub page: Option<u32>,
    /// Default 20, at most 200.
    pub page_size: Option<u32>,
    /// Only this MCP key's events.
    pub key_id: Option<String>,
    /// Only calls of this tool (`execute_query_safe`, ...).
    pub tool_name: Option<String>,
    /// From this day (`2026-05-01`, UTC) or instant (RFC 3339), inclusive.
    pub date_from: Option<String>,
    /// To this day (inclusive: the whole day, UTC) or before this instant (RFC 3339).
    pub date_to: Option<String>,
    /// Only this action (`mcp.query.executed`, `mcp.key.auth.failed`, ...).
    pub action: Option<String>,
    /// `success`, `denied` or `failed`.
    pub result: Option<String>,
    /// Text in the action, tool, error, actor, tables, arguments, address or user agent,
    /// case-insensitive, found where it starts at the start of a word (`orders`, `ord` and
    /// `public.orders` find `public.orders`; `rders` does not), or at the beginning of the
    /// request id.
    pub q: Option<String>,
}

/// Event times: RFC 3339 in UTC with exactly six fraction digits, so that the text sorts
/// like the time (in lists and exports alike).
const EVENT_TIME: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: String,
    /// When it happened (RFC 3339, UTC, microseconds: `2026-05-01T09:30:00.000000Z`).
    pub created_at: String,
    /// `system`, `admin` or `mcp-key`.
    pub actor_type: String,
    /// The administrator's name or the key's id.
    pub actor_id: Option<String>,
    pub key_id: Option<String>,
    pub action: String,
    pub tool_name: Option<String>,
    pub db_management_id: Option<String>,
    pub tables: Vec<String>,
    /// `success`, `denied` or `failed`.
    pub result: String,
    pub error: Option<String>,
    pub duration_ms: Option<u64>,
    pub row_count: Option<u64>,
    pub truncated: bool,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// The call's arguments (values replaced by `"***"` when the server redacts them).
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<serde_json::Value>,
}

/// One page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPageView {
    pub items: Vec<AuditEventView>,
    pub page: u32,
    pub page_size: u32,
    /// Matching events. A text search (`q`) counts up to 1,000 (or to the end of the page
    /// asked for), and for at most 50 ms once the page is found: then `total` is how many it
    /// counted, at least, and `totalExact` is false.
    pub total: u64,
    /// Whether `total` counts every matching event.
    pub total_exact: bool,
}

/// The result of checking the hash chain.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationView {
    /// Whether every event matches its hash and follows the one before it.
    pub ok: bool,
    /// Events checked before the first broken one (all of them when `ok`).
    pub checked: u64,
    /// The first event that does not match; `null` when `ok`.
    pub first_broken_id: Option<String>,
}

fn when(raw: &str, field: &str, end_of_day: bool) -> Result<OffsetDateTime, ApiError> {
    let raw = raw.trim();
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = Date::parse(raw, &format).map_err(|_| {
        ApiError::validation(
            field,
            format!("{field}: {raw:?} is not a date (2026-05-01) or an RFC 3339 time"),
        )
    })?;
    let start = day.with_time(Time::MIDNIGHT).assume_utc();
    Ok(if end_of_day {
        // The next midnight; the day's last microsecond on the last day there is.
        start
            .checked_add(Duration::days(1))
            .unwrap_or_else(|| start + (Duration::days(1) - Duration::microseconds(1)))
    } else {
        start
    })
}

impl TryFrom<AuditQuery> for AuditFilter {
    type Error = ApiError;

    fn try_from(q: AuditQuery) -> Result<Self, ApiError> {
        let page_size = q.page_size.unwrap_or(20);
        if !(1..=audit::MAX_PAGE_SIZE).contains(&page_size) {
            return Err(ApiError::validation(
                "pageSize",
                format!("pageSize: must be between 1 and {}", audit::MAX_PAGE_SIZE),
            ));
        }
        let page = q.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::validation(
                "page",
                "page: pages start at 1".to_owned(),
            ));
        }
        let key_id = q
            .key_id
            .as_deref()
            .map(|k| {
                k.trim().parse().map_err(|_| {
                    ApiError::validation("keyId", format!("keyId: {k:?} is not a key id"))
                })
            })
            .transpose()?;
        let outcome = q
            .result
            .as_deref()
            .map(|r| {
                Outcome::parse(r.trim()).ok_or_else(|| {
                    ApiError::validation(
                        "result",
                        format!("result: {r:?} is not one of success, denied, failed"),
                    )
                })
            })
            .transpose()?;
        let from = q
            .date_from
            .as_deref()
            .map(|d| when(d, "dateFrom", false))
            .transpose()?;
        let to = q
            .date_to
            .as_deref()
            .map(|d| when(d, "dateTo", true))
            .transpose()?;
        let nonempty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(Self {
            page,
            page_size,
            key_id,
            tool_name: nonempty(q.tool_name),
            action: nonempty(q.action),
            outcome,
            from,
            to,
            text: nonempty(q.q).map(|t| t.chars().take(200).collect()),
        })
    }
}

impl From<StoredEvent> for AuditEventView {
    fn from(s: StoredEvent) -> Self {
        let e = s.event;
        Self {
            id: e.id.to_string(),
            created_at: e.at.format(&EVENT_TIME).unwrap_or_default(),
            actor_type: e.actor_type.as_str().to_owned(),
            actor_id: e.actor_id,
            key_id: e.key_id.map(|k| k.to_string()),
            action: e.action,
            tool_name: e.tool_name,
            db_management_id: e.db_config_id.map(|d| d.to_string()),
            tables: e.tables,
            result: e.outcome.as_str().to_owned(),
            error: e.error,
            duration_ms: e.duration_ms,
            row_count: e.row_count,
            truncated: e.truncated,
            request_id: e.request_id,
            client_address: e.client_addr,
            user_agent: e.user_agent,
            arguments: e.arguments.and_then(|a| serde_json::from_str(&a).ok()),
        }
    }
}

impl From<AuditPage> for AuditPageView {
    fn from(p: AuditPage) -> Self {
        Self {
            items: p.items.into_iter().map(AuditEventView::from).collect(),
            page: p.page,
            page_size: p.page_size,
            total: p.total,
            total_exact: p.total_exact,
        }
    }
}

impl From<Verification> for VerificationView {
    fn from(v: Verification) -> Self {
        Self {
            ok: v.ok,
            checked: v.checked,
            first_broken_id: v.first_broken_id.map(|i| i.to_string()),
        }
    }
}

/// The window of a daily summary.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Days back from today (UTC), today included; default 7, at most 90.
    pub days: Option<u32>,
}

/// Events per day and outcome.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailySummaryView {
    pub days: u32,
    /// Oldest first; days without events are there with zeros.
    pub items: Vec<DayView>,
}

/// One day of a summary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayView {
    /// `2026-05-01` (UTC).
    pub day: String,
    pub success_count: u64,
    pub denied_count: u64,
    pub failed_count: u64,
}

impl From<audit::DayCounts> for DayView {
    fn from(d: audit::DayCounts) -> Self {
        Self {
            day: d.day.to_string(),
            success_count: d.success,
            denied_count: d.denied,
            failed_count: d.failed,
        }
    }
}

/// The format of an export, with the filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default) or `json`.
    pub format: Option<String>,
    pub key_id: Option<String>,
    pub tool_name: Option<String>,
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub action: Option<String>,
    pub result: Option<String>,
    pub q: Option<String>,
}

impl ExportQuery {
    /// The filter of an export (no paging) and whether it is CSV.
    pub fn split(self) -> Result<(AuditFilter, bool), ApiError> {
        let csv = match self.format.as_deref().map(str::trim) {
            None | Some("csv") => true,
            Some("json") => false,
            Some(other) => {
                return Err(ApiError::validation(
                    "format",
                    format!("format: {other:?} is not csv or json"),
                ));
            }
        };
        let filter = AuditQuery {
            page: None,
            page_size: None,
            key_id: self.key_id,
            tool_name: self.tool_name,
            date_from: self.date_from,
            date_to: self.date_to,
            action: self.action,
            result: self.result,
            q: self.q,
        }
        .try_into()?;
        Ok((filter, csv))
    }
}

/// The CSV header of an export.
pub const CSV_HEADER: &str = "id,createdAt,actorType,actorId,keyId,action,toolName,dbManagementId,tables,result,error,durationMs,rowCount,truncated,requestId,clientAddress,userAgent,arguments\r\n";

/// One CSV cell: quoted when needed, and defused when a spreadsheet would read it as a
/// formula (a leading `=`, `+`, `-`, `@`, tab, carriage return or full-width `＝`/`＋`/`－`/`＠`
/// gets a `'` in front). A `;` is quoted too: spreadsheets in locales that split on it would
/// otherwise start a new cell, possibly a formula, in the middle of this one.
fn cell(value: &str) -> String {
    let defused = if value.starts_with([
        '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ]) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// One event as a CSV line.
pub fn csv_line(e: &AuditEventView) -> String {
    let opt = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        cell(&e.id),
        cell(&e.created_at),
        cell(&e.actor_type),
        opt(&e.actor_id),
        opt(&e.key_id),
        cell(&e.action),
        opt(&e.tool_name),
        opt(&e.db_management_id),
        cell(&e.tables.join(" ")),
        cell(&e.result),
        opt(&e.error),
        num(e.duration_ms),
        num(e.row_count),
        e.truncated.to_string(),
        opt(&e.request_id),
        opt(&e.client_address),
        opt(&e.user_agent),
        e.arguments
            .as_ref()
            .map(|a| cell(&a.to_string()))
            .unwrap_or_default(),
    ];
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

/// The dashboard (seed 002), with the figures of the last 14 days.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardView {
    /// Every key, revoked ones included.
    pub total_keys: u64,
    /// Keys that work now.
    pub active_keys: u64,
    /// MCP tool calls ever recorded.
    pub total_queries: u64,
    /// The 10 newest audit events.
    pub recent_audit_logs: Vec<AuditEventView>,
    /// Tool calls and errors (denied or failed) per day, the last 14 days, oldest first.
    pub calls_per_day: Vec<CallsDayView>,
    /// The most called tools in the last 14 days.
    pub top_tools: Vec<CountView>,
    /// The keys with the most requests in the last 14 days.
    pub top_keys: Vec<CountView>,
    /// The 95th percentile of tool call durations over the last 24 hours, in milliseconds.
    pub p95_latency_ms_24h: Option<f64>,
}

/// Calls of one day.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallsDayView {
    pub day: String,
    pub calls: u64,
    pub errors: u64,
}

/// A name (tool or key id) and a count.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CountView {
    pub name: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_day_there_is_ends_without_overflowing() {
        let end = when("9999-12-31", "dateTo", true).unwrap();
        assert_eq!(
            end.date(),
            Date::from_calendar_date(9999, time::Month::December, 31).unwrap()
        );
        assert_eq!(
            end.time(),
            Time::from_hms_micro(23, 59, 59, 999_999).unwrap()
        );
        let next = when("2026-05-01", "dateTo", true).unwrap();
        assert_eq!(next, time::macros::datetime!(2026-05-02 0:00 UTC));
    }

    #[test]
    fn spreadsheet_formulas_are_defused_and_cells_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(
            cell("x;=1+1"),
            "\"x;=1+1\"",
            "a ;-locale split stays inside the quotes"
        );
        assert_eq!(cell("\u{FF1D}1+1"), "'\u{FF1D}1+1");
    }
}
