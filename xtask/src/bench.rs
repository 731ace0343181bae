//! `cargo xtask bench convert`: whole-process ONNX -> TFLite conversion time of the release CLI
//! for every fixture, optionally against onnx2tf, written into BENCHMARKS.md.
//! `cargo xtask bench coreml` (in `bench_coreml.rs`): Core ML against coremltools from PyTorch.
//! `cargo xtask bench compress` (in `bench_compress.rs`): Core ML weight compression against
//! coremltools.optimize.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::bench_coreml;
use crate::env::{self, Env};
use crate::util::{self, median, run, stdout_of};

/// onnx2tf pins its whole run-time set itself (tensorflow 2.19.0, tf-keras, onnx-graphsurgeon,
/// onnxsim, sng4onnx, psutil, ai-edge-litert, numpy 1.26.4, protobuf 4.25.5, ...). Those pins
/// clash with tests/requirements.txt (numpy 2.x, protobuf 7), so the peer gets its own venv under
/// the tools root instead of sharing the test venv.
pub const PEER_REQUIREMENTS: &str = "\
onnx2tf==1.29.24
";

const BEGIN: &str = "<!-- bench:convert:begin -->";
const END: &str = "<!-- bench:convert:end -->";

#[derive(Subcommand, Debug, Clone)]
pub enum BenchCmd {
    /// Time `edgeport convert --to tflite` on every tests/fixtures/*/model.onnx.
    Convert(ConvertArgs),
    /// Time `edgeport convert --to coreml` on MobileNetV2 against coremltools converting the
    /// same network from PyTorch (installed into its own venv if missing).
    Coreml(bench_coreml::CoremlArgs),
    /// Core ML weight compression (int8, palettization, pruning) of MobileNetV2 against
    /// coremltools.optimize.coreml on the same fp16 program: sizes, weight SQNR, time.
    Compress(crate::bench_compress::CompressArgs),
    /// Warm inference latency of the CPU runtime against onnxruntime (one thread) and tract.
    Cpu(crate::bench_cpu::CpuArgs),
    /// Warm inference latency of the WebGPU runtime in headless Chromium against
    /// onnxruntime-web's WebGPU execution provider, and against edgeport's wasm CPU path.
    Gpu(crate::bench_gpu::GpuArgs),
    /// Full-integer int8 accuracy, size and quantization time against onnxruntime's
    /// quantize_static, on the labelled accuracy sets.
    Quant(crate::bench_quant::QuantArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// Also time onnx2tf (installed into its own venv if missing).
    #[arg(long)]
    pub with_peers: bool,
    /// Timed runs of edgeport per model (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Timed runs of onnx2tf per model (about 70 s each for MobileNetV2 on 2 cores).
    #[arg(long, default_value_t = 3)]
    pub peer_runs: usize,
    /// Only these fixtures (comma separated names).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Print the table without touching BENCHMARKS.md.
    #[arg(long)]
    pub no_write: bool,
}

pub fn cmd(env: &Env, which: &BenchCmd) -> Result<()> {
    match which {
        BenchCmd::Convert(args) => convert(env, args),
        BenchCmd::Coreml(args) => bench_coreml::bench(env, args),
        BenchCmd::Compress(args) => crate::bench_compress::bench(env, args),
        BenchCmd::Cpu(args) => crate::bench_cpu::bench(env, args),
        BenchCmd::Gpu(args) => crate::bench_gpu::bench(env, args),
        BenchCmd::Quant(args) => crate::bench_quant::bench(env, args),
    }
}

pub(crate) struct Timing {
    pub median: f64,
    pub min: f64,
    /// Size of the artifact (a file, or a directory's files together).
    pub bytes: u64,
}

struct Row {
    model: String,
    edgeport: Result<Timing, String>,
    peer: Option<Result<Timing, String>>,
}

fn peers_venv(env: &Env) -> PathBuf {
    env.tools.join("peers-venv")
}

/// The onnx2tf executable of the peers venv (installed if missing).
pub(crate) fn ensure_peers(env: &Env) -> Result<PathBuf> {
    let dir = peers_venv(env);
    let req = env.scratch("peer-requirements.txt");
    fs::create_dir_all(req.parent().context("scratch dir")?)?;
    fs::write(&req, PEER_REQUIREMENTS)?;
    env::ensure_venv_with(
        &dir,
        &env.tools.join("peers-venv.lock"),
        ".edgeport-peers.sha256",
        PEER_REQUIREMENTS.as_bytes(),
        &["--only-binary=:all:".into(), "-r".into(), req.to_string_lossy().into_owned()],
    )?;
    Ok(dir.join("bin").join("onnx2tf"))
}

/// Runs `cmd` `runs` times (after `warmup` untimed runs), each time into a fresh `out_dir`;
/// `artifact` names the file (or directory) whose size is reported.
pub(crate) fn time_runs(
    mut make: impl FnMut(&Path) -> Command,
    runs: usize,
    warmup: usize,
    out_dir: &Path,
    artifact: &Path,
    log: &Path,
) -> Result<Timing, String> {
    let mut times = Vec::new();
    for i in 0..warmup + runs {
        let _ = fs::remove_dir_all(out_dir);
        fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
        let logf = fs::File::create(log).map_err(|e| e.to_string())?;
        let errf = logf.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = make(out_dir);
        cmd.stdin(Stdio::null()).stdout(logf).stderr(errf);
        let t = Instant::now();
        let status = cmd.status().map_err(|e| format!("could not start {}: {e}", util::display_cmd(&cmd)))?;
        let secs = t.elapsed().as_secs_f64();
        if !status.success() {
            let reason = last_exception(log).map(|r| format!(": {r}")).unwrap_or_default();
            return Err(format!("{status}{reason}; log in {}", log.display()));
        }
        if !artifact.exists() {
            return Err(format!("no {} written, log in {}", artifact.display(), log.display()));
        }
        eprintln!("    run {}: {secs:.3} s{}", i + 1, if i < warmup { " (warm-up)" } else { "" });
        if i >= warmup {
            times.push(secs);
        }
    }
    let bytes = tree_size(artifact);
    Ok(Timing { median: median(&times), min: times.iter().copied().fold(f64::INFINITY, f64::min), bytes })
}

/// Size of a file, or of all files under a directory (0 where unreadable).
pub(crate) fn tree_size(path: &Path) -> u64 {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The last `SomethingError: message` line of a log (a Python traceback's verdict).
fn last_exception(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            l.split_once(": ").is_some_and(|(head, _)| {
                (head.ends_with("Error") || head.ends_with("Exception"))
                    && head.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            })
        })
        .map(|l| l.chars().take(160).collect())
}

fn convert(env: &Env, args: &ConvertArgs) -> Result<()> {
    if args.runs == 0 || args.peer_runs == 0 {
        bail!("--runs and --peer-runs must be at least 1");
    }
    run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
    let cli = env.cli_bin();
    let onnx2tf = if args.with_peers { Some(ensure_peers(env)?) } else { None };
    let mut fixtures = util::fixture_models(&env.repo)?;
    if !args.models.is_empty() {
        fixtures.retain(|(name, _)| args.models.contains(name));
    }
    if fixtures.is_empty() {
        bail!("no fixtures to benchmark (tests/fixtures/*/model.onnx)");
    }
    let work = env.scratch("bench");
    fs::create_dir_all(&work)?;
    if let Some(bin) = &onnx2tf {
        write_peer_sample_data(bin, &work)?;
    }

    let mut rows = Vec::new();
    for (name, model) in &fixtures {
        eprintln!("== {name}: edgeport ({} runs)", args.runs);
        let out_dir = work.join(format!("{name}-edgeport"));
        let artifact = out_dir.join(format!("{name}.tflite"));
        let edgeport = time_runs(
            |dir| {
                let mut c = Command::new(&cli);
                c.arg("convert").arg(model).args(["--to", "tflite", "-o"]).arg(dir.join(format!("{name}.tflite")));
                c
            },
            args.runs,
            1,
            &out_dir,
            &artifact,
            &work.join(format!("{name}-edgeport.log")),
        );
        if let Err(e) = &edgeport {
            eprintln!("    edgeport failed: {e}");
        }
        let peer = onnx2tf.as_ref().map(|bin| {
            eprintln!("== {name}: onnx2tf ({} runs)", args.peer_runs);
            let out_dir = work.join(format!("{name}-onnx2tf"));
            let stem = model.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
            // onnx2tf rewrites its input file in place (it saves its simplified model there), so
            // it gets a copy: the committed fixtures must never change.
            let copy = work.join(format!("{name}-input").as_str()).join(format!("{stem}.onnx"));
            if let Err(e) = fs::create_dir_all(copy.parent().unwrap_or(&work)).and_then(|_| fs::copy(model, &copy)) {
                eprintln!("    cannot copy the model for onnx2tf: {e}");
            }
            let model = &copy;
            let r = time_runs(
                |dir| {
                    let mut c = Command::new(bin);
                    c.arg("-i").arg(model).arg("-o").arg(dir).current_dir(&work);
                    c
                },
                args.peer_runs,
                0,
                &out_dir,
                &out_dir.join(format!("{stem}_float32.tflite")),
                &work.join(format!("{name}-onnx2tf.log")),
            );
            if let Err(e) = &r {
                eprintln!("    onnx2tf failed: {e}");
            }
            r
        });
        rows.push(Row { model: name.clone(), edgeport, peer });
    }

    let command = format!(
        "cargo xtask bench convert{} --runs {}{}{}",
        if args.with_peers { " --with-peers" } else { "" },
        args.runs,
        if args.with_peers { format!(" --peer-runs {}", args.peer_runs) } else { String::new() },
        if args.models.is_empty() { String::new() } else { format!(" --models {}", args.models.join(",")) },
    );
    let section = render(env, args, &rows, &command, onnx2tf.as_deref())?;
    println!("{section}");
    if !args.no_write {
        let path = env.repo.join("BENCHMARKS.md");
        let old = fs::read_to_string(&path).unwrap_or_default();
        fs::write(&path, splice(&old, &section))?;
        eprintln!("updated {}", path.display());
    }
    Ok(())
}

/// onnx2tf checks models with image-like inputs against a sample-image file that it downloads
/// unless the file is already in its working directory. Nothing may be downloaded here, so a
/// file of the same name and shape is made locally (seeded uniform noise in [0, 1)); it only
/// feeds onnx2tf's own output check, not the written float32 .tflite.
const PEER_SAMPLE_DATA: &str = "calibration_image_sample_data_20x128x128x3_float32.npy";

fn write_peer_sample_data(onnx2tf: &Path, work: &Path) -> Result<()> {
    let path = work.join(PEER_SAMPLE_DATA);
    if path.is_file() {
        return Ok(());
    }
    let python = onnx2tf.with_file_name("python");
    run(Command::new(python).arg("-c").arg(format!(
        "import numpy as np; np.save({:?}, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))",
        path.to_string_lossy()
    )))
}

pub(crate) fn machine_facts(env: &Env) -> String {
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| format!(", {:.0} GiB RAM", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let rustc = stdout_of(Command::new("rustc").arg("--version")).unwrap_or_default();
    let commit = stdout_of(Command::new("git").current_dir(&env.repo).args(["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|_| "uncommitted".into());
    let dirty = stdout_of(Command::new("git").current_dir(&env.repo).args([
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "crates",
        "web",
        "Cargo.toml",
        "Cargo.lock",
    ]))
    .is_ok_and(|s| !s.is_empty());
    let commit = if dirty { format!("{commit} plus uncommitted changes") } else { commit };
    let load = fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(|v| format!("; 1-min load average {v} when the table was written")))
        .unwrap_or_default();
    format!("{nproc} cores (nproc), {cpu}{mem_gib}; {rustc}; edgeport at commit {commit}{load}")
}

fn render(env: &Env, args: &ConvertArgs, rows: &[Row], command: &str, onnx2tf: Option<&Path>) -> Result<String> {
    let mut s = String::new();
    writeln!(s, "{BEGIN}")?;
    writeln!(s, "## ONNX -> TFLite conversion, whole process\n")?;
    writeln!(s, "Made by `{command}` on {} (UTC).", util::utc_date())?;
    writeln!(s, "Machine: {}.", machine_facts(env))?;
    if let Some(bin) = onnx2tf {
        let python = bin.with_file_name("python");
        let versions = stdout_of(Command::new(&python).args([
            "-c",
            "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in ('onnx2tf', 'tensorflow')))",
        ]))
        .unwrap_or_else(|_| "onnx2tf".into());
        writeln!(s, "Peer: {versions}.")?;
    }
    writeln!(s)?;
    writeln!(
        s,
        "Wall time of `target/release/edgeport convert MODEL --to tflite -o OUT` (median and min of {} runs after \
         one warm-up){}. Sizes are the float32 .tflite files; size diff is edgeport relative to onnx2tf.\n",
        args.runs,
        if onnx2tf.is_some() {
            format!(
                " and of `onnx2tf -i MODEL -o DIR` (median of {} runs; its sample-image file \
                 `{PEER_SAMPLE_DATA}` is generated locally instead of downloaded)",
                args.peer_runs
            )
        } else {
            "; onnx2tf was not run (add --with-peers)".into()
        }
    )?;
    writeln!(s, "| model | edgeport median s (min) | onnx2tf median s | speed ratio | edgeport bytes | onnx2tf bytes | size diff % |")?;
    writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    for r in rows {
        let (e_time, e_bytes) = match &r.edgeport {
            Ok(t) => (format!("{:.3} ({:.3})", t.median, t.min), t.bytes.to_string()),
            Err(_) => ("failed".into(), "-".into()),
        };
        let (p_time, p_bytes) = match &r.peer {
            None => ("not run".into(), "-".into()),
            Some(Ok(t)) => (format!("{:.1}", t.median), t.bytes.to_string()),
            Some(Err(_)) => ("failed".into(), "-".into()),
        };
        let (ratio, diff) = match (&r.edgeport, &r.peer) {
            (Ok(e), Some(Ok(p))) if e.median > 0.0 && p.bytes > 0 => (
                format!("{:.0}x", p.median / e.median),
                format!("{:+.1}", (e.bytes as f64 - p.bytes as f64) / p.bytes as f64 * 100.0),
            ),
            _ => ("-".into(), "-".into()),
        };
        writeln!(s, "| {} | {e_time} | {p_time} | {ratio} | {e_bytes} | {p_bytes} | {diff} |", r.model)?;
    }
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            let e = r.edgeport.as_ref().err().map(|e| format!("- {}: edgeport failed ({e})", r.model));
            let p = r.peer.as_ref().and_then(|p| p.as_ref().err()).map(|e| format!("- {}: onnx2tf failed ({e})", r.model));
            e.into_iter().chain(p)
        })
        .map(|line| line.replace(&env.repo.display().to_string(), "."))
        .collect();
    if !failures.is_empty() {
        writeln!(s, "\n{}", failures.join("\n"))?;
    }
    writeln!(s, "{END}")?;
    Ok(s)
}

/// Replaces the marked section of BENCHMARKS.md, or appends it (creating the file's title).
pub fn splice(old: &str, section: &str) -> String {
    splice_between(old, section, BEGIN, END)
}

/// Prints a benchmark section and, unless `no_write`, puts it between its markers in
/// BENCHMARKS.md.
pub(crate) fn publish(env: &Env, section: &str, begin: &str, end: &str, no_write: bool) -> Result<()> {
    println!("{section}");
    if !no_write {
        let path = env.repo.join("BENCHMARKS.md");
        let old = fs::read_to_string(&path).unwrap_or_default();
        fs::write(&path, splice_between(&old, section, begin, end))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `splice` for the section between the markers `begin` and `end`.
pub(crate) fn splice_between(old: &str, section: &str, begin: &str, end: &str) -> String {
    if let (Some(b), Some(e)) = (old.find(begin), old.find(end))
        && b < e
    {
        let after = &old[e + end.len()..];
        return format!("{}{}{}", &old[..b], section.trim_end(), after);
    }
    let mut out = if old.trim().is_empty() {
        "# Benchmarks\n\nEvery table here is written by the command it names; rerun that command to update it.\n".to_owned()
    } else {
        old.trim_end().to_owned() + "\n"
    };
    out.push('\n');
    out.push_str(section);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_section() {
        let first = splice("", &format!("{BEGIN}\nA\n{END}\n"));
        assert!(first.starts_with("# Benchmarks"));
        let doc = format!("{first}\n## Other\ntext\n");
        let second = splice(&doc, &format!("{BEGIN}\nB\n{END}\n"));
        assert!(second.contains("\nB\n") && !second.contains("\nA\n"));
        assert!(second.ends_with("## Other\ntext\n"));
    }
}
