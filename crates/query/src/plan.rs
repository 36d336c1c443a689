//! Planning: a parsed [`Query`] checked against a [`Catalog`] and rendered for a [`Dialect`].

use db_configs::{ReadStatement, TableInfo};

use crate::catalog::{Catalog, ColumnRef, Scope, Source, qualified_name};
use crate::error::{QueryError, join, shown};
use crate::model::*;
use crate::render::{Dialect, Renderer};

/// A checked query, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The statement, with every value bound as a parameter.
    pub statement: ReadStatement,
    /// Every table the statement reads, resolved, as `schema.table` in the catalog's spelling.
    pub tables: Vec<String>,
}

/// The escape character of `startsWith`, `endsWith` and `contains` patterns: not special in
/// string literals of any dialect (unlike `\` in MySQL).
const LIKE_ESCAPE: char = '!';
/// The clause naming [`LIKE_ESCAPE`].
const ESCAPE_CLAUSE: &str = " ESCAPE '!'";

/// Checks `query` against `catalog` (every table and column must be in it) and renders it for
/// `dialect`. The LIMIT is always present: `min(limit, max_rows + 1)`, or `max_rows + 1`
/// without a limit, so the caller can tell a result that was cut (more than `max_rows` rows).
/// `nulls` ordering is native on PostgreSQL and SQLite (3.30 or later); MySQL has no `NULLS
/// FIRST|LAST`, so there the column is first ordered on `x IS NULL`.
///
/// # Errors
/// [`crate::QueryErrorKind::UnknownTable`] for a table outside the catalog,
/// [`crate::QueryErrorKind::UnknownColumn`] for a column not in its table's snapshot,
/// [`crate::QueryErrorKind::Invalid`] for ambiguous names and orderings the database refuses.
pub fn plan(
    query: &Query,
    catalog: &Catalog,
    dialect: Dialect,
    max_rows: usize,
) -> Result<Plan, QueryError> {
    let table = catalog.resolve_table(&query.table)?;
    let scope = Scope {
        sources: vec![Source {
            table,
            alias: query.alias.clone(),
        }],
    };
    let mut planner = Planner {
        scope: &scope,
        r: Renderer::new(dialect),
    };
    planner.select(query, table, max_rows)?;
    Ok(Plan {
        statement: planner.r.finish(),
        tables: vec![qualified_name(table)],
    })
}

struct Planner<'s, 'c> {
    scope: &'s Scope<'c>,
    r: Renderer,
}

impl Planner<'_, '_> {
    fn select(&mut self, q: &Query, table: &TableInfo, max_rows: usize) -> Result<(), QueryError> {
        self.r.sql("SELECT ");
        if q.distinct {
            self.r.sql("DISTINCT ");
        }
        // Columns selected, when not all of them: with DISTINCT, only those may be ordered by.
        let mut selected = Vec::new();
        if q.select.is_empty() {
            if table.columns.is_empty() {
                return Err(QueryError::invalid(
                    &q.table.path,
                    format!(
                        "the schema snapshot lists no columns for {}; refresh the schema, then try again",
                        qualified_name(table)
                    ),
                ));
            }
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    self.r.sql(", ");
                }
                self.column(ColumnRef { source: 0, column });
            }
        } else {
            for (i, item) in q.select.iter().enumerate() {
                if i > 0 {
                    self.r.sql(", ");
                }
                match &item.expr {
                    Expression::Field(name) => {
                        let column = self.scope.resolve(name)?;
                        selected.push(column);
                        self.column(column);
                    }
                    Expression::Value(value) => self.r.bind_typed(value.clone()),
                }
                if let Some(alias) = &item.alias {
                    self.r.sql(" AS ");
                    self.r.identifier(alias);
                }
            }
        }

        self.r.sql(" FROM ");
        self.source(0);

        if !q.filter.is_empty() {
            self.r.sql(" WHERE ");
            self.conditions(&q.filter)?;
        }

        if !q.order_by.is_empty() {
            self.r.sql(" ORDER BY ");
            let only = (q.distinct && !q.select.is_empty()).then_some(selected.as_slice());
            for (i, item) in q.order_by.iter().enumerate() {
                if i > 0 {
                    self.r.sql(", ");
                }
                self.order_item(item, only)?;
            }
        }

        let cap = u64::try_from(max_rows)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        self.r.sql(" LIMIT ");
        self.r.number(q.limit.map_or(cap, |l| l.min(cap)));
        if let Some(offset) = q.offset {
            self.r.sql(" OFFSET ");
            self.r.number(offset);
        }
        Ok(())
    }

    /// A FROM item: `"schema"."table"`, with `AS "alias"`.
    fn source(&mut self, i: usize) {
        let source = &self.scope.sources[i];
        self.r.identifier(&source.table.schema);
        self.r.sql(".");
        self.r.identifier(&source.table.name);
        if let Some(alias) = &source.alias {
            self.r.sql(" AS ");
            self.r.identifier(alias);
        }
    }

    /// A column, prefixed by its source's alias when it has one (or by the table when several
    /// sources could hold it).
    fn column(&mut self, c: ColumnRef<'_>) {
        let source = &self.scope.sources[c.source];
        match &source.alias {
            Some(alias) => {
                self.r.identifier(alias);
                self.r.sql(".");
            }
            None if self.scope.sources.len() > 1 => {
                self.r.identifier(&source.table.schema);
                self.r.sql(".");
                self.r.identifier(&source.table.name);
                self.r.sql(".");
            }
            None => {}
        }
        self.r.identifier(&c.column.name);
    }

    /// `ORDER BY` item; `only`: the columns that may be ordered by (with DISTINCT).
    fn order_item(
        &mut self,
        item: &OrderItem,
        only: Option<&[ColumnRef<'_>]>,
    ) -> Result<(), QueryError> {
        let column = match &item.expr {
            Expression::Field(name) => self.scope.resolve(name)?,
            Expression::Value(_) => {
                return Err(QueryError::invalid(
                    join(&item.path, "value"),
                    "ordering by a constant has no effect; order by a field",
                ));
            }
        };
        if let (Some(only), Expression::Field(name)) = (only, &item.expr)
            && !only
                .iter()
                .any(|s| s.source == column.source && s.column.name == column.column.name)
        {
            return Err(QueryError::invalid(
                &name.path,
                format!(
                    "with distinct, only selected columns can be ordered by; add {} to selectColumns or drop distinct",
                    shown(&name.text)
                ),
            ));
        }
        let native_nulls = self.r.dialect().has_nulls_order();
        if let (Some(nulls), false) = (item.nulls, native_nulls) {
            // MySQL has no NULLS FIRST/LAST: sort on "is null" first (1 for nulls).
            self.column(column);
            self.r.sql(match nulls {
                Nulls::First => " IS NULL DESC, ",
                Nulls::Last => " IS NULL ASC, ",
            });
        }
        self.column(column);
        match item.direction {
            Some(Direction::Asc) => self.r.sql(" ASC"),
            Some(Direction::Desc) => self.r.sql(" DESC"),
            None => {}
        }
        match (item.nulls, native_nulls) {
            (Some(Nulls::First), true) => self.r.sql(" NULLS FIRST"),
            (Some(Nulls::Last), true) => self.r.sql(" NULLS LAST"),
            _ => {}
        }
        Ok(())
    }

    /// A list of conditions: AND between items, OR before items marked `or`. AND binds
    /// tighter, as in SQL (`a AND b OR c` is `(a AND b) OR c`); the parentheses are written out.
    fn conditions(&mut self, list: &[Condition]) -> Result<(), QueryError> {
        let mut runs: Vec<&[Condition]> = Vec::new();
        let mut start = 0;
        for (i, c) in list.iter().enumerate() {
            if i > 0 && c.or {
                runs.push(&list[start..i]);
                start = i;
            }
        }
        runs.push(&list[start..]);
        let several = runs.len() > 1;
        for (i, run) in runs.iter().enumerate() {
            if i > 0 {
                self.r.sql(" OR ");
            }
            let wrap = several && run.len() > 1;
            if wrap {
                self.r.sql("(");
            }
            for (j, c) in run.iter().enumerate() {
                if j > 0 {
                    self.r.sql(" AND ");
                }
                self.condition(c)?;
            }
            if wrap {
                self.r.sql(")");
            }
        }
        Ok(())
    }

    /// One condition. A group is parenthesised; NOT parenthesises what it negates. A single
    /// predicate needs no parentheses: comparison, LIKE, IN, BETWEEN and IS bind tighter than
    /// NOT, AND and OR in every dialect.
    fn condition(&mut self, c: &Condition) -> Result<(), QueryError> {
        match (&c.predicate, c.not) {
            (Predicate::Group(_), true) => {
                self.r.sql("NOT ");
                self.predicate(&c.predicate)
            }
            (_, true) => {
                self.r.sql("NOT (");
                self.predicate(&c.predicate)?;
                self.r.sql(")");
                Ok(())
            }
            (_, false) => self.predicate(&c.predicate),
        }
    }

    fn predicate(&mut self, p: &Predicate) -> Result<(), QueryError> {
        match p {
            Predicate::Group(inner) => {
                self.r.sql("(");
                self.conditions(inner)?;
                self.r.sql(")");
            }
            Predicate::Compare { left, op, right } => {
                self.expression(left, is_column(right))?;
                self.r.sql(match op {
                    CompareOp::Eq => " = ",
                    CompareOp::Ne => " <> ",
                    CompareOp::Gt => " > ",
                    CompareOp::Ge => " >= ",
                    CompareOp::Lt => " < ",
                    CompareOp::Le => " <= ",
                });
                self.expression(right, is_column(left))?;
            }
            Predicate::IsNull { operand, negated } => {
                self.expression(operand, false)?;
                self.r
                    .sql(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Predicate::Like {
                operand,
                kind,
                pattern,
            } => match (kind, self.r.dialect()) {
                (LikeKind::ILike, Dialect::MySql | Dialect::Sqlite) => {
                    self.r.sql("LOWER(");
                    self.text_operand(operand)?;
                    self.r.sql(") LIKE LOWER(");
                    self.pattern(pattern)?;
                    self.r.sql(")");
                }
                _ => {
                    self.text_operand(operand)?;
                    self.r.sql(match kind {
                        LikeKind::Like => " LIKE ",
                        LikeKind::NotLike => " NOT LIKE ",
                        LikeKind::ILike => " ILIKE ",
                    });
                    self.pattern(pattern)?;
                }
            },
            Predicate::Match {
                operand,
                kind,
                text,
            } => {
                let escaped = escape_like(text);
                let pattern = match kind {
                    MatchKind::StartsWith => format!("{escaped}%"),
                    MatchKind::EndsWith => format!("%{escaped}"),
                    MatchKind::Contains => format!("%{escaped}%"),
                };
                self.text_operand(operand)?;
                self.r.sql(" LIKE ");
                self.r.bind(db_configs::SqlValue::Text(pattern));
                self.r.sql(ESCAPE_CLAUSE);
            }
            Predicate::In {
                operand,
                negated,
                values,
            } => {
                self.expression(operand, false)?;
                self.r.sql(if *negated { " NOT IN (" } else { " IN (" });
                let beside_column = is_column(operand);
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.r.sql(", ");
                    }
                    self.value(value, beside_column);
                }
                self.r.sql(")");
            }
            Predicate::Between {
                operand,
                negated,
                low,
                high,
            } => {
                self.expression(operand, false)?;
                self.r.sql(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                });
                self.value(low, is_column(operand));
                self.r.sql(" AND ");
                self.value(high, is_column(operand));
            }
        }
        Ok(())
    }

    /// An expression; `beside_column`: whether a column next to it gives a value its type.
    fn expression(&mut self, e: &Expression, beside_column: bool) -> Result<(), QueryError> {
        match e {
            Expression::Field(name) => {
                let column = self.scope.resolve(name)?;
                self.column(column);
            }
            Expression::Value(value) => self.value(value, beside_column),
        }
        Ok(())
    }

    fn value(&mut self, value: &db_configs::SqlValue, beside_column: bool) {
        if beside_column {
            self.r.bind(value.clone());
        } else {
            self.r.bind_typed(value.clone());
        }
    }

    /// The left side of LIKE: PostgreSQL has LIKE for text only, so other columns are cast.
    fn text_operand(&mut self, e: &Expression) -> Result<(), QueryError> {
        match e {
            Expression::Field(name) => {
                let column = self.scope.resolve(name)?;
                let cast = self.r.dialect() == Dialect::Postgres
                    && !is_text_type(&column.column.data_type);
                if cast {
                    self.r.sql("CAST(");
                }
                self.column(column);
                if cast {
                    self.r.sql(" AS TEXT)");
                }
            }
            Expression::Value(value) => self.r.bind_text(value.clone()),
        }
        Ok(())
    }

    /// A LIKE pattern: the caller's text (typed by the text beside it) or a column.
    fn pattern(&mut self, e: &Expression) -> Result<(), QueryError> {
        match e {
            Expression::Value(value) => {
                self.r.bind(value.clone());
                Ok(())
            }
            field => self.text_operand(field),
        }
    }
}

fn is_column(e: &Expression) -> bool {
    matches!(e, Expression::Field(_))
}

/// Whether a PostgreSQL type name (as `format_type` writes it) is a text type, usable with
/// LIKE without a cast.
fn is_text_type(data_type: &str) -> bool {
    let t = data_type.trim().to_ascii_lowercase();
    !t.ends_with(']')
        && [
            "text", "char", "varchar", "citext", "name", "bpchar", "\"char\"",
        ]
        .iter()
        .any(|p| t.starts_with(p))
}

/// `text` matched literally by LIKE with `ESCAPE '!'`: `!`, `%` and `_` escaped.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escaping_covers_wildcards_and_the_escape_character() {
        assert_eq!(escape_like("50%_off!"), "50!%!_off!!");
        assert_eq!(escape_like("plain"), "plain");
        assert_eq!(ESCAPE_CLAUSE, format!(" ESCAPE '{LIKE_ESCAPE}'"));
    }

    #[test]
    fn text_types_are_recognised() {
        for t in [
            "text",
            "character varying(20)",
            "character(3)",
            "citext",
            "name",
        ] {
            assert!(is_text_type(t), "{t}");
        }
        for t in [
            "integer",
            "text[]",
            "timestamp with time zone",
            "numeric(10,2)",
            "uuid",
        ] {
            assert!(!is_text_type(t), "{t}");
        }
    }
}
