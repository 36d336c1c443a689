//! The function allow-list: the only functions a structured query can call, with their kind
//! and arity. Anything else is refused by name, whatever the database would do with it.

/// A function of the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Function {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Lower,
    Upper,
    Length,
    Trim,
    Substring,
    Concat,
    Coalesce,
    NullIf,
    Abs,
    Round,
    Floor,
    Ceil,
    DateTrunc,
    DatePart,
    CurrentDate,
    RowNumber,
    Rank,
    DenseRank,
    Lag,
    Lead,
}

/// What a function does with rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One value per group; takes `distinct`, `filter` and (as a window aggregate) `over`.
    Aggregate,
    /// One value per row.
    Scalar,
    /// One value per row, computed over a window: needs `over`.
    Window,
}

/// The names of the allowed functions, in the order the contract lists them.
pub const FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "lower",
    "upper",
    "length",
    "trim",
    "substring",
    "concat",
    "coalesce",
    "nullif",
    "abs",
    "round",
    "floor",
    "ceil",
    "date_trunc",
    "date_part",
    "current_date",
    "row_number",
    "rank",
    "dense_rank",
    "lag",
    "lead",
];

const ALL: &[Function] = &[
    Function::Count,
    Function::Sum,
    Function::Avg,
    Function::Min,
    Function::Max,
    Function::Lower,
    Function::Upper,
    Function::Length,
    Function::Trim,
    Function::Substring,
    Function::Concat,
    Function::Coalesce,
    Function::NullIf,
    Function::Abs,
    Function::Round,
    Function::Floor,
    Function::Ceil,
    Function::DateTrunc,
    Function::DatePart,
    Function::CurrentDate,
    Function::RowNumber,
    Function::Rank,
    Function::DenseRank,
    Function::Lag,
    Function::Lead,
];

/// Other spellings agents use for an allowed function.
const SYNONYMS: &[(&str, Function)] = &[
    ("substr", Function::Substring),
    ("charlength", Function::Length),
    ("ceiling", Function::Ceil),
    ("average", Function::Avg),
    ("datetrunc", Function::DateTrunc),
    ("datepart", Function::DatePart),
    ("extract", Function::DatePart),
    ("today", Function::CurrentDate),
    ("rownumber", Function::RowNumber),
    ("denserank", Function::DenseRank),
    ("currentdate", Function::CurrentDate),
];

impl Function {
    /// The function `text` names: an allowed name in any case, `_` optional, or a common
    /// synonym (`substr`, `ceiling`). Never anything outside [`FUNCTIONS`].
    pub fn parse(text: &str) -> Option<Self> {
        let norm: String = text
            .trim()
            .chars()
            .filter(|c| *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        ALL.iter()
            .copied()
            .find(|f| f.name().replace('_', "") == norm)
            .or_else(|| {
                SYNONYMS
                    .iter()
                    .find(|(name, _)| *name == norm)
                    .map(|(_, f)| *f)
            })
    }

    /// The name in the contract (`date_trunc`).
    pub fn name(self) -> &'static str {
        let i = ALL.iter().position(|f| *f == self).unwrap_or_default();
        FUNCTIONS[i]
    }

    pub fn kind(self) -> Kind {
        match self {
            Self::Count | Self::Sum | Self::Avg | Self::Min | Self::Max => Kind::Aggregate,
            Self::RowNumber | Self::Rank | Self::DenseRank | Self::Lag | Self::Lead => Kind::Window,
            _ => Kind::Scalar,
        }
    }

    /// How many arguments it takes (the unit of `date_trunc` / `date_part` included), at
    /// least and at most.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Self::Count => (0, 1),
            Self::Sum
            | Self::Avg
            | Self::Min
            | Self::Max
            | Self::Lower
            | Self::Upper
            | Self::Length
            | Self::Trim
            | Self::Abs
            | Self::Floor
            | Self::Ceil => (1, 1),
            Self::Substring => (2, 3),
            Self::Concat | Self::Coalesce => (1, crate::model::MAX_ARGS),
            Self::NullIf | Self::DateTrunc | Self::DatePart => (2, 2),
            Self::Round => (1, 2),
            Self::CurrentDate | Self::RowNumber | Self::Rank | Self::DenseRank => (0, 0),
            Self::Lag | Self::Lead => (1, 3),
        }
    }

    /// How it is called, for messages: `round(value, digits?)`.
    pub fn signature(self) -> &'static str {
        match self {
            Self::Count => "count() for rows, count(value) for non-null values",
            Self::Sum => "sum(value)",
            Self::Avg => "avg(value)",
            Self::Min => "min(value)",
            Self::Max => "max(value)",
            Self::Lower => "lower(text)",
            Self::Upper => "upper(text)",
            Self::Length => "length(text)",
            Self::Trim => "trim(text)",
            Self::Substring => {
                "substring(text, start, length?) with start from 1 and length whole numbers"
            }
            Self::Concat => "concat(value, value, ...)",
            Self::Coalesce => "coalesce(value, value, ...)",
            Self::NullIf => "nullif(value, other)",
            Self::Abs => "abs(number)",
            Self::Round => "round(number, digits?) with digits a whole-number value",
            Self::Floor => "floor(number)",
            Self::Ceil => "ceil(number)",
            Self::DateTrunc => {
                "date_trunc(unit, timestamp) with unit one of year, quarter, month, week, day, hour, minute, second"
            }
            Self::DatePart => {
                "date_part(unit, timestamp) with unit one of year, quarter, month, week, day, hour, minute, second, dow, doy, epoch"
            }
            Self::CurrentDate => "current_date()",
            Self::RowNumber => "row_number() with over",
            Self::Rank => "rank() with over",
            Self::DenseRank => "dense_rank() with over",
            Self::Lag => "lag(value, offset?, default?) with over; offset a whole-number value",
            Self::Lead => "lead(value, offset?, default?) with over; offset a whole-number value",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_its_name_and_only_those_names_parse() {
        assert_eq!(ALL.len(), FUNCTIONS.len());
        for (f, name) in ALL.iter().zip(FUNCTIONS) {
            assert_eq!(f.name(), *name);
            assert_eq!(Function::parse(name), Some(*f));
            assert_eq!(Function::parse(&name.to_uppercase()), Some(*f));
        }
        assert_eq!(Function::parse("DateTrunc"), Some(Function::DateTrunc));
        assert_eq!(Function::parse("SUBSTR"), Some(Function::Substring));
        assert_eq!(Function::parse(" Sum "), Some(Function::Sum));
        for denied in [
            "pg_read_file",
            "load_file",
            "set_config",
            "pg_sleep",
            "sleep",
            "dblink",
            "lo_export",
            "version",
            "",
            "count(*)",
            "pg_catalog.lower",
            "lower; select",
        ] {
            assert_eq!(Function::parse(denied), None, "{denied}");
        }
    }
}
