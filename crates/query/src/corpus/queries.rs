//! Definitions of the golden tests of whole queries: joins, subqueries, CTEs and combined
//! queries.

use serde_json::json;

use super::{Definition, d};

pub(super) fn definitions() -> Vec<Definition> {
    vec![
        d(
            "an_inner_join_qualifies_every_column_with_its_alias",
            json!({
                "tableName": "orders",
                "alias": "o",
                "joins": [
                    {
                        "type": "inner",
                        "table": "users",
                        "alias": "u",
                        "on": [{"field": "o.customer_id", "op": "=", "otherField": "u.id"}]
                    }
                ],
                "selectColumns": [{"field": "o.id"}, {"field": "u.name"}, {"field": "total"}],
                "where": [{"field": "u.age", "op": ">=", "value": 18}]
            }),
        ),
        d(
            "join_types_render_as_written",
            json!({
                "tableName": "users",
                "alias": "u",
                "selectColumns": [{"field": "u.id"}, {"field": "o.id"}, {"field": "s.amount"}],
                "joins": [
                    {
                        "type": "left",
                        "table": "orders",
                        "alias": "o",
                        "on": [
                            {"field": "o.customer_id", "op": "=", "otherField": "u.id"},
                            {"field": "o.status", "op": "=", "value": "paid"}
                        ]
                    },
                    {
                        "type": "right",
                        "table": "sales.orders",
                        "alias": "s",
                        "on": [{"field": "s.id", "op": "=", "otherField": "o.id"}]
                    }
                ]
            }),
        ),
        d(
            "a_full_join_renders_on_postgres_and_sqlite",
            json!({
                "tableName": "orders",
                "alias": "o",
                "selectColumns": [{"field": "o.id"}, {"field": "s.amount"}],
                "joins": [
                    {
                        "type": "full",
                        "table": "sales.orders",
                        "alias": "s",
                        "on": [{"field": "s.id", "op": "=", "otherField": "o.id"}]
                    }
                ]
            }),
        ),
        d(
            "a_cross_join_takes_no_on",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "users.name"}, {"field": "amount"}],
                "joins": [{"type": "cross", "table": "sales.orders"}]
            }),
        ),
        d(
            "without_a_select_list_a_join_returns_every_column_of_every_table",
            json!({
                "tableName": "sales.orders",
                "joins": [{"table": "a.dup", "on": [{"field": "dup.id", "op": "=", "otherField": "orders.id"}]}]
            }),
        ),
        d(
            "a_subquery_join_reads_its_result_columns",
            json!({
                "tableName": "users",
                "alias": "u",
                "joins": [
                    {
                        "type": "left",
                        "alias": "t",
                        "subquery": {
                            "tableName": "orders",
                            "selectColumns": [
                                {"field": "customer_id"},
                                {"function": "sum", "args": [{"field": "total"}], "alias": "spent"}
                            ],
                            "groupBy": [{"field": "customer_id"}]
                        },
                        "on": [{"field": "t.customer_id", "op": "=", "otherField": "u.id"}]
                    }
                ],
                "selectColumns": [
                    {"field": "u.name"},
                    {"function": "coalesce", "args": [{"field": "t.spent"}, {"value": 0}], "alias": "spent"}
                ],
                "orderBy": [{"field": "spent", "direction": "desc"}]
            }),
        ),
        d(
            "a_table_joined_twice_needs_aliases",
            json!({
                "tableName": "orders",
                "alias": "o1",
                "joins": [
                    {
                        "table": "orders",
                        "alias": "o2",
                        "on": [
                            {"field": "o1.customer_id", "op": "=", "otherField": "o2.customer_id"},
                            {"left": {"field": "o1.id"}, "op": "<", "otherField": "o2.id"}
                        ]
                    }
                ],
                "selectColumns": [{"field": "o1.id"}, {"field": "o2.id"}]
            }),
        ),
        d(
            "scalar_subqueries_may_use_the_outer_row",
            json!({
                "tableName": "users",
                "alias": "u",
                "selectColumns": [
                    {"field": "name"},
                    {
                        "subquery": {
                            "tableName": "orders",
                            "selectColumns": [{"function": "count", "args": []}],
                            "where": [{"field": "customer_id", "op": "=", "otherField": "u.id"}]
                        },
                        "alias": "orders"
                    }
                ],
                "where": [
                    {
                        "field": "id",
                        "op": "=",
                        "subquery": {
                            "tableName": "orders",
                            "selectColumns": [{"function": "max", "args": [{"field": "customer_id"}]}]
                        },
                        "not": true
                    }
                ]
            }),
        ),
        d(
            "in_and_not_in_take_a_one_column_subquery",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "where": [
                    {
                        "field": "id",
                        "op": "in",
                        "subquery": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "customer_id"}],
                            "where": [{"field": "status", "op": "=", "value": "paid"}]
                        }
                    },
                    {
                        "field": "id",
                        "op": "notIn",
                        "subquery": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "customer_id"}],
                            "orderBy": [{"field": "total", "direction": "desc"}],
                            "limit": 1
                        }
                    }
                ]
            }),
        ),
        d(
            "exists_and_not_exists_may_be_correlated",
            json!({
                "tableName": "users",
                "alias": "u",
                "selectColumns": [{"field": "id"}],
                "where": [
                    {
                        "exists": {
                            "tableName": "orders",
                            "where": [{"field": "customer_id", "op": "=", "otherField": "u.id"}]
                        }
                    },
                    {
                        "exists": {
                            "tableName": "orders",
                            "alias": "o",
                            "where": [
                                {"field": "o.customer_id", "op": "=", "otherField": "u.id"},
                                {"field": "o.status", "op": "=", "value": "refund"}
                            ]
                        },
                        "not": true,
                        "or": true
                    }
                ]
            }),
        ),
        d(
            "groups_nest_with_subqueries_inside",
            json!({
                "tableName": "orders",
                "selectColumns": [{"field": "id"}],
                "where": [
                    {
                        "group": [
                            {"field": "status", "op": "=", "value": "paid"},
                            {
                                "group": [
                                    {
                                        "exists": {
                                            "tableName": "users",
                                            "where": [
                                                {"field": "id", "op": "=", "otherField": "orders.customer_id"},
                                                {"field": "age", "op": "<", "value": 18}
                                            ]
                                        }
                                    },
                                    {
                                        "field": "total",
                                        "op": ">",
                                        "subquery": {
                                            "tableName": "orders",
                                            "alias": "o2",
                                            "selectColumns": [{"function": "avg", "args": [{"field": "o2.total"}]}]
                                        }
                                    }
                                ],
                                "or": true
                            }
                        ],
                        "not": true
                    }
                ]
            }),
        ),
        d(
            "a_cte_is_read_by_name",
            json!({
                "with": [
                    {
                        "name": "paid",
                        "query": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "customer_id"}, {"field": "total"}],
                            "where": [{"field": "status", "op": "=", "value": "paid"}]
                        }
                    }
                ],
                "tableName": "paid",
                "selectColumns": [
                    {"field": "customer_id"},
                    {"function": "sum", "args": [{"field": "total"}], "alias": "spent"}
                ],
                "groupBy": [{"field": "customer_id"}]
            }),
        ),
        d(
            "ctes_read_earlier_ctes_and_join_tables",
            json!({
                "with": [
                    {
                        "name": "paid",
                        "query": {"tableName": "orders", "where": [{"field": "status", "op": "=", "value": "paid"}]}
                    },
                    {
                        "name": "per_customer",
                        "query": {
                            "tableName": "paid",
                            "selectColumns": [{"field": "customer_id"}, {"function": "count", "args": [], "alias": "n"}],
                            "groupBy": [{"field": "customer_id"}]
                        }
                    }
                ],
                "tableName": "users",
                "alias": "u",
                "joins": [
                    {
                        "table": "per_customer",
                        "alias": "p",
                        "on": [{"field": "p.customer_id", "op": "=", "otherField": "u.id"}]
                    }
                ],
                "selectColumns": [{"field": "u.name"}, {"field": "p.n"}]
            }),
        ),
        d(
            "a_cte_named_like_a_table_reads_the_table_in_its_body",
            json!({
                "with": [
                    {
                        "name": "users",
                        "query": {
                            "tableName": "users",
                            "selectColumns": [{"field": "id"}, {"field": "name"}],
                            "where": [{"field": "age", "op": ">=", "value": 18}]
                        }
                    }
                ],
                "tableName": "orders",
                "alias": "o",
                "selectColumns": [{"field": "o.id"}],
                "where": [
                    {
                        "exists": {
                            "tableName": "users",
                            "where": [{"field": "users.id", "op": "=", "otherField": "o.customer_id"}]
                        }
                    }
                ]
            }),
        ),
        d(
            "without_a_select_list_a_cte_has_its_source_columns",
            json!({
                "with": [{"name": "s", "query": {"tableName": "sales.orders"}}],
                "tableName": "s",
                "selectColumns": [{"field": "amount"}],
                "orderBy": [{"field": "s.id"}]
            }),
        ),
        d(
            "a_subquery_may_have_its_own_ctes_and_read_outer_ones",
            json!({
                "with": [
                    {
                        "name": "big",
                        "query": {"tableName": "orders", "where": [{"field": "total", "op": ">", "value": 50}]}
                    }
                ],
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "where": [
                    {
                        "field": "id",
                        "op": "in",
                        "subquery": {
                            "with": [
                                {
                                    "name": "ids",
                                    "query": {"tableName": "big", "selectColumns": [{"field": "customer_id"}]}
                                }
                            ],
                            "tableName": "ids"
                        }
                    }
                ]
            }),
        ),
        d(
            "combine_renders_every_set_operation",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "combine": [
                    {
                        "type": "union",
                        "query": {"tableName": "orders", "selectColumns": [{"field": "customer_id"}]}
                    },
                    {
                        "type": "unionAll",
                        "query": {"tableName": "sales.orders", "selectColumns": [{"field": "id"}]}
                    },
                    {"type": "except", "query": {"tableName": "a.dup"}}
                ]
            }),
        ),
        d(
            "intersect_after_union_wraps_the_left_side",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "combine": [
                    {
                        "type": "union",
                        "query": {"tableName": "orders", "selectColumns": [{"field": "customer_id"}]}
                    },
                    {
                        "type": "intersect",
                        "query": {"tableName": "sales.orders", "selectColumns": [{"field": "id"}]}
                    }
                ]
            }),
        ),
        d(
            "the_cap_applies_to_the_combined_result_whatever_the_operands_limits",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "limit": 5000,
                "combine": [
                    {
                        "type": "unionAll",
                        "query": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "customer_id"}],
                            "limit": 100000,
                            "offset": 1
                        }
                    }
                ]
            }),
        ),
        d(
            "an_ordered_combination_is_wrapped_and_ordered_by_result_columns",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}, {"field": "name", "alias": "label"}],
                "combine": [
                    {
                        "type": "union",
                        "query": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "id"}, {"field": "status"}],
                            "where": [{"field": "total", "op": ">", "value": 10}]
                        }
                    }
                ],
                "orderBy": [
                    {"field": "label", "nulls": "first"},
                    {"function": "length", "args": [{"field": "label"}], "direction": "desc"},
                    {"field": "id"}
                ],
                "limit": 3,
                "offset": 1
            }),
        ),
        d(
            "combine_shares_the_ctes_of_the_query",
            json!({
                "with": [
                    {
                        "name": "paid",
                        "query": {"tableName": "orders", "where": [{"field": "status", "op": "=", "value": "paid"}]}
                    }
                ],
                "tableName": "paid",
                "selectColumns": [{"field": "id"}],
                "combine": [
                    {
                        "type": "intersect",
                        "query": {"tableName": "paid", "selectColumns": [{"field": "customer_id"}]}
                    }
                ]
            }),
        ),
        d(
            "an_offset_without_limit_in_a_subquery",
            json!({
                "tableName": "users",
                "selectColumns": [{"field": "id"}],
                "where": [
                    {
                        "field": "id",
                        "op": "in",
                        "subquery": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "customer_id"}],
                            "orderBy": [{"field": "id"}],
                            "offset": 1
                        }
                    }
                ]
            }),
        ),
        d(
            "a_cte_joined_without_alias_is_named_by_its_name",
            json!({
                "with": [
                    {
                        "name": "big",
                        "query": {
                            "tableName": "orders",
                            "selectColumns": [{"field": "id"}, {"field": "customer_id"}],
                            "where": [{"field": "total", "op": ">", "value": 50}]
                        }
                    }
                ],
                "tableName": "users",
                "selectColumns": [{"field": "users.name"}, {"field": "big.id"}],
                "joins": [
                    {
                        "table": "big",
                        "on": [
                            {"field": "big.customer_id", "op": "=", "otherField": "users.id"},
                            {
                                "field": "big.id",
                                "op": "in",
                                "subquery": {"tableName": "sales.orders", "selectColumns": [{"field": "id"}]}
                            }
                        ]
                    }
                ]
            }),
        ),
    ]
}
