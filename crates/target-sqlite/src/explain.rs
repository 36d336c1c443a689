//! Explaining one read-only statement: `EXPLAIN QUERY PLAN` in front of it, prepared and run
//! as a read (see `read`), so it gets the same read-only handle, authorizer (a statement that
//! would write is denied when prepared, explained or not), interrupt at the time limit and
//! handles. The statement itself is prepared, never stepped.

use std::collections::HashMap;

use db_configs::{PlanFormat, QueryPlan, ReadLimits, ReadStatement, ResultSet, TargetError};
use serde_json::Value;

/// Put in front of the statement; its `?` parameters stay bound in order.
const EXPLAIN: &str = "EXPLAIN QUERY PLAN ";

/// Lines of a plan kept at most: a statement has far fewer unless it is built to have more.
const MAX_LINES: usize = 10_000;

/// Indentation of one level of the plan's tree.
const INDENT: &str = "  ";

/// The statement that explains `statement`, with the same values.
pub(crate) fn statement(statement: &ReadStatement) -> ReadStatement {
    ReadStatement {
        sql: format!("{EXPLAIN}{}", statement.sql),
        params: statement.params.clone(),
    }
}

/// Limits that let every line of the plan through, up to [`MAX_LINES`].
pub(crate) fn limits(timeout: std::time::Duration) -> ReadLimits {
    ReadLimits {
        max_rows: MAX_LINES,
        max_bytes: usize::MAX,
        timeout,
    }
}

/// The rows of `EXPLAIN QUERY PLAN` (`id`, `parent`, `notused`, `detail`) as one text: each
/// node's `detail` on a line of its own, indented one level more than its parent's. SQLite
/// lists a parent before its children; a node whose parent is not listed is at the top.
pub(crate) fn plan(result: ResultSet) -> Result<QueryPlan, TargetError> {
    let mut depths: HashMap<i64, usize> = HashMap::new();
    let mut lines = Vec::with_capacity(result.rows.len());
    for row in &result.rows {
        let (Some(id), Some(parent), Some(detail)) = (
            row.first().and_then(Value::as_i64),
            row.get(1).and_then(Value::as_i64),
            row.get(3).and_then(Value::as_str),
        ) else {
            return Err(TargetError::Query(
                "EXPLAIN QUERY PLAN returned rows of an unknown shape".into(),
            ));
        };
        let depth = depths.get(&parent).map_or(0, |d| d + 1);
        depths.insert(id, depth);
        lines.push(format!("{}{detail}", INDENT.repeat(depth)));
    }
    if result.truncated.is_some() {
        lines.push(format!(
            "(the plan is cut after {} lines)",
            result.rows.len()
        ));
    }
    Ok(QueryPlan {
        format: PlanFormat::Text,
        plan: Value::String(lines.join("\n")),
        total_cost: None,
        estimated_rows: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn children_are_indented_under_their_parent() {
        let rows = [
            (2, 0, "SCAN a"),
            (5, 0, "CORRELATED SCALAR SUBQUERY 1"),
            (9, 5, "SEARCH b USING INTEGER PRIMARY KEY (rowid=?)"),
            (12, 5, "LIST SUBQUERY 2"),
            (14, 12, "SCAN c"),
            (20, 0, "USE TEMP B-TREE FOR ORDER BY"),
        ];
        let result = ResultSet {
            columns: Vec::new(),
            rows: rows
                .iter()
                .map(|(id, parent, detail)| vec![json!(id), json!(parent), json!(0), json!(detail)])
                .collect(),
            truncated: None,
        };
        let plan = plan(result).unwrap();
        assert_eq!(plan.format, PlanFormat::Text);
        assert_eq!(
            plan.plan,
            json!(
                "SCAN a\nCORRELATED SCALAR SUBQUERY 1\n  SEARCH b USING INTEGER PRIMARY KEY (rowid=?)\n  LIST SUBQUERY 2\n    SCAN c\nUSE TEMP B-TREE FOR ORDER BY"
            )
        );
        assert_eq!((plan.total_cost, plan.estimated_rows), (None, None));
    }
}
