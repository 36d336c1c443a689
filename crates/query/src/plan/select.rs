//! One SELECT: its sources (tables, CTEs, join subqueries), FROM clause, select list,
//! grouping and ordering.

use super::expression::Typing;
use super::grouping::{has_aggregate, may_be_null, ungrouped};
use super::scope::{Column, ColumnRef, CteEnv, Relation, Scope, Source};
use super::{Ctx, Planner, Tail, unique_names};
use crate::catalog::same;
use crate::engine::Feature;
use crate::error::{QueryError, QueryErrorKind, index, join, shown};
use crate::model::*;
use crate::render::{Dialect, Renderer};

/// The select list of a query as rendered: for ordering and grouping by its items.
#[derive(Debug, Default)]
pub(super) struct SelectInfo {
    /// The result's columns.
    columns: Vec<Column>,
    /// Each item's rendering, alone.
    fragments: Vec<Renderer>,
    /// Each item's column, for plain fields.
    fields: Vec<Option<ColumnRef>>,
    /// Each item's name when it is an alias (given, or made for an expression).
    aliases: Vec<Option<String>>,
    /// Every column of every source was selected.
    all: bool,
}

impl SelectInfo {
    /// An empty one, with room for `items` select items.
    fn with_capacity(items: usize) -> Self {
        Self {
            columns: Vec::with_capacity(items),
            fragments: Vec::with_capacity(items),
            fields: Vec::with_capacity(items),
            aliases: Vec::with_capacity(items),
            all: false,
        }
    }

    /// The item whose alias is `name`, exact spelling first.
    fn by_alias(&self, name: &str) -> Option<usize> {
        let find = |exact: bool| {
            self.aliases.iter().position(|a| {
                a.as_deref()
                    .is_some_and(|a| if exact { a == name } else { same(a, name) })
            })
        };
        find(true).or_else(|| find(false))
    }

    /// The item rendered exactly like `fragment`.
    fn matching(&self, fragment: &Renderer) -> Option<usize> {
        self.fragments.iter().position(|f| f == fragment)
    }
}

impl<'c> Planner<'c> {
    /// A table or CTE by name: a CTE in force first (a name without schema), else the
    /// catalog.
    pub(super) fn source(
        &mut self,
        name: &Name,
        alias: Option<&String>,
        env: Option<&CteEnv<'_>>,
    ) -> Result<Source<'c>, QueryError> {
        if let Some(found) = env.and_then(|e| e.find(&name.text)) {
            if found.from_body_outward && self.dialect() == Dialect::MySql {
                // MariaDB would look the name up as a table of the default database.
                return Err(QueryError::unsupported(
                    &name.path,
                    format!(
                        "MariaDB cannot read {} here: a CTE's query cannot read a CTE of the with of an outer query; move this with into the outer one, or {} into this with",
                        shown(&found.cte.name),
                        shown(&found.cte.name)
                    ),
                ));
            }
            let cte = found.cte;
            return Ok(Source {
                relation: Relation::Derived {
                    cte: Some(cte.name.clone()),
                    columns: cte.columns.clone(),
                },
                alias: alias.cloned(),
                outer: false,
            });
        }
        let table = self.catalog.resolve_table(name).map_err(|e| {
            let ctes = env.map(CteEnv::names).unwrap_or_default();
            if e.kind() == QueryErrorKind::UnknownTable && !ctes.is_empty() {
                QueryError::new(
                    e.kind(),
                    e.path(),
                    format!("{}; CTE names from with: {}", e.message(), ctes.join(", ")),
                )
            } else {
                e
            }
        })?;
        self.note(table);
        Ok(Source {
            relation: Relation::Table(table),
            alias: alias.cloned(),
            outer: false,
        })
    }

    /// One SELECT: its sources, select list, where, groupBy, having, and (unless it opens a
    /// combined query) its order and limit. Returns its result's columns.
    pub(super) fn select(
        &mut self,
        q: &Query,
        env: Option<&CteEnv<'_>>,
        outer: Option<&Scope<'_, 'c>>,
        tail: Tail,
    ) -> Result<Vec<Column>, QueryError> {
        let mut sources = vec![self.source(&q.table, q.alias.as_ref(), env)?];
        let mut subqueries = Vec::new();
        for j in &q.joins {
            match &j.source {
                JoinSource::Table(name) => {
                    sources.push(self.source(name, j.alias.as_ref(), env)?);
                    subqueries.push(None);
                }
                JoinSource::Subquery(sq) => {
                    let (fragment, columns) = self.fragment(|p| p.query(sq, env, None, None))?;
                    unique_names(&columns, &sq.path, "a join subquery")?;
                    sources.push(Source {
                        relation: Relation::Derived { cte: None, columns },
                        alias: j.alias.clone(),
                        outer: false,
                    });
                    subqueries.push(Some(fragment));
                }
            }
        }
        for i in 1..sources.len() {
            let name = sources[i].range_name();
            if let Some(earlier) = sources[..i].iter().find(|s| same(s.range_name(), name)) {
                let path = join(&q.joins[i - 1].path, "alias");
                return Err(QueryError::invalid(
                    path,
                    format!(
                        "{} is already the name of another table of this query ({}); give this join its own alias, like \"{}2\"",
                        shown(name),
                        earlier.range_name(),
                        name.chars().next().unwrap_or('t').to_ascii_lowercase()
                    ),
                ));
            }
        }
        // The optional sides of outer joins: their columns may be null.
        for (k, j) in q.joins.iter().enumerate() {
            match j.kind {
                JoinKind::Left => sources[k + 1].outer = true,
                JoinKind::Right => sources[..=k].iter_mut().for_each(|s| s.outer = true),
                JoinKind::Full => sources[..=k + 1].iter_mut().for_each(|s| s.outer = true),
                JoinKind::Inner | JoinKind::Cross => {}
            }
        }
        let scope = Scope::new(sources, outer, env);
        let grouped = !q.group_by.is_empty()
            || !q.having.is_empty()
            || q.select.iter().any(|i| has_aggregate(&i.expr));
        self.with_group_frame(grouped, |p| p.select_body(q, &scope, &subqueries, tail))
    }

    /// The clauses of one SELECT, its sources resolved; grouping is checked in the select
    /// list, having and orderBy.
    fn select_body(
        &mut self,
        q: &Query,
        scope: &Scope<'_, 'c>,
        subqueries: &[Option<Renderer>],
        tail: Tail,
    ) -> Result<Vec<Column>, QueryError> {
        let (from, ()) = self.fragment(|p| p.from(q, scope, subqueries))?;
        let grouped = self.groups.last().is_some_and(|f| f.grouped);
        if grouped {
            self.note_group_keys(q, scope)?;
        }

        self.r.sql("SELECT ");
        if q.distinct {
            self.r.sql("DISTINCT ");
        }
        self.checking(true);
        let info = self.select_list(q, scope)?;
        self.checking(false);
        self.r.sql(" FROM ");
        self.r.append(&from);

        if !q.filter.is_empty() {
            self.r.sql(" WHERE ");
            self.within(Ctx::WHERE, |p| p.conditions(&q.filter, scope))?;
        }
        if !q.group_by.is_empty() {
            self.r.sql(" GROUP BY ");
            self.within(Ctx::GROUP_BY, |p| p.group_by(q, scope, &info))?;
        }
        self.checking(true);
        if !q.having.is_empty() {
            self.r.sql(" HAVING ");
            self.within(Ctx::HAVING, |p| p.conditions(&q.having, scope))?;
        }
        if let Tail::OrderAndLimit { cap } = tail {
            if !q.order_by.is_empty() {
                if !grouped && let Some(item) = q.order_by.iter().find(|o| has_aggregate(&o.expr)) {
                    return Err(QueryError::invalid(
                        &item.path,
                        "this orders by an aggregate, but the query neither groups nor aggregates (no groupBy, having or aggregate in selectColumns); order by a column, or add groupBy",
                    ));
                }
                self.r.sql(" ");
                self.within(Ctx::ORDER_BY, |p| {
                    p.order_by(&q.order_by, scope, Some(&info), q.distinct)
                })?;
            }
            self.limit(q, cap);
        }
        if grouped && q.select.is_empty() {
            // Every column is selected: each must be grouped (checked last, so that the
            // other clauses' errors come first).
            for (i, source) in scope.sources.iter().enumerate() {
                for column in source.columns() {
                    let c = scope.column_ref(i, column);
                    let name = Name {
                        text: c.column.name.clone(),
                        path: join(&q.path, "selectColumns"),
                    };
                    self.check_grouped(&c, &name)
                        .map_err(|_| ungrouped_all(&q.path, &name.text))?;
                }
            }
        }
        self.checking(false);
        Ok(info.columns)
    }

    /// The FROM clause: the main source, then each join with its `on` (which sees the sources
    /// up to its own).
    pub(super) fn from(
        &mut self,
        q: &Query,
        scope: &Scope<'_, 'c>,
        subqueries: &[Option<Renderer>],
    ) -> Result<(), QueryError> {
        self.relation(&scope.sources[0], None);
        for (k, j) in q.joins.iter().enumerate() {
            let type_path = join(&j.path, "type");
            match j.kind {
                JoinKind::Right => self.engine.require(Feature::RightJoin, &type_path)?,
                JoinKind::Full => self.engine.require(Feature::FullJoin, &type_path)?,
                _ => {}
            }
            self.r.sql(j.kind.sql());
            self.relation(&scope.sources[k + 1], subqueries[k].as_ref());
            if !j.on.is_empty() {
                self.r.sql(" ON ");
                scope.visible.set(k + 2);
                let result = self.within(Ctx::ON, |p| p.conditions(&j.on, scope));
                scope.visible.set(scope.sources.len());
                result?;
            }
        }
        Ok(())
    }

    /// A FROM item: `"schema"."table"`, a CTE's name, or `(subquery)`, with `AS "alias"`.
    pub(super) fn relation(&mut self, source: &Source<'_>, subquery: Option<&Renderer>) {
        match (&source.relation, subquery) {
            (_, Some(fragment)) => {
                self.r.sql("(");
                self.r.append(fragment);
                self.r.sql(")");
            }
            (Relation::Table(t), None) => {
                self.r.identifier(&t.schema);
                self.r.sql(".");
                self.r.identifier(&t.name);
            }
            (Relation::Derived { cte, .. }, None) => {
                self.r.identifier(cte.as_deref().unwrap_or_default());
            }
        }
        if let Some(alias) = &source.alias {
            self.r.sql(" AS ");
            self.r.identifier(alias);
        }
    }

    /// A column, with its prefix when it needs one.
    pub(super) fn column(&mut self, c: &ColumnRef) {
        for part in &c.qualifier {
            self.r.identifier(part);
            self.r.sql(".");
        }
        self.r.identifier(&c.column.name);
    }

    /// The select list: every column of every source, or the items, each expression named
    /// (its alias, or a name made from it) so that every dialect names the result alike.
    pub(super) fn select_list(
        &mut self,
        q: &Query,
        scope: &Scope<'_, 'c>,
    ) -> Result<SelectInfo, QueryError> {
        let mut info = SelectInfo::with_capacity(q.select.len());
        if q.select.is_empty() {
            info.all = true;
            for (i, source) in scope.sources.iter().enumerate() {
                let columns = source.columns();
                if columns.is_empty() {
                    let path = if i == 0 {
                        join(&q.path, "tableName")
                    } else {
                        q.joins[i - 1].path.clone()
                    };
                    return Err(QueryError::invalid(
                        path,
                        format!(
                            "the schema snapshot lists no columns for {}; refresh the schema, then try again, or list selectColumns",
                            source.range_name()
                        ),
                    ));
                }
                for column in columns {
                    if !info.columns.is_empty() {
                        self.r.sql(", ");
                    }
                    let c = scope.column_ref(i, column);
                    self.column(&c);
                    info.columns.push(c.column);
                }
            }
            return Ok(info);
        }

        let mut names: Vec<Option<String>> = Vec::with_capacity(q.select.len());
        for item in &q.select {
            let key = self.groups.last().is_some_and(|f| {
                item.alias
                    .as_ref()
                    .is_some_and(|a| f.aliases.iter().any(|k| same(k, a)))
            });
            let render = |p: &mut Self| match &item.expr {
                // A column is resolved once, as `expression` would: its reference also names
                // and types the result's column.
                Expression::Field(name) => {
                    p.check_size()?;
                    let column = p.field(name, scope)?;
                    Ok((column.column.kind, Some(column)))
                }
                e => Ok((p.expression(e, scope, Typing::Typed)?, None)),
            };
            let (fragment, (kind, field)) = if key {
                self.unchecked(|p| p.fragment(render))?
            } else {
                self.fragment(render)?
            };
            let data_type = match &field {
                Some(c) => c.column.data_type.clone(),
                None => self.static_type(&item.expr, scope)?,
            };
            let nullable = match &field {
                Some(c) => c.column.nullable,
                None => may_be_null(&item.expr, scope),
            };
            names.push(
                item.alias
                    .clone()
                    .or_else(|| field.as_ref().map(|c| c.column.name.clone())),
            );
            info.columns.push(Column {
                name: String::new(),
                data_type,
                kind,
                nullable,
            });
            info.fragments.push(fragment);
            info.fields.push(field);
        }
        // Expressions without an alias are named after what they are, made unique.
        for (i, item) in q.select.iter().enumerate() {
            if names[i].is_none() {
                let base = auto_name(&item.expr);
                let mut name = base.to_owned();
                let mut n = 1;
                while names.iter().flatten().any(|other| same(other, &name)) {
                    n += 1;
                    name = format!("{base}_{n}");
                }
                names[i] = Some(name);
            }
        }
        for (i, item) in q.select.iter().enumerate() {
            if i > 0 {
                self.r.sql(", ");
            }
            self.r.append(&info.fragments[i]);
            let name = names[i].take().unwrap_or_default();
            let aliased = item.alias.is_some() || info.fields[i].is_none();
            if aliased {
                self.r.sql(" AS ");
                self.r.identifier(&name);
            }
            info.aliases.push(aliased.then(|| name.clone()));
            info.columns[i].name = name;
        }
        Ok(info)
    }

    /// `GROUP BY`: a select item's alias or an expression rendered like a select item is
    /// grouped by the item's position (PostgreSQL cannot tell `$1` and `$3` are the same).
    pub(super) fn group_by(
        &mut self,
        q: &Query,
        scope: &Scope<'_, 'c>,
        info: &SelectInfo,
    ) -> Result<(), QueryError> {
        for (i, e) in q.group_by.iter().enumerate() {
            if i > 0 {
                self.r.sql(", ");
            }
            if let Expression::Field(name) = e {
                match scope.resolve(name) {
                    Ok(c) => self.column(&c),
                    Err(err) if err.kind() == QueryErrorKind::UnknownColumn => {
                        match info.by_alias(&name.text) {
                            Some(k) => self.r.number(k as u64 + 1),
                            None => return Err(err),
                        }
                    }
                    Err(err) => return Err(err),
                }
                continue;
            }
            if let Expression::Value(_) = e {
                return Err(QueryError::invalid(
                    index(&join(&q.path, "groupBy"), i),
                    "grouping by a constant has no effect; group by a field or an expression",
                ));
            }
            let (fragment, _) = self.fragment(|p| p.expression(e, scope, Typing::Typed))?;
            match info.matching(&fragment) {
                Some(k) => self.r.number(k as u64 + 1),
                None => self.r.append(&fragment),
            }
        }
        Ok(())
    }

    /// `ORDER BY` of a query (with its select list) or of a window (without).
    pub(super) fn order_by(
        &mut self,
        items: &[OrderItem],
        scope: &Scope<'_, 'c>,
        info: Option<&SelectInfo>,
        distinct: bool,
    ) -> Result<(), QueryError> {
        self.r.sql("ORDER BY ");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.r.sql(", ");
            }
            self.order_item(item, scope, info, distinct)?;
        }
        Ok(())
    }

    pub(super) fn order_item(
        &mut self,
        item: &OrderItem,
        scope: &Scope<'_, 'c>,
        info: Option<&SelectInfo>,
        distinct: bool,
    ) -> Result<(), QueryError> {
        // What to sort on: a select item's position, or an expression.
        let nullable;
        let key = match (&item.expr, info) {
            (Expression::Value(_), _) => {
                return Err(QueryError::invalid(
                    join(&item.path, "value"),
                    "ordering by a constant has no effect; order by a field",
                ));
            }
            (Expression::Field(name), Some(info))
                if !name.text.contains('.') && info.by_alias(&name.text).is_some() =>
            {
                let k = info.by_alias(&name.text).unwrap_or_default();
                nullable = info.columns[k].nullable;
                SortKey::Position(k, info.fragments[k].clone())
            }
            (Expression::Field(name), _) => {
                let column = scope.resolve(name)?;
                self.check_grouped(&column, name)?;
                nullable = column.column.nullable;
                if let Some(info) = info
                    && distinct
                    && !info.all
                    && !info
                        .fields
                        .iter()
                        .flatten()
                        .any(|f| same_column(f, &column))
                {
                    return Err(QueryError::invalid(
                        &name.path,
                        format!(
                            "with distinct, only selected columns can be ordered by; add {} to selectColumns or drop distinct",
                            shown(&name.text)
                        ),
                    ));
                }
                let (fragment, ()) = self.fragment(|p| {
                    p.column(&column);
                    Ok(())
                })?;
                SortKey::Expression(fragment)
            }
            (e, _) => {
                let (fragment, _) = self.fragment(|p| p.expression(e, scope, Typing::Typed))?;
                nullable = may_be_null(e, scope);
                match info.and_then(|info| info.matching(&fragment)) {
                    Some(k) => SortKey::Position(k, fragment),
                    None if distinct => {
                        return Err(QueryError::invalid(
                            &item.path,
                            "with distinct, only selected expressions can be ordered by; add it to selectColumns with an alias and order by {\"field\": alias}",
                        ));
                    }
                    None => SortKey::Expression(fragment),
                }
            }
        };
        // Without `nulls`, NULLs sort as the largest value everywhere (PostgreSQL's way): last
        // ascending, first descending. Written out where the dialect's default differs
        // (MySQL and SQLite sort them as the smallest) and the key may be null.
        let descending = item.direction == Some(Direction::Desc);
        let wanted = item.nulls.unwrap_or(if descending {
            Nulls::First
        } else {
            Nulls::Last
        });
        let dialect_default = match (self.dialect(), descending) {
            (Dialect::Postgres, false) | (Dialect::MySql | Dialect::Sqlite, true) => Nulls::Last,
            _ => Nulls::First,
        };
        let nulls =
            (item.nulls.is_some() || (nullable && wanted != dialect_default)).then_some(wanted);
        let native_nulls = self.engine.has_nulls_order();
        if let (Some(nulls), false) = (nulls, native_nulls) {
            // No NULLS FIRST/LAST: sort on "is null" first (1 for nulls).
            let value = match &key {
                SortKey::Position(_, f) | SortKey::Expression(f) => f,
            };
            self.r.append(value);
            self.r.sql(match nulls {
                Nulls::First => " IS NULL DESC, ",
                Nulls::Last => " IS NULL ASC, ",
            });
        }
        match &key {
            SortKey::Position(k, _) => self.r.number(*k as u64 + 1),
            SortKey::Expression(f) => self.r.append(f),
        }
        match item.direction {
            Some(Direction::Asc) => self.r.sql(" ASC"),
            Some(Direction::Desc) => self.r.sql(" DESC"),
            None => {}
        }
        match (nulls, native_nulls) {
            (Some(Nulls::First), true) => self.r.sql(" NULLS FIRST"),
            (Some(Nulls::Last), true) => self.r.sql(" NULLS LAST"),
            _ => {}
        }
        Ok(())
    }
}

/// What an order item sorts on.
enum SortKey {
    /// A select item: its position (and its rendering, for the nulls emulation).
    Position(usize, Renderer),
    Expression(Renderer),
}

fn same_column(a: &ColumnRef, b: &ColumnRef) -> bool {
    a.level == b.level && a.source == b.source && a.column.name == b.column.name
}

/// The name of an unaliased expression in the result: what it is.
fn auto_name(e: &Expression) -> &'static str {
    match e {
        Expression::Field(_) => "field",
        Expression::Value(_) => "value",
        Expression::Function(call) => call.function.name(),
        Expression::Operation(op) => op.op.name(),
        Expression::Case(_) => "case",
        Expression::Subquery(_) => "subquery",
    }
}

/// The refusal of a select list left out (every column) in a grouping query.
fn ungrouped_all(path: &str, column: &str) -> QueryError {
    let e = ungrouped(&join(path, "selectColumns"), column);
    QueryError::invalid(
        e.path(),
        format!(
            "{}; without selectColumns every column is selected, so list the grouped columns and aggregates in selectColumns",
            e.message()
        ),
    )
}
