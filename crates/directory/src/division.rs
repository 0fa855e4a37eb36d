//! A division (区划) and the short name people call it by.

use hotline_core::DivisionCode;
use serde::Serialize;

use crate::level::Level;

/// One division of the tree: the city, a district or county-level city, a street or town, or a
/// community or village.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: DivisionCode,
    /// The official name, e.g. `金麟社区居委会`, `新开河村委会`, `双塔街道`.
    pub name: String,
    /// The name as people say it, e.g. `金麟社区`, `新开河村`, `双塔街道` (see [`short_name`]).
    pub short_name: String,
    pub level: Level,
    /// The division above; `None` only when the parent is outside the directory (the city's
    /// province).
    pub parent: Option<DivisionCode>,
}

/// Committee suffixes and what people say instead, longest first so `村村民委员会` wins over
/// `村民委员会`. A bare `居委会` is a residents' committee, which people call a 社区.
const COMMITTEE_SUFFIXES: &[(&str, &str)] = &[
    ("社区居民委员会", "社区"),
    ("社区居民委会", "社区"), // sic: one row of the source data has this typo
    ("村村民委员会", "村"),
    ("社区居委会", "社区"),
    ("村民委员会", "村"),
    ("居民委员会", "社区"),
    ("村委会", "村"),
    ("居委会", "社区"),
    ("委员会", ""),
];

/// The name people say: the committee suffix (居委会, 村委会, 委员会 and their long forms) is
/// replaced by the unit people mean (`金麟社区居委会` -> `金麟社区`, `新开河村委会` -> `新开河村`,
/// `山湖居委会` -> `山湖社区`). 街道 and 镇 are kept: people say `双塔街道`, `周市镇`. Names
/// without a committee suffix (`…虚拟社区`, `…生活区`) are returned unchanged.
pub fn short_name(name: &str) -> String {
    for (suffix, replacement) in COMMITTEE_SUFFIXES {
        if let Some(stem) = name.strip_suffix(suffix) {
            if !stem.is_empty() {
                return format!("{stem}{replacement}");
            }
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_committee_suffix_the_way_people_say_them() {
        assert_eq!(short_name("金麟社区居委会"), "金麟社区");
        assert_eq!(short_name("新开河村委会"), "新开河村");
        assert_eq!(short_name("十一圩港村村民委员会"), "十一圩港村");
        assert_eq!(short_name("湖景花园社区居民委员会"), "湖景花园社区");
        assert_eq!(short_name("孙武花园社区居民委会"), "孙武花园社区");
        assert_eq!(short_name("山湖居委会"), "山湖社区");
    }

    #[test]
    fn short_names_keep_street_and_town_suffixes_and_odd_units() {
        assert_eq!(short_name("双塔街道"), "双塔街道");
        assert_eq!(short_name("周市镇"), "周市镇");
        assert_eq!(short_name("浒墅关经开区（镇）"), "浒墅关经开区（镇）");
        assert_eq!(short_name("吴中区林场虚拟生活区"), "吴中区林场虚拟生活区");
        assert_eq!(short_name("居委会"), "居委会");
    }
}
