//! A ticket's history to the facts it contributes to the figures. Pure: the same events always
//! give the same facts, which is what lets the follower replace a ticket's facts instead of
//! adding to them.
//!
//! Attribution (docs/kpis.md):
//! - a **dispatch round** (dispatch, redispatch, sub-dispatch, or a redo's return to the
//!   station) is counted in the dispatch's hour at the receiving station; its on-time sign-for,
//!   on-time first contact, accepted return and approved extension are counted there too, so
//!   numerator and denominator always cover the same tickets; a round the station had not
//!   signed for when the call was taken into an incident is withdrawn;
//! - a **resolution round** (from a sign-for to the reply) is counted in the hour of its
//!   deadline as it stands last (extensions and pauses move it), at the station that signed;
//!   a round ended by an accepted return or a move to another station is not counted (the
//!   station that gave the ticket up is not charged with its deadline); a reply at or before the
//!   deadline is on time, and the first reply of a round decides (a rejected reply that is
//!   redone later does not make the round late);
//! - replies, redos, callbacks and closes are counted in their own hour, at the station that
//!   replied (for a ticket merged into an incident, the lead's station, which the incident's
//!   one reply names); a merged ticket counts as a duplicate at intake;
//! - the whole history uses the ticket's category and channel as they are now (a
//!   re-categorised ticket moves all its figures to the new category).

use chrono::{DateTime, Utc};
use hotline_core::{Action, Event, Nature, Satisfaction};
use hotline_sla::WorkingCalendar;
use serde::{Deserialize, Serialize};

use crate::definitions::{handling_bucket, Metric};

/// One count: `value` of `metric`, at `at`'s hour, for this station and the rest of the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fact {
    /// Milliseconds since the epoch of the instant the fact is counted at.
    #[serde(rename = "t")]
    pub at_ms: i64,
    #[serde(rename = "m")]
    pub metric: Metric,
    /// Empty for intake facts (no station yet).
    #[serde(rename = "s")]
    pub station: String,
    /// The station's division (its id's prefix), or the ticket's territory for intake facts.
    #[serde(rename = "d")]
    pub division: String,
    /// The first level of the taxonomy (`SQ` of `SQ.JTBL`); empty when not categorised.
    #[serde(rename = "c")]
    pub category: String,
    #[serde(rename = "ch")]
    pub channel: String,
    /// Set only on the per-staff metrics.
    #[serde(rename = "p", default, skip_serializing_if = "String::is_empty")]
    pub staff: String,
    #[serde(rename = "v")]
    pub value: i64,
}

/// The division of a station: its id is `<division code>-<kind>`.
pub fn station_division(station: &str) -> &str {
    station.split_once('-').map_or(station, |(d, _)| d)
}

/// The first level of a category code.
pub fn category_top(code: &str) -> &str {
    code.split_once('.').map_or(code, |(top, _)| top)
}

struct DispatchRound {
    at: DateTime<Utc>,
    station: String,
    sign_due: Option<DateTime<Utc>>,
    signed: bool,
    contact_due: Option<DateTime<Utc>>,
    contacted: bool,
    extended: bool,
    returned: bool,
}

struct ResolutionRound {
    station: String,
    signed_at: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    paused_since: Option<DateTime<Utc>>,
    paused_ms: i64,
    /// The first reply's timeliness.
    replied_on_time: Option<bool>,
}

/// The facts of one ticket's history (`events` oldest first, starting with the submit).
pub fn derive(events: &[Event], calendar: &WorkingCalendar) -> Vec<Fact> {
    let Some(first) = events.first() else {
        return Vec::new();
    };
    let Action::Submit { ticket: new } = &first.action else {
        return Vec::new();
    };
    // The ticket's category, channel and territory as they are now (the log replayed: routing,
    // re-categorisation and corrected addresses included).
    let now = hotline_core::replay(events).ok();
    let category = now
        .as_ref()
        .and_then(|t| t.category.as_ref())
        .or(new.category.as_ref())
        .map(|c| c.as_str().to_owned());
    let territory = now
        .as_ref()
        .and_then(|t| t.division.as_ref())
        .or(new.division.as_ref())
        .map(|d| d.as_str().to_owned());
    let category = category
        .as_deref()
        .map(category_top)
        .unwrap_or("")
        .to_owned();
    let channel = new.channel.code().to_owned();
    let consultation = now.as_ref().map_or(new.nature, |t| t.nature) == Nature::Consult;
    let territory = territory.unwrap_or_default();

    let mut facts = Vec::new();
    let fact =
        |facts: &mut Vec<Fact>, at: DateTime<Utc>, metric: Metric, station: &str, staff: &str| {
            facts.push(Fact {
                at_ms: at.timestamp_millis(),
                metric,
                station: station.to_owned(),
                division: if station.is_empty() {
                    territory.clone()
                } else {
                    station_division(station).to_owned()
                },
                category: category.clone(),
                channel: channel.clone(),
                staff: staff.to_owned(),
                value: 1,
            });
        };

    let mut dispatch: Option<DispatchRound> = None;
    let mut resolution: Option<ResolutionRound> = None;
    // Closed resolution rounds that count: (due, station, on time).
    let mut counted: Vec<(DateTime<Utc>, String, bool)> = Vec::new();
    // The last reply: (at, station), for redos, callbacks and the close.
    let mut last_reply: Option<(DateTime<Utc>, String)> = None;
    let mut holder: Option<String> = None;

    let start_round = |dispatch: &mut Option<DispatchRound>,
                       facts: &mut Vec<Fact>,
                       at: DateTime<Utc>,
                       station: &str,
                       sign_due: Option<DateTime<Utc>>| {
        fact(facts, at, Metric::Dispatched, station, "");
        *dispatch = Some(DispatchRound {
            at,
            station: station.to_owned(),
            sign_due,
            signed: false,
            contact_due: None,
            contacted: false,
            extended: false,
            returned: false,
        });
    };

    let mut repeat_counted = false;
    for event in events {
        let at = event.at;
        let staff = event
            .actor
            .staff
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        match &event.action {
            Action::Submit { .. } => {
                fact(&mut facts, at, Metric::Accepted, "", "");
                if consultation {
                    fact(&mut facts, at, Metric::Consultations, "", "");
                }
            }
            Action::AnswerDirectly { article, .. } => {
                fact(&mut facts, at, Metric::DirectAnswers, "", "");
                if consultation && article.is_some() {
                    fact(&mut facts, at, Metric::KnowledgeAnswers, "", "");
                }
            }
            Action::HandOff { .. } => fact(&mut facts, at, Metric::HandedOff, "", ""),
            Action::NotAccept { .. } => fact(&mut facts, at, Metric::NotAccepted, "", ""),
            // A call merged into an incident is a repeat of a matter already handled.
            // Once per ticket: a call a surge's incident takes in from a smaller one joins twice.
            Action::LinkDuplicate { .. } | Action::JoinIncident { .. } => {
                if !repeat_counted {
                    repeat_counted = true;
                    fact(&mut facts, at, Metric::Duplicates, "", "");
                }
                // Taken off a station's queue before it signed for it (a surge's incident took
                // the call in): the station never had it to answer for, so its dispatch round is
                // withdrawn, not counted in its sign-for, contact or return rates.
                if let Some(round) = dispatch.take_if(|round| !round.signed) {
                    let withdrawn = facts.iter().rposition(|f| {
                        f.metric == Metric::Dispatched
                            && f.station == round.station
                            && f.at_ms == round.at.timestamp_millis()
                    });
                    if let Some(i) = withdrawn {
                        facts.remove(i);
                    }
                    holder = None;
                }
            }
            // The incident's reply is the lead station's answer: this caller's callback and
            // closing are credited to it.
            Action::IncidentReply {
                station: Some(station),
                ..
            } => last_reply = Some((at, station.as_str().to_owned())),
            Action::Dispatch {
                station,
                sign_for_due,
                ..
            }
            | Action::Redispatch {
                station,
                sign_for_due,
                ..
            }
            | Action::SubDispatch {
                station,
                sign_for_due,
                ..
            } => {
                if matches!(event.action, Action::Redispatch { .. }) {
                    // Moved away: the old station is not charged with the deadline.
                    resolution = None;
                }
                start_round(
                    &mut dispatch,
                    &mut facts,
                    at,
                    station.as_str(),
                    *sign_for_due,
                );
                holder = Some(station.as_str().to_owned());
            }
            Action::SignFor {
                resolution_due,
                first_contact_due,
            } => {
                let on_time = if let Some(round) = dispatch.as_mut() {
                    let on_time = round.sign_due.is_none_or(|due| at <= due);
                    if !round.signed {
                        round.signed = true;
                        if on_time {
                            let (t, s) = (round.at, round.station.clone());
                            fact(&mut facts, t, Metric::SignedOnTime, &s, "");
                        }
                    }
                    round.contact_due = *first_contact_due;
                    on_time
                } else {
                    true
                };
                if !staff.is_empty() {
                    let station = holder.clone().unwrap_or_default();
                    fact(&mut facts, at, Metric::StaffSigned, &station, &staff);
                    if on_time {
                        fact(&mut facts, at, Metric::StaffSignedOnTime, &station, &staff);
                    }
                }
                // A new sign-for starts a new resolution clock; one still running (the lead's,
                // before a sub-dispatch) is replaced, not charged.
                resolution = Some(ResolutionRound {
                    station: holder.clone().unwrap_or_default(),
                    signed_at: at,
                    due: *resolution_due,
                    paused_since: None,
                    paused_ms: 0,
                    replied_on_time: None,
                });
            }
            Action::ContactCaller { .. } => {
                if let Some(round) = dispatch.as_mut() {
                    if !round.contacted {
                        round.contacted = true;
                        if round.contact_due.is_none_or(|due| at <= due) {
                            let (t, s) = (round.at, round.station.clone());
                            fact(&mut facts, t, Metric::ContactedOnTime, &s, "");
                        }
                    }
                }
            }
            Action::ArbitrateReturn { accept: true, .. } => {
                if let Some(round) = dispatch.as_mut() {
                    if !round.returned {
                        round.returned = true;
                        let (t, s) = (round.at, round.station.clone());
                        fact(&mut facts, t, Metric::ReturnsAccepted, &s, "");
                    }
                }
                resolution = None;
                holder = None;
            }
            Action::DecideExtension {
                approve: true,
                new_resolution_due,
                ..
            } => {
                if let Some(round) = dispatch.as_mut() {
                    if !round.extended {
                        round.extended = true;
                        let (t, s) = (round.at, round.station.clone());
                        fact(&mut facts, t, Metric::Extended, &s, "");
                    }
                }
                if let Some(res) = resolution.as_mut() {
                    if new_resolution_due.is_some() {
                        res.due = *new_resolution_due;
                    }
                }
            }
            Action::PauseClock { .. } => {
                if let Some(res) = resolution.as_mut() {
                    res.paused_since = Some(at);
                }
            }
            Action::ResumeClock { resolution_due } => {
                if let Some(res) = resolution.as_mut() {
                    if let Some(since) = res.paused_since.take() {
                        let paused = calendar
                            .working_time_between(since, at)
                            .map(|d| d.num_milliseconds())
                            .unwrap_or(0);
                        res.paused_ms += paused;
                    }
                    if resolution_due.is_some() {
                        res.due = *resolution_due;
                    }
                }
            }
            Action::RecomputeDeadlines { after, .. } => {
                if let Some(round) = dispatch.as_mut() {
                    if !round.signed {
                        round.sign_due = after.sign_for;
                    }
                    if !round.contacted {
                        round.contact_due = after.first_contact;
                    }
                }
                if let Some(res) = resolution.as_mut() {
                    if after.resolution.is_some() {
                        res.due = after.resolution;
                    }
                }
            }
            Action::Reply { .. } => {
                let station = resolution
                    .as_ref()
                    .map(|r| r.station.clone())
                    .or_else(|| holder.clone())
                    .unwrap_or_default();
                fact(&mut facts, at, Metric::Replied, &station, "");
                let mut on_time = true;
                if let Some(res) = resolution.as_mut() {
                    on_time = res.due.is_none_or(|due| at <= due);
                    if res.replied_on_time.is_none() {
                        res.replied_on_time = Some(on_time);
                    }
                    let worked = calendar
                        .working_time_between(res.signed_at, at)
                        .map(|d| d.num_milliseconds())
                        .unwrap_or(0)
                        - res.paused_ms;
                    let hours = worked.max(0) as f64 / 3_600_000.0;
                    let minutes = worked.max(0) / 60_000;
                    // Once for the station, once more for the staff member who replied.
                    let whos: &[&str] = if staff.is_empty() {
                        &[""]
                    } else {
                        &["", &staff]
                    };
                    for who in whos {
                        for (metric, value) in [
                            (Metric::HandlingCount, 1),
                            (Metric::HandlingMinutes, minutes),
                            (handling_bucket(hours), 1),
                        ] {
                            fact(&mut facts, at, metric, &station, who);
                            facts.last_mut().expect("just pushed").value = value;
                        }
                    }
                }
                if !staff.is_empty() {
                    fact(&mut facts, at, Metric::StaffReplied, &station, &staff);
                    if on_time {
                        fact(&mut facts, at, Metric::StaffRepliedOnTime, &station, &staff);
                    }
                }
                last_reply = Some((at, station));
            }
            Action::Review { approve: false, .. } => {
                if let Some((t, s)) = &last_reply {
                    let (t, s) = (*t, s.clone());
                    fact(&mut facts, t, Metric::Redone, &s, "");
                }
            }
            Action::Review { approve: true, .. } => {
                // The reply stands: its resolution round is over.
                if let Some(res) = resolution.take() {
                    if let Some(due) = res.due {
                        counted.push((due, res.station, res.replied_on_time.unwrap_or(false)));
                    }
                }
            }
            Action::RecordCallback {
                satisfaction,
                reasonable,
                redo_sign_for_due,
                ..
            } => {
                let station = last_reply
                    .as_ref()
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                if satisfaction.is_reached() {
                    fact(&mut facts, at, Metric::CallbacksReached, &station, "");
                    if matches!(satisfaction, Satisfaction::Satisfied | Satisfaction::Basic) {
                        fact(&mut facts, at, Metric::Satisfied, &station, "");
                    }
                }
                if *satisfaction == Satisfaction::Dissatisfied && *reasonable {
                    // 重办: the reply is redone and the same station signs for it again.
                    if let Some((t, s)) = &last_reply {
                        let (t, s) = (*t, s.clone());
                        fact(&mut facts, t, Metric::Redone, &s, "");
                    }
                    if let Some(station) = holder.clone() {
                        start_round(&mut dispatch, &mut facts, at, &station, *redo_sign_for_due);
                    }
                }
            }
            Action::Close => {
                let station = last_reply
                    .as_ref()
                    .map(|(_, s)| s.clone())
                    .or_else(|| holder.clone())
                    .unwrap_or_default();
                if !station.is_empty() {
                    fact(&mut facts, at, Metric::Closed, &station, "");
                }
            }
            _ => {}
        }
    }
    // A resolution round still running (or replied, awaiting review) counts at its deadline.
    if let Some(res) = resolution {
        if let Some(due) = res.due {
            counted.push((due, res.station, res.replied_on_time.unwrap_or(false)));
        }
    }
    for (due, station, on_time) in counted {
        fact(&mut facts, due, Metric::Due, &station, "");
        if on_time {
            fact(&mut facts, due, Metric::ResolvedOnTime, &station, "");
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hotline_core::lifecycle::{apply, open, Actor, Role};
    use hotline_core::{
        CategoryCode, Channel, DivisionCode, IncidentId, NewTicket, StationId, TicketId, Urgency,
    };

    /// A call in 双塔街道's community 320508021019 about `text`, categorised `category`.
    fn water_call(text: &str, category: &str) -> NewTicket {
        NewTicket {
            request_id: None,
            channel: Channel::Hotline,
            caller: Default::default(),
            text: text.into(),
            address: String::new(),
            location: None,
            kiosk: None,
            category: Some(CategoryCode::parse("c", category).unwrap()),
            nature: Nature::Help,
            urgency: Urgency::Normal,
            division: Some(DivisionCode::parse("d", "320508021019").unwrap()),
        }
    }

    #[test]
    fn a_call_a_surge_takes_off_a_station_s_queue_is_not_counted_against_that_station() {
        let engine = Actor::system();
        let at = |m: i64| {
            Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap() + chrono::Duration::minutes(m)
        };
        let station = StationId::parse("s", "320508021019-css").unwrap();
        let (ticket, first) = open(
            TicketId::new(),
            water_call("小区停水了", "CJ.CSJS"),
            engine.clone(),
            at(0),
        );
        let (ticket, dispatched) = apply(
            &ticket,
            &engine,
            Action::Dispatch {
                station: station.clone(),
                sign_for_due: Some(at(30)),
                note: String::new(),
            },
            at(0),
        )
        .unwrap();
        let surge = IncidentId::led_by(TicketId::new());
        // Still unsigned an hour on (its sign-for was due at 30), when the surge takes it.
        let (_, joined) = apply(
            &ticket,
            &engine,
            Action::JoinIncident { incident: surge },
            at(60),
        )
        .unwrap();
        let before = derive(
            &[first.clone(), dispatched.clone()],
            &WorkingCalendar::builtin(),
        );
        let count = |facts: &[Fact], metric: Metric| {
            facts
                .iter()
                .filter(|f| f.metric == metric && f.station == station.as_str())
                .count()
        };
        assert_eq!(count(&before, Metric::Dispatched), 1, "{before:?}");
        let after = derive(&[first, dispatched, joined], &WorkingCalendar::builtin());
        assert_eq!(count(&after, Metric::Dispatched), 0, "{after:?}");
        assert_eq!(
            after
                .iter()
                .filter(|f| f.metric == Metric::Duplicates)
                .count(),
            1
        );
    }

    #[test]
    fn a_merged_ticket_is_a_duplicate_whose_callback_and_closing_count_at_the_lead_s_station() {
        let centre = Actor {
            role: Role::Supervisor,
            staff: None,
            station: None,
        };
        let at = |m: i64| {
            Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap() + chrono::Duration::minutes(m)
        };
        let new = water_call("整条街停水了", "CJ.GS");
        let (mut ticket, first) = open(TicketId::new(), new, centre.clone(), at(0));
        let mut events = vec![first];
        let incident = IncidentId::led_by(TicketId::new());
        let lead_station = StationId::parse("s", "320508021019-css").unwrap();
        for (minute, action) in [
            (1, Action::JoinIncident { incident }),
            (
                60,
                Action::IncidentReply {
                    incident,
                    public_reply: "已恢复供水".into(),
                    callback_due: None,
                    station: Some(lead_station.clone()),
                },
            ),
            (
                90,
                Action::RecordCallback {
                    satisfaction: Satisfaction::Satisfied,
                    reasonable: false,
                    note: String::new(),
                    redo_sign_for_due: None,
                },
            ),
            (91, Action::Close),
        ] {
            let (next, event) = apply(&ticket, &centre, action, at(minute)).unwrap();
            ticket = next;
            events.push(event);
        }
        let facts = derive(&events, &WorkingCalendar::builtin());
        let has = |metric: Metric, station: &str| {
            facts
                .iter()
                .any(|f| f.metric == metric && f.station == station)
        };
        assert!(has(Metric::Duplicates, ""), "{facts:?}");
        for metric in [Metric::CallbacksReached, Metric::Satisfied, Metric::Closed] {
            assert!(has(metric, lead_station.as_str()), "{metric:?}: {facts:?}");
        }
        assert!(
            !has(Metric::Dispatched, lead_station.as_str()),
            "no dispatch round"
        );
    }

    #[test]
    fn a_call_a_surge_takes_into_its_incident_is_one_duplicate_not_two() {
        let centre = Actor {
            role: Role::Operator,
            staff: None,
            station: None,
        };
        let at = |m: i64| {
            Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap() + chrono::Duration::minutes(m)
        };
        let new = water_call("小区停水了", "CJ.CSJS");
        let (ticket, first) = open(TicketId::new(), new, centre.clone(), at(0));
        let community = IncidentId::led_by(TicketId::new());
        let surge = IncidentId::led_by(TicketId::new());
        let (ticket, joined) = apply(
            &ticket,
            &centre,
            Action::JoinIncident {
                incident: community,
            },
            at(1),
        )
        .unwrap();
        let (ticket, moved) = apply(
            &ticket,
            &Actor::system(),
            Action::JoinIncident { incident: surge },
            at(3),
        )
        .unwrap();
        assert_eq!(ticket.incident, Some(surge));
        let facts = derive(&[first, joined, moved], &WorkingCalendar::builtin());
        let duplicates = facts
            .iter()
            .filter(|f| f.metric == Metric::Duplicates)
            .count();
        assert_eq!(duplicates, 1, "{facts:?}");
    }
}
