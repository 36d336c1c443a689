//! Adapter: the HTTP surface of Sluice on actix-web. Handlers extract, convert DTOs to domain
//! calls, and convert back; every error is RFC 9457 problem+json; the OpenAPI description is
//! generated from the same code with utoipa.

mod client;
mod dto;
mod dto_audit;
mod dto_db;
mod dto_keys;
mod dto_semantic;
mod extract;
mod metrics;
mod middleware;
mod openapi;
mod problem;
mod routes;
mod state;
mod trail;

pub use client::TrustedProxies;
pub use metrics::HttpStats;
pub use openapi::{ApiDoc, openapi_json};
pub use problem::{ApiError, Problem};
pub use state::{AppState, HttpSettings, ReadinessCheck, ReadinessReport};

/// Registers every route, the error and request-id middleware, and the API docs on an app.
pub fn configure(state: AppState) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
    routes::configure(state)
}

pub use middleware::{REQUEST_ID, RequestContext, request_context};
