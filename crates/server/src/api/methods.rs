//! Users' authentication methods.

use super::auth::Caller;
use super::{ApiPath, Created, ProblemDto};
use crate::app::directory::find_user;
use crate::app::dto::IssuedPassDto;
use crate::app::passes;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{AppState, now_ms};
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
    caller.may(AdminAction::ReadDirectory)?;
    let user = find_user(&state.store, &username).await?;
    let target = MethodsTarget {
        privileged: !state
            .store
            .roles_of(PrincipalKind::User, &user.id)
            .await?
            .is_empty(),
        is_caller: caller.kind == PrincipalKind::User && caller.id == user.id,
    };
    caller.may(AdminAction::ManageMethods(target))?;
    let issued = passes::issue_pass(
        &state.store,
        &user.username,
        body.lifetime_in_minutes,
        body.is_usable_once,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    Ok(Created(issued))
}
