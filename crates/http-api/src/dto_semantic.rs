//! DTOs of `/api/semantic` (seed 002, camelCase).

use db_configs::DbConfigId;
use semantic::{ColumnPatch, Note, NotePatch, SemanticUpdate, Semantics, TablePatch};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::ApiError;
use crate::dto_db::double_option;

/// Which connection's semantic layer to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SemanticQuery {
    /// The connection's id.
    pub db_management_id: String,
}

/// Change the semantic layer of a connection: what is named is upserted, the rest stays.
/// Absent fields stay; `null` or `""` clears one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SemanticUpdateRequest {
    /// The connection's id.
    pub db_management_id: String,
    /// What the database as a whole is about (up to 2,000 characters). Agents receive it as
    /// the MCP server's `instructions`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub tables: Vec<TableNoteRequest>,
}

/// A table to describe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableNoteRequest {
    /// `table` (in the default schema: `public`, the MySQL database, `main`) or
    /// `schema.table`, as in the schema snapshot.
    #[schema(example = "users")]
    pub name: String,
    /// A human name (up to 200 characters, one line).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Users")]
    pub display_name: Option<Option<String>>,
    /// What the table holds (up to 2,000 characters).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "User accounts table")]
    pub description: Option<Option<String>>,
    /// Other words people use for it (up to 20, each up to 100 characters); replaces the list.
    pub synonyms: Option<Vec<String>>,
    #[serde(default)]
    pub columns: Vec<ColumnNoteRequest>,
}

/// A column to describe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColumnNoteRequest {
    #[schema(example = "id")]
    pub name: String,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "User ID")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Primary key")]
    pub description: Option<Option<String>>,
    pub synonyms: Option<Vec<String>>,
}

/// The semantic layer of a connection: only what administrators wrote (comments in the
/// database itself are in the schema snapshot, and agents see them where nothing is written).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SemanticView {
    pub db_management_id: String,
    pub description: Option<String>,
    pub tables: Vec<TableNoteView>,
    /// When it last changed; `null` when nothing was ever written.
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// A described table.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableNoteView {
    /// Bare in the default schema, else `schema.table`.
    pub name: String,
    pub schema_name: String,
    pub table_name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub synonyms: Vec<String>,
    pub columns: Vec<ColumnNoteView>,
}

/// A described column.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ColumnNoteView {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub synonyms: Vec<String>,
}

/// The connection id of a request, or 400 naming `dbManagementId`.
pub(crate) fn connection_id(raw: &str) -> Result<DbConfigId, ApiError> {
    raw.trim().parse().map_err(|_| {
        ApiError::validation(
            "dbManagementId",
            format!("dbManagementId: {raw:?} is not a connection id"),
        )
    })
}

fn patch(
    display_name: Option<Option<String>>,
    description: Option<Option<String>>,
    synonyms: Option<Vec<String>>,
) -> NotePatch {
    NotePatch {
        display_name,
        description,
        synonyms,
    }
}

impl TryFrom<SemanticUpdateRequest> for SemanticUpdate {
    type Error = ApiError;

    fn try_from(r: SemanticUpdateRequest) -> Result<Self, ApiError> {
        Ok(Self {
            db_config_id: connection_id(&r.db_management_id)?,
            description: r.description,
            tables: r
                .tables
                .into_iter()
                .map(|t| TablePatch {
                    name: t.name,
                    note: patch(t.display_name, t.description, t.synonyms),
                    columns: t
                        .columns
                        .into_iter()
                        .map(|c| ColumnPatch {
                            name: c.name,
                            note: patch(c.display_name, c.description, c.synonyms),
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}

impl SemanticView {
    /// The view of `s`; `default_schema` decides which names are shown bare.
    pub fn new(s: Semantics, default_schema: &str) -> Self {
        Self {
            db_management_id: s.db_config_id.to_string(),
            description: s.description,
            updated_at: s.updated_at,
            tables: s
                .tables
                .into_iter()
                .map(|t| {
                    let Note {
                        display_name,
                        description,
                        synonyms,
                    } = t.note;
                    TableNoteView {
                        name: if t.schema == default_schema {
                            t.table.clone()
                        } else {
                            format!("{}.{}", t.schema, t.table)
                        },
                        schema_name: t.schema,
                        table_name: t.table,
                        display_name,
                        description,
                        synonyms,
                        columns: t
                            .columns
                            .into_iter()
                            .map(|(name, n)| ColumnNoteView {
                                name,
                                display_name: n.display_name,
                                description: n.description,
                                synonyms: n.synonyms,
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}
