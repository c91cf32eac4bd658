//! Rendering a page, and the one HTML error page: what every other page module and the
//! refusal table build on (it depends on neither).

use crate::error::ApiError;
use askama::Template;
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    code: &'a str,
    message: &'a str,
}

/// A rendered page, never cached.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// An HTML error page carrying the same stable code as the API.
pub fn error_page(status: StatusCode, title: &str, e: &ApiError) -> Response {
    let mut r = render(&MessagePage {
        title,
        code: e.code,
        message: &e.message,
    });
    *r.status_mut() = status;
    r
}
