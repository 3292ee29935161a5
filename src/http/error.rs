//! One error type for every HTTP answer that is not a success: a JSON string holding a human
//! message (the Flow convention) with the status code that says what went wrong. Internal
//! faults are logged with the request id; the client sees only that id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::net::IpAddr;

use crate::auth::account_throttle::AccountDelayed;
use crate::auth::throttle::{FailureThrottle, Throttled};
use crate::domain::Invalid;
use crate::rules::RuleError;
use crate::store::StoreError;

/// Everything a handler or extractor can refuse with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit of {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("{0}")]
    Unprocessable(String),
    /// Something Boomi's API does that keyflow does not (calling a connector): 501, not a
    /// fault of the request nor of the server.
    #[error("{0}")]
    NotImplemented(String),
    #[error("too many failed attempts from this address; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// An API key past its rate limit (`auth::rate_limit`); the answer also carries the
    /// `RateLimit-*` headers.
    #[error("this API key has used up its rate limit; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// An address past its budget of runs started without a credential.
    #[error(
        "too many runs started without a credential from this address; try again in \
         {retry_after_secs} s, or present an API key or a token"
    )]
    StartsLimited { retry_after_secs: u64 },
    /// An account in its delay after failed sign-ins (`auth::account_throttle`). The same
    /// words for an email with no account, so the answer does not tell whether one exists.
    #[error("too many failed sign-ins for this account; try again in {retry_after_secs} s")]
    AccountDelayed { retry_after_secs: u64 },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::TooManyRequests { .. }
            | ApiError::AccountDelayed { .. }
            | ApiError::RateLimited { .. }
            | ApiError::StartsLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 422 from a domain value that refused its input.
    pub fn invalid(error: Invalid) -> Self {
        ApiError::Unprocessable(error.0)
    }

    /// Counts a refused credential (a 401) against the client's failure budget; the failure
    /// that spends it becomes a 429. Other errors pass through uncounted.
    pub fn counted(self, throttle: &FailureThrottle, address: IpAddr) -> Self {
        if !matches!(self, ApiError::Unauthorized(_)) {
            return self;
        }
        match throttle.failed(address) {
            Ok(()) => self,
            Err(throttled) => throttled.into(),
        }
    }
}

impl From<Throttled> for ApiError {
    fn from(Throttled { retry_after_secs }: Throttled) -> Self {
        ApiError::TooManyRequests { retry_after_secs }
    }
}

impl From<AccountDelayed> for ApiError {
    fn from(AccountDelayed { retry_after_secs }: AccountDelayed) -> Self {
        ApiError::AccountDelayed { retry_after_secs }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) | StoreError::Moved(message) => {
                ApiError::Conflict(message)
            }
            StoreError::Missing(message) => ApiError::NotFound(message),
            StoreError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

/// Every refusal of a rule, as a status code.
impl From<RuleError> for ApiError {
    fn from(error: RuleError) -> Self {
        match error {
            RuleError::NotAllowed(message) => ApiError::Forbidden(message),
            RuleError::Missing(message) => ApiError::NotFound(message),
            RuleError::Conflict(message) => ApiError::Conflict(message),
            RuleError::Invalid(message) => ApiError::Unprocessable(message),
            RuleError::WrongCredentials(message) => ApiError::Unauthorized(message),
            RuleError::Throttled(throttled) => throttled.into(),
            RuleError::AccountDelayed(delayed) => delayed.into(),
            RuleError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}

/// The body every error carries: a JSON string.
pub(crate) fn message_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::Value::String(message.to_string()).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

impl ApiError {
    /// What the client is told. An internal fault is logged here with the request id, and the
    /// message names only that id.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::Internal(cause) => {
                let request_id = crate::http::scope::current_request_id();
                tracing::error!(request_id = %request_id, error = format!("{cause:#}"), "internal error");
                format!("keyflow could not complete the request (request id {request_id})")
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.client_message();
        let mut response = message_response(status, &message);
        match &self {
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "ApiKey realm=\"keyflow\", header=\"x-boomi-flow-api-key\"",
                    ),
                );
            }
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::AccountDelayed { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs }
            | ApiError::StartsLimited { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}
