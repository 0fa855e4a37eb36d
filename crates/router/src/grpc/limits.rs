//! How much a request may carry, in one place.
//!
//! | what | limit | where it is enforced |
//! |---|---|---|
//! | a request message | [`MAX_REQUEST_BYTES`] (1 MiB) | here: before it is decoded, RESOURCE_EXHAUSTED |
//! | request text, notes, replies | 4,000 characters | `hotline_core::ticket::{TEXT_MAX_CHARS, NOTE_MAX_CHARS}` |
//! | address | 500 characters | `hotline_core::ticket::ADDRESS_MAX_CHARS` |
//! | caller name | 64 characters | `hotline_core::ticket::NAME_MAX_CHARS` |
//! | article fields and lists (同义问法 50, categories 20, territories 50, ...) | | `hotline_knowledge::domain::limits` |
//! | categories in a knowledge search | 20 (as on an article) | `grpc::knowledge` |
//! | an integrator's channels and RPCs | each listed once | `grpc::auth` |
//! | search and list page sizes | 500 tickets, 50 articles found, 1,000 listed | `grpc::intake`, `grpc::knowledge` |
//!
//! Field limits answer INVALID_ARGUMENT naming the field and the limit. The message limit
//! comes first: the largest legitimate request (an article at every limit) is about 100 KB, so
//! 1 MiB leaves room while a client cannot make the router buffer megabytes it will refuse.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::{Code, Status};

/// The largest request message the router decodes, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// tonic refuses a message over the limit before our codec sees it, as OUT_OF_RANGE ("a value
/// outside the range a field accepts"), which tells the client nothing useful. gRPC's own
/// servers answer RESOURCE_EXHAUSTED for it; this layer makes tonic's answer that, naming the
/// limit. The router itself never answers OUT_OF_RANGE (`crate::error::ErrorCode`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageSizeLayer;

impl<S> tower::Layer<S> for MessageSizeLayer {
    type Service = MessageSize<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MessageSize { inner }
    }
}

#[derive(Debug, Clone)]
pub struct MessageSize<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for MessageSize<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // A refused request is answered "trailers-only": its status is in the headers.
            Ok(match Status::from_header_map(response.headers()) {
                Some(status) if is_oversized(&status) => {
                    tracing::debug!(message = status.message(), "request over the size limit");
                    oversized().into_http()
                }
                _ => response,
            })
        })
    }
}

fn is_oversized(status: &Status) -> bool {
    status.code() == Code::OutOfRange
        && status
            .message()
            .starts_with("Error, decoded message length too large")
}

fn oversized() -> Status {
    Status::resource_exhausted(format!(
        "the request is larger than the {MAX_REQUEST_BYTES} bytes a message may have; \
         text is at most {} characters and an address {}",
        hotline_core::ticket::TEXT_MAX_CHARS,
        hotline_core::ticket::ADDRESS_MAX_CHARS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tonics_size_refusal_becomes_resource_exhausted() {
        assert!(is_oversized(&Status::out_of_range(
            "Error, decoded message length too large: found 5000013 bytes, the limit is: 1048576 bytes"
        )));
        assert!(!is_oversized(&Status::out_of_range("something else")));
        assert!(!is_oversized(&Status::invalid_argument(
            "Error, decoded message length too large"
        )));
        let status = oversized();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("1048576"), "{status:?}");
    }
}
