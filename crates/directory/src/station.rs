//! Stations (receiving units): who a ticket can be dispatched to, and the rule that derives them
//! from the divisions.
//!
//! Why generate instead of shipping a stations file: every station follows from its division by
//! one rule (the seed's "五室三站" per community, the street office and its centres, the district
//! departments tickets really go to, the city's triage and utilities). Generating at load time
//! keeps one source of truth, so a new divisions file (another city, a new year's codes) can
//! never disagree with a stale derived file, and it costs about a millisecond for ~10,000
//! stations. The order is deterministic: divisions in file order, kinds in
//! [`StationKind::at_level`] order.

use std::fmt;

use hotline_core::{DivisionCode, InvalidInput, StationId};
use serde::{Deserialize, Serialize};

use crate::division::Division;
use crate::level::Level;

/// The type of a station. Some kinds exist at several levels with the same code, so that
/// [`crate::Directory::nearest_station_of_kind`] can fall back up the tree: `police` is the
/// community police room (警务室), the street's police station (派出所) and the district's public
/// security branch (公安分局); `command` is the street's grid centre and the district's 12345
/// office; `urban` is the street's squadron and the district's bureau.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    /// 社区服务站 (community).
    CommunityService,
    /// 劳动保障民政工作服务站 (community).
    LabourCivilAffairs,
    /// 卫生计生服务站 (community).
    HealthFamilyPlanning,
    /// 警务室 / 派出所 / 公安分局 (community, street, district).
    Police,
    /// 街道办事处 / 镇人民政府 (street).
    Office,
    /// 综合指挥中心 (street) / 12345 coordination office (district).
    Command,
    /// 劳动保障所 (street).
    Labour,
    /// 城管中队 (street) / 城市管理局 (district).
    Urban,
    /// 住房和城乡建设局 (district).
    Housing,
    /// 人力资源和社会保障局 (district).
    HumanResources,
    /// 民政局 (district).
    CivilAffairs,
    /// 卫生健康委员会 (district).
    Health,
    /// 交通运输局 (district).
    Transport,
    /// 市场监督管理局 (district).
    Market,
    /// 生态环境局 (district).
    Environment,
    /// 教育局 (district).
    Education,
    /// 司法局 (district).
    Justice,
    /// 自然资源和规划局 (district).
    Planning,
    /// 水务局 (district).
    WaterAffairs,
    /// The centre's own triage queue (city).
    Triage,
    /// Water supply company (city).
    Water,
    /// Power supply company (city).
    Power,
    /// Gas company (city).
    Gas,
    /// Telecom operators (city).
    Telecom,
}

use StationKind as K;

const COMMUNITY_KINDS: &[StationKind] = &[
    K::CommunityService,
    K::LabourCivilAffairs,
    K::HealthFamilyPlanning,
    K::Police,
];
const STREET_KINDS: &[StationKind] = &[K::Office, K::Command, K::Labour, K::Urban, K::Police];
const DISTRICT_KINDS: &[StationKind] = &[
    K::Command,
    K::Housing,
    K::HumanResources,
    K::CivilAffairs,
    K::Health,
    K::Urban,
    K::Transport,
    K::Market,
    K::Environment,
    K::Education,
    K::Justice,
    K::Police,
    K::Planning,
    K::WaterAffairs,
];
const CITY_KINDS: &[StationKind] = &[K::Triage, K::Water, K::Power, K::Gas, K::Telecom];

impl StationKind {
    pub const ALL: &'static [StationKind] = &[
        K::CommunityService,
        K::LabourCivilAffairs,
        K::HealthFamilyPlanning,
        K::Police,
        K::Office,
        K::Command,
        K::Labour,
        K::Urban,
        K::Housing,
        K::HumanResources,
        K::CivilAffairs,
        K::Health,
        K::Transport,
        K::Market,
        K::Environment,
        K::Education,
        K::Justice,
        K::Planning,
        K::WaterAffairs,
        K::Triage,
        K::Water,
        K::Power,
        K::Gas,
        K::Telecom,
    ];

    /// The type code used in station ids (`320505001001-css`), the store and the API.
    pub fn code(self) -> &'static str {
        match self {
            K::CommunityService => "css",
            K::LabourCivilAffairs => "lss",
            K::HealthFamilyPlanning => "hfs",
            K::Police => "police",
            K::Office => "office",
            K::Command => "command",
            K::Labour => "labour",
            K::Urban => "urban",
            K::Housing => "housing",
            K::HumanResources => "hrss",
            K::CivilAffairs => "civil",
            K::Health => "health",
            K::Transport => "transport",
            K::Market => "market",
            K::Environment => "environment",
            K::Education => "education",
            K::Justice => "justice",
            K::Planning => "planning",
            K::WaterAffairs => "water_affairs",
            K::Triage => "triage",
            K::Water => "water",
            K::Power => "power",
            K::Gas => "gas",
            K::Telecom => "telecom",
        }
    }

    /// The kind's name as staff say it (level-independent; a station's own name is specific).
    pub fn name_zh(self) -> &'static str {
        match self {
            K::CommunityService => "社区服务站",
            K::LabourCivilAffairs => "劳动保障民政工作服务站",
            K::HealthFamilyPlanning => "卫生计生服务站",
            K::Police => "公安",
            K::Office => "街道办事处/镇人民政府",
            K::Command => "指挥中心",
            K::Labour => "劳动保障所",
            K::Urban => "城市管理",
            K::Housing => "住房和城乡建设局",
            K::HumanResources => "人力资源和社会保障局",
            K::CivilAffairs => "民政局",
            K::Health => "卫生健康委员会",
            K::Transport => "交通运输局",
            K::Market => "市场监督管理局",
            K::Environment => "生态环境局",
            K::Education => "教育局",
            K::Justice => "司法局",
            K::Planning => "自然资源和规划局",
            K::WaterAffairs => "水务局",
            K::Triage => "12345便民服务中心",
            K::Water => "供水",
            K::Power => "供电",
            K::Gas => "燃气",
            K::Telecom => "通信",
        }
    }

    /// The kinds every division of `level` has, in the order they are generated.
    pub fn at_level(level: Level) -> &'static [StationKind] {
        match level {
            Level::City => CITY_KINDS,
            Level::District => DISTRICT_KINDS,
            Level::Street => STREET_KINDS,
            Level::Community => COMMUNITY_KINDS,
        }
    }

    /// Parses a type code (`css`) or the kind's Chinese name.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let value = raw.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.code() == value || k.name_zh() == value)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.code()).collect();
                InvalidInput::new(
                    field,
                    format!(
                        "{raw:?} is not a station type (one of: {})",
                        known.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for StationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A receiving unit tickets are dispatched to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Station {
    /// `<division code>-<kind code>`, e.g. `320508021005-css`.
    pub id: StationId,
    pub kind: StationKind,
    /// The unit's name, e.g. `金麟社区服务站`, `虎丘区人力资源和社会保障局`, `苏州市供水`.
    pub name: String,
    pub division: DivisionCode,
    pub level: Level,
}

impl Station {
    /// The station of `kind` at `division`, named by the rule in [`station_name`].
    pub fn generate(division: &Division, kind: StationKind) -> Self {
        Self {
            id: StationId::of(&division.code, kind.code()),
            kind,
            name: station_name(division, kind),
            division: division.code.clone(),
            level: division.level,
        }
    }
}

/// The name of the station of `kind` at `division`.
///
/// Simplifications, on purpose: departments are named `<district><department>` (虎丘区民政局)
/// even where the real unit's name differs slightly (苏州工业园区 has 局-level offices under other
/// names; some districts' environment bureau is 苏州市X生态环境局). Dispatch uses the id; the
/// name is for people, and the station registry can override it.
pub fn station_name(division: &Division, kind: StationKind) -> String {
    let name = division.name.as_str();
    let short = division.short_name.as_str();
    match (division.level, kind) {
        (Level::Community, K::CommunityService) => {
            if short.ends_with("社区") {
                format!("{short}服务站")
            } else {
                format!("{short}社区服务站")
            }
        }
        (Level::Community, K::LabourCivilAffairs) => format!("{short}劳动保障民政工作服务站"),
        (Level::Community, K::HealthFamilyPlanning) => format!("{short}卫生计生服务站"),
        (Level::Community, K::Police) => format!("{short}警务室"),
        (Level::Street, K::Office) => {
            if name.ends_with("街道") || name.ends_with("街道）") {
                format!("{name}办事处")
            } else if name.ends_with('镇') || name.ends_with("（镇）") {
                format!("{name}人民政府")
            } else {
                format!("{name}管理委员会")
            }
        }
        (Level::Street, K::Command) => format!("{name}综合指挥中心"),
        (Level::Street, K::Labour) => format!("{name}劳动保障所"),
        (Level::Street, K::Urban) => format!("{name}城管中队"),
        (Level::Street, K::Police) => {
            // Police stations are named after the place: 双塔派出所, 周市派出所.
            let stem = name
                .strip_suffix("街道")
                .or_else(|| name.strip_suffix('镇'))
                .filter(|s| s.chars().count() >= 2)
                .unwrap_or(name);
            format!("{stem}派出所")
        }
        (Level::District, K::Command) => format!("{name}12345热线工作办公室"),
        (Level::District, K::Urban) => format!("{name}城市管理局"),
        (Level::District, K::Police) => {
            // A county-level city has a 公安局; a district a 公安分局.
            if name.ends_with('市') {
                format!("{name}公安局")
            } else {
                format!("{name}公安分局")
            }
        }
        (Level::City, K::Triage) => format!("{name}12345便民服务中心"),
        (_, kind) => format!("{name}{}", kind.name_zh()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn division(code: &str, name: &str, level: Level) -> Division {
        Division {
            code: DivisionCode::parse("code", code).unwrap(),
            name: name.to_owned(),
            short_name: crate::division::short_name(name),
            level,
            parent: None,
        }
    }

    #[test]
    fn every_kind_code_is_unique_and_parses_back() {
        let codes: std::collections::HashSet<_> =
            StationKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), StationKind::ALL.len());
        for kind in StationKind::ALL {
            assert_eq!(StationKind::parse("kind", kind.code()).unwrap(), *kind);
        }
        assert!(StationKind::parse("kind", "fire").is_err());
    }

    #[test]
    fn every_kind_exists_at_some_level() {
        for kind in StationKind::ALL {
            assert!(
                Level::ALL
                    .iter()
                    .any(|l| StationKind::at_level(*l).contains(kind)),
                "{kind} is at no level"
            );
        }
    }

    #[test]
    fn station_names_follow_how_units_are_called() {
        let community = division("320508021005", "金麟社区居委会", Level::Community);
        let village = division("320583102201", "新开河村委会", Level::Community);
        let street = division("320508021", "双塔街道", Level::Street);
        let town = division("320583102", "周市镇", Level::Street);
        let district = division("320505", "虎丘区", Level::District);
        let county_city = division("320583", "昆山市", Level::District);
        let city = division("3205", "苏州市", Level::City);
        let name = |d: &Division, k| Station::generate(d, k).name;
        assert_eq!(name(&community, K::CommunityService), "金麟社区服务站");
        assert_eq!(name(&village, K::CommunityService), "新开河村社区服务站");
        assert_eq!(name(&community, K::Police), "金麟社区警务室");
        assert_eq!(name(&street, K::Office), "双塔街道办事处");
        assert_eq!(name(&town, K::Office), "周市镇人民政府");
        assert_eq!(name(&town, K::Police), "周市派出所");
        assert_eq!(
            name(&district, K::HumanResources),
            "虎丘区人力资源和社会保障局"
        );
        assert_eq!(name(&district, K::Police), "虎丘区公安分局");
        assert_eq!(name(&county_city, K::Police), "昆山市公安局");
        assert_eq!(name(&city, K::Water), "苏州市供水");
        assert_eq!(name(&city, K::Triage), "苏州市12345便民服务中心");
        let css = Station::generate(&community, K::CommunityService);
        assert_eq!(css.id.as_str(), "320508021005-css");
        assert_eq!(css.id.division().unwrap(), community.code);
    }
}
