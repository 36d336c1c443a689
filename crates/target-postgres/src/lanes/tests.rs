//! How a statement comes to be taken for fast, and the bounds on what is kept.

use super::*;

fn lanes() -> Lanes {
    Lanes::new(tokio_postgres::Config::new(), None, 4)
}

#[test]
fn a_statement_is_fast_once_its_runs_were_and_not_after_a_slow_one() {
    let lanes = lanes();
    let sql = "SELECT 1";
    assert!(!lanes.is_fast(sql), "never run: not known to be fast");
    lanes.learn(sql, Duration::from_micros(200));
    assert!(lanes.is_fast(sql));
    lanes.learn(sql, Duration::from_millis(40));
    assert!(!lanes.is_fast(sql), "one slow run is enough to stop it");
    for _ in 0..20 {
        lanes.learn(sql, Duration::from_micros(200));
    }
    assert!(lanes.is_fast(sql), "fast again after many fast runs");
}

#[test]
fn long_statements_are_never_fast_and_the_times_kept_are_bounded() {
    let lanes = lanes();
    let long = format!("SELECT 1 /* {} */", "x".repeat(MAX_KNOWN_LEN));
    lanes.learn(&long, Duration::from_micros(100));
    assert!(!lanes.is_fast(&long));
    for i in 0..MAX_KNOWN + 10 {
        lanes.learn(&format!("SELECT {i}"), Duration::from_micros(100));
    }
    assert!(lock(&lanes.known).len() <= MAX_KNOWN);
}
