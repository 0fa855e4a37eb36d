//! `Kpis`: the supervision figures, the at-risk list and the live event stream. The figures
//! are the KPI crate's; this adapter checks the scope the caller asks for, converts, and names
//! stations and divisions for people.

use std::pin::Pin;

use hotline_identity::{Principal, Scope as PrincipalScope};
use hotline_kpi::{Alert, Figures, GroupBy, Kpis, Ratio, Scope};
use hotline_proto::v1 as pb;
use hotline_proto::v1::kpis_server::Kpis as KpisRpc;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::auth::principal;
use super::convert::{division_code, optional, stage_out, station_id, time_in, time_out};
use super::status::invalid;
use crate::error::RouterError;
use crate::feed::{EventFeed, Notice};
use crate::hotspots::{concerns, HotspotRoom};
use crate::kpis::{in_scope, scope_for};
use crate::tickets::Hotline;

pub struct KpisApi {
    hotline: Hotline,
    kpis: Kpis,
    feed: EventFeed,
    shutdown: watch::Receiver<bool>,
}

/// Whether an alert about `alert`'s territory is one a caller with `scope` sees: the centre
/// every one; a territory's supervisors those inside it or holding it; a station's staff those
/// of its place.
fn alert_in_scope(scope: &Scope, alert: &Alert) -> bool {
    match scope {
        Scope::All => true,
        Scope::Division(code) => concerns(&alert.key.territory, code),
        Scope::Station(id) => hotline_core::StationId::parse("station", id)
            .ok()
            .and_then(|station| station.division())
            .is_some_and(|division| concerns(&alert.key.territory, division.as_str())),
    }
}

impl KpisApi {
    pub fn new(
        hotline: Hotline,
        kpis: Kpis,
        feed: EventFeed,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            hotline,
            kpis,
            feed,
            shutdown,
        }
    }

    fn scope(&self, who: &Principal, scope: Option<&pb::KpiScope>) -> Result<Scope, Status> {
        let scope = scope.cloned().unwrap_or_default();
        let station =
            optional(&scope.station_id, |s| station_id("scope.station_id", s)).map_err(invalid)?;
        let division =
            division_code("scope.division_code", &scope.division_code).map_err(invalid)?;
        Ok(scope_for(&self.hotline, who, station, division)?)
    }

    fn hotspots(&self) -> Result<&HotspotRoom, RouterError> {
        self.hotline.hotspots().ok_or_else(|| {
            RouterError::Precondition(
                "hotspot alerts are off on this router (--hotspot-alerts / HOTLINE_HOTSPOT_ALERTS)"
                    .into(),
            )
        })
    }

    /// The alert as the API gives it, with the territory's and category's names.
    fn alert_out(&self, alert: &Alert) -> pb::HotspotAlert {
        pb::HotspotAlert {
            alert_id: alert.id.clone(),
            level: alert.key.level.code().to_owned(),
            division_code: alert.key.territory.clone(),
            division_name: self.label(GroupBy::District, &alert.key.territory),
            category: alert.key.category.clone(),
            category_name: self.label(GroupBy::Category, &alert.key.category),
            count: alert.count,
            peak: alert.peak,
            expected: alert.expected,
            window_seconds: u32::try_from(alert.window.num_seconds()).unwrap_or(u32::MAX),
            since: time_out(Some(alert.since)),
            raised_at: time_out(Some(alert.raised_at)),
            cleared: alert.cleared_at.is_some(),
            cleared_at: time_out(alert.cleared_at),
            incident_id: self
                .hotline
                .hotspots()
                .and_then(|h| h.incident_of(alert))
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }
    }

    /// A name for a row's key: the station's or division's name, else the key itself.
    fn label(&self, group: GroupBy, key: &str) -> String {
        let directory = self.hotline.directory();
        match group {
            GroupBy::Station if key.is_empty() => "受理 (intake)".into(),
            GroupBy::Station => hotline_core::StationId::parse("station", key)
                .ok()
                .and_then(|id| directory.station(&id).map(|s| s.name.clone()))
                .unwrap_or_else(|| key.to_owned()),
            GroupBy::Street | GroupBy::District if key.is_empty() => "未定位 (no territory)".into(),
            GroupBy::Street | GroupBy::District => {
                hotline_core::DivisionCode::parse("division", key)
                    .ok()
                    .and_then(|code| directory.division(&code).map(|d| d.name.clone()))
                    .unwrap_or_else(|| key.to_owned())
            }
            GroupBy::Category => hotline_core::CategoryCode::parse("category", key)
                .ok()
                .and_then(|code| {
                    let routing = self.hotline.routing()?;
                    let name = routing
                        .engine()
                        .classifier()
                        .taxonomy()
                        .get(&code)?
                        .name
                        .clone();
                    Some(format!("{name} ({key})"))
                })
                .unwrap_or_else(|| key.to_owned()),
            GroupBy::Channel => hotline_core::Channel::parse("channel", key)
                .map(|c| c.name_zh().to_owned())
                .unwrap_or_else(|_| key.to_owned()),
            _ => key.to_owned(),
        }
    }
}

fn ratio_out(r: &Ratio) -> pb::KpiRatio {
    pb::KpiRatio {
        numerator: r.numerator,
        denominator: r.denominator,
        rate: r.rate,
        below_threshold: r.below_threshold,
    }
}

pub fn figures_out(f: &Figures) -> pb::KpiFigures {
    pb::KpiFigures {
        sign_for_on_time: Some(ratio_out(&f.sign_for_on_time)),
        response: Some(ratio_out(&f.response)),
        resolved_on_time: Some(ratio_out(&f.resolved_on_time)),
        closure: Some(ratio_out(&f.closure)),
        satisfaction: Some(ratio_out(&f.satisfaction)),
        redo: Some(ratio_out(&f.redo)),
        returns: Some(ratio_out(&f.returns)),
        extensions: Some(ratio_out(&f.extensions)),
        direct_answers: Some(ratio_out(&f.direct_answers)),
        knowledge_hits: Some(ratio_out(&f.knowledge_hits)),
        handling_hours_mean: f.handling_hours_mean,
        handling_hours_p90: f.handling_hours_p90,
        accepted: f.accepted,
        dispatched: f.dispatched,
        replied: f.replied,
        closed: f.closed,
        score: f.score,
    }
}

fn group_in(raw: i32) -> Result<GroupBy, Status> {
    let group = pb::KpiGroupBy::try_from(raw)
        .map_err(|_| Status::invalid_argument(format!("group_by: {raw} is not a grouping")))?;
    Ok(match group {
        pb::KpiGroupBy::None => GroupBy::None,
        pb::KpiGroupBy::Station => GroupBy::Station,
        pb::KpiGroupBy::Street => GroupBy::Street,
        pb::KpiGroupBy::District => GroupBy::District,
        pb::KpiGroupBy::Category => GroupBy::Category,
        pb::KpiGroupBy::Channel => GroupBy::Channel,
        pb::KpiGroupBy::Staff => GroupBy::Staff,
        pb::KpiGroupBy::Day => GroupBy::Day,
    })
}

/// Whether `who` may see the event of this notice (besides the scope): an integrator sees the
/// tickets it submitted (recorded under its login).
fn may_see(who: &Principal, notice: &Notice) -> bool {
    match &who.scope {
        PrincipalScope::Integrator { .. } => {
            notice.submitted_by.as_deref() == Some(who.login.as_str())
        }
        _ => true,
    }
}

fn notice_out(n: &Notice) -> pb::TicketEventNotice {
    pb::TicketEventNotice {
        ticket_id: n.event.ticket_id.to_string(),
        seq: n.event.seq,
        kind: n.event.action.name().to_owned(),
        stage: stage_out(n.event.stage),
        at: time_out(Some(n.event.at)),
        station_id: n.station.clone().unwrap_or_default(),
        division_code: n.division.clone().unwrap_or_default(),
        alert: n.alert().to_owned(),
    }
}

#[tonic::async_trait]
impl KpisRpc for KpisApi {
    async fn get_kpis(
        &self,
        request: Request<pb::GetKpisRequest>,
    ) -> Result<Response<pb::GetKpisResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let scope = self.scope(&who, req.scope.as_ref())?;
        let from = time_in("from", &req.from).map_err(invalid)?;
        let to = time_in("to", &req.to).map_err(invalid)?;
        let group = group_in(req.group_by)?;
        let period = self.kpis.period(from, to).map_err(RouterError::from)?;
        let report = self
            .kpis
            .report(&scope, period, group)
            .await
            .map_err(RouterError::from)?;
        let articles_due_for_review = match self.hotline.knowledge() {
            Some(knowledge) => knowledge.due_for_review_in(&scope).await?,
            None => 0,
        };
        let band = |(band, tickets): &(String, u64)| pb::BacklogBand {
            band: band.clone(),
            tickets: *tickets,
        };
        Ok(Response::new(pb::GetKpisResponse {
            from: time_out(Some(report.period.from)),
            to: time_out(Some(report.period.to)),
            total: Some(figures_out(&report.total)),
            rows: report
                .rows
                .iter()
                .map(|row| pb::KpiRow {
                    key: row.key.clone(),
                    label: self.label(group, &row.key),
                    figures: Some(figures_out(&row.figures)),
                })
                .collect(),
            backlog_by_stage: report.backlog.by_stage.iter().map(band).collect(),
            backlog_by_age: report.backlog.by_age.iter().map(band).collect(),
            overdue_now: report.backlog.overdue_now,
            about_to_breach: report.backlog.about_to_breach,
            note: report.notes.join("; "),
            articles_due_for_review,
        }))
    }

    async fn list_at_risk(
        &self,
        request: Request<pb::ListAtRiskRequest>,
    ) -> Result<Response<pb::ListAtRiskResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let scope = self.scope(&who, req.scope.as_ref())?;
        let limit = match req.limit {
            0 => 100,
            n => n.min(1_000) as usize,
        };
        let tickets = self
            .kpis
            .at_risk(&scope, limit)
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(pb::ListAtRiskResponse {
            tickets: tickets
                .into_iter()
                .map(|r| pb::AtRiskTicket {
                    ticket_id: r.ticket.id.to_string(),
                    station_id: r
                        .ticket
                        .station
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    division_code: r
                        .ticket
                        .division
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    stage: stage_out(r.ticket.stage),
                    clock: r.clock.to_owned(),
                    due: time_out(Some(r.due)),
                    overdue: r.overdue,
                    seconds_left: r.seconds_left,
                    text: r
                        .ticket
                        .text
                        .lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(80)
                        .collect(),
                })
                .collect(),
        }))
    }

    type WatchEventsStream =
        Pin<Box<dyn Stream<Item = Result<pb::TicketEventNotice, Status>> + Send + 'static>>;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        // Integrators have no territory: their scope is the tickets they submitted.
        let scope = if matches!(who.scope, PrincipalScope::Integrator { .. }) {
            Scope::All
        } else {
            self.scope(&who, req.scope.as_ref())?
        };
        let mut notices = self.feed.subscribe();
        let (tx, rx) = mpsc::channel(256);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                    notice = notices.recv() => match notice {
                        Ok(n) => {
                            if in_scope(&scope, n.station.as_deref(), n.division.as_deref())
                                && may_see(&who, &n)
                                && tx.send(Ok(notice_out(&n))).await.is_err()
                            {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            // Too slow a reader: say so rather than pretend nothing happened.
                            let _ = tx
                                .send(Err(Status::data_loss(format!(
                                    "this stream fell {missed} events behind and was ended; \
                                     reconnect and reload the board"
                                ))))
                                .await;
                            return;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let scope = self.scope(&who, req.scope.as_ref())?;
        let alerts = self
            .hotspots()?
            .active()
            .iter()
            .filter(|alert| alert_in_scope(&scope, alert))
            .map(|alert| self.alert_out(alert))
            .collect();
        Ok(Response::new(pb::ListAlertsResponse { alerts }))
    }

    type WatchAlertsStream =
        Pin<Box<dyn Stream<Item = Result<pb::HotspotAlert, Status>> + Send + 'static>>;

    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let scope = self.scope(&who, req.scope.as_ref())?;
        let mut alerts = self.hotspots()?.subscribe();
        // Names are looked up here, once per alert and subscriber: alerts are rare.
        let namer = KpisApi {
            hotline: self.hotline.clone(),
            kpis: self.kpis.clone(),
            feed: self.feed.clone(),
            shutdown: self.shutdown.clone(),
        };
        let (tx, rx) = mpsc::channel(64);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                    alert = alerts.recv() => match alert {
                        Ok(alert) => {
                            if alert_in_scope(&scope, &alert)
                                && tx.send(Ok(namer.alert_out(&alert))).await.is_err()
                            {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            let _ = tx
                                .send(Err(Status::data_loss(format!(
                                    "this stream fell {missed} alerts behind and was ended; \
                                     reconnect and list the alerts again"
                                ))))
                                .await;
                            return;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
