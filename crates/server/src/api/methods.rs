//! Users' authentication methods.

use super::auth::Caller;
use super::{ApiPath, Created, ProblemDto};
use crate::app::directory::find_user;
use crate::app::dto::{IssuedPassDto, PassDto};
use crate::app::methods::{LegacyMethod, RemovedMethodDto};
use crate::app::passes::{self, RevokedPassDto};
use crate::app::passkeys::RemovedPasskeyDto;
use crate::app::passwords::{self, ImportFormat, PasswordImportDto, PasswordSetDto};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use keyfort_core::roles::{AdminAction, MethodsTarget, PrincipalKind};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPassDto {
    /// Minutes; the policy's default when absent.
    lifetime_in_minutes: Option<i64>,
    #[serde(default)]
    is_usable_once: bool,
}

/// Issues a Temporary Access Pass, replacing the user's previous one. The code is in this
/// answer only. Authentication administrators may issue passes to users without an
/// administrative role; privileged authentication administrators to anyone.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/temporaryAccessPass", tag = "methods",
    params(("username" = String, Path)), request_body = NewPassDto,
    responses(
        (status = 201, body = IssuedPassDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn issue_pass(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<NewPassDto>,
) -> Result<Created<IssuedPassDto>, ApiError> {
    let user = may_manage_methods_of(&state, &caller, &username).await?;
    let issued = passes::issue_pass(
        &state.store,
        &user,
        body.lifetime_in_minutes,
        body.is_usable_once,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    Ok(Created(issued))
}

/// Removes one of the user's passkeys: the sessions signed in with it end, and their
/// applications' tokens. Allowed to whoever may issue the user a pass.
#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/passkeys/{id}", tag = "methods",
    params(("username" = String, Path), ("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 200, body = RemovedPasskeyDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn remove_passkey(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((username, id)): ApiPath<(String, String)>,
) -> Result<Json<RemovedPasskeyDto>, ApiError> {
    let username = may_manage_methods_of(&state, &caller, &username).await?;
    Ok(Json(
        crate::app::passkeys::remove(&state.store, &username, &id, &caller.actor(), now_ms())
            .await?,
    ))
}

/// The user named `username`, when the caller may change their methods: a user who holds
/// an administrative role is privileged, and nobody changes their own.
async fn may_manage_methods_of(
    state: &AppState,
    caller: &Caller,
    username: &str,
) -> Result<String, ApiError> {
    caller.may(AdminAction::ReadDirectory)?;
    let user = find_user(&state.store, username).await?;
    let target = MethodsTarget {
        privileged: !state
            .store
            .roles_of(PrincipalKind::User, &user.id)
            .await?
            .is_empty(),
        is_caller: caller.kind == PrincipalKind::User && caller.id == user.id,
    };
    caller.may(AdminAction::ManageMethods(target))?;
    Ok(user.username)
}

/// The user's Temporary Access Pass as metadata: never the code, which exists only in the
/// answer that issued it. Every role may read it; the view is audited.
#[utoipa::path(get, path = "/api/v1/admin/users/{username}/temporaryAccessPass", tag = "methods",
    params(("username" = String, Path)),
    responses(
        (status = 200, body = PassDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn show_pass(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<PassDto>, ApiError> {
    caller.may(AdminAction::ReadMethods)?;
    Ok(Json(
        passes::show_pass(&state.store, &username, &caller.actor(), now_ms()).await?,
    ))
}

/// Revokes the user's Temporary Access Pass: the sessions signed in with a pass and their
/// applications' tokens end with it. Allowed to whoever may issue the user a pass.
#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/temporaryAccessPass", tag = "methods",
    params(("username" = String, Path)),
    responses(
        (status = 200, body = RevokedPassDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn revoke_pass(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<RevokedPassDto>, ApiError> {
    let user = may_manage_methods_of(&state, &caller, &username).await?;
    Ok(Json(
        passes::revoke_pass(&state.store, &user, &caller.actor(), now_ms()).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPasswordDto {
    /// At least 15 characters, at most 256; not the username.
    password: String,
}

/// Sets the user's password (stored as Argon2id), replacing any previous one; audited
/// without the password. Allowed to whoever may issue the user a pass.
#[utoipa::path(put, path = "/api/v1/admin/users/{username}/password", tag = "methods",
    params(("username" = String, Path)), request_body = NewPasswordDto,
    responses(
        (status = 200, body = PasswordSetDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<NewPasswordDto>,
) -> Result<Json<PasswordSetDto>, ApiError> {
    let user = may_manage_methods_of(&state, &caller, &username).await?;
    Ok(Json(
        passwords::set_password(
            &state.store,
            &user,
            body.password,
            &caller.actor(),
            now_ms(),
        )
        .await?,
    ))
}

/// Removes the user's password; audited. Allowed to whoever may issue the user a pass.
#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/password", tag = "methods",
    params(("username" = String, Path)),
    responses(
        (status = 200, body = RemovedMethodDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn remove_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<RemovedMethodDto>, ApiError> {
    let user = may_manage_methods_of(&state, &caller, &username).await?;
    Ok(Json(
        crate::app::methods::remove(
            &state.store,
            &user,
            LegacyMethod::Password,
            &caller.actor(),
            now_ms(),
        )
        .await?,
    ))
}

/// Removes the user's authenticator app; audited. Allowed to whoever may issue the user a
/// pass.
#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/authenticatorApp", tag = "methods",
    params(("username" = String, Path)),
    responses(
        (status = 200, body = RemovedMethodDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn remove_authenticator_app(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<RemovedMethodDto>, ApiError> {
    let user = may_manage_methods_of(&state, &caller, &username).await?;
    Ok(Json(
        crate::app::methods::remove(
            &state.store,
            &user,
            LegacyMethod::AuthenticatorApp,
            &caller.actor(),
            now_ms(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ImportFormatDto {
    /// One JSON object per line: `{"username": …, "passwordHash": …}`.
    Jsonl,
    /// A header naming `username` and `passwordHash`, then one user per row.
    Csv,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordImportRequestDto {
    format: ImportFormatDto,
    /// The file's text.
    content: String,
    /// Import the good lines and report the rest; otherwise one bad line imports nothing.
    #[serde(default)]
    continue_on_error: bool,
}

/// Imports existing Argon2 and bcrypt hashes (an organisation moving in), in one audited
/// transaction; every refused line is named by its number. A file may name anyone, so
/// this needs the right to manage privileged users' methods, and may not name the caller.
#[utoipa::path(post, path = "/api/v1/admin/passwordImports", tag = "methods",
    request_body = PasswordImportRequestDto,
    responses(
        (status = 200, body = PasswordImportDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn import_passwords(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordImportRequestDto>,
) -> Result<Json<PasswordImportDto>, ApiError> {
    caller.may(AdminAction::ReadDirectory)?;
    caller.may(AdminAction::ManageMethods(MethodsTarget {
        privileged: true,
        is_caller: false,
    }))?;
    let format = match body.format {
        ImportFormatDto::Jsonl => ImportFormat::JsonLines,
        ImportFormatDto::Csv => ImportFormat::Csv,
    };
    if caller.kind == PrincipalKind::User
        && let Some(me) = state.store.user_by_id(&caller.id).await?
        && passwords::names_user(&body.content, format, &me.username)
    {
        return Err(ApiError::forbidden(
            "own_methods",
            "The file names you: nobody changes their own sign-in methods here.",
        ));
    }
    Ok(Json(
        passwords::import_passwords(
            &state.store,
            &body.content,
            format,
            body.continue_on_error,
            &caller.actor(),
            now_ms(),
            &|_, _| {},
        )
        .await?,
    ))
}
