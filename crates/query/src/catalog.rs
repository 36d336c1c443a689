//! The tables a key may see, and how the names a caller writes find them. Caller text is only
//! ever compared with catalog names; SQL always uses the catalog's own spelling.

use std::collections::BTreeSet;

use db_configs::TableInfo;

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
pub(crate) fn same(a: &str, b: &str) -> bool {
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
