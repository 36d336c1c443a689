//! Counters of the MCP endpoint for `/metrics`: tool calls by tool and outcome, their
//! latency, and refusals by reason. Cheap to update on the hot path (one short lock).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A latency histogram in Prometheus's cumulative form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last slot is above every bound).
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += secs;
        self.count += 1;
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of `name` with `labels`
    /// (`a="b",c="d"`, may be empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Escapes a label value.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[derive(Debug, Default)]
struct Inner {
    /// (action, outcome) -> requests.
    requests: BTreeMap<(String, &'static str), u64>,
    /// tool -> latency of its calls.
    latency: BTreeMap<String, Histogram>,
}

/// The endpoint's counters.
#[derive(Debug, Default)]
pub struct McpStats {
    inner: Mutex<Inner>,
}

impl McpStats {
    /// Counts one request (its audit action and outcome) and, for a tool call, its latency.
    pub fn record(&self, action: &str, outcome: &'static str, tool: Option<&str>, d: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner
            .requests
            .entry((action.to_owned(), outcome))
            .or_default() += 1;
        if let Some(tool) = tool.filter(|_| action != "mcp.tools.call") {
            inner.latency.entry(tool.to_owned()).or_default().observe(d);
        }
    }

    /// The Prometheus text of the counters.
    pub fn render(&self, out: &mut String) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP sluice_mcp_requests_total MCP requests by audit action and outcome.\n",
        );
        out.push_str("# TYPE sluice_mcp_requests_total counter\n");
        for ((action, outcome), n) in &inner.requests {
            let _ = writeln!(
                out,
                "sluice_mcp_requests_total{{action=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(action)
            );
        }
        out.push_str(
            "# HELP sluice_mcp_tool_call_duration_seconds Time to answer a tool call once its body has arrived, by tool.\n",
        );
        out.push_str("# TYPE sluice_mcp_tool_call_duration_seconds histogram\n");
        for (tool, h) in &inner.latency {
            h.render(
                out,
                "sluice_mcp_tool_call_duration_seconds",
                &format!("tool=\"{}\"", label(tool)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_counts_add_up() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(7));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x", "tool=\"t\"");
        assert!(
            out.contains("x_bucket{tool=\"t\",le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("x_bucket{tool=\"t\",le=\"0.01\"} 2\n"));
        assert!(out.contains("x_bucket{tool=\"t\",le=\"10\"} 2\n"));
        assert!(out.contains("x_bucket{tool=\"t\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_count{tool=\"t\"} 3\n"));
    }

    #[test]
    fn requests_are_counted_by_action_and_outcome() {
        let s = McpStats::default();
        let d = Duration::from_millis(3);
        s.record(
            "mcp.query.executed",
            "success",
            Some("execute_query_safe"),
            d,
        );
        s.record(
            "mcp.query.executed",
            "success",
            Some("execute_query_safe"),
            d,
        );
        s.record("mcp.rate_limited", "denied", None, d);
        s.record("mcp.tools.call", "denied", Some("drop \"all\""), d);
        let mut out = String::new();
        s.render(&mut out);
        assert!(out.contains(
            "sluice_mcp_requests_total{action=\"mcp.query.executed\",outcome=\"success\"} 2\n"
        ));
        assert!(out.contains(
            "sluice_mcp_requests_total{action=\"mcp.rate_limited\",outcome=\"denied\"} 1\n"
        ));
        assert!(
            !out.contains("drop"),
            "a made-up tool name gets no series of its own: {out}"
        );
    }
}
