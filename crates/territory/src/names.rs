//! The forms people write a division's name in, and how much each form can be trusted.
//!
//! Strong forms are full names and the ways people write a full name (金麟社区, 金麟社区居委会,
//! 新开河村, 周市镇, 昆山市, 工业园区). Loose forms are bare stems (木渎 for 木渎镇, 沧浪亭 for
//! 沧浪亭社区, 吴中 for 吴中区) and generic unit names (开发区): they are ordinary words often
//! enough that the resolver lets them win only when nothing strong contradicts them, never lets
//! them contradict anything, and answers with low confidence when they decide. A loose
//! community form counts only next to its street or district (`双塔街道沧浪亭`): alone, 火车站 or
//! 桃花源 is far more often the everyday word than the community named after it.
//!
//! Guarding against false positives: bare community stems must be 3+ characters (2-character
//! stems such as 新建, 东风, 光明 are everyday words); bare street stems skip a list of common
//! words (太湖, 东山, 长桥, ...); and a form that is strong for one division is never loose for
//! another.

use hotline_directory::{Division, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Strength {
    Loose,
    Strong,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    pub text: String,
    pub strength: Strength,
}

/// Unit names that are generic words when written alone.
const GENERIC_UNIT_NAMES: &[&str] = &["开发区", "经济开发区", "科技城", "科教新城", "高新区"];

/// Bare stems that are common words or other places first; never used as loose forms.
const COMMON_WORD_STEMS: &[&str] = &[
    "东南", "太平", "城南", "城北", "凤凰", "大新", "浮桥", "城厢", "太湖", "香山", "东山", "长桥",
    "桃源", "玉山", "塘桥", "黄桥", "北桥", "陆家", "新城", "金港", "开发", "南丰", "古里", "同里",
    "虎丘", "枫桥", "平江", "沙溪", "双凤", "乐余", "金庭", "光福",
];

/// Community short names that are also everyday phrases (社会主义新农村, 一个小山村): written
/// alone they are loose forms.
const COMMON_PHRASES: &[&str] = &["新农村", "小山村"];

/// Aliases that only local knowledge gives, keyed by code and official name (both must match,
/// so another city's data never picks them up).
/// (division code, official name, aliases with their strength).
type LocalAlias = (
    &'static str,
    &'static str,
    &'static [(&'static str, Strength)],
);

const LOCAL_ALIASES: &[LocalAlias] = &[
    (
        "320505",
        "虎丘区",
        &[
            ("苏州高新区", Strength::Strong),
            ("苏州新区", Strength::Strong),
            ("高新区", Strength::Loose),
        ],
    ),
    (
        "320576",
        "苏州工业园区",
        &[
            ("工业园区", Strength::Strong),
            ("苏州工业园", Strength::Strong),
            ("苏州园区", Strength::Strong),
            ("园区", Strength::Loose),
        ],
    ),
];

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn loose_stem_ok(stem: &str, min_chars: usize) -> bool {
    chars(stem) >= min_chars && !COMMON_WORD_STEMS.contains(&stem)
}

/// The stem of a district or county-level city name (昆山市 -> 昆山, 吴中区 -> 吴中), if it
/// has one people say alone.
pub(crate) fn district_stem(name: &str) -> Option<&str> {
    if name.ends_with("园区") || name.ends_with("新区") || name.ends_with("开发区") {
        return None;
    }
    let stem = name
        .strip_suffix('区')
        .or_else(|| name.strip_suffix('市'))
        .or_else(|| name.strip_suffix('县'))?;
    (chars(stem) >= 2).then_some(stem)
}

/// Every form of `division`'s name. `district` is the district the division lies in (for a
/// street: its parent), used to qualify generic names (太仓 + 经济开发区).
pub(crate) fn forms(division: &Division, district: Option<&Division>) -> Vec<Form> {
    let mut out = Forms::default();
    let name = division.name.as_str();
    match division.level {
        Level::City => {
            out.strong(name);
            if let Some(stem) = name.strip_suffix('市').filter(|s| chars(s) >= 2) {
                out.strong(stem);
            }
        }
        Level::District => district_forms(&mut out, division),
        Level::Street => street_forms(&mut out, name, district),
        Level::Community => community_forms(&mut out, name, &division.short_name),
    }
    // The same forms with ASCII parentheses: people type 浒墅关经开区(镇).
    let with_ascii: Vec<Form> = out
        .0
        .iter()
        .filter(|f| f.text.contains('（') || f.text.contains('）'))
        .map(|f| Form {
            text: f.text.replace('（', "(").replace('）', ")"),
            strength: f.strength,
        })
        .collect();
    for form in with_ascii {
        out.push(form.text, form.strength);
    }
    out.0
}

fn district_forms(out: &mut Forms, division: &Division) {
    let name = division.name.as_str();
    out.strong(name);
    if let Some(stem) = district_stem(name) {
        // A county-level city is called by its stem (昆山, 常熟) as often as by its full name;
        // a district's stem (吴中, 姑苏) is more often part of other names.
        if name.ends_with('市') {
            out.strong(stem);
        } else if loose_stem_ok(stem, 2) {
            out.loose(stem);
        }
    }
    for (code, official, aliases) in LOCAL_ALIASES {
        if division.code.as_str() == *code && name == *official {
            for (alias, strength) in *aliases {
                out.push((*alias).to_owned(), *strength);
            }
        }
    }
}

fn street_forms(out: &mut Forms, name: &str, district: Option<&Division>) {
    if GENERIC_UNIT_NAMES.contains(&name) {
        out.loose(name);
        // Qualified by the district, the generic name is specific: 太仓经济开发区, 吴中开发区.
        if let Some(district) = district {
            if let Some(stem) = district_stem(&district.name) {
                out.strong(&format!("{stem}{name}"));
                if name.ends_with("开发区") {
                    out.strong(&format!("{stem}开发区"));
                }
            }
        }
        return;
    }
    out.strong(name);

    // 浒墅关经开区（镇）, 科技城（东渚街道）: each part is also said alone.
    if let Some((outer, rest)) = name.split_once('（') {
        let inner = rest.trim_end_matches('）');
        if chars(outer) >= 4 && !GENERIC_UNIT_NAMES.contains(&outer) {
            out.strong(outer);
        } else {
            out.loose(outer);
        }
        if inner == "镇" {
            let place = outer
                .strip_suffix("经开区")
                .or_else(|| outer.strip_suffix("开发区"))
                .unwrap_or(outer);
            out.strong(&format!("{place}镇"));
            if loose_stem_ok(place, 2) {
                out.loose(place);
            }
        } else if let Some(place) = inner.strip_suffix("街道") {
            out.strong(inner);
            out.strong(&format!("{place}镇"));
            if loose_stem_ok(place, 2) {
                out.loose(place);
            }
        }
        return;
    }

    // The usual abbreviations of development zones.
    if name.contains("经济技术开发区") {
        out.strong(&name.replace("经济技术开发区", "开发区"));
        out.strong(&name.replace("经济技术开发区", "经开区"));
    }
    if name.contains("高新技术产业开发区") {
        out.strong(&name.replace("高新技术产业开发区", "高新区"));
    }

    let stem = name
        .strip_suffix("街道")
        .or_else(|| name.strip_suffix('镇'));
    if let Some(stem) = stem {
        if loose_stem_ok(stem, 2) {
            out.loose(stem);
        }
    }
}

fn community_forms(out: &mut Forms, name: &str, short: &str) {
    out.strong(name);
    if COMMON_PHRASES.contains(&short) {
        out.loose(short);
    } else {
        out.strong(short);
    }
    if let Some(stem) = short.strip_suffix("社区") {
        if stem.is_empty() {
            return;
        }
        out.strong(&format!("{stem}居委会"));
        out.strong(&format!("{stem}社区居委会"));
        out.strong(&format!("{stem}社区居民委员会"));
        if loose_stem_ok(stem, 3) {
            out.loose(stem);
        }
    } else if let Some(stem) = short.strip_suffix('村') {
        if stem.is_empty() {
            return;
        }
        out.strong(&format!("{stem}村委会"));
        out.strong(&format!("{stem}村村委会"));
        out.strong(&format!("{stem}村民委员会"));
        out.strong(&format!("{stem}村村民委员会"));
        if loose_stem_ok(stem, 3) {
            out.loose(stem);
        }
    }
}

/// Forms without duplicates; a form given twice keeps its strongest strength.
#[derive(Default)]
struct Forms(Vec<Form>);

impl Forms {
    fn strong(&mut self, text: &str) {
        self.push(text.to_owned(), Strength::Strong);
    }
    fn loose(&mut self, text: &str) {
        self.push(text.to_owned(), Strength::Loose);
    }
    fn push(&mut self, text: String, strength: Strength) {
        if text.is_empty() {
            return;
        }
        match self.0.iter_mut().find(|f| f.text == text) {
            Some(existing) => existing.strength = existing.strength.max(strength),
            None => self.0.push(Form { text, strength }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::DivisionCode;

    fn division(code: &str, name: &str, level: Level) -> Division {
        Division {
            code: DivisionCode::parse("code", code).unwrap(),
            name: name.to_owned(),
            short_name: hotline_directory::short_name(name),
            level,
            parent: None,
        }
    }

    fn texts(forms: &[Form], strength: Strength) -> Vec<&str> {
        forms
            .iter()
            .filter(|f| f.strength == strength)
            .map(|f| f.text.as_str())
            .collect()
    }

    #[test]
    fn a_community_is_written_with_or_without_its_committee_suffix() {
        let forms = forms(
            &division("320506001013", "龙西社区居委会", Level::Community),
            None,
        );
        let strong = texts(&forms, Strength::Strong);
        assert!(strong.contains(&"龙西社区居委会") && strong.contains(&"龙西社区"));
        assert!(strong.contains(&"龙西居委会"));
        assert!(
            texts(&forms, Strength::Loose).is_empty(),
            "2-character stems stay out"
        );
    }

    #[test]
    fn a_village_is_written_as_x_village_and_long_stems_are_loose() {
        let forms = forms(
            &division("320582103229", "十一圩港村村民委员会", Level::Community),
            None,
        );
        let strong = texts(&forms, Strength::Strong);
        assert!(strong.contains(&"十一圩港村") && strong.contains(&"十一圩港村委会"));
        assert_eq!(texts(&forms, Strength::Loose), ["十一圩港"]);
    }

    #[test]
    fn a_town_in_parentheses_is_written_several_ways() {
        let forms = forms(
            &division("320505400", "浒墅关经开区（镇）", Level::Street),
            None,
        );
        let strong = texts(&forms, Strength::Strong);
        for expected in [
            "浒墅关经开区（镇）",
            "浒墅关经开区(镇)",
            "浒墅关经开区",
            "浒墅关镇",
        ] {
            assert!(strong.contains(&expected), "{expected} in {strong:?}");
        }
        assert_eq!(texts(&forms, Strength::Loose), ["浒墅关"]);
        let forms = forms_of_street("320505407", "科技城（东渚街道）");
        let strong = texts(&forms, Strength::Strong);
        assert!(
            strong.contains(&"东渚街道") && strong.contains(&"东渚镇"),
            "{strong:?}"
        );
        assert!(texts(&forms, Strength::Loose).contains(&"科技城"));
    }

    fn forms_of_street(code: &str, name: &str) -> Vec<Form> {
        forms(&division(code, name, Level::Street), None)
    }

    #[test]
    fn generic_street_names_are_loose_unless_qualified_by_their_district() {
        let taicang = division("320585", "太仓市", Level::District);
        let forms = forms(
            &division("320585400", "经济开发区", Level::Street),
            Some(&taicang),
        );
        assert_eq!(texts(&forms, Strength::Loose), ["经济开发区"]);
        let strong = texts(&forms, Strength::Strong);
        assert!(strong.contains(&"太仓经济开发区") && strong.contains(&"太仓开发区"));
    }

    #[test]
    fn county_level_cities_are_called_by_their_stem_and_the_park_by_its_nicknames() {
        let kunshan = forms(&division("320583", "昆山市", Level::District), None);
        assert!(texts(&kunshan, Strength::Strong).contains(&"昆山"));
        let wuzhong = forms(&division("320506", "吴中区", Level::District), None);
        assert_eq!(texts(&wuzhong, Strength::Loose), ["吴中"]);
        let sip = forms(&division("320576", "苏州工业园区", Level::District), None);
        assert!(texts(&sip, Strength::Strong).contains(&"工业园区"));
        assert_eq!(texts(&sip, Strength::Loose), ["园区"]);
    }

    #[test]
    fn common_words_never_become_loose_street_stems() {
        let forms = forms_of_street("320506010", "太湖街道");
        assert!(texts(&forms, Strength::Loose).is_empty());
        let forms = forms_of_street("320506103", "木渎镇");
        assert_eq!(texts(&forms, Strength::Loose), ["木渎"]);
    }
}
