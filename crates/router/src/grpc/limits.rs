//! How much a request may carry, and how much the router takes on at once, in one place.
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
//! | requests in flight, whole router | 256 (`--grpc-max-in-flight`) | here ([`InFlightLayer`]): over it RESOURCE_EXHAUSTED at once, retry in [`SHED_RETRY_AFTER`] |
//! | requests in flight, one connection | 8 (`--grpc-max-in-flight-per-connection`) | here, the same way, checked first; the refusal is answered after [`SHED_RETRY_AFTER`] |
//! | HTTP/2 streams open on one connection | 1,024 (`--grpc-max-streams-per-connection`) | hyper/h2: SETTINGS_MAX_CONCURRENT_STREAMS; a stream over it is reset with REFUSED_STREAM |
//! | a request's time | the client's `grpc-timeout`, at most 30 s (`--grpc-request-timeout-seconds`) | tonic (`Server::timeout`): CANCELLED; the work itself finishes ([`InFlightLayer`]) |
//! | a request message's arrival | the same 30 s | tonic answers CANCELLED and hyper resets the stream, so the handler waiting for the message fails, does nothing and frees its slot |
//! | request headers (all metadata) | [`MAX_HEADER_LIST_BYTES`] (16 KiB) | hyper/h2: HTTP 431, the call fails before any handler runs |
//! | unread request data | [`STREAM_WINDOW_BYTES`] (1 MiB) a stream, [`CONNECTION_WINDOW_BYTES`] (2 MiB) a connection | HTTP/2 flow control |
//! | an idle or dead peer | pinged every [`KEEPALIVE_INTERVAL`] (30 s), dropped after [`KEEPALIVE_TIMEOUT`] (10 s) without an answer; TCP keep-alive [`TCP_KEEPALIVE`] (60 s) | hyper, the socket |
//!
//! Field limits answer INVALID_ARGUMENT naming the field and the limit. The message limit
//! comes first: the largest legitimate request (an article at every limit) is about 100 KB, so
//! 1 MiB leaves room while a client cannot make the router buffer megabytes it will refuse.
//!
//! # Overload
//! The router never queues work it cannot start: a request over an in-flight limit is answered
//! RESOURCE_EXHAUSTED at once, with `grpc-retry-pushback-ms` metadata (gRPC's retry pushback),
//! a `google.rpc.RetryInfo` detail and the delay in its message, and counted in
//! `hotline_grpc_shed_total{reason}`. The per-connection limit is checked first and is a
//! quarter of the router's, so one connection flooding the router is refused on its own
//! account while other connections still have room: a well-behaved client on its own
//! connection is not shed because someone else floods. Health checks (`grpc.health.v1`) are
//! never counted nor shed, so a load balancer sees a busy router as alive.
//!
//! A request counts until its handler has finished, and the handler runs to its end even when
//! the client cancels or its deadline passes: a submit is committed and queued, or not
//! started, never cut off between the two. A streaming answer (WatchEvents, a queue watch)
//! counts until its stream has started; the stream limit bounds the open ones.
//!
//! A slow client cannot pin memory for long, nor much of it. A message it sends slowly is
//! dropped with its slot at the request timeout (once the timeout's answer is sent, the stream
//! is reset, which ends the handler's wait for the message). What it did send is bounded by the
//! message limit times the in-flight limits (8 MiB a connection, 256 MiB for the router, by
//! default) and by the flow-control windows above. What it does not read stays in hyper's send
//! buffer (400 KB a stream). A peer that stops answering pings is dropped.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};

use crate::error::RouterError;

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

// ---------------------------------------------------------------- HTTP/2 and connections

/// The most header bytes (all metadata, as HPACK decodes them) a request may have. A bearer
/// token is about 1 KB and an API key less; 16 KiB (hyper's default, stated here so it stays
/// so) leaves room while a client cannot make the router decode megabytes of headers.
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
/// HTTP/2 flow control: request data a stream may send before the router has read it. One
/// largest message, so a legitimate request never waits on a window update.
pub const STREAM_WINDOW_BYTES: u32 = MAX_REQUEST_BYTES as u32;
/// The same for all the streams of one connection together: what one connection can make the
/// router hold unread. Fixed (no adaptive window), so a client cannot grow it.
pub const CONNECTION_WINDOW_BYTES: u32 = 2 * STREAM_WINDOW_BYTES;
/// The router pings a connection this long idle, and drops it when the ping is not answered
/// within [`KEEPALIVE_TIMEOUT`]: a client that vanished (a NAT that forgot it, a crashed
/// kiosk) stops holding its streams and buffers. 30 s is well over the 10 s gRPC clients allow
/// the other way and under the few minutes a NAT keeps an idle mapping.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keep-alive on accepted sockets, for a peer that is gone before HTTP/2 is up.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The serving limits that are configuration (`serve` flags; README: Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcLimits {
    /// Requests in flight over the whole router.
    pub max_in_flight: usize,
    /// Requests in flight on one connection.
    pub max_in_flight_per_connection: usize,
    /// HTTP/2 streams open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_streams_per_connection: u32,
    /// The longest a request may take; a client's shorter `grpc-timeout` wins.
    pub request_timeout: Duration,
}

impl Default for GrpcLimits {
    /// 256 in flight is ten times what the submit bench keeps busy at its peak (16 clients on
    /// a pool of 16 connections): room for bursts, not a queue that only adds latency. 8 a
    /// connection: one client flooding on one connection with 8 submits in flight already
    /// keeps two cores busy, and each in flight beyond that only lengthens everyone else's
    /// wait (benches/overload, 2026-12-06, a well-behaved client's p99 under a flood: 84 ms at
    /// 64 a connection, 23 ms at 8, against 5-7 ms calm). The web desk, which carries all its
    /// users on one connection, keeps well under 8 busy: its requests take milliseconds and
    /// its watches count only until they start. Streams are another matter: the
    /// desk also keeps one or two watches open per browser on that connection, and an idle
    /// watch costs a few KB, so 1,024 streams serve some 500 desk users at once while still
    /// bounding what one connection can hold open.
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_in_flight_per_connection: 8,
            max_streams_per_connection: 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl GrpcLimits {
    /// Checks that the limits make sense together.
    pub fn checked(self) -> Result<Self, String> {
        if self.max_in_flight == 0 || self.max_in_flight_per_connection == 0 {
            return Err("HOTLINE_GRPC_MAX_IN_FLIGHT and HOTLINE_GRPC_MAX_IN_FLIGHT_PER_CONNECTION must be at least 1".into());
        }
        if self.max_in_flight_per_connection > self.max_in_flight {
            return Err(format!(
                "HOTLINE_GRPC_MAX_IN_FLIGHT_PER_CONNECTION ({}) is more than HOTLINE_GRPC_MAX_IN_FLIGHT ({}): one connection could take the whole router",
                self.max_in_flight_per_connection, self.max_in_flight
            ));
        }
        if self.max_streams_per_connection == 0 || self.request_timeout.is_zero() {
            return Err("HOTLINE_GRPC_MAX_STREAMS_PER_CONNECTION and HOTLINE_GRPC_REQUEST_TIMEOUT_SECONDS must be at least 1".into());
        }
        Ok(self)
    }
}

// ---------------------------------------------------------------- in flight: count and shed

/// How long a shed client should wait before trying again: a few times what a submit takes
/// under load, so the retry lands after the burst that filled the router has drained, and short
/// enough that an operator on the phone does not notice one retry.
pub const SHED_RETRY_AFTER: Duration = Duration::from_millis(200);

/// The requests the router is working on: in all, and by connection. Cloning shares it; the
/// server keeps one, and a harness may keep a clone to wait until the router is idle.
#[derive(Debug, Clone)]
pub struct InFlight {
    counts: Arc<Mutex<Counts>>,
    total: Arc<tokio::sync::watch::Sender<usize>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only connections with requests in flight: an entry goes when its count reaches 0.
    by_connection: HashMap<SocketAddr, usize>,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            counts: Arc::default(),
            total: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Connection,
    Server,
}

impl InFlight {
    /// Requests in flight now.
    pub fn now(&self) -> usize {
        *self.total.borrow()
    }

    /// Resolves once `ready` holds for the number of requests in flight (at once if it does).
    pub async fn wait_until(&self, ready: impl FnMut(&usize) -> bool) {
        let mut watch = self.total.subscribe();
        // The sender lives in `self`, so the channel never closes while we wait.
        let _ = watch.wait_for(ready).await;
    }

    /// Counts a request on `connection` in, unless that would pass a limit (the connection's
    /// first). The request counts until the [`Admitted`] is dropped.
    fn admit(
        &self,
        limits: &GrpcLimits,
        connection: Option<SocketAddr>,
    ) -> Result<Admitted, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(addr) = connection {
            let on_connection = counts.by_connection.get(&addr).copied().unwrap_or(0);
            if on_connection >= limits.max_in_flight_per_connection {
                return Err(Refusal::Connection);
            }
        }
        if counts.total >= limits.max_in_flight {
            return Err(Refusal::Server);
        }
        counts.total += 1;
        if let Some(addr) = connection {
            *counts.by_connection.entry(addr).or_default() += 1;
        }
        self.publish(counts.total);
        Ok(Admitted {
            in_flight: self.clone(),
            connection,
        })
    }

    fn release(&self, connection: Option<SocketAddr>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        debug_assert!(counts.total > 0, "a request released twice");
        counts.total = counts.total.saturating_sub(1);
        if let Some(addr) = connection {
            if let std::collections::hash_map::Entry::Occupied(mut entry) =
                counts.by_connection.entry(addr)
            {
                *entry.get_mut() -= 1;
                if *entry.get() == 0 {
                    entry.remove();
                }
            }
        }
        self.publish(counts.total);
    }

    /// (Called with the counts locked, so the watch and the gauge see every value in order.)
    fn publish(&self, total: usize) {
        self.total.send_replace(total);
        metrics::gauge!("hotline_grpc_in_flight").set(total as f64);
    }
}

/// One admitted request; dropping it counts the request out.
#[derive(Debug)]
struct Admitted {
    in_flight: InFlight,
    connection: Option<SocketAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.in_flight.release(self.connection);
    }
}

/// The client's connection, as tonic records it on every request (plaintext or TLS).
fn connection_of<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|tls| tls.get_ref().remote_addr())
        })
}

/// Health checks are answered from memory and must keep answering while the router is full:
/// a load balancer that saw them fail would take a busy router for a dead one.
fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// The refusal a shed client gets; `grpc::status` adds the retry advice.
fn shed(refusal: Refusal, limits: &GrpcLimits) -> RouterError {
    let reason = match refusal {
        Refusal::Connection => "connection",
        Refusal::Server => "server",
    };
    metrics::counter!("hotline_grpc_shed_total", "reason" => reason).increment(1);
    RouterError::Overloaded(match refusal {
        Refusal::Connection => format!(
            "this connection already has {} requests in flight, the most one connection may have; \
             wait for some to finish",
            limits.max_in_flight_per_connection
        ),
        Refusal::Server => format!(
            "the router is busy: {} requests in flight, its limit",
            limits.max_in_flight
        ),
    })
}

/// Counts requests in and sheds those over a limit (see the module docs), and runs each
/// admitted request to its end on its own task, so that a client that cancels or whose
/// deadline passes leaves nothing half done.
#[derive(Debug, Clone)]
pub struct InFlightLayer {
    in_flight: InFlight,
    limits: GrpcLimits,
}

impl InFlightLayer {
    pub fn new(in_flight: InFlight, limits: GrpcLimits) -> Self {
        Self { in_flight, limits }
    }
}

impl<S> tower::Layer<S> for InFlightLayer {
    type Service = InFlightService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        InFlightService {
            inner,
            in_flight: self.in_flight.clone(),
            limits: self.limits,
        }
    }
}

#[derive(Debug, Clone)]
pub struct InFlightService<S> {
    inner: S,
    in_flight: InFlight,
    limits: GrpcLimits,
}

impl<S, B> tower::Service<http::Request<B>> for InFlightService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if is_exempt(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        let admitted = match self.in_flight.admit(&self.limits, connection_of(&request)) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                let status = Status::from(shed(refusal, &self.limits));
                // A connection over its own limit hears its refusal after the wait it is told
                // to keep. A client that ignores the advice and retries at once would
                // otherwise spin: each refusal is cheap, but tens of thousands a second take
                // the cores from everyone else (measured: a flood on one connection shed
                // 20,000 times a second and multiplied a well-behaved client's p99 by five).
                // Held, it can refuse only as fast as its streams allow (the stream limit over
                // the wait), and the held refusals cost a timer each, with no work begun. The
                // router-wide limit answers at once: that client is not the one at fault.
                let hold = match refusal {
                    Refusal::Connection => SHED_RETRY_AFTER,
                    Refusal::Server => Duration::ZERO,
                };
                return Box::pin(async move {
                    if !hold.is_zero() {
                        tokio::time::sleep(hold).await;
                    }
                    Ok(status.into_http())
                });
            }
        };
        let answer = self.inner.call(request);
        // Its own task: dropping this future (the client reset the stream, or tonic's timeout
        // fired) no longer drops the handler half way; the request counts until it is done.
        let work = tokio::spawn(async move {
            let answer = answer.await;
            drop(admitted);
            answer
        });
        Box::pin(async move {
            match work.await {
                Ok(answer) => answer,
                // A panicking handler: the panic is in the log; the client gets INTERNAL.
                Err(err) => Ok(Status::from(RouterError::internal(anyhow::anyhow!(
                    "a request handler failed: {err}"
                )))
                .into_http()),
            }
        })
    }
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

    fn limits(server: usize, per_connection: usize) -> GrpcLimits {
        GrpcLimits {
            max_in_flight: server,
            max_in_flight_per_connection: per_connection,
            ..GrpcLimits::default()
        }
    }

    #[test]
    fn a_connection_at_its_limit_is_refused_before_the_router_is_full() {
        let in_flight = InFlight::default();
        let limits = limits(3, 2);
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let first = in_flight.admit(&limits, Some(a)).unwrap();
        let _second = in_flight.admit(&limits, Some(a)).unwrap();
        assert_eq!(
            in_flight.admit(&limits, Some(a)).unwrap_err(),
            Refusal::Connection
        );
        // Another connection still gets the room that is left, and then the router is full.
        let _third = in_flight.admit(&limits, Some(b)).unwrap();
        assert_eq!(
            in_flight.admit(&limits, Some(b)).unwrap_err(),
            Refusal::Server
        );
        assert_eq!(in_flight.now(), 3);
        drop(first);
        assert_eq!(in_flight.now(), 2);
        assert!(in_flight.admit(&limits, Some(b)).is_ok());
    }

    #[test]
    fn a_connection_with_nothing_in_flight_leaves_no_entry_behind() {
        let in_flight = InFlight::default();
        let limits = limits(8, 4);
        for port in 0..100 {
            let addr = SocketAddr::from(([127, 0, 0, 1], 2000 + port));
            drop(in_flight.admit(&limits, Some(addr)).unwrap());
        }
        let counts = in_flight.counts.lock().unwrap();
        assert_eq!(counts.total, 0);
        assert!(
            counts.by_connection.is_empty(),
            "{:?}",
            counts.by_connection
        );
    }

    #[test]
    fn only_health_checks_are_exempt() {
        assert!(is_exempt("/grpc.health.v1.Health/Check"));
        assert!(is_exempt("/grpc.health.v1.Health/Watch"));
        assert!(!is_exempt("/hotline.v1.Intake/SubmitTicket"));
        assert!(!is_exempt(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
    }

    #[test]
    fn limits_where_one_connection_could_take_the_router_are_refused() {
        assert!(limits(4, 8)
            .checked()
            .unwrap_err()
            .contains("one connection"));
        assert!(limits(0, 0).checked().is_err());
        assert_eq!(GrpcLimits::default().checked(), Ok(GrpcLimits::default()));
    }
}
