//! The authentication-methods policy: read it, replace it whole, explain it for a user.

use super::auth::Caller;
use super::{ProblemDto, Text};
use crate::app::metadata::MetadataStatusDto;
use crate::app::policy::{
    self as app_policy, AppliedDto, ExplanationDto, Hypothesis, PolicyChange, PolicyDto,
};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keyfort_core::passkey::PasskeyType;
use keyfort_core::roles::AdminAction;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// The policy with its version (also the `ETag`).
#[utoipa::path(get, path = "/api/v1/admin/policies/authenticationMethods", tag = "policy",
    responses(
        (status = 200, body = PolicyDto, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn show(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.may(AdminAction::ReadPolicy)?;
    let dto = app_policy::show(&state.store, &state.derived().providers).await?;
    let etag =
        HeaderValue::from_str(&format!("\"{}\"", dto.version)).map_err(|_| ApiError::internal())?;
    Ok(([(header::ETAG, etag)], Json(dto)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReplaceQuery {
    /// Validate and report the difference; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// The version `If-Match` names (`"3"`, `W/"3"` or `3`), if the header is there.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_if_match",
            "If-Match must name a policy version, as the ETag gives it.",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse().map(Some).map_err(|_| bad())
}

/// Replaces the policy with a whole new document, validated whole before anything is
/// stored, made from `version` (and `If-Match`, when sent): 409 when another change came
/// first. Audited with before and after.
#[utoipa::path(put, path = "/api/v1/admin/policies/authenticationMethods", tag = "policy",
    params(ReplaceQuery, ("If-Match" = Option<String>, Header, description = "The version the change was made from, as the ETag gives it")),
    request_body = PolicyChange,
    responses(
        (status = 200, body = AppliedDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 409, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    super::ApiQuery(q): super::ApiQuery<ReplaceQuery>,
    headers: HeaderMap,
    Text(body): Text,
) -> Result<Json<AppliedDto>, ApiError> {
    caller.may(AdminAction::ManagePolicy)?;
    let expected = if_match(&headers)?;
    let change = app_policy::parse_change(&body)?;
    if expected.is_some_and(|v| v != change.version) {
        return Err(ApiError::bad_request(
            "version_mismatch",
            "If-Match and the body's version name different versions.",
        ));
    }
    let applied = app_policy::apply(
        &state.store,
        change.policy,
        Some(change.version),
        q.dry_run,
        &caller.actor(),
        now_ms(),
    )
    .await?;
    if !q.dry_run {
        // At once on this node; the others within the poll interval.
        state.refresh_policy().await?;
    }
    Ok(Json(applied))
}

/// A user, and optionally a hypothetical passkey, to explain the policy for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExplainRequest {
    username: String,
    /// A hypothetical passkey's AAGUID; the user's own passkeys when neither this nor
    /// `provider` is given.
    aaguid: Option<String>,
    /// Hypothetical passkeys of this provider (one per AAGUID the name stands for).
    #[schema(max_length = 256)]
    provider: Option<String>,
    /// `synced` when absent.
    passkey_type: Option<PasskeyType>,
    #[serde(default)]
    attested: bool,
}

/// Which methods apply to the user, which passkey profiles are in their scope, and for
/// each of their passkeys (or the hypothetical one) which profiles accept it and why each
/// other refuses.
#[utoipa::path(post, path = "/api/v1/admin/policies/authenticationMethods/explain", tag = "policy",
    request_body = ExplainRequest,
    responses(
        (status = 200, body = ExplanationDto),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
        (status = 404, body = ProblemDto), (status = 413, body = ProblemDto), (status = 415, body = ProblemDto),
    ))]
pub async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ExplainRequest>,
) -> Result<Json<ExplanationDto>, ApiError> {
    caller.may(AdminAction::ReadPolicy)?;
    let passkey_type = body.passkey_type.unwrap_or(PasskeyType::Synced);
    let derived = state.derived();
    let hypotheses = match (body.aaguid, body.provider) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "Give aaguid or provider, not both.",
            ));
        }
        (Some(raw), None) => vec![Hypothesis {
            aaguid: keyfort_core::policy::normalize_aaguid(&raw).ok_or_else(|| {
                ApiError::bad_request("invalid_aaguid", "aaguid is not an AAGUID (a UUID).")
            })?,
            passkey_type,
            attested: body.attested,
        }],
        (None, Some(name)) => {
            app_policy::provider_hypotheses(&derived.providers, &name, passkey_type, body.attested)?
        }
        (None, None) => Vec::new(),
    };
    Ok(Json(
        app_policy::explain(&state.store, &derived.providers, &body.username, hypotheses).await?,
    ))
}

/// The FIDO metadata (MDS3) in use: its edition, how many models it describes, whether a
/// refresh is overdue, and whether a reported model is refused at sign-in.
#[utoipa::path(get, path = "/api/v1/admin/metadata", tag = "policy",
    responses(
        (status = 200, body = MetadataStatusDto),
        (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn metadata(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MetadataStatusDto>, ApiError> {
    caller.may(AdminAction::ReadPolicy)?;
    Ok(Json(
        crate::app::metadata::status(
            &state.store,
            &state.metadata_root,
            state.refuse_reported_models,
            now_ms(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProviderQuery {
    /// Only names containing this (case does not matter).
    #[param(max_length = 256)]
    name: Option<String>,
}

/// A passkey provider name and the AAGUIDs it stands for.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDto {
    name: String,
    aaguids: Vec<String>,
}

/// The passkey provider names Keyfort knows, in name order: what a key restriction's
/// AAGUIDs are, and what to put in one for a product.
#[utoipa::path(get, path = "/api/v1/admin/passkeyProviders", tag = "policy", params(ProviderQuery),
    responses(
        (status = 200, body = Vec<ProviderDto>),
        (status = 400, body = ProblemDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
    ))]
pub async fn providers(
    State(state): State<AppState>,
    caller: Caller,
    super::ApiQuery(q): super::ApiQuery<ProviderQuery>,
) -> Result<Json<Vec<ProviderDto>>, ApiError> {
    caller.may(AdminAction::ReadPolicy)?;
    if q.name.as_ref().is_some_and(|w| w.chars().count() > 256) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "name is at most 256 characters.",
        ));
    }
    let derived = state.derived();
    Ok(Json(
        derived
            .providers
            .matching(q.name.as_deref())
            .map(|(n, ids)| ProviderDto {
                name: n.to_string(),
                aaguids: ids.to_vec(),
            })
            .collect(),
    ))
}
