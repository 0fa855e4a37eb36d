//! Each KPI computed on a hand-built history, with the expected numbers worked out here, on
//! SQLite and PostgreSQL; and the incremental aggregates equal to a full recomputation after
//! every step.
//!
//! The history runs over the 2026 Spring Festival: 14 Feb (Sat) is a 调休 make-up working
//! day, 15-23 Feb are off, 28 Feb (Sat) is a make-up day. Office hours 09:00-17:30 (8.5 h).
//! Stations: A = 320508021019-css and B = 320508021-office in district 320508 (姑苏区), C =
//! 320505001-office in district 320505.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use hotline_core::{
    apply, open, Action, Actor, CategoryCode, Channel, DivisionCode, Event, Nature, NewTicket,
    ReturnReason, Role, Satisfaction, StaffId, Stage, StationId, Ticket, TicketId, Urgency,
};
use hotline_kpi::query::{Clocks, RunningClock};
use hotline_kpi::recompute::aggregate_all;
use hotline_kpi::{GroupBy, KpiConfig, KpiStore, Kpis, Pace, Period, PgKpis, Scope, SqliteKpis};
use hotline_sla::WorkingCalendar;
use hotline_store::testing::{fresh_postgres, fresh_sqlite};
use hotline_store::TicketStore;

const A: &str = "320508021019-css";
const B: &str = "320508021-office";
const C: &str = "320505001-office";

/// A local (Asia/Shanghai) time, "2026-02-13 10:00".
fn l(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    Shanghai
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn station(id: &str) -> StationId {
    StationId::parse("station", id).unwrap()
}

fn op() -> Actor {
    Actor {
        role: Role::Operator,
        staff: Some(StaffId::parse("staff", "op1").unwrap()),
        station: None,
    }
}

fn sup() -> Actor {
    Actor {
        role: Role::Supervisor,
        staff: Some(StaffId::parse("staff", "sup1").unwrap()),
        station: None,
    }
}

fn staff(id: &str, at: &str) -> Actor {
    Actor {
        role: Role::Station,
        staff: Some(StaffId::parse("staff", id).unwrap()),
        station: Some(station(at)),
    }
}

/// A ticket being written: its state and the events not yet stored.
struct Story {
    ticket: Ticket,
    pending: Vec<Event>,
    stored: bool,
}

impl Story {
    fn submit(at: &str, channel: Channel, division: &str) -> Self {
        Self::submit_as(at, channel, division, Nature::Help)
    }

    fn submit_as(at: &str, channel: Channel, division: &str, nature: Nature) -> Self {
        let new = NewTicket {
            request_id: None,
            channel,
            caller: Default::default(),
            text: "小区门口路灯坏了".into(),
            address: String::new(),
            location: None,
            kiosk: None,
            category: Some(CategoryCode::parse("category", "SQ.JTBL").unwrap()),
            nature,
            urgency: Urgency::Normal,
            division: Some(DivisionCode::parse("division", division).unwrap()),
        };
        let (ticket, event) = open(TicketId::new(), new, op(), l(at));
        Self {
            ticket,
            pending: vec![event],
            stored: false,
        }
    }

    fn act(mut self, actor: Actor, at: &str, action: Action) -> Self {
        let (next, event) =
            apply(&self.ticket, &actor, action, l(at)).unwrap_or_else(|e| panic!("{at}: {e}"));
        self.ticket = next;
        self.pending.push(event);
        self
    }

    async fn save(&mut self, store: &dyn TicketStore) {
        if self.pending.is_empty() {
            return;
        }
        if self.stored {
            store.commit(&self.ticket, &self.pending).await.unwrap();
        } else {
            store
                .create(&self.ticket, &self.pending, &self.ticket.id.to_string())
                .await
                .unwrap();
            self.stored = true;
        }
        self.pending.clear();
    }
}

fn dispatch(to: &str, sign_due: &str) -> Action {
    Action::Dispatch {
        station: station(to),
        sign_for_due: Some(l(sign_due)),
        note: String::new(),
    }
}

fn sign(resolution: &str, contact: &str) -> Action {
    Action::SignFor {
        resolution_due: Some(l(resolution)),
        first_contact_due: Some(l(contact)),
    }
}

fn contact() -> Action {
    Action::ContactCaller {
        note: "电话联系".into(),
    }
}

fn reply() -> Action {
    Action::Reply {
        internal_record: "已修复".into(),
        public_reply: "已修复".into(),
    }
}

fn review(approve: bool, callback_due: &str) -> Action {
    Action::Review {
        approve,
        callback_due: approve.then(|| l(callback_due)),
        note: if approve {
            String::new()
        } else {
            "答复不完整".into()
        },
    }
}

fn callback(satisfaction: Satisfaction, redo_sign_due: Option<&str>) -> Action {
    Action::RecordCallback {
        satisfaction,
        reasonable: redo_sign_due.is_some(),
        note: String::new(),
        redo_sign_for_due: redo_sign_due.map(l),
    }
}

/// The clock and calendar of the test: "now" is fixed; a ticket awaiting sign-for runs its
/// sign-for clock, with no warning lead.
struct TestClocks {
    now: DateTime<Utc>,
    calendar: Arc<WorkingCalendar>,
}

impl Clocks for TestClocks {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn calendar(&self) -> Arc<WorkingCalendar> {
        self.calendar.clone()
    }
    fn running(&self, ticket: &Ticket) -> Vec<RunningClock> {
        match (ticket.stage, ticket.deadlines.sign_for) {
            (Stage::AwaitingSignFor, Some(due)) => vec![RunningClock {
                clock: "sign_for",
                due,
                warning: None,
            }],
            _ => Vec::new(),
        }
    }
}

/// The six tickets of the history, the first two split into two commits so the follower
/// replaces facts it stored before.
async fn write_history(store: &dyn TicketStore, kpis: &Kpis) {
    // T1: signed on the make-up Saturday, answered after the holiday, on time, satisfied.
    let mut t1 = Story::submit("2026-02-13 10:00", Channel::Hotline, "320508021019").act(
        sup(),
        "2026-02-13 10:05",
        dispatch(A, "2026-02-14 17:30"),
    );
    t1.save(store).await;
    kpis.follower().step().await.unwrap();
    let mut t1 = t1
        .act(
            staff("a1", A),
            "2026-02-14 10:00",
            sign("2026-02-28 17:30", "2026-02-14 17:30"),
        )
        .act(staff("a1", A), "2026-02-14 11:00", contact())
        .act(staff("a1", A), "2026-02-24 10:00", reply())
        .act(sup(), "2026-02-24 14:00", review(true, "2026-02-26 17:30"))
        .act(
            sup(),
            "2026-02-25 10:00",
            callback(Satisfaction::Satisfied, None),
        )
        .act(sup(), "2026-02-25 10:30", Action::Close);
    t1.save(store).await;

    // T2: signed late after the holiday, contacted late, extended, paused a working day,
    // answered late, reply rejected, redone after a dissatisfied callback, then on time.
    let mut t2 = Story::submit("2026-02-13 11:00", Channel::Hotline, "320508021019")
        .act(sup(), "2026-02-13 11:05", dispatch(A, "2026-02-14 17:30"))
        .act(
            staff("a2", A),
            "2026-02-24 09:30",
            sign("2026-03-03 17:30", "2026-02-24 17:30"),
        )
        .act(staff("a2", A), "2026-02-25 09:00", contact())
        .act(
            staff("a2", A),
            "2026-02-25 10:00",
            Action::RequestExtension {
                working_days: 3,
                reason: "需协调物业".into(),
            },
        )
        .act(
            sup(),
            "2026-02-25 11:00",
            Action::DecideExtension {
                approve: true,
                new_resolution_due: Some(l("2026-03-06 17:30")),
                note: String::new(),
            },
        )
        .act(
            staff("a2", A),
            "2026-02-26 09:00",
            Action::PauseClock {
                reason: "等待补充材料".into(),
            },
        )
        .act(
            staff("a2", A),
            "2026-02-27 09:00",
            Action::ResumeClock {
                resolution_due: Some(l("2026-03-09 17:30")),
            },
        )
        .act(staff("a2", A), "2026-03-10 10:00", reply())
        .act(sup(), "2026-03-10 14:00", review(false, ""));
    t2.save(store).await;
    kpis.follower().step().await.unwrap();
    let mut t2 = t2
        .act(staff("a2", A), "2026-03-11 10:00", reply())
        .act(sup(), "2026-03-11 14:00", review(true, "2026-03-13 17:30"))
        .act(
            sup(),
            "2026-03-12 10:00",
            callback(Satisfaction::Dissatisfied, Some("2026-03-13 17:30")),
        )
        .act(
            staff("a1", A),
            "2026-03-12 11:00",
            sign("2026-03-19 17:30", "2026-03-12 17:30"),
        )
        .act(staff("a1", A), "2026-03-12 15:00", contact())
        .act(staff("a1", A), "2026-03-13 10:00", reply())
        .act(sup(), "2026-03-13 11:00", review(true, "2026-03-17 17:30"))
        .act(
            sup(),
            "2026-03-16 10:00",
            callback(Satisfaction::Basic, None),
        )
        .act(sup(), "2026-03-16 11:00", Action::Close);
    t2.save(store).await;

    // T3: returned by B (accepted), dispatched to C in another district, answered on time;
    // the caller could not be reached at the callback.
    let mut t3 = Story::submit("2026-02-13 12:00", Channel::Web, "320508021")
        .act(sup(), "2026-02-13 12:05", dispatch(B, "2026-02-14 17:30"))
        .act(
            staff("b1", B),
            "2026-02-13 15:00",
            Action::RequestReturn {
                reason: ReturnReason::NotOurFunction,
                basis: "不属本单位职责".into(),
            },
        )
        .act(
            sup(),
            "2026-02-13 16:00",
            Action::ArbitrateReturn {
                accept: true,
                note: String::new(),
            },
        )
        .act(sup(), "2026-02-13 16:30", dispatch(C, "2026-02-14 17:30"))
        .act(
            staff("c1", C),
            "2026-02-14 09:30",
            sign("2026-02-28 17:30", "2026-02-14 17:30"),
        )
        .act(staff("c1", C), "2026-02-14 10:00", contact())
        .act(staff("c1", C), "2026-02-14 16:00", reply())
        .act(sup(), "2026-02-24 10:00", review(true, "2026-02-26 17:30"))
        .act(
            sup(),
            "2026-02-25 10:00",
            callback(Satisfaction::Unreachable, None),
        )
        .act(sup(), "2026-02-25 11:00", Action::Close);
    t3.save(store).await;

    // T4: a consultation answered at intake (直办) from a knowledge article.
    let mut t4 = Story::submit_as(
        "2026-02-13 13:00",
        Channel::Web,
        "320508021019",
        Nature::Consult,
    )
    .act(
        op(),
        "2026-02-13 13:05",
        Action::AnswerDirectly {
            answer: "请拨打物业电话".into(),
            article: Some(hotline_core::ArticleRef {
                id: "0190-article".into(),
                version: 2,
            }),
            callback: false,
            callback_due: None,
        },
    );
    t4.save(store).await;

    // T5: dispatched, never signed for: live and overdue.
    let mut t5 = Story::submit("2026-02-26 10:00", Channel::Hotline, "320508021019").act(
        sup(),
        "2026-02-26 10:05",
        dispatch(A, "2026-02-27 17:30"),
    );
    t5.save(store).await;

    // T6: a duplicate of T1.
    let mut t6 = Story::submit("2026-02-13 10:30", Channel::Hotline, "320508021019").act(
        op(),
        "2026-02-13 10:31",
        Action::LinkDuplicate { of: t1.ticket.id },
    );
    t6.save(store).await;
}

fn ratio(r: &hotline_kpi::Ratio) -> (u64, u64) {
    (r.numerator, r.denominator)
}

async fn assert_aggregates_equal_recomputation(kpis: &Kpis, calendar: &WorkingCalendar) {
    kpis.follower().step().await.unwrap();
    let incremental = kpis.store().rows().await.unwrap();
    let full = aggregate_all(kpis.store().as_ref(), calendar)
        .await
        .unwrap();
    assert!(!full.is_empty());
    assert_eq!(
        incremental, full,
        "incremental aggregates differ from a full recomputation"
    );
}

/// KPIs over `kpi_store` as of 20 Mar 12:00, with hourly rows kept long enough for the
/// hour-level periods of the checks (the default keeps 8 days).
fn kpis_of_the_history(
    kpi_store: Arc<dyn KpiStore>,
) -> (Kpis, Arc<TestClocks>, Arc<WorkingCalendar>) {
    let calendar = Arc::new(WorkingCalendar::builtin());
    let clocks = Arc::new(TestClocks {
        now: l("2026-03-20 12:00"),
        calendar: calendar.clone(),
    });
    let config = KpiConfig {
        hourly_retention_days: Some(400),
        ..KpiConfig::default()
    };
    (
        Kpis::new(kpi_store, clocks.clone(), config),
        clocks,
        calendar,
    )
}

/// The whole check, the follower's background step at `pace` (a report's own step is never
/// paced).
async fn check(store: Arc<dyn TicketStore>, kpi_store: Arc<dyn KpiStore>, pace: Pace) {
    let (kpis, clocks, calendar) = kpis_of_the_history(kpi_store.clone());
    write_history(store.as_ref(), &kpis).await;
    // T2's last changes and T3-T6 came after the history's last step.
    assert_eq!(kpis.follower().step_paced(pace).await.unwrap(), 5);
    assert_aggregates_equal_recomputation(&kpis, &calendar).await;
    // A second pass over everything changes nothing.
    assert_eq!(kpis.follower().step().await.unwrap(), 0);

    let gusu = Scope::Division("320508".into());
    let feb_mar = Period::new(l("2026-02-01 00:00"), l("2026-04-01 00:00"), 400).unwrap();
    let report = kpis.report(&gusu, feb_mar, GroupBy::Station).await.unwrap();
    let f = &report.total;
    // Dispatch rounds in 姑苏区: T1@A, T2@A, T2's redo@A, T3@B, T5@A.
    assert_eq!(f.dispatched, 5);
    // On time: T1 (on the make-up Saturday) and T2's redo; T2 signed after the holiday, B
    // returned T3 unsigned, T5 is still unsigned.
    assert_eq!(ratio(&f.sign_for_on_time), (2, 5));
    assert_eq!(ratio(&f.response), (2, 5));
    assert_eq!(ratio(&f.returns), (1, 5));
    assert_eq!(ratio(&f.extensions), (1, 5));
    // Resolution rounds: T1 (due 28 Feb, answered 24 Feb), T2's first (due 9 Mar after the
    // extension and the pause, answered 10 Mar), T2's redo (due 19 Mar, answered 13 Mar).
    assert_eq!(ratio(&f.resolved_on_time), (2, 3));
    assert_eq!(ratio(&f.closure), (2, 3));
    // Replies at A: T1 once, T2 three times. Redos: T2's rejected reply and its redo.
    assert_eq!(f.replied, 4);
    assert_eq!(ratio(&f.redo), (2, 4));
    // Callbacks reached at A: T1 satisfied, T2 dissatisfied then basic. T3's unreachable
    // callback is C's and would not count anyway.
    assert_eq!(ratio(&f.satisfaction), (2, 3));
    assert_eq!(f.accepted, 6);
    assert_eq!(ratio(&f.direct_answers), (1, 6));
    // 知识库命中率: T4 is the one consultation, answered from an article.
    assert_eq!(ratio(&f.knowledge_hits), (1, 1));
    // Handling, working hours: T1 14 Feb 10:00 -> 24 Feb 10:00 = 7.5 + 1 = 8.5 (the holiday
    // skipped, the make-up Saturday counted); T2 24 Feb 09:30 -> 10 Mar 10:00 = 94 - 8.5
    // paused = 85.5, and to 11 Mar 10:00 = 94; T2's redo 12 Mar 11:00 -> 13 Mar 10:00 = 7.5.
    let mean = (8.5 + 85.5 + 94.0 + 7.5) / 4.0;
    assert!(
        (f.handling_hours_mean - mean).abs() < 0.01,
        "{}",
        f.handling_hours_mean
    );
    assert_eq!(f.handling_hours_p90, 120.0);
    assert_eq!(f.closed, 2);

    let rows: std::collections::HashMap<_, _> = report
        .rows
        .iter()
        .map(|r| (r.key.as_str(), &r.figures))
        .collect();
    assert_eq!(rows[A].dispatched, 4);
    assert_eq!(ratio(&rows[A].sign_for_on_time), (2, 4));
    assert_eq!(rows[B].dispatched, 1);
    assert_eq!(ratio(&rows[B].returns), (1, 1));
    assert_eq!(rows[""].accepted, 6, "intake has no station yet");
    assert!(!rows.contains_key(C), "C is outside 姑苏区");

    // The backlog now (20 Mar): T5, awaiting sign-for since 26 Feb, overdue.
    assert_eq!(
        report.backlog.by_stage,
        vec![("awaiting_sign_for".to_owned(), 1)]
    );
    assert_eq!(report.backlog.overdue_now, 1);
    let at_risk = kpis.at_risk(&gusu, 10).await.unwrap();
    assert_eq!(at_risk.len(), 1);
    assert!(at_risk[0].overdue && at_risk[0].clock == "sign_for");

    // District 320505: C's one round, on time throughout; the unreachable callback excluded.
    let wuzhong = Scope::Division("320505".into());
    let c = kpis
        .report(&wuzhong, feb_mar, GroupBy::None)
        .await
        .unwrap()
        .total;
    assert_eq!(ratio(&c.sign_for_on_time), (1, 1));
    assert_eq!(ratio(&c.resolved_on_time), (1, 1));
    assert_eq!(ratio(&c.satisfaction), (0, 0));
    assert_eq!(c.accepted, 0, "T3's call was about 姑苏区");

    // Per staff: a1 signed T1 and T2's redo on time and answered both on time; a2 signed T2
    // late and answered it late twice.
    let staff = kpis
        .report(&Scope::Station(A.into()), feb_mar, GroupBy::Staff)
        .await
        .unwrap();
    let by: std::collections::HashMap<_, _> = staff
        .rows
        .iter()
        .map(|r| (r.key.as_str(), &r.figures))
        .collect();
    assert_eq!(ratio(&by["a1"].sign_for_on_time), (2, 2));
    assert_eq!(ratio(&by["a1"].resolved_on_time), (2, 2));
    assert_eq!(ratio(&by["a2"].sign_for_on_time), (0, 1));
    assert_eq!(ratio(&by["a2"].resolved_on_time), (0, 2));

    // A period on part of one day, from the hourly table: 13 Feb 10:00-12:00 has T1's and
    // T2's dispatches (B's at 12:05 is outside) and three calls (T1, T6, T2).
    let morning = Period::new(l("2026-02-13 10:00"), l("2026-02-13 12:00"), 400).unwrap();
    let m = kpis
        .report(&gusu, morning, GroupBy::None)
        .await
        .unwrap()
        .total;
    assert_eq!((m.dispatched, m.accepted), (2, 3));
    assert_eq!(ratio(&m.sign_for_on_time), (1, 2));
    // Days plus edge hours: 13 Feb 12:00 to 1 Mar: B's dispatch and T5's.
    let rest = Period::new(l("2026-02-13 12:00"), l("2026-03-01 00:00"), 400).unwrap();
    let r = kpis.report(&gusu, rest, GroupBy::Day).await.unwrap();
    assert_eq!(r.total.dispatched, 2);
    let days: Vec<(&str, u64)> = r
        .rows
        .iter()
        .filter(|row| row.figures.dispatched > 0)
        .map(|row| (row.key.as_str(), row.figures.dispatched))
        .collect();
    assert_eq!(days, vec![("2026-02-13", 1), ("2026-02-26", 1)]);
    // With the default retention (8 days of hourly rows), the same morning on 13 Feb is
    // answered for the whole day, and the answer says so; the hourly rows that old are gone,
    // and what remains still equals a recomputation of the rows kept.
    let short = Kpis::new(kpi_store, clocks, KpiConfig::default());
    let day = short.report(&gusu, morning, GroupBy::None).await.unwrap();
    assert!(
        day.notes.iter().any(|n| n.contains("whole days")),
        "{:?}",
        day.notes
    );
    assert_eq!(
        day.total.dispatched, 3,
        "13 Feb: T1, T2 and B's dispatch of T3"
    );
    let kept = short.store().rows().await.unwrap();
    assert!(kept
        .keys()
        .all(|k| k.grain != hotline_kpi::store::Grain::Hour
            || k.bucket >= l("2026-03-12 12:00").timestamp_millis()));
    let full = aggregate_all(short.store().as_ref(), &calendar)
        .await
        .unwrap();
    let full_kept: std::collections::BTreeMap<_, _> = full
        .into_iter()
        .filter(|(k, _)| {
            k.grain != hotline_kpi::store::Grain::Hour
                || k.bucket >= l("2026-03-12 12:00").timestamp_millis()
        })
        .collect();
    assert_eq!(kept, full_kept);

    // By channel: T3 came by web.
    let ch = kpis.report(&gusu, feb_mar, GroupBy::Channel).await.unwrap();
    let web = ch.rows.iter().find(|r| r.key == "web").unwrap();
    assert_eq!((web.figures.accepted, web.figures.dispatched), (2, 1));
}

#[tokio::test]
async fn kpis_on_a_hand_built_history_sqlite() {
    let (store, dir) = fresh_sqlite().await.unwrap();
    let kpis = SqliteKpis::open_dir(dir.path()).await.unwrap();
    check(Arc::new(store), Arc::new(kpis), Pace::FULL).await;
}

#[tokio::test]
async fn kpis_on_a_hand_built_history_postgres() {
    let store = fresh_postgres().await.unwrap();
    let kpis = PgKpis::from_pool(store.pool().clone());
    check(Arc::new(store), Arc::new(kpis), Pace::FULL).await;
}

/// A paced step writes in small statements with pauses between: the same rows.
#[tokio::test]
async fn kpis_on_a_hand_built_history_postgres_paced() {
    let store = fresh_postgres().await.unwrap();
    let kpis = PgKpis::from_pool(store.pool().clone());
    check(Arc::new(store), Arc::new(kpis), Pace::share(0.5).unwrap()).await;
}

/// A step skips reading the stored facts of a ticket its cursor's snapshot saw nothing of: no
/// step can have stored any, since each stores exactly its own snapshot's history. A cursor
/// without that promise (an older release's, whose step also stored changes that committed
/// after its snapshot) makes the next step read every changed ticket's facts, so nothing is
/// counted twice across the upgrade.
#[tokio::test]
async fn an_unmarked_cursor_still_replaces_stored_facts_postgres() {
    let store = fresh_postgres().await.unwrap();
    let pool = store.pool().clone();
    let (kpis, _, calendar) = kpis_of_the_history(Arc::new(PgKpis::from_pool(pool.clone())));
    let cursor = || async {
        sqlx::query_scalar::<_, String>("SELECT cursor FROM kpi_state WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(kpis.follower().step().await.unwrap(), 0);
    let before: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
        .fetch_one(&pool)
        .await
        .unwrap();

    let mut t1 = Story::submit("2026-03-02 10:00", Channel::Hotline, "320508021019").act(
        sup(),
        "2026-03-02 10:05",
        dispatch(A, "2026-03-03 17:30"),
    );
    t1.save(&store).await;
    assert_eq!(kpis.follower().step().await.unwrap(), 1);
    assert!(cursor().await.starts_with("exact "), "{}", cursor().await);
    // As an older release could leave it: T1's facts stored, the cursor a snapshot before T1.
    sqlx::query("UPDATE kpi_state SET cursor = $1 WHERE id = 1")
        .bind(&before)
        .execute(&pool)
        .await
        .unwrap();
    let mut t1 = t1.act(
        staff("a1", A),
        "2026-03-02 11:00",
        sign("2026-03-10 17:30", "2026-03-02 17:30"),
    );
    t1.save(&store).await;
    assert_eq!(kpis.follower().step().await.unwrap(), 1);
    assert_aggregates_equal_recomputation(&kpis, &calendar).await;
    assert!(cursor().await.starts_with("exact "), "{}", cursor().await);

    // After a marked cursor: a new ticket (its read skipped) and a changed one (read).
    let mut t2 = Story::submit("2026-03-03 09:00", Channel::Web, "320508021").act(
        sup(),
        "2026-03-03 09:05",
        dispatch(B, "2026-03-04 17:30"),
    );
    t2.save(&store).await;
    let mut t1 = t1.act(staff("a1", A), "2026-03-03 10:00", reply());
    t1.save(&store).await;
    assert_eq!(
        kpis.follower()
            .step_paced(Pace::share(0.5).unwrap())
            .await
            .unwrap(),
        2
    );
    assert_aggregates_equal_recomputation(&kpis, &calendar).await;
}

#[test]
fn bad_periods_are_refused_with_a_reason() {
    let err = Period::new(l("2026-03-02 00:00"), l("2026-03-01 00:00"), 400).unwrap_err();
    assert!(err.to_string().contains("before it starts"), "{err}");
    let err = Period::new(l("2020-03-02 00:00"), l("2026-03-01 00:00"), 400).unwrap_err();
    assert!(err.to_string().contains("kept for 400 days"), "{err}");
}

/// The hotspot baseline's and priming's reads: three tickets in one hour and one in the next,
/// per hour, territory and category, and the calls since a time, oldest first.
async fn check_hotspot_history(store: Arc<dyn TicketStore>, kpis: Arc<dyn KpiStore>) {
    for (at, division) in [
        ("2026-03-02 09:05", "320508021019"),
        ("2026-03-02 09:40", "320508021019"),
        ("2026-03-02 09:59", "320505001"),
        ("2026-03-02 10:01", "320508021019"),
    ] {
        Story::submit(at, Channel::Hotline, division)
            .save(store.as_ref())
            .await;
    }
    let (mut rows, earliest) = kpis
        .intake_hours(l("2026-03-02 00:00"), l("2026-03-03 00:00"))
        .await
        .unwrap();
    rows.sort_by(|a, b| (a.hour, &a.division).cmp(&(b.hour, &b.division)));
    let got: Vec<(DateTime<Utc>, &str, &str, u64)> = rows
        .iter()
        .map(|r| (r.hour, r.division.as_str(), r.category.as_str(), r.count))
        .collect();
    assert_eq!(
        got,
        [
            (l("2026-03-02 09:00"), "320505001", "SQ.JTBL", 1),
            (l("2026-03-02 09:00"), "320508021019", "SQ.JTBL", 2),
            (l("2026-03-02 10:00"), "320508021019", "SQ.JTBL", 1),
        ]
    );
    assert_eq!(earliest, Some(l("2026-03-02 09:05")));
    // The range's end is exclusive.
    let (before, _) = kpis
        .intake_hours(l("2026-03-02 00:00"), l("2026-03-02 09:40"))
        .await
        .unwrap();
    assert_eq!(before.iter().map(|r| r.count).sum::<u64>(), 1);
    let since = kpis.intake_since(l("2026-03-02 09:40")).await.unwrap();
    let times: Vec<DateTime<Utc>> = since.iter().map(|c| c.at).collect();
    assert_eq!(
        times,
        [
            l("2026-03-02 09:40"),
            l("2026-03-02 09:59"),
            l("2026-03-02 10:01")
        ]
    );
    assert!(TicketId::parse("id", &since[0].ticket_id).is_ok());
}

#[tokio::test]
async fn hotspot_history_reads_sqlite() {
    let (store, dir) = fresh_sqlite().await.unwrap();
    let kpis = SqliteKpis::open_dir(dir.path()).await.unwrap();
    check_hotspot_history(Arc::new(store), Arc::new(kpis)).await;
}

#[tokio::test]
async fn hotspot_history_reads_postgres() {
    let store = fresh_postgres().await.unwrap();
    let kpis = PgKpis::from_pool(store.pool().clone());
    check_hotspot_history(Arc::new(store), Arc::new(kpis)).await;
}
