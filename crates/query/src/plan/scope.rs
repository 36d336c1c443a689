//! What column references can see: the sources of a query's FROM clause (tables, CTEs,
//! subqueries), the enclosing queries' sources (for correlated subqueries), and the CTE names
//! in force.

use std::cell::Cell;

use db_configs::{ColumnInfo, TableInfo};

use super::types::ValueType;
use crate::catalog::{qualified_name, same, same_qualified};
use crate::error::{QueryError, QueryErrorKind, shown};
use crate::model::Name;

/// A column of a source, or of a query's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    /// The database type, when known (a table column, or a result column that is one).
    pub data_type: Option<String>,
    /// What kind of value it holds.
    pub kind: ValueType,
    /// Whether it may be null (a nullable column, or any column of an outer join's optional
    /// side).
    pub nullable: bool,
}

impl Column {
    /// A column of a catalog table.
    fn of_table(column: &ColumnInfo) -> Self {
        Self {
            name: column.name.clone(),
            data_type: Some(column.data_type.clone()),
            kind: ValueType::of(&column.data_type),
            nullable: column.nullable,
        }
    }
}

/// What a source reads.
#[derive(Debug, Clone)]
pub(crate) enum Relation<'c> {
    /// A catalog table, rendered `"schema"."table"`.
    Table(&'c TableInfo),
    /// A CTE (by its name) or a subquery's result.
    Derived {
        cte: Option<String>,
        columns: Vec<Column>,
    },
}

/// One item of a FROM clause.
#[derive(Debug, Clone)]
pub(crate) struct Source<'c> {
    pub relation: Relation<'c>,
    pub alias: Option<String>,
    /// On the optional side of an outer join: its columns may be null whatever their type.
    pub outer: bool,
}

impl Source<'_> {
    /// Whether `qualifier` names this source: its alias, its table name, `schema.table`, or
    /// its CTE name.
    fn answers_to(&self, qualifier: &str) -> bool {
        self.alias.as_deref().is_some_and(|a| same(a, qualifier))
            || match &self.relation {
                Relation::Table(t) => same(&t.name, qualifier) || same_qualified(t, qualifier),
                Relation::Derived { cte, .. } => cte.as_deref().is_some_and(|c| same(c, qualifier)),
            }
    }

    /// The names it answers to, for messages.
    fn names(&self) -> String {
        let mut names: Vec<String> = self.alias.iter().cloned().collect();
        match &self.relation {
            Relation::Table(t) => {
                names.push(t.name.clone());
                names.push(qualified_name(t));
            }
            Relation::Derived { cte, .. } => names.extend(cte.iter().cloned()),
        }
        match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }

    /// The name the database knows it by in its query: two sources may not share it.
    pub fn range_name(&self) -> &str {
        match (&self.alias, &self.relation) {
            (Some(alias), _) => alias,
            (None, Relation::Table(t)) => &t.name,
            (None, Relation::Derived { cte, .. }) => cte.as_deref().unwrap_or_default(),
        }
    }

    /// How its columns are prefixed when they must be: the alias, `schema.table`, or the CTE.
    fn qualifier(&self) -> Vec<String> {
        match (&self.alias, &self.relation) {
            (Some(alias), _) => vec![alias.clone()],
            (None, Relation::Table(t)) => vec![t.schema.clone(), t.name.clone()],
            (None, Relation::Derived { cte, .. }) => cte.iter().cloned().collect(),
        }
    }

    /// Every column, in order.
    pub fn columns(&self) -> Vec<Column> {
        match &self.relation {
            Relation::Table(t) => t.columns.iter().map(Column::of_table).collect(),
            Relation::Derived { columns, .. } => columns.clone(),
        }
    }

    /// The names of its columns, in order, borrowed: looking a column up builds none.
    fn column_names(&self) -> impl Iterator<Item = &str> {
        let (table, derived): (&[ColumnInfo], &[Column]) = match &self.relation {
            Relation::Table(t) => (&t.columns, &[]),
            Relation::Derived { columns, .. } => (&[], columns),
        };
        let table = table.iter().map(|c| c.name.as_str());
        table.chain(derived.iter().map(|c| c.name.as_str()))
    }

    /// The column at `index` in [`Source::column_names`].
    fn column(&self, index: usize) -> Column {
        match &self.relation {
            Relation::Table(t) => Column::of_table(&t.columns[index]),
            Relation::Derived { columns, .. } => columns[index].clone(),
        }
    }

    /// What it is, for messages: `public.orders`, `the CTE recent`, `the subquery t`.
    fn describe(&self) -> String {
        match &self.relation {
            Relation::Table(t) => qualified_name(t),
            Relation::Derived { cte: Some(c), .. } => format!("the CTE {c}"),
            Relation::Derived { cte: None, .. } => {
                format!("the subquery {}", self.alias.as_deref().unwrap_or_default())
            }
        }
    }

    /// The column named `text`, case-insensitively (the exact spelling wins).
    fn find(&self, text: &str, field: &Name) -> Result<Option<Column>, QueryError> {
        // The names are compared by reference; only the column found is built.
        let mut found = self
            .column_names()
            .enumerate()
            .filter(|(_, name)| same(name, text));
        let Some((first, _)) = found.next() else {
            return Ok(None);
        };
        if found.next().is_none() {
            return Ok(Some(self.column(first)));
        }
        let exact: Vec<usize> = self
            .column_names()
            .enumerate()
            .filter(|(_, name)| *name == text)
            .map(|(i, _)| i)
            .collect();
        if let [i] = exact.as_slice() {
            return Ok(Some(self.column(*i)));
        }
        let names: Vec<&str> = self
            .column_names()
            .filter(|name| same(name, text))
            .collect();
        Err(QueryError::invalid(
            &field.path,
            format!(
                "{} matches columns of {} that differ only in case ({}); write the name exactly",
                shown(text),
                self.describe(),
                names.join(", ")
            ),
        ))
    }

    fn unknown_column(&self, column: &str, field: &Name) -> QueryError {
        let names: Vec<&str> = self.column_names().collect();
        QueryError::new(
            QueryErrorKind::UnknownColumn,
            &field.path,
            format!(
                "unknown column {} in {}; its columns are: {}",
                shown(column),
                self.describe(),
                names.join(", ")
            ),
        )
    }
}

/// The CTE names in force, innermost `with` first.
#[derive(Debug)]
pub(crate) struct CteEnv<'p> {
    pub ctes: Vec<CteDef>,
    pub parent: Option<&'p CteEnv<'p>>,
    /// This is what a CTE body sees: the CTEs of its own `with` before it, then (across this
    /// boundary) those of the queries around. MariaDB cannot see across it.
    pub body: bool,
}

/// A CTE: its name and its result's columns.
#[derive(Debug, Clone)]
pub(crate) struct CteDef {
    pub name: String,
    pub columns: Vec<Column>,
}

/// A CTE found by name.
#[derive(Debug)]
pub(crate) struct FoundCte<'e> {
    pub cte: &'e CteDef,
    /// Found from inside a CTE body in the `with` of an enclosing query.
    pub from_body_outward: bool,
}

impl CteEnv<'_> {
    /// The CTE a table name means, if any: a name without a schema, matched case-insensitively
    /// (the exact spelling first), innermost `with` first.
    pub fn find(&self, text: &str) -> Option<FoundCte<'_>> {
        if text.contains('.') {
            return None;
        }
        let mut env = Some(self);
        let mut crossed = false;
        while let Some(e) = env {
            let here = e
                .ctes
                .iter()
                .rev()
                .find(|c| c.name == text)
                .or_else(|| e.ctes.iter().rev().find(|c| same(&c.name, text)));
            if let Some(cte) = here {
                return Some(FoundCte {
                    cte,
                    from_body_outward: crossed,
                });
            }
            crossed |= e.body;
            env = e.parent;
        }
        None
    }

    /// Every name in force, for messages.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.ctes.iter().map(|c| c.name.clone()).collect();
        if let Some(parent) = self.parent {
            names.extend(parent.names());
        }
        names
    }
}

/// The sources a column reference may come from, and the enclosing query's scope.
#[derive(Debug)]
pub(crate) struct Scope<'p, 'c> {
    pub sources: Vec<Source<'c>>,
    /// How many sources references see: fewer while a join's `on` is planned (it sees the
    /// sources before it and its own).
    pub visible: Cell<usize>,
    /// The query this one is a subquery of, for correlated references.
    pub parent: Option<&'p Scope<'p, 'c>>,
    /// The CTE names subqueries may read.
    pub ctes: Option<&'p CteEnv<'p>>,
}

/// A column resolved to the source it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnRef {
    /// 0 for this query, 1 for the one around it...
    pub level: usize,
    pub source: usize,
    pub column: Column,
    /// The prefix it is rendered with; empty when it needs none.
    pub qualifier: Vec<String>,
}

impl<'p, 'c> Scope<'p, 'c> {
    pub fn new(
        sources: Vec<Source<'c>>,
        parent: Option<&'p Scope<'p, 'c>>,
        ctes: Option<&'p CteEnv<'p>>,
    ) -> Self {
        Self {
            visible: Cell::new(sources.len()),
            sources,
            parent,
            ctes,
        }
    }

    /// A reference to column `column` of source `source` of this query.
    pub fn column_ref(&self, source: usize, column: Column) -> ColumnRef {
        self.reference(0, source, column)
    }

    fn reference(&self, level: usize, source: usize, mut column: Column) -> ColumnRef {
        let s = &self.sources[source];
        column.nullable |= s.outer;
        let qualify = level > 0 || self.sources.len() > 1 || s.alias.is_some();
        ColumnRef {
            level,
            source,
            column,
            qualifier: if qualify { s.qualifier() } else { Vec::new() },
        }
    }

    /// The column `field` names: in this query first, then in the queries around it (as in
    /// SQL). Within a query: the whole text as a column name first, then `qualifier.column`
    /// for each dot from the right, where the qualifier is a source's alias, table or CTE name.
    ///
    /// # Errors
    /// [`QueryErrorKind::UnknownColumn`] naming the column and listing the table's columns, or
    /// the prefix and the names it may take; [`QueryErrorKind::Invalid`] when ambiguous.
    pub fn resolve(&self, field: &Name) -> Result<ColumnRef, QueryError> {
        let mut scope = Some(self);
        let mut level = 0;
        // The names of the sources between here and the query a column is found in.
        let mut inner: Vec<&str> = Vec::new();
        while let Some(s) = scope {
            if let Some(found) = s.resolve_here(field, level)? {
                let source = &s.sources[found.source];
                // An outer table written without an alias, under an inner source of the same
                // name (a CTE named like it): databases disagree on what its prefix means
                // there (MariaDB reads it as the inner one), so the query must say.
                if level > 0
                    && source.alias.is_none()
                    && inner.iter().any(|n| same(n, source.range_name()))
                {
                    return Err(QueryError::invalid(
                        &field.path,
                        format!(
                            "column {} comes from the outer {}, and an inner source has the same name; give the outer table an alias and prefix the column with it",
                            shown(&field.text),
                            shown(source.range_name())
                        ),
                    ));
                }
                return Ok(found);
            }
            inner.extend(s.sources.iter().map(Source::range_name));
            scope = s.parent;
            level += 1;
        }
        Err(self.unknown(field))
    }

    fn resolve_here(&self, field: &Name, level: usize) -> Result<Option<ColumnRef>, QueryError> {
        let text = field.text.as_str();
        let visible = &self.sources[..self.visible.get().min(self.sources.len())];
        // The first source that has the column, and any others that have it too.
        let mut hit: Option<(usize, Column)> = None;
        let mut others: Vec<usize> = Vec::new();
        for (i, source) in visible.iter().enumerate() {
            if let Some(column) = source.find(text, field)? {
                match hit {
                    None => hit = Some((i, column)),
                    Some(_) => others.push(i),
                }
            }
        }
        if let Some((first, _)) = hit
            && !others.is_empty()
        {
            let names: Vec<&str> = std::iter::once(first)
                .chain(others)
                .map(|i| visible[i].range_name())
                .collect();
            return Err(QueryError::invalid(
                &field.path,
                format!(
                    "column {} is in several tables of this query ({}); prefix it with the one you mean, like {}",
                    shown(text),
                    names.join(", "),
                    shown(&format!("{}.{text}", names[0]))
                ),
            ));
        }
        if let Some((i, column)) = hit {
            return Ok(Some(self.reference(level, i, column)));
        }

        let mut missing: Option<(usize, &str)> = None;
        for (dot, _) in text.rmatch_indices('.') {
            let (qualifier, column) = (&text[..dot], &text[dot + 1..]);
            let mut sources: Vec<usize> = (0..visible.len())
                .filter(|&i| visible[i].answers_to(qualifier))
                .collect();
            if sources.len() > 1 {
                // A source known by that name in SQL (its alias, or its name when it has
                // none) wins over one that merely has it as its table or CTE name.
                sources.retain(|&i| same(visible[i].range_name(), qualifier));
            }
            if sources.len() > 1 {
                return Err(QueryError::invalid(
                    &field.path,
                    format!(
                        "{} names several tables of this query; use their aliases",
                        shown(qualifier)
                    ),
                ));
            }
            if let Some(&i) = sources.first() {
                if let Some(found) = visible[i].find(column, field)? {
                    return Ok(Some(self.reference(level, i, found)));
                }
                missing.get_or_insert((i, column));
            }
        }
        match missing {
            Some((i, column)) => Err(visible[i].unknown_column(column, field)),
            None => Ok(None),
        }
    }

    /// The error for a column found nowhere, worded for this query.
    fn unknown(&self, field: &Name) -> QueryError {
        let text = field.text.as_str();
        let visible = &self.sources[..self.visible.get().min(self.sources.len())];
        if let Some((qualifier, _)) = text.rsplit_once('.') {
            let names: Vec<String> = visible.iter().map(Source::names).collect();
            return QueryError::new(
                QueryErrorKind::UnknownColumn,
                &field.path,
                format!(
                    "unknown column {}: {} is not a table of this query; prefix the column with {} or write it without a prefix",
                    shown(text),
                    shown(qualifier),
                    names.join("; or ")
                ),
            );
        }
        match visible {
            [only] => only.unknown_column(text, field),
            _ => {
                let names: Vec<String> = visible
                    .iter()
                    .map(|s| format!("{} ({})", s.range_name(), s.describe()))
                    .collect();
                QueryError::new(
                    QueryErrorKind::UnknownColumn,
                    &field.path,
                    format!(
                        "unknown column {}: none of the tables of this query has it ({}); check the columns with the schema tools",
                        shown(text),
                        names.join(", ")
                    ),
                )
            }
        }
    }
}
