//! End-to-end tests of the REST API: a real server on port 0, a fresh metadata database per
//! test (cloned from a migrated template), real HTTP.

mod audit;
mod audit_filters;
mod audit_search;
mod audit_store;
mod auth;
mod cli;
mod db_configs;
mod db_targets;
mod errors;
mod fleet;
mod helpers;
mod mcp;
mod mcp_http;
mod mcp_keys;
mod mcp_providers;
mod metrics;
mod migrations;
mod operations;
mod providers;
mod semantic;
mod sessions;
