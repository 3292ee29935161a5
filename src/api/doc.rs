//! keyflow's own OpenAPI description: the document's frame (info, tags, security schemes), the
//! error body, and the error answers handlers share. The paths come from the handlers'
//! `#[utoipa::path]` annotations, which the router collects (`api::router`), so a route cannot
//! exist without its description.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Required, SchemaFormat, Type};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// The security scheme names, as operations refer to them.
pub const API_KEY: &str = "apiKey";
pub const TENANT: &str = "tenant";
pub const TOKEN: &str = "token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyflow",
        description = "A self-hosted server for the Flow platform API: tenants, users, flows and \
            the API keys that authenticate scripts. Paths and shapes follow Boomi's Flow API; \
            errors are a JSON string holding a human message.",
        license(name = "Proprietary")
    ),
    components(schemas(ErrorMessage)),
    tags(
        (name = "Authentication", description = "Sign-in tokens"),
        (name = "Admin Users", description = "The current user, its API keys, and a tenant's users"),
        (name = "Admin Tenant", description = "The request's tenant"),
        (name = "Admin States", description = "The states of the tenant's running flows, for its administrators"),
        (name = "Draw Flow", description = "Flows of the request's tenant"),
        (name = "Draw Element", description = "Elements of the request's tenant: values, types, \
            pages, services, macros, identity providers, tags, custom page components"),
        (name = "Draw Flow Snapshot", description = "Flow snapshots and their activation"),
        (name = "Draw Flow Element", description = "A flow's map, group and navigation elements, and the tenant elements imported into it"),
        (name = "Draw Flow Graph", description = "A flow's graph: its header with its map and group elements, and its canvas"),
        (name = "Run", description = "Running flows: states started from a flow's activated snapshot, invoked on, read back"),
        (name = "Service", description = "Liveness, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// An error: a JSON string holding a human message (the Flow convention).
#[derive(ToSchema)]
#[schema(as = Error, example = "the API key is not valid")]
#[allow(dead_code)]
pub struct ErrorMessage(String);

/// Malformed input.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "Malformed input: a manywhotenant or a path segment that is not a UUID (or a \
        bool), a body that is not JSON, a query keyflow cannot read"
)]
#[allow(dead_code)]
pub struct BadRequest(ErrorMessage);

/// No valid credentials.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "No credentials; an unknown, deleted or expired key; a key for another tenant; \
        a bad or expired token",
    headers(("www-authenticate" = String, description = "How to authenticate"))
)]
#[allow(dead_code)]
pub struct Unauthorized(ErrorMessage);

/// Authenticated but not allowed.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "Not allowed: an API key where a signed-in user is required, a standard user \
        on administration, a tenant the user is not a member of"
)]
#[allow(dead_code)]
pub struct Forbidden(ErrorMessage);

#[derive(IntoResponses)]
#[response(status = 404, description = "No such item in this tenant")]
#[allow(dead_code)]
pub struct NotFound(ErrorMessage);

#[derive(IntoResponses)]
#[response(status = 409, description = "A conflict with what is stored")]
#[allow(dead_code)]
pub struct Conflict(ErrorMessage);

/// The answers of an endpoint that reads a JSON body.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BodyErrors {
    #[response(status = 413, description = "The body is over the limit (1 MiB)")]
    TooLarge(ErrorMessage),
    #[response(
        status = 422,
        description = "JSON that parses but holds an invalid field"
    )]
    Invalid(ErrorMessage),
}

#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many failed attempts from this address",
    headers(("retry-after" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)]
pub struct TooManyRequests(ErrorMessage);

/// A sign-in's 429: its address's budget, or its account's delay (`auth::account_throttle`).
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many failed attempts from this address, or failed sign-ins for this \
                   account from any address",
    headers(("retry-after" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)]
pub struct SignInThrottled(ErrorMessage);

#[derive(IntoResponses)]
#[response(
    status = 500,
    description = "An internal fault; the message names the request id, never the cause"
)]
#[allow(dead_code)]
pub struct Internal(ErrorMessage);

/// The answers any authenticated endpoint may give besides its own: 400, 401, 429, 500.
pub struct AuthErrors;

impl IntoResponses for AuthErrors {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        let mut all = BadRequest::responses();
        all.extend(Unauthorized::responses());
        all.extend(TooManyRequests::responses());
        all.extend(Internal::responses());
        all
    }
}

/// Declares the security schemes, makes "a key or a token" the requirement of every operation
/// that does not state its own, and gives every authenticated operation the optional
/// `manywhotenant` header (described as a parameter too, so that its UUID format is stated
/// where clients and fuzzers look). It runs on the finished document, once the router has
/// added the paths.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let header = |name: &str, description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                description,
            )))
        };
        components.add_security_scheme(
            API_KEY,
            header(
                "x-boomi-flow-api-key",
                "An API key (kf_…). The key decides the tenant; manywhotenant, when sent, must \
                 name the same tenant.",
            ),
        );
        components.add_security_scheme(
            TENANT,
            header(
                "manywhotenant",
                "The tenant to act in (a UUID), sent beside a key or a token: see the \
                 manywhotenant header parameter of each operation.",
            ),
        );
        components.add_security_scheme(
            TOKEN,
            header(
                "Authorization",
                "A token from POST /api/draw/1/authentication, raw or as `Bearer <token>`.",
            ),
        );
        let any_credential = vec![
            SecurityRequirement::new(API_KEY, Vec::<String>::new()),
            SecurityRequirement::new(TOKEN, Vec::<String>::new()),
        ];
        let tenant = ParameterBuilder::new()
            .name("manywhotenant")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The tenant to act in. With a key it must be the key's tenant; with a token it \
                 picks one of the user's tenants (default: the one the token was issued for). \
                 Empty or `null` (any case) is read as no header.",
            ))
            // A tenant id, or what a script sends for an unset one (empty, or `null` in any
            // case), which keyflow reads as no header.
            .schema(Some(
                AnyOfBuilder::new()
                    .item(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                    )
                    .item(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some(r"^[ \t]*([nN][uU][lL][lL])?[ \t]*$")),
                    ),
            ))
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let security = operation
                    .security
                    .get_or_insert_with(|| any_credential.clone());
                let public = security.iter().all(|requirement| {
                    serde_json::to_value(requirement).is_ok_and(|v| v == serde_json::json!({}))
                });
                if !public {
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .push(tenant.clone());
                }
            }
        }
    }
}

/// The whole description, built once from the router.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = super::routes().split_for_parts();
        Security.modify(&mut doc);
        doc
    })
}

/// The description as pretty JSON, the form `docs/openapi.json` keeps.
pub fn openapi_json() -> String {
    openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}

/// `GET /api/openapi.json`: keyflow's OpenAPI description.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "Service",
    security(()),
    responses(
        (status = 200, description = "keyflow's OpenAPI 3.1 description", body = Object,
            content_type = "application/json"),
    )
)]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}
