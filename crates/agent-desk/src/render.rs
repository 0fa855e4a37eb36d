//! Turning responses into output: JSON that mirrors the proto messages (snake_case field names,
//! enums as their codes, empty strings as `null`) and human-readable text with Chinese labels.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};
use hotline_proto::v1 as pb;
use serde_json::{json, Value};

use crate::vocab::{
    channel_code, channel_label, flag_code, flag_label, nature_code, nature_label, reason_code,
    reason_label, role_code, satisfaction_code, satisfaction_label, service_code, service_label,
    stage_code, stage_label, urgency_code, urgency_label,
};

/// What a command produced: the same result for people and for programs.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub human: String,
    pub json: Value,
}

impl Report {
    pub fn new(human: impl Into<String>, json: Value) -> Self {
        Self {
            human: human.into(),
            json,
        }
    }

    /// The text to print: pretty JSON with `--json`, otherwise the human form.
    pub fn render(&self, json: bool) -> String {
        if json {
            serde_json::to_string_pretty(&self.json).unwrap_or_else(|_| self.json.to_string())
        } else {
            self.human.trim_end().to_owned()
        }
    }
}

/// Empty strings are "not set" in the API.
fn text(raw: &str) -> Value {
    if raw.is_empty() {
        Value::Null
    } else {
        Value::String(raw.to_owned())
    }
}

fn code(raw: Option<String>) -> Value {
    raw.map_or(Value::Null, Value::String)
}

fn or_dash(raw: &str) -> &str {
    if raw.is_empty() {
        "-"
    } else {
        raw
    }
}

/// An RFC 3339 time shown in Beijing time (UTC+8, no daylight saving), e.g.
/// `2026-02-13 17:30 +08:00`; `-` when not set; the raw text if it does not parse.
pub fn time_human(raw: &str) -> String {
    if raw.is_empty() {
        return "-".to_owned();
    }
    let Some(beijing) = FixedOffset::east_opt(8 * 3600) else {
        return raw.to_owned();
    };
    DateTime::parse_from_rfc3339(raw).map_or_else(
        |_| raw.to_owned(),
        |t| {
            t.with_timezone(&beijing)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        },
    )
}

pub fn actor_json(actor: Option<&pb::Actor>) -> Value {
    match actor {
        None => Value::Null,
        Some(a) => json!({
            "role": code(role_code(a.role)),
            "staff_id": text(&a.staff_id),
            "station_id": text(&a.station_id),
        }),
    }
}

fn actor_human(actor: Option<&pb::Actor>) -> String {
    let Some(a) = actor else {
        return "-".to_owned();
    };
    let mut out = role_code(a.role).unwrap_or_else(|| "system".to_owned());
    if !a.staff_id.is_empty() {
        let _ = write!(out, " {}", a.staff_id);
    }
    if !a.station_id.is_empty() {
        let _ = write!(out, " @{}", a.station_id);
    }
    out
}

fn outcome_json(outcome: Option<&pb::Outcome>) -> Value {
    use pb::outcome::Kind;
    match outcome.and_then(|o| o.kind.as_ref()) {
        None => Value::Null,
        Some(Kind::Resolved(_)) => json!({ "kind": "resolved" }),
        Some(Kind::AnsweredDirectly(a)) => {
            json!({ "kind": "answered_directly", "answer": a.answer })
        }
        Some(Kind::HandedOff(h)) => json!({
            "kind": "handed_off",
            "service": code(service_code(h.service)),
            "note": text(&h.note),
        }),
        Some(Kind::NotAccepted(n)) => json!({ "kind": "not_accepted", "advice": n.advice }),
        Some(Kind::Duplicate(d)) => json!({ "kind": "duplicate", "of_ticket_id": d.of_ticket_id }),
    }
}

fn outcome_human(outcome: &pb::Outcome) -> String {
    use pb::outcome::Kind;
    match &outcome.kind {
        None => "-".to_owned(),
        Some(Kind::Resolved(_)) => "办结 (resolved)".to_owned(),
        Some(Kind::AnsweredDirectly(a)) => format!("直办 (answered_directly): {}", a.answer),
        Some(Kind::HandedOff(h)) => {
            let mut s = format!("转警 (handed_off) {}", service_label(h.service));
            if !h.note.is_empty() {
                let _ = write!(s, ": {}", h.note);
            }
            s
        }
        Some(Kind::NotAccepted(n)) => format!("不予受理 (not_accepted): {}", n.advice),
        Some(Kind::Duplicate(d)) => format!("重复件 (duplicate) of {}", d.of_ticket_id),
    }
}

pub fn event_json(e: &pb::Event) -> Value {
    let detail =
        serde_json::from_str::<Value>(&e.detail_json).unwrap_or_else(|_| text(&e.detail_json));
    json!({
        "seq": e.seq,
        "at": text(&e.at),
        "actor": actor_json(e.actor.as_ref()),
        "kind": e.kind,
        "stage": code(stage_code(e.stage)),
        "detail": detail,
    })
}

/// The ticket as JSON, field for field.
pub fn ticket_json(t: &pb::Ticket) -> Value {
    let caller = t.caller.as_ref();
    let deadlines = t.deadlines.clone().unwrap_or_default();
    json!({
        "id": t.id,
        "version": t.version,
        "request_id": text(&t.request_id),
        "channel": code(channel_code(t.channel)),
        "caller": {
            "name": text(caller.map_or("", |c| c.name.as_str())),
            "phone": text(caller.map_or("", |c| c.phone.as_str())),
        },
        "text": t.text,
        "address": text(&t.address),
        "location": t.location.map(|p| json!({ "lat": p.lat, "lng": p.lng })),
        "kiosk_id": text(&t.kiosk_id),
        "category": text(&t.category),
        "nature": code(nature_code(t.nature)),
        "urgency": code(urgency_code(t.urgency)),
        "division_code": text(&t.division_code),
        "station_id": text(&t.station_id),
        "lead_station_id": text(&t.lead_station_id),
        "stage": code(stage_code(t.stage)),
        "incident_id": text(&t.incident_id),
        "flags": t.flags.iter().map(|f| code(flag_code(*f))).collect::<Vec<_>>(),
        "deadlines": {
            "sign_for": text(&deadlines.sign_for),
            "first_contact": text(&deadlines.first_contact),
            "resolution": text(&deadlines.resolution),
            "callback": text(&deadlines.callback),
            "provisional": deadlines.provisional,
        },
        "co_handlers": t.co_handlers.iter().map(|c| json!({
            "station_id": c.station_id,
            "due": text(&c.due),
            "report": text(&c.report),
        })).collect::<Vec<_>>(),
        "return_request": t.return_request.as_ref().map(|r| json!({
            "reason": code(reason_code(r.reason)),
            "basis": r.basis,
        })),
        "extension_request": t.extension_request.as_ref().map(|x| json!({
            "working_days": x.working_days,
            "reason": x.reason,
        })),
        "reply": t.reply.as_ref().map(|r| json!({
            "internal_record": r.internal_record,
            "public_reply": r.public_reply,
        })),
        "callback": t.callback.as_ref().map(|c| json!({
            "satisfaction": code(satisfaction_code(c.satisfaction)),
            "reasonable": c.reasonable,
            "note": text(&c.note),
        })),
        "outcome": outcome_json(t.outcome.as_ref()),
        "signed_by": text(&t.signed_by),
        "return_count": t.return_count,
        "redo_count": t.redo_count,
        "extension_count": t.extension_count,
        "urge_count": t.urge_count,
        "created_at": text(&t.created_at),
        "updated_at": text(&t.updated_at),
        "route": t.route.as_ref().map(route_json),
        "events": t.events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

/// The lines every ticket printout starts with: id, version, stage, station, deadlines.
pub fn ticket_summary(t: &pb::Ticket) -> String {
    let d = t.deadlines.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "工单 ticket    {}  (version {})", t.id, t.version);
    let _ = writeln!(out, "  阶段 stage    {}", stage_label(t.stage));
    let mut station = or_dash(&t.station_id).to_owned();
    if !t.lead_station_id.is_empty() {
        let _ = write!(station, " (lead 主办 {})", t.lead_station_id);
    }
    let _ = writeln!(out, "  承办 station  {station}");
    if !t.incident_id.is_empty() {
        let _ = writeln!(out, "  并案 incident {}", t.incident_id);
    }
    if !t.flags.is_empty() {
        let flags: Vec<String> = t.flags.iter().map(|f| flag_label(*f)).collect();
        let _ = writeln!(out, "  标记 flags    {}", flags.join(", "));
    }
    // 暂定: counted over a year whose holiday notice is not loaded yet.
    let mark = |name: &str| {
        if d.provisional.iter().any(|p| p == name) {
            "  (暂定 provisional)"
        } else {
            ""
        }
    };
    let _ = writeln!(
        out,
        "  签收时限 sign-for due     {}{}",
        time_human(&d.sign_for),
        mark("sign_for")
    );
    if !d.first_contact.is_empty() {
        let contacted = if t.contacted_at.is_empty() {
            String::new()
        } else {
            format!("  (已联系 contacted {})", time_human(&t.contacted_at))
        };
        let _ = writeln!(
            out,
            "  首次联系 first contact    {}{}{contacted}",
            time_human(&d.first_contact),
            mark("first_contact")
        );
    }
    let _ = writeln!(
        out,
        "  办结时限 resolution due   {}{}",
        time_human(&d.resolution),
        mark("resolution")
    );
    let _ = writeln!(
        out,
        "  回访时限 callback due     {}{}",
        time_human(&d.callback),
        mark("callback")
    );
    if !d.provisional_note.is_empty() {
        let _ = writeln!(out, "  {}", d.provisional_note);
    }
    out
}

/// Everything about a ticket, for `show`.
pub fn ticket_full(t: &pb::Ticket) -> String {
    let mut out = ticket_summary(t);
    let mut line = |label: &str, value: &str| {
        if !value.is_empty() {
            let _ = writeln!(out, "  {label}  {value}");
        }
    };
    line("渠道 channel ", &channel_label(t.channel));
    line("性质 nature  ", &nature_label(t.nature));
    line("紧急 urgency ", &urgency_label(t.urgency));
    line("分类 category", &t.category);
    line("区划 division", &t.division_code);
    if let Some(c) = &t.caller {
        let who = [c.name.as_str(), c.phone.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        line("来电 caller  ", &who);
    }
    line("地址 address ", &t.address);
    if let Some(p) = t.location {
        line("位置 location", &format!("{}, {}", p.lat, p.lng));
    }
    line("信息亭 kiosk ", &t.kiosk_id);
    line("请求 request ", &t.request_id);
    line("诉求 text    ", &t.text);
    line("签收人 signed by", &t.signed_by);
    for c in &t.co_handlers {
        let report = if c.report.is_empty() {
            "(未反馈 not reported)".to_owned()
        } else {
            c.report.clone()
        };
        line(
            "协办 co-handler",
            &format!("{} due {}: {report}", c.station_id, time_human(&c.due)),
        );
    }
    if let Some(r) = &t.return_request {
        line(
            "退单申请 return",
            &format!("{}: {}", reason_label(r.reason), r.basis),
        );
    }
    if let Some(x) = &t.extension_request {
        line(
            "延期申请 extension",
            &format!("{} 个工作日 working days: {}", x.working_days, x.reason),
        );
    }
    if let Some(r) = &t.reply {
        line("办理情况 record", &r.internal_record);
        line("答复内容 reply ", &r.public_reply);
    }
    if let Some(c) = &t.callback {
        let mut s = satisfaction_label(c.satisfaction);
        if c.reasonable {
            s.push_str(", 诉求合理 reasonable");
        }
        if !c.note.is_empty() {
            let _ = write!(s, ": {}", c.note);
        }
        line("回访 callback", &s);
    }
    if let Some(o) = &t.outcome {
        line("结果 outcome ", &outcome_human(o));
    }
    let counts = format!(
        "退单 returns {}, 重办 redos {}, 延期 extensions {}, 催办 urges {}",
        t.return_count, t.redo_count, t.extension_count, t.urge_count
    );
    line("次数 counts  ", &counts);
    line("创建 created ", &time_human(&t.created_at));
    line("更新 updated ", &time_human(&t.updated_at));
    if let Some(route) = &t.route {
        out.push_str(&route_summary(route));
    }
    if !t.events.is_empty() {
        let _ = writeln!(out, "  历史 history");
        for e in &t.events {
            let _ = writeln!(
                out,
                "    #{:<3} {}  {:<16} -> {:<28} by {}",
                e.seq,
                time_human(&e.at),
                e.kind,
                stage_label(e.stage),
                actor_human(e.actor.as_ref()),
            );
        }
    }
    out
}

/// One line per ticket, for search results.
pub fn ticket_line(t: &pb::Ticket) -> String {
    let mut excerpt: String = t.text.chars().take(30).collect();
    if t.text.chars().count() > 30 {
        excerpt.push('…');
    }
    format!(
        "{}  v{:<3} {:<12} {:<20} {:<12} {}  {}",
        t.id,
        t.version,
        stage_code(t.stage).unwrap_or_default(),
        or_dash(&t.station_id),
        urgency_code(t.urgency).unwrap_or_default(),
        time_human(&t.created_at),
        excerpt.replace('\n', " "),
    )
}

pub fn queue_item_json(item: &pb::QueueItem) -> Value {
    json!({
        "ticket_id": item.ticket_id,
        "station_id": item.station_id,
        "urgency": code(urgency_code(item.urgency)),
        "sign_for_due": text(&item.sign_for_due),
        "enqueued_at": text(&item.enqueued_at),
        "leased_by": text(&item.leased_by),
        "lease_until": text(&item.lease_until),
    })
}

pub fn queue_item_line(item: &pb::QueueItem) -> String {
    let mut line = format!(
        "{}  {:<14} 签收时限 due {}  入队 queued {}",
        item.ticket_id,
        urgency_label(item.urgency),
        time_human(&item.sign_for_due),
        time_human(&item.enqueued_at),
    );
    if !item.leased_by.is_empty() {
        let _ = write!(
            line,
            "  领取 leased by {} until {}",
            item.leased_by,
            time_human(&item.lease_until)
        );
    }
    line
}

pub fn division_json(d: &pb::Division) -> Value {
    json!({
        "code": d.code,
        "name": d.name,
        "short_name": text(&d.short_name),
        "level": d.level,
        "parent_code": text(&d.parent_code),
    })
}

pub fn division_line(d: &pb::Division) -> String {
    format!("{:<12}  {:<9} {}", d.code, d.level, d.name)
}

pub fn station_json(s: &pb::StationInfo) -> Value {
    json!({
        "id": s.id,
        "kind": s.kind,
        "kind_name": s.kind_name,
        "name": s.name,
        "division_code": s.division_code,
        "level": s.level,
    })
}

pub fn station_line(s: &pb::StationInfo) -> String {
    format!("{:<24} {:<8} {}  ({})", s.id, s.kind, s.name, s.kind_name)
}

/// A routing decision as JSON, field for field (`Ticket.route`, `PreviewRoute`).
pub fn route_json(r: &pb::RouteExplanation) -> Value {
    json!({
        "categories": r.categories.iter().map(|c| json!({
            "code": c.code,
            "name": c.name,
            "score": c.score,
        })).collect::<Vec<_>>(),
        "drivers": r.drivers,
        "category_source": text(&r.category_source),
        "nature": code(nature_code(r.nature)),
        "nature_cues": r.nature_cues,
        "urgency": code(urgency_code(r.urgency)),
        "urgency_cues": r.urgency_cues,
        "emergency": code(service_code(r.emergency)),
        "emergency_cues": r.emergency_cues,
        "territory": r.territory.as_ref().map(|t| json!({
            "division_code": text(&t.division_code),
            "level": text(&t.level),
            "name": text(&t.name),
            "matched": text(&t.matched),
            "candidates": t.candidates,
            "how": text(&t.how),
            "reason": text(&t.reason),
        })),
        "rule": text(&r.rule),
        "fallbacks": r.fallbacks,
        "station_id": text(&r.station_id),
        "triage": r.triage,
        "versions": text(&r.versions),
    })
}

/// `值  依据 cues: a b` when there are cues.
fn with_cues(value: String, cues: &[String]) -> String {
    if cues.is_empty() {
        value
    } else {
        format!("{value}  依据 cues: {}", cues.join(" "))
    }
}

/// Why the router sent the ticket where it did: the station (or centre triage), the categories
/// with their scores and the words behind them, nature and urgency, an emergency, the territory
/// and the text it matched, the catalogue rule and every widening step.
pub fn route_summary(r: &pb::RouteExplanation) -> String {
    let mut out = String::new();
    let target = match (r.triage, r.station_id.as_str()) {
        (false, "") => "- (no station)".to_owned(),
        (false, station) => format!("派往 station {station}"),
        (true, "") => "中心分拨 centre triage (待派单, no confident route)".to_owned(),
        (true, station) => {
            format!("中心分拨 centre triage {station} (待派单, no confident route)")
        }
    };
    let _ = writeln!(out, "  路由 route     {target}");
    let categories: Vec<String> = r
        .categories
        .iter()
        .map(|c| format!("{} {} ({:.2})", c.code, c.name, c.score))
        .collect();
    let mut category = or_dash(&categories.join("; ")).to_owned();
    if !r.category_source.is_empty() {
        let _ = write!(category, "  [来源 source: {}]", r.category_source);
    }
    let _ = writeln!(out, "    类别 category   {category}");
    if !r.drivers.is_empty() {
        let _ = writeln!(out, "    依据 words      {}", r.drivers.join(" "));
    }
    if nature_code(r.nature).is_some() {
        let nature = with_cues(nature_label(r.nature), &r.nature_cues);
        let _ = writeln!(out, "    性质 nature     {nature}");
    }
    if urgency_code(r.urgency).is_some() {
        let urgency = with_cues(urgency_label(r.urgency), &r.urgency_cues);
        let _ = writeln!(out, "    紧急 urgency    {urgency}");
    }
    if service_code(r.emergency).is_some() {
        let emergency = with_cues(service_label(r.emergency), &r.emergency_cues);
        let _ = writeln!(
            out,
            "    警情 emergency  {emergency}  → 转警 `handoff --service …`"
        );
    }
    if let Some(t) = &r.territory {
        let mut place = or_dash(&t.division_code).to_owned();
        if !t.name.is_empty() {
            let _ = write!(place, " {}", t.name);
        }
        if !t.level.is_empty() {
            let _ = write!(place, " ({})", t.level);
        }
        if !t.matched.is_empty() {
            let _ = write!(place, "  匹配 matched 「{}」", t.matched);
        }
        if !t.how.is_empty() {
            let _ = write!(place, "  via {}", t.how);
        }
        let _ = writeln!(out, "    属地 territory  {place}");
        if !t.reason.is_empty() {
            let _ = writeln!(out, "      理由 reason   {}", t.reason);
        }
        if !t.candidates.is_empty() {
            let _ = writeln!(out, "      候选 candidates {}", t.candidates.join(", "));
        }
    }
    if !r.rule.is_empty() {
        let _ = writeln!(out, "    规则 rule       {}", r.rule);
    }
    for fallback in &r.fallbacks {
        let _ = writeln!(out, "    放宽 fallback   {fallback}");
    }
    if !r.versions.is_empty() {
        let _ = writeln!(out, "    版本 versions   {}", r.versions);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_beijing_time() {
        assert_eq!(
            time_human("2026-02-13T09:30:00.000Z"),
            "2026-02-13 17:30 +08:00"
        );
        assert_eq!(time_human(""), "-");
        assert_eq!(time_human("soon"), "soon");
    }

    #[test]
    fn ticket_json_uses_codes_and_nulls() {
        let t = pb::Ticket {
            id: "t1".into(),
            version: 2,
            stage: pb::Stage::InProgress as i32,
            flags: vec![pb::Flag::Urged as i32],
            ..Default::default()
        };
        let v = ticket_json(&t);
        assert_eq!(v["stage"], "in_progress");
        assert_eq!(v["flags"][0], "urged");
        assert_eq!(v["station_id"], Value::Null);
        assert_eq!(v["channel"], Value::Null);
        assert!(ticket_summary(&t).contains("办理中 (in_progress)"));
        assert_eq!(v["route"], Value::Null);
    }

    #[test]
    fn a_route_shows_station_categories_territory_and_fallbacks() {
        let r = pb::RouteExplanation {
            categories: vec![pb::ScoredCategory {
                code: "LS.WYGL".into(),
                name: "物业管理".into(),
                score: 0.8125,
            }],
            drivers: vec!["物业".into(), "漏水".into()],
            category_source: "model".into(),
            urgency: pb::Urgency::Normal as i32,
            emergency: pb::EmergencyService::Fire119 as i32,
            emergency_cues: vec!["着火".into()],
            territory: Some(pb::TerritoryMatch {
                division_code: "320508021019".into(),
                level: "community".into(),
                name: "沧浪亭社区".into(),
                matched: "沧浪亭社区".into(),
                ..Default::default()
            }),
            rule: "catalogue.toml:12 LS.* -> css".into(),
            fallbacks: vec!["no street station; community".into()],
            station_id: "320508021019-css".into(),
            ..Default::default()
        };
        let human = route_summary(&r);
        for part in [
            "派往 station 320508021019-css",
            "LS.WYGL 物业管理 (0.81)",
            "[来源 source: model]",
            "物业 漏水",
            "一般 (normal)",
            "119 火警 (fire_119)",
            "320508021019 沧浪亭社区 (community)",
            "「沧浪亭社区」",
            "catalogue.toml:12",
            "放宽 fallback   no street station",
        ] {
            assert!(human.contains(part), "{part} missing:\n{human}");
        }
        assert!(!human.contains("性质 nature"), "{human}");
        let v = route_json(&r);
        assert_eq!(v["station_id"], "320508021019-css");
        assert_eq!(v["triage"], false);
        assert_eq!(v["categories"][0]["code"], "LS.WYGL");
        assert_eq!(v["territory"]["matched"], "沧浪亭社区");
        assert_eq!(v["emergency"], "fire_119");
        assert_eq!(v["nature"], Value::Null);

        let triage = pb::RouteExplanation {
            triage: true,
            ..Default::default()
        };
        assert!(route_summary(&triage).contains("中心分拨 centre triage"));
    }
}
