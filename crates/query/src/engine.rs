//! The database a statement is rendered for: its dialect and, when known, its server version,
//! which decides the few constructs older servers lack.

use db_configs::Provider;

use crate::error::QueryError;
use crate::render::Dialect;

/// The target of a plan: a [`Dialect`] and, when known, the server's version. Without a
/// version a current server is assumed (PostgreSQL, MySQL 8.0.31 or later, MariaDB 10.3 or
/// later, SQLite 3.39 or later, as bundled with Sluice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    dialect: Dialect,
    mariadb: bool,
    version: Option<(u32, u32, u32)>,
}

/// A construct some servers lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    RightJoin,
    FullJoin,
    IntersectExcept,
    Cte,
    Window,
}

impl From<Dialect> for Engine {
    fn from(dialect: Dialect) -> Self {
        Self::new(dialect)
    }
}

impl From<Provider> for Engine {
    fn from(provider: Provider) -> Self {
        Self {
            mariadb: provider == Provider::Mariadb,
            ..Self::new(Dialect::from(provider))
        }
    }
}

impl Engine {
    /// A current server of `dialect`.
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            mariadb: false,
            version: None,
        }
    }

    /// The same engine, at the version the server reports (`SELECT version()`: `16.2`,
    /// `8.0.30`, `10.11.6-MariaDB`, `5.5.5-10.11.6-MariaDB-log`, `3.38.5`). A version that
    /// cannot be read leaves it unknown.
    pub fn with_server_version(mut self, version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            self.mariadb = true;
        }
        let text = if self.mariadb {
            version.strip_prefix("5.5.5-").unwrap_or(version)
        } else {
            version
        };
        self.version = parse_version(text);
        self
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn older_than(&self, major: u32, minor: u32, patch: u32) -> bool {
        self.version.is_some_and(|v| v < (major, minor, patch))
    }

    /// Whether SQLite is older than 3.30 (no FILTER, no NULLS FIRST/LAST).
    pub(crate) fn old_sqlite(&self) -> bool {
        self.dialect == Dialect::Sqlite && self.older_than(3, 30, 0)
    }

    /// Whether `ORDER BY ... NULLS FIRST|LAST` exists (not in MySQL, nor in SQLite before 3.30).
    pub(crate) fn has_nulls_order(&self) -> bool {
        self.dialect != Dialect::MySql && !self.old_sqlite()
    }

    /// Whether aggregates take `FILTER (WHERE ...)` (not in MySQL, nor in SQLite before 3.30).
    pub(crate) fn has_filter(&self) -> bool {
        self.has_nulls_order()
    }

    /// Refuses `feature` where this engine lacks it, saying what to do instead.
    pub(crate) fn require(&self, feature: Feature, path: &str) -> Result<(), QueryError> {
        let mysql = self.dialect == Dialect::MySql;
        let sqlite = self.dialect == Dialect::Sqlite;
        let maria = self.mariadb;
        let why = match feature {
            Feature::FullJoin if mysql => {
                "MySQL and MariaDB have no FULL JOIN; use a left join, and combine it (type union) with the same query using a right join"
            }
            Feature::FullJoin | Feature::RightJoin if sqlite && self.older_than(3, 39, 0) => {
                "this SQLite (older than 3.39) has no RIGHT or FULL JOIN; swap the tables and use a left join"
            }
            Feature::IntersectExcept if mysql && !maria && self.older_than(8, 0, 31) => {
                "this MySQL (older than 8.0.31) has no INTERSECT or EXCEPT; use a condition with exists (or not: true) instead"
            }
            Feature::IntersectExcept if mysql && maria && self.older_than(10, 3, 0) => {
                "this MariaDB (older than 10.3) has no INTERSECT or EXCEPT; use a condition with exists (or not: true) instead"
            }
            Feature::Cte | Feature::Window
                if mysql
                    && (if maria {
                        self.older_than(10, 2, 0)
                    } else {
                        self.older_than(8, 0, 0)
                    }) =>
            {
                "this MySQL/MariaDB (older than MySQL 8.0 or MariaDB 10.2) has no common table expressions or window functions"
            }
            Feature::Window if sqlite && self.older_than(3, 25, 0) => {
                "this SQLite (older than 3.25) has no window functions"
            }
            Feature::Cte if sqlite && self.older_than(3, 8, 3) => {
                "this SQLite (older than 3.8.3) has no common table expressions"
            }
            _ => return Ok(()),
        };
        Err(QueryError::unsupported(path, why))
    }
}

/// `major.minor.patch` from the first number in `text`.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut parts = text[start..]
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_servers_report() {
        assert_eq!(parse_version("16.2"), Some((16, 2, 0)));
        assert_eq!(
            parse_version("PostgreSQL 15.4 (Debian 15.4-1)"),
            Some((15, 4, 0))
        );
        assert_eq!(parse_version("8.0.30-log"), Some((8, 0, 30)));
        assert_eq!(parse_version("3.38.5"), Some((3, 38, 5)));
        assert_eq!(parse_version("unknown"), None);
        let maria = Engine::new(Dialect::MySql).with_server_version("5.5.5-10.11.6-MariaDB-log");
        assert!(maria.mariadb);
        assert_eq!(maria.version, Some((10, 11, 6)));
    }

    #[test]
    fn old_servers_lack_some_constructs_and_current_ones_do_not() {
        let old_mysql = Engine::new(Dialect::MySql).with_server_version("8.0.30");
        assert!(old_mysql.require(Feature::IntersectExcept, "p").is_err());
        assert!(old_mysql.require(Feature::Cte, "p").is_ok());
        let mysql = Engine::new(Dialect::MySql).with_server_version("8.4.0");
        assert!(mysql.require(Feature::IntersectExcept, "p").is_ok());
        assert!(mysql.require(Feature::FullJoin, "p").is_err());
        let maria = Engine::from(Provider::Mariadb).with_server_version("10.11.6-MariaDB");
        assert!(maria.require(Feature::IntersectExcept, "p").is_ok());
        let old_sqlite = Engine::new(Dialect::Sqlite).with_server_version("3.38.5");
        assert!(old_sqlite.require(Feature::RightJoin, "p").is_err());
        assert!(old_sqlite.has_filter());
        let older = Engine::new(Dialect::Sqlite).with_server_version("3.29.0");
        assert!(!older.has_filter() && !older.has_nulls_order());
        let sqlite = Engine::new(Dialect::Sqlite);
        assert!(sqlite.require(Feature::FullJoin, "p").is_ok());
        assert!(
            Engine::new(Dialect::Postgres)
                .require(Feature::FullJoin, "p")
                .is_ok()
        );
    }
}
