//! The OpenAPI description's frame (title, security); its paths come from the routes as
//! `app::api_routes` declares them. Served at `GET /api/openapi.json`, with Swagger UI at
//! `/api/docs` from assets compiled into the binary (no CDN).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

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
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "kenali_session",
                    "A dashboard session (`POST /api/auth/login`); `__Host-kenali_session` behind TLS. \
                     Requests that change anything also send its `X-CSRF-Token`.",
                ),
            )),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Kenali", description = "Identity verification: KTP capture, NIK, faces, liveness, step-up. \
        Conventions: SPEC §1 (camelCase JSON, RFC 3339 UTC times, errors as `{error: {...}}`)."),
    modifiers(&BearerKey),
    security(("apiKey" = [])),
    // Every operation's error answer; the routes name the body, not what it holds.
    components(schemas(ErrorBody, ErrorDetail)),
)]
pub struct ApiDoc;

/// `GET /api/openapi.json` (the description given) and Swagger UI under `/api/docs`.
pub fn router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::from(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
}
