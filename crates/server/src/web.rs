//! The web chat page at `/`: static files compiled into the binary (the page, its script, a small
//! Markdown renderer and KaTeX 0.16 for math, with its fonts), so the page works offline and
//! loads nothing from elsewhere.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::Shared;

const INDEX: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const MARKDOWN_JS: &str = include_str!("../static/markdown.js");
const STYLE: &str = include_str!("../static/style.css");
const KATEX_JS: &str = include_str!("../static/vendor/katex/katex.min.js");
const KATEX_CSS: &str = include_str!("../static/vendor/katex/katex.min.css");

macro_rules! fonts {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../static/vendor/katex/fonts/", $name)) as &[u8])),*]
    };
}

/// KaTeX's woff2 fonts (its CSS lists woff and ttf after them; browsers take the first).
const FONTS: &[(&str, &[u8])] = fonts!(
    "KaTeX_AMS-Regular.woff2",
    "KaTeX_Caligraphic-Bold.woff2",
    "KaTeX_Caligraphic-Regular.woff2",
    "KaTeX_Fraktur-Bold.woff2",
    "KaTeX_Fraktur-Regular.woff2",
    "KaTeX_Main-Bold.woff2",
    "KaTeX_Main-BoldItalic.woff2",
    "KaTeX_Main-Italic.woff2",
    "KaTeX_Main-Regular.woff2",
    "KaTeX_Math-BoldItalic.woff2",
    "KaTeX_Math-Italic.woff2",
    "KaTeX_SansSerif-Bold.woff2",
    "KaTeX_SansSerif-Italic.woff2",
    "KaTeX_SansSerif-Regular.woff2",
    "KaTeX_Script-Regular.woff2",
    "KaTeX_Size1-Regular.woff2",
    "KaTeX_Size2-Regular.woff2",
    "KaTeX_Size3-Regular.woff2",
    "KaTeX_Size4-Regular.woff2",
    "KaTeX_Typewriter-Regular.woff2",
);

fn file(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn font(Path(name): Path<String>) -> Response {
    match FONTS.iter().find(|(n, _)| *n == name) {
        Some((_, bytes)) => {
            ([(header::CONTENT_TYPE, "font/woff2"), (header::CACHE_CONTROL, "max-age=86400")], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "").into_response(),
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { file("text/html; charset=utf-8", INDEX) }))
        .route("/app.js", get(|| async { file("text/javascript; charset=utf-8", APP_JS) }))
        .route("/markdown.js", get(|| async { file("text/javascript; charset=utf-8", MARKDOWN_JS) }))
        .route("/style.css", get(|| async { file("text/css; charset=utf-8", STYLE) }))
        .route("/vendor/katex/katex.min.js", get(|| async { file("text/javascript; charset=utf-8", KATEX_JS) }))
        .route("/vendor/katex/katex.min.css", get(|| async { file("text/css; charset=utf-8", KATEX_CSS) }))
        .route("/vendor/katex/fonts/{name}", get(font))
}
