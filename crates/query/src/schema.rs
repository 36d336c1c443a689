//! The JSON Schema of the arguments of `execute_query_safe`, as the tool's `inputSchema`.

use serde_json::{Value, json};

use crate::model::{MAX_LIST_ITEMS, MAX_ORDER_ITEMS, MAX_SELECT_ITEMS};

/// The seed's example, valid as written.
pub(crate) fn seed_example() -> Value {
    json!({"tableName": "users", "selectColumns": [{"field": "id"}, {"field": "name"}], "limit": 10})
}

/// The JSON Schema (draft 2020-12) of the arguments, with a short description on every property
/// for the agent that fills them in.
pub fn input_schema() -> Value {
    let scalar = json!(["string", "number", "boolean", "null"]);
    json!({
        "type": "object",
        "description": "A read of one table: which columns, which rows, in what order, how many. \
            Names are tables and columns as listed by the schema tools (case does not matter); \
            values are always sent as bound parameters, never as SQL text.",
        "properties": {
            "tableName": {
                "type": "string",
                "description": "The table to read: \"schema.table\", or a bare \"table\" (looked up in the database's default schema first)."
            },
            "alias": {
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$",
                "description": "A short name for the table, usable as a column prefix (\"u.id\"). Letters, digits and _."
            },
            "distinct": {
                "type": "boolean",
                "description": "Return identical rows only once (SELECT DISTINCT)."
            },
            "selectColumns": {
                "type": "array",
                "maxItems": MAX_SELECT_ITEMS,
                "items": {"$ref": "#/$defs/SelectItem"},
                "description": "The columns to return, in order. Absent or empty: every column of the table."
            },
            "where": {
                "type": "array",
                "items": {"$ref": "#/$defs/Condition"},
                "description": "Conditions the rows must meet, combined with AND; an item with \"or\": true is joined to the previous one with OR. AND binds tighter, as in SQL: [a, b, {c, or}] means (a AND b) OR c. Use a group for other bracketing."
            },
            "orderBy": {
                "type": "array",
                "maxItems": MAX_ORDER_ITEMS,
                "items": {"$ref": "#/$defs/OrderItem"},
                "description": "The sort order, most significant first."
            },
            "limit": {
                "type": "integer",
                "minimum": 0,
                "description": "Return at most this many rows. The server's row cap applies too; the result says when rows were left out."
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "Skip this many rows first (with orderBy, for stable pages)."
            }
        },
        "required": ["tableName"],
        "additionalProperties": false,
        "examples": [
            seed_example(),
            {
                "tableName": "public.orders",
                "alias": "o",
                "selectColumns": [{"field": "o.id"}, {"field": "o.total", "alias": "amount"}],
                "where": [
                    {"field": "status", "op": "in", "value": ["paid", "shipped"]},
                    {"group": [
                        {"field": "total", "op": ">=", "value": 100},
                        {"field": "note", "op": "contains", "value": "urgent", "or": true}
                    ]}
                ],
                "orderBy": [{"field": "created_at", "direction": "desc", "nulls": "last"}],
                "limit": 50
            }
        ],
        "$defs": {
            "SelectItem": {
                "type": "object",
                "description": "A column to return ({\"field\": \"name\"}), or a constant ({\"value\": 1}); give exactly one of field or value.",
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "A column name, optionally prefixed by the table alias or name: \"total\", \"o.total\"."
                    },
                    "value": {
                        "type": scalar,
                        "description": "A constant to return in every row."
                    },
                    "alias": {
                        "type": "string",
                        "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$",
                        "description": "The name of this column in the result. Letters, digits and _."
                    }
                },
                "additionalProperties": false
            },
            "Expression": {
                "type": "object",
                "description": "A column ({\"field\": \"total\"}) or a constant ({\"value\": 10}); give exactly one.",
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "A column name, optionally prefixed by the table alias or name."
                    },
                    "value": {
                        "type": scalar,
                        "description": "A constant."
                    }
                },
                "additionalProperties": false
            },
            "Condition": {
                "type": "object",
                "description": "A test on rows: {\"field\": \"status\", \"op\": \"=\", \"value\": \"paid\"}; or a bracketed list {\"group\": [Condition, ...]}. Either may carry \"or\" and \"not\".",
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "The column tested (optionally prefixed by the table alias). Give field or left."
                    },
                    "left": {
                        "$ref": "#/$defs/Expression",
                        "description": "What is tested, as an expression, instead of field."
                    },
                    "op": {
                        "type": "string",
                        "enum": [
                            "=", "<>", ">", ">=", "<", "<=", "eq", "ne", "gt", "gte", "lt", "lte",
                            "like", "notLike", "ilike", "startsWith", "endsWith", "contains",
                            "in", "notIn", "between", "notBetween", "isNull", "isNotNull"
                        ],
                        "description": "The comparison. like/notLike/ilike take a pattern (% any text, _ one character; ilike ignores case); startsWith/endsWith/contains take plain text; in/notIn take a list; between/notBetween take [low, high] (inclusive); isNull/isNotNull take no value. \"=\" with null means isNull."
                    },
                    "value": {
                        "type": ["string", "number", "boolean", "null", "array"],
                        "items": {
                            "type": ["string", "number", "boolean"],
                            "description": "One value of the list (not null)."
                        },
                        "maxItems": MAX_LIST_ITEMS,
                        "description": "What the field is compared with: one value, or a list for in/notIn ([a, b, ...]) and between/notBetween ([low, high])."
                    },
                    "otherField": {
                        "type": "string",
                        "description": "Another column to compare with, instead of value (comparisons and like only)."
                    },
                    "group": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/Condition"},
                        "description": "Conditions bracketed together, combined like where. A group takes no field, op or value."
                    },
                    "or": {
                        "type": "boolean",
                        "description": "Join this condition to the previous one with OR instead of AND."
                    },
                    "not": {
                        "type": "boolean",
                        "description": "Negate this condition (or group)."
                    }
                },
                "additionalProperties": false
            },
            "OrderItem": {
                "type": "object",
                "description": "A column to sort by.",
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "The column, optionally prefixed by the table alias. With distinct, it must be a selected column."
                    },
                    "direction": {
                        "type": "string",
                        "enum": ["asc", "desc"],
                        "description": "asc (the default) or desc."
                    },
                    "nulls": {
                        "type": "string",
                        "enum": ["first", "last"],
                        "description": "Where rows with null in this column go; the database's default when absent."
                    }
                },
                "required": ["field"],
                "additionalProperties": false
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Query;

    /// Every `properties` entry anywhere in `schema`, with its path.
    fn properties(schema: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (name, prop) in props {
                        out.push((format!("{path}.{name}"), prop.clone()));
                    }
                }
                for (key, value) in map {
                    properties(value, &format!("{path}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    properties(item, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_property_has_a_description() {
        let schema = input_schema();
        assert_eq!(schema["type"], "object");
        let mut all = Vec::new();
        properties(&schema, "", &mut all);
        assert!(all.len() > 20);
        for (path, prop) in all {
            let description = prop["description"].as_str().unwrap_or_default();
            assert!(description.len() > 10, "{path} has no description");
        }
    }

    #[test]
    fn every_reference_points_at_a_definition() {
        let text = input_schema().to_string();
        let defs = input_schema()["$defs"].clone();
        for part in text.split("\"#/$defs/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(defs.get(name).is_some(), "missing $defs/{name}");
        }
    }

    #[test]
    fn the_examples_parse() {
        let schema = input_schema();
        let examples = schema["examples"].as_array().unwrap();
        assert_eq!(examples[0], seed_example());
        for example in examples {
            Query::parse(example).unwrap();
        }
    }
}
