//! Map point -> district, with district polygons loaded at run time.
//!
//! The polygons we have (Aliyun DataV's Suzhou districts) carry no licence, so the project does
//! not ship them: the file is read from a path given at run time. Its coordinates are GCJ-02
//! (the "Mars" datum Chinese web maps and phones' map SDKs report), so points must be GCJ-02
//! too; a raw WGS-84 GPS fix is off by roughly 500 m, which matters only near a border. The
//! file has no polygon for 苏州工业园区, whose area lies inside 吴中区's polygon there: a point
//! at 金鸡湖 answers 吴中区. A point alone never yields 苏州工业园区; prefer the address text
//! when both are given.

use std::path::Path;

use geo::{BoundingRect, Contains, MultiPolygon, Point, Rect};
use hotline_core::DivisionCode;

use crate::error::TerritoryError;

/// Where the Suzhou district polygons live, relative to the workspace root.
pub const DEFAULT_POLYGONS_PATH: &str = "../shared/data/geo/suzhou_districts_datav.geojson";

#[derive(Debug, Clone)]
struct District {
    code: DivisionCode,
    name: String,
    shape: MultiPolygon<f64>,
    bounds: Rect<f64>,
}

/// District polygons, searched by bounding box then exact containment.
#[derive(Debug, Clone)]
pub struct DistrictPolygons {
    districts: Vec<District>,
}

impl DistrictPolygons {
    /// Loads a GeoJSON FeatureCollection whose features carry an `adcode` (6-digit district
    /// code, number or string) and a Polygon or MultiPolygon geometry.
    pub fn from_geojson_path(path: impl AsRef<Path>) -> Result<Self, TerritoryError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TerritoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_geojson_str(&path.display().to_string(), &text)
    }

    /// Parses GeoJSON text (see [`DistrictPolygons::from_geojson_path`]); `origin` names it in
    /// errors.
    pub fn from_geojson_str(origin: &str, text: &str) -> Result<Self, TerritoryError> {
        let bad = |problem: String| TerritoryError::GeoJson {
            origin: origin.to_owned(),
            problem,
        };
        let geojson: geojson::GeoJson =
            text.parse().map_err(|e| bad(format!("not GeoJSON: {e}")))?;
        let geojson::GeoJson::FeatureCollection(collection) = geojson else {
            return Err(bad("expected a FeatureCollection".to_owned()));
        };
        let mut districts = Vec::with_capacity(collection.features.len());
        for (number, feature) in collection.features.iter().enumerate() {
            let adcode = match feature.property("adcode") {
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => return Err(bad(format!("feature {number} has no adcode property"))),
            };
            let code = DivisionCode::parse("adcode", &adcode)
                .ok()
                .filter(|c| c.as_str().len() == 6)
                .ok_or_else(|| {
                    bad(format!(
                        "feature {number}: adcode {adcode} is not a district code"
                    ))
                })?;
            let name = match feature.property("name") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let Some(geometry) = &feature.geometry else {
                return Err(bad(format!("feature {number} ({code}) has no geometry")));
            };
            let shape: MultiPolygon<f64> = match geo::Geometry::<f64>::try_from(geometry.clone()) {
                Ok(geo::Geometry::MultiPolygon(shape)) => shape,
                Ok(geo::Geometry::Polygon(polygon)) => MultiPolygon::new(vec![polygon]),
                Ok(_) => {
                    return Err(bad(format!(
                        "feature {number} ({code}) is not a Polygon or MultiPolygon"
                    )))
                }
                Err(e) => return Err(bad(format!("feature {number} ({code}): {e}"))),
            };
            let Some(bounds) = shape.bounding_rect() else {
                return Err(bad(format!(
                    "feature {number} ({code}) has an empty geometry"
                )));
            };
            districts.push(District {
                code,
                name,
                shape,
                bounds,
            });
        }
        if districts.is_empty() {
            return Err(bad("no features".to_owned()));
        }
        Ok(Self { districts })
    }

    /// The district containing the point (GCJ-02 latitude and longitude in degrees), or `None`
    /// outside every polygon or for a non-finite coordinate.
    pub fn district_at(&self, lat: f64, lng: f64) -> Option<&DivisionCode> {
        if !lat.is_finite() || !lng.is_finite() {
            return None;
        }
        let point = Point::new(lng, lat);
        self.districts
            .iter()
            .filter(|d| d.bounds.contains(&point))
            .find(|d| d.shape.contains(&point))
            .map(|d| &d.code)
    }

    /// The districts that have a polygon: (code, name as the file gives it).
    pub fn districts(&self) -> impl Iterator<Item = (&DivisionCode, &str)> + '_ {
        self.districts.iter().map(|d| (&d.code, d.name.as_str()))
    }

    /// How many districts have a polygon.
    pub fn len(&self) -> usize {
        self.districts.len()
    }

    /// Never true for loaded polygons; for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.districts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: &str = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"adcode":320508,"name":"姑苏区"},
         "geometry":{"type":"Polygon","coordinates":[[[120.0,31.0],[121.0,31.0],[121.0,32.0],[120.0,32.0],[120.0,31.0]]]}}]}"#;

    #[test]
    fn a_point_inside_a_polygon_gets_its_district_and_outside_gets_none() {
        let polygons = DistrictPolygons::from_geojson_str("square", SQUARE).unwrap();
        assert_eq!(
            polygons.district_at(31.5, 120.5).unwrap().as_str(),
            "320508"
        );
        assert_eq!(polygons.district_at(39.9, 116.4), None);
        assert_eq!(polygons.district_at(f64::NAN, 120.5), None);
        assert_eq!(polygons.district_at(31.5, f64::INFINITY), None);
    }

    #[test]
    fn malformed_geojson_names_the_file_and_the_problem() {
        for (text, expected) in [
            ("{", "not GeoJSON"),
            (
                r#"{"type":"Point","coordinates":[1,2]}"#,
                "FeatureCollection",
            ),
            (
                r#"{"type":"FeatureCollection","features":[]}"#,
                "no features",
            ),
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":null}]}"#,
                "no adcode",
            ),
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":"32"},"geometry":null}]}"#,
                "not a district code",
            ),
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":320508},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#,
                "not a Polygon",
            ),
        ] {
            let err = DistrictPolygons::from_geojson_str("x.geojson", text).unwrap_err();
            let message = err.to_string();
            assert!(message.starts_with("x.geojson: "), "{message}");
            assert!(
                message.contains(expected),
                "{message} should say {expected}"
            );
        }
        let err = DistrictPolygons::from_geojson_path("/nonexistent/d.geojson").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/d.geojson"), "{err}");
    }
}
