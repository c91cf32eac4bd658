//! Users, groups and memberships.

use super::auth::Caller;
use super::{ApiPath, ApiQuery, Created, ProblemDto};
use crate::app::directory::{self as dir, GroupListing, UserListing};
use crate::app::dto::{GroupDto, MembershipDto, Page, UserDetailDto, UserDto};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use keyfort_core::directory::UserDraft;
use keyfort_core::roles::AdminAction;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// From the previous page's `nextCursor`.
    cursor: Option<String>,
    /// Page size, 1–1000 (100 when absent).
    limit: Option<u32>,
    enabled: Option<bool>,
    /// Usernames starting with this.
    prefix: Option<String>,
}

/// A page of users, in username order.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "directory", params(UserQuery),
    responses(
        (status = 200, body = Page<UserDto>),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<Page<UserDto>>, ApiError> {
    caller.may(AdminAction::ReadDirectory)?;
    let listing = UserListing {
        cursor: q.cursor,
        limit: q.limit,
        enabled: q.enabled,
        username_prefix: q.prefix,
    };
    Ok(Json(dir::list_users(&state.store, &listing).await?))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUserDto {
    username: String,
    display_name: Option<String>,
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    employee_id: Option<String>,
    /// `member` (the default) or `external`.
    user_type: Option<String>,
    /// Free-form HR attributes.
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// Adds a user.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "directory", request_body = NewUserDto,
    responses(
        (status = 201, body = UserDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 409, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewUserDto>,
) -> Result<Created<UserDto>, ApiError> {
    caller.may(AdminAction::ManageDirectory)?;
    if let Some(k) = body.attributes.keys().find(|k| k.contains('=')) {
        return Err(ApiError::bad_request(
            "invalid_attribute",
            format!(
                "The attribute name `{}` contains `=`.",
                k.chars().take(64).collect::<String>()
            ),
        ));
    }
    let draft = UserDraft {
        username: body.username,
        display_name: body.display_name,
        email: body.email,
        given_name: body.given_name,
        family_name: body.family_name,
        employee_id: body.employee_id,
        user_type: body.user_type,
        attributes: body
            .attributes
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    };
    let user = dir::add_user(&state.store, &draft, &caller.actor(), now_ms()).await?;
    Ok(Created(user))
}

/// A user with their groups and methods (never a secret).
#[utoipa::path(get, path = "/api/v1/admin/users/{username}", tag = "directory",
    params(("username" = String, Path)),
    responses(
        (status = 200, body = UserDetailDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto),
    ))]
pub async fn show_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<UserDetailDto>, ApiError> {
    caller.may(AdminAction::ReadDirectory)?;
    caller.may(AdminAction::ReadMethods)?;
    Ok(Json(
        dir::show_user(
            &state.store,
            &state.derived().providers,
            &username,
            now_ms(),
        )
        .await?,
    ))
}

/// What may change on a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserChangeDto {
    /// `false` disables the account and ends its sessions.
    account_enabled: bool,
}

/// Enables or disables a user.
#[utoipa::path(patch, path = "/api/v1/admin/users/{username}", tag = "directory",
    params(("username" = String, Path)), request_body = UserChangeDto,
    responses(
        (status = 200, body = UserDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<UserChangeDto>,
) -> Result<Json<UserDto>, ApiError> {
    caller.may(AdminAction::ManageDirectory)?;
    let user = dir::set_enabled(
        &state.store,
        &username,
        body.account_enabled,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    Ok(Json(user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// From the previous page's `nextCursor`.
    cursor: Option<String>,
    /// Page size, 1–1000 (100 when absent).
    limit: Option<u32>,
    /// Names starting with this.
    prefix: Option<String>,
}

/// A page of groups, in name order.
#[utoipa::path(get, path = "/api/v1/admin/groups", tag = "directory", params(GroupQuery),
    responses(
        (status = 200, body = Page<GroupDto>),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> Result<Json<Page<GroupDto>>, ApiError> {
    caller.may(AdminAction::ReadDirectory)?;
    let listing = GroupListing {
        cursor: q.cursor,
        limit: q.limit,
        name_prefix: q.prefix,
    };
    Ok(Json(dir::list_groups(&state.store, &listing).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewGroupDto {
    name: String,
}

/// Adds a group.
#[utoipa::path(post, path = "/api/v1/admin/groups", tag = "directory", request_body = NewGroupDto,
    responses(
        (status = 201, body = GroupDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 409, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn add_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewGroupDto>,
) -> Result<Created<GroupDto>, ApiError> {
    caller.may(AdminAction::ManageDirectory)?;
    let group = dir::add_group(&state.store, &body.name, &caller.actor(), now_ms()).await?;
    Ok(Created(group))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMemberDto {
    username: String,
}

/// Adds a user to a group.
#[utoipa::path(post, path = "/api/v1/admin/groups/{name}/members", tag = "directory",
    params(("name" = String, Path)), request_body = NewMemberDto,
    responses(
        (status = 201, body = MembershipDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 409, body = ProblemDto), (status = 413, body = ProblemDto),
        (status = 415, body = ProblemDto),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<NewMemberDto>,
) -> Result<Created<MembershipDto>, ApiError> {
    caller.may(AdminAction::ManageDirectory)?;
    let m = dir::add_member(
        &state.store,
        &name,
        &body.username,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    Ok(Created(m))
}
