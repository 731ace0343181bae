//! Core ML through the engine: every committed fixture (`tests/fixtures/*/model.onnx`) at every
//! target and precision, the artifact's shape (zip + package directory), metadata, options
//! errors and determinism; then coremltools' loader and MIL rebuilder over a subset when the
//! Python venv has coremltools (crates/edgeport-coreml/tests/coremltools_check.py).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use edgeport_engine::{
    Artifact, ConvertOptions, CoremlTarget, ErrorCode, ModelMetadata, Precision, SOURCE_SHA256_KEY,
    Target, VERSION_KEY, convert,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for d in dirs {
        if let Ok(bytes) = std::fs::read(d.join("model.onnx")) {
            out.push((d.file_name().unwrap().to_string_lossy().into_owned(), bytes));
        }
    }
    assert!(!out.is_empty(), "no fixtures found");
    out
}

fn coreml(target: CoremlTarget, precision: Precision) -> ConvertOptions {
    ConvertOptions {
        target: Target::Coreml,
        coreml_target: Some(target),
        precision: Some(precision),
        ..ConvertOptions::default()
    }
}

fn package(a: &Artifact) -> edgeport_coreml::Package {
    let dir = a
        .directory
        .as_ref()
        .expect("a Core ML artifact is a directory");
    edgeport_coreml::Package {
        dir_name: dir.name.clone(),
        files: dir
            .files
            .iter()
            .map(|f| edgeport_coreml::PackageFile {
                path: f.path.clone(),
                bytes: f.bytes.clone(),
            })
            .collect(),
    }
}

const TARGETS: [(CoremlTarget, i32); 4] = [
    (CoremlTarget::Ios15, 6),
    (CoremlTarget::Ios16, 7),
    (CoremlTarget::Ios17, 8),
    (CoremlTarget::Ios18, 9),
];

#[test]
fn every_fixture_converts_at_every_target_and_precision() {
    for (name, model) in fixtures() {
        for (target, version) in TARGETS {
            for precision in [Precision::Fp16, Precision::Fp32] {
                let a = convert(&model, &coreml(target, precision), &mut |_| {})
                    .unwrap_or_else(|e| panic!("{name} {target:?} {precision:?}: {e}"));
                assert!(a.file_name.ends_with(".mlpackage.zip"), "{}", a.file_name);
                assert_eq!(a.media_type, "application/zip");
                assert_eq!(&a.bytes[..2], b"PK");
                assert_eq!(a.size, a.bytes.len());
                let p = package(&a);
                assert!(
                    a.file_name
                        .starts_with(p.dir_name.trim_end_matches(".mlpackage"))
                );
                // The zip is the directory's zip.
                assert_eq!(p.to_zip().unwrap(), a.bytes, "{name}");
                let m = p.model().unwrap();
                assert_eq!(m.specification_version, version, "{name} {target:?}");
                let md = m.description.unwrap().metadata.unwrap();
                assert_eq!(
                    md.user_defined[SOURCE_SHA256_KEY],
                    edgeport_engine::sha256_hex(&model)
                );
                assert_eq!(md.user_defined[VERSION_KEY], env!("CARGO_PKG_VERSION"));
                edgeport_coreml::read_blobs(p.weights()).unwrap();
            }
        }
    }
}

#[test]
fn default_coreml_options_are_ios16_fp16_and_deterministic() {
    let (name, model) = fixtures().into_iter().next().unwrap();
    let opts = ConvertOptions {
        target: Target::Coreml,
        ..ConvertOptions::default()
    };
    let a = convert(&model, &opts, &mut |_| {}).unwrap();
    let b = convert(&model, &opts, &mut |_| {}).unwrap();
    assert_eq!(a.sha256, b.sha256, "{name}");
    assert_eq!(a.bytes, b.bytes);
    let explicit = convert(
        &model,
        &coreml(CoremlTarget::Ios16, Precision::Fp16),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(a.sha256, explicit.sha256);
    assert_eq!(package(&a).model().unwrap().specification_version, 7);
}

#[test]
fn metadata_options_reach_the_model() {
    let (_, model) = fixtures().into_iter().next().unwrap();
    let mut user_defined = BTreeMap::new();
    user_defined.insert("team".to_string(), "vision".to_string());
    let opts = ConvertOptions {
        metadata: ModelMetadata {
            author: Some("Jane".into()),
            description: Some("demo".into()),
            version: Some("2.0".into()),
            license: Some("MIT".into()),
            user_defined,
        },
        ..coreml(CoremlTarget::Ios17, Precision::Fp32)
    };
    let a = convert(&model, &opts, &mut |_| {}).unwrap();
    let md = package(&a)
        .model()
        .unwrap()
        .description
        .unwrap()
        .metadata
        .unwrap();
    assert_eq!(
        (md.author.as_str(), md.short_description.as_str()),
        ("Jane", "demo")
    );
    assert_eq!(
        (md.version_string.as_str(), md.license.as_str()),
        ("2.0", "MIT")
    );
    assert_eq!(md.user_defined["team"], "vision");
    assert!(md.user_defined.contains_key(SOURCE_SHA256_KEY));
}

#[test]
fn coreml_only_options_are_refused_for_tflite() {
    let (_, model) = fixtures().into_iter().next().unwrap();
    for opts in [
        ConvertOptions {
            coreml_target: Some(CoremlTarget::Ios17),
            ..ConvertOptions::default()
        },
        ConvertOptions {
            precision: Some(Precision::Fp16),
            ..ConvertOptions::default()
        },
        ConvertOptions {
            metadata: ModelMetadata {
                author: Some("x".into()),
                ..ModelMetadata::default()
            },
            ..ConvertOptions::default()
        },
        ConvertOptions {
            nhwc_io: true,
            ..coreml(CoremlTarget::Ios16, Precision::Fp16)
        },
    ] {
        let e = convert(&model, &opts, &mut |_| {}).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOptions, "{e}");
    }
    let e = "ios14".parse::<CoremlTarget>().unwrap_err();
    assert!(e.message.contains("ios15"), "{}", e.message);
}

#[test]
fn options_parse_from_json() {
    let o: ConvertOptions = serde_json::from_str(
        r#"{"to":"coreml","coreml_target":"ios18","precision":"fp32","metadata":{"author":"A"}}"#,
    )
    .unwrap();
    assert_eq!(o.target, Target::Coreml);
    assert_eq!(o.coreml_target, Some(CoremlTarget::Ios18));
    assert_eq!(o.precision, Some(Precision::Fp32));
    assert_eq!(o.metadata.author.as_deref(), Some("A"));
}

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("EDGEPORT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => root().join(".venv/bin/python"),
    };
    let ok = p.exists()
        && Command::new(&p)
            .args(["-c", "import coremltools"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    ok.then_some(p)
}

#[test]
fn coremltools_loads_every_fixture() {
    let Some(py) = python() else {
        eprintln!(
            "note: no Python venv with coremltools; skipping the coremltools check of the fixtures"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("edgeport-engine-coreml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut paths = Vec::new();
    for (name, model) in fixtures() {
        for (target, precision) in [
            (CoremlTarget::Ios15, Precision::Fp32),
            (CoremlTarget::Ios16, Precision::Fp16),
            (CoremlTarget::Ios18, Precision::Fp16),
        ] {
            let a = convert(&model, &coreml(target, precision), &mut |_| {}).unwrap();
            let path = dir.join(format!("{name}_{target:?}_{precision:?}.mlpackage"));
            for f in &a.directory.as_ref().unwrap().files {
                let p = path.join(&f.path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, &f.bytes).unwrap();
            }
            paths.push(path);
        }
    }
    let script = root().join("crates/edgeport-coreml/tests/coremltools_check.py");
    let run = Command::new(py).arg(script).args(&paths).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "coremltools rejected fixtures (kept in {}):\n{stdout}\n{}",
        dir.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
