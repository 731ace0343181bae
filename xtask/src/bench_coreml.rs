//! `cargo xtask bench coreml`: whole-process Core ML conversion time of MobileNetV2 by the
//! release CLI (`edgeport convert model.onnx --to coreml`) against coremltools converting the
//! same network, with the same weights, from PyTorch; package sizes and outputs side by side.
//! Written into BENCHMARKS.md between its own markers.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::bench::{Timing, machine_facts, time_runs, tree_size};
use crate::env::{self, Env};
use crate::util::{self, median, run, stdout_of};

/// coremltools 9.0 is tested against torch up to 2.7 (`_TORCH_MAX_VERSION`); the PyPI torch
/// wheel is large (it pulls the CUDA libraries) but CPU is all the conversion uses. onnx reads
/// the fixture's weights into the torch module. scikit-learn is for `bench compress`:
/// coremltools' k-means palettization clusters tensors under 10,000 values (and any fp32 one)
/// with sklearn's KMeans (larger fp16 ones with its bundled kmeans1d); 1.5.1 is the newest it
/// supports (`_SKLEARN_MAX_VERSION`).
pub const PEER_REQUIREMENTS: &str = "\
coremltools==9.0
torch==2.7.0
numpy==2.2.6
onnx==1.18.0
scikit-learn==1.5.1
";

const PEER_SCRIPT: &str = include_str!("bench_coreml_peer.py");
const FIXTURE: &str = "mobilenetv2";
const BEGIN: &str = "<!-- bench:coreml:begin -->";
const END: &str = "<!-- bench:coreml:end -->";

#[derive(Args, Debug, Clone)]
pub struct CoremlArgs {
    /// Timed runs of edgeport (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Timed runs of the coremltools script (after one warm-up run; about 10 s each on 2 cores).
    #[arg(long, default_value_t = 3)]
    pub peer_runs: usize,
    /// Print the table without touching BENCHMARKS.md.
    #[arg(long)]
    pub no_write: bool,
}

/// Phase times the peer script records per run (seconds).
#[derive(Default)]
struct PeerPhases {
    imports: Vec<f64>,
    trace: Vec<f64>,
    convert: Vec<f64>,
    versions: String,
}

pub fn bench(env: &Env, args: &CoremlArgs) -> Result<()> {
    if args.runs == 0 || args.peer_runs == 0 {
        bail!("--runs and --peer-runs must be at least 1");
    }
    run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
    let cli = env.cli_bin();
    let python = ensure_peers(env)?;
    let fixture_dir = env.repo.join("tests").join("fixtures").join(FIXTURE);
    let model = fixture_dir.join("model.onnx");
    if !model.is_file() {
        bail!("{} is missing", model.display());
    }
    let work = env.scratch("bench-coreml");
    fs::create_dir_all(&work)?;
    let script = work.join("peer.py");
    fs::write(&script, PEER_SCRIPT)?;

    eprintln!("== {FIXTURE}: edgeport ({} runs)", args.runs);
    let ours_dir = work.join("edgeport");
    let ours_pkg = ours_dir.join(format!("{FIXTURE}.mlpackage"));
    let ours = time_runs(
        |dir| {
            let mut c = Command::new(&cli);
            c.arg("convert").arg(&model).args(["--to", "coreml", "-o"]).arg(dir.join(format!("{FIXTURE}.mlpackage")));
            c
        },
        args.runs,
        1,
        &ours_dir,
        &ours_pkg,
        &work.join("edgeport.log"),
    );

    eprintln!("== {FIXTURE}: coremltools from PyTorch ({} runs)", args.peer_runs);
    let times = work.join("peer-times.jsonl");
    let _ = fs::remove_file(&times);
    let peer_dir = work.join("coremltools");
    let peer_pkg = peer_dir.join(format!("{FIXTURE}.mlpackage"));
    let peer = time_runs(
        |dir| {
            let mut c = Command::new(&python);
            c.arg(&script).arg("convert").arg(&model).arg(dir.join(format!("{FIXTURE}.mlpackage"))).arg(&times);
            c
        },
        args.peer_runs,
        1,
        &peer_dir,
        &peer_pkg,
        &work.join("coremltools.log"),
    );
    // The warm-up run's phases are the first line; the timed runs follow.
    let phases = read_phases(&times, 1);

    let outputs = match (&ours, &peer) {
        (Ok(_), Ok(_)) => stdout_of(
            Command::new(&python).arg(&script).arg("compare").arg(&fixture_dir).arg(&ours_pkg).arg(&peer_pkg),
        )
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())),
        _ => None,
    };
    let sizes = [&ours_pkg, &peer_pkg].map(|p| weight_and_total(p, ours.is_ok() && peer.is_ok()));
    let section = render(env, args, &ours, &peer, &phases, sizes, outputs.as_ref())?;
    crate::bench::publish(env, &section, BEGIN, END, args.no_write)
}

/// The Python of the Core ML peers venv (coremltools, torch; installed if missing).
pub(crate) fn ensure_peers(env: &Env) -> Result<PathBuf> {
    let req = env.scratch("coreml-peer-requirements.txt");
    fs::create_dir_all(req.parent().context("scratch dir")?)?;
    fs::write(&req, PEER_REQUIREMENTS)?;
    env::ensure_venv_with(
        &env.tools.join("coreml-peers-venv"),
        &env.tools.join("coreml-peers-venv.lock"),
        ".edgeport-coreml-peers.sha256",
        PEER_REQUIREMENTS.as_bytes(),
        &["--only-binary=:all:".into(), "-r".into(), req.to_string_lossy().into_owned()],
    )
}

/// Phase times of the runs after the first `skip` lines of the peer's JSONL file.
fn read_phases(path: &Path, skip: usize) -> PeerPhases {
    let mut p = PeerPhases::default();
    let text = fs::read_to_string(path).unwrap_or_default();
    for row in text.lines().skip(skip).filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
        let secs = |k: &str| row.get(k).and_then(serde_json::Value::as_f64);
        p.imports.extend(secs("imports_s"));
        p.trace.extend(secs("trace_s"));
        p.convert.extend(secs("convert_s"));
        let version = |k: &str| row.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        p.versions = format!("coremltools {}, torch {}", version("coremltools"), version("torch"));
    }
    p
}

/// (weight.bin bytes, all files' bytes) of a package directory.
fn weight_and_total(pkg: &Path, ok: bool) -> Option<(u64, u64)> {
    ok.then(|| (tree_size(&pkg.join("Data/com.apple.CoreML/weights/weight.bin")), tree_size(pkg)))
}

/// Three significant digits (`0.0217`, `1.09`).
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

fn secs(t: &Result<Timing, String>) -> String {
    match t {
        Ok(t) => format!("{:.3} ({:.3})", t.median, t.min),
        Err(_) => "failed".into(),
    }
}

fn render(
    env: &Env,
    args: &CoremlArgs,
    ours: &Result<Timing, String>,
    peer: &Result<Timing, String>,
    phases: &PeerPhases,
    sizes: [Option<(u64, u64)>; 2],
    outputs: Option<&serde_json::Value>,
) -> Result<String> {
    let mut s = String::new();
    writeln!(s, "{BEGIN}")?;
    writeln!(s, "## ONNX -> Core ML (MobileNetV2), against coremltools from PyTorch\n")?;
    writeln!(
        s,
        "Made by `cargo xtask bench coreml --runs {} --peer-runs {}` on {} (UTC).",
        args.runs,
        args.peer_runs,
        util::utc_date()
    )?;
    writeln!(s, "Machine: {}.", machine_facts(env))?;
    if !phases.versions.is_empty() {
        writeln!(s, "Peer: {} (CPU), Python venv under the tools root.", phases.versions)?;
    }
    writeln!(s)?;
    writeln!(
        s,
        "Both convert the `{FIXTURE}` fixture's network (MobileNetV2 width 0.5, 100 classes) with the same \
         weights: edgeport from `tests/fixtures/{FIXTURE}/model.onnx`, coremltools from a PyTorch module with \
         torchvision's layer names into which the script loads that file's weights. Both write an ML Program \
         `.mlpackage` for iOS16 in fp16 (each tool's default). Whole process: `target/release/edgeport convert \
         model.onnx --to coreml -o X.mlpackage` (median and min of {} runs after one warm-up) against `python \
         xtask/src/bench_coreml_peer.py convert ...` (Python start, imports of torch and coremltools, building \
         the module, `torch.jit.trace`, `ct.convert(..., convert_to=\"mlprogram\", \
         minimum_deployment_target=iOS16)`, save; median and min of {} runs after one warm-up).\n",
        args.runs, args.peer_runs
    )?;
    writeln!(s, "| | edgeport | coremltools 9.0 from PyTorch | ratio |")?;
    writeln!(s, "| --- | ---: | ---: | ---: |")?;
    let ratio = match (ours, peer) {
        (Ok(o), Ok(p)) if o.median > 0.0 => format!("{:.0}x", p.median / o.median),
        _ => "-".into(),
    };
    writeln!(s, "| whole process, median s (min) | {} | {} | {ratio} |", secs(ours), secs(peer))?;
    let convert_only = median(&phases.convert);
    if !phases.convert.is_empty() && convert_only.is_finite() {
        let vs = ours.as_ref().ok().filter(|o| o.median > 0.0).map(|o| format!("{:.0}x", convert_only / o.median));
        writeln!(
            s,
            "| `ct.convert` call only, median s | - | {convert_only:.3} | {} |",
            vs.unwrap_or_else(|| "-".into())
        )?;
        writeln!(s, "| `torch.jit.trace`, median s | - | {:.3} | - |", median(&phases.trace))?;
        writeln!(s, "| Python imports, median s | - | {:.3} | - |", median(&phases.imports))?;
    }
    let cell = |v: Option<u64>| v.map(|b| b.to_string()).unwrap_or_else(|| "-".into());
    let [o, p] = sizes;
    let size_ratio = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if b > 0 => format!("{:+.1}%", (a as f64 - b as f64) / b as f64 * 100.0),
        _ => "-".into(),
    };
    let (ow, ot, pw, pt) = (o.map(|x| x.0), o.map(|x| x.1), p.map(|x| x.0), p.map(|x| x.1));
    writeln!(s, "| weight.bin bytes | {} | {} | {} |", cell(ow), cell(pw), size_ratio(ow, pw))?;
    writeln!(s, "| .mlpackage bytes (all files) | {} | {} | {} |", cell(ot), cell(pt), size_ratio(ot, pt))?;
    if let Some(v) = outputs {
        let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).map(significant).unwrap_or_else(|| "-".into());
        writeln!(
            s,
            "| max abs error vs onnxruntime (fixture input, tests/oracles/mil_eval.py; max abs logit {}) | {} | {} | - |",
            f("max_abs_ref"),
            f("a_vs_onnxruntime"),
            f("b_vs_onnxruntime")
        )?;
        writeln!(s, "\nMax abs difference between the two packages' outputs: {}.", f("a_vs_b"))?;
    }
    let failures: Vec<String> = [("edgeport", ours), ("coremltools", peer)]
        .into_iter()
        .filter_map(|(who, r)| r.as_ref().err().map(|e| format!("- {who} failed ({e})")))
        .map(|line| line.replace(&env.repo.display().to_string(), "."))
        .collect();
    if !failures.is_empty() {
        writeln!(s, "\n{}", failures.join("\n"))?;
    }
    writeln!(s, "{END}")?;
    Ok(s)
}
