//! The admin API at `/api/v1/admin/…`: JSON over the application layer, so the CLI and
//! the API perform each operation through the same function. Callers authenticate with
//! a bearer access token ([`auth`]); each handler asks the caller's roles first, then
//! parses, calls the operation and answers its DTO. The OpenAPI 3.1 document at
//! `/api/v1/openapi.json` is generated from these handlers and their types.

pub mod auth;
mod directory;
mod methods;
mod policy;
mod service;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every failure of the admin API: a stable code and a human message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDto {
    /// Stable, for programs (`forbidden`, `version_conflict`, …).
    pub error: String,
    /// For people.
    pub message: String,
    /// When throttled: seconds to wait.
    pub retry_after_seconds: Option<i64>,
}

/// Query parameters whose every failure is an [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters whose every failure is an [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// A body read as text (JSON parsed by the operation, which names the field at fault).
pub struct Text(pub String);

impl<S: Send + Sync> FromRequest<S> for Text {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(crate::refusals::RequestRefusal::UnsupportedMediaType.into());
        }
        use crate::refusals::RequestRefusal;
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::from(RequestRefusal::PayloadTooLarge))?;
        String::from_utf8(bytes.to_vec())
            .map(Text)
            .map_err(|_| RequestRefusal::MalformedJson.into())
    }
}

/// 201 with the created resource.
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (axum::http::StatusCode::CREATED, Json(self.0)).into_response()
    }
}

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from Keyfort's token endpoint with the keyfort.admin \
                         scope: issued to a client that holds an administrative role (client \
                         credentials), or to a person signed in with a passkey through such \
                         a client (authorization code), who may then do what both their \
                         roles and the client's allow.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Keyfort admin API", version = "1"),
    paths(
        directory::list_users,
        directory::add_user,
        directory::show_user,
        directory::update_user,
        directory::list_groups,
        directory::add_group,
        directory::add_member,
        methods::issue_pass,
        methods::show_pass,
        methods::revoke_pass,
        methods::remove_passkey,
        methods::set_password,
        methods::remove_password,
        methods::remove_authenticator_app,
        methods::import_passwords,
        policy::show,
        policy::replace,
        policy::explain,
        policy::providers,
        policy::metadata,
        service::list_roles,
        service::assign_role,
        service::remove_role,
        service::list_clients,
        service::show_client,
        service::remove_client,
        service::audit_log,
        service::sign_in_log,
    ),
    components(schemas(ProblemDto)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags(
        (name = "directory", description = "Users, groups and memberships"),
        (name = "methods", description = "Users' authentication methods"),
        (name = "policy", description = "The authentication-methods policy"),
        (name = "roles", description = "Administrative role assignments"),
        (name = "clients", description = "Registered applications"),
        (name = "logs", description = "The audit and sign-in logs"),
    )
)]
pub struct AdminApi;

/// The OpenAPI document, as served.
pub fn openapi_json() -> String {
    AdminApi::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_string())
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json(),
    )
        .into_response()
}

pub fn router() -> Router<AppState> {
    const A: &str = "/api/v1/admin";
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            &format!("{A}/users"),
            get(directory::list_users).post(directory::add_user),
        )
        .route(
            &format!("{A}/users/{{username}}"),
            get(directory::show_user).patch(directory::update_user),
        )
        .route(
            &format!("{A}/users/{{username}}/temporaryAccessPass"),
            post(methods::issue_pass)
                .get(methods::show_pass)
                .delete(methods::revoke_pass),
        )
        .route(
            &format!("{A}/users/{{username}}/passkeys/{{id}}"),
            delete(methods::remove_passkey),
        )
        .route(
            &format!("{A}/users/{{username}}/password"),
            put(methods::set_password).delete(methods::remove_password),
        )
        .route(
            &format!("{A}/users/{{username}}/authenticatorApp"),
            delete(methods::remove_authenticator_app),
        )
        .route(
            &format!("{A}/passwordImports"),
            post(methods::import_passwords),
        )
        .route(
            &format!("{A}/groups"),
            get(directory::list_groups).post(directory::add_group),
        )
        .route(
            &format!("{A}/groups/{{name}}/members"),
            post(directory::add_member),
        )
        .route(
            &format!("{A}/policies/authenticationMethods"),
            get(policy::show).put(policy::replace),
        )
        .route(
            &format!("{A}/policies/authenticationMethods/explain"),
            post(policy::explain),
        )
        .route(&format!("{A}/passkeyProviders"), get(policy::providers))
        .route(&format!("{A}/metadata"), get(policy::metadata))
        .route(
            &format!("{A}/roleAssignments"),
            get(service::list_roles).post(service::assign_role),
        )
        .route(
            &format!("{A}/roleAssignments/{{principal_type}}/{{principal}}/{{role}}"),
            delete(service::remove_role),
        )
        .route(&format!("{A}/clients"), get(service::list_clients))
        .route(
            &format!("{A}/clients/{{client_id}}"),
            get(service::show_client).delete(service::remove_client),
        )
        .route(&format!("{A}/auditLogs"), get(service::audit_log))
        .route(&format!("{A}/signIns"), get(service::sign_in_log))
}
