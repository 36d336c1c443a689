//! Running and explaining a structured query within the grant and the key's limits.

use db_configs::{ReadLimits, TargetError};
use serde_json::{Value, json};

use super::{Grant, ToolOutcome};

/// What a failed read tells the agent: the database's own message for a bad query, a plain
/// sentence for everything else (never addresses or credentials).
fn read_error(e: &TargetError) -> String {
    match e {
        TargetError::Query(m) => format!("the database refused the query: {m}"),
        TargetError::QueryTimeout(ms) => format!(
            "the query was cancelled after {ms} ms, its time limit; add conditions or a smaller limit"
        ),
        TargetError::Busy => {
            "too many queries are running on this database; try again shortly".into()
        }
        TargetError::Unsupported(m) => m.clone(),
        TargetError::HostNotAllowed(_)
        | TargetError::UnknownHost(_)
        | TargetError::Unreachable(_)
        | TargetError::AuthenticationFailed(_)
        | TargetError::Timeout(_)
        | TargetError::NotFound(_) => {
            "the database cannot be reached right now; try again later".into()
        }
    }
}

/// What `execute_query_safe` answers (members in alphabetical order, as they always were).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryResult<'a> {
    columns: &'a [db_configs::ResultColumn],
    row_count: usize,
    rows: &'a [Vec<Value>],
    truncated: bool,
    truncated_by: Option<db_configs::Truncation>,
}

/// Plans and runs a structured query.
pub async fn execute_query_safe(
    grant: &Grant,
    args: &Value,
    limits: ReadLimits,
    bounds: query::Bounds,
) -> ToolOutcome {
    let plan = match plan_query(grant, args, &limits, bounds) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let tables = plan.tables.clone();
    let mut outcome = match grant.reader.read(&plan.statement, limits).await {
        Ok(result) => {
            let mut outcome = ToolOutcome::ok(&QueryResult {
                columns: &result.columns,
                row_count: result.rows.len(),
                rows: &result.rows,
                truncated: result.truncated.is_some(),
                truncated_by: result.truncated,
            });
            outcome.row_count = Some(result.rows.len());
            outcome.truncated = result.truncated.is_some();
            outcome
        }
        Err(e) => {
            tracing::info!(error = %e, "query failed");
            ToolOutcome::error(read_error(&e))
        }
    };
    outcome.tables = tables;
    outcome
}

/// Parses and plans a structured query within the grant; a refusal is the tool's answer.
fn plan_query(
    grant: &Grant,
    args: &Value,
    limits: &ReadLimits,
    bounds: query::Bounds,
) -> Result<query::Plan, ToolOutcome> {
    let parsed =
        query::Query::parse_within(args, bounds).map_err(|e| ToolOutcome::query_error(&e))?;
    query::plan_for(&parsed, &grant.catalog, &grant.engine, limits.max_rows)
        .map_err(|e| ToolOutcome::query_error(&e))
}

/// Why `explain_query` gives no plan for a query that reads a view.
const VIEW_PLAN_HIDDEN: &str = "The query reads a view: its plan would show the view's definition (the tables under it and its conditions), so only the estimates are given.";

/// Plans a structured query exactly as `execute_query_safe` would, and asks the database how
/// it would run it, without running it.
pub async fn explain_query(
    grant: &Grant,
    args: &Value,
    limits: ReadLimits,
    bounds: query::Bounds,
) -> ToolOutcome {
    let plan = match plan_query(grant, args, &limits, bounds) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let tables = plan.tables.clone();
    // A view's plan is its definition: the tables under it (which the key may not be granted),
    // their columns and the view's own conditions. Only the estimates are shown for it.
    let mut outcome = match grant.reader.explain(&plan.statement, limits.timeout).await {
        Ok(explained) => ToolOutcome::ok(&json!({
            "sql": plan.statement.sql,
            "format": explained.format,
            "plan": if plan.reads_view { Value::Null } else { explained.plan },
            "planHidden": plan.reads_view.then_some(VIEW_PLAN_HIDDEN),
            "totalCost": explained.total_cost,
            "estimatedRows": explained.estimated_rows,
        })),
        Err(e) => {
            tracing::info!(error = %e, "explain failed");
            ToolOutcome::error(read_error(&e))
        }
    };
    outcome.tables = tables;
    outcome
}
