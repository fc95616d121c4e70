//! The router: the OpenAI routes behind the key check and rate limit, `/health`, `/metrics`,
//! the history API the web page uses, the page itself, and OpenAI-shaped 404s for the rest.

use crate::completions;
use crate::error::{ApiError, ApiResult};
use crate::history::{History, Message};
use crate::state::Shared;
use crate::web;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// Largest request body: long prompts fit, a runaway upload does not.
const BODY_LIMIT: usize = 16 << 20;

pub fn router(state: Shared) -> Router {
    let guarded = Router::new()
        .route("/v1/chat/completions", post(completions::chat))
        .route("/v1/completions", post(completions::text))
        .route("/v1/models", get(models))
        .route("/api/conversations", get(list).post(create))
        .route("/api/conversations/{id}", get(fetch).patch(rename).delete(remove))
        .route("/api/conversations/{id}/messages", post(add_message))
        .layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/config", get(config))
        .merge(web::routes())
        .merge(guarded)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), count_status))
        .with_state(state)
}

async fn count_status(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    s.metrics.count_status(r.status().as_u16());
    // axum's own rejections (body too large, bad method) come as plain text: re-shape them.
    let plain = r.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if plain && (r.status().is_client_error() || r.status().is_server_error()) {
        let status = r.status();
        let kind = if status.is_server_error() { "server_error" } else { "invalid_request_error" };
        r = ApiError::new(status, kind, status.canonical_reason().unwrap_or("error")).into_response();
    }
    r
}

/// `Authorization: Bearer KEY` when the server has keys, then the key's rate limit.
async fn authorize(State(s): State<Shared>, headers: HeaderMap, req: Request, next: Next) -> Response {
    let Some(keys) = &s.keys else { return next.run(req).await };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(presented) = presented else {
        return ApiError::unauthorized("missing API key: send `Authorization: Bearer KEY`").into_response();
    };
    let Some(index) = keys.check(presented) else {
        return ApiError::unauthorized("incorrect API key").into_response();
    };
    let rpm = keys.rpm(index).unwrap_or(s.default_rpm);
    if !s.limiter.allow(index, rpm, 1.0) {
        return ApiError::rate_limited(format!("rate limit of {rpm} requests per minute reached for this key"))
            .into_response();
    }
    next.run(req).await
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no route {} {}", req.method(), req.uri().path()), "unknown_url")
}

async fn health(State(s): State<Shared>) -> Json<Value> {
    let e = s.engine.status();
    Json(json!({"status": "ok", "model": s.model_id, "running": e.running, "queued": e.waiting}))
}

async fn metrics(State(s): State<Shared>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render(&s.engine.status()))
}

async fn models(State(s): State<Shared>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": s.model_id, "object": "model", "created": s.created, "owned_by": "reasoner", "max_model_len": s.max_positions}],
    }))
}

async fn config(State(s): State<Shared>) -> Json<Value> {
    Json(
        json!({"model": s.model_id, "history": s.history.is_some(), "auth": s.keys.is_some(), "max_model_len": s.max_positions}),
    )
}

fn db(s: &Shared) -> ApiResult<History> {
    s.history.clone().ok_or_else(|| {
        ApiError::not_found("conversation history is off: the server has no database", "history_disabled")
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::history::HistoryError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn title_of(body: &Bytes) -> ApiResult<String> {
    let obj = crate::openai::parse_json(body)?;
    match obj.get("title") {
        None | Some(Value::Null) => Ok("New chat".into()),
        Some(Value::String(t)) if t.chars().count() <= 200 => Ok(t.clone()),
        Some(_) => Err(ApiError::bad_field("title", "must be a string of at most 200 characters")),
    }
}

async fn list(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    let h = db(&s)?;
    Ok(Json(json!({"data": blocking(move || h.list()).await?})))
}

async fn create(State(s): State<Shared>, body: Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let h = db(&s)?;
    let title = title_of(&body)?;
    Ok((StatusCode::CREATED, Json(json!(blocking(move || h.create(&title)).await?))))
}

fn missing(id: i64) -> ApiError {
    ApiError::not_found(format!("no conversation {id}"), "conversation_not_found")
}

async fn fetch(State(s): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let h = db(&s)?;
    let (conv, messages) = blocking(move || h.get(id)).await?.ok_or_else(|| missing(id))?;
    Ok(Json(json!({"conversation": conv, "messages": messages})))
}

async fn rename(State(s): State<Shared>, Path(id): Path<i64>, body: Bytes) -> ApiResult<Json<Value>> {
    let h = db(&s)?;
    let title = title_of(&body)?;
    if !blocking(move || h.rename(id, &title)).await? {
        return Err(missing(id));
    }
    Ok(Json(json!({"ok": true})))
}

async fn remove(State(s): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let h = db(&s)?;
    if !blocking(move || h.delete(id)).await? {
        return Err(missing(id));
    }
    Ok(Json(json!({"ok": true})))
}

async fn add_message(
    State(s): State<Shared>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let h = db(&s)?;
    let m: Message =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid message: {e}")))?;
    if !matches!(m.role.as_str(), "user" | "assistant" | "system") {
        return Err(ApiError::bad_field("role", "must be user, assistant or system"));
    }
    let mid = blocking(move || h.add_message(id, &m)).await?.ok_or_else(|| missing(id))?;
    Ok((StatusCode::CREATED, Json(json!({"id": mid}))))
}
