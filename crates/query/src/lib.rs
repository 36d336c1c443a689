//! Domain: the structured read of `execute_query_safe`. [`Query::parse`] checks the JSON
//! arguments' shape and size; [`plan`] resolves every table and column against the key's
//! [`Catalog`] and renders one read-only statement for a [`Dialect`], values bound as
//! parameters. No I/O.

mod catalog;
mod error;
mod model;
mod parse;
mod plan;
mod render;
mod schema;
#[cfg(test)]
mod tests;

pub use catalog::Catalog;
pub use error::{QueryError, QueryErrorKind};
pub use model::{
    MAX_ALIAS_CHARS, MAX_CONDITIONS, MAX_DEPTH, MAX_LIST_ITEMS, MAX_OFFSET, MAX_ORDER_ITEMS,
    MAX_SELECT_ITEMS, MAX_VALUES, Query,
};
pub use plan::{Plan, plan};
pub use render::Dialect;
pub use schema::input_schema;

impl Query {
    /// Parses the arguments of `execute_query_safe`. Checks shape, types, operators and size
    /// bounds; names are checked later, by [`plan`].
    ///
    /// `{"op": "=", "value": null}` means `IS NULL` (and `<>` null `IS NOT NULL`), since `=
    /// NULL` is never true in SQL; other operators refuse null, and so do `in` lists and
    /// `between` bounds.
    ///
    /// # Errors
    /// [`QueryErrorKind::Invalid`] for a wrong shape, type, operator or alias, or an unknown
    /// field (naming the fields allowed there); [`QueryErrorKind::Unsupported`] for parts of
    /// the contract not supported yet (joins, groupBy, having, with, combine, function,
    /// operation, case and subquery expressions, subquery and exists conditions);
    /// [`QueryErrorKind::TooLarge`] when a bound is exceeded.
    pub fn parse(arguments: &serde_json::Value) -> Result<Query, QueryError> {
        parse::parse_query(arguments)
    }
}
