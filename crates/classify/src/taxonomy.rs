//! The category tree (分类目录) as configuration: a versioned list of `code,name,parent` loaded
//! from a file. The shipped default (`data/taxonomy.csv`) holds the 15 first-level and 118
//! second-level subjects of a real government-message tree plus the community services named by
//! the Suzhou seed document, under our own ASCII codes.
//!
//! File format (UTF-8, one category per line, parents before children):
//! ```text
//! # comment
//! @version suzhou-2024.1
//! code,name,parent
//! CJ,城乡建设,
//! CJ.WY,物业管理,CJ
//! ```

use std::collections::HashMap;
use std::path::Path;

use hotline_core::CategoryCode;
use serde::Serialize;

use crate::error::ClassifyError;

/// The shipped default tree.
const DEFAULT_TAXONOMY: &str = include_str!("../data/taxonomy.csv");

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub code: CategoryCode,
    pub name: String,
    pub parent: Option<CategoryCode>,
}

/// A versioned category tree.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    version: String,
    categories: Vec<Category>,
    by_code: HashMap<CategoryCode, usize>,
}

impl Taxonomy {
    /// The tree that ships with the project.
    pub fn shipped() -> Self {
        Self::parse("<default taxonomy>", DEFAULT_TAXONOMY)
            .expect("the shipped taxonomy is checked by the crate's tests")
    }

    /// Loads a tree from a file; errors name the file, the line and the problem.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ClassifyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClassifyError::io(format!("reading taxonomy {}", path.display()), e))?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses the file format above. `file` is only used in error messages.
    pub fn parse(file: &str, text: &str) -> Result<Self, ClassifyError> {
        let mut version: Option<String> = None;
        let mut header_seen = false;
        let mut categories: Vec<Category> = Vec::new();
        let mut by_code: HashMap<CategoryCode, usize> = HashMap::new();
        let mut names: HashMap<(Option<CategoryCode>, String), usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("@version") {
                let value = rest.trim();
                if value.is_empty() {
                    return Err(ClassifyError::config(
                        file,
                        line_no,
                        "@version needs a value",
                    ));
                }
                if version.replace(value.to_owned()).is_some() {
                    return Err(ClassifyError::config(
                        file,
                        line_no,
                        "a second @version line",
                    ));
                }
                continue;
            }
            if !header_seen {
                let columns: Vec<&str> = line.split(',').map(str::trim).collect();
                if columns != ["code", "name", "parent"] {
                    return Err(ClassifyError::config(
                        file,
                        line_no,
                        format!("expected the header `code,name,parent`, found {line:?}"),
                    ));
                }
                header_seen = true;
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 3 {
                return Err(ClassifyError::config(
                    file,
                    line_no,
                    format!(
                        "expected 3 fields (code,name,parent), found {}",
                        fields.len()
                    ),
                ));
            }
            let code = CategoryCode::parse("code", fields[0])
                .map_err(|e| ClassifyError::config(file, line_no, e.to_string()))?;
            let name = fields[1];
            if name.is_empty() {
                return Err(ClassifyError::config(
                    file,
                    line_no,
                    format!("category {code} has no name"),
                ));
            }
            let parent = if fields[2].is_empty() {
                None
            } else {
                let parent = CategoryCode::parse("parent", fields[2])
                    .map_err(|e| ClassifyError::config(file, line_no, e.to_string()))?;
                if !by_code.contains_key(&parent) {
                    return Err(ClassifyError::config(
                        file,
                        line_no,
                        format!("parent {parent} of {code} is not defined above this line"),
                    ));
                }
                Some(parent)
            };
            if by_code.contains_key(&code) {
                return Err(ClassifyError::config(
                    file,
                    line_no,
                    format!("duplicate code {code}"),
                ));
            }
            if names
                .insert((parent.clone(), name.to_owned()), line_no)
                .is_some()
            {
                return Err(ClassifyError::config(
                    file,
                    line_no,
                    format!("duplicate name {name:?} under the same parent"),
                ));
            }
            by_code.insert(code.clone(), categories.len());
            categories.push(Category {
                code,
                name: name.to_owned(),
                parent,
            });
        }
        let Some(version) = version else {
            return Err(ClassifyError::Inconsistent {
                file: file.to_owned(),
                problem: "no `@version <value>` line".into(),
            });
        };
        if categories.is_empty() {
            return Err(ClassifyError::Inconsistent {
                file: file.to_owned(),
                problem: "no categories".into(),
            });
        }
        Ok(Self {
            version,
            categories,
            by_code,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// All categories, in file order (parents before children).
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    pub fn get(&self, code: &CategoryCode) -> Option<&Category> {
        self.by_code.get(code).map(|&i| &self.categories[i])
    }

    /// The direct children of `code` (the roots when `code` is `None`).
    pub fn children<'a>(
        &'a self,
        code: Option<&'a CategoryCode>,
    ) -> impl Iterator<Item = &'a Category> + 'a {
        self.categories
            .iter()
            .filter(move |c| c.parent.as_ref() == code)
    }

    /// The names from the root down to `code`, e.g. `["城乡建设", "住房保障与房地产"]`.
    pub fn path(&self, code: &CategoryCode) -> Vec<&str> {
        let mut names = Vec::new();
        let mut current = self.get(code);
        while let Some(category) = current {
            names.push(category.name.as_str());
            current = category.parent.as_ref().and_then(|p| self.get(p));
        }
        names.reverse();
        names
    }

    /// Maps a label as centres write it onto a category: a code (`CJ`), a name path
    /// (`城乡建设/住房保障与房地产`) or a name, matched at the shallowest level where it occurs and unique there (`城乡建设`).
    pub fn resolve(&self, label: &str) -> Result<&Category, ClassifyError> {
        let label = label.trim();
        let unknown = |problem: &str| ClassifyError::UnknownLabel {
            label: label.to_owned(),
            problem: problem.to_owned(),
        };
        if let Ok(code) = CategoryCode::parse("label", label) {
            if let Some(category) = self.get(&code) {
                return Ok(category);
            }
        }
        if label.contains('/') {
            let wanted: Vec<&str> = label.split('/').map(str::trim).collect();
            return self
                .categories
                .iter()
                .find(|c| self.path(&c.code) == wanted)
                .ok_or_else(|| unknown("no category has this name path"));
        }
        // A bare name matches at the shallowest level where it occurs (交通运输 is a root and
        // also a child of itself); it must be unique at that level.
        let matches: Vec<&Category> = self.categories.iter().filter(|c| c.name == label).collect();
        let Some(depth) = matches.iter().map(|c| self.path(&c.code).len()).min() else {
            return Err(unknown("no category has this code or name"));
        };
        let mut shallowest = matches
            .into_iter()
            .filter(|c| self.path(&c.code).len() == depth);
        match (shallowest.next(), shallowest.next()) {
            (Some(category), None) => Ok(category),
            _ => Err(unknown(
                "the name occurs more than once; use a code or a path like 城乡建设/安全生产",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> CategoryCode {
        CategoryCode::parse("code", raw).unwrap()
    }

    #[test]
    fn the_shipped_taxonomy_parses_and_is_versioned() {
        let taxonomy = Taxonomy::shipped();
        assert!(!taxonomy.version().is_empty());
        assert_eq!(taxonomy.get(&code("CJ")).unwrap().name, "城乡建设");
        assert!(taxonomy.children(None).count() >= 16);
    }

    #[test]
    fn labels_resolve_by_code_unique_name_or_path() {
        let taxonomy = Taxonomy::shipped();
        assert_eq!(taxonomy.resolve("城乡建设").unwrap().code, code("CJ"));
        assert_eq!(taxonomy.resolve("CJ").unwrap().code, code("CJ"));
        let ambiguous = taxonomy.resolve("安全生产").unwrap_err().to_string();
        assert!(ambiguous.contains("more than once"), "{ambiguous}");
        let by_path = taxonomy.resolve("经济管理/安全生产").unwrap();
        assert_eq!(taxonomy.path(&by_path.code), ["经济管理", "安全生产"]);
        assert!(taxonomy.resolve("火星事务").is_err());
        assert_eq!(taxonomy.resolve("交通运输").unwrap().code, code("JT"));
        assert_eq!(
            taxonomy.resolve("交通运输/交通运输").unwrap().code,
            code("JT.JTYS")
        );
    }

    #[test]
    fn a_malformed_file_names_the_file_line_and_problem() {
        let cases = [
            ("@version 1\ncode,name\n", 2, "header"),
            ("@version 1\ncode,name,parent\nCJ,城乡建设\n", 3, "3 fields"),
            (
                "@version 1\ncode,name,parent\nC J,城乡建设,\n",
                3,
                "category code",
            ),
            ("@version 1\ncode,name,parent\nCJ,,\n", 3, "no name"),
            (
                "@version 1\ncode,name,parent\nCJ.WY,物业,CJ\n",
                3,
                "not defined above",
            ),
            (
                "@version 1\ncode,name,parent\nCJ,a,\nCJ,b,\n",
                4,
                "duplicate code",
            ),
        ];
        for (text, line, problem) in cases {
            let err = Taxonomy::parse("tax.csv", text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("tax.csv:{line}:")), "{err}");
            assert!(err.contains(problem), "{err}");
        }
        let err = Taxonomy::parse("tax.csv", "code,name,parent\nCJ,a,\n").unwrap_err();
        assert!(err.to_string().contains("@version"), "{err}");
    }
}
