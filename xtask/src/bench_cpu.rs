//! `cargo xtask bench cpu`: warm inference latency of edgeport's CPU runtime natively against
//! onnxruntime (Python wheel, one thread) and tract (examples/tract_peer.rs), and in headless
//! Chromium (the playground's measure panel) against onnxruntime-web's wasm backend
//! (bench_browser.mjs), on the MobileNetV2, ResNet and transformer fixtures. The tools take turns, round after round, so
//! that load on this shared machine hits them alike; the table gives the median over rounds of
//! each tool's per-round p50 and the median of the per-round ratios. Written into BENCHMARKS.md.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::bench::machine_facts;
use crate::env::{self, Env};
use crate::util::{self, median, run, stdout_of};

const PEER_SCRIPT: &str = include_str!("bench_cpu_peer.py");
const MODELS: [&str; 3] = ["mobilenetv2", "resnet", "transformer"];
const BEGIN: &str = "<!-- bench:cpu:begin -->";
const END: &str = "<!-- bench:cpu:end -->";

#[derive(Args, Debug, Clone)]
pub struct CpuArgs {
    /// Rounds (each tool runs once per round, in turn).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Timed inferences per tool and round (after the warm-up).
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
    /// Untimed inferences before them.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Skip the in-browser comparison.
    #[arg(long)]
    pub no_browser: bool,
    /// Print the table without touching BENCHMARKS.md.
    #[arg(long)]
    pub no_write: bool,
}

const BROWSER_SCRIPT: &str = include_str!("bench_browser.mjs");
const ORT_PAGE: &str = include_str!("bench_ort/index.html");
const ORT_SCRIPT: &str = include_str!("bench_ort/ort-bench.js");
/// The playground's measure panel runs this many untimed inferences; the peer gets the same.
const PANEL_WARMUP: usize = 3;

/// p50 (ms) of one tool run, parsed from its JSON (the whole output or its last JSON line).
fn p50_of(out: &str) -> Result<(f64, String)> {
    let v: serde_json::Value = match serde_json::from_str(out) {
        Ok(v) => v,
        Err(_) => {
            let line = out.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON in the output")?;
            serde_json::from_str(line)?
        }
    };
    let p50 = v["p50_ms"].as_f64().context("no p50_ms")?;
    Ok((p50, v["peer"].as_str().unwrap_or("edgeport").to_string()))
}

pub fn bench(env: &Env, args: &CpuArgs) -> Result<()> {
    if args.rounds == 0 || args.runs == 0 {
        bail!("--rounds and --runs must be at least 1");
    }
    run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
    run(env.cargo().args(["build", "--release", "-p", "edgeport-engine", "--example", "tract_peer"]))?;
    env::ensure_test_venv(env)?;
    let python = env.venv_python();
    let script = env.scratch("bench_cpu_peer.py");
    fs::create_dir_all(script.parent().context("scratch dir")?)?;
    fs::write(&script, PEER_SCRIPT)?;
    let tract = env.repo.join("target/release/examples/tract_peer");
    let (runs, warmup) = (args.runs.to_string(), args.warmup.to_string());

    let mut rows = String::new();
    let mut versions = Vec::new();
    for model in MODELS {
        let dir = env.repo.join("tests/fixtures").join(model);
        let (onnx, input) = (dir.join("model.onnx"), dir.join("input.npz"));
        let mut ours = Vec::new();
        let mut ort = Vec::new();
        let mut tr = Vec::new();
        for round in 0..args.rounds {
            let mut edgeport = Command::new(env.cli_bin());
            edgeport.arg("bench").arg(&onnx).args(["--runs", &runs, "--warmup", &warmup, "--json"]);
            let (e, _) = p50_of(&stdout_of(&mut edgeport)?)?;
            let mut peer = Command::new(&python);
            peer.arg(&script).arg(&onnx).arg(&input).args([&runs, &warmup]);
            let (o, ort_name) = p50_of(&stdout_of(&mut peer)?)?;
            let mut t = Command::new(&tract);
            t.arg(&onnx).arg(&input).args([&runs, &warmup]);
            let (t, tract_name) = p50_of(&stdout_of(&mut t)?)?;
            eprintln!("  {model} round {}: edgeport {e:.3} ms, {ort_name} {o:.3} ms, {tract_name} {t:.3} ms", round + 1);
            ours.push(e);
            ort.push(o);
            tr.push(t);
            if versions.is_empty() {
                versions = vec![ort_name, tract_name];
            }
        }
        let ratio = |peer: &[f64]| median(&ours.iter().zip(peer).map(|(e, p)| e / p).collect::<Vec<_>>());
        writeln!(
            rows,
            "| {model} | {:.3} | {:.3} | {:.2}x | {:.3} | {:.2}x |",
            median(&ours),
            median(&ort),
            ratio(&ort),
            median(&tr),
            ratio(&tr)
        )?;
    }
    let browser = if args.no_browser { None } else { Some(browser_rows(env, args)?) };
    let command = format!(
        "cargo xtask bench cpu --rounds {} --runs {} --warmup {}{}",
        args.rounds,
        args.runs,
        args.warmup,
        if args.no_browser { " --no-browser" } else { "" }
    );
    let mut section = String::new();
    writeln!(section, "{BEGIN}")?;
    writeln!(section, "## CPU inference, native, one thread")?;
    writeln!(section)?;
    writeln!(section, "Made by `{command}` on {} (UTC).", util::utc_date())?;
    writeln!(section, "Machine: {}.", machine_facts(env))?;
    writeln!(section, "Peers: {}.", versions.join(", "))?;
    writeln!(section)?;
    writeln!(
        section,
        "Warm latency per inference (the peers on the fixture's input, edgeport on its deterministic sample input of the same shape): each tool loads the model, runs it once cold and {} times untimed, then {} timed runs, and reports their p50; the tools take turns for {} rounds. Shown: the median over rounds of each tool's p50 (ms), and the median over rounds of edgeport's p50 divided by the peer's (below 1 = edgeport faster). onnxruntime with one intra-op and one inter-op thread and all graph optimizations; tract `into_optimized()`; edgeport `edgeport bench --threads 1`.",
        args.warmup, args.runs, args.rounds
    )?;
    writeln!(section)?;
    writeln!(section, "| model | edgeport p50 ms | onnxruntime p50 ms | edgeport / onnxruntime | tract p50 ms | edgeport / tract |")?;
    writeln!(section, "| --- | ---: | ---: | ---: | ---: | ---: |")?;
    section.push_str(&rows);
    if let Some((rows, peer, ua)) = browser {
        writeln!(section)?;
        writeln!(section, "### In the browser (WebAssembly, one thread, SIMD)")?;
        writeln!(section)?;
        writeln!(
            section,
            "Same models in one headless Chromium ({ua}): edgeport through the playground's \"Measure in this browser\" panel (the runtime worker, fp32 variant, {PANEL_WARMUP} warm-up runs, {} timed runs), against {peer} (wasm execution provider, `numThreads = 1`, SIMD, `graphOptimizationLevel: \"all\"`, same warm-up and runs) on the page `xtask/src/bench_ort/`, taking turns for {} rounds. Median over rounds of each p50 (ms) and of the per-round ratio.",
            args.runs, args.rounds
        )?;
        writeln!(section)?;
        writeln!(section, "| model | edgeport (wasm) p50 ms | onnxruntime-web (wasm) p50 ms | edgeport / onnxruntime-web |")?;
        writeln!(section, "| --- | ---: | ---: | ---: |")?;
        section.push_str(&rows);
    }
    writeln!(section, "{END}")?;
    crate::bench::publish(env, &section, BEGIN, END, args.no_write)
}

/// Runs bench_browser.mjs against the playground and the onnxruntime-web page, served from this
/// process, on `backend` ("wasm": edgeport's CPU runtime against ORT Web's wasm EP; "webgpu":
/// edgeport's GPU and CPU runtimes against ORT Web's WebGPU EP). Returns one JSON value per
/// (model, round, tool) and the browser's version.
pub(crate) fn browser_runs(
    env: &Env,
    names: &[&str],
    rounds: usize,
    runs: usize,
    backend: &str,
) -> Result<(Vec<serde_json::Value>, String)> {
    let chromium = env::ensure_chromium()?;
    let npm = env::ensure_playwright(env)?;
    let ort_npm = env::ensure_onnxruntime_web(env)?;
    let site = crate::serve::build_site(env, true)?;
    // the peer's page, its runtime files and the models, beside the site
    let root = env.scratch("bench-browser");
    let _ = fs::remove_dir_all(&root);
    let page = root.join("ort-bench");
    fs::create_dir_all(page.join("ort"))?;
    fs::create_dir_all(root.join("models"))?;
    fs::write(page.join("index.html"), ORT_PAGE)?;
    fs::write(page.join("ort-bench.js"), ORT_SCRIPT)?;
    let dist = ort_npm.join("node_modules/onnxruntime-web/dist");
    for f in [
        "ort.wasm.min.mjs",
        "ort-wasm-simd-threaded.mjs",
        "ort-wasm-simd-threaded.wasm",
        "ort.webgpu.min.mjs",
        "ort-wasm-simd-threaded.jsep.mjs",
        "ort-wasm-simd-threaded.jsep.wasm",
        "ort-wasm-simd-threaded.asyncify.mjs",
        "ort-wasm-simd-threaded.asyncify.wasm",
    ] {
        fs::copy(dist.join(f), page.join("ort").join(f)).with_context(|| format!("copy {f}"))?;
    }
    let mut models = Vec::new();
    for model in names {
        let src = env.repo.join("tests/fixtures").join(model).join("model.onnx");
        fs::copy(&src, root.join("models").join(format!("{model}.onnx")))?;
        let inspect = stdout_of(Command::new(env.cli_bin()).arg("inspect").arg(&src).arg("--json"))?;
        let inspect: serde_json::Value = serde_json::from_str(&inspect)?;
        models.push(serde_json::json!({
            "name": model,
            "path": src,
            "url": format!("../models/{model}.onnx"),
            "inputs": inspect["inputs"],
        }));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind a loopback port")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || crate::serve::serve(listener, vec![site, root]));
    let script = env.scratch("bench_browser.mjs");
    fs::write(&script, BROWSER_SCRIPT)?;
    let config = serde_json::json!({ "models": models, "rounds": rounds, "runs": runs, "warmup": PANEL_WARMUP, "backend": backend });
    let out = stdout_of(
        Command::new("node")
            .arg(&script)
            .env("EDGEPORT_URL", format!("http://127.0.0.1:{port}/"))
            .env("EDGEPORT_CHROMIUM", &chromium)
            .env("EDGEPORT_NPM", &npm)
            .env("EDGEPORT_BENCH", config.to_string()),
    )?;
    let lines: Vec<serde_json::Value> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ua = stdout_of(Command::new(&chromium).arg("--version")).unwrap_or_else(|_| "chromium".into());
    Ok((lines, ua.trim().to_string()))
}

/// Runs bench_browser.mjs against the playground and the onnxruntime-web page, served from this
/// process; returns the table rows, the peer's name and the browser's user agent.
fn browser_rows(env: &Env, args: &CpuArgs) -> Result<(String, String, String)> {
    let (lines, ua) = browser_runs(env, &MODELS, args.rounds, args.runs, "wasm")?;
    let mut rows = String::new();
    let mut peer = String::from("onnxruntime-web");
    for model in MODELS {
        let of = |tool: &str| -> Vec<f64> {
            lines.iter().filter(|l| l["model"] == model && l["tool"] == tool).filter_map(|l| l["p50_ms"].as_f64()).collect()
        };
        let (ours, theirs) = (of("edgeport"), of("ort"));
        if let Some(name) = lines.iter().find(|l| l["tool"] == "ort").and_then(|l| l["peer"].as_str()) {
            peer = name.to_string();
        }
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
        eprintln!("  browser {model}: edgeport {ours:?} ms, onnxruntime-web {theirs:?} ms");
        writeln!(rows, "| {model} | {:.3} | {:.3} | {:.2}x |", median(&ours), median(&theirs), median(&ratios))?;
    }
    Ok((rows, peer, ua))
}
