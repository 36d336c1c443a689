//! Planning: a parsed [`Query`] checked against a [`Catalog`] and rendered for an [`Engine`].
//! Every table anywhere (main, joins, subqueries at any depth, CTE bodies, combined queries)
//! is resolved in the catalog or names a CTE in force; every column in its source.

mod condition;
mod expression;
mod function;
mod grouping;
mod scope;
mod select;
mod types;

use db_configs::ReadStatement;

use crate::catalog::{Catalog, is_qualified_name, qualified_name, same};
use crate::engine::{Engine, Feature};
use crate::error::{QueryError, QueryErrorKind, join, shown};
use crate::model::*;
use crate::render::{Dialect, Renderer};
use scope::{Column, CteDef, CteEnv, Relation, Scope, Source};

/// A checked query, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The statement, with every value bound as a parameter.
    pub statement: ReadStatement,
    /// Every table the statement reads, resolved, as `schema.table` in the catalog's
    /// spelling, each once, in the order the query names them. CTE names are not in it.
    pub tables: Vec<String>,
    /// Whether one of them is a view (whose plan would show its definition).
    pub reads_view: bool,
}

/// Checks `query` against `catalog` (every table and column must be in it) and renders it for
/// a current server of `dialect`; see [`plan_for`].
///
/// # Errors
/// As [`plan_for`].
pub fn plan(
    query: &Query,
    catalog: &Catalog,
    dialect: Dialect,
    max_rows: usize,
) -> Result<Plan, QueryError> {
    plan_for(query, catalog, &Engine::new(dialect), max_rows)
}

/// Checks `query` against `catalog` (every table and column must be in it) and renders it for
/// `engine`.
///
/// The outermost LIMIT is always present: `min(limit, max_rows + 1)`, or `max_rows + 1`
/// without a limit, so the caller can tell a result that was cut (more than `max_rows` rows);
/// with `combine` it applies to the combined result, so no operand's own limit can raise it.
/// Without `nulls`, NULLs sort as the largest value on every dialect (last ascending, first
/// descending, PostgreSQL's default). `nulls` ordering is native on PostgreSQL and SQLite;
/// MySQL has no `NULLS FIRST|LAST`, so there the value is first ordered on `x IS NULL`.
/// Values are checked against the kind of what they meet (number, text, boolean, date/time)
/// and bound as that kind; grouping queries may select and order only grouped expressions
/// and aggregates. FILTER is emulated on MySQL with a CASE
/// inside the aggregate; `date_trunc`, `date_part`, `floor` and `ceil` are emulated where
/// the database lacks them.
///
/// # Errors
/// [`crate::QueryErrorKind::UnknownTable`] for a table outside the catalog,
/// [`crate::QueryErrorKind::UnknownColumn`] for a column not in its source,
/// [`crate::QueryErrorKind::Unsupported`] for a construct the engine lacks (FULL JOIN on
/// MySQL), [`crate::QueryErrorKind::TooLarge`] when the statement would be too large,
/// [`crate::QueryErrorKind::Invalid`] for ambiguous names, misplaced aggregates and shapes the
/// database would refuse.
pub fn plan_for(
    query: &Query,
    catalog: &Catalog,
    engine: &Engine,
    max_rows: usize,
) -> Result<Plan, QueryError> {
    let mut planner = Planner {
        catalog,
        engine: *engine,
        r: Renderer::new(engine.dialect()),
        tables: Vec::new(),
        reads_view: false,
        ctx: Ctx::SELECT,
        groups: Vec::new(),
        unchecked: 0,
    };
    let cap = u64::try_from(max_rows)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    planner.query(query, None, None, Some(cap))?;
    planner.check_size()?;
    Ok(Plan {
        statement: planner.r.finish(),
        tables: planner.tables,
        reads_view: planner.reads_view,
    })
}

/// Where an expression stands, which decides whether aggregate and window functions may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ctx {
    clause: &'static str,
    aggregates: bool,
    windows: bool,
}

impl Ctx {
    const SELECT: Self = Self {
        clause: "selectColumns",
        aggregates: true,
        windows: true,
    };
    const WHERE: Self = Self {
        clause: "where",
        aggregates: false,
        windows: false,
    };
    const ON: Self = Self {
        clause: "a join's on",
        aggregates: false,
        windows: false,
    };
    const GROUP_BY: Self = Self {
        clause: "groupBy",
        aggregates: false,
        windows: false,
    };
    const HAVING: Self = Self {
        clause: "having",
        aggregates: true,
        windows: false,
    };
    const ORDER_BY: Self = Self {
        clause: "orderBy",
        aggregates: true,
        windows: true,
    };
}

/// What ends a query: the order and limit, or nothing (a combined query's first operand,
/// whose order and limit apply to the combined result).
#[derive(Debug, Clone, Copy)]
enum Tail {
    OrderAndLimit { cap: Option<u64> },
    Nothing,
}

struct Planner<'c> {
    catalog: &'c Catalog,
    engine: Engine,
    r: Renderer,
    tables: Vec<String>,
    reads_view: bool,
    ctx: Ctx,
    /// The grouping of each query being planned, innermost last.
    groups: Vec<grouping::GroupFrame>,
    /// Above 0 while rendering without grouping checks.
    unchecked: usize,
}

impl<'c> Planner<'c> {
    fn dialect(&self) -> Dialect {
        self.engine.dialect()
    }

    /// Renders `f` apart, as a fragment to append later (or compare).
    fn fragment<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<(Renderer, T), QueryError> {
        let fresh = Renderer::new(self.dialect());
        let saved = std::mem::replace(&mut self.r, fresh);
        let result = f(self);
        let fragment = std::mem::replace(&mut self.r, saved);
        result.map(|t| (fragment, t))
    }

    /// Runs `f` with expressions standing in `ctx`.
    fn within<T>(
        &mut self,
        ctx: Ctx,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        let saved = std::mem::replace(&mut self.ctx, ctx);
        let result = f(self);
        self.ctx = saved;
        result
    }

    fn check_size(&self) -> Result<(), QueryError> {
        if self.r.too_large() {
            return Err(QueryError::too_large(
                "arguments",
                format!(
                    "the statement would be too large (over {MAX_STATEMENT_BYTES} bytes or {MAX_PARAMETERS} values); simplify the query or split it"
                ),
            ));
        }
        Ok(())
    }

    /// Notes a table the statement reads.
    fn note(&mut self, table: &db_configs::TableInfo) {
        self.reads_view |= table.kind == db_configs::RelationKind::View;
        if !self.tables.iter().any(|t| is_qualified_name(table, t)) {
            self.tables.push(qualified_name(table));
        }
    }

    /// Renders a whole query (its CTEs, body, combined queries, order and limit) and returns
    /// its result's columns. `cap`: the row cap, for the outermost query only.
    fn query(
        &mut self,
        q: &Query,
        env: Option<&CteEnv<'_>>,
        outer: Option<&Scope<'_, 'c>>,
        cap: Option<u64>,
    ) -> Result<Vec<Column>, QueryError> {
        self.within(Ctx::SELECT, |p| {
            let defined;
            let env = if q.with.is_empty() {
                env
            } else {
                defined = p.with(q, env)?;
                Some(&defined)
            };
            if q.combine.is_empty() {
                p.select(q, env, outer, Tail::OrderAndLimit { cap })
            } else {
                p.compound(q, env, outer, cap)
            }
        })
    }

    /// `WITH "a" AS (...), "b" AS (...) `: each body sees the CTEs before it, never itself
    /// (so a CTE named like a table reads the table in its own body, as in SQL).
    fn with<'e>(
        &mut self,
        q: &Query,
        env: Option<&'e CteEnv<'e>>,
    ) -> Result<CteEnv<'e>, QueryError> {
        self.engine.require(Feature::Cte, &join(&q.path, "with"))?;
        self.r.sql("WITH ");
        let mut defined: Vec<CteDef> = Vec::with_capacity(q.with.len());
        for (i, cte) in q.with.iter().enumerate() {
            if i > 0 {
                self.r.sql(", ");
            }
            let visible = CteEnv {
                ctes: defined.clone(),
                parent: env,
                body: true,
            };
            self.r.identifier(&cte.name);
            self.r.sql(" AS (");
            let columns = self.query(&cte.query, Some(&visible), None, None)?;
            self.r.sql(")");
            unique_names(&columns, &cte.query.path, "a CTE")?;
            defined.push(CteDef {
                name: cte.name.clone(),
                columns,
            });
        }
        self.r.sql(" ");
        Ok(CteEnv {
            ctes: defined,
            parent: env,
            body: false,
        })
    }

    /// The main query with its combined queries, evaluated left to right. INTERSECT binds
    /// tighter than UNION and EXCEPT in PostgreSQL and MySQL (not in SQLite), so a left side
    /// holding a UNION or EXCEPT is wrapped before an INTERSECT; an order of the combined
    /// result wraps the whole.
    fn compound(
        &mut self,
        q: &Query,
        env: Option<&CteEnv<'_>>,
        outer: Option<&Scope<'_, 'c>>,
        cap: Option<u64>,
    ) -> Result<Vec<Column>, QueryError> {
        let mut wrap_before = vec![false; q.combine.len()];
        let mut loose = false;
        for (i, c) in q.combine.iter().enumerate() {
            if c.op == SetOp::Intersect && loose {
                wrap_before[i] = true;
                loose = false;
            }
            if c.op != SetOp::Intersect {
                loose = true;
            }
        }
        let ordered = !q.order_by.is_empty();
        if ordered {
            self.r.sql("SELECT * FROM (");
        }
        for _ in wrap_before.iter().filter(|w| **w) {
            self.r.sql("SELECT * FROM (");
        }
        let columns = self.select(q, env, outer, Tail::Nothing)?;
        let mut wraps = 0;
        for (i, c) in q.combine.iter().enumerate() {
            if matches!(c.op, SetOp::Intersect | SetOp::Except) {
                self.engine
                    .require(Feature::IntersectExcept, &join(&c.path, "type"))?;
            }
            if wrap_before[i] {
                wraps += 1;
                self.r.sql(") AS ");
                self.r.identifier(&format!("set_{wraps}"));
            }
            self.r.sql(c.op.sql());
            let operand = &c.query;
            let wrap = !operand.with.is_empty()
                || !operand.combine.is_empty()
                || !operand.order_by.is_empty()
                || operand.limit.is_some()
                || operand.offset.is_some();
            if wrap {
                self.r.sql("SELECT * FROM (");
            }
            let got = self.query(operand, env, outer, None)?;
            if wrap {
                self.r.sql(") AS ");
                self.r.identifier(&format!("combined_{}", i + 1));
                unique_names(
                    &got,
                    &operand.path,
                    "a combined query with its own order or limit",
                )?;
            }
            for (k, (mine, theirs)) in columns.iter().zip(&got).enumerate() {
                if !mine.kind.compatible(theirs.kind) {
                    return Err(QueryError::invalid(
                        join(&c.path, "query"),
                        format!(
                            "column {} of this query ({}) is {}, but the main query's ({}) is {}; combined queries must return columns of the same kinds, in the same order",
                            k + 1,
                            shown(&theirs.name),
                            theirs.kind.describe(),
                            shown(&mine.name),
                            mine.kind.describe()
                        ),
                    ));
                }
            }
            if got.len() != columns.len() {
                return Err(QueryError::invalid(
                    join(&c.path, "query"),
                    format!(
                        "this query returns {} column{} but the main query returns {}; combined queries must return the same number of columns, in the same order",
                        got.len(),
                        if got.len() == 1 { "" } else { "s" },
                        columns.len()
                    ),
                ));
            }
        }
        if ordered {
            self.r.sql(") AS ");
            self.r.identifier("combined");
            unique_names(&columns, &q.path, "a combined query with an orderBy")?;
            let mut combined = columns.clone();
            for c in &mut combined {
                c.nullable = true;
            }
            let source = Source {
                relation: Relation::Derived {
                    cte: None,
                    columns: combined,
                },
                alias: Some("combined".to_owned()),
                outer: false,
            };
            let scope = Scope::new(vec![source], outer, env);
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            self.r.sql(" ");
            let ctx = Ctx {
                clause: "the orderBy of a combined query",
                aggregates: false,
                windows: false,
            };
            self.with_group_frame(false, |p| {
                p.within(ctx, |p| p.order_by(&q.order_by, &scope, None, false))
            })
                .map_err(|e| match e.kind() {
                    QueryErrorKind::UnknownColumn => QueryError::new(
                        QueryErrorKind::UnknownColumn,
                        e.path(),
                        format!(
                            "with combine, orderBy sorts the combined result: name one of its columns ({}) without a table prefix",
                            names.join(", ")
                        ),
                    ),
                    _ => e,
                })?;
        }
        self.limit(q, cap);
        Ok(columns)
    }

    /// `LIMIT`/`OFFSET`: the cap for the outermost query, the caller's limit otherwise.
    fn limit(&mut self, q: &Query, cap: Option<u64>) {
        let limit = match (q.limit, cap) {
            (Some(l), Some(c)) => Some(l.min(c)),
            (None, Some(c)) => Some(c),
            (l, None) => l,
        };
        match (limit, self.dialect()) {
            (Some(n), _) => {
                self.r.sql(" LIMIT ");
                self.r.number(n);
            }
            // MySQL and SQLite have no OFFSET without LIMIT.
            (None, Dialect::MySql) if q.offset.is_some() => {
                self.r.sql(" LIMIT 18446744073709551615");
            }
            (None, Dialect::Sqlite) if q.offset.is_some() => self.r.sql(" LIMIT -1"),
            (None, _) => {}
        }
        if let Some(offset) = q.offset {
            self.r.sql(" OFFSET ");
            self.r.number(offset);
        }
    }
}

/// Refuses a result read as a table (a CTE, a join subquery, a wrapped combined query) with
/// two columns of the same name: MySQL refuses it, and nothing could name either.
fn unique_names(columns: &[Column], path: &str, what: &str) -> Result<(), QueryError> {
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].iter().any(|o| same(&o.name, &c.name)) {
            return Err(QueryError::invalid(
                join(path, "selectColumns"),
                format!(
                    "this query is read as a table ({what}) but returns two columns named {}; give them different aliases in selectColumns",
                    shown(&c.name)
                ),
            ));
        }
    }
    Ok(())
}
