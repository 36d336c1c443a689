//! Definitions of the golden tests of expressions: operations, case, functions, aggregates,
//! windows, grouping and ordering by expressions.

use serde_json::json;

use super::{Definition, d};

pub(super) fn definitions() -> Vec<Definition> {
    vec![
        d(
            "operations_are_parenthesised_and_values_typed_beside_columns",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"operation": "add", "left": {"field": "total"}, "right": {"value": 1}},
                    {"operation": "subtract", "left": {"value": 10}, "right": {"value": 3}, "alias": "seven"},
                    {
                        "operation": "multiply",
                        "left": {"operation": "divide", "left": {"field": "total"}, "right": {"value": 2}},
                        "right": {"field": "id"}
                    },
                    {"operation": "modulo", "left": {"field": "id"}, "right": {"value": 2}}
                ],
                "where": [
                    {
                        "left": {"operation": "multiply", "left": {"field": "total"}, "right": {"value": 1.1}},
                        "op": ">",
                        "value": 100
                    }
                ]
            }),
        ),
        d(
            "concat_operation_is_null_propagating_in_every_dialect",
            json!({
                "tableName": "users",
                "selectColumns": [
                    {
                        "operation": "concat",
                        "left": {"field": "name"},
                        "right": {"operation": "concat", "left": {"value": " #"}, "right": {"field": "id"}},
                        "alias": "label"
                    }
                ]
            }),
        ),
        d(
            "case_picks_the_first_branch_that_holds",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"field": "id"},
                    {
                        "case": [
                            {"when": [{"field": "total", "op": ">=", "value": 100}], "then": {"value": "big"}},
                            {"when": [{"field": "total", "op": "<", "value": 0}], "then": {"value": "refund"}}
                        ],
                        "else": {"value": "small"},
                        "alias": "size"
                    },
                    {"case": [{"when": [{"field": "note", "op": "isNull"}], "then": {"field": "status"}}]}
                ]
            }),
        ),
        d(
            "text_functions_render_per_dialect",
            json!({
                "tableName": "users",
                "selectColumns": [
                    {"function": "lower", "args": [{"field": "name"}]},
                    {"function": "upper", "args": [{"field": "email"}]},
                    {"function": "length", "args": [{"field": "name"}]},
                    {"function": "trim", "args": [{"field": "name"}]},
                    {"function": "substring", "args": [{"field": "name"}, {"value": 1}, {"value": 2}]},
                    {"function": "substring", "args": [{"field": "age"}, {"value": 2}]},
                    {"function": "concat", "args": [{"field": "name"}, {"value": " "}, {"field": "age"}]},
                    {"function": "length", "args": [{"field": "age"}]}
                ]
            }),
        ),
        d(
            "null_and_number_functions_render_per_dialect",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {
                        "function": "coalesce",
                        "args": [{"field": "note"}, {"field": "status"}, {"value": "none"}]
                    },
                    {"function": "nullif", "args": [{"field": "status"}, {"value": "paid"}]},
                    {"function": "abs", "args": [{"field": "total"}]},
                    {"function": "round", "args": [{"field": "total"}]},
                    {"function": "round", "args": [{"field": "total"}, {"value": 1}]},
                    {"function": "floor", "args": [{"field": "total"}]},
                    {"function": "ceil", "args": [{"field": "total"}]},
                    {"function": "current_date", "args": []}
                ]
            }),
        ),
        d(
            "date_trunc_is_native_on_postgres_and_emulated_elsewhere",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {
                        "function": "date_trunc",
                        "args": [{"value": "year"}, {"field": "created_at"}],
                        "alias": "year"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "quarter"}, {"field": "created_at"}],
                        "alias": "quarter"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "month"}, {"field": "created_at"}],
                        "alias": "month"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "week"}, {"field": "created_at"}],
                        "alias": "week"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "day"}, {"field": "created_at"}],
                        "alias": "day"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "hour"}, {"field": "created_at"}],
                        "alias": "hour"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "minute"}, {"field": "created_at"}],
                        "alias": "minute"
                    },
                    {
                        "function": "date_trunc",
                        "args": [{"value": "second"}, {"field": "created_at"}],
                        "alias": "second"
                    }
                ]
            }),
        ),
        d(
            "date_part_is_extract_on_postgres_and_mysql_and_strftime_on_sqlite",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {
                        "function": "date_part",
                        "args": [{"value": "year"}, {"field": "created_at"}],
                        "alias": "year"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "quarter"}, {"field": "created_at"}],
                        "alias": "quarter"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "month"}, {"field": "created_at"}],
                        "alias": "month"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "week"}, {"field": "created_at"}],
                        "alias": "week"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "day"}, {"field": "created_at"}],
                        "alias": "day"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "hour"}, {"field": "created_at"}],
                        "alias": "hour"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "minute"}, {"field": "created_at"}],
                        "alias": "minute"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "second"}, {"field": "created_at"}],
                        "alias": "second"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "dow"}, {"field": "created_at"}],
                        "alias": "dow"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "doy"}, {"field": "created_at"}],
                        "alias": "doy"
                    },
                    {
                        "function": "date_part",
                        "args": [{"value": "epoch"}, {"field": "created_at"}],
                        "alias": "epoch"
                    }
                ]
            }),
        ),
        d(
            "date_functions_take_values_as_timestamps",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "where": [
                    {
                        "left": {"function": "date_part", "args": ["year", {"field": "created_at"}]},
                        "op": "=",
                        "value": 2024
                    },
                    {
                        "left": {"function": "date_trunc", "args": ["month", {"value": "2024-03-15 10:00:00"}]},
                        "op": "<=",
                        "otherField": "created_at"
                    }
                ]
            }),
        ),
        d(
            "aggregates_take_distinct_and_filter",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"function": "count", "args": []},
                    {"function": "count", "args": [{"field": "note"}]},
                    {"function": "count", "args": [{"field": "customer_id"}], "distinct": true},
                    {"function": "sum", "args": [{"field": "total"}]},
                    {"function": "avg", "args": [{"field": "total"}]},
                    {"function": "min", "args": [{"field": "created_at"}]},
                    {"function": "max", "args": [{"field": "created_at"}]},
                    {
                        "function": "count",
                        "args": [],
                        "filter": [{"field": "status", "op": "=", "value": "paid"}],
                        "alias": "paid"
                    },
                    {
                        "function": "sum",
                        "args": [{"field": "total"}],
                        "filter": [
                            {"field": "status", "op": "=", "value": "paid"},
                            {"field": "total", "op": ">", "value": 100, "or": true}
                        ],
                        "alias": "paid_total"
                    },
                    {
                        "function": "count",
                        "args": [{"field": "customer_id"}],
                        "distinct": true,
                        "filter": [{"field": "status", "op": "<>", "value": "refund"}],
                        "alias": "buyers"
                    }
                ]
            }),
        ),
        d(
            "count_star_may_be_written_as_a_field",
            json!({
                "tableName": "orders",
                "selectColumns": [{"function": "count", "args": [{"field": "*"}]}]
            }),
        ),
        d(
            "window_functions_take_partition_and_order",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"field": "id"},
                    {
                        "function": "row_number",
                        "args": [],
                        "over": {
                            "partitionBy": [{"field": "customer_id"}],
                            "orderBy": [{"field": "created_at", "direction": "desc", "nulls": "last"}]
                        }
                    },
                    {
                        "function": "rank",
                        "args": [],
                        "over": {"orderBy": [{"field": "total", "direction": "desc"}]}
                    },
                    {"function": "dense_rank", "args": [], "over": {"orderBy": [{"field": "status"}]}},
                    {"function": "lag", "args": [{"field": "total"}], "over": {"orderBy": [{"field": "id"}]}},
                    {
                        "function": "lead",
                        "args": [{"field": "total"}, {"value": 2}, {"value": 0}],
                        "over": {"partitionBy": [{"field": "customer_id"}], "orderBy": [{"field": "id"}]}
                    },
                    {
                        "function": "sum",
                        "args": [{"field": "total"}],
                        "over": {"partitionBy": [{"field": "customer_id"}], "orderBy": [{"field": "id"}]},
                        "alias": "running"
                    },
                    {"function": "count", "args": [], "over": {}}
                ]
            }),
        ),
        d(
            "group_by_and_having_may_use_aggregates",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"field": "status"},
                    {"function": "count", "args": [], "alias": "n"},
                    {"function": "sum", "args": [{"field": "total"}], "alias": "revenue"}
                ],
                "groupBy": [{"field": "status"}],
                "having": [
                    {"left": {"function": "count", "args": []}, "op": ">", "value": 1},
                    {
                        "left": {"function": "sum", "args": [{"field": "total"}]},
                        "op": ">=",
                        "value": 10,
                        "or": true
                    }
                ],
                "orderBy": [
                    {"field": "revenue", "direction": "desc", "nulls": "first"},
                    {"function": "max", "args": [{"field": "id"}]}
                ]
            }),
        ),
        d(
            "group_by_a_select_alias_or_expression_uses_its_position",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"function": "date_trunc", "args": ["month", {"field": "created_at"}], "alias": "month"},
                    {
                        "case": [{"when": [{"field": "total", "op": ">=", "value": 100}], "then": {"value": "big"}}],
                        "else": {"value": "small"},
                        "alias": "size"
                    },
                    {"function": "count", "args": []}
                ],
                "groupBy": [
                    {"field": "month"},
                    {
                        "case": [{"when": [{"field": "total", "op": ">=", "value": 100}], "then": {"value": "big"}}],
                        "else": {"value": "small"}
                    }
                ],
                "orderBy": [
                    {"field": "month"},
                    {
                        "case": [{"when": [{"field": "total", "op": ">=", "value": 100}], "then": {"value": "big"}}],
                        "else": {"value": "small"},
                        "direction": "desc"
                    }
                ]
            }),
        ),
        d(
            "order_by_takes_expressions",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "orderBy": [
                    {"function": "length", "args": [{"field": "name"}], "direction": "desc"},
                    {
                        "operation": "subtract",
                        "left": {"value": 0},
                        "right": {"field": "age"},
                        "nulls": "last"
                    }
                ]
            }),
        ),
        d(
            "distinct_orders_by_selected_expressions",
            json!({
                "tableName": "users",
                "distinct": true,
                "selectColumns": [{"function": "lower", "args": [{"field": "name"}], "alias": "n"}],
                "orderBy": [{"function": "lower", "args": [{"field": "name"}]}, {"field": "n", "direction": "desc"}]
            }),
        ),
        d(
            "lag_and_lead_defaults_are_emulated_on_mysql",
            json!({
                "tableName": "orders",
                "selectColumns": [
                    {"field": "id"},
                    {
                        "function": "lag",
                        "args": [{"field": "total"}, {"value": 1}, {"value": -1}],
                        "over": {"partitionBy": [{"field": "customer_id"}], "orderBy": [{"field": "id"}]}
                    },
                    {
                        "function": "lead",
                        "args": [{"field": "id"}, {"value": 1}, {"value": 0}],
                        "over": {"orderBy": [{"field": "id", "direction": "desc"}]}
                    }
                ]
            }),
        ),
    ]
}
