//! The kiosk registry (`kiosk_id,community_code` CSV, `hotline serve --kiosks`) loaded into
//! the Suzhou directory, and the division CSV parser behind `Directory::from_path` on the same
//! bytes. Property: never panics; a kiosk registered by a load stands in a community of the
//! directory.
#![no_main]

use std::sync::OnceLock;

use hotline_core::KioskId;
use hotline_directory::{Directory, Level};
use libfuzzer_sys::fuzz_target;

// Parsing the embedded divisions costs far more than a clone; a load must not change the
// shared copy, so each input gets its own clone.
fn suzhou() -> &'static Directory {
    static SUZHOU: OnceLock<Directory> = OnceLock::new();
    SUZHOU.get_or_init(Directory::suzhou)
}

fuzz_target!(|data: &[u8]| {
    let mut directory = suzhou().clone();
    if directory.load_kiosks_csv("fuzz.csv", data).is_ok() {
        let text = String::from_utf8_lossy(data);
        for line in text.lines().skip(1) {
            let Some(raw) = line.split(',').next() else {
                continue;
            };
            let Ok(kiosk) = KioskId::parse("kiosk_id", raw.trim()) else {
                continue;
            };
            if let Some(community) = directory.kiosk(&kiosk) {
                let division = directory
                    .division(community)
                    .expect("a registered kiosk's community is in the directory");
                assert_eq!(division.level, Level::Community);
            }
        }
    }
    let _ = Directory::from_csv_reader("fuzz-divisions.csv", data);
});
