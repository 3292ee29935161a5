//! Packages on the wire. A package is keyflow's JSON (documented in docs/API.md, "Packages"):
//!
//! ```text
//! flow:   {"packageVersion":1, "tenantId", "flowId", "versionId", "developerName",
//!          "exportedAt", "importedElementIds":[…], "flow": <FlowImageResponseAPI>}
//! tenant: {"packageVersion":1, "packageKind":"tenant", "tenantId", "exportedAt",
//!          "elements": {"valueElements":[…], …}, "flows":[{"importedElementIds", "flow"}…]}
//! ```
//!
//! Boomi types the answer (and the import's body) as a `string`: keyflow answers a JSON
//! string holding the package, and takes either that string or the package object itself.
//! Also the 409 `PackageConflictResponse`, the sharing token's request and answer, and the
//! error type the package handlers answer with.

use std::collections::BTreeSet;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use uuid::Uuid;

use crate::api::element_json::document_of;
use crate::api::flow_json::{FlowImage, FlowRequest};
use crate::domain::element::{ElementKind, ElementName, FlowElementKind};
use crate::domain::{TenantId, Timestamp, UserId};
use crate::http::error::ApiError;
use crate::rules::RuleError;
use crate::rules::images::Image;
use crate::rules::packages::{FlowPackage, Refusal};
use crate::store::{ElementRecord, FlowRecord, JsonObject, NewElement, NewFlowElement};

/// The package format this build writes and reads.
pub const PACKAGE_VERSION: u64 = 1;

/// `PackageElement`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageElement {
    pub id: Uuid,
    pub developer_name: Option<String>,
}

/// `PackageElements`: the tenant's elements that differ from a package's, by array.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageElements {
    pub flows: Vec<PackageElement>,
    pub group_elements: Vec<PackageElement>,
    pub macro_elements: Vec<PackageElement>,
    pub map_elements: Vec<PackageElement>,
    pub navigation_elements: Vec<PackageElement>,
    pub page_elements: Vec<PackageElement>,
    pub service_elements: Vec<PackageElement>,
    pub tag_elements: Vec<PackageElement>,
    pub type_elements: Vec<PackageElement>,
    pub value_elements: Vec<PackageElement>,
    pub identity_provider_elements: Vec<PackageElement>,
    pub custom_page_component_elements: Vec<PackageElement>,
}

/// `PackageConflictResponse`: a 409 with the tenant's versions of the conflicting elements.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageConflictResponse {
    pub existing_elements: PackageElements,
}

impl PackageConflictResponse {
    fn of(existing: Vec<ElementRecord>) -> Self {
        let mut elements = PackageElements::default();
        for element in existing {
            let list = match element.kind {
                ElementKind::Value => &mut elements.value_elements,
                ElementKind::Type => &mut elements.type_elements,
                ElementKind::Page => &mut elements.page_elements,
                ElementKind::Service => &mut elements.service_elements,
                ElementKind::Macro => &mut elements.macro_elements,
                ElementKind::IdentityProvider => &mut elements.identity_provider_elements,
                ElementKind::Tag => &mut elements.tag_elements,
                ElementKind::CustomPageComponent => &mut elements.custom_page_component_elements,
            };
            list.push(PackageElement {
                id: element.id,
                developer_name: Some(element.developer_name),
            });
        }
        Self {
            existing_elements: elements,
        }
    }
}

/// `SharedPackageRequestAPI`: the sharing token of an import by token, or of a revocation.
// No `Debug` (nor on the answer): nothing may print the token.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SharedPackageRequestAPI)]
pub struct SharedPackageRequest {
    /// The token `POST /api/package/1/flow/{flow}/share` answered.
    // Read as optional so that a body without one gets keyflow's own 422 naming the field;
    // described as the required string it is.
    #[schema(value_type = String, required = true)]
    pub token: Option<String>,
}

/// `SharedPackageResponseAPI`: a sharing token, shown only in this answer (keyflow keeps its
/// digest alone).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SharedPackageResponseAPI)]
pub struct SharedPackageResponse {
    /// `kfs_` and 43 characters: opaque, valid for 7 days or until revoked.
    pub token: String,
}

/// What a package or revert handler answers when it fails: an `ApiError`, or the 409 object.
pub enum PackageError {
    Api(ApiError),
    Conflicting(Box<PackageConflictResponse>),
}

impl From<ApiError> for PackageError {
    fn from(error: ApiError) -> Self {
        PackageError::Api(error)
    }
}

impl From<RuleError> for PackageError {
    fn from(error: RuleError) -> Self {
        PackageError::Api(error.into())
    }
}

impl From<crate::store::StoreError> for PackageError {
    fn from(error: crate::store::StoreError) -> Self {
        PackageError::Api(error.into())
    }
}

impl From<Refusal> for PackageError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Rule(error) => error.into(),
            Refusal::Conflicting(existing) => {
                PackageError::Conflicting(Box::new(PackageConflictResponse::of(existing)))
            }
        }
    }
}

impl IntoResponse for PackageError {
    fn into_response(self) -> Response {
        match self {
            PackageError::Api(error) => error.into_response(),
            PackageError::Conflicting(body) => (StatusCode::CONFLICT, Json(*body)).into_response(),
        }
    }
}

/// A flow package: its header and image, as the package JSON.
pub fn flow_package(
    tenant: TenantId,
    flow: FlowRecord,
    image: &Image,
    null_passwords: bool,
) -> Value {
    let (id, version, name) = (flow.id, flow.version_id, flow.developer_name.clone());
    let mut package = json!({
        "packageVersion": PACKAGE_VERSION,
        "tenantId": tenant,
        "flowId": id,
        "versionId": version,
        "developerName": name,
        "exportedAt": Timestamp::now(),
    });
    package[IMPORTED] = imported_ids(image);
    package["flow"] = flow_image(flow, image, null_passwords);
    package
}

/// A tenant package: every flow at its current version and every element.
pub fn tenant_package(
    tenant: TenantId,
    flows: Vec<(FlowRecord, Image)>,
    elements: &[ElementRecord],
    null_passwords: bool,
) -> Value {
    let mut arrays = JsonObject::new();
    for kind in ElementKind::ALL {
        let mut rendered: Vec<Value> = elements
            .iter()
            .filter(|element| element.kind == kind)
            .map(crate::api::element_json::render_element)
            .collect();
        if null_passwords {
            rendered.iter_mut().for_each(blank_passwords);
        }
        arrays.insert(kind.image_field().into(), Value::Array(rendered));
    }
    let flows: Vec<Value> = flows
        .into_iter()
        .map(|(flow, image)| {
            json!({
                IMPORTED: imported_ids(&image),
                "flow": flow_image(flow, &Image { elements: Vec::new(), ..image }, null_passwords),
            })
        })
        .collect();
    json!({
        "packageVersion": PACKAGE_VERSION,
        "packageKind": "tenant",
        "tenantId": tenant,
        "exportedAt": Timestamp::now(),
        "elements": arrays,
        "flows": flows,
    })
}

const IMPORTED: &str = "importedElementIds";

fn imported_ids(image: &Image) -> Value {
    let ids: Vec<Uuid> = image
        .uses
        .iter()
        .filter(|used| used.imported)
        .map(|used| used.element)
        .collect();
    json!(ids)
}

fn flow_image(flow: FlowRecord, image: &Image, null_passwords: bool) -> Value {
    let mut value =
        serde_json::to_value(FlowImage::new(flow, &image.flow_elements, &image.elements))
            .unwrap_or(Value::Null);
    if null_passwords {
        blank_passwords(&mut value);
    }
    value
}

/// Blanks what holds a password: every string field whose name contains `password` (a
/// service's `httpAuthenticationPassword`, …), and the content of any object whose
/// `contentType` is `ContentPassword` (a value's `defaultContentValue`, a configuration
/// value's `contentValue`).
pub fn blank_passwords(value: &mut Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items.iter_mut()),
            Value::Object(fields) => {
                let secret = fields
                    .get("contentType")
                    .and_then(Value::as_str)
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("ContentPassword"));
                for (key, field) in fields.iter_mut() {
                    let named = key.to_ascii_lowercase().contains("password");
                    let content = secret && (key == "contentValue" || key == "defaultContentValue");
                    if (named || content) && field.is_string() {
                        *field = Value::String(String::new());
                    } else {
                        pending.push(field);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The body of a package import as the description gives it: the package (an object with
/// `packageVersion` 1; the rest is checked by the import, 422 naming the field), or a JSON
/// string holding it as text, as Boomi's tools send it (400 when the text is not JSON).
/// Written out by hand: utoipa derives no `oneOf` of an object and a string.
pub struct PackageBody;

impl utoipa::PartialSchema for PackageBody {
    fn schema() -> RefOr<Schema> {
        let object = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some("The package"))
            .required("packageVersion")
            .property(
                "packageVersion",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Integer))
                    .enum_values(Some([PACKAGE_VERSION])),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(true)));
        let text = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some("The package as JSON text"))
            .min_length(Some(2))
            .pattern(Some(r"^\s*\{[\s\S]*\}\s*$"));
        OneOfBuilder::new()
            .item(object)
            .item(text)
            .description(Some(
                "The package: an object, or a JSON string holding it as text",
            ))
            .into()
    }
}

impl ToSchema for PackageBody {}

/// The package object a body holds: the JSON string Boomi's tools send (its content parsed),
/// or the object itself. Not JSON: 400; anything else: 422.
pub fn package_object(body: Value) -> Result<JsonObject, ApiError> {
    let value = match body {
        Value::String(text) => {
            crate::http::json::parse::<Value>(text.as_bytes()).map_err(|error| {
                ApiError::BadRequest(format!("the package string is not JSON: {error}"))
            })?
        }
        other => other,
    };
    let Value::Object(package) = value else {
        return Err(ApiError::Unprocessable(
            "a package is a JSON object (or a JSON string holding one)".into(),
        ));
    };
    match package.get("packageVersion") {
        Some(Value::Number(n)) if n.as_u64() == Some(PACKAGE_VERSION) => Ok(package),
        Some(other) => Err(ApiError::Unprocessable(format!(
            "packageVersion {other} is not one keyflow reads: it reads {PACKAGE_VERSION}"
        ))),
        None => Err(ApiError::Unprocessable("packageVersion is required".into())),
    }
}

fn invalid(text: String) -> ApiError {
    ApiError::Unprocessable(text)
}

/// The items of an optional array field (absent or null: none).
fn items<'a>(object: &'a JsonObject, field: &str, at: &str) -> Result<&'a [Value], ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("{at}{field} must be an array"))),
    }
}

fn element_object(item: &Value, at: &str) -> Result<(Uuid, JsonObject), ApiError> {
    let Value::Object(fields) = item else {
        return Err(invalid(format!("{at} must be an object")));
    };
    let id = fields
        .get("id")
        .and_then(Value::as_str)
        .and_then(|text| Uuid::try_parse(text).ok())
        .ok_or_else(|| invalid(format!("{at}.id must be an element id (a UUID)")))?;
    Ok((id, fields.clone()))
}

/// The tenant elements of an object holding `valueElements`, `typeElements`, … arrays.
pub fn elements_of(
    object: &JsonObject,
    at: &str,
    author: UserId,
) -> Result<Vec<NewElement>, ApiError> {
    let mut elements = Vec::new();
    for kind in ElementKind::ALL {
        for (index, item) in items(object, kind.image_field(), at)?.iter().enumerate() {
            let place = format!("{at}{}[{index}]", kind.image_field());
            let (id, fields) = element_object(item, &place)?;
            let name = fields
                .get("developerName")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = ElementName::parse(name)
                .map_err(|e| invalid(format!("{place}.developerName: {}", e.0)))?;
            crate::domain::element::check_depth(&place, &fields).map_err(|e| invalid(e.0))?;
            elements.push(NewElement {
                id,
                kind,
                name,
                document: document_of(fields),
                author,
            });
        }
    }
    Ok(elements)
}

/// A flow package (or a tenant package's flow entry): `flow` and `importedElementIds`.
pub fn flow_package_of(
    package: &JsonObject,
    at: &str,
    author: UserId,
) -> Result<FlowPackage, ApiError> {
    let Some(Value::Object(flow)) = package.get("flow") else {
        return Err(invalid(format!(
            "{at}flow is required and must be an object"
        )));
    };
    let at = format!("{at}flow.");
    let request: FlowRequest = serde_json::from_value(Value::Object(flow.clone()))
        .map_err(|error| invalid(format!("{at}: {error}")))?;
    let id = request
        .target()
        .map_err(|e| invalid(format!("{at}{}", e.0)))?
        .ok_or_else(|| invalid(format!("{at}id.id is required: the flow's id")))?;
    let start_map_element_id = flow
        .get("startMapElementId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let header = request
        .into_draft()
        .map_err(|e| invalid(format!("{at}{}", e.0)))?;
    let mut flow_elements = Vec::new();
    for kind in FlowElementKind::ALL {
        for (index, item) in items(flow, kind.image_field(), &at)?.iter().enumerate() {
            let place = format!("{at}{}[{index}]", kind.image_field());
            let (id, fields) = element_object(item, &place)?;
            let developer_name = fields
                .get("developerName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            crate::domain::element::check_depth(&place, &fields).map_err(|e| invalid(e.0))?;
            flow_elements.push(NewFlowElement {
                id,
                kind,
                developer_name,
                document: document_of(fields),
            });
        }
    }
    let mut imported = BTreeSet::new();
    for (index, item) in items(package, IMPORTED, "")?.iter().enumerate() {
        let id = item
            .as_str()
            .and_then(|text| Uuid::try_parse(text).ok())
            .ok_or_else(|| invalid(format!("{IMPORTED}[{index}] must be an element id")))?;
        imported.insert(id);
    }
    Ok(FlowPackage {
        id,
        header,
        start_map_element_id,
        flow_elements,
        elements: elements_of(flow, &at, author)?,
        imported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_blanked_by_name_and_by_content_type() {
        let mut value = json!({
            "serviceElements": [{"httpAuthenticationPassword": "hunter2", "uri": "u",
                "configurationValues": [{"contentType": "ContentPassword", "contentValue": "s3"},
                                        {"contentType": "ContentString", "contentValue": "kept"}]}],
            "valueElements": [{"contentType": "CONTENTPASSWORD", "defaultContentValue": "p"}],
        });
        blank_passwords(&mut value);
        assert_eq!(
            value["serviceElements"][0]["httpAuthenticationPassword"],
            ""
        );
        assert_eq!(value["serviceElements"][0]["uri"], "u");
        let config = &value["serviceElements"][0]["configurationValues"];
        assert_eq!(config[0]["contentValue"], "");
        assert_eq!(config[1]["contentValue"], "kept");
        assert_eq!(value["valueElements"][0]["defaultContentValue"], "");
    }
}
