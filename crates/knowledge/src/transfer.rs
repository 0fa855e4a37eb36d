//! Import and export of a whole knowledge base: a centre moving its existing base in, and the
//! same file format out again.
//!
//! # Import format
//!
//! One article per row, with this header (column names exactly, any order; the export writes
//! them in this order):
//!
//! ```text
//! external_key,title,alt_questions,answer,internal_note,categories,territories,source_name,source_number,source_link,effective_from,effective_until,owner,review_on
//! ```
//!
//! - `external_key`: the article's key in the base it comes from. Importing a row whose key an
//!   article already has updates that article (a new version) instead of adding another;
//!   identical content changes nothing. A row without a key always creates an article. The
//!   export writes an article made here (with no key) under its article id, and the import
//!   matches such a key to that article, so exporting and importing back never duplicates.
//!   At most 100 characters; a key may appear only once in a file.
//! - `alt_questions` (同义问法), `categories` and `territories` hold several values separated by
//!   `|` (e.g. `CJ.WY|CJ.GJ`). A `|` inside one 同义问法 is exported as the full-width `｜`.
//! - `categories`: category codes of the centre's taxonomy; `territories`: division codes of
//!   the city (4 digits), a district (6) or a street (9); `owner`: the owning unit's station id.
//! - Dates are `YYYY-MM-DD` (`YYYY/MM/DD` is read too); in an Excel sheet a real date cell, or a
//!   plain number taken as an Excel date serial, is read as that day. `effective_from` is
//!   required: a row without it is refused, naming its line (no default is guessed, because an
//!   answer read to callers from the wrong day is worse than a refused file).
//!   `effective_until` and `review_on` may be empty.
//! - Required columns: `title`, `answer`, `categories`, `territories`, `effective_from`,
//!   `owner`; the others may be left out of the header. A column not in the list above is
//!   refused, naming it; columns with an empty header are ignored if every cell below is empty.
//! - The limits are those of an article (`domain::limits`: title 200 characters, answer
//!   20,000, ...); every category and territory must be in the centre's catalogue.
//! - Blank rows are skipped.
//!
//! Files: CSV in UTF-8 with or without a byte-order mark, or in GB18030 (what Excel saves as
//! "CSV" on Chinese Windows): a file that is valid UTF-8 is read as UTF-8, anything else as
//! GB18030. Excel `.xlsx`: the first sheet, its first row the header. A bad row refuses the
//! whole file, naming the line: the physical line of a CSV file (the header is line 1; a
//! quoted field spanning lines counts each), the sheet's row number in Excel. Nothing is
//! written until every row has been checked, and then everything is written in one
//! transaction: an import is all or nothing.
//!
//! The export writes each article's **latest** version (what editors work on, including an
//! edit not yet published, and withdrawn articles too), so an export is a complete copy of
//! the base's current text; the CSV is UTF-8 with a byte-order mark so Excel opens it as
//! UTF-8, the `.xlsx` has real date cells.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use hotline_core::{CategoryCode, DivisionCode, InvalidInput, StaffId, StationId};

use crate::domain::{limits, Article, ArticleId, Catalogue, Content, Source, Status, Version};
use crate::domain::{Action, HistoryEntry};
use crate::service::{Knowledge, RACE_RETRIES};
use crate::store::{Change, Live, NewArticle};
use crate::KnowledgeError;

/// The columns, in the order the export writes them.
pub const HEADER: [&str; 14] = [
    "external_key",
    "title",
    "alt_questions",
    "answer",
    "internal_note",
    "categories",
    "territories",
    "source_name",
    "source_number",
    "source_link",
    "effective_from",
    "effective_until",
    "owner",
    "review_on",
];

/// The columns a file must have.
pub const REQUIRED: [&str; 6] = [
    "title",
    "answer",
    "categories",
    "territories",
    "effective_from",
    "owner",
];

/// Positions in [`HEADER`].
mod col {
    pub const EXTERNAL_KEY: usize = 0;
    pub const TITLE: usize = 1;
    pub const ALT_QUESTIONS: usize = 2;
    pub const ANSWER: usize = 3;
    pub const INTERNAL_NOTE: usize = 4;
    pub const CATEGORIES: usize = 5;
    pub const TERRITORIES: usize = 6;
    pub const SOURCE_NAME: usize = 7;
    pub const SOURCE_NUMBER: usize = 8;
    pub const SOURCE_LINK: usize = 9;
    pub const EFFECTIVE_FROM: usize = 10;
    pub const EFFECTIVE_UNTIL: usize = 11;
    pub const OWNER: usize = 12;
    pub const REVIEW_ON: usize = 13;
}

/// One article read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// Where it was: the CSV line or the sheet row (for the error that names it).
    pub line: u64,
    pub external_key: Option<String>,
    pub content: Content,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New articles.
    pub created: usize,
    /// Articles given a new version (or, imported as published, their latest version
    /// published).
    pub updated: usize,
    /// Rows identical to their article: nothing written.
    pub unchanged: usize,
}

/// A cell as read: text, a number (Excel), or a real Excel date cell.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Number(f64),
    Date(NaiveDate),
}

impl Cell {
    fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(t) if t.trim().is_empty())
    }

    fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            // Excel stores every number as a float; a key or code typed as 1001 reads 1001.0.
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Cell::Number(n) => n.to_string(),
            Cell::Date(d) => d.to_string(),
        }
    }
}

fn bad(file: &str, line: u64, message: impl Into<String>) -> KnowledgeError {
    KnowledgeError::BadRow {
        file: file.to_owned(),
        line,
        message: message.into(),
    }
}

fn bad_file(message: String) -> KnowledgeError {
    InvalidInput::new("file", message).into()
}

/// Where each known column is in the file.
struct Columns {
    at: [Option<usize>; HEADER.len()],
}

impl Columns {
    fn from_header(file: &str, line: u64, names: &[String]) -> Result<Columns, KnowledgeError> {
        let mut at = [None; HEADER.len()];
        let mut unknown = Vec::new();
        for (i, raw) in names.iter().enumerate() {
            // A BOM that survived decoding (a second one, or a sheet cell) is not part of a name.
            let name = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            if name.is_empty() {
                continue;
            }
            match HEADER.iter().position(|h| h.eq_ignore_ascii_case(name)) {
                Some(k) if at[k].is_some() => {
                    return Err(bad(file, line, format!("the column {name} appears twice")))
                }
                Some(k) => at[k] = Some(i),
                None => unknown.push(name.to_owned()),
            }
        }
        if !unknown.is_empty() {
            return Err(bad(
                file,
                line,
                format!(
                    "unknown columns: {} (the columns are {})",
                    unknown.join(", "),
                    HEADER.join(",")
                ),
            ));
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|name| at[HEADER.iter().position(|h| h == *name).unwrap_or(0)].is_none())
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(bad(
                file,
                line,
                format!("missing required columns: {}", missing.join(", ")),
            ));
        }
        Ok(Columns { at })
    }
}

/// Accepts every code: reading checks a row's shape and limits; the centre's vocabulary is
/// the import's check ([`Knowledge::validate`]).
struct AnyCode;

impl Catalogue for AnyCode {
    fn knows_category(&self, _: &CategoryCode) -> bool {
        true
    }
    fn knows_division(&self, _: &DivisionCode) -> bool {
        true
    }
}

/// `YYYY-MM-DD` or `YYYY/MM/DD` (month and day may lack their leading zero, as Excel writes
/// them in a CSV).
fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let raw = raw.trim();
    ["%Y-%m-%d", "%Y/%m/%d"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(raw, format).ok())
        .ok_or_else(|| format!("{raw:?} is not a date (YYYY-MM-DD or YYYY/MM/DD)"))
}

/// An Excel serial day number (1900 date system) as a date. Serials below 61 fall before
/// Excel's phantom 1900-02-29 and are not dates anyone writes in a knowledge base.
fn excel_serial(serial: f64) -> Option<NaiveDate> {
    if !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(serial as u64))
}

fn split_list(text: &str) -> Vec<String> {
    text.split('|')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One data row as an [`ImportRow`]; `None` for a blank row.
fn parse_row(
    file: &str,
    line: u64,
    columns: &Columns,
    cells: &[Cell],
) -> Result<Option<ImportRow>, KnowledgeError> {
    if cells.iter().all(Cell::is_blank) {
        return Ok(None);
    }
    let known: HashSet<usize> = columns.at.iter().flatten().copied().collect();
    // Unknown names were refused with the header: a column not known here has no name.
    if let Some(extra) = (0..cells.len()).find(|i| !known.contains(i) && !cells[*i].is_blank()) {
        return Err(bad(
            file,
            line,
            format!("column {} has a value but no header name", extra + 1),
        ));
    }
    let cell = |k: usize| columns.at[k].and_then(|i| cells.get(i));
    let text = |k: usize| cell(k).map(Cell::text).unwrap_or_default();
    let bad_here = |message: String| bad(file, line, message);
    let date = |k: usize| -> Result<Option<NaiveDate>, KnowledgeError> {
        match cell(k) {
            None => Ok(None),
            Some(c) if c.is_blank() => Ok(None),
            Some(Cell::Date(d)) => Ok(Some(*d)),
            Some(Cell::Number(n)) => excel_serial(*n)
                .map(Some)
                .ok_or_else(|| bad_here(format!("{}: {n} is not an Excel date", HEADER[k]))),
            Some(Cell::Text(t)) => parse_date(t)
                .map(Some)
                .map_err(|m| bad_here(format!("{}: {m}", HEADER[k]))),
        }
    };
    let categories = split_list(&text(col::CATEGORIES))
        .iter()
        .map(|c| CategoryCode::parse("categories", c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_here(e.to_string()))?;
    let territories = split_list(&text(col::TERRITORIES))
        .iter()
        .map(|c| DivisionCode::parse("territories", c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_here(e.to_string()))?;
    let owner = StationId::parse("owner", &text(col::OWNER))
        .map_err(|e| bad_here(format!("{e} (the owning unit's station id)")))?;
    let effective_from = date(col::EFFECTIVE_FROM)?.ok_or_else(|| {
        bad_here("effective_from is empty: give the first day the answer holds (YYYY-MM-DD)".into())
    })?;
    let content = Content {
        title: text(col::TITLE),
        alt_questions: split_list(&text(col::ALT_QUESTIONS)),
        answer: text(col::ANSWER),
        internal_note: text(col::INTERNAL_NOTE),
        categories,
        territories,
        source: Source {
            name: text(col::SOURCE_NAME),
            number: text(col::SOURCE_NUMBER),
            link: text(col::SOURCE_LINK),
        },
        effective_from,
        effective_until: date(col::EFFECTIVE_UNTIL)?,
        owner,
        review_on: date(col::REVIEW_ON)?,
    };
    // Limits and required fields now, so the editor hears of every problem with its line
    // before the file reaches the store; the catalogue is checked by the import.
    let content = content
        .validate(&AnyCode)
        .map_err(|e| bad_here(e.to_string()))?;
    let external_key = Some(text(col::EXTERNAL_KEY).trim().to_owned()).filter(|k| !k.is_empty());
    if let Some(key) = &external_key {
        if key.chars().count() > limits::EXTERNAL_KEY {
            return Err(bad_here(format!(
                "external_key: at most {} characters",
                limits::EXTERNAL_KEY
            )));
        }
    }
    Ok(Some(ImportRow {
        line,
        external_key,
        content,
    }))
}

/// Refuses a key given twice, naming both lines.
fn check_unique_keys(file: &str, rows: &[ImportRow]) -> Result<(), KnowledgeError> {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for row in rows {
        if let Some(key) = &row.external_key {
            if let Some(first) = seen.insert(key, row.line) {
                return Err(bad(
                    file,
                    row.line,
                    format!("external_key {key:?} is already on line {first}"),
                ));
            }
        }
    }
    Ok(())
}

/// Reads a `.csv` or `.xlsx` file (by its extension).
pub fn read_file(path: &Path) -> Result<Vec<ImportRow>, KnowledgeError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => {
            let bytes = std::fs::read(path).map_err(|source| KnowledgeError::Io {
                what: format!("reading {}", path.display()),
                source,
            })?;
            read_csv(&bytes, &file_name(path))
        }
        Some("xlsx") => read_xlsx(path),
        _ => Err(bad_file(format!(
            "{} is neither a .csv nor an .xlsx file",
            file_name(path)
        ))),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// UTF-8 (a byte-order mark dropped) if the bytes are valid UTF-8, else GB18030.
fn decode<'a>(bytes: &'a [u8], file: &str) -> Result<Cow<'a, str>, KnowledgeError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(utf8) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| {
                let line = 1 + bytes[..utf8.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                bad(
                    file,
                    line,
                    "the file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8",
                )
            }),
    }
}

/// Reads a CSV file's bytes; `file_name` names it in errors.
pub fn read_csv(bytes: &[u8], file_name: &str) -> Result<Vec<ImportRow>, KnowledgeError> {
    let text = decode(bytes, file_name)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    // Lines from byte offsets: the csv crate's own line count skips blank lines, and the
    // editor looks for the physical line in their editor.
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |position: Option<&csv::Position>| {
        position.map_or(0, |p| {
            // A record's position is where the parser began looking for it, before the
            // blank lines it skipped.
            let mut byte = usize::try_from(p.byte()).unwrap_or(usize::MAX);
            while matches!(text.as_bytes().get(byte), Some(b'\n' | b'\r')) {
                byte += 1;
            }
            1 + newlines.partition_point(|&n| n < byte) as u64
        })
    };
    let csv_error = |e: csv::Error| {
        let line = line_at(e.position());
        bad(file_name, line, format!("not readable as CSV: {e}"))
    };
    let mut records = reader.records();
    let header = records
        .next()
        .ok_or_else(|| bad_file(format!("{file_name} is empty")))?
        .map_err(csv_error)?;
    let names: Vec<String> = header.iter().map(str::to_owned).collect();
    let columns = Columns::from_header(file_name, line_at(header.position()), &names)?;
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = line_at(record.position());
        let cells: Vec<Cell> = record.iter().map(|v| Cell::Text(v.to_owned())).collect();
        if let Some(row) = parse_row(file_name, line, &columns, &cells)? {
            rows.push(row);
        }
    }
    check_unique_keys(file_name, &rows)?;
    Ok(rows)
}

/// Reads the first sheet of an Excel workbook.
pub fn read_xlsx(path: &Path) -> Result<Vec<ImportRow>, KnowledgeError> {
    let file = file_name(path);
    let mut workbook: Xlsx<_> = calamine::open_workbook(path)
        .map_err(|e| bad_file(format!("{file} is not a readable .xlsx workbook: {e}")))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| bad_file(format!("{file} has no sheet")))?
        .map_err(|e| bad_file(format!("{file}: the first sheet is not readable: {e}")))?;
    let Some((first_row, _)) = range.start() else {
        return Err(bad_file(format!("{file}: the first sheet is empty")));
    };
    let mut sheet_rows = range.rows();
    let header = sheet_rows
        .next()
        .ok_or_else(|| bad_file(format!("{file}: the first sheet is empty")))?;
    let header_line = u64::from(first_row) + 1;
    let names: Vec<String> = header
        .iter()
        .map(|c| match c {
            Data::Empty => String::new(),
            other => other.to_string(),
        })
        .collect();
    let columns = Columns::from_header(&file, header_line, &names)?;
    let mut rows = Vec::new();
    for (i, sheet_row) in sheet_rows.enumerate() {
        let line = header_line + 1 + i as u64;
        let cells = sheet_row
            .iter()
            .enumerate()
            .map(|(c, data)| match data {
                Data::Empty => Ok(Cell::Text(String::new())),
                Data::String(s) => Ok(Cell::Text(s.clone())),
                Data::Float(f) => Ok(Cell::Number(*f)),
                Data::Int(n) => Ok(Cell::Number(*n as f64)),
                Data::Bool(b) => Ok(Cell::Text(b.to_string())),
                Data::DateTime(d) if d.is_datetime() => {
                    let (y, m, day, ..) = d.to_ymd_hms_milli();
                    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(day))
                        .map(Cell::Date)
                        .ok_or_else(|| {
                            bad(&file, line, format!("column {}: not a real date", c + 1))
                        })
                }
                // An ISO date-time cell: its date part.
                Data::DateTimeIso(s) => Ok(Cell::Text(
                    s.split('T').next().unwrap_or_default().to_owned(),
                )),
                Data::DateTime(_) | Data::DurationIso(_) => Err(bad(
                    &file,
                    line,
                    format!("column {}: a duration where a date or text belongs", c + 1),
                )),
                Data::Error(e) => Err(bad(
                    &file,
                    line,
                    format!("column {}: the cell holds the Excel error {e}", c + 1),
                )),
            })
            .collect::<Result<Vec<Cell>, KnowledgeError>>()?;
        if let Some(row) = parse_row(&file, line, &columns, &cells)? {
            rows.push(row);
        }
    }
    check_unique_keys(&file, &rows)?;
    Ok(rows)
}

/// The key an article is exported under: its own, or its id if it has none.
fn export_key(article: &Article) -> String {
    article
        .external_key
        .clone()
        .unwrap_or_else(|| article.id.to_string())
}

fn join(values: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    values
        .into_iter()
        .map(|v| v.as_ref().replace('|', "｜"))
        .collect::<Vec<_>>()
        .join("|")
}

/// An article's latest version as the export's text fields, in [`HEADER`] order (dates too).
fn fields(article: &Article) -> [String; HEADER.len()] {
    let c = &article.latest.content;
    [
        export_key(article),
        c.title.clone(),
        join(&c.alt_questions),
        c.answer.clone(),
        c.internal_note.clone(),
        join(c.categories.iter().map(CategoryCode::as_str)),
        join(c.territories.iter().map(DivisionCode::as_str)),
        c.source.name.clone(),
        c.source.number.clone(),
        c.source.link.clone(),
        c.effective_from.to_string(),
        c.effective_until.map(|d| d.to_string()).unwrap_or_default(),
        c.owner.as_str().to_owned(),
        c.review_on.map(|d| d.to_string()).unwrap_or_default(),
    ]
}

fn write_error(what: &str, e: impl std::fmt::Display) -> KnowledgeError {
    KnowledgeError::Io {
        what: what.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Writes `articles` as CSV (UTF-8 with a byte-order mark, the import's header).
pub fn write_csv(articles: &[Article], mut out: impl Write) -> Result<(), KnowledgeError> {
    out.write_all(b"\xEF\xBB\xBF")
        .map_err(|source| KnowledgeError::Io {
            what: "writing the export".into(),
            source,
        })?;
    let mut writer = csv::Writer::from_writer(out);
    let fail = |e: csv::Error| write_error("writing the export", e);
    writer.write_record(HEADER).map_err(fail)?;
    for article in articles {
        writer.write_record(fields(article)).map_err(fail)?;
    }
    writer.flush().map_err(|source| KnowledgeError::Io {
        what: "writing the export".into(),
        source,
    })
}

/// Writes `articles` as an Excel workbook at `path`: one sheet, the import's header, dates in
/// real date cells.
pub fn write_xlsx(articles: &[Article], path: &Path) -> Result<(), KnowledgeError> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let what = format!("writing {}", path.display());
    let fail = |e: rust_xlsxwriter::XlsxError| write_error(&what, e);
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("knowledge").map_err(fail)?;
    let bold = Format::new().set_bold();
    let day = Format::new().set_num_format("yyyy-mm-dd");
    for (c, name) in HEADER.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *name, &bold)
            .map_err(fail)?;
    }
    let dates = [col::EFFECTIVE_FROM, col::EFFECTIVE_UNTIL, col::REVIEW_ON];
    for (r, article) in articles.iter().enumerate() {
        let row = u32::try_from(r + 1).map_err(|e| write_error(&what, e))?;
        let c = &article.latest.content;
        let date_of = |k: usize| match k {
            col::EFFECTIVE_FROM => Some(c.effective_from),
            col::EFFECTIVE_UNTIL => c.effective_until,
            _ => c.review_on,
        };
        for (k, text) in fields(article).into_iter().enumerate() {
            if dates.contains(&k) {
                if let Some(d) = date_of(k) {
                    let cell = ExcelDateTime::from_ymd(
                        u16::try_from(chrono::Datelike::year(&d))
                            .map_err(|e| write_error(&what, e))?,
                        chrono::Datelike::month(&d) as u8,
                        chrono::Datelike::day(&d) as u8,
                    )
                    .map_err(fail)?;
                    sheet
                        .write_datetime_with_format(row, k as u16, &cell, &day)
                        .map_err(fail)?;
                }
            } else if !text.is_empty() {
                sheet.write_string(row, k as u16, text).map_err(fail)?;
            }
        }
    }
    workbook.save(path).map_err(fail)
}

/// What the import will do with one row, decided from what was read.
enum Plan {
    Create(NewArticle),
    Change(Change),
    Unchanged,
}

impl Knowledge {
    /// Imports `rows` (from [`read_file`]) as `actor`: every row is checked against the
    /// limits and the catalogue first, then everything is written in one transaction or
    /// nothing is. A row whose external key an article has updates it with a new version:
    /// with `published` (an administrator's import) the new version goes live at once;
    /// otherwise it is a draft edit and the published version stays live. A row identical to
    /// its article's latest version (and, with `published`, already live) writes nothing.
    /// Rows without a key create articles, drafts unless `published`.
    pub async fn import(
        &self,
        actor: &StaffId,
        rows: Vec<ImportRow>,
        published: bool,
    ) -> Result<ImportReport, KnowledgeError> {
        self.import_named(actor, rows, published, "import").await
    }

    /// [`read_file`] and [`Knowledge::import`] in one, with errors naming the file.
    pub async fn import_file(
        &self,
        actor: &StaffId,
        path: &Path,
        published: bool,
    ) -> Result<ImportReport, KnowledgeError> {
        let rows = read_file(path)?;
        self.import_named(actor, rows, published, &file_name(path))
            .await
    }

    async fn import_named(
        &self,
        actor: &StaffId,
        rows: Vec<ImportRow>,
        published: bool,
        file: &str,
    ) -> Result<ImportReport, KnowledgeError> {
        let mut checked = Vec::with_capacity(rows.len());
        for row in rows {
            let content = self
                .validate(row.content)
                .map_err(|e| bad(file, row.line, e.to_string()))?;
            let external_key = row
                .external_key
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty());
            if let Some(key) = &external_key {
                if key.chars().count() > limits::EXTERNAL_KEY {
                    return Err(bad(
                        file,
                        row.line,
                        format!("external_key: at most {} characters", limits::EXTERNAL_KEY),
                    ));
                }
            }
            checked.push(ImportRow {
                line: row.line,
                external_key,
                content,
            });
        }
        check_unique_keys(file, &checked)?;

        let mut last = None;
        for _ in 0..RACE_RETRIES {
            let mut report = ImportReport::default();
            let mut creates = Vec::new();
            let mut changes = Vec::new();
            // Two keys may reach one article (its key and its id): one change per article.
            let mut matched: HashMap<ArticleId, u64> = HashMap::new();
            for row in &checked {
                let existing = match &row.external_key {
                    Some(key) => self.article_for_key(key).await?,
                    None => None,
                };
                if let Some(article) = &existing {
                    if let Some(first) = matched.insert(article.id, row.line) {
                        return Err(bad(
                            file,
                            row.line,
                            format!("this row's key reaches the same article as line {first}"),
                        ));
                    }
                }
                match self.plan(actor, row, existing, published)? {
                    Plan::Create(new) => {
                        report.created += 1;
                        creates.push(new);
                    }
                    Plan::Change(change) => {
                        report.updated += 1;
                        changes.push(change);
                    }
                    Plan::Unchanged => report.unchanged += 1,
                }
            }
            match self.store.apply_all(&creates, &changes).await {
                Ok(true) => return Ok(report),
                // Another writer changed an article (or took a key) between the reads and
                // the write: nothing was written; read again and plan again.
                Ok(false) => {
                    last = changes.first().map(|c| c.article);
                }
                Err(KnowledgeError::ExternalKeyTaken(key)) => {
                    tracing::debug!(%key, "a key was taken during the import; planning again");
                }
                Err(e) => return Err(e),
            }
        }
        let article = match last {
            Some(id) => self.get(id).await?,
            None => {
                return Err(KnowledgeError::Corrupt(
                    "the import kept losing races to other writers".into(),
                ))
            }
        };
        Err(KnowledgeError::StaleVersion {
            article: article.id,
            expected: article.latest.number,
            current: article.latest.number,
        })
    }

    /// The article a key names: the one imported with it, or one made here and exported
    /// under its id.
    async fn article_for_key(&self, key: &str) -> Result<Option<Article>, KnowledgeError> {
        if let Some(article) = self.store.by_external_key(key).await? {
            return Ok(Some(article));
        }
        let Ok(id) = ArticleId::parse("external_key", key) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get(id)
            .await?
            .filter(|a| a.external_key.is_none()))
    }

    fn plan(
        &self,
        actor: &StaffId,
        row: &ImportRow,
        existing: Option<Article>,
        published: bool,
    ) -> Result<Plan, KnowledgeError> {
        let Some(article) = existing else {
            return Ok(Plan::Create(self.new_article(
                actor,
                row.content.clone(),
                row.external_key.clone(),
                published,
            )?));
        };
        let same = article.latest.content == row.content;
        let latest_live = article.live_version() == Some(article.latest.number);
        if same && (!published || latest_live) {
            return Ok(Plan::Unchanged);
        }
        let at = self.clock.now();
        let new_version = (!same).then(|| Version {
            article: article.id,
            number: article.latest.number + 1,
            content: row.content.clone(),
            author: actor.clone(),
            created_at: at,
        });
        let version = new_version
            .as_ref()
            .map_or(article.latest.number, |v| v.number);
        let entry = |action| HistoryEntry {
            article: article.id,
            action,
            version,
            actor: actor.clone(),
            at,
            note: "import".into(),
        };
        let mut entries = Vec::new();
        if new_version.is_some() {
            entries.push(entry(Action::Edited));
        }
        if published {
            entries.push(entry(Action::Approved));
        }
        Ok(Plan::Change(Change {
            article: article.id,
            expected_revision: article.revision,
            status: if published {
                Status::Published
            } else {
                Status::Draft
            },
            new_version,
            live: if published {
                Live::Set(version)
            } else {
                Live::Keep
            },
            entries,
            at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "external_key,title,alt_questions,answer,internal_note,categories,territories,source_name,source_number,source_link,effective_from,effective_until,owner,review_on\n";

    #[test]
    fn a_row_reads_every_field_and_splits_lists_on_bars() {
        let csv = format!(
            "{HEAD}KB-1,公积金提取,怎么取公积金| 提取公积金 ,带身份证办理。,内部,SB.GJJ|CJ.WY,3205|320508,办法,苏府〔2024〕1号,https://example.org,2025/1/5,2025-12-31,320508-office,\n"
        );
        let rows = read_csv(csv.as_bytes(), "kb.csv").unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.line, 2);
        assert_eq!(row.external_key.as_deref(), Some("KB-1"));
        let c = &row.content;
        assert_eq!(c.alt_questions, ["怎么取公积金", "提取公积金"]);
        assert_eq!(c.categories.len(), 2);
        assert_eq!(c.territories[1].as_str(), "320508");
        assert_eq!(
            c.effective_from,
            NaiveDate::from_ymd_opt(2025, 1, 5).unwrap()
        );
        assert_eq!(c.effective_until, NaiveDate::from_ymd_opt(2025, 12, 31));
        assert_eq!(c.review_on, None);
        assert_eq!(c.source.number, "苏府〔2024〕1号");
    }

    #[test]
    fn columns_may_come_in_any_order_and_optional_ones_may_be_missing() {
        let csv = "owner,effective_from,territories,categories,answer,title\n\
                   o-1,2025-01-01,3205,CJ.WY,答复。,标题\n";
        let rows = read_csv(csv.as_bytes(), "kb.csv").unwrap();
        assert_eq!(rows[0].content.title, "标题");
        assert_eq!(rows[0].external_key, None);
    }

    #[test]
    fn unknown_and_missing_columns_are_named() {
        let csv = "title,answer,colour,categories,territories,effective_from,owner,size\n";
        let err = read_csv(csv.as_bytes(), "kb.csv").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains("colour, size"), "{err}");

        let csv = "title,answer,categories,territories\n";
        let err = read_csv(csv.as_bytes(), "kb.csv").unwrap_err().to_string();
        assert!(err.contains("effective_from, owner"), "{err}");
    }

    #[test]
    fn a_multi_line_field_counts_its_physical_lines() {
        let csv = format!(
            "{HEAD}K1,甲,,\"第一行\n第二行\",,CJ.WY,3205,,,,2025-01-01,,o-1,\nK2,乙,,答复,,CJ.WY,3205,,,,2025-13-01,,o-1,\n"
        );
        match read_csv(csv.as_bytes(), "kb.csv").unwrap_err() {
            KnowledgeError::BadRow { line, message, .. } => {
                assert_eq!(line, 4);
                assert!(message.contains("2025-13-01"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_rows_are_refused_naming_their_line() {
        let cases = [
            (
                "K1,甲,,答复,,CJ.WY,3205,,,,,,o-1,",
                "effective_from is empty",
            ),
            ("K1,甲,,答复,,CJ WY,3205,,,,2025-01-01,,o-1,", "CJ WY"),
            ("K1,甲,,答复,,CJ.WY,32050,,,,2025-01-01,,o-1,", "32050"),
            ("K1,甲,,,,CJ.WY,3205,,,,2025-01-01,,o-1,", "answer"),
            (
                "K1,甲,,答复,,CJ.WY,3205,,,,2025-01-01,2024-01-01,o-1,",
                "effective until",
            ),
        ];
        for (row, expected) in cases {
            let csv = format!("{HEAD}K0,好,,答复,,CJ.WY,3205,,,,2025-01-01,,o-1,\n{row}\n");
            match read_csv(csv.as_bytes(), "kb.csv").unwrap_err() {
                KnowledgeError::BadRow {
                    line,
                    message,
                    file,
                } => {
                    assert_eq!((line, file.as_str()), (3, "kb.csv"), "{row}");
                    assert!(message.contains(expected), "{row}: {message}");
                }
                other => panic!("{row}: {other:?}"),
            }
        }
        let long = format!(
            "{HEAD}K1,{},,答复,,CJ.WY,3205,,,,2025-01-01,,o-1,\n",
            "长".repeat(201)
        );
        let err = read_csv(long.as_bytes(), "kb.csv").unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("limit is 200"),
            "{err}"
        );
    }

    #[test]
    fn a_key_twice_in_one_file_names_both_lines() {
        let csv = format!(
            "{HEAD}K1,甲,,答复,,CJ.WY,3205,,,,2025-01-01,,o-1,\n\n K1 ,乙,,答复,,CJ.WY,3205,,,,2025-01-01,,o-1,\n"
        );
        let err = read_csv(csv.as_bytes(), "kb.csv").unwrap_err().to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("already on line 2"), "{err}");
    }

    #[test]
    fn a_value_under_no_header_is_refused() {
        let csv = format!("{HEAD}K1,甲,,答复,,CJ.WY,3205,,,,2025-01-01,,o-1,,stray\n");
        let err = read_csv(csv.as_bytes(), "kb.csv").unwrap_err().to_string();
        assert!(err.contains("column 15"), "{err}");
    }

    #[test]
    fn gb18030_and_bom_files_read_like_utf8() {
        let utf8 =
            format!("{HEAD}K1,公积金提取,,带身份证办理。,,SB.GJJ,3205,,,,2025-01-01,,o-1,\n");
        let (gb, _, lossy) = encoding_rs::GB18030.encode(&utf8);
        assert!(!lossy);
        assert!(
            std::str::from_utf8(&gb).is_err(),
            "the test needs non-UTF-8 bytes"
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(utf8.as_bytes());
        let plain = read_csv(utf8.as_bytes(), "a.csv").unwrap();
        assert_eq!(read_csv(&gb, "b.csv").unwrap(), plain);
        assert_eq!(read_csv(&bom, "c.csv").unwrap(), plain);
        assert_eq!(plain[0].content.title, "公积金提取");
    }

    #[test]
    fn other_extensions_are_refused() {
        let err = read_file(Path::new("/tmp/kb.xls")).unwrap_err();
        assert!(err.to_string().contains("kb.xls"), "{err}");
    }

    #[test]
    fn excel_serials_are_days_since_1899_12_30() {
        assert_eq!(excel_serial(45658.0), NaiveDate::from_ymd_opt(2025, 1, 1));
        assert_eq!(excel_serial(12.0), None);
    }
}
