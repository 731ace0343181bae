//! The embedded device profiles parse, cover every device of the published calibration data, and
//! offer the runtime paths their platform has.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use edgeport_sim::profile::{self, Profile};
use edgeport_sim::{DeviceKind, UnitKind};

/// A copy of `../shared/latency/published_latency_calibration.csv`, kept in the crate so the test
/// runs in checkouts without the shared folder.
const CALIBRATION_CSV: &str = "data/published_latency_calibration.csv";

fn profiles() -> Vec<Profile> {
    match profile::all() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Splits one CSV record into fields (RFC 4180 quoting: `"a, b"` and `""` inside quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The distinct `device` values of the calibration CSV (no field of it spans lines).
fn calibration_devices() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CALIBRATION_CSV);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap_or_default());
    let Some(col) = header.iter().position(|h| h == "device") else {
        panic!("{}: no 'device' column in {header:?}", path.display());
    };
    let mut devices: Vec<String> = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields = csv_fields(line);
        let Some(d) = fields.get(col) else { panic!("short CSV row: {line}") };
        if !devices.contains(d) {
            devices.push(d.clone());
        }
    }
    devices
}

#[test]
fn every_profile_parses_and_there_are_enough() {
    let all = profiles();
    assert!(all.len() >= 17, "only {} profiles", all.len());
    for p in &all {
        assert!(
            p.sources.iter().any(|s| s.url.starts_with("https://") || s.url.starts_with("http://")),
            "{}: no source URL",
            p.id
        );
        assert!(!p.notes.is_empty(), "{}: notes must state how estimated numbers were made", p.id);
    }
}

#[test]
fn every_calibration_device_matches_exactly_one_profile() {
    let all = profiles();
    let devices = calibration_devices();
    assert!(!devices.is_empty());
    for d in &devices {
        let hits: Vec<&str> = all
            .iter()
            .filter(|p| p.name == *d || p.aliases.iter().any(|a| a == d))
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(hits.len(), 1, "calibration device '{d}' is matched by {hits:?}");
    }
}

#[test]
fn names_and_aliases_are_unique() {
    let all = profiles();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for p in &all {
        for n in std::iter::once(&p.name).chain(&p.aliases) {
            if let Some((_, other)) = seen.iter().find(|(s, _)| s == n) {
                panic!("'{n}' names both {other} and {}", p.id);
            }
            seen.push((n, &p.id));
        }
    }
}

fn is_apple(p: &Profile) -> bool {
    p.name.starts_with("Apple ")
}

#[test]
fn android_phones_have_cpu_gpu_and_npu_paths() {
    let phones: Vec<Profile> = profiles().into_iter().filter(|p| p.kind == DeviceKind::Phone && !is_apple(p)).collect();
    assert!(phones.len() >= 7, "{} Android phones", phones.len());
    for p in &phones {
        for id in ["tflite-xnnpack", "tflite-gpu"] {
            assert!(p.path(id).is_some(), "{}: no {id} path", p.id);
        }
        assert!(p.paths.iter().any(|r| r.unit == UnitKind::Npu), "{}: no npu path", p.id);
    }
}

#[test]
fn apple_devices_have_the_core_ml_paths() {
    let apple: Vec<Profile> = profiles().into_iter().filter(is_apple).collect();
    assert!(apple.len() >= 7, "{} Apple devices", apple.len());
    for p in &apple {
        for id in ["coreml-cpu", "coreml-gpu"] {
            assert!(p.path(id).is_some(), "{}: no {id} path", p.id);
        }
        // Intel Macs have no Neural Engine; every Apple-silicon device has one and runs Core ML on it.
        if p.soc.contains("Intel") {
            assert!(p.unit(UnitKind::Ane).is_none() && p.path("coreml-ane").is_none(), "{}", p.id);
        } else {
            assert!(p.unit(UnitKind::Ane).is_some(), "{}: no ane unit", p.id);
            let Some(ane) = p.path("coreml-ane") else { panic!("{}: no coreml-ane path", p.id) };
            assert_eq!(ane.fallback.as_deref(), Some("coreml-cpu"), "{}", p.id);
        }
    }
}

#[test]
fn accelerator_paths_fall_back_to_a_cpu_path_of_their_format() {
    for p in profiles() {
        for r in p.paths.iter().filter(|r| r.unit != UnitKind::Cpu) {
            let Some(fb) = r.fallback.as_deref().and_then(|id| p.path(id)) else {
                panic!("{}: {} has no fallback path", p.id, r.id)
            };
            assert!(r.formats.iter().any(|f| fb.formats.contains(f)), "{}: {} falls back to {} of another format", p.id, r.id, fb.id);
        }
        for r in p.paths.iter().filter(|r| r.unit == UnitKind::Cpu) {
            assert!(r.fallback.is_none(), "{}: cpu path {} has a fallback", p.id, r.id);
        }
    }
}

#[test]
fn edge_tpu_paths_take_int8_tflite_prefixes_only() {
    let all = profiles();
    let tpus: Vec<&Profile> = all.iter().filter(|p| p.unit(UnitKind::Tpu).is_some()).collect();
    assert!(tpus.len() >= 2);
    for p in tpus {
        let Some(e) = p.path("edgetpu") else { panic!("{}: no edgetpu path", p.id) };
        assert!(e.prefix_only, "{}", p.id);
        assert_eq!(e.precisions, vec![edgeport_sim::Precision::Int8], "{}", p.id);
        assert_eq!(e.formats, vec![edgeport_sim::Format::Tflite], "{}", p.id);
        assert_eq!(e.fallback.as_deref(), Some("tflite-xnnpack"), "{}", p.id);
    }
}
