//! Errors as OpenAI sends them: `{"error": {"message", "type", "param", "code"}}` with the HTTP
//! status a client library maps to its exception classes (400, 401, 404, 413, 429, 503, 500).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reasoner_engine::EngineError;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), kind, param: None, code: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }
    /// A field of the request body is missing, of the wrong type or out of range.
    pub fn bad_field(param: &str, message: impl Into<String>) -> Self {
        Self { param: Some(param.to_string()), ..Self::bad_request(format!("{param}: {}", message.into())) }
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self { code: Some("invalid_api_key"), ..Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message) }
    }
    pub fn not_found(message: impl Into<String>, code: &'static str) -> Self {
        Self { code: Some(code), ..Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message) }
    }
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self {
            code: Some("rate_limit_exceeded"),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message)
        }
    }
    pub fn overloaded(message: impl Into<String>) -> Self {
        Self { code: Some("server_overloaded"), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message) }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::InvalidParam { field, .. } => {
                Self::bad_field(field, e.to_string().split_once(": ").map_or(e.to_string(), |x| x.1.to_string()))
            }
            EngineError::EmptyPrompt | EngineError::TokenOutOfRange { .. } => Self::bad_request(e.to_string()),
            EngineError::PromptTooLong { .. } | EngineError::KvBudget { .. } => Self {
                code: Some("context_length_exceeded"),
                ..Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", e.to_string())
            },
            _ => Self::internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;
