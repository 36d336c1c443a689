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
    /// Whether every schema and table name, the default schema included, is ASCII: then a
    /// name written in ASCII is compared with them by ASCII case folding alone.
    ascii: bool,
}

impl Catalog {
    /// `tables`: the snapshot already filtered to the key's grant; `default_schema`: where a
    /// bare name is looked up (PostgreSQL `public`, MySQL the database name, SQLite `main`).
    pub fn new(tables: Vec<TableInfo>, default_schema: impl Into<String>) -> Self {
        let default_schema = default_schema.into();
        let ascii = default_schema.is_ascii()
            && tables
                .iter()
                .all(|t| t.schema.is_ascii() && t.name.is_ascii());
        Self {
            tables,
            default_schema,
            ascii,
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
        // Whether ASCII case folding decides: known once for the whole catalog, not per table.
        let ascii = self.ascii && text.is_ascii();
        let names_qualified = |t: &TableInfo| {
            if ascii {
                ascii_same_qualified(t, text)
            } else {
                same_qualified(t, text)
            }
        };
        let names_bare = |t: &TableInfo| {
            if ascii {
                t.name.eq_ignore_ascii_case(text)
            } else {
                same(&t.name, text)
            }
        };
        let qualified: Vec<&TableInfo> =
            self.tables.iter().filter(|t| names_qualified(t)).collect();
        if !qualified.is_empty() {
            return one(qualified, |t| is_qualified_name(t, text), name);
        }
        let bare: Vec<&TableInfo> = self.tables.iter().filter(|t| names_bare(t)).collect();
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

/// Whether `text` is exactly the [`qualified_name`] of `table`, without building it.
pub(crate) fn is_qualified_name(table: &TableInfo, text: &str) -> bool {
    text.strip_prefix(table.schema.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest == table.name)
}

/// Case-insensitive equality of names.
pub(crate) fn same(a: &str, b: &str) -> bool {
    // Between ASCII strings, Unicode lowercasing is ASCII lowercasing: nothing to allocate.
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a == b || a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// Whether `text` names `table` as `schema.table`: [`same`] as its [`qualified_name`], without
/// building that name when everything is ASCII. Other text is lowercased as a whole, as
/// [`same`] does, since Unicode lowercasing can depend on the characters around.
pub(crate) fn same_qualified(table: &TableInfo, text: &str) -> bool {
    if text.is_ascii() && table.schema.is_ascii() && table.name.is_ascii() {
        ascii_same_qualified(table, text)
    } else {
        same(&qualified_name(table), text)
    }
}

/// [`same_qualified`] when `text` and the table's names are all ASCII.
fn ascii_same_qualified(table: &TableInfo, text: &str) -> bool {
    let (schema, name) = (table.schema.as_str(), table.name.as_str());
    text.len() == schema.len() + 1 + name.len()
        && text.as_bytes()[schema.len()] == b'.'
        && text[..schema.len()].eq_ignore_ascii_case(schema)
        && text[schema.len() + 1..].eq_ignore_ascii_case(name)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Case-insensitive equality as first written: Unicode lowercasing of the whole names.
    fn lowercased_equal(a: &str, b: &str) -> bool {
        a == b || a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
    }

    fn table(schema: &str, name: &str) -> TableInfo {
        TableInfo {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind: db_configs::RelationKind::Table,
            comment: None,
            row_estimate: None,
            columns: Vec::new(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
        }
    }

    #[test]
    fn names_compare_as_their_unicode_lowercasing_does() {
        // ASCII, the Kelvin sign (lowercased to `k`), a final sigma, a dotted capital I.
        let names = [
            "orders", "ORDERS", "Orders", "order", "public", "k", "K", "\u{212a}", "ΟΔΟΣ", "οδος",
            "οδοσ", "İ", "i", "i\u{307}", "", ".", "a.b", "A.B",
        ];
        for a in names {
            for b in names {
                assert_eq!(same(a, b), lowercased_equal(a, b), "{a:?} {b:?}");
            }
        }
        let texts = [
            "public.orders",
            "PUBLIC.Orders",
            "a.b.a.b",
            "ΟΔΟΣ.k",
            "οδος.\u{212a}",
            "orders",
        ];
        for schema in names {
            for name in names {
                let t = table(schema, name);
                for text in texts {
                    let expected = lowercased_equal(&qualified_name(&t), text);
                    assert_eq!(same_qualified(&t, text), expected, "{t:?} {text:?}");
                    assert_eq!(is_qualified_name(&t, text), qualified_name(&t) == text);
                }
            }
        }
    }

    #[test]
    fn tables_of_ascii_and_other_catalogs_resolve_alike() {
        let name = |text: &str| Name {
            text: text.to_owned(),
            path: "tableName".to_owned(),
        };
        let ascii = Catalog::new(vec![table("public", "orders")], "public");
        let mixed = Catalog::new(
            vec![table("public", "orders"), table("public", "ΟΔΟΣ")],
            "public",
        );
        for catalog in [&ascii, &mixed] {
            for text in ["orders", "ORDERS", "public.Orders", "Public.orders"] {
                let found = catalog.resolve_table(&name(text)).map(qualified_name);
                assert_eq!(found.ok().as_deref(), Some("public.orders"), "{text}");
            }
            assert!(catalog.resolve_table(&name("public.order")).is_err());
        }
        // The final sigma: `ΟΔΟΣ` lowercases to `οδος`, not `οδοσ`.
        for (text, found) in [("οδος", true), ("public.ΟΔΟΣ", true), ("οδοσ", false)] {
            let resolved = mixed.resolve_table(&name(text));
            assert_eq!(resolved.is_ok(), found, "{text}");
        }
    }
}
