//! Explaining one read-only statement: `EXPLAIN FORMAT=JSON` in front of it, prepared and run
//! as a read (see `read`), so it gets the same read-only session, statement timeout and pool,
//! and its `?` values are bound, never written into the text. Without `ANALYZE` the
//! statement is optimised, never run (a write is refused when prepared: the session is
//! read-only).

use db_configs::{PlanFormat, QueryPlan, ReadLimits, ReadStatement, ResultSet, TargetError};
use serde_json::Value;

/// Put in front of the statement; its `?` parameters stay bound in order.
const EXPLAIN: &str = "EXPLAIN FORMAT=JSON ";

/// Wrappers of the join that do not change which tables it reads: sorting, grouping,
/// `DISTINCT` (MySQL), a temporary table or a sort (MariaDB), block nested loop (MariaDB).
const WRAPPERS: [&str; 7] = [
    "ordering_operation",
    "grouping_operation",
    "duplicates_removal",
    "filesort",
    "read_sorted_file",
    "temporary_table",
    "block-nl-join",
];

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

/// The plan in the single row and column of `result` (JSON as text).
pub(crate) fn plan(result: ResultSet) -> Result<QueryPlan, TargetError> {
    let text = result
        .rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next());
    let Some(Value::String(text)) = text else {
        return Err(TargetError::Query("EXPLAIN returned no plan".into()));
    };
    let plan: Value = serde_json::from_str(&text).map_err(|e| {
        TargetError::Query(format!("EXPLAIN returned a plan that is not JSON: {e}"))
    })?;
    let block = &plan["query_block"];
    Ok(QueryPlan {
        format: PlanFormat::Json,
        // MySQL: `cost_info.query_cost`, a string; MariaDB 11: `cost`; MariaDB 10: none.
        total_cost: number(&block["cost_info"]["query_cost"]).or_else(|| number(&block["cost"])),
        estimated_rows: join_rows(block),
        plan,
    })
}

/// A number, or a string holding one (MySQL writes costs and `filtered` as strings).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The rows the join of a query block is estimated to produce, before grouping, `DISTINCT`
/// and `LIMIT`: the product over its tables of the rows read per scan times the share kept
/// by the conditions (`filtered`, a percentage). `None` for anything but a join of tables
/// (a `UNION`, a block without tables, a shape this function does not know).
fn join_rows(node: &Value) -> Option<f64> {
    if let Some(tables) = node.get("nested_loop").and_then(Value::as_array) {
        return tables
            .iter()
            .try_fold(1.0, |rows, table| Some(rows * join_rows(table)?));
    }
    if let Some(table) = node.get("table") {
        let rows = number(&table["rows"]).or_else(|| number(&table["rows_examined_per_scan"]))?;
        let filtered = number(&table["filtered"]).unwrap_or(100.0);
        return Some(rows * filtered / 100.0);
    }
    let mut wrapped = WRAPPERS.iter().filter_map(|w| node.get(*w));
    match (wrapped.next(), wrapped.next()) {
        (Some(inner), None) => join_rows(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use db_configs::ResultColumn;
    use serde_json::json;

    use super::*;

    fn explained(document: &Value) -> QueryPlan {
        plan(ResultSet {
            columns: vec![ResultColumn {
                name: "EXPLAIN".into(),
                type_name: "varchar".into(),
            }],
            rows: vec![vec![Value::String(document.to_string())]],
            truncated: None,
        })
        .unwrap()
    }

    #[test]
    fn mysql_gives_its_cost_as_a_string() {
        let document = json!({"query_block": {
            "select_id": 1,
            "cost_info": {"query_cost": "1.00"},
            "table": {"table_name": "t", "access_type": "const", "rows_examined_per_scan": 1,
                      "rows_produced_per_join": 1, "filtered": "100.00"}
        }});
        let plan = explained(&document);
        assert_eq!(plan.format, PlanFormat::Json);
        assert_eq!(plan.plan, document);
        assert_eq!(plan.total_cost, Some(1.0));
        assert_eq!(plan.estimated_rows, Some(1.0));
    }

    #[test]
    fn mysql_joins_under_a_sort_multiply_their_rows() {
        let document = json!({"query_block": {
            "cost_info": {"query_cost": "452.50"},
            "ordering_operation": {"using_filesort": true, "nested_loop": [
                {"table": {"table_name": "a", "rows_examined_per_scan": 100, "filtered": "10.00"}},
                {"table": {"table_name": "b", "rows_examined_per_scan": 3, "filtered": "100.00"}}
            ]}
        }});
        let plan = explained(&document);
        assert_eq!(plan.total_cost, Some(452.5));
        assert_eq!(plan.estimated_rows, Some(30.0));
    }

    #[test]
    fn mariadb_11_gives_its_cost_as_a_number() {
        let document = json!({"query_block": {
            "select_id": 1,
            "cost": 0.0124,
            "nested_loop": [{"table": {"table_name": "t", "rows": 50, "filtered": 20, "cost": 0.0124}}]
        }});
        let plan = explained(&document);
        assert_eq!(plan.total_cost, Some(0.0124));
        assert_eq!(plan.estimated_rows, Some(10.0));
    }

    #[test]
    fn mariadb_10_gives_no_cost_and_plans_without_tables_no_rows() {
        let document = json!({"query_block": {
            "select_id": 1,
            "nested_loop": [
                {"table": {"table_name": "a", "rows": 4, "filtered": 100}},
                {"block-nl-join": {"table": {"table_name": "b", "rows": 5, "filtered": 50}}}
            ]
        }});
        let plan = explained(&document);
        assert_eq!(plan.total_cost, None);
        assert_eq!(plan.estimated_rows, Some(10.0));

        let none = explained(
            &json!({"query_block": {"select_id": 1, "table": {"message": "No tables used"}}}),
        );
        assert_eq!(none.estimated_rows, None);
        let union =
            explained(&json!({"query_block": {"union_result": {"table_name": "<union1,2>"}}}));
        assert_eq!(union.estimated_rows, None);
    }
}
