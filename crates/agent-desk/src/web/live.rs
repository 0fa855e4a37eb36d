//! `/desk/events`: one Server-Sent Events stream per browser, carrying the router's live
//! notices as named events. desk.js opens it in one tab only (the one holding the
//! `desk-events` Web Lock) and passes each event to the other tabs over a BroadcastChannel, so
//! a person with ten tabs open still uses one of the browser's six HTTP/1.1 connections.
//!
//! Sources, by role:
//! - station staff: `Station.WatchQueue` for their station (`queue`: a ticket arrived) and
//!   `Kpis.WatchEvents` for their station (`ticket`: any change, e.g. a colleague signed);
//! - everyone else: `Kpis.WatchEvents` over their scope (`ticket`).
//!
//! Besides those, the stream says how the router is: `router` `up` / `down` (the page shows a
//! banner while it is down; the desk keeps retrying, with backoff), `mode` `poll` when no source
//! is available (UNIMPLEMENTED: a router from before `Kpis.WatchEvents`; PERMISSION_DENIED: one
//! that does not let this role watch), so the page polls faster instead, and `session` `expired`.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use hotline_proto::v1 as pb;
use hotline_proto::v1::kpis_client::KpisClient;
use hotline_proto::v1::station_client::StationClient;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::session::Conn;

/// The first wait before trying the router again; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// What a source's failure means for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// This router does not have the source, or does not let this role use it: stop trying it.
    Unsupported,
    /// The session's token is no longer accepted: stop, tell the page.
    Expired,
    /// Anything else (router down, restarting, overloaded): tell the page, try again.
    Retry,
}

pub fn failure(status: &tonic::Status) -> Failure {
    match status.code() {
        tonic::Code::Unimplemented | tonic::Code::PermissionDenied => Failure::Unsupported,
        tonic::Code::Unauthenticated => Failure::Expired,
        _ => Failure::Retry,
    }
}

/// One notice for the page.
fn event(name: &str, data: String) -> Event {
    Event::default().event(name).data(data)
}

/// The `ticket` event's data: what the page needs to decide whether to refresh.
pub fn ticket_data(notice: &pb::TicketEventNotice) -> String {
    json!({
        "ticket_id": notice.ticket_id,
        "seq": notice.seq,
        "kind": notice.kind,
        "stage": crate::vocab::stage_code(notice.stage),
        "station_id": notice.station_id,
        "alert": notice.alert,
    })
    .to_string()
}

#[derive(Clone, Copy)]
enum Source {
    Queue,
    Events,
}

/// The stream for one browser; it ends when the browser goes away.
pub fn stream(
    conn: Conn,
    role: &str,
    station_id: &str,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(32);
    let station = (role == "station_staff").then(|| station_id.to_owned());
    let sources: Vec<Source> = if station.is_some() {
        vec![Source::Queue, Source::Events]
    } else {
        vec![Source::Events]
    };
    let total = sources.len();
    let (gone_tx, mut gone_rx) = mpsc::channel::<()>(total);
    for source in sources {
        let (conn, tx, station, gone) =
            (conn.clone(), tx.clone(), station.clone(), gone_tx.clone());
        tokio::spawn(async move {
            pump(conn, source, station, &tx).await;
            let _ = gone.send(()).await;
        });
    }
    // When every source is unsupported, the page is told to poll; the stream stays open (a
    // closed one would make the browser reconnect every few seconds for nothing).
    tokio::spawn(async move {
        let mut unsupported = 0;
        while gone_rx.recv().await.is_some() {
            unsupported += 1;
            if unsupported == total {
                let _ = tx.send(event("mode", "poll".into())).await;
                tx.closed().await;
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(rx).map(Ok)).keep_alive(KeepAlive::default())
}

/// Forwards one source until the browser goes away or the source is unsupported (returns).
async fn pump(conn: Conn, source: Source, station: Option<String>, tx: &mpsc::Sender<Event>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let opened = match source {
            Source::Queue => StationClient::new(conn.clone())
                .watch_queue(pb::WatchQueueRequest {
                    station_id: station.clone().unwrap_or_default(),
                })
                .await
                .map(|r| Stream::Queue(r.into_inner())),
            Source::Events => KpisClient::new(conn.clone())
                .watch_events(pb::WatchEventsRequest {
                    scope: station.clone().map(|s| pb::KpiScope {
                        station_id: s,
                        division_code: String::new(),
                    }),
                })
                .await
                .map(|r| Stream::Events(r.into_inner())),
        };
        let ended = match opened {
            Ok(mut stream) => {
                backoff = FIRST_BACKOFF;
                if tx.send(event("router", "up".into())).await.is_err() {
                    return;
                }
                loop {
                    let next = tokio::select! {
                        () = tx.closed() => return,
                        next = stream.next() => next,
                    };
                    match next {
                        Ok(Some(e)) => {
                            if tx.send(e).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        };
        match ended.as_ref().map(failure) {
            Some(Failure::Unsupported) => return,
            Some(Failure::Expired) => {
                let _ = tx.send(event("session", "expired".into())).await;
                tx.closed().await;
                return;
            }
            // A stream that ended (the router shutting down) or failed: retry after a while.
            Some(Failure::Retry) | None => {
                if tx.send(event("router", "down".into())).await.is_err() {
                    return;
                }
            }
        }
        tokio::select! {
            () = tx.closed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

enum Stream {
    Queue(tonic::Streaming<pb::QueueItem>),
    Events(tonic::Streaming<pb::TicketEventNotice>),
}

impl Stream {
    async fn next(&mut self) -> Result<Option<Event>, tonic::Status> {
        Ok(match self {
            Stream::Queue(s) => s
                .message()
                .await?
                .map(|item| event("queue", json!({ "ticket_id": item.ticket_id }).to_string())),
            Stream::Events(s) => s
                .message()
                .await?
                .map(|notice| event("ticket", ticket_data(&notice))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_router_means_poll_an_expired_token_means_login_and_the_rest_retry() {
        let code = |c| failure(&tonic::Status::new(c, "x"));
        assert_eq!(code(tonic::Code::Unimplemented), Failure::Unsupported);
        assert_eq!(code(tonic::Code::PermissionDenied), Failure::Unsupported);
        assert_eq!(code(tonic::Code::Unauthenticated), Failure::Expired);
        for c in [
            tonic::Code::Unavailable,
            tonic::Code::Internal,
            tonic::Code::DeadlineExceeded,
            tonic::Code::Cancelled,
        ] {
            assert_eq!(code(c), Failure::Retry, "{c:?}");
        }
    }

    #[test]
    fn a_ticket_event_names_the_ticket_its_version_and_stage() {
        let data = ticket_data(&pb::TicketEventNotice {
            ticket_id: "T1".into(),
            seq: 4,
            kind: "sign_for".into(),
            stage: pb::Stage::InProgress as i32,
            station_id: "320508021019-css".into(),
            ..Default::default()
        });
        let v: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(v["ticket_id"], "T1");
        assert_eq!(v["seq"], 4);
        assert_eq!(v["stage"], "in_progress");
    }
}
