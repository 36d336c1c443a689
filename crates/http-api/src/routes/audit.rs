//! `/api/audit` (seed 002): search the audit log and check its hash chain.

use actix_web::{HttpResponse, web};
use time::{Duration, OffsetDateTime};

use crate::dto_audit::{
    AuditEventView, AuditPageView, AuditQuery, CSV_HEADER, CallsDayView, CountView,
    DailySummaryView, DashboardView, DayView, ExportQuery, SummaryQuery, VerificationView,
    csv_line,
};
use crate::extract::Admin;
use crate::{ApiError, AppState, Problem};

impl From<audit::AuditError> for ApiError {
    fn from(e: audit::AuditError) -> Self {
        match e {
            audit::AuditError::Unavailable(cause) | audit::AuditError::Rejected(cause) => {
                Self::unavailable(cause.as_ref())
            }
        }
    }
}

/// List audit events, newest first: every MCP request (allowed, denied, failed or
/// unauthenticated) and every administrator change.
#[utoipa::path(get, path = "/api/audit", tag = "audit", operation_id = "listAuditEvents",
    params(AuditQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = AuditPageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .audit_store
        .search(&query.into_inner().try_into()?)
        .await?;
    Ok(HttpResponse::Ok().json(AuditPageView::from(page)))
}

/// Check the hash chain of the whole log: an event edited, removed or reordered in the
/// database breaks it at that event.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit", operation_id = "verifyAuditLog",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = VerificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let v = state.audit_store.verify().await?;
    Ok(HttpResponse::Ok().json(VerificationView::from(v)))
}

/// Events per day and outcome over the last `days` days (UTC), today included.
#[utoipa::path(get, path = "/api/audit/daily-summary", tag = "audit", operation_id = "getAuditDailySummary",
    params(SummaryQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DailySummaryView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn daily_summary(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<SummaryQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = query.days.unwrap_or(7);
    if !(1..=audit::MAX_SUMMARY_DAYS).contains(&days) {
        return Err(ApiError::validation(
            "days",
            format!("days: must be between 1 and {}", audit::MAX_SUMMARY_DAYS),
        ));
    }
    let today = OffsetDateTime::now_utc().date();
    let from = today - Duration::days(i64::from(days) - 1);
    let counts = state.audit_store.daily_counts(from).await?;
    Ok(HttpResponse::Ok().json(DailySummaryView {
        days,
        items: audit::daily_summary(today, days, &counts)
            .into_iter()
            .map(DayView::from)
            .collect(),
    }))
}

/// Events exported per request, page by page.
const EXPORT_PAGE: u32 = 1_000;

/// Export the events matching the list's filters, newest first, as CSV (safe to open in a
/// spreadsheet: cells that would be formulas are defused) or a JSON array. Streamed: the
/// log is read page by page, never held whole.
#[utoipa::path(get, path = "/api/audit/export", tag = "audit", operation_id = "exportAuditEvents",
    params(ExportQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "text/csv or application/json", content_type = "text/csv"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn export(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, csv) = query.into_inner().split()?;
    let store = state.audit_store.clone();
    // Read the first page now, so a store failure is a clean 503 rather than a cut stream.
    let first = store.export_page(&filter, None, EXPORT_PAGE).await?;
    struct Cursor {
        page: Vec<audit::StoredEvent>,
        first: bool,
        done: bool,
    }
    let start = Cursor {
        page: first,
        first: true,
        done: false,
    };
    let body = futures_util::stream::unfold(start, move |mut c| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            if c.done {
                return None;
            }
            let mut chunk = String::new();
            if c.first {
                chunk.push_str(if csv { CSV_HEADER } else { "[" });
            }
            let last = c.page.last().map(|e| audit::Cursor {
                at: e.event.at,
                seq: e.seq,
            });
            let full = c.page.len() == EXPORT_PAGE as usize;
            for (i, e) in c.page.drain(..).enumerate() {
                let view = AuditEventView::from(e);
                if csv {
                    chunk.push_str(&csv_line(&view));
                } else {
                    if !(c.first && i == 0) {
                        chunk.push(',');
                    }
                    chunk.push_str(&serde_json::to_string(&view).unwrap_or_default());
                }
            }
            c.first = false;
            if full {
                match store.export_page(&filter, last, EXPORT_PAGE).await {
                    Ok(next) if !next.is_empty() => c.page = next,
                    Ok(_) => c.done = true,
                    Err(e) => {
                        tracing::error!(error = %e, "the audit export stopped early");
                        return Some((Err(std::io::Error::other("audit store unavailable")), c));
                    }
                }
            } else {
                c.done = true;
            }
            if c.done && !csv {
                chunk.push(']');
            }
            Some((Ok::<_, std::io::Error>(web::Bytes::from(chunk)), c))
        }
    });
    let (content_type, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/json", "json")
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"sluice-audit-{}.{ext}\"",
                OffsetDateTime::now_utc().date()
            ),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

/// The dashboard (seed 002): keys, tool calls, the newest events, and the figures of the
/// last 14 days.
#[utoipa::path(get, path = "/api/dashboard", tag = "audit", operation_id = "getDashboard",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DashboardView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn dashboard(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    const DAYS: i64 = 14;
    let keys = state.keys.list().await?;
    let now = OffsetDateTime::now_utc();
    let today = now.date();
    let from = today - Duration::days(DAYS - 1);
    let stats = state
        .audit_store
        .stats(from, now - Duration::hours(24))
        .await?;
    let recent = state
        .audit_store
        .search(&audit::AuditFilter {
            page: 1,
            page_size: 10,
            ..audit::AuditFilter::default()
        })
        .await?;
    let calls_per_day = (0..DAYS)
        .rev()
        .map(|back| {
            let day = today - Duration::days(back);
            let (calls, errors) = stats
                .calls_per_day
                .iter()
                .find(|(d, _, _)| *d == day)
                .map_or((0, 0), |(_, c, e)| (*c, *e));
            CallsDayView {
                day: day.to_string(),
                calls,
                errors,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(DashboardView {
        total_keys: keys.len() as u64,
        active_keys: keys.iter().filter(|k| k.key.is_usable(now)).count() as u64,
        total_queries: stats.tool_calls,
        recent_audit_logs: recent.items.into_iter().map(AuditEventView::from).collect(),
        calls_per_day,
        top_tools: stats
            .top_tools
            .into_iter()
            .map(|(name, count)| CountView { name, count })
            .collect(),
        top_keys: stats
            .top_keys
            .into_iter()
            .map(|(id, count)| CountView {
                name: id.to_string(),
                count,
            })
            .collect(),
        p95_latency_ms_24h: stats.p95_ms_24h,
    }))
}
