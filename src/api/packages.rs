//! Packages: `GET /api/package/1/flow/{id}[/{version}]` exports a flow with every element it
//! uses, `POST /api/package/1/flow` imports one (all or nothing), and
//! `GET`/`POST /api/package/1/tenant` back up and restore a whole tenant (its administrators
//! only). The format is in `api::package_json` and docs/API.md.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Forbidden, NotFound};
use crate::api::flow_json::FlowResponse;
use crate::api::package_json::{
    PackageBody, PackageConflictResponse, PackageError, elements_of, flow_package, flow_package_of,
    package_object, tenant_package,
};
use crate::domain::{FlowId, TenantId, VersionId};
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, Segment, TextQuery, path, path_bool};
use crate::http::{Administrator, Principal};
use crate::rules::shares::Frozen;
use crate::rules::{RuleError, packages, snapshots};
use crate::state::AppState;
use crate::store::{Activation, JsonObject};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_latest))
        .routes(routes!(export_version))
        .routes(routes!(import_flow))
        .routes(routes!(export_tenant, import_tenant))
}

/// `nullPasswords`.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// `true` blanks every password in the package (fields named like `password`, and the
    /// content of `ContentPassword` values).
    #[param(value_type = Option<bool>)]
    pub(crate) null_passwords: Option<String>,
}

/// A query flag: absent is `default`, else exactly `true` or `false` (400 otherwise).
pub(crate) fn flag(name: &str, text: Option<&str>, default: bool) -> Result<bool, ApiError> {
    text.map_or(Ok(default), |text| path_bool(name, text))
}

/// The package of a flow's latest snapshot (its current version when it has none), as a JSON
/// string holding the package.
#[utoipa::path(
    get,
    path = "/api/package/1/flow/{id}",
    tag = "Package",
    params(("id" = uuid::Uuid, Path, description = "The flow"), ExportQuery),
    responses(
        (status = 200, description = "The package, as a JSON string", body = String,
            content_type = "application/json"),
        NotFound, AuthErrors,
    )
)]
async fn export_latest(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
    TextQuery(query): TextQuery<ExportQuery>,
) -> Result<Json<String>, ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let null_passwords = flag("nullPasswords", query.null_passwords.as_deref(), false)?;
    export(&state, &principal, flow, None, null_passwords).await
}

/// The package of one version of a flow (a snapshot's, or the current version's), as a JSON
/// string holding the package. Passwords are blanked unless `nullPasswords=false`.
#[utoipa::path(
    get,
    path = "/api/package/1/flow/{id}/{version}",
    tag = "Package",
    params(
        ("id" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "A snapshot's versionId, or the current one"),
        ExportQuery,
    ),
    responses(
        (status = 200, description = "The package, as a JSON string", body = String,
            content_type = "application/json"),
        NotFound, AuthErrors,
    )
)]
async fn export_version(
    State(state): State<AppState>,
    principal: Principal,
    Segment((id, version)): Segment<(String, String)>,
    TextQuery(query): TextQuery<ExportQuery>,
) -> Result<Json<String>, ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let version = path(&version, VersionId::parse)?;
    let null_passwords = flag("nullPasswords", query.null_passwords.as_deref(), true)?;
    export(&state, &principal, flow, Some(version), null_passwords).await
}

async fn export(
    state: &AppState,
    principal: &Principal,
    flow: FlowId,
    version: Option<VersionId>,
    null_passwords: bool,
) -> Result<Json<String>, ApiError> {
    let frozen = freeze(state, principal.tenant_id, flow, version, null_passwords).await?;
    Ok(Json(frozen.package))
}

/// The flow package of `version` (the export's choice without one) as JSON text, with the
/// flow and version it holds: what an export answers, and what a sharing token shares.
pub(crate) async fn freeze(
    state: &AppState,
    tenant: TenantId,
    flow: FlowId,
    version: Option<VersionId>,
    null_passwords: bool,
) -> Result<Frozen, ApiError> {
    let (record, image) = packages::export_flow(&*state.store, tenant, flow, version).await?;
    let (flow, version) = (record.id, record.version_id);
    let package = flow_package(tenant, record, &image, null_passwords).to_string();
    Ok(Frozen {
        flow,
        version,
        package,
    })
}

/// The import's query (the package import's, and the import by sharing token's).
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportQuery {
    /// Snapshot the imported flow.
    #[param(value_type = Option<bool>)]
    is_snapshot: Option<String>,
    /// Activate that snapshot (with `isSnapshot`).
    #[param(value_type = Option<bool>)]
    is_active: Option<String>,
    /// Make it the default version (with `isSnapshot` and `isActive`).
    #[param(value_type = Option<bool>)]
    is_default: Option<String>,
    /// Replace the tenant's elements that differ from the package's (default true); with
    /// `false`, such elements refuse the import with a 409 `PackageConflictResponse`.
    #[param(value_type = Option<bool>)]
    overwrite_existing: Option<String>,
}

/// What an import's query asks for.
pub(crate) struct ImportFlags {
    is_snapshot: bool,
    is_active: bool,
    is_default: bool,
    overwrite: bool,
}

impl ImportQuery {
    /// The flags, each absent (its default) or exactly `true`/`false` (else 400).
    pub(crate) fn flags(&self) -> Result<ImportFlags, ApiError> {
        Ok(ImportFlags {
            is_snapshot: flag("isSnapshot", self.is_snapshot.as_deref(), false)?,
            is_active: flag("isActive", self.is_active.as_deref(), false)?,
            is_default: flag("isDefault", self.is_default.as_deref(), false)?,
            overwrite: flag(
                "overwriteExisting",
                self.overwrite_existing.as_deref(),
                true,
            )?,
        })
    }
}

/// Imports a flow package into the caller's tenant, all or nothing: the body is the JSON
/// string an export answers, or the package object. The flow keeps its id (overwriting the
/// tenant's flow with that id), unless another tenant holds it: then its id is UUID v5 of
/// (the tenant's id, the old id).
#[utoipa::path(
    post,
    path = "/api/package/1/flow",
    tag = "Package",
    params(ImportQuery),
    request_body(content = inline(PackageBody), description = "The package (a JSON string or object)",
        content_type = "application/json"),
    responses(
        (status = 200, description = "The imported flow (the snapshot with isSnapshot)", body = FlowResponse),
        (status = 409, description = "Elements of the tenant differ from the package's", body = PackageConflictResponse),
        NotFound, BodyErrors, AuthErrors,
    )
)]
async fn import_flow(
    State(state): State<AppState>,
    principal: Principal,
    TextQuery(query): TextQuery<ImportQuery>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<FlowResponse>, PackageError> {
    let flags = query.flags()?;
    let package = package_object(body)?;
    import_package(&state, &principal, &flags, &package).await
}

/// Imports one flow package into the caller's tenant as the flags ask: the package import's
/// rule ([`packages::import`]), then the snapshot and its activation.
pub(crate) async fn import_package(
    state: &AppState,
    principal: &Principal,
    flags: &ImportFlags,
    package: &JsonObject,
) -> Result<Json<FlowResponse>, PackageError> {
    let flow = flow_package_of(package, "", principal.user_id)?;
    let tenant = principal.tenant_id;
    let store = &*state.store;
    let written = packages::import(
        store,
        tenant,
        vec![flow],
        Vec::new(),
        flags.overwrite,
        principal.user_id,
    )
    .await?;
    let flow = written
        .into_iter()
        .next()
        .ok_or_else(|| RuleError::Internal(anyhow::anyhow!("an imported flow vanished")))?;
    if !flags.is_snapshot {
        return Ok(Json(flow.into()));
    }
    let snapshot = snapshots::take(store, tenant, flow.id, None).await?;
    if !flags.is_active {
        return Ok(Json(snapshot.into()));
    }
    let by = store.user(principal.user_id).await?.map(|user| user.email);
    let activation = Activation {
        is_active: flags.is_active,
        is_default: flags.is_default,
    };
    let activated = store
        .activate(
            tenant,
            flow.id,
            snapshot.version_id,
            activation,
            by.as_deref(),
        )
        .await?;
    Ok(Json(activated.into()))
}

/// A backup of the tenant: every flow (its current version, graph and uses) and every
/// element, as a JSON string holding the package. The tenant's administrators only.
#[utoipa::path(
    get,
    path = "/api/package/1/tenant",
    tag = "Package",
    params(ExportQuery),
    responses(
        (status = 200, description = "The package, as a JSON string", body = String,
            content_type = "application/json"),
        Forbidden, AuthErrors,
    )
)]
async fn export_tenant(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    TextQuery(query): TextQuery<ExportQuery>,
) -> Result<Json<String>, ApiError> {
    let null_passwords = flag("nullPasswords", query.null_passwords.as_deref(), false)?;
    let tenant = principal.tenant_id;
    let (flows, elements) = packages::export_tenant(&*state.store, tenant).await?;
    let package = tenant_package(tenant, flows, &elements, null_passwords);
    Ok(Json(package.to_string()))
}

/// Restores a tenant package into the caller's tenant, all or nothing: every element and every
/// flow is written (overwriting those with the same ids). The tenant's administrators only.
#[utoipa::path(
    post,
    path = "/api/package/1/tenant",
    tag = "Package",
    request_body(content = inline(PackageBody), description = "The package (a JSON string or object)",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Imported"),
        Forbidden, BodyErrors, AuthErrors,
    )
)]
async fn import_tenant(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    JsonBody(body): JsonBody<Value>,
) -> Result<(), PackageError> {
    let package = package_object(body)?;
    if package.get("packageKind").and_then(Value::as_str) != Some("tenant") {
        return Err(ApiError::Unprocessable(
            "this is not a tenant package (packageKind must be \"tenant\")".into(),
        )
        .into());
    }
    let author = principal.user_id;
    let elements = match package.get("elements") {
        Some(Value::Object(arrays)) => elements_of(arrays, "elements.", author)?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ApiError::Unprocessable("elements must be an object".into()).into());
        }
    };
    let mut flows = Vec::new();
    let entries = match package.get("flows") {
        Some(Value::Array(entries)) => entries.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(ApiError::Unprocessable("flows must be an array".into()).into()),
    };
    for (index, entry) in entries.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(
                ApiError::Unprocessable(format!("flows[{index}] must be an object")).into(),
            );
        };
        flows.push(flow_package_of(entry, &format!("flows[{index}]."), author)?);
    }
    packages::import(
        &*state.store,
        principal.tenant_id,
        flows,
        elements,
        true,
        author,
    )
    .await?;
    Ok(())
}
