//! `cargo xtask bench compress`: Core ML weight compression of MobileNetV2 by the release CLI
//! (`edgeport convert --to coreml --target ios16` with `--quantize int8-weights`,
//! `--palettize BITS`, `--prune SPARSITY`) against coremltools.optimize.coreml compressing the
//! fp16 package edgeport writes without compression: sizes, weight SQNR against that fp16
//! package, and wall time. Written into BENCHMARKS.md between its own markers.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use clap::Args;

use crate::bench::{Timing, machine_facts, publish, time_runs, tree_size};
use crate::bench_coreml::ensure_peers;
use crate::env::Env;
use crate::util::{self, median, stdout_of};

const PEER_SCRIPT: &str = include_str!("bench_compress_peer.py");
const FIXTURE: &str = "mobilenetv2";
const BEGIN: &str = "<!-- bench:compress:begin -->";
const END: &str = "<!-- bench:compress:end -->";
/// A new section goes right after the Core ML conversion one.
const AFTER: &str = "<!-- bench:coreml:end -->";
const WEIGHTS: &str = "Data/com.apple.CoreML/weights/weight.bin";

#[derive(Args, Debug, Clone)]
pub struct CompressArgs {
    /// Timed runs per tool and method (after one warm-up run; coremltools takes about 5 s a run
    /// on 2 cores, most of it importing).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print the table without touching BENCHMARKS.md.
    #[arg(long)]
    pub no_write: bool,
}

struct Method {
    /// The peer script's name for it; also the scratch folder's.
    key: &'static str,
    label: &'static str,
    edgeport: &'static [&'static str],
    coremltools: &'static str,
}

const METHODS: &[Method] = &[
    Method {
        key: "int8",
        label: "int8 weights, per channel",
        edgeport: &["--quantize", "int8-weights"],
        coremltools: "`linear_quantize_weights`, linear_symmetric, int8, per_channel",
    },
    Method {
        key: "palettize4",
        label: "4-bit palette, k-means, per tensor",
        edgeport: &["--palettize", "4"],
        coremltools: "`palettize_weights`, kmeans, nbits=4, per_tensor",
    },
    Method {
        key: "palettize2",
        label: "2-bit palette, k-means, per tensor",
        edgeport: &["--palettize", "2"],
        coremltools: "`palettize_weights`, kmeans, nbits=2, per_tensor",
    },
    Method {
        key: "prune50",
        label: "50 % magnitude pruning",
        edgeport: &["--prune", "0.5"],
        coremltools: "`prune_weights`, OpMagnitudePrunerConfig(target_sparsity=0.5)",
    },
];

/// One tool's result for one method.
struct Side {
    timing: Result<Timing, String>,
    pkg: PathBuf,
    weight_bytes: u64,
    /// From the peer's SQNR pass.
    sqnr_db: Option<f64>,
    zero_fraction: Option<f64>,
    /// Weight tensors (of those compared) with no zero at all, and how many were compared.
    without_zeros: Option<(u64, u64)>,
}

struct Row {
    method: &'static Method,
    edgeport: Side,
    coremltools: Side,
    /// coremltools' optimize call + save, per timed run (seconds).
    call_s: Vec<f64>,
}

pub fn bench(env: &Env, args: &CompressArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    util::run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
    let cli = env.cli_bin();
    let python = ensure_peers(env)?;
    let model = env.repo.join("tests").join("fixtures").join(FIXTURE).join("model.onnx");
    if !model.is_file() {
        bail!("{} is missing", model.display());
    }
    let work = env.scratch("bench-compress");
    fs::create_dir_all(&work)?;
    let script = work.join("peer.py");
    fs::write(&script, PEER_SCRIPT)?;
    let pkg_name = format!("{FIXTURE}.mlpackage");

    let edgeport = |extra: &'static [&'static str], key: &str| -> Side {
        eprintln!("== {FIXTURE}: edgeport {key} ({} runs)", args.runs);
        let dir = work.join(format!("edgeport-{key}"));
        let pkg = dir.join(&pkg_name);
        let timing = time_runs(
            |d| {
                let mut c = Command::new(&cli);
                c.arg("convert").arg(&model).args(["--to", "coreml", "--target", "ios16"]).args(extra);
                c.arg("-o").arg(d.join(&pkg_name));
                c
            },
            args.runs,
            1,
            &dir,
            &pkg,
            &work.join(format!("edgeport-{key}.log")),
        );
        if let Err(e) = &timing {
            eprintln!("    edgeport failed: {e}");
        }
        side(timing, pkg)
    };

    // The uncompressed fp16 package: the size reference, the SQNR reference and coremltools' input.
    let float = edgeport(&[], "fp16");
    let float_pkg = match &float.timing {
        Ok(_) => float.pkg.clone(),
        Err(e) => bail!("edgeport could not write the fp16 package: {e}"),
    };
    // coremltools reads a copy, so the edgeport runs cannot change its input.
    let peer_input = work.join("input").join(&pkg_name);
    let _ = fs::remove_dir_all(&peer_input);
    util::copy_dir(&float_pkg, &peer_input)?;

    let mut rows = Vec::new();
    for method in METHODS {
        let ours = edgeport(method.edgeport, method.key);
        eprintln!("== {FIXTURE}: coremltools {} ({} runs)", method.key, args.runs);
        let dir = work.join(format!("coremltools-{}", method.key));
        let pkg = dir.join(&pkg_name);
        let times = work.join(format!("coremltools-{}-times.jsonl", method.key));
        let _ = fs::remove_file(&times);
        let timing = time_runs(
            |d| {
                let mut c = Command::new(&python);
                c.arg(&script).arg("optimize").arg(&peer_input).arg(method.key).arg(d.join(&pkg_name)).arg(&times);
                c
            },
            args.runs,
            1,
            &dir,
            &pkg,
            &work.join(format!("coremltools-{}.log", method.key)),
        );
        if let Err(e) = &timing {
            eprintln!("    coremltools failed: {e}");
        }
        rows.push(Row { method, edgeport: ours, coremltools: side(timing, pkg), call_s: call_times(&times, 1) });
    }

    let oracles = env.repo.join("tests").join("oracles");
    let compressed: Vec<&PathBuf> = rows
        .iter()
        .flat_map(|r| [&r.edgeport, &r.coremltools])
        .filter(|s| s.timing.is_ok())
        .map(|s| &s.pkg)
        .collect();
    eprintln!("== weight SQNR against {}", float_pkg.display());
    let sqnr = stdout_of(Command::new(&python).arg(&script).arg("sqnr").arg(&oracles).arg(&float_pkg).args(&compressed))
        .and_then(|out| {
            let last = out.lines().last().unwrap_or_default().to_owned();
            Ok(serde_json::from_str::<serde_json::Value>(&last)?)
        });
    let sqnr_error = match sqnr {
        Ok(v) => {
            for s in rows.iter_mut().flat_map(|r| [&mut r.edgeport, &mut r.coremltools]) {
                let entry = v.get(s.pkg.to_string_lossy().as_ref());
                let num = |k: &str| entry.and_then(|e| e.get(k)).and_then(serde_json::Value::as_f64);
                s.sqnr_db = num("sqnr_db");
                s.zero_fraction = num("zero_fraction");
                let count = |k: &str| entry.and_then(|e| e.get(k)).and_then(serde_json::Value::as_u64);
                s.without_zeros = count("tensors_without_zeros").zip(count("tensors"));
            }
            None
        }
        Err(e) => {
            eprintln!("    SQNR failed: {e:#}");
            Some(format!("{e:#}").lines().next().unwrap_or_default().chars().take(300).collect::<String>())
        }
    };
    let version = stdout_of(Command::new(&python).args(["-c", "import importlib.metadata as m; print(m.version('coremltools'))"]))
        .unwrap_or_else(|_| "?".into());

    let section = render(env, args, &float, &rows, &version, sqnr_error.as_deref())?;
    if !args.no_write {
        place_markers(env)?;
    }
    publish(env, &section, BEGIN, END, args.no_write)
}

fn side(timing: Result<Timing, String>, pkg: PathBuf) -> Side {
    let weight_bytes = if timing.is_ok() { tree_size(&pkg.join(WEIGHTS)) } else { 0 };
    Side { timing, pkg, weight_bytes, sqnr_db: None, zero_fraction: None, without_zeros: None }
}

/// coremltools' optimize call + save of the runs after the first `skip` lines of the peer's JSONL.
fn call_times(path: &Path, skip: usize) -> Vec<f64> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(skip)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|row| {
            let f = |k: &str| row.get(k).and_then(serde_json::Value::as_f64);
            Some(f("optimize_s")? + f("save_s")?)
        })
        .collect()
}

/// Puts empty markers right after the Core ML conversion section when BENCHMARKS.md has none
/// yet, so that `publish` fills them there rather than appending at the end.
fn place_markers(env: &Env) -> Result<()> {
    let path = env.repo.join("BENCHMARKS.md");
    let old = fs::read_to_string(&path).unwrap_or_default();
    if let Some(new) = with_markers(&old) {
        fs::write(&path, new)?;
    }
    Ok(())
}

/// `doc` with empty markers after the Core ML section, or None when it needs none (it has them,
/// or has no Core ML section for them to follow).
fn with_markers(doc: &str) -> Option<String> {
    if doc.contains(BEGIN) {
        return None;
    }
    let cut = doc.find(AFTER)? + AFTER.len();
    Some(format!("{}\n\n{BEGIN}\n{END}{}", &doc[..cut], &doc[cut..]))
}

fn render(
    env: &Env,
    args: &CompressArgs,
    float: &Side,
    rows: &[Row],
    version: &str,
    sqnr_error: Option<&str>,
) -> Result<String> {
    let runs = args.runs;
    let mut s = String::new();
    writeln!(s, "{BEGIN}")?;
    writeln!(s, "## Core ML weight compression against coremltools.optimize (MobileNetV2)\n")?;
    writeln!(
        s,
        "Made by `cargo xtask bench compress --runs {runs}` on {} (UTC).",
        util::utc_date()
    )?;
    writeln!(s, "Machine: {}.", machine_facts(env))?;
    writeln!(s, "Peer: coremltools {version} (CPU), in the Core ML peers venv under the tools root.\n")?;
    let float_bytes = float.weight_bytes;
    let float_total = float.timing.as_ref().map(|t| t.bytes).unwrap_or(0);
    writeln!(
        s,
        "Same network and weights for both: the `{FIXTURE}` fixture (MobileNetV2 width 0.5, 100 classes). \
         edgeport compresses while converting, `target/release/edgeport convert \
         tests/fixtures/{FIXTURE}/model.onnx --to coreml --target ios16 FLAGS -o X.mlpackage`. coremltools \
         compresses the fp16 ML Program that edgeport writes without FLAGS (iOS16; weight.bin {float_bytes} bytes, \
         package {float_total} bytes, the `1.00` of the size ratios) with `coremltools.optimize.coreml` \
         (`xtask/src/bench_compress_peer.py`; every config with `weight_threshold=2048`), loaded with \
         `MLModel(..., skip_model_load=True)` and saved as `.mlpackage`. Sizes: bytes (ratio to the fp16 \
         package). Weight SQNR, dB, higher is better: every weight of at least 2048 values decoded to dense \
         float (the constexpr_* ops, by tests/oracles/mil_eval.py) against the same weight of that fp16 \
         package, 10 log10(sum w^2 / sum (w - w_q)^2) over all of them together; the reference is the same for \
         both tools.\n"
    )?;
    writeln!(s, "| method | edgeport flags | coremltools call |")?;
    writeln!(s, "| --- | --- | --- |")?;
    for r in rows {
        writeln!(s, "| {} | `{}` | {} |", r.method.label, r.method.edgeport.join(" "), r.method.coremltools)?;
    }
    writeln!(s)?;

    let size = |bytes: u64, of: u64, ok: bool| {
        if !ok {
            "failed".to_owned()
        } else if of > 0 {
            format!("{bytes} ({:.2})", bytes as f64 / of as f64)
        } else {
            bytes.to_string()
        }
    };
    let db = |side: &Side| match (&side.timing, side.sqnr_db) {
        (Err(_), _) => "failed".to_owned(),
        (Ok(_), Some(v)) => format!("{v:.1}"),
        (Ok(_), None) => "-".to_owned(),
    };
    let vs = |a: u64, b: u64| if a > 0 && b > 0 { format!("{:+.1}%", (a as f64 - b as f64) / b as f64 * 100.0) } else { "-".into() };
    writeln!(
        s,
        "| method | edgeport weight.bin | coremltools weight.bin | weight.bin, edgeport vs coremltools | \
         edgeport .mlpackage | coremltools .mlpackage | edgeport SQNR dB | coremltools SQNR dB |"
    )?;
    writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    for r in rows {
        let (e, c) = (&r.edgeport, &r.coremltools);
        let total = |side: &Side| side.timing.as_ref().map(|t| t.bytes).unwrap_or(0);
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.method.label,
            size(e.weight_bytes, float_bytes, e.timing.is_ok()),
            size(c.weight_bytes, float_bytes, c.timing.is_ok()),
            vs(e.weight_bytes, c.weight_bytes),
            size(total(e), float_total, e.timing.is_ok()),
            size(total(c), float_total, c.timing.is_ok()),
            db(e),
            db(c),
        )?;
    }
    writeln!(s)?;

    writeln!(
        s,
        "Wall time, median (min) of {runs} runs after one warm-up. edgeport: the whole `edgeport convert` process \
         (reading the ONNX file, optimizing, compressing and writing the package). coremltools: the whole \
         `python bench_compress_peer.py optimize ...` process (Python start, imports, loading the package, the \
         call, saving), and the `coremltools.optimize.coreml.*` call plus save alone (median), the fairer figure \
         to set against edgeport's whole process.\n"
    )?;
    writeln!(
        s,
        "| method | edgeport whole process, s | coremltools whole process, s | coremltools call + save, s | \
         coremltools call + save / edgeport whole process |"
    )?;
    writeln!(s, "| --- | ---: | ---: | ---: | ---: |")?;
    let secs = |t: &Result<Timing, String>| match t {
        Ok(t) => format!("{:.3} ({:.3})", t.median, t.min),
        Err(_) => "failed".into(),
    };
    writeln!(s, "| fp16, uncompressed (coremltools' input) | {} | - | - | - |", secs(&float.timing))?;
    for r in rows {
        let call = median(&r.call_s);
        let (call_cell, ratio) = match (&r.edgeport.timing, r.call_s.is_empty()) {
            (_, true) => ("-".to_owned(), "-".to_owned()),
            (Ok(e), false) if e.median > 0.0 => (format!("{call:.3}"), format!("{:.1}x", call / e.median)),
            (_, false) => (format!("{call:.3}"), "-".to_owned()),
        };
        writeln!(
            s,
            "| {} | {} | {} | {call_cell} | {ratio} |",
            r.method.label,
            secs(&r.edgeport.timing),
            secs(&r.coremltools.timing)
        )?;
    }

    let pruned: Vec<&Row> = rows.iter().filter(|r| r.method.key.starts_with("prune")).collect();
    let zeros: Vec<String> = pruned
        .iter()
        .filter(|r| r.edgeport.zero_fraction.is_some() || r.coremltools.zero_fraction.is_some())
        .map(|r| {
            let cell = |side: &Side| {
                let pct = side.zero_fraction.map(|v| format!("{:.1} %", v * 100.0)).unwrap_or_else(|| "-".into());
                match side.without_zeros {
                    Some((n, of)) if n > 0 => format!("{pct} ({n} of {of} tensors left without any zero)"),
                    _ => pct,
                }
            };
            format!("{}: edgeport {}, coremltools {}", r.method.label, cell(&r.edgeport), cell(&r.coremltools))
        })
        .collect();
    if !zeros.is_empty() {
        writeln!(s, "\nZero weights among those of at least 2048 values: {}.", zeros.join("; "))?;
    }
    if pruned.iter().any(|r| r.coremltools.without_zeros.is_some_and(|(n, _)| n > 0)) {
        writeln!(
            s,
            "coremltools' magnitude pruner thresholds each tensor at `np.percentile(abs(w), 50)` of the fp16 \
             weights; with the venv's numpy 2.2.6 that percentile is computed in float16, and for a tensor of more than \
             65,520 values its index overflows to inf, the threshold is NaN and the tensor is stored sparse with nothing \
             pruned. That is why its pruned package is larger and its SQNR higher than a true 50 % would give."
        )?;
    }

    let mut failures: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            [("edgeport", &r.edgeport), ("coremltools", &r.coremltools)]
                .into_iter()
                .filter_map(move |(who, side)| side.timing.as_ref().err().map(|e| format!("- {}: {who} failed ({e})", r.method.label)))
        })
        .collect();
    if let Some(e) = sqnr_error {
        failures.push(format!("- weight SQNR failed ({e})"));
    }
    if !failures.is_empty() {
        let repo = env.repo.display().to_string();
        writeln!(s, "\n{}", failures.iter().map(|l| l.replace(&repo, ".")).collect::<Vec<_>>().join("\n"))?;
    }
    writeln!(s, "{END}")?;
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::bench::splice_between;

    #[test]
    fn section_goes_after_the_coreml_one() {
        let doc = format!("# Benchmarks\n\n{AFTER}\n\n<!-- bench:cpu:begin -->\nC\n<!-- bench:cpu:end -->\n");
        let marked = with_markers(&doc).unwrap();
        assert!(with_markers(&marked).is_none());
        let out = splice_between(&marked, &format!("{BEGIN}\nX\n{END}\n"), BEGIN, END);
        let (x, cpu) = (out.find("\nX\n").unwrap(), out.find("bench:cpu:begin").unwrap());
        assert!(out.find(AFTER).unwrap() < x && x < cpu, "{out}");
        assert!(out.contains(&format!("{END}\n\n<!-- bench:cpu:begin -->")), "{out}");
        assert!(with_markers("# Benchmarks\n").is_none());
    }
}
