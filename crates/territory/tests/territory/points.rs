//! Map points against the real district polygons. The polygon file has no licence, so the
//! project does not ship it: these tests read it from the shared data folder and fail loudly if
//! it is missing (a silently skipped test would hide a broken checkout).

use std::path::PathBuf;
use std::sync::Arc;

use hotline_directory::Directory;
use hotline_territory::{DistrictPolygons, Resolver, DEFAULT_POLYGONS_PATH};

fn polygon_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/geo/suzhou_districts_datav.geojson");
    assert!(
        path.exists(),
        "{} is missing: the point tests need the shared district polygons",
        path.display()
    );
    path
}

fn resolver() -> Resolver {
    let polygons = DistrictPolygons::from_geojson_path(polygon_path()).unwrap();
    Resolver::new(Arc::new(Directory::suzhou())).with_polygons(polygons)
}

#[test]
fn the_default_path_is_the_shared_file_seen_from_the_workspace_root() {
    let from_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(DEFAULT_POLYGONS_PATH);
    assert_eq!(
        from_root.canonicalize().unwrap(),
        polygon_path().canonicalize().unwrap()
    );
}

#[test]
fn nine_districts_have_polygons_and_each_seat_lies_in_its_own_district() {
    let path = polygon_path();
    let polygons = DistrictPolygons::from_geojson_path(&path).unwrap();
    assert_eq!(polygons.len(), 9);
    let resolver = resolver();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for feature in json["features"].as_array().unwrap() {
        let adcode = feature["properties"]["adcode"].to_string();
        let center = &feature["properties"]["center"];
        let (lng, lat) = (center[0].as_f64().unwrap(), center[1].as_f64().unwrap());
        let found = resolver.resolve_point(lat, lng);
        assert_eq!(
            found.as_ref().map(|c| c.as_str()),
            Some(adcode.as_str()),
            "seat of {adcode} at {lat},{lng}"
        );
    }
}

#[test]
fn known_places_resolve_to_their_district() {
    let resolver = resolver();
    let cases = [
        ((31.3245, 120.6290), "320508"), // 拙政园, 姑苏区
        ((31.3850, 120.9800), "320583"), // 昆山市区
        ((31.6540, 120.7420), "320581"), // 常熟虞山
        ((31.0470, 120.4020), "320506"), // 太湖, 吴中区 (西山)
    ];
    for ((lat, lng), expected) in cases {
        assert_eq!(
            resolver
                .resolve_point(lat, lng)
                .map(|c| c.to_string())
                .as_deref(),
            Some(expected),
            "{lat},{lng}"
        );
    }
}

#[test]
fn points_outside_suzhou_or_not_numbers_resolve_to_nothing() {
    let resolver = resolver();
    assert_eq!(resolver.resolve_point(39.9087, 116.3975), None); // 北京 天安门
    assert_eq!(resolver.resolve_point(31.2304, 121.4737), None); // 上海 人民广场
    assert_eq!(resolver.resolve_point(0.0, 0.0), None);
    assert_eq!(resolver.resolve_point(f64::NAN, 120.6), None);
    assert_eq!(resolver.resolve_point(91.0, 720.0), None);
}

/// Known limitation of the data, pinned so that a better polygon file is noticed: DataV has no
/// polygon for 苏州工业园区, and its area lies inside 吴中区's polygon, so a point at 金鸡湖
/// answers 吴中区. Routers should prefer the address text when both are given.
#[test]
fn a_point_in_the_industrial_park_falls_in_wuzhong_in_this_data() {
    let resolver = resolver();
    assert_eq!(
        resolver
            .resolve_point(31.315, 120.700)
            .map(|c| c.to_string())
            .as_deref(),
        Some("320506")
    );
}
