//! What administrators write about a connection's database, tables and columns.

use db_configs::DbConfigId;
use time::OffsetDateTime;

/// A name, a description and synonyms for a table or a column. Empty parts are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub synonyms: Vec<String>,
}

impl Note {
    /// Whether the note says nothing.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.description.is_none() && self.synonyms.is_empty()
    }
}

/// The notes on one table and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNotes {
    pub schema: String,
    pub table: String,
    /// About the table itself (may be empty when only columns are described).
    pub note: Note,
    /// About its columns, by column name, in name order.
    pub columns: Vec<(String, Note)>,
}

impl TableNotes {
    /// The note on a column, if any.
    pub fn column(&self, name: &str) -> Option<&Note> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, n)| n)
    }
}

/// Everything written about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semantics {
    pub db_config_id: DbConfigId,
    /// What the database as a whole is about; agents get it as the server's `instructions`.
    pub description: Option<String>,
    /// Described tables, by schema and name.
    pub tables: Vec<TableNotes>,
    /// When something was last written; `None` when nothing ever was.
    pub updated_at: Option<OffsetDateTime>,
}

impl Semantics {
    /// Nothing written about `db`.
    pub fn empty(db_config_id: DbConfigId) -> Self {
        Self {
            db_config_id,
            description: None,
            tables: Vec::new(),
            updated_at: None,
        }
    }

    /// The notes on `schema.table`, if any.
    pub fn table(&self, schema: &str, table: &str) -> Option<&TableNotes> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.table == table)
    }
}

/// A change to one part of a note: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotePatch {
    pub display_name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    /// Replaces the synonyms when present (an empty list clears them).
    pub synonyms: Option<Vec<String>>,
}

impl NotePatch {
    /// Whether the patch changes nothing.
    pub fn is_noop(&self) -> bool {
        self.display_name.is_none() && self.description.is_none() && self.synonyms.is_none()
    }
}

/// A change to a table named as the administrator wrote it (`table` or `schema.table`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TablePatch {
    pub name: String,
    pub note: NotePatch,
    pub columns: Vec<ColumnPatch>,
}

/// A change to a column of a [`TablePatch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnPatch {
    pub name: String,
    pub note: NotePatch,
}

/// `PUT /api/semantic`: upserts what it names and leaves the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemanticUpdate {
    pub db_config_id: DbConfigId,
    /// The database description: absent stays, `Some(None)` clears.
    pub description: Option<Option<String>>,
    pub tables: Vec<TablePatch>,
}

/// A checked change to one table (`column: None`) or column, resolved against the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteChange {
    pub schema: String,
    pub table: String,
    pub column: Option<String>,
    pub patch: NotePatch,
}
