//! The semantic port on PostgreSQL: `semantic_databases` and `semantic_notes`, announcing
//! changes on the change feed.

use async_trait::async_trait;
use db_configs::DbConfigId;
use deadpool_postgres::Pool;
use semantic::{Note, NoteChange, SemanticError, SemanticRepository, Semantics, TableNotes};
use time::OffsetDateTime;

use crate::PgStore;
use crate::changes::{Change, notify};

/// The semantic layer on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgSemanticRepository {
    pool: Pool,
}

impl PgSemanticRepository {
    pub fn new(store: &PgStore) -> Self {
        Self {
            pool: store.pool().clone(),
        }
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> SemanticError {
    SemanticError::Unavailable(Box::new(e))
}

#[async_trait]
impl SemanticRepository for PgSemanticRepository {
    #[tracing::instrument(skip_all, fields(db = %db))]
    async fn get(&self, db: DbConfigId) -> Result<Semantics, SemanticError> {
        let c = self.pool.get().await.map_err(unavailable)?;
        let id = db.as_uuid();
        let head = c
            .query_opt(
                "SELECT description, updated_at FROM semantic_databases WHERE db_config_id = $1",
                &[&id],
            )
            .await
            .map_err(unavailable)?;
        let rows = c
            .query(
                "SELECT schema_name, table_name, column_name, display_name, description, synonyms
                 FROM semantic_notes WHERE db_config_id = $1
                 ORDER BY schema_name, table_name, column_name",
                &[&id],
            )
            .await
            .map_err(unavailable)?;
        let mut out = Semantics::empty(db);
        if let Some(head) = head {
            out.description = head.get("description");
            out.updated_at = Some(head.get("updated_at"));
        }
        for row in rows {
            let schema: String = row.get("schema_name");
            let table: String = row.get("table_name");
            let column: String = row.get("column_name");
            let note = Note {
                display_name: row.get("display_name"),
                description: row.get("description"),
                synonyms: row.get("synonyms"),
            };
            let same = out
                .tables
                .last()
                .is_some_and(|t| t.schema == schema && t.table == table);
            if !same {
                out.tables.push(TableNotes {
                    schema,
                    table,
                    note: Note::default(),
                    columns: Vec::new(),
                });
            }
            let entry = out.tables.last_mut().expect("pushed above");
            if column.is_empty() {
                entry.note = note;
            } else {
                entry.columns.push((column, note));
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(db = %db, changes = changes.len()))]
    async fn apply(
        &self,
        db: DbConfigId,
        description: Option<Option<String>>,
        changes: &[NoteChange],
        now: OffsetDateTime,
    ) -> Result<(), SemanticError> {
        // Field by field in SQL, so two administrators editing different fields of one note
        // at the same moment both keep their change.
        const NOTE: &str = "INSERT INTO semantic_notes AS n (db_config_id, schema_name,
                table_name, column_name, display_name, description, synonyms, updated_at)
            VALUES ($1, $2, $3, $4, $6, $8, COALESCE($10, '{}'::text[]), $11)
            ON CONFLICT (db_config_id, schema_name, table_name, column_name) DO UPDATE SET
                display_name = CASE WHEN $5 THEN EXCLUDED.display_name ELSE n.display_name END,
                description = CASE WHEN $7 THEN EXCLUDED.description ELSE n.description END,
                synonyms = CASE WHEN $9 THEN EXCLUDED.synonyms ELSE n.synonyms END,
                updated_at = EXCLUDED.updated_at";
        let id = db.as_uuid();
        let mut c = self.pool.get().await.map_err(unavailable)?;
        let tx = c.transaction().await.map_err(unavailable)?;
        match &description {
            Some(d) => tx
                .execute(
                    "INSERT INTO semantic_databases (db_config_id, description, updated_at)
                     VALUES ($1, $2, $3) ON CONFLICT (db_config_id)
                     DO UPDATE SET description = EXCLUDED.description,
                                   updated_at = EXCLUDED.updated_at",
                    &[&id, d, &now],
                )
                .await
                .map_err(unavailable)?,
            None => tx
                .execute(
                    "INSERT INTO semantic_databases (db_config_id, updated_at) VALUES ($1, $2)
                     ON CONFLICT (db_config_id) DO UPDATE SET updated_at = EXCLUDED.updated_at",
                    &[&id, &now],
                )
                .await
                .map_err(unavailable)?,
        };
        let stmt = tx.prepare(NOTE).await.map_err(unavailable)?;
        for change in changes {
            let p = &change.patch;
            let column = change.column.clone().unwrap_or_default();
            tx.execute(
                &stmt,
                &[
                    &id,
                    &change.schema,
                    &change.table,
                    &column,
                    &p.display_name.is_some(),
                    &p.display_name.clone().flatten(),
                    &p.description.is_some(),
                    &p.description.clone().flatten(),
                    &p.synonyms.is_some(),
                    &p.synonyms,
                    &now,
                ],
            )
            .await
            .map_err(unavailable)?;
        }
        tx.execute(
            "DELETE FROM semantic_notes WHERE db_config_id = $1 AND display_name IS NULL
                 AND description IS NULL AND cardinality(synonyms) = 0",
            &[&id],
        )
        .await
        .map_err(unavailable)?;
        notify(&tx, Change::Semantic(id))
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}
