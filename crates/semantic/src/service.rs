//! The semantic service: checks an update against the connection's snapshot, then stores it.

use std::sync::Arc;

use db_configs::{DbConfigError, DbConfigId, DbConfigService, SchemaSnapshot, TableInfo};
use time::OffsetDateTime;

use crate::{
    FieldError, NoteChange, NotePatch, SemanticError, SemanticRepository, SemanticUpdate, Semantics,
};

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;
/// The longest description (of a table, a column or the database), in characters.
pub const MAX_DESCRIPTION: usize = 2_000;
/// The most synonyms a table or column may have.
pub const MAX_SYNONYMS: usize = 20;
/// The longest synonym, in characters.
pub const MAX_SYNONYM: usize = 100;
/// The most tables one update may name.
pub const MAX_TABLES_PER_UPDATE: usize = 1_000;
/// The most columns one table of an update may name.
pub const MAX_COLUMNS_PER_TABLE: usize = 2_000;

/// A connection's semantic layer with the schema its bare names mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub semantics: Semantics,
    pub default_schema: String,
}

/// Reads and writes the semantic layer of connections.
#[derive(Clone)]
pub struct SemanticService {
    repo: Arc<dyn SemanticRepository>,
    db_configs: DbConfigService,
}

impl std::fmt::Debug for SemanticService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticService").finish_non_exhaustive()
    }
}

fn from_db(e: DbConfigError, id: DbConfigId) -> SemanticError {
    match e {
        DbConfigError::NotFound(_) => SemanticError::ConnectionNotFound(id.to_string()),
        other => SemanticError::Unavailable(Box::new(other)),
    }
}

impl SemanticService {
    pub fn new(repo: Arc<dyn SemanticRepository>, db_configs: DbConfigService) -> Self {
        Self { repo, db_configs }
    }

    /// What is written about a connection.
    ///
    /// # Errors
    /// [`SemanticError::ConnectionNotFound`], [`SemanticError::Unavailable`].
    pub async fn get(&self, db: DbConfigId) -> Result<Document, SemanticError> {
        let config = self
            .db_configs
            .get(db, false)
            .await
            .map_err(|e| from_db(e, db))?;
        Ok(Document {
            semantics: self.repo.get(db).await?,
            default_schema: config.default_schema(),
        })
    }

    /// What is written about a connection, without checking that it is live (for the MCP
    /// path, which has already loaded the connection).
    ///
    /// # Errors
    /// [`SemanticError::Unavailable`].
    pub async fn stored(&self, db: DbConfigId) -> Result<Semantics, SemanticError> {
        self.repo.get(db).await
    }

    /// The stored snapshot, or a first one taken now (as the MCP path would).
    async fn snapshot(&self, db: DbConfigId) -> Result<SchemaSnapshot, SemanticError> {
        if let Some(s) = self
            .db_configs
            .snapshot(db)
            .await
            .map_err(|e| from_db(e, db))?
        {
            return Ok(s);
        }
        self.db_configs.refresh_schema(db).await.map_err(|e| {
            tracing::warn!(connection = %db, error = %e, "no snapshot to check names against");
            match e {
                DbConfigError::NotFound(_) => SemanticError::ConnectionNotFound(db.to_string()),
                _ => SemanticError::NoSnapshot(db.to_string()),
            }
        })
    }

    /// Upserts what `update` names and leaves the rest; returns the result.
    ///
    /// # Errors
    /// [`SemanticError::Invalid`] naming every wrong field (unknown tables and columns
    /// included), [`SemanticError::ConnectionNotFound`], [`SemanticError::NoSnapshot`],
    /// [`SemanticError::Unavailable`].
    pub async fn update(&self, update: SemanticUpdate) -> Result<Document, SemanticError> {
        let db = update.db_config_id;
        let config = self
            .db_configs
            .get(db, false)
            .await
            .map_err(|e| from_db(e, db))?;
        let snapshot = if update.tables.is_empty() {
            None
        } else {
            Some(self.snapshot(db).await?)
        };
        let (description, changes) = check(&update, snapshot.as_ref(), &config.default_schema())?;
        self.repo
            .apply(db, description, &changes, OffsetDateTime::now_utc())
            .await?;
        Ok(Document {
            semantics: self.repo.get(db).await?,
            default_schema: config.default_schema(),
        })
    }
}

/// Checks an update: every text within bounds, every table and column in the snapshot.
/// Returns the database description change and one change per named table or column.
///
/// # Errors
/// [`SemanticError::Invalid`] with every problem found.
pub fn check(
    update: &SemanticUpdate,
    snapshot: Option<&SchemaSnapshot>,
    default_schema: &str,
) -> Result<(Option<Option<String>>, Vec<NoteChange>), SemanticError> {
    let mut errors = Vec::new();
    let description = update.description.as_ref().map(|d| {
        clean_text(
            d.as_deref(),
            "description",
            MAX_DESCRIPTION,
            true,
            &mut errors,
        )
    });
    if update.tables.len() > MAX_TABLES_PER_UPDATE {
        return Err(SemanticError::invalid(
            "tables",
            format!("at most {MAX_TABLES_PER_UPDATE} tables per update; send several"),
        ));
    }
    let mut changes = Vec::new();
    for (i, t) in update.tables.iter().enumerate() {
        let at = format!("tables[{i}]");
        let Some(table) = snapshot.and_then(|s| resolve_table(s, default_schema, &t.name)) else {
            errors.push(FieldError {
                field: format!("{at}.name"),
                message: format!("no table {:?} in the connection's schema", t.name),
            });
            continue;
        };
        let patch = clean_patch(&t.note, &at, &mut errors);
        if !patch.is_noop() {
            changes.push(NoteChange {
                schema: table.schema.clone(),
                table: table.name.clone(),
                column: None,
                patch,
            });
        }
        if t.columns.len() > MAX_COLUMNS_PER_TABLE {
            errors.push(FieldError {
                field: format!("{at}.columns"),
                message: format!("at most {MAX_COLUMNS_PER_TABLE} columns per table"),
            });
            continue;
        }
        for (j, c) in t.columns.iter().enumerate() {
            let at = format!("{at}.columns[{j}]");
            let Some(column) = resolve_column(table, &c.name) else {
                errors.push(FieldError {
                    field: format!("{at}.name"),
                    message: format!("no column {:?} in {}.{}", c.name, table.schema, table.name),
                });
                continue;
            };
            let patch = clean_patch(&c.note, &at, &mut errors);
            if !patch.is_noop() {
                changes.push(NoteChange {
                    schema: table.schema.clone(),
                    table: table.name.clone(),
                    column: Some(column.to_owned()),
                    patch,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok((description, changes))
    } else {
        Err(SemanticError::Invalid(errors))
    }
}

/// The snapshot's table for a name as an administrator writes it: `table` (the default
/// schema) or `schema.table`; exact spelling first, then a unique case-insensitive match.
pub fn resolve_table<'a>(
    snapshot: &'a SchemaSnapshot,
    default_schema: &str,
    name: &str,
) -> Option<&'a TableInfo> {
    let name = name.trim();
    let mut candidates = vec![(default_schema, name)];
    if let Some((schema, table)) = name.split_once('.') {
        candidates.push((schema, table));
    }
    for (schema, table) in &candidates {
        if let Some(t) = snapshot
            .tables
            .iter()
            .find(|t| t.schema == *schema && t.name == *table)
        {
            return Some(t);
        }
    }
    for (schema, table) in &candidates {
        let mut found = snapshot.tables.iter().filter(|t| {
            t.schema.eq_ignore_ascii_case(schema) && t.name.eq_ignore_ascii_case(table)
        });
        if let (Some(t), None) = (found.next(), found.next()) {
            return Some(t);
        }
    }
    None
}

/// The snapshot's name of a column: exact first, then a unique case-insensitive match.
fn resolve_column<'a>(table: &'a TableInfo, name: &str) -> Option<&'a str> {
    let name = name.trim();
    if let Some(c) = table.columns.iter().find(|c| c.name == name) {
        return Some(&c.name);
    }
    let mut found = table
        .columns
        .iter()
        .filter(|c| c.name.eq_ignore_ascii_case(name));
    match (found.next(), found.next()) {
        (Some(c), None) => Some(&c.name),
        _ => None,
    }
}

fn clean_patch(patch: &NotePatch, at: &str, errors: &mut Vec<FieldError>) -> NotePatch {
    NotePatch {
        display_name: patch.display_name.as_ref().map(|v| {
            clean_text(
                v.as_deref(),
                &format!("{at}.displayName"),
                MAX_DISPLAY_NAME,
                false,
                errors,
            )
        }),
        description: patch.description.as_ref().map(|v| {
            clean_text(
                v.as_deref(),
                &format!("{at}.description"),
                MAX_DESCRIPTION,
                true,
                errors,
            )
        }),
        synonyms: patch
            .synonyms
            .as_ref()
            .map(|s| clean_synonyms(s, &format!("{at}.synonyms"), errors)),
    }
}

/// Trims a text; empty means cleared. Refuses control characters (line breaks only where
/// `multiline`) and texts longer than `max` characters.
fn clean_text(
    value: Option<&str>,
    field: &str,
    max: usize,
    multiline: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = value?.trim();
    if v.is_empty() {
        return None;
    }
    let mut fail = |message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        });
    };
    if v.chars().count() > max {
        fail(format!("at most {max} characters"));
    } else if v
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')))
    {
        fail(if multiline {
            "control characters other than line breaks and tabs are not allowed".to_owned()
        } else {
            "must be one line without control characters".to_owned()
        });
    }
    Some(v.to_owned())
}

/// Trimmed, non-empty, one line each, no case-insensitive duplicates, at most
/// [`MAX_SYNONYMS`].
fn clean_synonyms(values: &[String], field: &str, errors: &mut Vec<FieldError>) -> Vec<String> {
    if values.len() > MAX_SYNONYMS {
        errors.push(FieldError {
            field: field.to_owned(),
            message: format!("at most {MAX_SYNONYMS} synonyms"),
        });
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in values.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match clean_text(Some(s), &at, MAX_SYNONYM, false, errors) {
            None => errors.push(FieldError {
                field: at,
                message: "must not be empty".to_owned(),
            }),
            Some(s) if out.iter().any(|o| o.to_lowercase() == s.to_lowercase()) => {}
            Some(s) => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use db_configs::{ColumnInfo, RelationKind};

    use super::*;
    use crate::{ColumnPatch, TablePatch};

    fn table(schema: &str, name: &str, columns: &[&str]) -> TableInfo {
        TableInfo {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind: RelationKind::Table,
            comment: None,
            row_estimate: None,
            columns: columns
                .iter()
                .map(|c| ColumnInfo {
                    name: (*c).to_owned(),
                    data_type: "text".to_owned(),
                    nullable: true,
                    default: None,
                    comment: None,
                })
                .collect(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
        }
    }

    fn snapshot() -> SchemaSnapshot {
        SchemaSnapshot {
            tables: vec![
                table("public", "users", &["id", "email"]),
                table("sales", "orders", &["id", "Total"]),
                table("sales", "Users", &["id"]),
                table("other", "users", &["id"]),
            ],
            refreshed_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn update(tables: Vec<TablePatch>) -> SemanticUpdate {
        SemanticUpdate {
            db_config_id: DbConfigId::new(),
            description: None,
            tables,
        }
    }

    fn named(name: &str, note: NotePatch, columns: Vec<ColumnPatch>) -> TablePatch {
        TablePatch {
            name: name.to_owned(),
            note,
            columns,
        }
    }

    fn described(text: &str) -> NotePatch {
        NotePatch {
            description: Some(Some(text.to_owned())),
            ..NotePatch::default()
        }
    }

    fn fields(e: SemanticError) -> Vec<String> {
        match e {
            SemanticError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn bare_names_mean_the_default_schema_and_qualified_names_their_schema() {
        let s = snapshot();
        let t = resolve_table(&s, "public", "users").unwrap();
        assert_eq!((t.schema.as_str(), t.name.as_str()), ("public", "users"));
        let t = resolve_table(&s, "public", "sales.orders").unwrap();
        assert_eq!(t.schema, "sales");
        let t = resolve_table(&s, "public", "SALES.ORDERS").unwrap();
        assert_eq!(
            t.name, "orders",
            "a unique case-insensitive match is accepted"
        );
        let t = resolve_table(&s, "public", "sales.Users").unwrap();
        assert_eq!(
            (t.schema.as_str(), t.name.as_str()),
            ("sales", "Users"),
            "an exact spelling wins"
        );
        assert!(resolve_table(&s, "public", "orders").is_none());
        assert!(resolve_table(&s, "public", "missing.users").is_none());
        assert!(
            resolve_table(&s, "public", "sales.users; drop").is_none(),
            "no partial match"
        );
    }

    #[test]
    fn every_unknown_table_and_column_is_named() {
        let u = update(vec![
            named("users", described("People"), vec![]),
            named("nope", described("x"), vec![]),
            named(
                "sales.orders",
                NotePatch::default(),
                vec![
                    ColumnPatch {
                        name: "total".to_owned(),
                        note: described("Sum"),
                    },
                    ColumnPatch {
                        name: "missing".to_owned(),
                        note: described("x"),
                    },
                ],
            ),
        ]);
        let e = check(&u, Some(&snapshot()), "public").unwrap_err();
        assert_eq!(
            fields(e),
            ["tables[1].name", "tables[2].columns[1].name"],
            "all of them, in request order"
        );
    }

    #[test]
    fn changes_carry_the_snapshot_spelling() {
        let u = update(vec![named(
            "SALES.orders",
            NotePatch::default(),
            vec![ColumnPatch {
                name: "TOTAL".to_owned(),
                note: described("Order total in EUR"),
            }],
        )]);
        let (_, changes) = check(&u, Some(&snapshot()), "public").unwrap();
        assert_eq!(
            changes.len(),
            1,
            "a table patch that changes nothing is dropped"
        );
        assert_eq!(
            (
                changes[0].schema.as_str(),
                changes[0].table.as_str(),
                changes[0].column.as_deref()
            ),
            ("sales", "orders", Some("Total"))
        );
    }

    #[test]
    fn texts_are_bounded_trimmed_and_single_line_where_needed() {
        let long = "x".repeat(MAX_DESCRIPTION + 1);
        let u = update(vec![named(
            "users",
            NotePatch {
                display_name: Some(Some("Two\nlines".to_owned())),
                description: Some(Some(long)),
                synonyms: Some(vec!["  ".to_owned()]),
            },
            vec![],
        )]);
        assert_eq!(
            fields(check(&u, Some(&snapshot()), "public").unwrap_err()),
            [
                "tables[0].displayName",
                "tables[0].description",
                "tables[0].synonyms[0]"
            ]
        );

        let exactly = "é".repeat(MAX_DESCRIPTION);
        let u = update(vec![named(
            "users",
            NotePatch {
                display_name: Some(Some("  Users  ".to_owned())),
                description: Some(Some(format!("{exactly}\n"))),
                synonyms: Some(vec!["people".into(), "People".into(), "accounts".into()]),
            },
            vec![],
        )]);
        let (_, changes) = check(&u, Some(&snapshot()), "public").unwrap();
        let p = &changes[0].patch;
        assert_eq!(p.display_name, Some(Some("Users".to_owned())));
        assert_eq!(p.description, Some(Some(exactly)), "counted in characters");
        assert_eq!(
            p.synonyms,
            Some(vec!["people".to_owned(), "accounts".to_owned()])
        );
    }

    #[test]
    fn an_empty_text_clears_and_too_many_synonyms_are_refused() {
        let u = update(vec![named(
            "users",
            NotePatch {
                display_name: Some(Some("   ".to_owned())),
                description: None,
                synonyms: Some((0..=MAX_SYNONYMS).map(|i| format!("s{i}")).collect()),
            },
            vec![],
        )]);
        assert_eq!(
            fields(check(&u, Some(&snapshot()), "public").unwrap_err()),
            ["tables[0].synonyms"]
        );
        let u = update(vec![named(
            "users",
            NotePatch {
                display_name: Some(Some("   ".to_owned())),
                ..NotePatch::default()
            },
            vec![],
        )]);
        let (_, changes) = check(&u, Some(&snapshot()), "public").unwrap();
        assert_eq!(changes[0].patch.display_name, Some(None));
    }

    #[test]
    fn without_a_snapshot_no_table_can_be_named() {
        let u = update(vec![named("users", described("x"), vec![])]);
        assert_eq!(
            fields(check(&u, None, "public").unwrap_err()),
            ["tables[0].name"]
        );
    }
}
