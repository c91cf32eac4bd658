//! Role assignments, registered applications and the logs.

use super::auth::Caller;
use super::{ApiPath, ApiQuery, Created, ProblemDto};
use crate::app::dto::{AuditDto, ClientDto, SignInDto};
use crate::app::roles::{self as app_roles, RoleAssignmentDto};
use crate::app::{clients, logs};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keyfort_core::roles::{AdminAction, PrincipalKind, Role};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Every role assignment.
#[utoipa::path(get, path = "/api/v1/admin/roleAssignments", tag = "roles",
    responses(
        (status = 200, body = Vec<RoleAssignmentDto>),
        (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RoleAssignmentDto>>, ApiError> {
    caller.may(AdminAction::ReadRoles)?;
    Ok(Json(app_roles::list(&state.store).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRoleAssignmentDto {
    role: Role,
    principal_type: PrincipalKind,
    /// The username, or the client id.
    principal: String,
}

/// Assigns a role to a person or an application.
#[utoipa::path(post, path = "/api/v1/admin/roleAssignments", tag = "roles",
    request_body = NewRoleAssignmentDto,
    responses(
        (status = 201, body = RoleAssignmentDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 409, body = ProblemDto), (status = 413, body = ProblemDto),
        (status = 415, body = ProblemDto),
    ))]
pub async fn assign_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewRoleAssignmentDto>,
) -> Result<Created<RoleAssignmentDto>, ApiError> {
    caller.may(AdminAction::ManageRoles)?;
    let a = app_roles::assign(
        &state.store,
        body.principal_type,
        &body.principal,
        body.role,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    Ok(Created(a))
}

/// Removes a role assignment.
#[utoipa::path(delete, path = "/api/v1/admin/roleAssignments/{principalType}/{principal}/{role}", tag = "roles",
    params(
        ("principalType" = PrincipalKind, Path),
        ("principal" = String, Path, description = "The username, or the client id"),
        ("role" = Role, Path),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 409, body = ProblemDto),
    ))]
pub async fn remove_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((kind, principal, role)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.may(AdminAction::ManageRoles)?;
    let kind = PrincipalKind::parse(&kind).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_principal_type",
            "The principal type is user or client.",
        )
    })?;
    let role = app_roles::parse_role(&role)?;
    app_roles::remove(
        &state.store,
        kind,
        &principal,
        role,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every registered application (never a secret).
#[utoipa::path(get, path = "/api/v1/admin/clients", tag = "clients",
    responses(
        (status = 200, body = Vec<ClientDto>),
        (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ClientDto>>, ApiError> {
    caller.may(AdminAction::ReadClients)?;
    Ok(Json(clients::list(&state.store).await?))
}

/// One registered application.
#[utoipa::path(get, path = "/api/v1/admin/clients/{clientId}", tag = "clients",
    params(("clientId" = String, Path)),
    responses(
        (status = 200, body = ClientDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn show_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientDto>, ApiError> {
    caller.may(AdminAction::ReadClients)?;
    Ok(Json(clients::show(&state.store, &id).await?))
}

/// Removes an application registration (and its roles).
#[utoipa::path(delete, path = "/api/v1/admin/clients/{clientId}", tag = "clients",
    params(("clientId" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn remove_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.may(AdminAction::ManageClients)?;
    clients::remove(&state.store, &id, &caller.actor(), now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Newest first, 1–1000 rows (50 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

fn log_limit(q: &LogQuery) -> Result<i64, ApiError> {
    keyfort_core::directory::log_limit(q.limit)
        .map_err(|r| ApiError::from(crate::app::AppError::Refused(r)))
}

/// Changes to the directory, credentials, roles and policy, newest first.
#[utoipa::path(get, path = "/api/v1/admin/auditLogs", tag = "logs", params(LogQuery),
    responses(
        (status = 200, body = Vec<AuditDto>),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Vec<AuditDto>>, ApiError> {
    caller.may(AdminAction::ReadLogs)?;
    Ok(Json(logs::audit(&state.store, log_limit(&q)?).await?))
}

/// Sign-in attempts, newest first.
#[utoipa::path(get, path = "/api/v1/admin/signIns", tag = "logs", params(LogQuery),
    responses(
        (status = 200, body = Vec<SignInDto>),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn sign_in_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Vec<SignInDto>>, ApiError> {
    caller.may(AdminAction::ReadLogs)?;
    Ok(Json(logs::signins(&state.store, log_limit(&q)?).await?))
}
