//! The tables a key may see, and how the names a caller writes find them. Caller text is only
//! ever compared with catalog names; SQL always uses the catalog's own spelling.

use std::collections::BTreeSet;

use db_configs::{ColumnInfo, TableInfo};

use crate::error::{QueryError, QueryErrorKind, shown};
use crate::model::Name;

/// How many table names an "unknown table" error lists.
const LISTED_TABLES: usize = 30;

/// The tables one key may read on one database: the schema snapshot already narrowed to the
/// key's whitelist and the connection's allowed tables.
#[derive(Debug, Clone)]
pub struct Catalog {
    tables: Vec<TableInfo>,
    default_schema: String,
}

impl Catalog {
    /// `tables`: the snapshot already filtered to the key's grant; `default_schema`: where a
    /// bare name is looked up (PostgreSQL `public`, MySQL the database name, SQLite `main`).
    pub fn new(tables: Vec<TableInfo>, default_schema: impl Into<String>) -> Self {
        Self {
            tables,
            default_schema: default_schema.into(),
        }
    }

    /// The tables of the catalog.
    pub fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    /// Where a bare table name is looked up first.
    pub fn default_schema(&self) -> &str {
        &self.default_schema
    }

    /// The table `name` means: `schema.table` matched case-insensitively; a bare name in the
    /// default schema first, then the only table of that name in another schema. Among names
    /// differing only in case, the exact spelling wins.
    ///
    /// # Errors
    /// [`QueryErrorKind::UnknownTable`] worded the same whether the table does not exist or
    /// the key may not read it; [`QueryErrorKind::Invalid`] when the name is ambiguous.
    pub(crate) fn resolve_table(&self, name: &Name) -> Result<&TableInfo, QueryError> {
        let text = name.text.as_str();
        let qualified: Vec<&TableInfo> = self
            .tables
            .iter()
            .filter(|t| same(&qualified_name(t), text))
            .collect();
        if !qualified.is_empty() {
            return one(qualified, |t| qualified_name(t) == text, name);
        }
        let bare: Vec<&TableInfo> = self.tables.iter().filter(|t| same(&t.name, text)).collect();
        let in_default: Vec<&TableInfo> = bare
            .iter()
            .copied()
            .filter(|t| same(&t.schema, &self.default_schema))
            .collect();
        if !in_default.is_empty() {
            return one(in_default, |t| t.name == text, name);
        }
        let schemas: BTreeSet<&str> = bare.iter().map(|t| t.schema.as_str()).collect();
        if schemas.len() > 1 {
            let options: Vec<String> = bare.iter().map(|t| qualified_name(t)).collect();
            return Err(QueryError::invalid(
                &name.path,
                format!(
                    "table {} is in several schemas ({}); write it as schema.table",
                    shown(text),
                    options.join(", ")
                ),
            ));
        }
        if !bare.is_empty() {
            return one(bare, |t| t.name == text, name);
        }
        Err(self.unknown_table(name))
    }

    /// The same words whether the table does not exist or is outside the grant.
    fn unknown_table(&self, name: &Name) -> QueryError {
        let mut names: Vec<String> = self.tables.iter().map(qualified_name).collect();
        names.sort();
        let listed = if names.is_empty() {
            "this key may read no table".to_owned()
        } else if names.len() > LISTED_TABLES {
            format!(
                "tables you may read: {} (and {} more)",
                names[..LISTED_TABLES].join(", "),
                names.len() - LISTED_TABLES
            )
        } else {
            format!("tables you may read: {}", names.join(", "))
        };
        let quoted = name.text.contains(['"', '`', '[', ']']);
        let hint = if quoted {
            "names are matched as plain text: leave out quotes and brackets; "
        } else {
            ""
        };
        QueryError::new(
            QueryErrorKind::UnknownTable,
            &name.path,
            format!(
                "no table {} is available (it does not exist or this key may not read it); {hint}{listed}",
                shown(&name.text)
            ),
        )
    }
}

/// `schema.table` as written in messages and [`crate::Plan::tables`].
pub(crate) fn qualified_name(table: &TableInfo) -> String {
    format!("{}.{}", table.schema, table.name)
}

/// Case-insensitive equality of names.
fn same(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase())
}

/// The single table among case-insensitive matches: the only one, or the exactly spelled one.
fn one<'a>(
    found: Vec<&'a TableInfo>,
    exact: impl Fn(&TableInfo) -> bool,
    name: &Name,
) -> Result<&'a TableInfo, QueryError> {
    if let [table] = found.as_slice() {
        return Ok(table);
    }
    let exact: Vec<&TableInfo> = found.iter().copied().filter(|t| exact(t)).collect();
    if let [table] = exact.as_slice() {
        return Ok(table);
    }
    let options: Vec<String> = found.iter().map(|t| qualified_name(t)).collect();
    Err(QueryError::invalid(
        &name.path,
        format!(
            "{} matches tables that differ only in case ({}); write the name exactly as listed",
            shown(&name.text),
            options.join(", ")
        ),
    ))
}

/// A table of a query's FROM clause, as seen by column references.
#[derive(Debug, Clone)]
pub(crate) struct Source<'c> {
    pub table: &'c TableInfo,
    pub alias: Option<String>,
}

impl Source<'_> {
    /// Whether `qualifier` names this source: its alias, its table name, or `schema.table`.
    fn answers_to(&self, qualifier: &str) -> bool {
        self.alias.as_deref().is_some_and(|a| same(a, qualifier))
            || same(&self.table.name, qualifier)
            || same(&qualified_name(self.table), qualifier)
    }

    fn names(&self) -> String {
        match &self.alias {
            Some(a) => format!("{a}, {} or {}", self.table.name, qualified_name(self.table)),
            None => format!("{} or {}", self.table.name, qualified_name(self.table)),
        }
    }
}

/// The tables a column reference may come from. One now; joins add more.
#[derive(Debug, Clone)]
pub(crate) struct Scope<'c> {
    pub sources: Vec<Source<'c>>,
}

/// A column resolved to the source it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ColumnRef<'c> {
    pub source: usize,
    pub column: &'c ColumnInfo,
}

impl<'c> Scope<'c> {
    /// The column `field` names: the whole text as a column name first, then `qualifier.column`
    /// for each dot from the right, where the qualifier is a source's alias or table name.
    ///
    /// # Errors
    /// [`QueryErrorKind::UnknownColumn`] naming the column and listing the table's columns, or
    /// the prefix and the names it may take; [`QueryErrorKind::Invalid`] when ambiguous.
    pub fn resolve(&self, field: &Name) -> Result<ColumnRef<'c>, QueryError> {
        let text = field.text.as_str();
        let mut hits = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            if let Some(column) = find_column(source.table, text, field)? {
                hits.push(ColumnRef { source: i, column });
            }
        }
        match hits.as_slice() {
            [one] => return Ok(*one),
            [] => {}
            _ => {
                return Err(QueryError::invalid(
                    &field.path,
                    format!(
                        "column {} is in several tables of this query; prefix it with the table's alias",
                        shown(text)
                    ),
                ));
            }
        }

        let mut missing: Option<(usize, &str)> = None;
        for (dot, _) in text.rmatch_indices('.') {
            let (qualifier, column) = (&text[..dot], &text[dot + 1..]);
            let sources: Vec<usize> = (0..self.sources.len())
                .filter(|&i| self.sources[i].answers_to(qualifier))
                .collect();
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
                if let Some(column) = find_column(self.sources[i].table, column, field)? {
                    return Ok(ColumnRef { source: i, column });
                }
                missing.get_or_insert((i, column));
            }
        }
        if let Some((i, column)) = missing {
            return Err(unknown_column(self.sources[i].table, column, field));
        }
        if let Some((qualifier, _)) = text.rsplit_once('.') {
            let names: Vec<String> = self.sources.iter().map(Source::names).collect();
            return Err(QueryError::new(
                QueryErrorKind::UnknownColumn,
                &field.path,
                format!(
                    "unknown column {}: {} is not a table of this query; prefix the column with {} or write it without a prefix",
                    shown(text),
                    shown(qualifier),
                    names.join(", ")
                ),
            ));
        }
        match self.sources.as_slice() {
            [only] => Err(unknown_column(only.table, text, field)),
            _ => Err(QueryError::new(
                QueryErrorKind::UnknownColumn,
                &field.path,
                format!(
                    "unknown column {}; prefix it with the alias of the table it is in",
                    shown(text)
                ),
            )),
        }
    }
}

/// The column of `table` named `text`, case-insensitively (the exact spelling wins).
fn find_column<'c>(
    table: &'c TableInfo,
    text: &str,
    field: &Name,
) -> Result<Option<&'c ColumnInfo>, QueryError> {
    let found: Vec<&ColumnInfo> = table
        .columns
        .iter()
        .filter(|c| same(&c.name, text))
        .collect();
    if found.len() <= 1 {
        return Ok(found.first().copied());
    }
    let exact: Vec<&ColumnInfo> = found.iter().copied().filter(|c| c.name == text).collect();
    if let [column] = exact.as_slice() {
        return Ok(Some(column));
    }
    let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
    Err(QueryError::invalid(
        &field.path,
        format!(
            "{} matches columns of {} that differ only in case ({}); write the name exactly",
            shown(text),
            qualified_name(table),
            names.join(", ")
        ),
    ))
}

fn unknown_column(table: &TableInfo, column: &str, field: &Name) -> QueryError {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    QueryError::new(
        QueryErrorKind::UnknownColumn,
        &field.path,
        format!(
            "unknown column {} in {}; its columns are: {}",
            shown(column),
            qualified_name(table),
            names.join(", ")
        ),
    )
}
