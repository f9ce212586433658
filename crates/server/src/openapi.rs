//! The OpenAPI description, generated from the handlers' `#[utoipa::path]` annotations and
//! the request and response types, served at `GET /api/openapi.json`; Swagger UI at
//! `/api/docs` from assets compiled into the binary (no CDN).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::state::AppState;

pub use crate::error::{ErrorBody, ErrorDetail, ErrorResponse};

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`qe_sk_...`) with the scope the operation names"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Kenali", description = "Identity verification: KTP capture, NIK, faces, liveness, step-up. \
        Conventions: SPEC §1 (camelCase JSON, RFC 3339 UTC times, errors as `{error: {...}}`)."),
    modifiers(&BearerKey),
    security(("apiKey" = [])),
    paths(
        api::health::healthz,
        api::customers::create,
        api::customers::list,
        api::customers::profile,
        api::customers::erase,
        api::kyc::show,
        api::kyc::upgrade,
        api::nik::validate_for_customer,
        api::nik::ingest_dukcapil,
        api::audit_log::tier_events,
        api::audit_log::list,
        api::webhooks::list,
        api::webhooks::create,
        api::webhooks::update,
        api::webhooks::delete,
        api::webhooks::test,
        api::webhooks::deliveries,
        api::webhooks::redeliver,
        api::search::search,
        api::export::customers_csv,
        api::export::verifications_csv,
        api::settings::show,
        api::settings::update,
        api::api_keys::list,
        api::api_keys::create,
        api::api_keys::revoke,
        api::api_keys::revoke_by_post,
        api::faces::face_match,
        api::liveness::face_challenge,
        api::liveness::face_liveness,
        api::liveness::step_up,
        api::faces::enrollments,
        api::ktp::ktp_challenge,
        api::ktp::ktp_capture,
        api::review::queue,
        api::review::decide,
        api::devices::register,
        api::devices::revoke,
        api::faces::attempts,
        api::faces::customer_attempts,
    )
)]
pub struct ApiDoc;

/// `GET /api/openapi.json` and Swagger UI under `/api/docs`.
pub fn router() -> Router<AppState> {
    Router::from(SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()))
}
