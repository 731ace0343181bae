//! Enforces the dependency rules of ARCHITECTURE.md from `cargo metadata`:
//! ir ← passes ← formats/runtimes ← engine ← front ends, with no edges between formats and
//! front ends that reach past the engine. `edgeport-report` (the run report's plain data and
//! link codec) depends on no edgeport crate and may be used by any: the playground's page reads
//! share links without linking the engine.

use std::collections::BTreeMap;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Report,
    Ir,
    Shared,
    Leaf,
    Engine,
    FrontEnd,
    Tooling,
}

fn layer(name: &str) -> Option<Layer> {
    Some(match name {
        "edgeport-report" => Layer::Report,
        "edgeport-ir" => Layer::Ir,
        "edgeport-passes" | "edgeport-quant" => Layer::Shared,
        "edgeport-onnx" | "edgeport-tflite" | "edgeport-coreml" | "edgeport-sim" | "edgeport-cpu" | "edgeport-gpu" => {
            Layer::Leaf
        }
        "edgeport-engine" => Layer::Engine,
        "edgeport-cli" | "edgeport-web" | "edgeport-worker" => Layer::FrontEnd,
        "xtask" => Layer::Tooling,
        _ => return None,
    })
}

fn allowed(from: Layer, to: Layer, to_name: &str) -> bool {
    if to == Layer::Report {
        return true;
    }
    match from {
        Layer::Report | Layer::Ir => false,
        Layer::Shared => to == Layer::Ir || (to == Layer::Shared && to_name != "edgeport-quant"),
        Layer::Leaf => matches!(to, Layer::Ir | Layer::Shared),
        Layer::Engine => matches!(to, Layer::Ir | Layer::Shared | Layer::Leaf),
        Layer::FrontEnd => to == Layer::Engine,
        Layer::Tooling => false,
    }
}

#[test]
fn crate_dependencies_point_inwards() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeMap<String, Vec<String>> = packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["path"].is_string() && d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap_or_default().to_string())
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect();
    assert!(members.contains_key("edgeport-ir"), "workspace members not found: {members:?}");
    let mut violations = Vec::new();
    for (name, deps) in &members {
        let Some(from) = layer(name) else {
            violations.push(format!("{name} is not classified in dependency_direction.rs"));
            continue;
        };
        for dep in deps {
            match layer(dep) {
                Some(to) if allowed(from, to, dep) => {}
                _ => violations.push(format!("{name} must not depend on {dep}")),
            }
        }
    }
    assert!(violations.is_empty(), "dependency rules broken:\n{}", violations.join("\n"));
}
