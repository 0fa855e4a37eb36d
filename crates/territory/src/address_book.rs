//! The address book (地址库): the names callers actually say — a 小区, a road and house number,
//! a school or a market — mapped to the community (社区/村) responsible for them, imported by
//! the centre from a CSV file, plus the aliases supervisors confirmed from staff corrections.
//!
//! # The file
//! UTF-8 CSV (a BOM is allowed); lines starting with `#` are comments (a book of test data says
//! there that it is synthetic). The header is
//! `kind,name,range,parity,community,aliases`:
//!
//! | kind | name | range | parity | community | aliases |
//! |---|---|---|---|---|---|
//! | `name` (a 小区 or estate) | `南园新村` | | | `320508021019` | `南苑新村\|南园小区` |
//! | `road` | `十全街` | `1-99` | `单号` / `双号` / `全部` (or `odd` / `even` / `all`) | `320508021019` | |
//! | `landmark` (a school, market, hospital) | `苏州市第一中学` | | | `320508021011` | `苏州一中` |
//!
//! Refused at load, with the line named: an unknown kind, a community code that is not a
//! community (社区/村) of the directory, a name or alias that already points to another
//! community (after normalisation: `南苑` and `南园` are one key), a range that is not
//! `FROM-TO` with `1 <= FROM <= TO`, an unknown parity, and two ranges of one road that share a
//! number but name different communities.
//!
//! # Matching
//! Text and keys are compared in the normalised form of [`crate::normalize`]. Exact matches come
//! first (the longest, the most trusted kind); only when none is found are typos tried: a
//! window of the text within a bounded edit distance of a key (1 for keys up to 5 characters,
//! 2 for longer ones; keys under 3 characters are never matched loosely, there are too many
//! look-alikes). The confidence says how the match was made (see [`MatchKind::base_confidence`]
//! and [`Fuzz`]).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::RwLock;

use aho_corasick::{AhoCorasick, MatchKind as AcMatchKind};
use hotline_core::DivisionCode;
use hotline_directory::{Directory, Level};
use serde::Serialize;

use crate::error::{BookProblem, TerritoryError};
use crate::normalize::{normalize, Normalized};
use crate::resolution::Span;

/// The header a book must start with (after comments).
pub const HEADER: [&str; 6] = ["kind", "name", "range", "parity", "community", "aliases"];

/// Confidence lost per edit of a typo match.
const PER_EDIT: f32 = 0.15;
/// Confidence lost when the match needed normalisation (a variant spelling).
const VARIANT: f32 = 0.05;
/// Keys shorter than this (in characters) are matched exactly only.
const MIN_FUZZY_CHARS: usize = 3;

/// What kind of entry matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// A 小区 or estate's name.
    Name,
    /// An alias listed in the book for a name or landmark.
    Alias,
    /// A road and house number inside a range of the book.
    Road,
    /// A school, market, hospital... : it stands in the community, but callers near it may
    /// live across the road, so it is trusted a little less.
    Landmark,
    /// An alias learned from staff corrections and confirmed by a supervisor.
    Learned,
}

impl MatchKind {
    pub fn code(self) -> &'static str {
        match self {
            MatchKind::Name => "name",
            MatchKind::Alias => "alias",
            MatchKind::Road => "road",
            MatchKind::Landmark => "landmark",
            MatchKind::Learned => "learned_alias",
        }
    }

    /// The confidence of an exact match of this kind.
    pub fn base_confidence(self) -> f32 {
        match self {
            MatchKind::Name | MatchKind::Alias | MatchKind::Road => 0.95,
            MatchKind::Learned => 0.9,
            MatchKind::Landmark => 0.85,
        }
    }

    fn rank(self) -> u8 {
        match self {
            MatchKind::Road => 4,
            MatchKind::Name | MatchKind::Alias => 3,
            MatchKind::Learned => 2,
            MatchKind::Landmark => 1,
        }
    }
}

/// How closely the text matched the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "fuzz")]
pub enum Fuzz {
    /// Written as in the book.
    Exact,
    /// Equal after normalisation (full-width digits, 三号楼/3幢/3栋, 苑/园).
    Variant,
    /// Within `distance` edits of the entry (after normalisation).
    Typo { distance: u8 },
}

impl Fuzz {
    fn penalty(self) -> f32 {
        match self {
            Fuzz::Exact => 0.0,
            Fuzz::Variant => VARIANT,
            Fuzz::Typo { distance } => VARIANT + PER_EDIT * f32::from(distance),
        }
    }
}

impl fmt::Display for Fuzz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fuzz::Exact => f.write_str("exact"),
            Fuzz::Variant => f.write_str("variant spelling"),
            Fuzz::Typo { distance: 1 } => f.write_str("typo, 1 character off"),
            Fuzz::Typo { distance } => write!(f, "typo, {distance} characters off"),
        }
    }
}

/// An address-book answer: the community, what matched and how sure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookMatch {
    pub community: DivisionCode,
    pub kind: MatchKind,
    pub fuzz: Fuzz,
    /// 0.0 to 1.0: the kind's base confidence less the fuzz penalty.
    pub confidence: f32,
    /// What the caller wrote that matched.
    pub span: Span,
    /// The entry as the book has it (`十全街 1-99 单号`, `南苑新村 (alias of 南园新村)`).
    pub entry: String,
    /// The book's line, `None` for a learned alias.
    pub line: Option<u64>,
}

impl BookMatch {
    /// `road 十全街 1-99 单号 (line 7; exact, confidence 0.95)`.
    pub fn describe(&self) -> String {
        let at = self
            .line
            .map(|l| format!("line {l}; "))
            .unwrap_or_else(|| "confirmed by a supervisor; ".to_owned());
        format!(
            "{} {} ({at}{}, confidence {:.2})",
            self.kind.code().replace('_', " "),
            self.entry,
            self.fuzz,
            self.confidence
        )
    }
}

/// Odd, even or all house numbers of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    Odd,
    Even,
    All,
}

impl Parity {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw.trim() {
            "单号" | "单" | "odd" => Parity::Odd,
            "双号" | "双" | "even" => Parity::Even,
            "" | "全部" | "all" => Parity::All,
            _ => return None,
        })
    }

    fn admits(self, number: u32) -> bool {
        match self {
            Parity::Odd => number % 2 == 1,
            Parity::Even => number % 2 == 0,
            Parity::All => true,
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Parity::Odd => "单号",
            Parity::Even => "双号",
            Parity::All => "全部",
        }
    }
}

/// House numbers `from..=to` of one parity on a road.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RoadRange {
    from: u32,
    to: u32,
    parity: Parity,
    community: DivisionCode,
    line: u64,
}

impl RoadRange {
    fn admits(&self, number: u32) -> bool {
        (self.from..=self.to).contains(&number) && self.parity.admits(number)
    }

    /// Whether some number lies in both ranges.
    fn overlaps(&self, other: &RoadRange) -> bool {
        let (low, high) = (self.from.max(other.from), self.to.min(other.to));
        if low > high {
            return false;
        }
        let parity = match (self.parity, other.parity) {
            (Parity::Odd, Parity::Even) | (Parity::Even, Parity::Odd) => return false,
            (Parity::All, p) | (p, _) => p,
        };
        parity.admits(low) || low < high
    }
}

/// A name, alias or landmark key.
#[derive(Debug, Clone)]
struct Entry {
    community: DivisionCode,
    kind: MatchKind,
    /// As the book writes the key.
    written: String,
    /// How the explanation names the entry.
    label: String,
    line: u64,
}

/// A confirmed learned alias.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Learned {
    community: DivisionCode,
    spoken: String,
}

/// What a pattern of the automaton stands for.
#[derive(Debug, Clone)]
enum Pattern {
    Key(String),
    Road(String),
}

/// The patterns long enough to be matched loosely, by their first and their last character,
/// with their length in characters and their edit bound (indexed by pattern id).
#[derive(Debug, Default)]
struct FuzzyIndex {
    by_first: HashMap<char, Vec<usize>>,
    by_last: HashMap<char, Vec<usize>>,
    length: Vec<usize>,
    bound: Vec<usize>,
}

impl FuzzyIndex {
    fn new(patterns: &[Pattern]) -> Self {
        let mut index = FuzzyIndex::default();
        for (id, pattern) in patterns.iter().enumerate() {
            let chars: Vec<char> = pattern_text(pattern).chars().collect();
            index.length.push(chars.len());
            index.bound.push(if chars.len() <= 5 { 1 } else { 2 });
            if let (true, Some(first), Some(last)) =
                (chars.len() >= MIN_FUZZY_CHARS, chars.first(), chars.last())
            {
                index.by_first.entry(*first).or_default().push(id);
                index.by_last.entry(*last).or_default().push(id);
            }
        }
        index
    }
}

/// The address book. Build with [`AddressBook::parse`] or [`AddressBook::load_path`] (an
/// empty one with `Default`); learned aliases are added while it is in use
/// ([`AddressBook::learn`]), so it is shared by reference and never rebuilt.
#[derive(Debug, Default)]
pub struct AddressBook {
    origin: String,
    /// Normalised key -> entry.
    keys: HashMap<String, Entry>,
    /// Normalised road name -> its ranges.
    roads: HashMap<String, Vec<RoadRange>>,
    /// Road names as the book writes them (normalised name -> written name).
    road_labels: HashMap<String, String>,
    automaton: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    /// Which patterns a typo may be of, by their first and last character.
    fuzzy: FuzzyIndex,
    /// Normalised alias -> the community; read on every resolution, written on a confirmation.
    learned: RwLock<HashMap<String, Learned>>,
}

impl AddressBook {
    /// Reads and parses a book file.
    pub fn load_path(path: &Path, directory: &Directory) -> Result<Self, TerritoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| TerritoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text, directory)
    }

    /// Parses a book; `origin` (a path or a label) names it in errors.
    pub fn parse(origin: &str, text: &str, directory: &Directory) -> Result<Self, TerritoryError> {
        let refuse = |line: u64, problem: BookProblem| TerritoryError::AddressBook {
            origin: origin.to_owned(),
            line,
            problem,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Comment lines are blanked here rather than by the CSV reader, whose positions skip
        // them: every record's byte offset then falls on the file's own line.
        let text: String = text
            .split_inclusive('\n')
            .map(|line| {
                if line.trim_start().starts_with('#') {
                    if line.ends_with('\n') {
                        "\n"
                    } else {
                        ""
                    }
                } else {
                    line
                }
            })
            .collect();
        let text = text.as_str();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut book = AddressBook {
            origin: origin.to_owned(),
            ..AddressBook::default()
        };
        let mut header_seen = false;
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| line_at(text, p.byte()));
                refuse(line, BookProblem::Csv(e.to_string()))
            })?;
            // The reader's own line count skips comment lines; the file's line is what the
            // person fixing it needs.
            let line = record.position().map_or(0, |p| line_at(text, p.byte()));
            let fields: Vec<&str> = record.iter().map(str::trim).collect();
            if !header_seen {
                if fields != HEADER {
                    return Err(refuse(
                        line,
                        BookProblem::Header {
                            found: fields.join(","),
                        },
                    ));
                }
                header_seen = true;
                continue;
            }
            if fields.iter().all(|f| f.is_empty()) {
                continue;
            }
            if fields.len() != HEADER.len() {
                return Err(refuse(
                    line,
                    BookProblem::FieldCount {
                        found: fields.len(),
                    },
                ));
            }
            let [kind, name, range, parity, community, aliases] = [
                fields[0], fields[1], fields[2], fields[3], fields[4], fields[5],
            ];
            if name.is_empty() {
                return Err(refuse(line, BookProblem::EmptyName));
            }
            let community = book_community(community, directory).map_err(|p| refuse(line, p))?;
            match kind {
                "name" | "landmark" => {
                    if !range.is_empty() || !parity.is_empty() {
                        return Err(refuse(line, BookProblem::RangeOnNonRoad));
                    }
                    let kind = if kind == "name" {
                        MatchKind::Name
                    } else {
                        MatchKind::Landmark
                    };
                    book.add_key(name, kind, name, &community, line)
                        .map_err(|p| refuse(line, p))?;
                    for alias in aliases.split('|').map(str::trim).filter(|a| !a.is_empty()) {
                        let label = format!("{alias} (alias of {name})");
                        let alias_kind = if kind == MatchKind::Name {
                            MatchKind::Alias
                        } else {
                            MatchKind::Landmark
                        };
                        book.add_key(alias, alias_kind, &label, &community, line)
                            .map_err(|p| refuse(line, p))?;
                    }
                }
                "road" => {
                    if !aliases.is_empty() {
                        return Err(refuse(line, BookProblem::AliasOnRoad));
                    }
                    let (from, to) = parse_range(range).map_err(|p| refuse(line, p))?;
                    let parity = Parity::parse(parity).ok_or_else(|| {
                        refuse(
                            line,
                            BookProblem::Parity {
                                found: parity.to_owned(),
                            },
                        )
                    })?;
                    let key = normalize(name).text;
                    let new = RoadRange {
                        from,
                        to,
                        parity,
                        community,
                        line,
                    };
                    let ranges = book.roads.entry(key.clone()).or_default();
                    if let Some(clash) = ranges
                        .iter()
                        .find(|r| r.community != new.community && r.overlaps(&new))
                    {
                        return Err(refuse(
                            line,
                            BookProblem::Overlap {
                                road: name.to_owned(),
                                other_line: clash.line,
                                other: clash.community.clone(),
                            },
                        ));
                    }
                    ranges.push(new);
                    book.road_labels
                        .entry(key)
                        .or_insert_with(|| name.to_owned());
                }
                other => {
                    return Err(refuse(
                        line,
                        BookProblem::Kind {
                            found: other.to_owned(),
                        },
                    ))
                }
            }
        }
        if !header_seen {
            return Err(refuse(
                0,
                BookProblem::Header {
                    found: String::new(),
                },
            ));
        }
        book.build_automaton();
        Ok(book)
    }

    fn add_key(
        &mut self,
        written: &str,
        kind: MatchKind,
        label: &str,
        community: &DivisionCode,
        line: u64,
    ) -> Result<(), BookProblem> {
        let key = normalize(written).text;
        match self.keys.get(&key) {
            Some(existing) if existing.community != *community => Err(BookProblem::TwoWays {
                alias: written.to_owned(),
                other_line: existing.line,
                other: existing.community.clone(),
            }),
            // The same key for the same community twice is harmless: the first line stands.
            Some(_) => Ok(()),
            None => {
                self.keys.insert(
                    key,
                    Entry {
                        community: community.clone(),
                        kind,
                        written: written.to_owned(),
                        label: label.to_owned(),
                        line,
                    },
                );
                Ok(())
            }
        }
    }

    fn build_automaton(&mut self) {
        let mut patterns: Vec<Pattern> = self
            .keys
            .keys()
            .cloned()
            .map(Pattern::Key)
            .chain(self.roads.keys().cloned().map(Pattern::Road))
            .collect();
        // Deterministic pattern ids whatever the hash order.
        patterns.sort_by(|a, b| pattern_text(a).cmp(pattern_text(b)));
        if patterns.is_empty() {
            return;
        }
        let automaton = AhoCorasick::builder()
            .match_kind(AcMatchKind::Standard)
            .build(patterns.iter().map(pattern_text))
            .expect("address-book keys are short literals, far below the automaton's limits");
        self.automaton = Some(automaton);
        self.fuzzy = FuzzyIndex::new(&patterns);
        self.patterns = patterns;
    }

    /// The file or label the book was loaded from (empty for an empty book).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Entries in the book: names, aliases, landmarks and road ranges (learned aliases apart).
    pub fn len(&self) -> usize {
        self.keys.len() + self.roads.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many learned aliases are in use.
    pub fn learned_count(&self) -> usize {
        self.read_learned().len()
    }

    /// The community the imported book maps `spoken` to (after normalisation), if any, with the
    /// line: a learned alias may not contradict it.
    pub fn imported_target(&self, spoken: &str) -> Option<(DivisionCode, u64)> {
        self.keys
            .get(&normalize(spoken).text)
            .map(|e| (e.community.clone(), e.line))
    }

    /// The community a learned alias maps `spoken` to, if any.
    pub fn learned_target(&self, spoken: &str) -> Option<DivisionCode> {
        self.read_learned()
            .get(&normalize(spoken).text)
            .map(|l| l.community.clone())
    }

    /// Puts a confirmed alias to use at once. The caller checks it is a community of the
    /// directory and does not contradict the book ([`AddressBook::imported_target`]); a later
    /// confirmation of the same alias replaces the earlier one.
    pub fn learn(&self, spoken: &str, community: DivisionCode) {
        let key = alias_key(spoken);
        if key.is_empty() {
            return;
        }
        self.learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                key,
                Learned {
                    community,
                    spoken: spoken.trim().to_owned(),
                },
            );
    }

    fn read_learned(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Learned>> {
        // A panic while inserting one entry leaves the map whole: keep using it.
        self.learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The best match for `text`, exact first, then typos; `None` when nothing matches or two
    /// equally good matches name different communities.
    pub fn find(&self, text: &str) -> Option<BookMatch> {
        // Most resolutions of a router without a book end here, before any allocation.
        if self.automaton.is_none() && self.read_learned().is_empty() {
            return None;
        }
        let normalized = normalize(text);
        let (found, any_key) = self.exact(text, &normalized);
        if !found.is_empty() {
            return best(found);
        }
        // A key written exactly that did not decide (a road without a number in its ranges) is
        // not retried as a typo of itself or of a neighbour.
        if any_key {
            return None;
        }
        best(self.typos(text, &normalized))
    }

    /// The exact matches, and whether any key of the book was found at all.
    fn exact(&self, text: &str, normalized: &Normalized) -> (Vec<BookMatch>, bool) {
        let mut found = Vec::new();
        let mut any_key = false;
        if let Some(automaton) = &self.automaton {
            for hit in automaton.find_overlapping_iter(&normalized.text) {
                any_key = true;
                let pattern = &self.patterns[hit.pattern().as_usize()];
                if let Some(m) =
                    self.matched(pattern, text, normalized, hit.start(), hit.end(), None)
                {
                    found.push(m);
                }
            }
        }
        for (key, learned) in self.read_learned().iter() {
            for (start, _) in normalized.text.match_indices(key.as_str()) {
                let end = start + key.len();
                let span = original_span(text, normalized, start, end);
                let fuzz = exact_or_variant(&span.text, key);
                found.push(BookMatch {
                    community: learned.community.clone(),
                    kind: MatchKind::Learned,
                    fuzz,
                    confidence: MatchKind::Learned.base_confidence() - fuzz.penalty(),
                    span,
                    entry: learned.spoken.clone(),
                    line: None,
                });
            }
        }
        (found, any_key)
    }

    /// Keys within the edit bound of a window of the text. A typo rarely hits both ends of a
    /// name, so only windows that start with a key's first character or end with its last are
    /// compared, found through [`FuzzyIndex`]: the work grows with the text and the keys that
    /// share a character with it, not with the whole book.
    fn typos(&self, text: &str, normalized: &Normalized) -> Vec<BookMatch> {
        let bytes: Vec<usize> = normalized
            .text
            .char_indices()
            .map(|(b, _)| b)
            .chain(std::iter::once(normalized.text.len()))
            .collect();
        let chars: Vec<char> = normalized.text.chars().collect();
        // A window never splits a number: `十全街3|01号` is not a typo of 十全街.
        let splits = |at: usize| {
            at > 0
                && at < chars.len()
                && chars[at - 1].is_ascii_digit()
                && chars[at].is_ascii_digit()
        };
        // Per pattern: the closest window (distance, start, end), the first one found on a tie.
        let mut closest: HashMap<usize, (usize, usize, usize)> = HashMap::new();
        let mut try_window = |pattern: usize, start: usize, end: usize| {
            if start >= end || end > chars.len() || end - start < MIN_FUZZY_CHARS {
                return;
            }
            if splits(start) || splits(end) {
                return;
            }
            let key = pattern_text(&self.patterns[pattern]);
            let bound = self.fuzzy.bound[pattern];
            let window = &normalized.text[bytes[start]..bytes[end]];
            let distance = strsim::levenshtein(window, key);
            if distance == 0 || distance > bound {
                return;
            }
            let better = closest
                .get(&pattern)
                .is_none_or(|&(d, s, _)| distance < d || (distance == d && start < s));
            if better {
                closest.insert(pattern, (distance, start, end));
            }
        };
        for (at, c) in chars.iter().enumerate() {
            for &pattern in self.fuzzy.by_first.get(c).into_iter().flatten() {
                let (length, bound) = (self.fuzzy.length[pattern], self.fuzzy.bound[pattern]);
                for width in length.saturating_sub(bound)..=length + bound {
                    try_window(pattern, at, at + width);
                }
            }
            for &pattern in self.fuzzy.by_last.get(c).into_iter().flatten() {
                let (length, bound) = (self.fuzzy.length[pattern], self.fuzzy.bound[pattern]);
                for width in length.saturating_sub(bound)..=length + bound {
                    if let Some(start) = (at + 1).checked_sub(width) {
                        try_window(pattern, start, at + 1);
                    }
                }
            }
        }
        let mut patterns: Vec<_> = closest.into_iter().collect();
        patterns.sort_unstable_by_key(|(pattern, _)| *pattern);
        patterns
            .into_iter()
            .filter_map(|(pattern, (distance, start, end))| {
                let distance = u8::try_from(distance).unwrap_or(u8::MAX);
                self.matched(
                    &self.patterns[pattern],
                    text,
                    normalized,
                    bytes[start],
                    bytes[end],
                    Some(Fuzz::Typo { distance }),
                )
            })
            .collect()
    }

    /// The match for `pattern` found at normalised bytes `[start, end)`; a road needs a house
    /// number in one of its ranges right after its name.
    fn matched(
        &self,
        pattern: &Pattern,
        text: &str,
        normalized: &Normalized,
        start: usize,
        end: usize,
        fuzz: Option<Fuzz>,
    ) -> Option<BookMatch> {
        match pattern {
            Pattern::Key(key) => {
                let entry = &self.keys[key];
                let span = original_span(text, normalized, start, end);
                let fuzz = fuzz.unwrap_or_else(|| exact_or_variant(&span.text, &entry.written));
                Some(BookMatch {
                    community: entry.community.clone(),
                    kind: entry.kind,
                    fuzz,
                    confidence: entry.kind.base_confidence() - fuzz.penalty(),
                    span,
                    entry: entry.label.clone(),
                    line: Some(entry.line),
                })
            }
            Pattern::Road(road) => {
                let (number, number_end) = house_number(&normalized.text, end)?;
                let range = self.roads[road].iter().find(|r| r.admits(number))?;
                let span = original_span(text, normalized, start, number_end);
                let label = &self.road_labels[road];
                // Exact when the road is written as in the book and the number needed no
                // normalisation (`８８号`, `八十八号` are variants).
                let as_normalised = &normalized.text[start..number_end];
                let fuzz = fuzz.unwrap_or(
                    if span.text == as_normalised && span.text.starts_with(label.as_str()) {
                        Fuzz::Exact
                    } else {
                        Fuzz::Variant
                    },
                );
                Some(BookMatch {
                    community: range.community.clone(),
                    kind: MatchKind::Road,
                    fuzz,
                    confidence: MatchKind::Road.base_confidence() - fuzz.penalty(),
                    span,
                    entry: format!("{label} {}-{} {}", range.from, range.to, range.parity.zh()),
                    line: Some(range.line),
                })
            }
        }
    }
}

/// The 1-based line of the record the CSV reader says starts at `byte`. The reader reports
/// a record's start before the blank lines it skips, so those are stepped over first.
fn line_at(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut at = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
    while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
        at += 1;
    }
    1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64
}

fn pattern_text(pattern: &Pattern) -> &str {
    match pattern {
        Pattern::Key(k) | Pattern::Road(k) => k,
    }
}

/// The longest match, then the most trusted, then the most specific kind; `None` when a match
/// as good names another community.
fn best(mut found: Vec<BookMatch>) -> Option<BookMatch> {
    // The longest first: it is the more specific entry (`盘溪新村18幢` over `盘溪新村`).
    let score = |m: &BookMatch| {
        (
            m.span.text.chars().count(),
            (m.confidence * 1000.0).round() as i32,
            m.kind.rank(),
        )
    };
    found.sort_by_key(|m| std::cmp::Reverse(score(m)));
    let first = found.first()?;
    let tied = found
        .iter()
        .skip(1)
        .take_while(|m| score(m) == score(first))
        .any(|m| m.community != first.community);
    (!tied).then(|| found.swap_remove(0))
}

/// The house number starting at normalised byte `at` (spaces allowed before it), and where its
/// `号` (or the digits) end.
fn house_number(text: &str, at: usize) -> Option<(u32, usize)> {
    let rest = &text[at..];
    let skipped = rest.len() - rest.trim_start().len();
    let digits_start = at + skipped;
    let digits: &str = {
        let tail = &text[digits_start..];
        let len = tail.bytes().take_while(u8::is_ascii_digit).count();
        &tail[..len]
    };
    let number: u32 = digits.parse().ok()?;
    let mut end = digits_start + digits.len();
    if text[end..].starts_with('号') {
        end += '号'.len_utf8();
    }
    Some((number, end))
}

fn original_span(text: &str, normalized: &Normalized, start: usize, end: usize) -> Span {
    let (start, end) = normalized.original_range(start, end);
    Span {
        start,
        end,
        text: text[start..end].to_owned(),
    }
}

fn exact_or_variant(written: &str, entry: &str) -> Fuzz {
    if written == entry {
        Fuzz::Exact
    } else {
        Fuzz::Variant
    }
}

/// `FROM-TO` with `1 <= FROM <= TO`.
fn parse_range(raw: &str) -> Result<(u32, u32), BookProblem> {
    let bad = || BookProblem::Range {
        found: raw.to_owned(),
    };
    let (from, to) = raw.split_once('-').ok_or_else(bad)?;
    let from: u32 = from.trim().parse().map_err(|_| bad())?;
    let to: u32 = to.trim().parse().map_err(|_| bad())?;
    if from == 0 || from > to {
        return Err(bad());
    }
    Ok((from, to))
}

fn book_community(raw: &str, directory: &Directory) -> Result<DivisionCode, BookProblem> {
    let unknown = || BookProblem::UnknownCommunity {
        code: raw.to_owned(),
    };
    let code = DivisionCode::parse("community", raw).map_err(|_| unknown())?;
    match directory.division(&code) {
        Some(d) if d.level == Level::Community => Ok(code),
        Some(d) => Err(BookProblem::NotACommunity {
            code: raw.to_owned(),
            name: d.name.clone(),
        }),
        None => Err(unknown()),
    }
}

/// The key an alias is stored and compared under: its normalised form (`南苑新村5号楼` and
/// `南园新村5幢` are one key).
pub fn alias_key(spoken: &str) -> String {
    normalize(spoken.trim()).text
}

/// The part of an address the division names did not explain, as a learned alias would be
/// keyed: `name_spans` are the byte ranges the resolver matched as division names. The longest
/// run of text outside them and outside punctuation, cut at the first house or building number
/// (`南园新村5幢301室` -> `南园新村`); `None` when nothing of at least two characters is left
/// or what is left is too long to be a name (a sentence, not an address).
pub fn unexplained_span(address: &str, name_spans: &[(usize, usize)]) -> Option<String> {
    const MAX_CHARS: usize = 16;
    let mut cuts: Vec<(usize, usize)> = name_spans.to_vec();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (from, to) in cuts {
        if from > start {
            pieces.push(&address[start..from]);
        }
        start = start.max(to);
    }
    pieces.push(&address[start.min(address.len())..]);
    pieces
        .into_iter()
        .flat_map(|piece| {
            piece.split(|c: char| {
                c.is_whitespace()
                    || (c.is_ascii_punctuation() && c != '-')
                    || "，。、；：（）".contains(c)
            })
        })
        .map(name_part)
        .filter(|name| (2..=MAX_CHARS).contains(&name.chars().count()))
        // The longest; the first of equally long ones.
        .fold(None::<&str>, |best, name| match best {
            Some(b) if b.chars().count() >= name.chars().count() => Some(b),
            _ => Some(name),
        })
        .map(str::to_owned)
}

/// A piece of an address without its house or building number and without where the caller
/// stood (`南园新村5幢门口` -> `南园新村`).
fn name_part(piece: &str) -> &str {
    let mut name = cut_at_number(piece).trim();
    while let Some(shorter) = ["附近", "门口", "旁边", "对面"]
        .iter()
        .find_map(|w| name.strip_suffix(w))
    {
        name = shorter.trim();
    }
    name
}

/// The text before its first house or building number (digits, or a Chinese numeral that
/// normalises to one).
fn cut_at_number(piece: &str) -> &str {
    let normalized = normalize(piece);
    match normalized.text.find(|c: char| c.is_ascii_digit()) {
        Some(at) => &piece[..normalized.original_range(at, at + 1).0],
        None => piece,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_other_parity_do_not_overlap() {
        let range = |from, to, parity| RoadRange {
            from,
            to,
            parity,
            community: DivisionCode::parse("c", "320508021019").unwrap(),
            line: 1,
        };
        assert!(!range(1, 99, Parity::Odd).overlaps(&range(2, 100, Parity::Even)));
        assert!(range(1, 99, Parity::Odd).overlaps(&range(99, 120, Parity::All)));
        assert!(!range(1, 99, Parity::Odd).overlaps(&range(100, 120, Parity::All)));
        // 2..=2 even with an odd-only range: no shared number.
        assert!(!range(1, 9, Parity::Odd).overlaps(&range(2, 2, Parity::All)));
        assert!(range(1, 9, Parity::All).overlaps(&range(2, 2, Parity::Even)));
    }

    #[test]
    fn house_numbers_are_read_after_the_road() {
        assert_eq!(
            house_number("十全街88号3幢", "十全街".len()),
            Some((88, "十全街88号".len()))
        );
        assert_eq!(
            house_number("十全街 7", "十全街".len()),
            Some((7, "十全街 7".len()))
        );
        assert_eq!(house_number("十全街附近", "十全街".len()), None);
    }

    #[test]
    fn the_unexplained_span_drops_division_names_and_numbers() {
        let address = "姑苏区双塔街道南园新村5幢301室";
        let spans = [
            (0, "姑苏区".len()),
            ("姑苏区".len(), "姑苏区双塔街道".len()),
        ];
        assert_eq!(
            unexplained_span(address, &spans).as_deref(),
            Some("南园新村")
        );
        assert_eq!(
            unexplained_span("南园新村五号楼门口", &[]).as_deref(),
            Some("南园新村")
        );
        assert_eq!(unexplained_span("姑苏区", &[(0, "姑苏区".len())]), None);
        assert_eq!(
            unexplained_span("吴中区，宝带花园门口附近", &[(0, "吴中区".len())]).as_deref(),
            Some("宝带花园")
        );
    }
}
