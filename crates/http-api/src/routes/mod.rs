//! Route table of the REST API.

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod db_adhoc;
pub(crate) mod db_configs;
pub(crate) mod db_management;
pub(crate) mod health;
pub(crate) mod mcp;
pub(crate) mod mcp_keys;
pub(crate) mod semantic;

use actix_web::middleware::{Compress, from_fn};
use actix_web::{HttpResponse, web};
use utoipa::OpenApi as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::ApiError;
use crate::middleware::success_false_on_problems;
use crate::problem::{problem, problem_response};
use crate::{ApiDoc, AppState};

pub(crate) fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError::new(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("the query string is invalid: {err}"),
                )
                .into()
            }))
            // `/mcp` chooses whether to compress itself (only large results are worth it).
            .service(
                web::resource("/mcp")
                    .route(web::method(actix_web::http::Method::OPTIONS).to(mcp::preflight))
                    .route(web::route().to(mcp::endpoint)),
            )
            .service(
                web::scope("")
                    .wrap(Compress::default())
                    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
                    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
                    .service(
                        web::resource("/metrics").route(web::get().to(crate::metrics::metrics)),
                    )
                    .service(
                        web::scope("/api/auth")
                            .service(
                                web::resource("/first-run").route(web::get().to(auth::first_run)),
                            )
                            .service(web::resource("/sign-up").route(web::post().to(auth::sign_up)))
                            .service(web::resource("/sign-in").route(web::post().to(auth::sign_in)))
                            .service(web::resource("/refresh").route(web::post().to(auth::refresh)))
                            .service(
                                web::resource("/sign-out").route(web::post().to(auth::sign_out)),
                            )
                            .service(web::resource("/me").route(web::get().to(auth::me)))
                            .service(
                                web::resource("/change-password")
                                    .route(web::post().to(auth::change_password)),
                            ),
                    )
                    .service(
                        web::scope("/api/database-configs")
                            .wrap(from_fn(success_false_on_problems))
                            .service(
                                web::resource("")
                                    .route(web::get().to(db_configs::list))
                                    .route(web::post().to(db_configs::create)),
                            )
                            .service(
                                web::resource("/{id}")
                                    .route(web::get().to(db_configs::get))
                                    .route(web::patch().to(db_configs::update))
                                    .route(web::delete().to(db_configs::delete)),
                            )
                            .service(
                                web::resource("/{id}/refresh-schema")
                                    .route(web::post().to(db_configs::refresh_schema)),
                            )
                            .service(
                                web::resource("/{id}/freshness")
                                    .route(web::get().to(db_configs::freshness)),
                            ),
                    )
                    .service(
                        web::scope("/api/db")
                            .wrap(from_fn(success_false_on_problems))
                            .service(
                                web::resource("/test-postgres")
                                    .route(web::post().to(db_adhoc::test_postgres)),
                            )
                            .service(
                                web::resource("/test").route(web::post().to(db_adhoc::test_any)),
                            )
                            .service(
                                web::resource("/discover-postgres-schema")
                                    .route(web::post().to(db_adhoc::discover_postgres)),
                            )
                            .service(
                                web::resource("/discover")
                                    .route(web::post().to(db_adhoc::discover_any)),
                            ),
                    )
                    .service(
                        web::scope("/api/db-management")
                            .service(
                                web::resource("")
                                    .route(web::get().to(db_management::list))
                                    .route(web::post().to(db_management::create)),
                            )
                            .service(
                                web::resource("/{id}")
                                    .route(web::get().to(db_management::get))
                                    .route(web::put().to(db_management::replace))
                                    .route(web::delete().to(db_management::delete)),
                            )
                            .service(
                                web::resource("/{id}/test")
                                    .route(web::post().to(db_management::test)),
                            ),
                    )
                    .service(
                        web::scope("/api/mcp-keys")
                            .service(
                                web::resource("")
                                    .route(web::get().to(mcp_keys::list))
                                    .route(web::post().to(mcp_keys::issue)),
                            )
                            .service(
                                web::resource("/{id}")
                                    .route(web::get().to(mcp_keys::get))
                                    .route(web::patch().to(mcp_keys::update))
                                    .route(web::delete().to(mcp_keys::revoke)),
                            ),
                    )
                    .service(
                        web::scope("/api/audit")
                            .service(web::resource("").route(web::get().to(audit::list)))
                            .service(web::resource("/verify").route(web::get().to(audit::verify)))
                            .service(
                                web::resource("/daily-summary")
                                    .route(web::get().to(audit::daily_summary)),
                            )
                            .service(web::resource("/export").route(web::get().to(audit::export))),
                    )
                    .service(web::resource("/api/dashboard").route(web::get().to(audit::dashboard)))
                    .service(
                        web::resource("/api/semantic")
                            .route(web::get().to(semantic::get))
                            .route(web::put().to(semantic::update)),
                    )
                    .service(
                        SwaggerUi::new("/api/docs/{_:.*}")
                            .url("/api/openapi.json", ApiDoc::openapi()),
                    )
                    .service(web::resource("/api/docs").route(web::get().to(docs_redirect))),
            )
            .default_service(web::to(not_found));
    }
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/api/docs/"))
        .finish()
}

async fn not_found() -> HttpResponse {
    problem_response(&problem(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        "no resource at this path",
        None,
    ))
}
