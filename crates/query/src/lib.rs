//! Domain: the structured read of `execute_query_safe` (docs/QUERY.md: joins, expressions,
//! allow-listed functions, grouping, subqueries, CTEs, combined queries). [`Query::parse`]
//! checks the JSON arguments' shape and size; [`plan`] resolves every table anywhere in the
//! query against the key's [`Catalog`] (CTE names are not tables), every column against its
//! source, and renders one read-only statement for a [`Dialect`] (or an [`Engine`] of known
//! version), values bound as parameters and the outermost LIMIT capped. No I/O.

mod catalog;
#[cfg(any(test, feature = "testing"))]
pub mod corpus;
mod engine;
mod error;
mod function;
mod model;
mod parse;
mod plan;
mod render;
mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod strategies;
#[cfg(test)]
mod tests;

pub use catalog::Catalog;
pub use engine::Engine;
pub use error::{QueryError, QueryErrorKind};
pub use function::FUNCTIONS;
pub use model::{
    Bounds, MAX_ALIAS_CHARS, MAX_ARGS, MAX_COMBINE, MAX_CONDITIONS, MAX_CTES, MAX_DEPTH,
    MAX_EXPRESSION_DEPTH, MAX_EXPRESSIONS, MAX_GROUP_ITEMS, MAX_JOINS, MAX_LIST_ITEMS, MAX_NESTING,
    MAX_OFFSET, MAX_ORDER_ITEMS, MAX_PARAMETERS, MAX_QUERY_DEPTH, MAX_SELECT_ITEMS,
    MAX_STATEMENT_BYTES, MAX_SUBQUERIES, MAX_VALUES, Query,
};
pub use plan::{Plan, plan, plan_for};
pub use render::Dialect;
pub use schema::input_schema;

impl Query {
    /// Parses the arguments of `execute_query_safe`. Checks shape, types, operators, function
    /// names and arities, and size bounds (nesting included, so no JSON shape recurses deeply);
    /// table and column names are checked later, by [`plan`].
    ///
    /// `{"op": "=", "value": null}` means `IS NULL` (and `<>` null `IS NOT NULL`), since `=
    /// NULL` is never true in SQL; other operators refuse null, and so do `in` lists and
    /// `between` bounds.
    ///
    /// # Errors
    /// [`QueryErrorKind::Invalid`] for a wrong shape, type, operator, arity or alias, or an
    /// unknown field (naming the fields allowed there); [`QueryErrorKind::UnknownFunction`]
    /// for a function outside the allow-list (naming the allowed ones);
    /// [`QueryErrorKind::TooLarge`] when a bound is exceeded (the `MAX_*` constants).
    pub fn parse(arguments: &serde_json::Value) -> Result<Query, QueryError> {
        parse::parse_query(arguments, Bounds::default())
    }

    /// [`Query::parse`] within an installation's own (tighter) [`Bounds`].
    ///
    /// # Errors
    /// As [`Query::parse`].
    pub fn parse_within(
        arguments: &serde_json::Value,
        bounds: Bounds,
    ) -> Result<Query, QueryError> {
        parse::parse_query(arguments, bounds)
    }
}
