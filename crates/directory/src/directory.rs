//! The [`Directory`]: divisions, stations and kiosks, loaded once and indexed for `&self`
//! lookups (it is `Send + Sync`; share it in an `Arc`).

use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::path::Path;

use hotline_core::{DivisionCode, KioskId, StationId};

use crate::division::{short_name, Division};
use crate::error::DirectoryError;
use crate::level::Level;
use crate::station::{Station, StationKind};

/// The Suzhou divisions shipped with the crate (source and licence in the crate README).
const SUZHOU_CSV: &str = include_str!("../data/suzhou_divisions.csv");
const SUZHOU_ORIGIN: &str = "hotline-directory/data/suzhou_divisions.csv";

const DIVISION_HEADER: [&str; 4] = ["code", "name", "level", "parent_code"];
const KIOSK_HEADER: [&str; 2] = ["kiosk_id", "community_code"];

/// Divisions, the stations generated from them and the registered kiosks.
#[derive(Debug, Clone)]
pub struct Directory {
    /// In file order (the statistical files are sorted by code, parents first).
    divisions: Vec<Division>,
    /// Division code -> position in `divisions`.
    index: HashMap<String, usize>,
    /// Position of each division's parent, `None` for the city.
    parents: Vec<Option<usize>>,
    children: Vec<Vec<DivisionCode>>,
    /// Grouped by division: `stations[station_ranges[i]]` are the stations of `divisions[i]`.
    stations: Vec<Station>,
    station_ranges: Vec<Range<usize>>,
    station_index: HashMap<StationId, usize>,
    city: usize,
    triage: usize,
    kiosks: HashMap<KioskId, DivisionCode>,
}

/// A row as read, before the tree is checked.
struct Row {
    line: u64,
    division: Division,
}

impl Directory {
    /// The Suzhou directory from the embedded data: 1 city, 10 districts, 118 streets, 2,248
    /// communities, 9,727 stations. Needs no files.
    pub fn suzhou() -> Self {
        Self::from_csv_reader(SUZHOU_ORIGIN, SUZHOU_CSV.as_bytes())
            .expect("the embedded Suzhou divisions are valid (checked by the crate's tests)")
    }

    /// Loads a `code,name,level,parent_code` file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, DirectoryError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| DirectoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_csv_reader(&path.display().to_string(), file)
    }

    /// Loads a `code,name,level,parent_code` CSV from `reader`. `origin` names the source in
    /// errors (a path, or a label such as `upload`).
    ///
    /// The file must describe one city and its tree: every code valid for its level and
    /// starting with its parent's code, every parent present one level up, no duplicates.
    pub fn from_csv_reader(origin: &str, reader: impl Read) -> Result<Self, DirectoryError> {
        let rows = read_rows(origin, reader)?;
        Self::from_rows(origin, rows)
    }

    fn from_rows(origin: &str, rows: Vec<Row>) -> Result<Self, DirectoryError> {
        let mut index: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        for (position, row) in rows.iter().enumerate() {
            let code = row.division.code.as_str();
            if let Some(first) = index.insert(code.to_owned(), position) {
                return Err(malformed(
                    origin,
                    row.line,
                    format!("duplicate code {code} (first on line {})", rows[first].line),
                ));
            }
        }

        let mut parents = Vec::with_capacity(rows.len());
        let mut children = vec![Vec::new(); rows.len()];
        let mut cities = Vec::new();
        for (position, row) in rows.iter().enumerate() {
            let division = &row.division;
            let Some(expected) = division.level.parent() else {
                cities.push(position);
                parents.push(None);
                continue;
            };
            let Some(parent_code) = &division.parent else {
                return Err(malformed(
                    origin,
                    row.line,
                    format!("{} {} has no parent_code", division.level, division.code),
                ));
            };
            let Some(&parent) = index.get(parent_code.as_str()) else {
                return Err(malformed(
                    origin,
                    row.line,
                    format!("parent_code {parent_code} is not in the file"),
                ));
            };
            let parent_level = rows[parent].division.level;
            if parent_level != expected {
                return Err(malformed(
                    origin,
                    row.line,
                    format!(
                        "the parent of {} {} must be a {expected}, but {parent_code} is a {parent_level}",
                        division.level, division.code
                    ),
                ));
            }
            parents.push(Some(parent));
            children[parent].push(division.code.clone());
        }
        let city = match cities.as_slice() {
            [city] => *city,
            [] => {
                return Err(DirectoryError::Inconsistent {
                    origin: origin.to_owned(),
                    problem: "no row has level city: a directory describes one city".to_owned(),
                })
            }
            [first, second, ..] => {
                return Err(malformed(
                    origin,
                    rows[*second].line,
                    format!(
                        "a second city (the first is on line {}): a directory describes one city",
                        rows[*first].line
                    ),
                ))
            }
        };

        let divisions: Vec<Division> = rows.into_iter().map(|row| row.division).collect();
        let station_total: usize = divisions
            .iter()
            .map(|d| StationKind::at_level(d.level).len())
            .sum();
        let mut stations = Vec::with_capacity(station_total);
        let mut station_ranges = Vec::with_capacity(divisions.len());
        for division in &divisions {
            let start = stations.len();
            for kind in StationKind::at_level(division.level) {
                stations.push(Station::generate(division, *kind));
            }
            station_ranges.push(start..stations.len());
        }
        let station_index = stations
            .iter()
            .enumerate()
            .map(|(position, station)| (station.id.clone(), position))
            .collect();
        let triage = station_ranges[city]
            .clone()
            .find(|&s| stations[s].kind == StationKind::Triage)
            .expect("every city has a triage station (StationKind::at_level)");

        Ok(Self {
            divisions,
            index,
            parents,
            children,
            stations,
            station_ranges,
            station_index,
            city,
            triage,
            kiosks: HashMap::new(),
        })
    }

    fn position(&self, code: &DivisionCode) -> Option<usize> {
        self.index.get(code.as_str()).copied()
    }

    /// The division with this code.
    pub fn division(&self, code: &DivisionCode) -> Option<&Division> {
        self.position(code).map(|p| &self.divisions[p])
    }

    /// The division with this code given as text (no need to parse a [`DivisionCode`] first).
    pub fn division_by_str(&self, code: &str) -> Option<&Division> {
        self.index.get(code).map(|&p| &self.divisions[p])
    }

    /// The division above, `None` for the city or an unknown code.
    pub fn parent(&self, code: &DivisionCode) -> Option<&Division> {
        let position = self.position(code)?;
        self.parents[position].map(|p| &self.divisions[p])
    }

    /// The divisions directly below, in file order; empty for a community or an unknown code.
    pub fn children(&self, code: &DivisionCode) -> &[DivisionCode] {
        self.position(code)
            .map_or(&[], |p| self.children[p].as_slice())
    }

    /// The division itself, then each division above it up to the city. Empty for an unknown
    /// code.
    pub fn ancestors(&self, code: &DivisionCode) -> impl Iterator<Item = &Division> + '_ {
        let mut next = self.position(code);
        std::iter::from_fn(move || {
            let current = next?;
            next = self.parents[current];
            Some(&self.divisions[current])
        })
    }

    /// The city the directory describes.
    pub fn city(&self) -> &Division {
        &self.divisions[self.city]
    }

    /// Every division, parents before children (file order).
    pub fn divisions(&self) -> std::slice::Iter<'_, Division> {
        self.divisions.iter()
    }

    /// The divisions of one level, in file order.
    pub fn divisions_at(&self, level: Level) -> impl Iterator<Item = &Division> + '_ {
        self.divisions.iter().filter(move |d| d.level == level)
    }

    /// How many divisions there are.
    pub fn len(&self) -> usize {
        self.divisions.len()
    }

    /// Never true for a loaded directory (it has at least its city); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.divisions.is_empty()
    }

    /// How many divisions of `level` there are.
    pub fn count_at(&self, level: Level) -> usize {
        self.divisions.iter().filter(|d| d.level == level).count()
    }

    /// The station with this id.
    pub fn station(&self, id: &StationId) -> Option<&Station> {
        self.station_index.get(id).map(|&s| &self.stations[s])
    }

    /// Every station, grouped by division in division order.
    pub fn stations(&self) -> std::slice::Iter<'_, Station> {
        self.stations.iter()
    }

    /// How many stations there are.
    pub fn station_count(&self) -> usize {
        self.stations.len()
    }

    /// The stations of one division (not of the divisions below it).
    pub fn stations_at(&self, code: &DivisionCode) -> &[Station] {
        self.position(code)
            .map_or(&[], |p| &self.stations[self.station_ranges[p].clone()])
    }

    /// The station of `kind` at exactly this division.
    pub fn station_of_kind(&self, code: &DivisionCode, kind: StationKind) -> Option<&Station> {
        self.stations_at(code).iter().find(|s| s.kind == kind)
    }

    /// The station of `kind` at this division or, failing that, at the nearest division above
    /// it: a community's `police` is its 警务室, its `urban` the street's squadron, its
    /// `housing` the district's bureau, its `water` the city's water company.
    pub fn nearest_station_of_kind(
        &self,
        code: &DivisionCode,
        kind: StationKind,
    ) -> Option<&Station> {
        self.ancestors(code)
            .find_map(|division| self.station_of_kind(&division.code, kind))
    }

    /// The centre's own triage queue (苏州市12345便民服务中心 for Suzhou): where a ticket goes
    /// when no route is confident.
    pub fn triage_station(&self) -> &Station {
        &self.stations[self.triage]
    }

    /// Registers a kiosk (信息亭) standing in `community`. Returns where it stood before, if it
    /// was already registered (a kiosk that moved).
    pub fn register_kiosk(
        &mut self,
        kiosk: KioskId,
        community: DivisionCode,
    ) -> Result<Option<DivisionCode>, DirectoryError> {
        let problem = match self.division(&community) {
            None => Some("the division is not in the directory"),
            Some(d) if d.level != Level::Community => Some("a kiosk stands in a community"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(DirectoryError::KioskDivision {
                kiosk,
                division: community,
                problem,
            });
        }
        Ok(self.kiosks.insert(kiosk, community))
    }

    /// Loads a `kiosk_id,community_code` CSV; returns how many kiosks it registered. A kiosk
    /// listed twice in one file is an error.
    pub fn load_kiosks_csv(
        &mut self,
        origin: &str,
        reader: impl Read,
    ) -> Result<usize, DirectoryError> {
        let mut csv = csv_reader(reader);
        check_header(origin, &mut csv, &KIOSK_HEADER)?;
        let mut seen: HashMap<KioskId, u64> = HashMap::new();
        for record in csv.records() {
            let (line, record) = record_or_error(origin, record)?;
            check_width(origin, line, &record, KIOSK_HEADER.len())?;
            let kiosk = KioskId::parse("kiosk_id", &record[0])
                .map_err(|e| malformed(origin, line, e.to_string()))?;
            let community = DivisionCode::parse("community_code", &record[1])
                .map_err(|e| malformed(origin, line, e.to_string()))?;
            if let Some(first) = seen.insert(kiosk.clone(), line) {
                return Err(malformed(
                    origin,
                    line,
                    format!("kiosk {kiosk} is listed twice (first on line {first})"),
                ));
            }
            self.register_kiosk(kiosk, community)
                .map_err(|e| malformed(origin, line, e.to_string()))?;
        }
        Ok(seen.len())
    }

    /// Loads a `kiosk_id,community_code` file (see [`Directory::load_kiosks_csv`]).
    pub fn load_kiosks_path(&mut self, path: impl AsRef<Path>) -> Result<usize, DirectoryError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| DirectoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_kiosks_csv(&path.display().to_string(), file)
    }

    /// The community a kiosk stands in.
    pub fn kiosk(&self, kiosk: &KioskId) -> Option<&DivisionCode> {
        self.kiosks.get(kiosk)
    }

    /// How many kiosks are registered.
    pub fn kiosk_count(&self) -> usize {
        self.kiosks.len()
    }
}

fn malformed(origin: &str, line: u64, problem: impl Into<String>) -> DirectoryError {
    DirectoryError::Malformed {
        origin: origin.to_owned(),
        line,
        problem: problem.into(),
    }
}

fn csv_reader<R: Read>(reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader)
}

fn record_or_error(
    origin: &str,
    record: Result<csv::StringRecord, csv::Error>,
) -> Result<(u64, csv::StringRecord), DirectoryError> {
    match record {
        Ok(record) => {
            let line = record.position().map_or(0, |p| p.line());
            Ok((line, record))
        }
        Err(error) => {
            let line = error.position().map_or(0, |p| p.line());
            let problem = match error.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
                _ => error.to_string(),
            };
            Err(malformed(origin, line, problem))
        }
    }
}

fn check_header<R: Read>(
    origin: &str,
    csv: &mut csv::Reader<R>,
    expected: &[&str],
) -> Result<(), DirectoryError> {
    let mut header = csv::StringRecord::new();
    let has_header = csv
        .read_record(&mut header)
        .map_err(|e| malformed(origin, 1, e.to_string()))?;
    let found: Vec<&str> = header
        .iter()
        .map(|field| field.trim_start_matches('\u{feff}'))
        .collect();
    if !has_header || found != expected {
        return Err(malformed(
            origin,
            1,
            format!(
                "the header must be `{}`, found `{}`",
                expected.join(","),
                found.join(",")
            ),
        ));
    }
    Ok(())
}

fn check_width(
    origin: &str,
    line: u64,
    record: &csv::StringRecord,
    width: usize,
) -> Result<(), DirectoryError> {
    if record.len() != width {
        return Err(malformed(
            origin,
            line,
            format!("expected {width} fields, found {}", record.len()),
        ));
    }
    Ok(())
}

fn read_rows(origin: &str, reader: impl Read) -> Result<Vec<Row>, DirectoryError> {
    let mut csv = csv_reader(reader);
    check_header(origin, &mut csv, &DIVISION_HEADER)?;
    let mut rows = Vec::new();
    for record in csv.records() {
        let (line, record) = record_or_error(origin, record)?;
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        check_width(origin, line, &record, DIVISION_HEADER.len())?;
        let bad = |problem: String| malformed(origin, line, problem);
        let code = DivisionCode::parse("code", &record[0]).map_err(|e| bad(e.to_string()))?;
        let name = &record[1];
        if name.is_empty() {
            return Err(bad("name is empty".to_owned()));
        }
        let level = Level::parse("level", &record[2]).map_err(|e| bad(e.to_string()))?;
        if code.as_str().len() != level.code_len() {
            return Err(bad(format!(
                "code {code} has {} digits but a {level} code has {}",
                code.as_str().len(),
                level.code_len()
            )));
        }
        let parent = match &record[3] {
            "" => None,
            raw => Some(DivisionCode::parse("parent_code", raw).map_err(|e| bad(e.to_string()))?),
        };
        if let Some(parent) = &parent {
            if !code.as_str().starts_with(parent.as_str()) || code == *parent {
                return Err(bad(format!(
                    "code {code} does not lie under its parent_code {parent}"
                )));
            }
        }
        rows.push(Row {
            line,
            division: Division {
                code,
                short_name: short_name(name),
                name: name.to_owned(),
                level,
                parent,
            },
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> DivisionCode {
        DivisionCode::parse("code", raw).unwrap()
    }

    fn load(csv: &str) -> Result<Directory, DirectoryError> {
        Directory::from_csv_reader("test.csv", csv.as_bytes())
    }

    fn problem_on_line(csv: &str, line: u64) -> String {
        match load(csv) {
            Err(DirectoryError::Malformed {
                origin,
                line: found,
                problem,
            }) => {
                assert_eq!(origin, "test.csv");
                assert_eq!(found, line, "{problem}");
                problem
            }
            other => panic!("expected a malformed-line error, got {other:?}"),
        }
    }

    const TINY: &str = "code,name,level,parent_code\n\
        3205,苏州市,city,32\n\
        320508,姑苏区,district,3205\n\
        320508021,双塔街道,street,320508\n\
        320508021005,金麟社区居委会,community,320508021\n";

    #[test]
    fn suzhou_has_one_city_ten_districts_118_streets_and_2248_communities() {
        let dir = Directory::suzhou();
        assert_eq!(dir.count_at(Level::City), 1);
        assert_eq!(dir.count_at(Level::District), 10);
        assert_eq!(dir.count_at(Level::Street), 118);
        assert_eq!(dir.count_at(Level::Community), 2248);
        assert_eq!(dir.len(), 1 + 10 + 118 + 2248);
        assert_eq!(dir.city().name, "苏州市");
    }

    #[test]
    fn suzhou_station_count_follows_the_rule_per_level() {
        let dir = Directory::suzhou();
        let expected = 5 + 10 * 14 + 118 * 5 + 2248 * 4;
        assert_eq!(dir.station_count(), expected);
        assert_eq!(dir.station_count(), 9727);
        for division in dir.divisions() {
            let kinds: Vec<_> = dir
                .stations_at(&division.code)
                .iter()
                .map(|s| s.kind)
                .collect();
            assert_eq!(
                kinds,
                StationKind::at_level(division.level),
                "{}",
                division.code
            );
        }
        for station in dir.stations() {
            assert_eq!(dir.station(&station.id), Some(station));
            assert_eq!(station.id.division().as_ref(), Some(&station.division));
        }
    }

    #[test]
    fn a_community_chains_up_to_its_street_district_and_city() {
        let dir = Directory::suzhou();
        let canglangting = dir
            .divisions()
            .find(|d| d.name == "沧浪亭社区居委会")
            .expect("沧浪亭社区 is in the data");
        let chain: Vec<&str> = dir
            .ancestors(&canglangting.code)
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(chain, ["沧浪亭社区居委会", "双塔街道", "姑苏区", "苏州市"]);
        assert_eq!(canglangting.short_name, "沧浪亭社区");
        assert_eq!(canglangting.level, Level::Community);
        let street = dir.parent(&canglangting.code).unwrap();
        assert!(dir.children(&street.code).contains(&canglangting.code));
        assert_eq!(dir.parent(&dir.city().code), None);
    }

    #[test]
    fn short_names_are_how_people_say_them() {
        let dir = Directory::suzhou();
        let short = |full: &str| {
            dir.divisions()
                .find(|d| d.name == full)
                .map(|d| d.short_name.clone())
                .unwrap()
        };
        assert_eq!(short("新开河村委会"), "新开河村");
        assert_eq!(short("十一圩港村村民委员会"), "十一圩港村");
        assert_eq!(short("双塔街道"), "双塔街道");
        assert_eq!(short("浒墅关经开区（镇）"), "浒墅关经开区（镇）");
        assert!(dir
            .divisions_at(Level::Community)
            .all(|d| !d.short_name.ends_with("委会") && !d.short_name.ends_with("委员会")));
    }

    #[test]
    fn stations_are_named_and_found_by_id_and_kind() {
        let dir = Directory::suzhou();
        let jinlin = code("320581006004");
        assert_eq!(dir.division(&jinlin).unwrap().name, "金麟社区居委会");
        let css = dir
            .station_of_kind(&jinlin, StationKind::CommunityService)
            .unwrap();
        assert_eq!(css.name, "金麟社区服务站");
        assert_eq!(css.id.as_str(), "320581006004-css");
        let hrss = dir
            .station(&StationId::of(&code("320505"), "hrss"))
            .unwrap();
        assert_eq!(hrss.name, "虎丘区人力资源和社会保障局");
        assert_eq!(dir.triage_station().name, "苏州市12345便民服务中心");
        assert_eq!(dir.triage_station().id.as_str(), "3205-triage");
        assert!(dir.station_of_kind(&jinlin, StationKind::Housing).is_none());
    }

    #[test]
    fn nearest_station_falls_back_community_then_street_then_district_then_city() {
        let dir = Directory::suzhou();
        let jinlin = code("320581006004");
        let at = |kind| dir.nearest_station_of_kind(&jinlin, kind).unwrap();
        assert_eq!(at(StationKind::Police).id.as_str(), "320581006004-police");
        assert_eq!(at(StationKind::Urban).id.as_str(), "320581006-urban");
        assert_eq!(at(StationKind::Command).id.as_str(), "320581006-command");
        assert_eq!(at(StationKind::Housing).id.as_str(), "320581-housing");
        assert_eq!(at(StationKind::Water).id.as_str(), "3205-water");
        assert!(dir
            .nearest_station_of_kind(&code("320599999999"), StationKind::Police)
            .is_none());
    }

    #[test]
    fn unknown_codes_have_no_children_ancestors_or_stations() {
        let dir = Directory::suzhou();
        let unknown = code("320599");
        assert!(dir.division(&unknown).is_none());
        assert!(dir.children(&unknown).is_empty());
        assert_eq!(dir.ancestors(&unknown).count(), 0);
        assert!(dir.stations_at(&unknown).is_empty());
    }

    #[test]
    fn the_directory_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Directory>();
    }

    #[test]
    fn another_city_loads_from_a_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("divisions.csv");
        std::fs::write(&path, TINY).unwrap();
        let directory = Directory::from_path(&path).unwrap();
        assert_eq!(directory.len(), 4);
        assert_eq!(directory.station_count(), 5 + 14 + 5 + 4);
        let missing = Directory::from_path(dir.path().join("nope.csv")).unwrap_err();
        assert!(missing.to_string().contains("nope.csv"), "{missing}");
    }

    #[test]
    fn malformed_rows_are_reported_with_their_line() {
        let cases: &[(&str, u64, &str)] = &[
            ("code,name,level\n3205,苏州市,city\n", 1, "header"),
            (
                &format!("{TINY}320508021006,x,community\n"),
                6,
                "expected 4 fields",
            ),
            (
                &format!("{TINY}32050802100X,x,community,320508021\n"),
                6,
                "not a division code",
            ),
            (
                &format!("{TINY}320508021006,x,village,320508021\n"),
                6,
                "not a level",
            ),
            (
                &format!("{TINY}320508021006,,community,320508021\n"),
                6,
                "name is empty",
            ),
            (
                &format!("{TINY}320508021,x,community,320508\n"),
                6,
                "9 digits",
            ),
            (
                &format!("{TINY}320508021005,x,community,320508021\n"),
                6,
                "duplicate code",
            ),
            (
                &format!("{TINY}320508022001,x,community,320508022\n"),
                6,
                "not in the file",
            ),
            (
                &format!("{TINY}320509021001,x,community,320508021\n"),
                6,
                "does not lie under",
            ),
            (
                &format!("{TINY}320508021006,x,community,320508\n"),
                6,
                "must be a street",
            ),
            (&format!("{TINY}3206,无锡市,city,32\n"), 6, "second city"),
        ];
        for (csv, line, expected) in cases {
            let problem = problem_on_line(csv, *line);
            assert!(
                problem.contains(expected),
                "{problem:?} should say {expected:?}"
            );
        }
        let rendered = load(&format!("{TINY}320508021006,x,village,320508021\n"))
            .unwrap_err()
            .to_string();
        assert!(rendered.starts_with("test.csv:6: "), "{rendered}");
    }

    #[test]
    fn a_file_without_a_city_is_refused() {
        let err = load("code,name,level,parent_code\n").unwrap_err();
        assert!(matches!(err, DirectoryError::Inconsistent { .. }), "{err}");
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_line() {
        let mut bytes = TINY.as_bytes().to_vec();
        bytes.extend_from_slice(b"320508021006,\xff\xfe,community,320508021\n");
        let err = Directory::from_csv_reader("bytes.csv", bytes.as_slice()).unwrap_err();
        assert!(err.to_string().starts_with("bytes.csv:6: "), "{err}");
    }

    #[test]
    fn kiosks_register_in_communities_only() {
        let mut dir = load(TINY).unwrap();
        let kiosk = KioskId::parse("kiosk", "K-001").unwrap();
        assert_eq!(
            dir.register_kiosk(kiosk.clone(), code("320508021005"))
                .unwrap(),
            None
        );
        assert_eq!(dir.kiosk(&kiosk), Some(&code("320508021005")));
        let err = dir
            .register_kiosk(kiosk.clone(), code("320508021"))
            .unwrap_err();
        assert!(err.to_string().contains("community"), "{err}");
        assert!(dir.register_kiosk(kiosk, code("320508021999")).is_err());
        assert!(dir
            .kiosk(&KioskId::parse("kiosk", "K-404").unwrap())
            .is_none());
    }

    #[test]
    fn kiosks_load_from_csv_and_bad_rows_name_their_line() {
        let mut dir = load(TINY).unwrap();
        let loaded = dir
            .load_kiosks_csv(
                "kiosks.csv",
                "kiosk_id,community_code\nK-1,320508021005\nK-2,320508021005\n".as_bytes(),
            )
            .unwrap();
        assert_eq!(loaded, 2);
        assert_eq!(dir.kiosk_count(), 2);
        for (csv, line) in [
            (
                "kiosk_id,community_code\nK-3,320508021005\nK 4,320508021005\n",
                3,
            ),
            (
                "kiosk_id,community_code\nK-5,320508021005\nK-5,320508021005\n",
                3,
            ),
            ("kiosk_id,community_code\nK-6,320508021\n", 2),
            ("kiosk,community\nK-7,320508021005\n", 1),
        ] {
            match dir.load_kiosks_csv("kiosks.csv", csv.as_bytes()) {
                Err(DirectoryError::Malformed { line: found, .. }) => {
                    assert_eq!(found, line, "{csv}")
                }
                other => panic!("{csv}: expected a malformed line, got {other:?}"),
            }
        }
    }
}
