//! The parsed query definition: what `execute_query_safe` asked for, checked for shape and
//! size but not yet against the schema snapshot.

use db_configs::SqlValue;

/// Conditions (groups included) in a query, at most.
pub const MAX_CONDITIONS: usize = 100;
/// How deeply groups of conditions may nest (the `where` list itself is level 1).
pub const MAX_DEPTH: usize = 8;
/// Items in `selectColumns`, at most.
pub const MAX_SELECT_ITEMS: usize = 100;
/// Items in `orderBy`, at most.
pub const MAX_ORDER_ITEMS: usize = 32;
/// Values in one `in` / `notIn` list, at most.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Bound values in a whole query, at most (databases cap statement parameters).
pub const MAX_VALUES: usize = 10_000;
/// The longest alias, in characters (PostgreSQL's identifier length).
pub const MAX_ALIAS_CHARS: usize = 63;
/// The largest `offset` (a signed 64-bit integer in every dialect).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// A parsed structured read: the arguments of `execute_query_safe` once their shape and size
/// are known to be right. [`crate::plan`] checks it against a [`crate::Catalog`] and renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) table: Name,
    pub(crate) alias: Option<String>,
    pub(crate) distinct: bool,
    /// Empty means every column of the table.
    pub(crate) select: Vec<SelectItem>,
    pub(crate) filter: Vec<Condition>,
    pub(crate) order_by: Vec<OrderItem>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
}

/// A name as the caller wrote it, with where it was written (for errors). Only ever matched
/// against catalog names, never put into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub text: String,
    pub path: String,
}

/// A value or column reference.
///
/// The next increment adds `Function`, `Operation`, `Case` and `Subquery` here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expression {
    /// `{"field": "x"}` or `{"field": "t.x"}`.
    Field(Name),
    /// `{"value": 42}`: always a bound parameter.
    Value(SqlValue),
}

/// One item of `selectColumns`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SelectItem {
    pub expr: Expression,
    pub alias: Option<String>,
}

/// One item of `orderBy`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderItem {
    pub expr: Expression,
    pub direction: Option<Direction>,
    pub nulls: Option<Nulls>,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nulls {
    First,
    Last,
}

/// One item of `where` (or of a group).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// Joined to the previous item with OR rather than AND.
    pub or: bool,
    /// Negated as a whole.
    pub not: bool,
    pub predicate: Predicate,
}

/// What a condition tests.
///
/// The next increment adds `InSubquery` and `Exists` here, and lets `Compare::right`, `Like`
/// patterns and `Between` bounds be any expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Predicate {
    /// `{"group": [Condition]}`: parenthesised.
    Group(Vec<Condition>),
    /// `=`, `<>`, `>`, `>=`, `<`, `<=` against a value or another column.
    Compare {
        left: Expression,
        op: CompareOp,
        right: Expression,
    },
    /// `isNull` / `isNotNull` (and `=` / `<>` with a null value).
    IsNull { operand: Expression, negated: bool },
    /// `like`, `notLike`, `ilike` with the caller's pattern (a text value or another column).
    Like {
        operand: Expression,
        kind: LikeKind,
        pattern: Expression,
    },
    /// `startsWith`, `endsWith`, `contains`: the text is matched literally (escaped).
    Match {
        operand: Expression,
        kind: MatchKind,
        text: String,
    },
    /// `in` / `notIn` a non-empty list of non-null values.
    In {
        operand: Expression,
        negated: bool,
        values: Vec<SqlValue>,
    },
    /// `between` / `notBetween` two non-null values, bounds included.
    Between {
        operand: Expression,
        negated: bool,
        low: SqlValue,
        high: SqlValue,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LikeKind {
    Like,
    NotLike,
    ILike,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchKind {
    StartsWith,
    EndsWith,
    Contains,
}
