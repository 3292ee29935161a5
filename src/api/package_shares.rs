//! Packages by sharing token: `POST /api/package/1/flow/{flow}[/{version}]/share` issues a
//! token for the flow's package, `POST /api/package/1/shared/flow` imports it into the
//! caller's tenant (the package import's rule), and `DELETE /api/package/1/flow/{flow}/share`
//! (keyflow's extension; Boomi describes no revocation) revokes it, `…/shares` every one of
//! the flow. What a token shares, how long, and why one 404 answers every dead token:
//! `rules::shares`. The token travels only in bodies, never in a path or query, which the
//! log records.

use axum::Json;
use axum::extract::State;
use secrecy::ExposeSecret;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, NotFound};
use crate::api::flow_json::FlowResponse;
use crate::api::package_json::{
    PackageConflictResponse, PackageError, SharedPackageRequest, SharedPackageResponse,
    package_object,
};
use crate::api::packages::{ExportQuery, ImportQuery, flag, freeze, import_package};
use crate::domain::{FlowId, Timestamp, VersionId};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, Segment, TextQuery, path};
use crate::rules::RuleError;
use crate::rules::shares;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share_flow, revoke_share))
        .routes(routes!(share_flow_version))
        .routes(routes!(revoke_flow_shares))
        .routes(routes!(import_shared_flow))
}

/// A sharing token for the package of the flow's latest snapshot (its current version when
/// it has none), as the export would answer it now: the package is frozen at issue. Passwords
/// are blanked unless `nullPasswords=false`. The token works for 7 days, for any tenant.
#[utoipa::path(
    post,
    path = "/api/package/1/flow/{id}/share",
    tag = "Package",
    params(("id" = uuid::Uuid, Path, description = "The flow"), ExportQuery),
    responses(
        (status = 200, description = "The sharing token", body = SharedPackageResponse),
        NotFound, AuthErrors,
    )
)]
async fn share_flow(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
    TextQuery(query): TextQuery<ExportQuery>,
) -> Result<Json<SharedPackageResponse>, ApiError> {
    let flow = path(&id, FlowId::parse)?;
    share(&state, &principal, flow, None, query).await
}

/// A sharing token for the package of one version of the flow (a snapshot's `versionId`, or
/// the current one), frozen at issue. Passwords are blanked unless `nullPasswords=false`.
#[utoipa::path(
    post,
    path = "/api/package/1/flow/{id}/{version}/share",
    tag = "Package",
    params(
        ("id" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "A snapshot's versionId, or the current one"),
        ExportQuery,
    ),
    responses(
        (status = 200, description = "The sharing token", body = SharedPackageResponse),
        NotFound, AuthErrors,
    )
)]
async fn share_flow_version(
    State(state): State<AppState>,
    principal: Principal,
    Segment((id, version)): Segment<(String, String)>,
    TextQuery(query): TextQuery<ExportQuery>,
) -> Result<Json<SharedPackageResponse>, ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let version = path(&version, VersionId::parse)?;
    share(&state, &principal, flow, Some(version), query).await
}

/// Freezes the package the export would answer and issues its token. Sharing sends the
/// package out of the tenant, so passwords are blanked unless asked otherwise on both paths
/// (Boomi's description gives the parameter no default).
async fn share(
    state: &AppState,
    principal: &Principal,
    flow: FlowId,
    version: Option<VersionId>,
    query: ExportQuery,
) -> Result<Json<SharedPackageResponse>, ApiError> {
    let null_passwords = flag("nullPasswords", query.null_passwords.as_deref(), true)?;
    let tenant = principal.tenant_id;
    let frozen = freeze(state, tenant, flow, version, null_passwords).await?;
    let now = Timestamp::now();
    let token = shares::issue(&state.shares(), principal.user_id, tenant, frozen, now).await?;
    Ok(Json(SharedPackageResponse {
        token: token.expose_secret().to_string(),
    }))
}

/// The token of a request body: 422 without one. Any string is looked up, a blank one too: it
/// is simply no token keyflow issued (the same 404 as any other), as the description's string
/// type allows it.
fn token_of(request: &SharedPackageRequest) -> Result<&str, ApiError> {
    match request.token.as_deref() {
        Some(token) => Ok(token),
        None => Err(ApiError::Unprocessable(
            "token is required: the sharing token the flow's tenant was given".into(),
        )),
    }
}

/// Imports the package a sharing token names into the caller's tenant, as a package import
/// does (the same rules, flags and answers). An unknown, revoked or expired token is a 404.
#[utoipa::path(
    post,
    path = "/api/package/1/shared/flow",
    tag = "Package",
    params(ImportQuery),
    request_body(content = SharedPackageRequest, description = "The sharing token",
        content_type = "application/json"),
    responses(
        (status = 200, description = "The imported flow (the snapshot with isSnapshot)", body = FlowResponse),
        (status = 409, description = "Elements of the tenant differ from the package's", body = PackageConflictResponse),
        NotFound, BodyErrors, AuthErrors,
    )
)]
async fn import_shared_flow(
    State(state): State<AppState>,
    principal: Principal,
    TextQuery(query): TextQuery<ImportQuery>,
    JsonBody(request): JsonBody<SharedPackageRequest>,
) -> Result<Json<FlowResponse>, PackageError> {
    let flags = query.flags()?;
    let token = token_of(&request)?;
    let shared = shares::open(&state.shares(), token, Timestamp::now()).await?;
    let package = serde_json::from_str(&shared.package).map_err(|error| {
        RuleError::Internal(anyhow::Error::new(error).context("a shared package"))
    })?;
    let package = package_object(package)?;
    import_package(&state, &principal, &flags, &package).await
}

/// keyflow's extension: revokes one sharing token of the flow, named in the body (not the
/// path, which the log records). The flow's tenant only; 404 when the token is no share of
/// this flow.
#[utoipa::path(
    delete,
    path = "/api/package/1/flow/{id}/share",
    tag = "Package",
    params(("id" = uuid::Uuid, Path, description = "The flow")),
    request_body(content = SharedPackageRequest, description = "The sharing token to revoke",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Revoked: the token imports nothing any more"),
        NotFound, BodyErrors, AuthErrors,
    )
)]
async fn revoke_share(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
    JsonBody(request): JsonBody<SharedPackageRequest>,
) -> Result<(), ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let token = token_of(&request)?;
    let tenant = principal.tenant_id;
    shares::revoke(
        &state.shares(),
        principal.user_id,
        tenant,
        flow,
        Some(token),
    )
    .await?;
    Ok(())
}

/// keyflow's extension: revokes every sharing token of the flow (keyflow keeps no token, so
/// this is how a tenant that lost one ends it). The flow's tenant only.
#[utoipa::path(
    delete,
    path = "/api/package/1/flow/{id}/shares",
    tag = "Package",
    params(("id" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "Every token of the flow revoked"),
        NotFound, AuthErrors,
    )
)]
async fn revoke_flow_shares(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
) -> Result<(), ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let tenant = principal.tenant_id;
    shares::revoke(&state.shares(), principal.user_id, tenant, flow, None).await?;
    Ok(())
}
