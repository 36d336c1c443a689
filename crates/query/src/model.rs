//! The parsed query definition: what `execute_query_safe` asked for, checked for shape and
//! size but not yet against the schema snapshot.

use db_configs::SqlValue;

pub(crate) use crate::function::Function;

/// Conditions (groups included) in a whole query, subqueries and CTEs included, at most.
pub const MAX_CONDITIONS: usize = 100;
/// How deeply groups of conditions may nest (a condition list itself is level 1).
pub const MAX_DEPTH: usize = 8;
/// Items in one `selectColumns`, at most.
pub const MAX_SELECT_ITEMS: usize = 100;
/// Items in one `orderBy` (or a window's `orderBy`), at most.
pub const MAX_ORDER_ITEMS: usize = 32;
/// Items in one `groupBy` (or a window's `partitionBy`), at most.
pub const MAX_GROUP_ITEMS: usize = 32;
/// Values in one `in` / `notIn` list, at most.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Bound values in a whole query, at most (databases cap statement parameters).
pub const MAX_VALUES: usize = 10_000;
/// The longest alias, in characters (PostgreSQL's identifier length).
pub const MAX_ALIAS_CHARS: usize = 63;
/// The largest `offset` (a signed 64-bit integer in every dialect).
pub const MAX_OFFSET: u64 = i64::MAX as u64;
/// How deeply queries may nest: the main query is level 1, a subquery in it level 2...
pub const MAX_QUERY_DEPTH: usize = 5;
/// Queries inside the main one (subqueries, join subqueries, CTE bodies, combined queries), at
/// most.
pub const MAX_SUBQUERIES: usize = 32;
/// Joins in a whole query, subqueries included, at most.
pub const MAX_JOINS: usize = 16;

/// The size bounds an installation may tighten (never raise past the `MAX_*` constants):
/// how deeply queries nest, and how many joins, subqueries and conditions a whole query has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// See [`MAX_QUERY_DEPTH`].
    pub query_depth: usize,
    /// See [`MAX_JOINS`].
    pub joins: usize,
    /// See [`MAX_SUBQUERIES`].
    pub subqueries: usize,
    /// See [`MAX_CONDITIONS`].
    pub conditions: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            query_depth: MAX_QUERY_DEPTH,
            joins: MAX_JOINS,
            subqueries: MAX_SUBQUERIES,
            conditions: MAX_CONDITIONS,
        }
    }
}

impl Bounds {
    /// These bounds, each kept within its built-in maximum (and at least 1; 0 joins or
    /// subqueries stay 0).
    pub fn clamped(self) -> Self {
        Self {
            query_depth: self.query_depth.clamp(1, MAX_QUERY_DEPTH),
            joins: self.joins.min(MAX_JOINS),
            subqueries: self.subqueries.min(MAX_SUBQUERIES),
            conditions: self.conditions.min(MAX_CONDITIONS),
        }
    }
}
/// Items in one `with`, at most.
pub const MAX_CTES: usize = 16;
/// Items in one `combine`, at most.
pub const MAX_COMBINE: usize = 16;
/// Expressions (every field, value, function, operation, case and subquery) in a whole query,
/// at most.
pub const MAX_EXPRESSIONS: usize = 1000;
/// How deeply expressions may nest inside each other (a select item itself is level 1).
pub const MAX_EXPRESSION_DEPTH: usize = 16;
/// Arguments of one function call, and `when` branches of one case, at most.
pub const MAX_ARGS: usize = 32;
/// How deeply anything (queries, expressions, groups of conditions) may nest in total: keeps
/// parsing and planning recursion shallow whatever the shape.
pub const MAX_NESTING: usize = 32;
/// The longest statement rendered, in bytes (emulations may repeat an expression).
pub const MAX_STATEMENT_BYTES: usize = 1_000_000;
/// Parameters of a rendered statement, at most (SQLite's default limit; emulations may repeat
/// a value).
pub const MAX_PARAMETERS: usize = 32_766;

/// A parsed structured read: the arguments of `execute_query_safe` once their shape and size
/// are known to be right. [`crate::plan`] checks it against a [`crate::Catalog`] and renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Where this query is in the arguments: empty for the main query, like
    /// `joins[0].subquery` for a nested one.
    pub(crate) path: String,
    pub(crate) with: Vec<Cte>,
    /// The main table, or a CTE name.
    pub(crate) table: Name,
    pub(crate) alias: Option<String>,
    pub(crate) distinct: bool,
    /// Empty means every column of every table of the query.
    pub(crate) select: Vec<SelectItem>,
    pub(crate) joins: Vec<Join>,
    pub(crate) filter: Vec<Condition>,
    pub(crate) group_by: Vec<Expression>,
    pub(crate) having: Vec<Condition>,
    /// With `combine`: the order of the combined result.
    pub(crate) order_by: Vec<OrderItem>,
    /// With `combine`: the limit of the combined result.
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    pub(crate) combine: Vec<Combine>,
}

/// A name as the caller wrote it, with where it was written (for errors). Only ever matched
/// against catalog names, never put into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub text: String,
    pub path: String,
}

/// One item of `with`: a common table expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cte {
    /// A plain identifier (checked), unique in its `with`.
    pub name: String,
    pub query: Query,
    pub path: String,
}

/// One item of `combine`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Combine {
    pub op: SetOp,
    pub query: Query,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Union,
    UnionAll,
    Intersect,
    Except,
}

impl SetOp {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Union => " UNION ",
            Self::UnionAll => " UNION ALL ",
            Self::Intersect => " INTERSECT ",
            Self::Except => " EXCEPT ",
        }
    }
}

/// One item of `joins`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Join {
    pub kind: JoinKind,
    pub source: JoinSource,
    /// Required for a subquery.
    pub alias: Option<String>,
    /// Empty only for a cross join.
    pub on: Vec<Condition>,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JoinSource {
    /// A table or a CTE name.
    Table(Name),
    Subquery(Box<Query>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
}

impl JoinKind {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Inner => " INNER JOIN ",
            Self::Left => " LEFT JOIN ",
            Self::Right => " RIGHT JOIN ",
            Self::Full => " FULL JOIN ",
            Self::Cross => " CROSS JOIN ",
        }
    }
}

/// A value: a column, a constant, or computed from others.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expression {
    /// `{"field": "x"}` or `{"field": "t.x"}`.
    Field(Name),
    /// `{"value": 42}`: always a bound parameter.
    Value(SqlValue),
    /// `{"function": "sum", "args": [...], ...}`: a function of the allow-list.
    Function(Box<Call>),
    /// `{"operation": "add", "left": ..., "right": ...}`.
    Operation(Box<Operation>),
    /// `{"case": [{"when": [...], "then": ...}], "else": ...}`.
    Case(Box<Case>),
    /// `{"subquery": Query}`: a scalar subquery (one column, at most one row).
    Subquery(Box<Query>),
}

/// A call of a function from the allow-list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub function: Function,
    /// The unit of `date_trunc` and `date_part` (their first argument).
    pub unit: Option<DateUnit>,
    /// The arguments, the unit left out; empty for `count(*)`.
    pub args: Vec<Expression>,
    /// `count(distinct x)`: aggregates only.
    pub distinct: bool,
    /// `sum(x) FILTER (WHERE ...)`: aggregates only.
    pub filter: Vec<Condition>,
    /// A window: required for window functions, allowed for aggregates.
    pub over: Option<Window>,
    /// Where the call is, like `selectColumns[0]`.
    pub path: String,
}

/// `OVER (PARTITION BY ... ORDER BY ...)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    pub partition_by: Vec<Expression>,
    pub order_by: Vec<OrderItem>,
}

/// The units of `date_trunc` and `date_part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateUnit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    /// Day of the week, 0 = Sunday (`date_part` only).
    DayOfWeek,
    /// Day of the year, from 1 (`date_part` only).
    DayOfYear,
    /// Seconds since 1970-01-01 (`date_part` only).
    Epoch,
}

impl DateUnit {
    /// Every unit with its names, for parsing and for messages.
    pub const ALL: &[(Self, &'static str)] = &[
        (Self::Year, "year"),
        (Self::Quarter, "quarter"),
        (Self::Month, "month"),
        (Self::Week, "week"),
        (Self::Day, "day"),
        (Self::Hour, "hour"),
        (Self::Minute, "minute"),
        (Self::Second, "second"),
        (Self::DayOfWeek, "dow"),
        (Self::DayOfYear, "doy"),
        (Self::Epoch, "epoch"),
    ];

    /// Whether `date_trunc` takes this unit.
    pub fn truncates(self) -> bool {
        !matches!(self, Self::DayOfWeek | Self::DayOfYear | Self::Epoch)
    }
}

/// Arithmetic and concatenation of two expressions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub op: Operator,
    pub left: Expression,
    pub right: Expression,
    /// Where it is in the arguments.
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Concat,
}

impl Operator {
    /// Every operator with its name, for parsing and for messages.
    pub const ALL: &[(Self, &'static str)] = &[
        (Self::Add, "add"),
        (Self::Subtract, "subtract"),
        (Self::Multiply, "multiply"),
        (Self::Divide, "divide"),
        (Self::Modulo, "modulo"),
        (Self::Concat, "concat"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(op, _)| *op == self)
            .map_or("operation", |(_, name)| name)
    }
}

/// `CASE WHEN ... THEN ... ELSE ... END`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Case {
    pub branches: Vec<(Vec<Condition>, Expression)>,
    pub otherwise: Option<Expression>,
    /// Where it is in the arguments.
    pub path: String,
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

/// One item of `where`, `having`, `on`, a case's `when`, a filter (or of a group).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// Joined to the previous item with OR rather than AND.
    pub or: bool,
    /// Negated as a whole.
    pub not: bool,
    pub predicate: Predicate,
    /// Where it is in the arguments.
    pub path: String,
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Predicate {
    /// `{"group": [Condition]}`: parenthesised.
    Group(Vec<Condition>),
    /// `=`, `<>`, `>`, `>=`, `<`, `<=` against a value, another column or a scalar subquery.
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
    /// `in` / `notIn` the rows of a one-column subquery.
    InSubquery {
        operand: Expression,
        negated: bool,
        query: Box<Query>,
    },
    /// `{"exists": Query}`.
    Exists(Box<Query>),
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
