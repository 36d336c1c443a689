//! `GET /metrics`: Prometheus text format. HTTP requests and latency by route, the MCP
//! endpoint's calls by action, tool and outcome, and the audit queue depth. Open to loopback
//! clients; anyone else needs the configured token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use mcp::{Histogram, label};
use subtle::ConstantTimeEq as _;

use crate::{ApiError, AppState};

#[derive(Debug, Default)]
struct Inner {
    /// (route pattern, method, status) -> requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route pattern -> latency.
    latency: BTreeMap<String, Histogram>,
}

/// HTTP counters, updated by the request middleware.
#[derive(Debug, Default)]
pub struct HttpStats {
    inner: Mutex<Inner>,
}

impl HttpStats {
    /// Counts a request to `route` (the matched pattern, never the raw path: ids would make a
    /// series per resource).
    pub fn record(&self, route: &str, method: &str, status: u16, d: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        inner
            .latency
            .entry(route.to_owned())
            .or_default()
            .observe(d);
    }

    fn render(&self, out: &mut String) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP sluice_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE sluice_http_requests_total counter\n");
        for ((route, method, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "sluice_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                label(route),
                label(method)
            );
        }
        out.push_str(
            "# HELP sluice_http_request_duration_seconds Time to answer an HTTP request, by route.\n",
        );
        out.push_str("# TYPE sluice_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            h.render(
                out,
                "sluice_http_request_duration_seconds",
                &format!("route=\"{}\"", label(route)),
            );
        }
    }
}

fn allowed(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match &state.settings.metrics_token {
        Some(token) => {
            let given = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
                Ok(())
            } else {
                Err(ApiError::unauthorized(
                    "invalid_token",
                    "metrics need the configured token (Authorization: Bearer)",
                ))
            }
        }
        None if state
            .settings
            .trusted_proxies
            .client_address(req)
            .is_loopback() =>
        {
            Ok(())
        }
        None => Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are served to loopback clients only; set SLUICE_METRICS__TOKEN to allow others",
        )),
    }
}

/// The pool of each stored connection: size, use, waits and `Busy` refusals.
fn pools(out: &mut String, stats: &[db_configs::PoolStat]) {
    type Series = (
        &'static str,
        &'static str,
        &'static str,
        fn(&db_configs::PoolStat) -> u64,
    );
    let series: [Series; 5] = [
        (
            "sluice_target_pool_max",
            "gauge",
            "Connections a pool may hold for reads.",
            |s| s.max as u64,
        ),
        (
            "sluice_target_pool_in_use",
            "gauge",
            "Connections with a read in flight (PostgreSQL reads share connections).",
            |s| s.in_use as u64,
        ),
        (
            "sluice_target_pool_waiting",
            "gauge",
            "Reads waiting for room on a connection.",
            |s| s.waiting as u64,
        ),
        (
            "sluice_target_pool_waits_total",
            "counter",
            "Reads that had to wait for room on a connection.",
            |s| s.waits_total,
        ),
        (
            "sluice_target_pool_busy_total",
            "counter",
            "Reads refused after waiting too long.",
            |s| s.busy_total,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in stats {
            let _ = writeln!(
                out,
                "{name}{{connection=\"{}\"}} {}",
                s.connection,
                value(s)
            );
        }
    }
}

/// The metrics, in Prometheus text format.
pub(crate) async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    allowed(&req, &state)?;
    let mut out = String::with_capacity(8 * 1024);
    state.http_stats.render(&mut out);
    state.mcp.stats().render(&mut out);
    pools(&mut out, &state.db_configs.pool_stats());
    out.push_str("# HELP sluice_audit_queue_depth Audit events waiting to be written.\n");
    out.push_str("# TYPE sluice_audit_queue_depth gauge\n");
    let _ = writeln!(out, "sluice_audit_queue_depth {}", state.audit.depth());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(out))
}
