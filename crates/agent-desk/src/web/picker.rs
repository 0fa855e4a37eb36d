//! What the operator picks from: divisions (address autocomplete and the territory picker),
//! stations, and the category tree.
//!
//! The Directory API lists a division's children but has no search by name, so the desk walks
//! the tree once (city -> districts -> streets -> communities, about 130 calls for Suzhou) the
//! first time anyone asks, keeps it, and searches the names itself. The walk needs a signed-in
//! person's token, which is why it happens on first use rather than when the desk starts; a
//! failed walk is not kept, so the next keystroke tries again.

use hotline_proto::v1 as pb;
use hotline_proto::v1::directory_client::DirectoryClient;

use crate::session::Conn;

/// How many suggestions the address box shows.
pub const SUGGESTIONS: usize = 8;

/// One division with the names above it, ready to search.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub code: String,
    pub level: String,
    /// The name as people say it (`沧浪亭社区`, the Directory's short name).
    pub name: String,
    /// The official name (`沧浪亭社区居委会`): what was typed may be either.
    pub official: String,
    /// District down to this division, run together as people write an address, in the names
    /// people say: "姑苏区双塔街道沧浪亭社区".
    pub path: String,
}

/// Every district, street and community under the city, each with its path.
pub async fn walk_divisions(conn: Conn) -> Result<Vec<Place>, tonic::Status> {
    let mut client = DirectoryClient::new(conn);
    let mut places = Vec::new();
    // Breadth-first from the city's districts; each level's paths extend the parent's.
    let mut frontier: Vec<(String, String)> = vec![(String::new(), String::new())];
    while let Some((parent, parent_path)) = frontier.pop() {
        let children = client
            .list_divisions(pb::ListDivisionsRequest {
                parent_code: parent,
            })
            .await?
            .into_inner()
            .divisions;
        for d in children {
            let said = if d.short_name.is_empty() {
                d.name.clone()
            } else {
                d.short_name.clone()
            };
            let path = format!("{parent_path}{said}");
            if d.level != "community" {
                frontier.push((d.code.clone(), path.clone()));
            }
            places.push(Place {
                code: d.code,
                level: d.level,
                name: said,
                official: d.name,
                path,
            });
        }
    }
    places.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(places)
}

/// The places matching what was typed, best first: a path that contains the text (typed from
/// the district down), then a name that contains it (typed from the community), then a path
/// holding every typed character in order ("姑苏沧浪亭"). Within each, communities first (the
/// most precise), then the shorter path.
pub fn search<'a>(places: &'a [Place], typed: &str, limit: usize) -> Vec<&'a Place> {
    let wanted: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if wanted.chars().count() < 2 {
        return Vec::new();
    }
    let rank = |p: &Place| -> Option<u8> {
        if p.path.contains(&wanted) {
            Some(0)
        } else if p.name.contains(&wanted) || p.official.contains(&wanted) {
            Some(1)
        } else if in_order(&p.path, &wanted) {
            Some(2)
        } else {
            None
        }
    };
    let depth = |p: &Place| match p.level.as_str() {
        "community" => 0,
        "street" => 1,
        _ => 2,
    };
    let mut found: Vec<(u8, &Place)> = places
        .iter()
        .filter_map(|p| rank(p).map(|r| (r, p)))
        .collect();
    found.sort_by(|(ra, a), (rb, b)| {
        (ra, depth(a), a.path.chars().count(), &a.code).cmp(&(
            rb,
            depth(b),
            b.path.chars().count(),
            &b.code,
        ))
    });
    found.into_iter().take(limit).map(|(_, p)| p).collect()
}

/// Whether every character of `wanted` occurs in `text`, in order.
fn in_order(text: &str, wanted: &str) -> bool {
    let mut rest = text.chars();
    wanted.chars().all(|w| rest.any(|c| c == w))
}

/// The categories whose parent is `parent` (first-level subjects for "").
pub fn children<'a>(categories: &'a [pb::Category], parent: &str) -> Vec<&'a pb::Category> {
    categories
        .iter()
        .filter(|c| c.parent_code == parent)
        .collect()
}

/// The first-level subject of a category code (`CJ` for `CJ.WY`).
pub fn root_of(code: &str) -> &str {
    code.split('.').next().unwrap_or(code)
}

/// The deepest division chosen in the territory picker: community, else street, else
/// district; `None` when nothing was picked.
pub fn deepest<'a>(district: &'a str, street: &'a str, community: &'a str) -> Option<&'a str> {
    [community, street, district]
        .into_iter()
        .map(str::trim)
        .find(|c| !c.is_empty())
}

/// A child division kept only when it lies under its parent (a street left over from another
/// district is dropped when the district changes).
pub fn under<'a>(child: &'a str, parent: &str) -> &'a str {
    if !parent.is_empty() && child.starts_with(parent) && child.len() > parent.len() {
        child
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(code: &str, level: &str, name: &str, path: &str) -> Place {
        Place {
            code: code.into(),
            level: level.into(),
            name: name.into(),
            official: name.replace("社区", "社区居委会"),
            path: path.into(),
        }
    }

    fn places() -> Vec<Place> {
        vec![
            place("320508", "district", "姑苏区", "姑苏区"),
            place("320508021", "street", "双塔街道", "姑苏区双塔街道"),
            place(
                "320508021019",
                "community",
                "沧浪亭社区",
                "姑苏区双塔街道沧浪亭社区",
            ),
            place(
                "320508021017",
                "community",
                "百步街社区",
                "姑苏区双塔街道百步街社区",
            ),
            place("320506001", "street", "长桥街道", "吴中区长桥街道"),
        ]
    }

    fn codes(found: Vec<&Place>) -> Vec<&str> {
        found.into_iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn typing_from_the_district_down_finds_the_community_first() {
        let all = places();
        assert_eq!(codes(search(&all, "姑苏区双塔街道沧", 8)), ["320508021019"]);
        assert_eq!(
            codes(search(&all, "双塔", 8)),
            ["320508021017", "320508021019", "320508021"]
        );
    }

    #[test]
    fn typing_the_community_alone_or_skipping_levels_still_finds_it() {
        let all = places();
        assert_eq!(codes(search(&all, "沧浪亭", 8)), ["320508021019"]);
        assert_eq!(codes(search(&all, "沧浪亭社区居委会", 8)), ["320508021019"]);
        assert_eq!(codes(search(&all, "姑苏 沧浪亭", 8)), ["320508021019"]);
    }

    #[test]
    fn one_character_suggests_nothing_and_the_limit_holds() {
        let all = places();
        assert!(search(&all, "区", 8).is_empty());
        assert_eq!(search(&all, "社区", 1).len(), 1);
    }

    #[test]
    fn the_territory_picker_takes_the_deepest_choice_and_drops_stale_children() {
        assert_eq!(deepest("320508", "320508021", ""), Some("320508021"));
        assert_eq!(deepest("", "", ""), None);
        assert_eq!(under("320508021", "320508"), "320508021");
        assert_eq!(under("320506001", "320508"), "");
        assert_eq!(under("320508021", ""), "");
    }

    #[test]
    fn categories_are_a_tree_by_parent_code() {
        let cat = |code: &str, parent: &str| pb::Category {
            code: code.into(),
            name: code.into(),
            parent_code: parent.into(),
        };
        let all = vec![
            cat("CJ", ""),
            cat("CJ.WY", "CJ"),
            cat("SQ", ""),
            cat("SQ.YL", "SQ"),
        ];
        let roots: Vec<&str> = children(&all, "").iter().map(|c| c.code.as_str()).collect();
        assert_eq!(roots, ["CJ", "SQ"]);
        assert_eq!(children(&all, "CJ")[0].code, "CJ.WY");
        assert_eq!(root_of("CJ.WY"), "CJ");
        assert_eq!(root_of("CJ"), "CJ");
    }
}
