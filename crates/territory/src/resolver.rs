//! The [`Resolver`]: free text, a map point or a kiosk -> the division it identifies.
//!
//! How text is resolved:
//! 1. One Aho-Corasick automaton holds every form of every division's name (see the `names` module)
//!    and names of places outside the city. All matches are collected (overlapping), and a match
//!    lying inside a longer one is dropped: `沧浪亭社区` wins over `沧浪亭`, `昆山开发区` over `昆山`.
//! 2. Each remaining match proposes its divisions (a repeated name proposes several). For each
//!    proposal, the other matches either *support* it (they name its street or district),
//!    *contradict* it (a strong name of a street or district that does not contain it), or say
//!    nothing about it.
//! 3. The most specific level proposed wins (community, else street, else district); within it,
//!    uncontradicted beats contradicted, more support beats less, strong forms beat loose ones.
//!    One winner: resolved. Several: ambiguous, with the candidates and what they share.
//!
//! 4. Where that fails or is weak — nothing found, ambiguous, only a street or district, or a
//!    loose community name — the [`AddressBook`] is asked (小区 names, roads with house numbers,
//!    landmarks, learned aliases). Its community is taken when it lies inside what the names
//!    said (a street or district, or one of the ambiguous candidates), or when the names said
//!    nothing; a community the names contradict is not guessed. The answer's `why` says the
//!    book's match kind and `book` how close the match was and how sure.
//!
//! The hot path allocates only the match list and the answer's strings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use hotline_core::{DivisionCode, KioskId};
use hotline_directory::{Directory, Level};

use crate::address_book::{unexplained_span, AddressBook};
use crate::elsewhere::outside_names;
use crate::names::{forms, Strength};
use crate::polygons::DistrictPolygons;
use crate::resolution::{Candidate, Outcome, Resolution, Span, Why};

/// Matches beyond this many (after dropping contained ones) are ignored, which bounds the work
/// on pathological input; a real address or complaint has a handful.
const MAX_HITS: usize = 256;

/// Position of a level in a division's ancestor array.
fn depth(level: Level) -> usize {
    match level {
        Level::City => 0,
        Level::District => 1,
        Level::Street => 2,
        Level::Community => 3,
    }
}

const NO_NODE: u32 = u32::MAX;

/// A division as the resolver needs it.
#[derive(Debug)]
struct Node {
    code: DivisionCode,
    name: String,
    level: Level,
    /// `ancestors[depth(l)]` is the division of level `l` containing this one (itself at its own
    /// depth), `NO_NODE` below it.
    ancestors: [u32; 4],
    /// Short names from the district down, e.g. `常熟市东南街道金麟社区`.
    path: String,
}

#[derive(Debug, Clone, Copy)]
struct Target {
    node: u32,
    strength: Strength,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    pattern: u32,
}

impl Hit {
    fn overlaps(&self, other: &Hit) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// A division proposed by a match, and what the rest of the text says about it.
#[derive(Debug, Clone, Copy)]
struct Proposal {
    node: u32,
    hit: usize,
    strength: Strength,
    /// Bit `depth(level)` is set when a match names this division's ancestor at that level.
    support: u8,
    contradicted: bool,
    span: (usize, usize),
}

impl Proposal {
    /// District and street support (the city supports everything, so it does not count).
    fn support_count(&self) -> u32 {
        (self.support & 0b0110).count_ones()
    }
}

/// Resolves text, points and kiosks to divisions. Build once per directory (about 25 ms for
/// Suzhou), then share: it is `Send + Sync` and every method takes `&self`.
pub struct Resolver {
    directory: Arc<Directory>,
    automaton: AhoCorasick,
    /// Per pattern id, the range of `targets` it proposes; empty for a place outside the city.
    patterns: Vec<(u32, u32)>,
    targets: Vec<Target>,
    nodes: Vec<Node>,
    polygons: Option<DistrictPolygons>,
    /// Empty unless one is loaded; learned aliases are added to it while in use.
    book: AddressBook,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("divisions", &self.nodes.len())
            .field("patterns", &self.patterns.len())
            .field("polygons", &self.polygons.as_ref().map(|p| p.len()))
            .field("address_book", &self.book.len())
            .field("learned_aliases", &self.book.learned_count())
            .finish()
    }
}

impl Resolver {
    /// Builds the name index for `directory`.
    pub fn new(directory: Arc<Directory>) -> Self {
        let position: HashMap<&str, u32> = directory
            .divisions()
            .enumerate()
            .map(|(i, d)| (d.code.as_str(), i as u32))
            .collect();

        let mut nodes = Vec::with_capacity(directory.len());
        for division in directory.divisions() {
            let mut ancestors = [NO_NODE; 4];
            let mut path_parts = Vec::with_capacity(4);
            for ancestor in directory.ancestors(&division.code) {
                ancestors[depth(ancestor.level)] = position[ancestor.code.as_str()];
                if ancestor.level != Level::City {
                    path_parts.push(ancestor.short_name.as_str());
                }
            }
            path_parts.reverse();
            nodes.push(Node {
                code: division.code.clone(),
                name: division.name.clone(),
                level: division.level,
                ancestors,
                path: path_parts.concat(),
            });
        }

        // Form text -> the divisions it names. A BTreeMap keeps pattern ids deterministic.
        let mut by_form: BTreeMap<String, Vec<Target>> = BTreeMap::new();
        for (i, division) in directory.divisions().enumerate() {
            let district = match division.level {
                Level::Street => directory.parent(&division.code),
                _ => None,
            };
            for form in forms(division, district) {
                by_form.entry(form.text).or_default().push(Target {
                    node: i as u32,
                    strength: form.strength,
                });
            }
        }
        // A form strong for one division is not a loose form for a division of another level
        // (昆山 is the city, not a street's stem). At the same level both stay, and the ranking
        // decides: `阳澄湖村` is 巴城镇's village, but `唯亭街道阳澄湖村` is 唯亭's 阳澄湖村社区.
        for targets in by_form.values_mut() {
            let strong_levels: Vec<Level> = targets
                .iter()
                .filter(|t| t.strength == Strength::Strong)
                .map(|t| nodes[t.node as usize].level)
                .collect();
            targets.retain(|t| {
                t.strength == Strength::Strong
                    || strong_levels.is_empty()
                    || strong_levels.contains(&nodes[t.node as usize].level)
            });
        }
        let city = directory.city();
        for name in outside_names(city.code.as_str(), &city.name) {
            by_form.entry(name).or_default();
        }

        let mut patterns = Vec::with_capacity(by_form.len());
        let mut targets = Vec::new();
        let mut texts = Vec::with_capacity(by_form.len());
        for (text, form_targets) in by_form {
            let start = targets.len() as u32;
            targets.extend(form_targets);
            patterns.push((start, targets.len() as u32));
            texts.push(text);
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&texts)
            .expect("name forms are short literals, far below the automaton's limits");

        Self {
            directory,
            automaton,
            patterns,
            targets,
            nodes,
            polygons: None,
            book: AddressBook::default(),
        }
    }

    /// Consults `book` where the division names fail or are weak. The book must have been
    /// parsed against this resolver's directory.
    pub fn with_address_book(mut self, book: AddressBook) -> Self {
        self.book = book;
        self
    }

    /// The address book (empty unless one was loaded); [`AddressBook::learn`] on it puts a
    /// confirmed alias to use at once.
    pub fn address_book(&self) -> &AddressBook {
        &self.book
    }

    /// The part of `address` no division name explains, as a learned alias would be keyed
    /// (`姑苏区南园新村5幢` -> `南园新村`); see [`unexplained_span`].
    pub fn unexplained_span(&self, address: &str) -> Option<String> {
        // A bare community stem stays: it is often part of an estate's name (金狮大厦 holds
        // the stem of 金狮社区), and the resolver did not trust it either.
        let spans: Vec<(usize, usize)> = self
            .hits(address)
            .iter()
            .filter(|h| {
                let targets = self.targets_of(h.pattern);
                targets.is_empty()
                    || targets.iter().any(|t| {
                        t.strength == Strength::Strong
                            || self.node(t.node).level != Level::Community
                    })
            })
            .map(|h| (h.start, h.end))
            .collect();
        unexplained_span(address, &spans)
    }

    /// Adds district polygons for [`Resolver::resolve_point`].
    pub fn with_polygons(mut self, polygons: DistrictPolygons) -> Self {
        self.polygons = Some(polygons);
        self
    }

    /// The directory the resolver was built from.
    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    /// The district polygons, if loaded.
    pub fn polygons(&self) -> Option<&DistrictPolygons> {
        self.polygons.as_ref()
    }

    /// How many name forms the index holds (including places outside the city).
    pub fn form_count(&self) -> usize {
        self.patterns.len()
    }

    fn targets_of(&self, pattern: u32) -> &[Target] {
        let (start, end) = self.patterns[pattern as usize];
        &self.targets[start as usize..end as usize]
    }

    fn node(&self, node: u32) -> &Node {
        &self.nodes[node as usize]
    }

    /// The district containing a map point (GCJ-02 degrees), if polygons are loaded, the point
    /// is inside one, and that district is in the directory.
    pub fn resolve_point(&self, lat: f64, lng: f64) -> Option<DivisionCode> {
        let code = self.polygons.as_ref()?.district_at(lat, lng)?;
        self.directory.division(code).map(|d| d.code.clone())
    }

    /// The community a kiosk stands in, as registered in the directory.
    pub fn resolve_kiosk(&self, kiosk: &KioskId) -> Resolution {
        let Some(division) = self
            .directory
            .kiosk(kiosk)
            .and_then(|code| self.directory.division(code))
        else {
            return Resolution::unresolved(Why::UnknownKiosk, None);
        };
        Resolution {
            outcome: Outcome::Resolved,
            why: Why::Kiosk,
            division: Some(division.code.clone()),
            level: Some(division.level),
            name: Some(division.name.clone()),
            span: None,
            candidates: Vec::new(),
            confidence: 1.0,
            book: None,
        }
    }

    /// The most specific division the text identifies (community, else street or town, else
    /// district), the span that named it, or the candidates when the text does not decide; the
    /// address book where the names fail or are weak (see the module's documentation).
    /// Never panics; empty, foreign or garbage text is `Unresolved` with a reason.
    pub fn resolve_text(&self, text: &str) -> Resolution {
        let by_names = self.resolve_names(text);
        let strong_community = by_names.is_resolved()
            && by_names.level == Some(Level::Community)
            && by_names.why != Why::LooseName;
        if strong_community || by_names.why == Why::Empty {
            return by_names;
        }
        let Some(found) = self.book.find(text) else {
            return by_names;
        };
        let Some(community) = self.directory.division(&found.community) else {
            return by_names;
        };
        let inside = |code: &DivisionCode| {
            self.directory
                .ancestors(&community.code)
                .any(|a| &a.code == code)
        };
        let agrees = match (by_names.outcome, &by_names.division) {
            (Outcome::Unresolved, _) => true,
            (Outcome::Ambiguous, _)
                if by_names.candidates.iter().any(|c| c.code == community.code) =>
            {
                true
            }
            // A loose community name is outweighed by a surer book entry.
            (Outcome::Resolved, Some(_)) if by_names.level == Some(Level::Community) => {
                found.confidence > by_names.confidence
            }
            (_, Some(named)) => inside(named),
            (_, None) => true,
        };
        if !agrees {
            return by_names;
        }
        Resolution {
            outcome: Outcome::Resolved,
            why: Why::of_book(found.kind),
            division: Some(community.code.clone()),
            level: Some(community.level),
            name: Some(community.name.clone()),
            span: Some(found.span.clone()),
            candidates: Vec::new(),
            confidence: found.confidence,
            book: Some(found),
        }
    }

    /// [`Resolver::resolve_text`] from the division names alone.
    fn resolve_names(&self, text: &str) -> Resolution {
        if text.trim().is_empty() {
            return Resolution::unresolved(Why::Empty, None);
        }
        let hits = self.hits(text);

        let mut city_hit = None;
        let mut outside_hit = None;
        let mut proposals: Vec<Proposal> = Vec::with_capacity(8);
        for (index, hit) in hits.iter().enumerate() {
            let targets = self.targets_of(hit.pattern);
            if targets.is_empty() {
                outside_hit.get_or_insert(index);
            }
            for target in targets {
                if self.node(target.node).level == Level::City {
                    city_hit.get_or_insert(index);
                    continue;
                }
                match proposals.iter_mut().find(|p| p.node == target.node) {
                    Some(existing) if target.strength > existing.strength => {
                        existing.strength = target.strength;
                        existing.hit = index;
                    }
                    Some(_) => {}
                    None => proposals.push(Proposal {
                        node: target.node,
                        hit: index,
                        strength: target.strength,
                        support: 0,
                        contradicted: false,
                        span: (hit.start, hit.end),
                    }),
                }
            }
        }
        for proposal in &mut proposals {
            self.weigh(proposal, &hits);
        }
        // A loose form never stands against a strong name that contradicts it, and a loose
        // community form (a bare stem) counts only next to its street or district.
        proposals.retain(|p| {
            p.strength == Strength::Strong
                || !(p.contradicted
                    || (self.node(p.node).level == Level::Community && p.support_count() == 0))
        });

        let only_loose = proposals.iter().all(|p| p.strength == Strength::Loose);
        if proposals.is_empty() || (only_loose && outside_hit.is_some() && city_hit.is_none()) {
            let span_of = |index: usize| span(text, hits[index].start, hits[index].end);
            return match (city_hit, outside_hit) {
                (Some(city), _) => Resolution::unresolved(Why::CityOnly, Some(span_of(city))),
                (None, Some(outside)) => {
                    Resolution::unresolved(Why::OutsideCity, Some(span_of(outside)))
                }
                (None, None) => Resolution::unresolved(Why::NoPlaceName, None),
            };
        }

        // The most specific level proposed; strong forms first.
        let deepest = proposals
            .iter()
            .map(|p| depth(self.node(p.node).level))
            .max()
            .unwrap_or(0);
        proposals.retain(|p| depth(self.node(p.node).level) == deepest);
        // Uncontradicted first, then the most support, then strong forms over loose ones.
        let rank = |p: &Proposal| (!p.contradicted, p.support_count(), p.strength);
        let best = proposals
            .iter()
            .map(rank)
            .max()
            .unwrap_or((false, 0, Strength::Loose));
        let contenders = proposals.len();
        proposals.retain(|p| rank(p) == best);

        match proposals.as_slice() {
            [winner] if !winner.contradicted => self.resolved(text, winner, contenders > 1),
            [winner] => self.contradiction(text, winner, &hits),
            several => self.ambiguous(text, several),
        }
    }

    /// All matches in `text`, without those lying inside a longer one, in text order.
    fn hits(&self, text: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self
            .automaton
            .find_overlapping_iter(text)
            .map(|m| Hit {
                start: m.start(),
                end: m.end(),
                pattern: m.pattern().as_u32(),
            })
            .collect();
        hits.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        // Sorted by start, longest first: a hit is inside an earlier one exactly when some
        // earlier hit ends at or after its end.
        let mut reach = 0;
        hits.retain(|hit| {
            if hit.end <= reach {
                return false;
            }
            reach = hit.end;
            true
        });
        hits.truncate(MAX_HITS);
        hits
    }

    /// Sets the support and contradiction of `proposal` from the other hits.
    fn weigh(&self, proposal: &mut Proposal, hits: &[Hit]) {
        let own = hits[proposal.hit];
        let node = self.node(proposal.node);
        let own_depth = depth(node.level);
        for (index, hit) in hits.iter().enumerate() {
            if index == proposal.hit || hit.overlaps(&own) {
                continue;
            }
            let targets = self.targets_of(hit.pattern);
            if targets.is_empty() {
                continue;
            }
            let mut supports = false;
            let mut can_contradict = true;
            for target in targets {
                let target_depth = depth(self.node(target.node).level);
                if target_depth < own_depth && node.ancestors[target_depth] == target.node {
                    supports = true;
                    proposal.support |= 1 << target_depth;
                }
                if target.strength == Strength::Loose
                    || target_depth == 0
                    || target_depth >= own_depth
                {
                    can_contradict = false;
                }
            }
            if supports {
                proposal.span.0 = proposal.span.0.min(hit.start);
                proposal.span.1 = proposal.span.1.max(hit.end);
            } else if can_contradict {
                proposal.contradicted = true;
            }
        }
    }

    fn resolved(&self, text: &str, winner: &Proposal, had_rivals: bool) -> Resolution {
        let node = self.node(winner.node);
        let supported = winner.support_count() > 0;
        let (why, confidence) = if winner.strength == Strength::Loose {
            (Why::LooseName, if supported { 0.7 } else { 0.5 })
        } else if had_rivals {
            (Why::PickedByContext, 0.9)
        } else if supported {
            (Why::ConfirmedByContext, 0.98)
        } else {
            (Why::UniqueName, 0.9)
        };
        Resolution {
            outcome: Outcome::Resolved,
            why,
            division: Some(node.code.clone()),
            level: Some(node.level),
            name: Some(node.name.clone()),
            span: Some(span(text, winner.span.0, winner.span.1)),
            candidates: Vec::new(),
            confidence,
            book: None,
        }
    }

    fn ambiguous(&self, text: &str, tied: &[Proposal]) -> Resolution {
        let same_name = tied.iter().all(|p| p.hit == tied[0].hit);
        let why = if same_name {
            Why::NameRepeats
        } else {
            Why::SeveralPlaces
        };
        let start = tied.iter().map(|p| p.span.0).min().unwrap_or(0);
        let end = tied.iter().map(|p| p.span.1).max().unwrap_or(0);
        let nodes: Vec<u32> = tied.iter().map(|p| p.node).collect();
        self.undecided(why, span(text, start, end), &nodes, 0.3)
    }

    fn contradiction(&self, text: &str, proposal: &Proposal, hits: &[Hit]) -> Resolution {
        let node = self.node(proposal.node);
        let own_depth = depth(node.level);
        let own = hits[proposal.hit];
        let mut nodes = vec![proposal.node];
        let (mut start, mut end) = (own.start, own.end);
        for hit in hits {
            if hit.overlaps(&own) {
                continue;
            }
            let targets = self.targets_of(hit.pattern);
            let contradicts = !targets.is_empty()
                && targets.iter().all(|t| {
                    let d = depth(self.node(t.node).level);
                    t.strength == Strength::Strong
                        && d > 0
                        && d < own_depth
                        && node.ancestors[d] != t.node
                });
            if contradicts {
                start = start.min(hit.start);
                end = end.max(hit.end);
                for target in targets {
                    if !nodes.contains(&target.node) {
                        nodes.push(target.node);
                    }
                }
            }
        }
        self.undecided(Why::Contradiction, span(text, start, end), &nodes, 0.2)
    }

    /// An ambiguous answer over `nodes`, with the division they all share below the city.
    fn undecided(&self, why: Why, span: Span, nodes: &[u32], confidence: f32) -> Resolution {
        let shared = (1..=2).rev().find_map(|d| {
            let first = self.node(nodes[0]).ancestors[d];
            (first != NO_NODE && nodes.iter().all(|&n| self.node(n).ancestors[d] == first))
                .then_some(first)
        });
        let shared = shared.map(|n| self.node(n));
        Resolution {
            outcome: Outcome::Ambiguous,
            why,
            division: shared.map(|n| n.code.clone()),
            level: shared.map(|n| n.level),
            name: shared.map(|n| n.name.clone()),
            span: Some(span),
            candidates: nodes
                .iter()
                .map(|&n| {
                    let node = self.node(n);
                    Candidate {
                        code: node.code.clone(),
                        name: node.name.clone(),
                        level: node.level,
                        path: node.path.clone(),
                    }
                })
                .collect(),
            confidence,
            book: None,
        }
    }
}

fn span(text: &str, start: usize, end: usize) -> Span {
    Span {
        start,
        end,
        text: text[start..end].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn resolver() -> &'static Resolver {
        static RESOLVER: OnceLock<Resolver> = OnceLock::new();
        RESOLVER.get_or_init(|| Resolver::new(Arc::new(Directory::suzhou())))
    }

    fn name_of(text: &str) -> String {
        let answer = resolver().resolve_text(text);
        assert_eq!(
            answer.outcome,
            Outcome::Resolved,
            "{text}: {}",
            answer.reason()
        );
        answer.name.unwrap()
    }

    #[test]
    fn a_full_address_resolves_to_its_community_with_the_whole_span() {
        let text = "苏州市姑苏区双塔街道沧浪亭社区";
        let answer = resolver().resolve_text(text);
        assert_eq!(answer.outcome, Outcome::Resolved);
        assert_eq!(answer.why, Why::ConfirmedByContext);
        assert_eq!(answer.division.unwrap().as_str(), "320508021019");
        assert_eq!(answer.level, Some(Level::Community));
        assert_eq!(answer.name.as_deref(), Some("沧浪亭社区居委会"));
        let span = answer.span.unwrap();
        assert_eq!((span.start, span.end), (0, text.len()));
        assert_eq!(span.text, text);
        assert!(answer.confidence > 0.95);
    }

    #[test]
    fn an_address_inside_a_sentence_is_found_and_its_span_points_at_it() {
        let text = "您好，我是吴中区长桥街道龙西社区的居民，小区路灯坏了";
        let answer = resolver().resolve_text(text);
        assert_eq!(answer.name.as_deref(), Some("龙西社区居委会"));
        let span = answer.span.unwrap();
        assert_eq!(span.text, "吴中区长桥街道龙西社区");
        assert_eq!(&text[span.start..span.end], span.text);
    }

    #[test]
    fn people_write_communities_villages_and_towns_their_own_way() {
        assert_eq!(name_of("沧浪亭社区门口"), "沧浪亭社区居委会");
        assert_eq!(name_of("我住在昆山市周市镇新镇村3组"), "新镇村委会");
        assert_eq!(name_of("昆山周市镇"), "周市镇");
        assert_eq!(name_of("浒墅关镇"), "浒墅关经开区（镇）");
        assert_eq!(name_of("浒墅关经开区(镇)龙华社区"), "龙华社区居委会");
        assert_eq!(name_of("东渚街道"), "科技城（东渚街道）");
        assert_eq!(name_of("常熟市"), "常熟市");
        assert_eq!(name_of("工业园区唯亭街道"), "唯亭街道");
        assert_eq!(name_of("苏州工业园区"), "苏州工业园区");
        assert_eq!(name_of("苏州高新区"), "虎丘区");
        assert_eq!(name_of("太仓经济开发区"), "经济开发区");
    }

    #[test]
    fn loose_forms_resolve_with_low_confidence_and_never_alone_for_a_community() {
        let answer = resolver().resolve_text("园区这边的路灯坏了");
        assert_eq!(answer.name.as_deref(), Some("苏州工业园区"));
        assert_eq!(answer.why, Why::LooseName);
        assert!(answer.confidence <= 0.5);
        assert_eq!(name_of("木渎"), "木渎镇");
        // 火车站 is also a community's stem, but alone it is the railway station.
        assert_eq!(
            resolver().resolve_text("火车站").outcome,
            Outcome::Unresolved
        );
    }

    #[test]
    fn a_repeated_name_is_ambiguous_with_every_candidate() {
        let answer = resolver().resolve_text("湖滨社区");
        assert_eq!(answer.outcome, Outcome::Ambiguous);
        assert_eq!(answer.why, Why::NameRepeats);
        assert_eq!(answer.candidates.len(), 4);
        assert!(answer
            .candidates
            .iter()
            .all(|c| c.name.starts_with("湖滨社区")));
        assert!(answer.reason().contains("湖滨社区"), "{}", answer.reason());
    }

    #[test]
    fn a_repeated_name_inside_one_district_is_narrowed_to_that_district() {
        let answer = resolver().resolve_text("吴江区西塘社区");
        assert_eq!(answer.outcome, Outcome::Ambiguous);
        assert_eq!(answer.candidates.len(), 2);
        assert_eq!(answer.division.unwrap().as_str(), "320509");
        assert_eq!(answer.level, Some(Level::District));
    }

    #[test]
    fn the_street_named_picks_one_of_the_repeated_names() {
        let answer = resolver().resolve_text("张家港市凤凰镇凤凰村");
        assert_eq!(answer.outcome, Outcome::Resolved, "{}", answer.reason());
        let code = answer.division.unwrap();
        assert!(code.as_str().starts_with("320582105"), "{code}");
    }

    #[test]
    fn a_community_under_the_wrong_district_is_a_contradiction_not_a_guess() {
        // 金麟社区 is in 常熟市东南街道, not in 姑苏区.
        let answer = resolver().resolve_text("姑苏区双塔街道金麟社区");
        assert_eq!(answer.outcome, Outcome::Ambiguous);
        assert_eq!(answer.why, Why::Contradiction);
        let names: Vec<&str> = answer.candidates.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"金麟社区居委会") && names.contains(&"双塔街道"),
            "{names:?}"
        );
    }

    #[test]
    fn two_different_places_are_several_places() {
        let answer = resolver().resolve_text("从沧浪亭社区搬到了龙西社区");
        assert_eq!(answer.outcome, Outcome::Ambiguous);
        assert_eq!(answer.why, Why::SeveralPlaces);
        assert_eq!(answer.candidates.len(), 2);
    }

    #[test]
    fn a_street_or_district_alone_resolves_at_its_level() {
        let answer = resolver().resolve_text("我在吴中区木渎镇，想问一下社保");
        assert_eq!(answer.level, Some(Level::Street));
        assert_eq!(answer.name.as_deref(), Some("木渎镇"));
        let answer = resolver().resolve_text("昆山市的公交");
        assert_eq!(answer.level, Some(Level::District));
    }

    #[test]
    fn places_outside_the_city_and_the_city_alone_are_unresolved_with_a_reason() {
        let answer = resolver().resolve_text("北京市朝阳区建国路");
        assert_eq!(answer.outcome, Outcome::Unresolved);
        assert_eq!(answer.why, Why::OutsideCity);
        assert_eq!(answer.span.as_ref().unwrap().text, "北京市");
        assert!(answer.reason().contains("outside"), "{}", answer.reason());
        let answer = resolver().resolve_text("苏州市的天气");
        assert_eq!(answer.why, Why::CityOnly);
        assert_eq!(answer.division, None);
    }

    #[test]
    fn garbage_empty_and_emoji_are_unresolved() {
        for text in [
            "",
            "   ",
            "\u{3000}",
            "🚧🚧🚧",
            "asdf qwer",
            "路灯坏了",
            "\u{0}\u{1}",
        ] {
            let answer = resolver().resolve_text(text);
            assert_eq!(answer.outcome, Outcome::Unresolved, "{text:?}");
            assert!(answer.candidates.is_empty() && answer.division.is_none());
        }
        assert_eq!(resolver().resolve_text(" ").why, Why::Empty);
        assert_eq!(resolver().resolve_text("路灯坏了").why, Why::NoPlaceName);
    }

    #[test]
    fn a_kiosk_resolves_to_its_community() {
        let mut directory = Directory::suzhou();
        let kiosk = KioskId::parse("kiosk", "KIOSK-0001").unwrap();
        let community = DivisionCode::parse("code", "320508021019").unwrap();
        directory
            .register_kiosk(kiosk.clone(), community.clone())
            .unwrap();
        let resolver = Resolver::new(Arc::new(directory));
        let answer = resolver.resolve_kiosk(&kiosk);
        assert_eq!(answer.why, Why::Kiosk);
        assert_eq!(answer.division, Some(community));
        let unknown = KioskId::parse("kiosk", "KIOSK-404").unwrap();
        assert_eq!(resolver.resolve_kiosk(&unknown).why, Why::UnknownKiosk);
    }

    #[test]
    fn without_polygons_no_point_resolves() {
        assert_eq!(resolver().resolve_point(31.3, 120.6), None);
    }

    #[test]
    fn the_resolver_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Resolver>();
    }
}
