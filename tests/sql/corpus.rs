//! Every definition of the golden corpus, planned for each provider and run through its real
//! adapter: it executes without a database error, or it is refused as expected (a construct
//! the dialect lacks, or a table SQLite's one schema cannot hold); and the providers that ran
//! it return the same rows (see `compare`).

use db_configs::{Provider, ResultSet};
use query::{QueryErrorKind, corpus};

use crate::compare;
use crate::fixture::{self, SECRET_TOKEN, TestDb};

/// Definitions MySQL and MariaDB refuse as unsupported, with why.
const REFUSED_ON_MYSQL: &[(&str, &str)] = &[
    (
        "a_full_join_renders_on_postgres_and_sqlite",
        "no FULL JOIN in MySQL or MariaDB",
    ),
    (
        "a_subquery_may_have_its_own_ctes_and_read_outer_ones",
        "a WITH inside a subquery does not see the outer CTEs in MariaDB",
    ),
];

/// Definitions whose results legitimately differ between providers, with why. NULLs sort
/// alike everywhere (as the largest value, PostgreSQL's way, unless `nulls` says otherwise);
/// what is left: text sorts by the database's collation (MariaDB's default is
/// case-insensitive, PostgreSQL's here and SQLite's are not), and a MariaDB bug in windows.
const DIFFERENT_RESULTS: &[(&str, &str)] = &[
    (
        "window_functions_take_partition_and_order",
        "MariaDB 10.11 computes LAG(total) OVER (ORDER BY id) in the order of another window \
         (PARTITION BY customer_id ORDER BY id) when a third window orders on an IS NULL \
         term: lag differs on MariaDB only",
    ),
    (
        "an_ordered_combination_is_wrapped_and_ordered_by_result_columns",
        "order by a text label with limit/offset: 'dee' sorts before 'Eve' on MariaDB only",
    ),
];

/// What one provider made of one definition.
enum Outcome {
    Ran(ResultSet),
    Refused,
}

async fn run(
    db: &TestDb,
    name: &str,
    arguments: &serde_json::Value,
    reads_other_schemas: bool,
) -> Result<Outcome, String> {
    let granted: Vec<String> = corpus::granted_tables()
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    let plan = match db.plan(arguments) {
        Ok(plan) => plan,
        Err(e) => {
            let mysql = matches!(db.provider, Provider::Mysql | Provider::Mariadb);
            let expected = match e.kind() {
                QueryErrorKind::Unsupported => {
                    mysql && REFUSED_ON_MYSQL.iter().any(|(n, _)| *n == name)
                }
                QueryErrorKind::UnknownTable => {
                    db.provider == Provider::Sqlite && reads_other_schemas
                }
                _ => false,
            };
            return if expected {
                Ok(Outcome::Refused)
            } else {
                Err(format!("refused unexpectedly: {e}"))
            };
        }
    };
    if matches!(db.provider, Provider::Mysql | Provider::Mariadb)
        && REFUSED_ON_MYSQL.iter().any(|(n, _)| *n == name)
    {
        return Err(format!(
            "planned though listed as refused: {}",
            plan.statement.sql
        ));
    }
    for table in &plan.tables {
        let logical = db.logical_table(table);
        if !granted.contains(&logical) {
            return Err(format!("reads {logical}, outside the grant"));
        }
    }
    match db.read(&plan.statement).await {
        Ok(result) => {
            if result
                .rows
                .iter()
                .flatten()
                .any(|v| v.as_str().is_some_and(|s| s.contains(SECRET_TOKEN)))
            {
                return Err("returned the secret token".to_owned());
            }
            if result.truncated.is_some() {
                return Err("the result was cut".to_owned());
            }
            Ok(Outcome::Ran(result))
        }
        Err(e) => Err(format!(
            "{e}\n      SQL: {}\n      params: {:?}",
            plan.statement.sql, plan.statement.params
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_definition_runs_on_every_provider_or_is_refused_as_it_should() {
    let (pg, my, lite) = tokio::join!(fixture::postgres(), fixture::mysql(), fixture::sqlite());
    let dbs = [&pg, &my, &lite];
    let definitions = corpus::definitions();
    let mut failures = Vec::new();
    let mut differences = Vec::new();
    let mut ran = [0usize; 3];
    let mut refused = [0usize; 3];
    for def in &definitions {
        // PostgreSQL has every schema; whether a definition reads beyond `public` decides
        // whether SQLite (only `main`) can run it.
        let reads_other_schemas = pg
            .plan(&def.arguments)
            .map(|p| p.tables.iter().any(|t| !t.starts_with("public.")))
            .unwrap_or(false);
        let mut results: Vec<(&str, ResultSet)> = Vec::new();
        for (i, db) in dbs.iter().enumerate() {
            match run(db, &def.name, &def.arguments, reads_other_schemas).await {
                Ok(Outcome::Ran(result)) => {
                    ran[i] += 1;
                    results.push((db.label, result));
                }
                Ok(Outcome::Refused) => refused[i] += 1,
                Err(e) => failures.push(format!("{} on {}: {e}", def.name, db.label)),
            }
        }
        if let Some(((first, a), rest)) = results.split_first() {
            for (other, b) in rest {
                if let Some(d) = compare::difference(a, b) {
                    let explained = DIFFERENT_RESULTS.iter().any(|(n, _)| *n == def.name);
                    let line = format!("{}: {first} and {other} differ: {d}", def.name);
                    if explained {
                        eprintln!("(expected) {line}");
                    } else {
                        differences.push(line);
                    }
                }
            }
        }
    }
    for (i, db) in dbs.iter().enumerate() {
        eprintln!(
            "{} ({}): {} of {} definitions ran, {} refused as expected",
            db.label,
            db.version,
            ran[i],
            definitions.len(),
            refused[i]
        );
    }
    assert!(
        failures.is_empty() && differences.is_empty(),
        "{} failures:\n  {}\n{} differences:\n  {}",
        failures.len(),
        failures.join("\n  "),
        differences.len(),
        differences.join("\n  ")
    );
}
