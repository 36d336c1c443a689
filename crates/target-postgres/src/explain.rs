//! Explaining one read-only statement: `EXPLAIN (FORMAT JSON)` in front of it, run as a read
//! (see `read`), so it gets the same read-only session, isolation of text that could change
//! the session, statement timeout and pool. Without `ANALYZE` the statement is planned, never
//! run.

use db_configs::{PlanFormat, QueryPlan, ReadLimits, ReadStatement, ResultSet, TargetError};

/// Put in front of the statement; its `$n` parameters stay bound in order.
const EXPLAIN: &str = "EXPLAIN (FORMAT JSON) ";

/// The statement that explains `statement`, with the same values.
pub(crate) fn statement(statement: &ReadStatement) -> ReadStatement {
    ReadStatement {
        sql: format!("{EXPLAIN}{}", statement.sql),
        params: statement.params.clone(),
    }
}

/// Limits that let the one row of the plan through whatever its size.
pub(crate) fn limits(timeout: std::time::Duration) -> ReadLimits {
    ReadLimits {
        max_rows: 1,
        max_bytes: usize::MAX,
        timeout,
    }
}

/// The plan in the single row and column of `result`: an array with one object whose
/// `Plan` holds the top node.
pub(crate) fn plan(result: ResultSet) -> Result<QueryPlan, TargetError> {
    let Some(plan) = result
        .rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
    else {
        return Err(TargetError::Query("EXPLAIN returned no plan".into()));
    };
    let top = &plan[0]["Plan"];
    Ok(QueryPlan {
        format: PlanFormat::Json,
        total_cost: top["Total Cost"].as_f64(),
        estimated_rows: top["Plan Rows"].as_f64(),
        plan,
    })
}

#[cfg(test)]
mod tests {
    use db_configs::ResultColumn;
    use serde_json::json;

    use super::*;

    #[test]
    fn costs_come_from_the_top_node() {
        let document =
            json!([{"Plan": {"Node Type": "Seq Scan", "Total Cost": 35.5, "Plan Rows": 2550}}]);
        let result = ResultSet {
            columns: vec![ResultColumn {
                name: "QUERY PLAN".into(),
                type_name: "json".into(),
            }],
            rows: vec![vec![document.clone()]],
            truncated: None,
        };
        let plan = plan(result).unwrap();
        assert_eq!(plan.format, PlanFormat::Json);
        assert_eq!(plan.plan, document);
        assert_eq!(plan.total_cost, Some(35.5));
        assert_eq!(plan.estimated_rows, Some(2550.0));
    }
}
