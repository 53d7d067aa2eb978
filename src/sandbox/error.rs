//! The API's error responses: `{"errors": [{"title", "detail", "source"}]}` with the status codes
//! of docs/hg-api.md §1.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error the sandbox answers with, as the real API would.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// JSON pointer into the request (or `/<name>` for a query parameter).
    pub pointer: Option<String>,
    /// Query-parameter name, for errors about GET parameters.
    pub parameter: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError { status, detail: detail.into(), pointer: None, parameter: None }
    }

    /// 422: the request is well-formed JSON but breaks a rule; `pointer` says where.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError { pointer: Some(pointer.into()), ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail) }
    }

    /// 422 about a query parameter of a GET endpoint.
    pub fn invalid_parameter(name: &str, detail: impl Into<String>) -> ApiError {
        ApiError { parameter: Some(name.to_string()), ..ApiError::invalid(format!("/{name}"), detail) }
    }

    pub fn malformed(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn credits_exhausted(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYMENT_REQUIRED, detail)
    }

    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("No endpoint at {path}"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed on {path}"))
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("Request body is larger than {limit} bytes"))
    }

    pub fn too_many_requests() -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
    }

    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Service temporarily unavailable")
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut source = serde_json::Map::new();
        if let Some(pointer) = &self.pointer {
            source.insert("pointer".into(), json!(pointer));
        }
        if let Some(parameter) = &self.parameter {
            source.insert("parameter".into(), json!(parameter));
        }
        let body = json!({"errors": [{"title": self.title(), "detail": self.detail, "source": source}]});
        (self.status, Json(body)).into_response()
    }
}
