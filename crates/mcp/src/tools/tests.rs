//! Unit tests of the tools against an in-memory grant (no database).

use super::definitions::{QUERY_EXAMPLE_FILTER, QUERY_EXAMPLE_JOIN};
use super::*;
use db_configs::{
    ColumnInfo, ConnectSpec, ConnectionReport, DbConfig, DbConfigId, ForeignKey, Location,
    Provider, RelationKind, SchemaListing, SchemaSnapshot, TableName, TargetDatabase, TargetError,
};
use keys::{KeyId, KeyLimits, McpKey, TablePattern};
use time::OffsetDateTime;

struct NoTarget;

#[async_trait::async_trait]
impl TargetDatabase for NoTarget {
    async fn test(
        &self,
        _: &ConnectSpec,
        _: Option<&TableName>,
    ) -> Result<ConnectionReport, TargetError> {
        Err(TargetError::Unsupported("no".into()))
    }
    async fn discover(&self, _: &ConnectSpec) -> Result<Vec<SchemaListing>, TargetError> {
        Err(TargetError::Unsupported("no".into()))
    }
    async fn introspect(&self, _: &ConnectSpec) -> Result<Vec<TableInfo>, TargetError> {
        Err(TargetError::Unsupported("no".into()))
    }
}

fn table(schema: &str, name: &str, fk_to: Option<&str>) -> TableInfo {
    TableInfo {
        schema: schema.into(),
        name: name.into(),
        kind: RelationKind::Table,
        comment: Some(format!("about {name}")),
        row_estimate: Some(10),
        columns: vec![ColumnInfo {
            name: "id".into(),
            data_type: "integer".into(),
            nullable: false,
            default: None,
            comment: None,
        }],
        primary_key: vec!["id".into()],
        foreign_keys: fk_to
            .map(|t| ForeignKey {
                name: "fk".into(),
                columns: vec!["id".into()],
                referenced_schema: schema.into(),
                referenced_table: t.into(),
                referenced_columns: vec!["id".into()],
            })
            .into_iter()
            .collect(),
    }
}

fn grant(whitelist: &[&str], allowed: &[&str]) -> Grant {
    grant_with(whitelist, allowed, |_| {})
}

fn grant_with(
    whitelist: &[&str],
    allowed: &[&str],
    describe: impl FnOnce(&mut Semantics),
) -> Grant {
    let now = OffsetDateTime::now_utc();
    let config = DbConfig {
        id: DbConfigId::new(),
        name: "shop".into(),
        description: None,
        provider: Provider::Sqlite,
        location: Location::File {
            path: "x.db".into(),
        },
        has_password: false,
        allowed_tables: allowed
            .iter()
            .map(|t| TableName::parse(t, "t").unwrap())
            .collect(),
        is_primary: false,
        is_active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        schema_refreshed_at: Some(now),
    };
    let reader = Reader {
        spec: ConnectSpec {
            provider: Provider::Sqlite,
            location: config.location.clone(),
            password: None,
            resolved: None,
            connect_timeout_secs: 1,
            pool_key: Some(config.id),
        },
        config,
        target: Arc::new(NoTarget),
        snapshot: Arc::new(SchemaSnapshot {
            tables: vec![
                table("main", "orders", Some("secrets")),
                table("main", "customers", None),
                table("main", "secrets", None),
                table("other", "orders", Some("customers")),
            ],
            refreshed_at: now,
        }),
    };
    let key = McpKey {
        id: KeyId::new(),
        name: "k".into(),
        prefix: "sluice_000000000000".into(),
        db_config_id: reader.config.id,
        allowed_tools: vec!["get_tables".into()],
        table_whitelist: whitelist
            .iter()
            .map(|t| TablePattern::parse(t, "w").unwrap())
            .collect(),
        limits: KeyLimits::default(),
        allowed_origins: vec![],
        is_active: true,
        created_at: now,
        updated_at: now,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    let stored = keys::StoredKey {
        key,
        hash: vec![],
        connection_usable: true,
    };
    let mut semantics = Semantics::empty(reader.config.id);
    describe(&mut semantics);
    Grant::new(Arc::new(stored), Arc::new(reader), Arc::new(semantics))
}

fn names(outcome: &ToolOutcome) -> Vec<String> {
    outcome.value().unwrap()["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qualifiedName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn discovery_shows_the_whitelist_within_the_connections_tables() {
    let g = grant(
        &["orders", "main.secrets"],
        &["main.orders", "main.customers"],
    );
    assert_eq!(names(&get_tables(&g, &Value::Null)), ["main.orders"]);
    let g = grant(&["*"], &[]);
    assert_eq!(
        names(&get_tables(&g, &json!({"schemaName": "OTHER"}))),
        ["other.orders"]
    );
    let schemas = get_schemas(&g, &json!({}));
    assert_eq!(
        schemas.value().unwrap()["schemas"],
        json!([{"name": "main", "tableCount": 3}, {"name": "other", "tableCount": 1}])
    );
}

#[test]
fn a_table_outside_the_grant_reads_like_one_that_does_not_exist() {
    let g = grant(&["main.orders"], &[]);
    let hidden = get_columns(&g, &json!({"tableName": "secrets"}));
    let missing = get_columns(&g, &json!({"tableName": "nothing"}));
    assert!(hidden.is_error && missing.is_error);
    assert_eq!(
        hidden.text.replace("secrets", "X"),
        missing.text.replace("nothing", "X")
    );
    let shown = get_columns(&g, &json!({"tableName": "main.orders"}));
    let value = shown.value().unwrap();
    assert_eq!(value["columns"][0]["primaryKey"], true);
    assert_eq!(
        value["foreignKeys"],
        json!([]),
        "a foreign key to a hidden table would reveal it"
    );
}

fn note(text: &str) -> Note {
    Note {
        display_name: Some(format!("{text} name")),
        description: Some(format!("{text} text")),
        synonyms: vec![format!("{text} word")],
    }
}

#[test]
fn notes_reach_visible_tables_only_and_database_comments_fill_the_gaps() {
    let g = grant_with(&["main.orders", "main.customers"], &[], |s| {
        for (table, text) in [("orders", "ORD"), ("secrets", "SECRET")] {
            s.tables.push(semantic::TableNotes {
                schema: "main".into(),
                table: table.into(),
                note: note(text),
                columns: vec![("id".into(), note(&format!("{text} id")))],
            });
        }
    });
    let tables = get_tables(&g, &json!({})).value().unwrap();
    let text = tables.to_string();
    assert!(
        !text.contains("SECRET") && !text.contains("secrets"),
        "nothing about a table outside the grant: {text}"
    );
    let by_name = |n: &str| {
        tables["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .unwrap()
            .clone()
    };
    let orders = by_name("orders");
    assert_eq!(orders["displayName"], "ORD name");
    assert_eq!(
        orders["description"], "ORD text",
        "the note wins over the comment"
    );
    assert_eq!(orders["synonyms"], json!(["ORD word"]));
    let customers = by_name("customers");
    assert_eq!(customers["displayName"], Value::Null);
    assert_eq!(
        customers["description"], "about customers",
        "the comment is the default"
    );
    assert_eq!(customers["synonyms"], json!([]));

    let cols = get_columns(&g, &json!({"tableName": "orders"}))
        .value()
        .unwrap();
    assert_eq!(cols["displayName"], "ORD name");
    assert_eq!(cols["columns"][0]["description"], "ORD id text");
    assert_eq!(cols["columns"][0]["synonyms"], json!(["ORD id word"]));
    let hidden = get_columns(&g, &json!({"tableName": "secrets"}));
    assert!(hidden.is_error && !hidden.text.contains("SECRET"));
}

#[test]
fn bad_arguments_are_errors_the_agent_can_fix() {
    let g = grant(&["*"], &[]);
    let e = get_tables(&g, &json!({"schema": "main"}));
    assert!(e.is_error && e.text.contains("schemaName"), "{}", e.text);
    let e = get_columns(&g, &json!({}));
    assert!(e.is_error && e.text.contains("tableName"), "{}", e.text);
    let e = get_tables(&g, &json!([1]));
    assert!(e.is_error);
}

#[test]
fn the_examples_the_description_teaches_plan_on_every_dialect() {
    let catalog = query::corpus::catalog();
    for example in [QUERY_EXAMPLE_FILTER, QUERY_EXAMPLE_JOIN] {
        let args: Value = serde_json::from_str(example).unwrap();
        let parsed = query::Query::parse(&args).unwrap();
        for provider in [Provider::Postgresql, Provider::Mysql, Provider::Sqlite] {
            let engine = query::Engine::from(provider);
            query::plan_for(&parsed, &catalog, &engine, 10)
                .unwrap_or_else(|e| panic!("{example} on {provider:?}: {e}"));
        }
    }
    let description = definition("execute_query_safe").unwrap()["description"].to_string();
    assert!(description.contains("spent"), "{description}");
}

#[test]
fn every_tool_is_described_and_read_only() {
    for name in keys::BUILTIN_TOOLS {
        let def = definition(name).unwrap();
        assert_eq!(def["name"], *name);
        assert!(def["description"].as_str().is_some_and(|d| d.len() > 20));
        assert_eq!(def["inputSchema"]["type"], "object");
        assert_eq!(def["outputSchema"]["type"], "object");
        assert_eq!(def["annotations"]["readOnlyHint"], true);
    }
    assert!(definition("drop_table").is_none());
}
