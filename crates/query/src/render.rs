//! SQL text per dialect: identifier quoting, placeholders and the few constructs that differ.
//! The renderer only accepts fixed SQL text (`&'static str`), catalog identifiers and checked
//! aliases (quoted here), validated numbers and values (bound as parameters): caller text
//! cannot reach the SQL.

use std::fmt::Write as _;

use db_configs::{Provider, ReadStatement, SqlValue};

use crate::model::{MAX_PARAMETERS, MAX_STATEMENT_BYTES};

/// The SQL dialect a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL: `"x"` identifiers, `$1` placeholders.
    Postgres,
    /// MySQL and MariaDB: `` `x` `` identifiers, `?` placeholders.
    MySql,
    /// SQLite (3.30 or later): `"x"` identifiers, `?` placeholders.
    Sqlite,
}

impl From<Provider> for Dialect {
    fn from(provider: Provider) -> Self {
        match provider {
            Provider::Postgresql => Self::Postgres,
            Provider::Mysql | Provider::Mariadb => Self::MySql,
            Provider::Sqlite => Self::Sqlite,
        }
    }
}

impl Dialect {
    /// `name` as a quoted identifier: `"x"` with `"` doubled (PostgreSQL, SQLite), or
    /// `` `x` `` with `` ` `` doubled (MySQL).
    pub fn quote_identifier(self, name: &str) -> String {
        let mut out = String::with_capacity(name.len() + 2);
        self.push_identifier(&mut out, name);
        out
    }

    /// Appends `name` quoted, as [`Dialect::quote_identifier`] writes it, to `out`.
    fn push_identifier(self, out: &mut String, name: &str) {
        let quote = match self {
            Self::Postgres | Self::Sqlite => '"',
            Self::MySql => '`',
        };
        out.reserve(name.len() + 2);
        out.push(quote);
        for c in name.chars() {
            if c == quote {
                out.push(quote);
            }
            out.push(c);
        }
        out.push(quote);
    }
}

/// Builds one statement, or a fragment of one: SQL text and the parameters with where their
/// placeholders go. Placeholders are numbered when the statement is finished, so fragments
/// can be rendered apart (a join subquery before the select list that precedes it) and
/// appended in text order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Renderer {
    dialect: Dialect,
    sql: String,
    /// Byte offsets into `sql` where placeholders go, in order, with their values.
    params: Vec<(usize, SqlValue)>,
}

impl Renderer {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            sql: String::with_capacity(256),
            params: Vec::new(),
        }
    }

    /// Fixed SQL text: keywords and punctuation written in this crate.
    pub fn sql(&mut self, text: &'static str) {
        self.sql.push_str(text);
    }

    /// A whole number (LIMIT, OFFSET) from a validated integer.
    pub fn number(&mut self, n: u64) {
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "{n}");
    }

    /// A whole number from a validated integer constant (`round` digits, `substring` start).
    pub fn integer(&mut self, n: i64) {
        let _ = write!(self.sql, "{n}");
    }

    /// A catalog identifier or a checked alias, quoted.
    pub fn identifier(&mut self, name: &str) {
        self.dialect.push_identifier(&mut self.sql, name);
    }

    /// A bound value whose type the database infers from where it stands (next to a column).
    pub fn bind(&mut self, value: SqlValue) {
        self.params.push((self.sql.len(), value));
    }

    /// A bound value that nothing around it gives a type (a value compared with a value, a
    /// selected value). PostgreSQL receives parameters as text of an unknown type, so there
    /// the type comes from the JSON value; the other drivers send typed values.
    pub fn bind_typed(&mut self, value: SqlValue) {
        let type_name = match value {
            SqlValue::Int(_) => "BIGINT",
            SqlValue::Float(_) => "DOUBLE PRECISION",
            SqlValue::Bool(_) => "BOOLEAN",
            SqlValue::Text(_) | SqlValue::Null => "TEXT",
        };
        self.bind_cast(value, type_name);
    }

    /// A bound value used as text (the left side of LIKE): cast to TEXT on PostgreSQL.
    pub fn bind_text(&mut self, value: SqlValue) {
        self.bind_cast(value, "TEXT");
    }

    /// A bound value cast to `type_name` on PostgreSQL, plain elsewhere.
    pub fn bind_cast(&mut self, value: SqlValue, type_name: &'static str) {
        if self.dialect != Dialect::Postgres {
            return self.bind(value);
        }
        self.sql.push_str("CAST(");
        self.bind(value);
        self.sql.push_str(" AS ");
        self.sql.push_str(type_name);
        self.sql.push(')');
    }

    /// Appends a fragment rendered apart, for the same dialect.
    pub fn append(&mut self, fragment: &Renderer) {
        let shift = self.sql.len();
        self.sql.push_str(&fragment.sql);
        self.params.extend(
            fragment
                .params
                .iter()
                .map(|(at, value)| (at + shift, value.clone())),
        );
    }

    /// Whether the statement outgrew [`MAX_STATEMENT_BYTES`] or [`MAX_PARAMETERS`].
    pub fn too_large(&self) -> bool {
        self.sql.len() > MAX_STATEMENT_BYTES || self.params.len() > MAX_PARAMETERS
    }

    /// The statement: placeholders numbered in text order.
    pub fn finish(self) -> ReadStatement {
        let mut sql = String::with_capacity(self.sql.len() + 4 * self.params.len());
        let mut params = Vec::with_capacity(self.params.len());
        let mut from = 0;
        for (n, (at, value)) in self.params.into_iter().enumerate() {
            sql.push_str(&self.sql[from..at]);
            from = at;
            match self.dialect {
                Dialect::Postgres => {
                    let _ = write!(sql, "${}", n + 1);
                }
                Dialect::MySql | Dialect::Sqlite => sql.push('?'),
            }
            params.push(value);
        }
        sql.push_str(&self.sql[from..]);
        ReadStatement { sql, params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_the_quote_doubled() {
        assert_eq!(Dialect::Postgres.quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Sqlite.quote_identifier("x`y"), "\"x`y\"");
        assert_eq!(Dialect::MySql.quote_identifier("x`y"), "`x``y`");
        assert_eq!(Dialect::MySql.quote_identifier("a\"b"), "`a\"b`");
    }

    #[test]
    fn providers_map_to_dialects() {
        assert_eq!(Dialect::from(Provider::Postgresql), Dialect::Postgres);
        assert_eq!(Dialect::from(Provider::Mysql), Dialect::MySql);
        assert_eq!(Dialect::from(Provider::Mariadb), Dialect::MySql);
        assert_eq!(Dialect::from(Provider::Sqlite), Dialect::Sqlite);
    }

    #[test]
    fn placeholders_follow_the_dialect() {
        let mut pg = Renderer::new(Dialect::Postgres);
        pg.bind(SqlValue::Int(1));
        pg.sql(", ");
        pg.bind_typed(SqlValue::Bool(true));
        assert_eq!(pg.finish().sql, "$1, CAST($2 AS BOOLEAN)");
        let mut my = Renderer::new(Dialect::MySql);
        my.bind(SqlValue::Int(1));
        my.sql(", ");
        my.bind_typed(SqlValue::Bool(true));
        let statement = my.finish();
        assert_eq!(statement.sql, "?, ?");
        assert_eq!(
            statement.params,
            vec![SqlValue::Int(1), SqlValue::Bool(true)]
        );
    }

    #[test]
    fn fragments_are_numbered_where_they_are_appended() {
        let mut inner = Renderer::new(Dialect::Postgres);
        inner.sql("x = ");
        inner.bind(SqlValue::Int(2));
        let mut outer = Renderer::new(Dialect::Postgres);
        outer.bind(SqlValue::Int(1));
        outer.sql(" AND ");
        outer.append(&inner);
        outer.sql(" AND ");
        outer.append(&inner);
        let statement = outer.finish();
        assert_eq!(statement.sql, "$1 AND x = $2 AND x = $3");
        assert_eq!(
            statement.params,
            vec![SqlValue::Int(1), SqlValue::Int(2), SqlValue::Int(2)]
        );
    }
}
