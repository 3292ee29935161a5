//! Turns the credential headers into a `Principal`: who is asking, for which tenant, and how
//! they proved it. Handlers ask for a `Principal`, for an `Interactive` one where an API key
//! (or a token obtained with one) must not be enough, or for an `Administrator` of the
//! request's tenant.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::auth::api_key::{ApiKey, Hasher};
use crate::auth::rate_limit::Quota;
use crate::auth::throttle::FailureThrottle;
use crate::auth::token;
use crate::auth::verifier::{Grant, KeyCheck, KeyVerifier};
use crate::domain::{KeyId, Networks, Role, Scopes, TenantId, Timestamp, UserId};
use crate::http::error::ApiError;
use crate::http::route_scopes::{self, Need};
use crate::http::scope::{client_address, current_request_id, set_quota, set_tenant};
use crate::rules::access::{self, SignIn};
use crate::rules::key_refusals;
use crate::rules::keys::{self as key_rules, Keys};
use crate::rules::refusals::{Refusal, Refusals};
use crate::store::{KeyGrant, Store, TokenGrant};

pub const API_KEY_HEADER: &str = "x-boomi-flow-api-key";
pub const TENANT_HEADER: &str = "manywhotenant";

/// The one answer to a refused API key, whatever the reason — a mistyped, unknown or deleted
/// key, an owner removed from the tenant, another tenant's id in `manywhotenant` — so the
/// answer does not tell a live key from a dead one.
pub const KEY_REFUSED: &str = "the API key is not valid, or not for the tenant in manywhotenant";

/// The answer to a request with no credential at all, where one is needed (also an unknown
/// path under `/api/`: every path of the API but sign-in needs one).
pub const NO_CREDENTIAL: &str = "authentication required: send an API key in \
     x-boomi-flow-api-key (with your tenant id in manywhotenant) or a token in Authorization";

fn key_refused() -> ApiError {
    ApiError::Unauthorized(KEY_REFUSED.into())
}

/// What the extractors need of the server's state to decide who is asking (the server's
/// state provides it): the key verifier, the store for tokens and roles, the hasher for
/// token digests, and the failure throttle.
pub(crate) trait Authenticator: Send + Sync {
    fn store(&self) -> &dyn Store;
    fn hasher(&self) -> &Hasher;
    fn verifier(&self) -> &KeyVerifier;
    fn throttle(&self) -> &FailureThrottle;
    /// The key rules, for what a refusal records (`key.expired`).
    fn key_rules(&self) -> Keys<'_>;
    /// Where refused credentials are counted for the audit trail.
    fn refusals(&self) -> &Refusals;
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    ApiKey(KeyId),
    /// A token of a password sign-in.
    Token,
    /// A token an API key obtained: bound to that key, it may do only what the key may.
    KeyToken(KeyId),
}

/// An authenticated caller acting in one tenant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Principal {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub via: Via,
    /// Whether `manywhotenant` named the tenant (rather than the key or token deciding).
    pub tenant_from_header: bool,
    /// The password sign-in behind a token; `None` for an API key (and a token bound to one),
    /// which is bound to its membership instead.
    pub sign_in: Option<SignIn>,
    /// The scopes of the key behind the credential (unscoped: a password sign-in's token, or
    /// a key not narrowed), checked against the route once, in the extractor.
    pub scopes: Scopes,
}

impl Principal {
    /// The API key whose rights the caller has: the key itself, or the key a token is bound
    /// to. `None` for a password sign-in's token.
    pub fn key(&self) -> Option<KeyId> {
        match self.via {
            Via::ApiKey(key) | Via::KeyToken(key) => Some(key),
            Via::Token => None,
        }
    }

    /// When the password sign-in behind the credential happened (`None` for an API key): the
    /// memberships that began later are out of its reach ([`access`]).
    pub fn signed_in_at(&self) -> Option<Timestamp> {
        self.sign_in.map(|sign_in| sign_in.at)
    }
}

/// The client's address as an extractor, for handlers that throttle without a principal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address()))
    }
}

/// A principal that signed in with a password (a token), not with an API key nor a token one
/// obtained: required for key management, so a leaked key can never mint, list or reveal keys.
/// `W` names what is refused, in the refusal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interactive<W = ManageKeys>(pub(crate) Principal, pub(crate) PhantomData<W>);

/// Something an API key may not do, as its refusal names it: the key and the tokens it
/// obtains are refused alike.
pub(crate) trait KeyMayNot {
    /// Completes "an API key cannot …".
    const WHAT: &'static str;
}

/// Creating, listing, revealing or deleting API keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ManageKeys;

impl KeyMayNot for ManageKeys {
    const WHAT: &'static str = "manage API keys";
}

/// Changing the account's own details.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChangeAccount;

impl KeyMayNot for ChangeAccount {
    const WHAT: &'static str = "change your account";
}

/// The 403 for something an API key may not do, for the key and a token bound to it alike.
pub(crate) fn key_may_not(what: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "an API key cannot {what}: sign in with a password and use its token (a token \
         obtained with an API key cannot either)"
    ))
}

/// What a request presents to prove who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// The value of `x-boomi-flow-api-key` (checked later: shape, checksum, digest).
    ApiKey(&'a str),
    /// The token in `Authorization`, with any `Bearer ` taken off.
    Token(&'a str),
    /// A token (`kft_…`) sent in `x-boomi-flow-api-key`: tools that hold one credential keep
    /// the token their key obtained in the key's place. Accepted only when the token is bound
    /// to an API key, so this header never carries more than a key's rights.
    KeyToken(&'a str),
    Nothing,
}

/// The credential headers of a request, read without any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The tenant `manywhotenant` names, if it is there.
    pub tenant: Option<TenantId>,
    pub presented: Presented<'a>,
}

/// The header names as values, so a comparison does not parse the name again. (Statics, not
/// constants: a constant would be built and dropped again at every use.)
pub(crate) static API_KEY: HeaderName = HeaderName::from_static(API_KEY_HEADER);
static TENANT: HeaderName = HeaderName::from_static(TENANT_HEADER);

/// Reads the credential headers: a pure function of them (the fuzzing target's entry). No
/// credential at all presents as `Nothing` (a 401 whatever else is wrong with the request);
/// otherwise a header sent twice, or a `manywhotenant` that is not a UUID, is a 400; a key or
/// token that is not text presents as empty, which fails like any wrong credential. An API
/// key wins over `Authorization`.
pub fn credentials(headers: &HeaderMap) -> Result<Credentials<'_>, ApiError> {
    // One pass over the headers rather than a hashed lookup per question (this runs on every
    // authenticated request).
    let (mut key, mut authorization, mut tenant) = (Seen::Absent, Seen::Absent, Seen::Absent);
    for (name, value) in headers {
        let seen = if name == API_KEY {
            &mut key
        } else if name == header::AUTHORIZATION {
            &mut authorization
        } else if name == TENANT {
            &mut tenant
        } else {
            continue;
        };
        *seen = match seen {
            Seen::Absent => Seen::Once(value),
            _ => Seen::Repeated,
        };
    }
    if key == Seen::Absent && authorization == Seen::Absent {
        return Ok(Credentials {
            tenant: None,
            presented: Presented::Nothing,
        });
    }
    // Two values would let a proxy and keyflow each read a different one.
    for (name, seen) in [
        (&TENANT, tenant),
        (&API_KEY, key),
        (&header::AUTHORIZATION, authorization),
    ] {
        if seen == Seen::Repeated {
            return Err(ApiError::BadRequest(format!(
                "send the {name} header once; this request sends it more than once"
            )));
        }
    }
    let tenant = match tenant {
        Seen::Once(value) if !names_no_tenant(value) => Some(requested_tenant(value)?),
        _ => None,
    };
    let presented = match (key, authorization) {
        (Seen::Once(value), _) => {
            let sent = unquoted(as_text(value).trim());
            if sent.starts_with(token::PREFIX) {
                Presented::KeyToken(sent)
            } else {
                Presented::ApiKey(sent)
            }
        }
        (_, Seen::Once(value)) => {
            Presented::Token(unquoted(token::from_authorization(as_text(value))))
        }
        _ => Presented::Nothing,
    };
    Ok(Credentials { tenant, presented })
}

/// How often a header appears in a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen<'a> {
    Absent,
    Once(&'a HeaderValue),
    Repeated,
}

/// The credential without a double quote at either end: tools keep the sign-in's answer, a
/// JSON string, as it came (`"kft_…"`) and send it back so, and some strip only one of the
/// quotes. A quote is never part of a key or a token, so taking one off each end cannot turn
/// one credential into another. What the quotes held is trimmed again: a space is never part
/// of one either, and `" kft_…"` is the same mistake as ` kft_…`.
fn unquoted(text: &str) -> &str {
    let text = text.strip_prefix('"').unwrap_or(text);
    text.strip_suffix('"').unwrap_or(text).trim()
}

/// Whether `manywhotenant` says "no tenant": empty, or `null` (what a script that formats an
/// unset variable into the header sends). Read as if the header were absent, so the key or
/// token decides the tenant.
fn names_no_tenant(value: &HeaderValue) -> bool {
    let text = value.as_bytes().trim_ascii();
    text.is_empty() || text.eq_ignore_ascii_case(b"null")
}

fn as_text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or("")
}

impl<S: Authenticator> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Already authenticated, its scopes checked and its rate limit charged, by the cached
        // reads in front of the handler (`api::cached_reads`): the same principal, once.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(*principal);
        }
        let Credentials { tenant, presented } = credentials(&parts.headers)?;
        let address = client_address();
        state.throttle().guard(address)?;
        let outcome = match presented {
            Presented::ApiKey(key) => by_api_key(key, tenant, state, address).await,
            Presented::Token(token) => by_token(token, tenant, state, address).await,
            Presented::KeyToken(token) => by_key_header_token(token, tenant, state, address).await,
            Presented::Nothing => {
                return Err(ApiError::Unauthorized(NO_CREDENTIAL.into()));
            }
        };
        let principal = outcome.map_err(|error| {
            // A 401 is counted here, with its reason; a key used from outside its networks
            // (403) is audited where it is refused (`key_refusals`), its failure budget
            // bounding how many such rows one address can write.
            if let ApiError::Unauthorized(message) = &error {
                note_refusal(
                    state.refusals(),
                    presented,
                    reason_of(message),
                    tenant,
                    address,
                );
            }
            error.counted(state.throttle(), address)
        })?;
        within_scopes(&principal, parts)?;
        set_tenant(principal.tenant_id);
        Ok(principal)
    }
}

/// A caller of the run API (`/api/run/1/…`): a [`Principal`] when a credential is presented
/// (checked as everywhere: a wrong one is a 401, never read as none), else nobody, in the
/// tenant `manywhotenant` names, who may run only the tenant's public flows.
#[derive(Debug, Clone)]
pub(crate) struct RunCaller {
    pub tenant_id: TenantId,
    pub principal: Option<Principal>,
    /// The preview of the API key presented (`kf_…wxyz`; never the value), for the audit
    /// trail to name when the flow's authorization refuses the caller (`run.refused`).
    pub preview: Option<Arc<str>>,
}

/// The answer to a run request with neither a credential nor a tenant.
pub const NO_RUN_TENANT: &str = "authentication required: send an API key in \
     x-boomi-flow-api-key or a token in Authorization, or, to run a public flow, the tenant id \
     in manywhotenant";

impl<S: Authenticator> FromRequestParts<S> for RunCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let presented = credentials(&parts.headers)?.presented;
        if let Presented::Nothing = presented {
            let mut sent = parts.headers.get_all(&TENANT).iter();
            let tenant = match (sent.next(), sent.next()) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::BadRequest(format!(
                        "send the {TENANT_HEADER} header once; this request sends it more than once"
                    )));
                }
                (Some(value), None) if !names_no_tenant(value) => requested_tenant(value)?,
                _ => return Err(ApiError::Unauthorized(NO_RUN_TENANT.into())),
            };
            return Ok(RunCaller {
                tenant_id: tenant,
                principal: None,
                preview: None,
            });
        }
        // Read before the headers are lent to the principal's extraction; only a key that
        // parses has a preview (and a refused one never gets this far).
        let preview = match presented {
            Presented::ApiKey(key) => ApiKey::parse(key).ok().map(|key| key.preview().into()),
            _ => None,
        };
        let principal = Principal::from_request_parts(parts, state).await?;
        Ok(RunCaller {
            tenant_id: principal.tenant_id,
            principal: Some(principal),
            preview,
        })
    }
}

/// A narrowed key (or a token it obtained) may call only the routes its scopes cover
/// ([`route_scopes`]); anyone else passes without a lookup. A route the table lacks (a test
/// keeps there being none) is refused to a narrowed key rather than granted.
fn within_scopes(principal: &Principal, parts: &Parts) -> Result<(), ApiError> {
    if principal.scopes.is_unscoped() {
        return Ok(());
    }
    // No matched route: the API's answer to an unknown path, which grants nothing.
    let Some(route) = parts.extensions.get::<MatchedPath>() else {
        return Ok(());
    };
    match route_scopes::needed(&parts.method, route.as_str()) {
        Some(Need::Nothing) => Ok(()),
        Some(Need::Scope(scope)) if principal.scopes.contains(scope) => Ok(()),
        Some(Need::Scope(scope)) => Err(ApiError::Forbidden(format!(
            "this API key lacks the scope {scope}"
        ))),
        None => Err(ApiError::Forbidden(
            "this API key's scopes do not cover this endpoint".into(),
        )),
    }
}

/// A key-bound principal used from `address`: refused (403, audited, and spending the
/// address's failure budget, which bounds how many refusals one address can have recorded)
/// when the key's allowed networks do not include it.
async fn from_allowed_network(
    principal: Principal,
    key: KeyId,
    networks: &Networks,
    address: IpAddr,
    state: &impl Authenticator,
) -> Result<Principal, ApiError> {
    if networks.admits(address) {
        return Ok(principal);
    }
    let request_id = current_request_id();
    key_refusals::refused_network(
        state.store(),
        principal.user_id,
        principal.tenant_id,
        key,
        address,
        &request_id,
    )
    .await;
    state.throttle().failed(address)?;
    Err(ApiError::Forbidden(format!(
        "this API key is not allowed from {address}"
    )))
}

impl<S: Authenticator, W: KeyMayNot> FromRequestParts<S> for Interactive<W> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        match principal.key() {
            Some(_) => Err(key_may_not(W::WHAT)),
            None => Ok(Interactive(principal, PhantomData)),
        }
    }
}

/// A principal whose role in the request's tenant is `ADMINISTRATOR`, checked on every request
/// so a demotion applies at once. A standard user gets 403.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Administrator(pub(crate) Principal);

impl<S: Authenticator> FromRequestParts<S> for Administrator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let signed_in_at = principal.signed_in_at();
        match role(state, principal.user_id, principal.tenant_id, signed_in_at).await? {
            Some(Role::Administrator) => Ok(Administrator(principal)),
            Some(Role::Standard) => Err(ApiError::Forbidden(
                "only an administrator of this tenant may do this".into(),
            )),
            // A key outlived its owner's membership only for the length of this request.
            None if principal.key().is_some() => Err(key_refused()),
            None => Err(ApiError::Unauthorized(format!(
                "you are not a member of the tenant {}",
                principal.tenant_id
            ))),
        }
    }
}

/// Counts a refused credential for the audit trail: why (as far as the edge can tell: a
/// malformed value, or a key the verifier refused, which it answers alike whether unknown,
/// deleted or another tenant's), the tenant named, and a well-formed key's preview — never
/// the value, and nothing of a malformed one. Off the hot path: only refusals come here.
fn note_refusal(
    refusals: &Refusals,
    presented: Presented<'_>,
    reason: &'static str,
    tenant: Option<TenantId>,
    address: IpAddr,
) {
    let (action, reason, preview) = match presented {
        Presented::ApiKey(key) => match ApiKey::parse(key) {
            Ok(key) => ("key.refused", reason, Some(key.preview())),
            Err(_) => ("key.refused", "malformed", None),
        },
        Presented::Token(_) | Presented::KeyToken(_) => ("token.refused", reason, None),
        Presented::Nothing => return,
    };
    let refusal = Refusal {
        action,
        reason,
        address,
        tenant,
        preview,
    };
    refusals.note(
        refusal,
        Timestamp::now(),
        Some(crate::http::scope::current_request_id()),
    );
}

/// Why a 401 refused the credential, as the audit records it: only a real key's value that
/// expired or was rotated is told apart ([`key_ended`] says so); every other refusal is one
/// reason, as it is one answer.
fn reason_of(message: &str) -> &'static str {
    if message.contains(EXPIRED_MARK) {
        "expired"
    } else if message.contains(ROTATED_MARK) {
        "rotated"
    } else {
        "refused"
    }
}

/// `manywhotenant`, when present, must be a UUID.
fn requested_tenant(value: &HeaderValue) -> Result<TenantId, ApiError> {
    let refused = |shown: &str| {
        ApiError::BadRequest(format!(
            "the manywhotenant header must be a tenant id (a UUID); '{shown}' is not one"
        ))
    };
    let text = value
        .to_str()
        .map_err(|_| refused("(bytes that are not text)"))?;
    TenantId::parse(text).map_err(|_| refused(&crate::domain::shorten(text)))
}

async fn by_api_key(
    presented: &str,
    tenant: Option<TenantId>,
    state: &impl Authenticator,
    address: IpAddr,
) -> Result<Principal, ApiError> {
    // The verifier checks the tenant too, so that every refusal takes the same path.
    match state.verifier().verify_for(presented, tenant).await? {
        KeyCheck::Valid(grant) => {
            let principal = for_key(&grant, tenant)?;
            let networks = &grant.allowed_networks;
            let principal =
                from_allowed_network(principal, grant.key_id, networks, address, state).await?;
            metered(state.verifier().charge_grant(&grant, address))?;
            Ok(principal)
        }
        KeyCheck::Expired(grant) => {
            // Recorded once per key; a failure to record is logged, and the answer stays 401.
            if let Err(error) = key_rules::record_expired(&state.key_rules(), &grant).await {
                tracing::error!(error = %error, "recording an expired key's audit event failed");
            }
            Err(key_ended(&grant))
        }
        KeyCheck::Malformed | KeyCheck::Refused => Err(key_refused()),
    }
}

/// What [`key_ended`]'s answers hold, by which [`reason_of`] tells them apart.
const EXPIRED_MARK: &str = " expired at ";
const ROTATED_MARK: &str = " was rotated: ";

/// The 401 for a real key's value that no longer works: it says why and when, naming the
/// value's preview (never the value). Only who holds the value can be told this.
fn key_ended(grant: &KeyGrant) -> ApiError {
    let preview = &grant.preview;
    let at = grant
        .expires_at
        .map(|at| at.to_string())
        .unwrap_or_default();
    ApiError::Unauthorized(if grant.ends_by_rotation() {
        format!(
            "the API key {preview}{ROTATED_MARK}this value stopped working at {at}; use the \
             key's new value"
        )
    } else {
        format!("the API key {preview}{EXPIRED_MARK}{at}")
    })
}

/// Records the key's quota for the answer's `RateLimit-*` headers, and refuses a request past
/// the limit (429 with `Retry-After`).
fn metered(quota: Option<Quota>) -> Result<(), ApiError> {
    let Some(quota) = quota else {
        return Ok(());
    };
    set_quota(quota);
    match quota.retry_after_secs {
        Some(secs) => Err(ApiError::RateLimited {
            retry_after_secs: u64::from(secs),
        }),
        None => Ok(()),
    }
}

/// A request with a token bound to `key`: its key's quota, as for the key itself.
fn metered_key_token(
    grant: &TokenGrant,
    key: KeyId,
    state: &impl Authenticator,
) -> Result<(), ApiError> {
    metered(charge_key_token(
        state.verifier(),
        grant,
        key,
        client_address(),
    ))
}

/// Takes a request with a token `key` obtained from the key's rate limit (`None`: no limit).
fn charge_key_token(
    verifier: &KeyVerifier,
    grant: &TokenGrant,
    key: KeyId,
    client: IpAddr,
) -> Option<Quota> {
    let meter = verifier.meter(key);
    let limit = (grant.rate_per_second, grant.rate_burst);
    verifier.charge(key, &meter.0, limit, client)
}

/// The principal a verified key's grant makes, in the tenant `manywhotenant` names (if any):
/// another tenant than the key's is refused.
fn for_key(grant: &KeyGrant, tenant: Option<TenantId>) -> Result<Principal, ApiError> {
    if tenant.is_some_and(|tenant| tenant != grant.tenant_id) {
        return Err(key_refused());
    }
    Ok(Principal {
        user_id: grant.user_id,
        tenant_id: grant.tenant_id,
        via: Via::ApiKey(grant.key_id),
        tenant_from_header: tenant.is_some(),
        sign_in: None,
        scopes: grant.scopes,
    })
}

/// The credential behind a principal [`Principal::from_cache`] made, for what the early answer
/// does only when it answers: count the cache hits it used and take the request from a key's
/// rate limit, as the extractor would have.
pub(crate) enum CachedCredential {
    /// An API key.
    Key(Grant),
    /// A token an API key obtained: the key's rate limit.
    KeyToken(TokenGrant, KeyId),
    /// A password sign-in's token: no rate limit.
    SignIn,
}

impl CachedCredential {
    /// Counts the cached grants (and the membership) the principal was made from.
    pub(crate) fn count_hits(&self, state: &impl Authenticator) {
        match self {
            Self::Key(_) => state.verifier().count_cache_hit(),
            Self::KeyToken(..) => state.verifier().credentials().count_hits(1),
            Self::SignIn => state.verifier().credentials().count_hits(2),
        }
    }

    /// Takes the request from its key's rate limit. `None`: no limit. A quota with
    /// `retry_after_secs` is a refusal, which the caller answers as the extractor does (429).
    pub(crate) fn charge(&self, client: IpAddr, state: &impl Authenticator) -> Option<Quota> {
        let verifier = state.verifier();
        match self {
            Self::Key(grant) => verifier.charge_grant(grant, client),
            Self::KeyToken(grant, key) => charge_key_token(verifier, grant, *key, client),
            Self::SignIn => None,
        }
    }
}

impl Principal {
    /// The principal of a request from `client` presenting a credential the caches hold (an
    /// API key, a token an API key obtained, or a password sign-in's token with its
    /// membership), decided without storage, without waiting and without side effects:
    /// `None` whenever anything else is the case (no credential, a refusal, an address being
    /// throttled, a cache miss, a key used from outside its networks), which the extractor
    /// then decides, counting and auditing what it must. The caller checks the scope its
    /// answer needs (`principal.scopes.permits`) and, when it answers, counts the hits and
    /// charges the rate limit ([`CachedCredential`]).
    pub(crate) fn from_cache(
        headers: &HeaderMap,
        client: IpAddr,
        state: &impl Authenticator,
    ) -> Option<(Principal, CachedCredential)> {
        let Ok(Credentials { tenant, presented }) = credentials(headers) else {
            return None;
        };
        state.throttle().check(client).ok()?;
        match presented {
            Presented::ApiKey(key) => {
                let grant = state.verifier().verify_cached(key)?;
                // Both O(1) on the cached grant: one AND, and (for a key limited to networks)
                // a walk over its few ranges.
                if !grant.allowed_networks.admits(client) {
                    return None;
                }
                let principal = for_key(&grant, tenant).ok()?;
                Some((principal, CachedCredential::Key(grant)))
            }
            Presented::Token(token) | Presented::KeyToken(token) if !token.is_empty() => {
                let digest = state.hasher().digest(token);
                let credentials = state.verifier().credentials();
                let grant = credentials.cached_token(&digest, Timestamp::now())?;
                match grant.key_id {
                    Some(key) => {
                        if !grant.allowed_networks.admits(client) {
                            return None;
                        }
                        let principal = for_key_token_in(&grant, key, tenant).ok()?;
                        Some((principal, CachedCredential::KeyToken(grant, key)))
                    }
                    // A sign-in's token in the key's header is refused there.
                    None if matches!(presented, Presented::KeyToken(_)) => None,
                    None => {
                        let tenant_id = tenant.unwrap_or(grant.tenant_id);
                        let (_, since) = credentials.cached_role(grant.user_id, tenant_id)?;
                        if !access::covers(since, Some(grant.signed_in_at)) {
                            return None;
                        }
                        let principal = for_sign_in(&grant, tenant_id, tenant.is_some());
                        Some((principal, CachedCredential::SignIn))
                    }
                }
            }
            _ => None,
        }
    }
}

/// The live grant of a presented token, or `None` (unknown, expired, or empty): from the
/// credential cache, else storage.
async fn token_grant(
    presented: &str,
    state: &impl Authenticator,
) -> Result<Option<TokenGrant>, ApiError> {
    if presented.is_empty() {
        return Ok(None);
    }
    let digest = state.hasher().digest(presented);
    let credentials = state.verifier().credentials();
    Ok(credentials.token(digest, Timestamp::now()).await?)
}

/// The user's role in the tenant if the credential reaches it, as [`access::role`] decides,
/// with the membership read through the credential cache (a removal or a change of role is
/// announced, and drops it).
async fn role(
    state: &impl Authenticator,
    user: UserId,
    tenant: TenantId,
    signed_in_at: Option<Timestamp>,
) -> Result<Option<Role>, ApiError> {
    let membership = state
        .verifier()
        .credentials()
        .role_since(user, tenant)
        .await?;
    Ok(membership
        .filter(|(_, since)| access::covers(*since, signed_in_at))
        .map(|(role, _)| role))
}

/// A token sent in `x-boomi-flow-api-key`: the principal of a token bound to an API key, as in
/// `Authorization`. Any other (unknown, expired, or a password sign-in's, whose rights are
/// more than a key's) gets the one refusal of that header, as a key that is not valid does.
async fn by_key_header_token(
    presented: &str,
    tenant: Option<TenantId>,
    state: &impl Authenticator,
    address: IpAddr,
) -> Result<Principal, ApiError> {
    match token_grant(presented, state).await? {
        Some(grant) => match grant.key_id {
            Some(key) => {
                let principal = for_key_token(&grant, key, tenant, state, address).await?;
                metered_key_token(&grant, key, state)?;
                Ok(principal)
            }
            None => Err(key_refused()),
        },
        None => Err(key_refused()),
    }
}

async fn by_token(
    presented: &str,
    tenant: Option<TenantId>,
    state: &impl Authenticator,
    address: IpAddr,
) -> Result<Principal, ApiError> {
    let invalid = || ApiError::Unauthorized("the token is not valid or has expired".into());
    let grant = token_grant(presented, state).await?.ok_or_else(invalid)?;
    if let Some(key) = grant.key_id {
        let principal = for_key_token(&grant, key, tenant, state, address).await?;
        metered_key_token(&grant, key, state)?;
        return Ok(principal);
    }
    let tenant_id = tenant.unwrap_or(grant.tenant_id);
    // A membership that began after the sign-in (the user was added back after a removal, or
    // accepted an invitation since) is out of the token's reach: that needs a new sign-in.
    let signed_in_at = Some(grant.signed_in_at);
    if role(state, grant.user_id, tenant_id, signed_in_at)
        .await?
        .is_none()
    {
        return Err(ApiError::Unauthorized(format!(
            "you are not a member of the tenant {tenant_id}, or became one after this \
             token's sign-in: sign in again"
        )));
    }
    Ok(for_sign_in(&grant, tenant_id, tenant.is_some()))
}

/// The principal of a password sign-in's token in a tenant its user is a member of (checked
/// by the caller).
fn for_sign_in(grant: &TokenGrant, tenant_id: TenantId, tenant_from_header: bool) -> Principal {
    Principal {
        user_id: grant.user_id,
        tenant_id,
        via: Via::Token,
        tenant_from_header,
        sign_in: Some(SignIn {
            at: grant.signed_in_at,
            until: grant.expires_at,
        }),
        scopes: Scopes::UNSCOPED,
    }
}

/// The principal of a token an API key obtained: the key's tenant only (its owner's
/// membership is the key's, deleted with it and with the token), no sign-in of its own, and
/// the key's scopes and networks, as they are now.
async fn for_key_token(
    grant: &TokenGrant,
    key: KeyId,
    tenant: Option<TenantId>,
    state: &impl Authenticator,
    address: IpAddr,
) -> Result<Principal, ApiError> {
    let principal = for_key_token_in(grant, key, tenant)?;
    from_allowed_network(principal, key, &grant.allowed_networks, address, state).await
}

/// The principal of a token `key` obtained, if `tenant` (`manywhotenant`) is the key's or
/// unnamed; its networks are the caller's to check.
fn for_key_token_in(
    grant: &TokenGrant,
    key: KeyId,
    tenant: Option<TenantId>,
) -> Result<Principal, ApiError> {
    if tenant.is_some_and(|tenant| tenant != grant.tenant_id) {
        return Err(ApiError::Forbidden(format!(
            "this token was obtained with an API key, and reaches only the key's tenant {}: \
             not the tenant in manywhotenant",
            grant.tenant_id
        )));
    }
    Ok(Principal {
        user_id: grant.user_id,
        tenant_id: grant.tenant_id,
        via: Via::KeyToken(key),
        tenant_from_header: tenant.is_some(),
        sign_in: None,
        scopes: grant.scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, axum::http::HeaderValue::from_static(value));
        }
        map
    }

    const SEED_TENANT: &str = "b70ef1d6-edc9-4481-94b9-d81g126e32d1";

    #[test]
    fn no_credential_is_read_as_nothing_whatever_the_tenant_header_says() {
        let only_tenant = headers(&[(TENANT_HEADER, SEED_TENANT)]);
        let read = credentials(&only_tenant).unwrap();
        assert_eq!(read.presented, Presented::Nothing);
        assert_eq!(read.tenant, None);
    }

    #[test]
    fn with_a_credential_a_tenant_that_is_not_a_uuid_or_a_repeated_header_is_a_bad_request() {
        let bad_tenant = headers(&[(API_KEY_HEADER, "kf_x"), (TENANT_HEADER, SEED_TENANT)]);
        assert!(matches!(
            credentials(&bad_tenant),
            Err(ApiError::BadRequest(_))
        ));
        let twice = headers(&[(API_KEY_HEADER, "kf_a"), (API_KEY_HEADER, "kf_b")]);
        assert!(matches!(credentials(&twice), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn a_key_wins_over_a_token_and_bearer_is_taken_off() {
        let both = headers(&[(API_KEY_HEADER, "kf_x"), ("authorization", "Bearer t")]);
        assert_eq!(
            credentials(&both).unwrap().presented,
            Presented::ApiKey("kf_x")
        );
        let token = headers(&[("authorization", "Bearer t")]);
        assert_eq!(
            credentials(&token).unwrap().presented,
            Presented::Token("t")
        );
    }

    #[test]
    fn a_quote_at_either_end_is_taken_off_a_key_or_a_token() {
        for (value, token) in [
            ("\"t\"", "t"),
            ("Bearer \"t\"", "t"),
            ("\"\"t\"\"", "\"t\""),
            // A client that strips only one of the JSON quotes.
            ("\"t", "t"),
            ("t\"", "t"),
            ("Bearer t\"", "t"),
            // Spaces inside the quotes (found by fuzz/auth_headers).
            ("Bearer \"   t  \"", "t"),
            ("\"", ""),
            ("t\"x", "t\"x"),
        ] {
            let sent = HeaderValue::from_str(value).unwrap();
            let mut map = HeaderMap::new();
            map.insert(header::AUTHORIZATION, sent);
            assert_eq!(
                credentials(&map).unwrap().presented,
                Presented::Token(token),
                "{value}"
            );
        }
        for value in ["\"kf_x\"", "\"kf_x", "kf_x\""] {
            let key = HeaderMap::from_iter([(API_KEY.clone(), HeaderValue::from_static(value))]);
            assert_eq!(
                credentials(&key).unwrap().presented,
                Presented::ApiKey("kf_x")
            );
        }
    }

    #[test]
    fn a_token_in_the_key_header_presents_as_a_key_token() {
        for value in ["kft_abc", "\"kft_abc\"", "kft_abc\""] {
            let sent = HeaderMap::from_iter([(API_KEY.clone(), HeaderValue::from_static(value))]);
            assert_eq!(
                credentials(&sent).unwrap().presented,
                Presented::KeyToken("kft_abc")
            );
        }
        // It wins over Authorization as a key does.
        let both = headers(&[(API_KEY_HEADER, "kft_abc"), ("authorization", "kft_other")]);
        assert_eq!(
            credentials(&both).unwrap().presented,
            Presented::KeyToken("kft_abc")
        );
    }

    #[test]
    fn a_null_or_empty_tenant_header_is_no_tenant_header() {
        for value in ["null", "NULL", "Null", "", " null "] {
            let sent = headers(&[(API_KEY_HEADER, "kf_x")]);
            let mut sent = sent;
            sent.insert(TENANT.clone(), HeaderValue::from_static(value));
            let read = credentials(&sent).unwrap();
            assert_eq!(read.tenant, None, "{value:?}");
            assert_eq!(read.presented, Presented::ApiKey("kf_x"));
        }
        // Twice is still twice, and anything else still has to be a UUID.
        let twice = headers(&[
            (API_KEY_HEADER, "kf_x"),
            (TENANT_HEADER, "null"),
            (TENANT_HEADER, "null"),
        ]);
        assert!(matches!(credentials(&twice), Err(ApiError::BadRequest(_))));
        for value in ["nul", "none", "undefined", "\"null\""] {
            let mut sent = headers(&[(API_KEY_HEADER, "kf_x")]);
            sent.insert(TENANT.clone(), HeaderValue::from_static(value));
            assert!(
                matches!(credentials(&sent), Err(ApiError::BadRequest(_))),
                "{value}"
            );
        }
    }
}
