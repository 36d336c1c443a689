//! Properties: any JSON either plans or is refused (never a panic); a plan only reads catalog
//! tables (whatever joins, subqueries, CTEs and combined queries hold), binds every value,
//! caps its rows, and holds no caller text outside quoted identifiers.

use proptest::prelude::*;
use serde_json::Map;

use super::*;
use crate::strategies::{any_json, arguments, key, query_shapes, word};

/// Every word the renderer writes, besides quoted identifiers, numbers and placeholders.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "DISTINCT",
    "FROM",
    "AS",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "ESCAPE",
    "IN",
    "BETWEEN",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "CAST",
    "TEXT",
    "BIGINT",
    "DOUBLE",
    "PRECISION",
    "BOOLEAN",
    "LOWER",
    "UPPER",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "?",
    "I",
    "WITH",
    "UNION",
    "ALL",
    "INTERSECT",
    "EXCEPT",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "JOIN",
    "ON",
    "GROUP",
    "HAVING",
    "EXISTS",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "FILTER",
    "OVER",
    "PARTITION",
    "ROW_NUMBER",
    "RANK",
    "DENSE_RANK",
    "LAG",
    "LEAD",
    "LENGTH",
    "CHAR_LENGTH",
    "TRIM",
    "SUBSTR",
    "CONCAT",
    "CONCAT_WS",
    "COALESCE",
    "NULLIF",
    "ABS",
    "ROUND",
    "FLOOR",
    "CEIL",
    "NUMERIC",
    "INTEGER",
    "TIMESTAMP",
    "DATETIME",
    "CURRENT_DATE",
    "DATE_TRUNC",
    "EXTRACT",
    "YEAR",
    "QUARTER",
    "MONTH",
    "WEEK",
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "DOW",
    "DOY",
    "EPOCH",
    "DATE_FORMAT",
    "MAKEDATE",
    "INTERVAL",
    "DATE_SUB",
    "DATE",
    "WEEKDAY",
    "DAYOFWEEK",
    "DAYOFYEAR",
    "UNIX_TIMESTAMP",
    "STRFTIME",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "L",
];

/// The only string literals the renderer writes (caller text is always a parameter).
const LITERALS: &[&str] = &[
    "!",
    "",
    "year",
    "quarter",
    "month",
    "week",
    "day",
    "hour",
    "minute",
    "second",
    "%Y-01-01",
    "%Y-%m-01",
    "%Y-%m-%d %H:00:00",
    "%Y-%m-%d %H:%i:00",
    "%Y-%m-%d %H:%i:%s",
    "start of year",
    "start of month",
    "start of day",
    "-6 days",
    "weekday 1",
    "%m",
    "-",
    " months",
    "%Y-%m-%d %H:%M:00",
    "%Y-%m-%d %H:%M:%S",
    "%j",
    "-3 days",
    "weekday 4",
    "%Y",
    "%d",
    "%H",
    "%M",
    "%S",
    "%w",
    "%s",
];

/// The SQL with every quoted identifier replaced by `I` and every string literal by `L`
/// (checked against [`LITERALS`]), and the identifier chains (`"a"."b"."c"`); `None` if a
/// quote is left open.
fn without_identifiers(sql: &str, quote: char) -> Option<(String, Vec<Vec<String>>)> {
    let mut out = String::new();
    let mut chains: Vec<Vec<String>> = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut after_dot = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            let mut literal = String::new();
            loop {
                match chars.next()? {
                    '\'' => break,
                    other => literal.push(other),
                }
            }
            if !LITERALS.contains(&literal.as_str()) {
                return None;
            }
            out.push('L');
            after_dot = false;
            continue;
        }
        if c != quote {
            after_dot = c == '.';
            out.push(c);
            continue;
        }
        let mut name = String::new();
        loop {
            match chars.next()? {
                q if q == quote && chars.peek() == Some(&quote) => {
                    chars.next();
                    name.push(q);
                }
                q if q == quote => break,
                other => name.push(other),
            }
        }
        match chains.last_mut() {
            Some(chain) if after_dot => chain.push(name),
            _ => chains.push(vec![name]),
        }
        after_dot = false;
        out.push('I');
    }
    Some((out, chains))
}

/// Checks what must hold of every plan.
fn check_plan(p: &Plan, dialect: Dialect) -> Result<(), TestCaseError> {
    let granted: Vec<String> = catalog()
        .tables()
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    let schemas: Vec<String> = all_tables().into_iter().map(|t| t.schema).collect();
    prop_assert!(!p.tables.is_empty());
    for t in &p.tables {
        prop_assert!(granted.contains(t), "{} is not in the catalog", t);
    }
    let quote = if dialect == Dialect::MySql { '`' } else { '"' };
    let stripped = without_identifiers(&p.statement.sql, quote);
    prop_assert!(
        stripped.is_some(),
        "unbalanced quotes or a stray literal in {}",
        p.statement.sql
    );
    let (bare, chains) = stripped.unwrap_or_default();
    // Every relation the SQL names (a chain starting with a schema) is a listed table.
    let mut named = Vec::new();
    for chain in &chains {
        if schemas.contains(&chain[0]) && chain.len() >= 2 {
            let table = format!("{}.{}", chain[0], chain[1]);
            prop_assert!(
                p.tables.contains(&table),
                "{} is in the SQL but not in the plan's tables: {}",
                table,
                p.statement.sql
            );
            named.push(table);
        } else {
            prop_assert!(chain.len() <= 2, "{:?} in {}", chain, p.statement.sql);
        }
    }
    for t in &p.tables {
        prop_assert!(named.contains(t), "{} is listed but not read", t);
    }
    let mut placeholders = 0;
    for token in bare
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | '.'))
        .filter(|t| !t.is_empty())
    {
        if let Some(n) = token.strip_prefix('$') {
            prop_assert_eq!(dialect, Dialect::Postgres);
            placeholders += 1;
            prop_assert_eq!(
                n.parse::<usize>().ok(),
                Some(placeholders),
                "{}",
                p.statement.sql
            );
        } else if token == "?" {
            placeholders += 1;
        } else if !token
            .trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            prop_assert!(
                KEYWORDS.contains(&token),
                "unexpected {:?} in {}",
                token,
                p.statement.sql
            );
        }
    }
    prop_assert_eq!(
        placeholders,
        p.statement.params.len(),
        "{}",
        p.statement.sql
    );
    // The outermost statement ends with its LIMIT, at most the cap.
    let tail = p.statement.sql.rsplit(" LIMIT ").next().unwrap_or_default();
    let limit = tail.split(' ').next().and_then(|n| n.parse::<u64>().ok());
    prop_assert!(
        limit.is_some_and(|l| l <= MAX_ROWS as u64 + 1),
        "no capped LIMIT at the end of {}",
        p.statement.sql
    );
    Ok(())
}

fn check(args: &Value) -> Result<(), TestCaseError> {
    let Ok(query) = Query::parse(args) else {
        return Ok(());
    };
    for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
        if let Ok(p) = plan(&query, &catalog(), dialect, MAX_ROWS) {
            check_plan(&p, dialect)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_plans_or_is_refused(args in any_json()) {
        check(&args)?;
    }

    #[test]
    fn any_object_with_contract_keys_plans_or_is_refused(
        pairs in prop::collection::vec((key(), any_json()), 0..8),
        table in word(),
    ) {
        let mut args: Map<String, Value> = pairs.into_iter().collect();
        args.insert("tableName".to_owned(), Value::String(table));
        check(&Value::Object(args))?;
    }

    #[test]
    fn well_formed_arguments_plan_or_are_refused(args in arguments()) {
        check(&args)?;
    }

    #[test]
    fn query_shapes_plan_only_catalog_tables_or_are_refused(args in query_shapes()) {
        check(&args)?;
    }
}

/// How many of 300 generated arguments plan on PostgreSQL.
fn planned_of_300(strategy: impl Strategy<Value = Value>) -> usize {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    (0..300)
        .filter(|_| {
            let args = strategy.new_tree(&mut runner).unwrap().current();
            Query::parse(&args)
                .and_then(|q| plan(&q, &catalog(), Dialect::Postgres, MAX_ROWS))
                .is_ok()
        })
        .count()
}

#[test]
fn the_generated_arguments_often_plan() {
    let planned = planned_of_300(arguments());
    assert!(planned >= 30, "only {planned} of 300 planned");
    let planned = planned_of_300(query_shapes());
    assert!(planned >= 30, "only {planned} of 300 query shapes planned");
}
