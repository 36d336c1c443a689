//! Route table of the REST API.

pub(crate) mod auth;
pub(crate) mod health;

use actix_web::{HttpResponse, web};
use utoipa::OpenApi as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::problem::{problem, problem_response};
use crate::{ApiDoc, AppState};

pub(crate) fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state))
            .service(web::resource("/healthz").route(web::get().to(health::healthz)))
            .service(web::resource("/readyz").route(web::get().to(health::readyz)))
            .service(
                web::scope("/api/auth")
                    .service(web::resource("/first-run").route(web::get().to(auth::first_run)))
                    .service(web::resource("/sign-up").route(web::post().to(auth::sign_up)))
                    .service(web::resource("/sign-in").route(web::post().to(auth::sign_in)))
                    .service(web::resource("/refresh").route(web::post().to(auth::refresh)))
                    .service(web::resource("/sign-out").route(web::post().to(auth::sign_out)))
                    .service(web::resource("/me").route(web::get().to(auth::me)))
                    .service(
                        web::resource("/change-password")
                            .route(web::post().to(auth::change_password)),
                    ),
            )
            .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", ApiDoc::openapi()))
            .service(web::resource("/api/docs").route(web::get().to(docs_redirect)))
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
