//! Domain: the semantic layer. Administrators give a connection's tables and columns display
//! names, descriptions and synonyms, and the database a description; agents get them next to
//! the structure in `get_tables` and `get_columns`, and the database description as the
//! server's `instructions`. Comments written in the database itself serve as defaults.

mod error;
mod model;
mod ports;
mod service;

pub use error::{BoxError, FieldError, SemanticError};
pub use model::{
    ColumnPatch, Note, NoteChange, NotePatch, SemanticUpdate, Semantics, TableNotes, TablePatch,
};
pub use ports::SemanticRepository;
pub use service::{
    Document, MAX_COLUMNS_PER_TABLE, MAX_DESCRIPTION, MAX_DISPLAY_NAME, MAX_SYNONYM, MAX_SYNONYMS,
    MAX_TABLES_PER_UPDATE, SemanticService, check, resolve_table,
};
