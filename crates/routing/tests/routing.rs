//! The routing engine's behaviour, end to end over the shipped catalogue, classifier and
//! Suzhou directory.

use std::sync::{Arc, OnceLock};

use hotline_classify::Classifier;
use hotline_core::{CategoryCode, DivisionCode, EmergencyService, KioskId, Nature, Urgency};
use hotline_directory::{Directory, Level, StationKind};
use hotline_routing::{
    Catalogue, Decision, RouteRequest, RoutingEngine, RoutingError, Settings, TriageReason,
};
use hotline_territory::Resolver;
use proptest::prelude::*;

const TRAIN_CSV: &str = "../../../shared/data/civic/train.csv";

fn engine() -> &'static RoutingEngine {
    static ENGINE: OnceLock<RoutingEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut directory = Directory::suzhou();
        directory
            .register_kiosk(kiosk("K-0001"), code("320508021019"))
            .unwrap();
        let directory = Arc::new(directory);
        let resolver = Resolver::new(directory.clone());
        RoutingEngine::new(
            Classifier::shipped(),
            resolver,
            Catalogue::shipped(),
            directory,
            Settings::default(),
        )
        .unwrap()
    })
}

fn code(raw: &str) -> DivisionCode {
    DivisionCode::parse("division", raw).unwrap()
}

fn kiosk(raw: &str) -> KioskId {
    KioskId::parse("kiosk", raw).unwrap()
}

fn route(request: RouteRequest) -> Decision {
    engine().route(&request)
}

fn station(decision: &Decision) -> &str {
    decision.explanation.station.as_ref().unwrap().as_str()
}

fn with_address(text: &str, address: &str) -> RouteRequest {
    RouteRequest {
        address: Some(address.to_owned()),
        ..RouteRequest::text(text)
    }
}

#[test]
fn property_repair_in_canglangting_goes_to_its_community_service_station_with_the_rule() {
    let decision = route(RouteRequest::text(
        "姑苏区沧浪亭社区5栋楼道灯坏了，物业报修一个月没人管",
    ));
    let e = &decision.explanation;
    assert_eq!(station(&decision), "320508021019-css", "{e:#?}");
    assert!(!e.triage);
    assert_eq!(e.categories[0].code.as_str(), "SQ.WYBX");
    assert_eq!(e.category_source, "rules");
    assert!(
        e.drivers.iter().any(|d| d.contains("报修")),
        "{:?}",
        e.drivers
    );
    assert_eq!(e.territory.division, Some(code("320508021019")));
    assert_eq!(e.territory.level, "community");
    assert!(
        e.territory.matched.contains("沧浪亭社区"),
        "{:?}",
        e.territory
    );
    assert!(e.territory.how.starts_with("text:"), "{}", e.territory.how);
    let rule = e.rule.as_deref().unwrap();
    assert!(rule.starts_with("<default catalogue>:"), "{rule}");
    assert!(rule.contains("SQ.WYBX => community:css"), "{rule}");
    assert!(e.fallbacks.is_empty(), "{:?}", e.fallbacks);
    assert!(
        e.versions.contains("catalogue=suzhou-dispatch-2024.1"),
        "{}",
        e.versions
    );
    assert!(e.versions.contains("taxonomy=") && e.versions.contains("model=none"));
}

#[test]
fn unpaid_wages_in_a_community_go_to_its_labour_security_station() {
    let decision = route(with_address("公司拖欠工资三个月了", "姑苏区沧浪亭社区"));
    let e = &decision.explanation;
    assert_eq!(station(&decision), "320508021019-lss", "{e:#?}");
    assert_eq!(e.categories[0].code.as_str(), "LS.GZFL");
    assert_eq!(e.nature, Some(Nature::Complaint));
    assert!(
        e.territory.how.starts_with("address:"),
        "{}",
        e.territory.how
    );
}

#[test]
fn unpaid_wages_with_only_the_district_known_go_to_the_district_hrss_with_a_fallback() {
    let decision = route(with_address("公司拖欠工资三个月了", "苏州市姑苏区"));
    let e = &decision.explanation;
    assert_eq!(station(&decision), "320508-hrss", "{e:#?}");
    assert!(!e.triage);
    assert_eq!(e.territory.level, "district");
    assert!(
        e.fallbacks
            .iter()
            .any(|f| f.contains("district") && f.contains("skipped community:lss street:labour")),
        "{:?}",
        e.fallbacks
    );
}

#[test]
fn only_the_street_known_widens_property_repair_to_the_street_office() {
    let decision = route(with_address("楼道灯坏了要报修", "双塔街道"));
    assert_eq!(station(&decision), "320508021-office", "{decision:#?}");
    assert!(decision.explanation.fallbacks[0].contains("skipped community:css"));
}

#[test]
fn a_water_cut_goes_to_the_city_water_company_with_or_without_an_address() {
    let decision = route(with_address("家里停水两天了，自来水一直没来", "沧浪亭社区"));
    assert_eq!(station(&decision), "3205-water", "{decision:#?}");
    assert!(decision
        .explanation
        .rule
        .as_deref()
        .unwrap()
        .contains("city:water"));

    // 停水 alone names its category (the rules) and the category's word item routes it.
    let bare = route(RouteRequest::text("小区停水了"));
    let e = &bare.explanation;
    assert_eq!(station(&bare), "3205-water", "{e:#?}");
    assert!(!e.triage && bare.triage_reasons.is_empty());
    assert_eq!(e.urgency, Urgency::Urgent);
    assert_eq!(e.categories[0].code.as_str(), "CJ.CSJS", "{e:#?}");
    assert!(e.rule.as_deref().unwrap().contains("city:water"), "{e:#?}");

    // A word that names no category: the catalogue's `*` word item still routes it.
    let bare = route(RouteRequest::text("小区的水质发黄"));
    let e = &bare.explanation;
    assert_eq!(station(&bare), "3205-water", "{e:#?}");
    assert!(!e.triage && bare.triage_reasons.is_empty());
    assert!(
        e.fallbacks.iter().any(|f| f.contains("「水质发黄」")),
        "{:?}",
        e.fallbacks
    );
}

#[test]
fn unsure_text_goes_to_triage_with_the_reason() {
    let decision = route(RouteRequest::text("你好"));
    let e = &decision.explanation;
    assert!(e.triage);
    assert_eq!(station(&decision), "3205-triage");
    assert_eq!(decision.triage_reasons, [TriageReason::NothingKnown]);
    assert!(
        e.fallbacks[0].starts_with("nothing_known: category unsure"),
        "{:?}",
        e.fallbacks
    );
    assert_eq!(e.territory.how, "unresolved");
}

#[test]
fn a_low_category_score_goes_to_triage_even_with_a_known_territory() {
    let strict = Settings {
        min_category_score: 0.9,
        ..Settings::default()
    };
    let directory = Arc::new(Directory::suzhou());
    let engine = RoutingEngine::new(
        Classifier::shipped(),
        Resolver::new(directory.clone()),
        Catalogue::shipped(),
        directory,
        strict,
    )
    .unwrap();
    // 物业 + 报修: two categories, the top one scores 2/3.
    let decision = engine.route(&RouteRequest::text("沧浪亭社区物业报修没人管"));
    assert_eq!(
        decision.triage_reasons,
        [TriageReason::LowCategoryScore],
        "{decision:#?}"
    );
    assert!(decision.explanation.fallbacks[0].contains("< 0.90"));
    assert_eq!(decision.explanation.territory.level, "community");
}

#[test]
fn bad_text_goes_to_triage_with_a_typed_reason() {
    let cases = [
        ("", TriageReason::EmptyText),
        ("   \n\t", TriageReason::EmptyText),
        ("😀😀😀🔥", TriageReason::NotChinese),
        (
            "The street lamp outside my house is broken",
            TriageReason::NotChinese,
        ),
        ("!!!???###", TriageReason::NotChinese),
        ("啊啊啊啊啊啊", TriageReason::NothingKnown),
    ];
    for (text, reason) in cases {
        let decision = route(RouteRequest::text(text));
        assert!(decision.explanation.triage, "{text:?}");
        assert_eq!(decision.triage_reasons, [reason], "{text:?}");
        assert!(decision.explanation.fallbacks[0].starts_with(reason.code()));
    }
    let long = format!("沧浪亭社区{}", "物业报修".repeat(50_000));
    let decision = route(RouteRequest::text(long));
    assert_eq!(station(&decision), "320508021019-css");
}

#[test]
fn the_operators_category_and_division_win() {
    let decision = route(RouteRequest {
        category: Some(CategoryCode::parse("c", "SQ.LDRK").unwrap()),
        division: Some(code("320508021019")),
        ..RouteRequest::text("你好，我在北京市朝阳区，想问问")
    });
    let e = &decision.explanation;
    assert_eq!(station(&decision), "320508021019-police", "{e:#?}");
    assert_eq!(e.category_source, "operator");
    assert_eq!(e.categories.len(), 1);
    assert_eq!(e.categories[0].score, 1.0);
    assert_eq!(e.categories[0].name, "流动人口登记");
    assert_eq!(e.territory.how, "given");
}

#[test]
fn an_unknown_operator_category_or_division_is_recorded_and_the_request_resolved_instead() {
    let decision = route(RouteRequest {
        category: Some(CategoryCode::parse("c", "XX.YY").unwrap()),
        division: Some(code("320599999999")),
        ..with_address("公司拖欠工资", "沧浪亭社区")
    });
    let e = &decision.explanation;
    assert_eq!(station(&decision), "320508021019-lss", "{e:#?}");
    assert!(e
        .fallbacks
        .iter()
        .any(|f| f.contains("`XX.YY` is not in the taxonomy")));
    assert!(e
        .fallbacks
        .iter()
        .any(|f| f.contains("320599999999 is not in the directory")));
}

#[test]
fn an_address_outside_suzhou_leaves_the_territory_unresolved_and_goes_to_triage() {
    let decision = route(with_address(
        "公司拖欠工资三个月了",
        "北京市朝阳区建国路88号",
    ));
    let e = &decision.explanation;
    assert!(e.triage);
    assert_eq!(
        decision.triage_reasons,
        [TriageReason::TerritoryUnresolved],
        "{e:#?}"
    );
    assert_eq!(e.territory.division, None);
    assert_eq!(e.territory.how, "unresolved");
    assert!(
        e.territory.reason.contains("outside the city"),
        "{}",
        e.territory.reason
    );
    assert!(e.rule.as_deref().unwrap().contains("LS.GZFL"));
}

#[test]
fn a_kiosk_places_the_request_and_an_unknown_kiosk_is_explained() {
    let decision = route(RouteRequest {
        kiosk: Some(kiosk("K-0001")),
        ..RouteRequest::text("楼道灯坏了要报修")
    });
    assert_eq!(station(&decision), "320508021019-css", "{decision:#?}");
    assert_eq!(decision.explanation.territory.how, "kiosk");

    let unknown = route(RouteRequest {
        kiosk: Some(kiosk("K-404")),
        ..RouteRequest::text("楼道灯坏了要报修")
    });
    assert_eq!(unknown.triage_reasons, [TriageReason::TerritoryUnresolved]);
    assert!(unknown
        .explanation
        .territory
        .reason
        .contains("kiosk is not registered"));
}

#[test]
fn a_point_without_polygons_or_out_of_range_is_explained_not_a_panic() {
    for (lat, lng) in [
        (31.3, 120.6),
        (f64::NAN, 1.0),
        (999.0, 120.0),
        (0.0, f64::INFINITY),
    ] {
        let decision = route(RouteRequest {
            location: Some((lat, lng)),
            ..RouteRequest::text("公司拖欠工资")
        });
        assert!(decision.explanation.triage);
        assert!(decision.explanation.territory.reason.contains("point:"));
    }
}

#[test]
fn a_text_naming_a_community_refines_an_address_naming_its_street() {
    let decision = route(with_address("沧浪亭社区楼道灯坏了，报修", "双塔街道"));
    assert_eq!(station(&decision), "320508021019-css", "{decision:#?}");
    assert!(decision
        .explanation
        .territory
        .reason
        .starts_with("address:"));
}

#[test]
fn an_emergency_goes_to_triage_flagged_critical_with_the_hand_off() {
    let decision = route(RouteRequest::text("沧浪亭社区楼下着火了，浓烟很大"));
    let e = &decision.explanation;
    assert!(e.triage);
    assert_eq!(e.emergency, Some(EmergencyService::Fire));
    assert_eq!(e.urgency, Urgency::Critical);
    assert!(e.emergency_cues.iter().any(|c| c == "着火"));
    assert!(decision.triage_reasons.contains(&TriageReason::Emergency));
    assert!(e
        .fallbacks
        .iter()
        .any(|f| f.starts_with("emergency: hand off to 119")));

    // An operator who categorised the call has judged it: it routes normally, still critical.
    let judged = route(RouteRequest {
        category: Some(CategoryCode::parse("c", "SQ.JTBL").unwrap()),
        ..RouteRequest::text("沧浪亭社区有人家暴，已报110")
    });
    assert_eq!(station(&judged), "320508021019-police", "{judged:#?}");
    assert_eq!(judged.explanation.emergency, Some(EmergencyService::Police));
    assert_eq!(judged.explanation.urgency, Urgency::Critical);
}

#[test]
fn every_shipped_rule_names_stations_that_exist() {
    let directory = engine().directory();
    for rule in engine().catalogue().rules() {
        for step in &rule.steps {
            assert!(
                StationKind::at_level(step.level).contains(&step.kind),
                "line {}: {} does not exist",
                rule.line,
                step
            );
            let some_division = directory
                .divisions_at(step.level)
                .next()
                .unwrap_or_else(|| panic!("no {:?} division", step.level));
            assert!(
                directory
                    .station_of_kind(&some_division.code, step.kind)
                    .is_some(),
                "line {}: {} has no station in the directory",
                rule.line,
                step
            );
        }
    }
    assert!(directory.count_at(Level::Community) > 0);
}

#[test]
fn an_engine_refuses_a_catalogue_with_unknown_categories_or_another_directory() {
    let bad = Catalogue::parse(
        "bad.txt",
        "@version b\n* => street:command\nXX => district:command\n",
    )
    .unwrap();
    let directory = Arc::new(Directory::suzhou());
    let err = RoutingEngine::new(
        Classifier::shipped(),
        Resolver::new(directory.clone()),
        bad,
        directory.clone(),
        Settings::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("bad.txt:3: category `XX`"),
        "{err}"
    );

    let other = Arc::new(Directory::suzhou());
    let err = RoutingEngine::new(
        Classifier::shipped(),
        Resolver::new(other),
        Catalogue::shipped(),
        directory,
        Settings::default(),
    )
    .unwrap_err();
    assert!(matches!(err, RoutingError::Inconsistent { .. }), "{err}");
}

#[test]
fn the_engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RoutingEngine>();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_input_gets_a_station_and_triage_always_has_a_reason(
        text in "\\PC{0,200}",
        address in proptest::option::of("\\PC{0,40}"),
        lat in proptest::num::f64::ANY,
        lng in proptest::num::f64::ANY,
    ) {
        let decision = route(RouteRequest {
            address,
            location: Some((lat, lng)),
            kiosk: Some(kiosk("K-9")),
            ..RouteRequest::text(text)
        });
        let e = &decision.explanation;
        prop_assert!(e.station.is_some());
        prop_assert_eq!(e.triage, !decision.triage_reasons.is_empty());
        prop_assert_eq!(e.triage, e.station.as_ref().unwrap().as_str() == "3205-triage");
        for reason in &decision.triage_reasons {
            prop_assert!(e.fallbacks.iter().any(|f| f.starts_with(reason.code())));
        }
    }

    #[test]
    fn chinese_noise_around_place_names_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("沧浪亭社区".to_owned()),
                Just("双塔街道".to_owned()),
                Just("北京市".to_owned()),
                Just("停水".to_owned()),
                Just("着火".to_owned()),
                Just("拖欠工资".to_owned()),
                "[\\u4e00-\\u9fff]{0,6}",
            ],
            0..12,
        )
    ) {
        let decision = route(RouteRequest::text(parts.concat()));
        prop_assert!(decision.explanation.station.is_some());
    }
}

/// Informational: how the public civic messages (another province, so territory is mostly
/// unresolved) fare. Prints the figures; asserts only that nothing panics and that city-level
/// items route without a territory.
#[test]
fn civic_messages_are_routed_and_the_share_reaching_a_station_is_reported() {
    let Ok(mut reader) = csv::Reader::from_path(TRAIN_CSV) else {
        eprintln!("skipped: {TRAIN_CSV} not found");
        return;
    };
    let (mut total, mut routed) = (0usize, 0usize);
    let mut reasons: std::collections::BTreeMap<&str, usize> = Default::default();
    let start = std::time::Instant::now();
    for record in reader.records() {
        let record = record.unwrap();
        let decision = route(RouteRequest::text(&record[0]));
        total += 1;
        if decision.explanation.triage {
            for reason in &decision.triage_reasons {
                *reasons.entry(reason.code()).or_default() += 1;
            }
        } else {
            routed += 1;
        }
    }
    let elapsed = start.elapsed();
    eprintln!(
        "civic/train.csv: {routed} of {total} messages ({:.1}%) route to a station, the rest to \
         triage; triage reasons: {reasons:?}; {:.0} decisions/s (debug build)",
        100.0 * routed as f64 / total as f64,
        total as f64 / elapsed.as_secs_f64()
    );
    assert!(total > 5000);
}

/// Tunes nothing, reports the default duplicate threshold on real messages: pairs sharing a
/// (non-empty) title are near-duplicates; pairs of the same label with different titles
/// (the hard case: same category) are not, bar re-posts under a new title.
#[test]
fn the_default_duplicate_threshold_holds_on_civic_messages() {
    let Ok(mut reader) = csv::Reader::from_path(TRAIN_CSV) else {
        eprintln!("skipped: {TRAIN_CSV} not found");
        return;
    };
    let rows: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[1].to_owned(), r[2].to_owned())
        })
        .collect();
    let mut by_title: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    let mut by_label: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, (_, label, title)) in rows.iter().enumerate() {
        if !title.trim().is_empty() {
            by_title.entry(title).or_default().push(i);
        }
        by_label.entry(label).or_default().push(i);
    }
    let mut positives = Vec::new();
    for group in by_title.values() {
        for (k, &a) in group.iter().enumerate() {
            for &b in &group[k + 1..] {
                positives.push((a, b));
            }
        }
    }
    // A fixed LCG keeps the sample the same from run to run.
    let mut state: u64 = 7;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let mut negatives = Vec::new();
    while negatives.len() < 20_000 {
        let a = next(rows.len());
        let same_label = &by_label[rows[a].1.as_str()];
        let b = same_label[next(same_label.len())];
        if rows[a].2 != rows[b].2 && rows[a].0 != rows[b].0 {
            negatives.push((a, b));
        }
    }
    let settings = hotline_routing::DuplicateSettings::default();
    let hit = |&(a, b): &(usize, usize)| {
        hotline_routing::is_duplicate(&rows[a].0, &rows[b].0, &settings).is_some()
    };
    let true_positives = positives.iter().filter(|p| hit(p)).count();
    let false_positives = negatives.iter().filter(|n| hit(n)).count();
    let precision = true_positives as f64 / (true_positives + false_positives).max(1) as f64;
    let recall = true_positives as f64 / positives.len() as f64;
    eprintln!(
        "duplicates at {}: {true_positives}/{} same-title pairs found (recall {recall:.2}), \
         {false_positives}/{} same-label pairs flagged (precision {precision:.2})",
        settings.min_similarity,
        positives.len(),
        negatives.len()
    );
    assert!(recall >= 0.7, "recall {recall}");
    assert!(precision >= 0.85, "precision {precision}");
}

/// An engine whose model is calibrated with `threshold` as its dispatch threshold.
fn calibrated_engine(threshold: f32) -> RoutingEngine {
    use hotline_classify::calibration::{Calibration, Selective};
    use hotline_classify::{train_examples, Example, TrainOptions};
    let rows = [
        ("小区路灯不亮了，晚上出行不便", "城乡建设"),
        ("窨井盖丢失，存在安全隐患", "城乡建设"),
        ("道路破损坑洼，车辆难行", "城乡建设"),
        ("公司拖欠工资三个月", "劳动和社会保障"),
        ("社保卡办理需要什么材料", "劳动和社会保障"),
        ("单位不给缴纳养老保险", "劳动和社会保障"),
    ];
    let examples: Vec<Example> = rows
        .iter()
        .map(|(text, label)| Example {
            text: (*text).into(),
            label: (*label).into(),
        })
        .collect();
    let options = TrainOptions {
        min_df: 1,
        ..TrainOptions::default()
    };
    let model = train_examples(&examples, &options)
        .unwrap()
        .with_calibration(Calibration {
            scale: 2.0,
            folds: 5,
            examples: 6,
            ece: 0.01,
            selective: Some(Selective {
                max_misroute: 0.02,
                threshold,
                coverage: 0.8,
                precision: 0.98,
            }),
        });
    let directory = Arc::new(Directory::suzhou());
    RoutingEngine::new(
        Classifier::shipped().with_model(model).unwrap(),
        Resolver::new(directory.clone()),
        Catalogue::shipped(),
        directory,
        Settings::default(),
    )
    .unwrap()
}

#[test]
fn a_calibrated_model_dispatches_at_its_threshold_and_says_so() {
    let text = "沧浪亭社区的路灯坏了";
    let sure = calibrated_engine(0.5).route(&RouteRequest::text(text));
    let e = &sure.explanation;
    assert!(!e.triage, "{e:#?}");
    assert!(
        e.confidence.starts_with("probability ")
            && e.confidence
                .contains(">= threshold 0.50 for at most 2.0% misrouted"),
        "{}",
        e.confidence
    );
    // The model's version names the exact file, in the explanation and the confidence line.
    let version = calibrated_engine(0.5)
        .classifier()
        .model()
        .unwrap()
        .version()
        .to_owned();
    assert!(
        e.versions.contains(&format!("model={version}")),
        "{}",
        e.versions
    );
    assert!(e.confidence.contains(&version));

    // The same text under a threshold it does not reach: triage, the top suggestions kept,
    // the probability and the threshold in the reason.
    let unsure = calibrated_engine(0.999).route(&RouteRequest::text(text));
    let e = &unsure.explanation;
    assert!(e.triage);
    assert_eq!(unsure.triage_reasons, [TriageReason::LowCategoryScore]);
    assert_eq!(e.categories.len(), 2, "{:?}", e.categories);
    assert!(
        e.fallbacks[0].contains("< threshold 1.00") || e.fallbacks[0].contains("< threshold 0.999"),
        "{:?}",
        e.fallbacks
    );
    assert!(e.confidence.starts_with("probability "), "{}", e.confidence);
}
