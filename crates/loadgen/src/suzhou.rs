//! Calls placed in Suzhou, for the surge bench (`benches/surge/run.sh`): the background (real
//! citizen messages, each placed in one of Suzhou's communities the way a caller or operator
//! writes an address) and the surge (one 停水 in one street, written the many ways callers write
//! it). Everything is drawn from a seeded [`Rng`], so a seed gives the same calls.
//!
//! Inputs, read at run time from the shared data directory (`../shared/data`, see its README;
//! neither file is copied into the project):
//! - `suzhou_divisions.csv`: the city's districts, streets and communities (NBS 2023 codes);
//! - `civic/train.csv`: 5,739 real citizen messages (place names anonymised as "K市"...), used
//!   as the background's texts. Bench input only.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

use crate::text::Rng;

/// A community (社区/村) with the names callers use for it and for its street and district.
#[derive(Debug, Clone)]
pub struct Community {
    /// As callers say it: 金麟社区, 新开河村 (without 居委会 / 村委会).
    pub name: String,
    pub street_code: String,
    pub street: String,
    pub district: String,
}

/// Suzhou's communities, by street.
#[derive(Debug, Clone)]
pub struct Divisions {
    pub communities: Vec<Community>,
}

/// `金麟社区居委会` -> `金麟社区`, `新开河村委会` -> `新开河村`: callers drop the committee.
fn spoken(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("居委会") {
        stem.to_owned()
    } else if let Some(stem) = name.strip_suffix("村委会") {
        format!("{stem}村")
    } else if let Some(stem) = name.strip_suffix("委会") {
        stem.to_owned()
    } else {
        name.to_owned()
    }
}

impl Divisions {
    /// Reads `code,name,level,parent_code` (suzhou_divisions.csv).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let mut reader =
            csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
        let mut names: HashMap<String, (String, String)> = HashMap::new(); // code -> (name, level)
        let mut rows = Vec::new();
        for row in reader.records() {
            let row = row.with_context(|| format!("a line of {}", path.display()))?;
            let (code, name, level, parent) = (&row[0], &row[1], &row[2], &row[3]);
            names.insert(code.to_owned(), (name.to_owned(), level.to_owned()));
            rows.push((
                code.to_owned(),
                name.to_owned(),
                level.to_owned(),
                parent.to_owned(),
            ));
        }
        let mut communities = Vec::new();
        for (_, name, level, street_code) in rows {
            if level != "community" {
                continue;
            }
            let Some((street, street_level)) = names.get(&street_code) else {
                continue;
            };
            let district_code = &street_code[..street_code.len().min(6)];
            let Some((district, _)) = names.get(district_code) else {
                continue;
            };
            // Statistical units whose "street" is not one callers name (综合保税区...) stay in:
            // they are real dispatch targets; a name in brackets is written without them.
            if street_level != "street" {
                continue;
            }
            let street = street
                .split(['（', '('])
                .next()
                .unwrap_or(street)
                .to_owned();
            communities.push(Community {
                name: spoken(&name),
                street_code,
                street,
                district: district.clone(),
            });
        }
        if communities.is_empty() {
            bail!("{}: no community rows", path.display());
        }
        Ok(Self { communities })
    }

    /// The communities of one street (9-digit code), 社区 only (not villages): a 停水 in a
    /// town street's urban part.
    pub fn street(&self, code: &str) -> Vec<Community> {
        let all: Vec<Community> = self
            .communities
            .iter()
            .filter(|c| c.street_code == code)
            .cloned()
            .collect();
        let urban: Vec<Community> = all
            .iter()
            .filter(|c| c.name.ends_with("社区"))
            .cloned()
            .collect();
        if urban.is_empty() {
            all
        } else {
            urban
        }
    }
}

/// Real citizen messages (`civic/train.csv`, column `text`), cut to at most 400 characters.
pub fn load_messages(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("a line of {}", path.display()))?;
        let text: String = row[0].split_whitespace().collect::<Vec<_>>().join(" ");
        let text: String = text.chars().take(400).collect();
        if text.chars().count() >= 20 {
            out.push(text);
        }
    }
    if out.is_empty() {
        bail!("{}: no messages", path.display());
    }
    Ok(out)
}

/// One call: its text and the address field (empty when the caller gave none).
#[derive(Debug, Clone)]
pub struct Call {
    pub text: String,
    pub address: String,
    pub caller_name: String,
    pub phone: String,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "朱", "沈", "顾", "陆",
];
const TITLES: &[&str] = &["先生", "女士"];
const HOUSES: &[&str] = &["幢", "栋", "号楼"];

fn caller(rng: &mut Rng) -> (String, String) {
    (
        format!("{}{}", rng.pick(SURNAMES), rng.pick(TITLES)),
        format!("1{}{:09}", 3 + rng.below(7), rng.next_u64() % 1_000_000_000),
    )
}

/// An address as callers give it: sometimes with the city and district, sometimes the
/// community alone, often with a building number.
fn address_of(c: &Community, rng: &mut Rng) -> String {
    let building = if rng.below(2) == 0 {
        format!("{}{}", 1 + rng.below(40), rng.pick(HOUSES))
    } else {
        String::new()
    };
    match rng.below(4) {
        0 => format!("苏州市{}{}{}{building}", c.district, c.street, c.name),
        1 => format!("{}{}{building}", c.district, c.name),
        2 => format!("{}{}{building}", c.street, c.name),
        _ => format!("{}{building}", c.name),
    }
}

/// Background: a real message from a caller in a community drawn uniformly from the city's,
/// the address in the address field (and, for a third of the calls, also at the start of the
/// text, as operators often write it).
pub fn background(divisions: &Divisions, messages: &[String], rng: &mut Rng) -> Call {
    let c = &divisions.communities[rng.below(divisions.communities.len())];
    let address = address_of(c, rng);
    let message = &messages[rng.below(messages.len())];
    let text = if rng.below(3) == 0 {
        format!("{address}居民来电：{message}")
    } else {
        message.clone()
    };
    let (caller_name, phone) = caller(rng);
    Call {
        text,
        address,
        caller_name,
        phone,
    }
}

/// The ways a caller says there is no water.
const NO_WATER: &[&str] = &[
    "停水了",
    "没水了",
    "家里没水",
    "自来水停了",
    "突然停水了",
    "水龙头拧开一滴水都没有",
    "水压很低没水用",
    "断水了",
    "一直没有来水",
    "整栋楼都停水了",
    "楼上楼下都没水",
    "自来水停了一上午",
    "从早上开始就停水",
    "停水也没有提前通知",
    "水管里一点水都没有",
    "又停水了",
];
const SINCE: &[&str] = &[
    "",
    "",
    "从早上七点多开始",
    "已经三个小时了",
    "今天上午",
    "中午回家发现",
    "到现在还没恢复",
    "一个多小时了",
];
const ASK: &[&str] = &[
    "",
    "",
    "什么时候能来水？",
    "请尽快恢复供水。",
    "家里有老人小孩，没法做饭。",
    "请问是什么原因？",
    "物业也说不清楚，请相关部门处理。",
    "能不能派个水车过来？",
    "马桶都没法冲。",
];

/// A surge call: one 停水 in the communities of one street, in many phrasings; the place is
/// in the text, in the address field, or both (a caller who names only the street is placed
/// at the street).
pub fn surge(street: &[Community], rng: &mut Rng) -> Call {
    let c = &street[rng.below(street.len())];
    let no_water = rng.pick(NO_WATER);
    let since = rng.pick(SINCE);
    let ask = rng.pick(ASK);
    let house = format!("{}{}", 1 + rng.below(30), rng.pick(HOUSES));
    // Where the place is said.
    let (text, address) = match rng.below(8) {
        0 => (
            format!("{}{}{no_water}{since}{ask}", c.street, c.name),
            String::new(),
        ),
        1 => (format!("{}{no_water}，{since}{ask}", c.name), String::new()),
        2 => (
            format!("{no_water}，{since}{ask}"),
            format!("{}{}{house}", c.street, c.name),
        ),
        3 => (
            format!("我家在{}{house}，{no_water}{since}。{ask}", c.name),
            String::new(),
        ),
        4 => (
            format!("{}这边{no_water}，{since}{ask}", c.street),
            String::new(),
        ),
        5 => (
            format!("{no_water}{since}{ask}"),
            format!("苏州市{}{}{}{house}", c.district, c.street, c.name),
        ),
        6 => (
            format!(
                "{}{}小区{no_water}{ask}",
                c.street,
                c.name.trim_end_matches("社区")
            ),
            format!("{}{house}", c.name),
        ),
        _ => (
            format!("来电人反映{}{}{no_water}，{since}{ask}", c.district, c.name),
            String::new(),
        ),
    };
    let (caller_name, phone) = caller(rng);
    Call {
        text,
        address,
        caller_name,
        phone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Divisions {
        let c = |name: &str| Community {
            name: name.into(),
            street_code: "320508021".into(),
            street: "双塔街道".into(),
            district: "姑苏区".into(),
        };
        Divisions {
            communities: vec![c("沧浪亭社区"), c("定慧寺社区")],
        }
    }

    #[test]
    fn committee_suffixes_are_dropped() {
        assert_eq!(spoken("金麟社区居委会"), "金麟社区");
        assert_eq!(spoken("新开河村委会"), "新开河村");
    }

    #[test]
    fn surge_calls_vary_and_name_a_place_of_the_street() {
        let d = sample();
        let mut rng = Rng::new(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let call = surge(&d.communities, &mut rng);
            let both = format!("{}{}", call.text, call.address);
            assert!(
                both.contains("双塔街道") || both.contains("沧浪亭") || both.contains("定慧寺"),
                "{both}"
            );
            seen.insert(call.text);
        }
        assert!(seen.len() > 300, "only {} distinct texts", seen.len());
    }

    #[test]
    fn background_calls_carry_a_community_address() {
        let d = sample();
        let messages = vec!["小区门口的路灯坏了很久，晚上出行很不方便，希望尽快修好。".to_owned()];
        let mut rng = Rng::new(5);
        for _ in 0..50 {
            let call = background(&d, &messages, &mut rng);
            assert!(call.address.contains("社区"), "{}", call.address);
        }
    }
}
