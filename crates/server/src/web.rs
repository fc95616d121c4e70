//! The web chat page at `/`: static files compiled into the binary, so the page works offline
//! and loads nothing from elsewhere.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::Shared;

const INDEX: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const MARKDOWN_JS: &str = include_str!("../static/markdown.js");
const STYLE: &str = include_str!("../static/style.css");

fn file(kind: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body)
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { file("text/html; charset=utf-8", INDEX) }))
        .route("/app.js", get(|| async { file("text/javascript; charset=utf-8", APP_JS) }))
        .route("/markdown.js", get(|| async { file("text/javascript; charset=utf-8", MARKDOWN_JS) }))
        .route("/style.css", get(|| async { file("text/css; charset=utf-8", STYLE) }))
}
