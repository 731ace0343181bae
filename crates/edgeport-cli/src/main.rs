//! `edgeport`: inspect and convert models from the command line. A thin shell over
//! `edgeport-engine`; exit codes follow the engine's error codes (see `exit_code`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edgeport_engine::{Artifact, ConvertOptions, EngineError, ErrorCode, InspectReport, ModelMetadata, Target};

/// `println!` that ignores a closed stdout (e.g. `edgeport inspect m.onnx | head`) instead of
/// panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod measure;
mod report;
mod simulate;

#[derive(Parser)]
#[command(name = "edgeport", version, about = "Convert ONNX models for phones and edge devices")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ModelArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Static shape for an input with dynamic dims, e.g. `x=1,3,224,224` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Show inputs, outputs, op histogram, parameters, MACs/FLOPs per node and peak memory.
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Convert a model to another format.
    Convert {
        #[command(flatten)]
        model: ModelArgs,
        /// Target format.
        #[arg(long = "to", value_parser = ["tflite", "coreml", "onnx"])]
        to: String,
        /// Output file. For Core ML: `X.mlpackage` writes the package directory, any other
        /// name (e.g. `X.mlpackage.zip`) the zipped package.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Give rank-4 inputs and outputs an NHWC interface (as onnx2tf does).
        #[arg(long)]
        nhwc_io: bool,
        /// Quantize: fp16 stores TFLite weights as float16 (DEQUANTIZE to float32, as TFLite's
        /// float16 quantization) and makes a Core ML program fp16; int8-weights stores conv and
        /// matmul weights as per-channel int8 (Core ML iOS16+: constexpr_affine_dequantize,
        /// iOS18: constexpr_blockwise_shift_scale; TFLite: hybrid CONV_2D / FULLY_CONNECTED
        /// kernels, as TFLite's dynamic range quantization; ONNX: DequantizeLinear).
        /// int8 is full-integer (TFLite, or ONNX QDQ): int8 weights (per channel) and activations calibrated on
        /// --calibration samples (generated ones when absent, with a warning).
        /// w8a8 is Core ML's (iOS17+): int8 weights, and int8 activations between float ops
        /// (quantize/dequantize), calibrated as int8 is.
        #[arg(long, value_parser = ["fp16", "int8-weights", "int8", "w8a8"])]
        quantize: Option<String>,
        #[command(flatten)]
        int8: Int8Args,
        /// Palettize weights: a table of 2^BITS values per weight (BITS 1, 2, 3, 4, 6 or 8;
        /// k-means by default, or uniform), Core ML constexpr_lut_to_dense; `:gN` gives every
        /// N output channels their own table (iOS18, as do 3-bit tables).
        #[arg(long, value_name = "BITS[:kmeans|uniform][:gN]")]
        palettize: Option<String>,
        /// Prune weights by magnitude: SPARSITY (the fraction of each weight tensor set to
        /// zero, in [0, 1)) or threshold:T (every |w| < T). Core ML stores them sparse
        /// (constexpr_sparse_to_dense; from iOS18 also with int8 weights or palettes); TFLite
        /// and ONNX store the zeros dense.
        #[arg(long, value_name = "SPARSITY|threshold:T")]
        prune: Option<String>,
        #[command(flatten)]
        coreml: CoremlArgs,
        #[command(flatten)]
        report: report::ReportArgs,
    },
    /// Simulated latency, memory and op placement on device profiles (phones, boards, browsers).
    Simulate(simulate::SimulateArgs),
    /// Run a model on inputs from an .npz file and write its outputs as .npz.
    Run(measure::RunArgs),
    /// Measure a model: load time, cold first run, warm p50/p95/p99, memory.
    Bench(measure::BenchArgs),
}

/// Full-integer options of `convert` (`--quantize int8`).
#[derive(clap::Args)]
struct Int8Args {
    /// Representative inputs (.npz): one array per model input, samples along the first axis
    /// ([N, ...input shape], or [N, ...] replacing a batch of 1); a single-input model also
    /// takes one .npy array, and an image model a PNG/JPEG image or a directory of them
    /// (see --image-mean, --image-std, --image-bgr).
    #[arg(long, value_name = "FILE.npz|FILE.npy|IMAGE|DIR")]
    calibration: Option<PathBuf>,
    #[command(flatten)]
    images: ImageArgs,
    /// How activation ranges are chosen: minmax (default), percentile (99.99th) or mse.
    #[arg(long = "calibration-method", value_parser = ["minmax", "percentile", "mse"])]
    calibration_method: Option<String>,
    /// Nodes kept in float (ONNX node names, comma separated).
    #[arg(long = "keep-float", value_name = "NODE,...", value_delimiter = ',')]
    keep_float: Vec<String>,
    /// Model inputs and outputs as float32 (default; QUANTIZE/DEQUANTIZE inside) or int8.
    #[arg(long, value_parser = ["float32", "int8"])]
    interface: Option<String>,
}

/// How calibration images become input values: `(pixel / 255 - mean) / std` per channel.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ImageArgs {
    /// Per-channel mean subtracted from pixels scaled to [0, 1] (e.g. 0.485,0.456,0.406).
    #[arg(long = "image-mean", value_name = "R,G,B", value_delimiter = ',')]
    image_mean: Option<Vec<f32>>,
    /// Per-channel divisor after the mean (e.g. 0.229,0.224,0.225).
    #[arg(long = "image-std", value_name = "R,G,B", value_delimiter = ',')]
    image_std: Option<Vec<f32>>,
    /// Channels in BGR order (models trained on OpenCV images).
    #[arg(long = "image-bgr")]
    image_bgr: bool,
}

impl ImageArgs {
    fn preprocess(&self) -> Result<edgeport_engine::images::ImagePreprocess, EngineError> {
        let three = |v: &Option<Vec<f32>>, d: f32, flag: &str| match v.as_deref() {
            None => Ok([d; 3]),
            Some(&[a, b, c]) => Ok([a, b, c]),
            Some(other) => Err(EngineError::options(format!("{flag} takes three values R,G,B, got {}", other.len()))),
        };
        Ok(edgeport_engine::images::ImagePreprocess {
            mean: three(&self.image_mean, 0.0, "--image-mean")?,
            std: three(&self.image_std, 1.0, "--image-std")?,
            bgr: self.image_bgr,
        })
    }
}

/// Core ML options of `convert`.
#[derive(clap::Args)]
struct CoremlArgs {
    /// Core ML deployment target (default ios16).
    #[arg(long = "target", value_parser = ["ios15", "ios16", "ios17", "ios18"])]
    target: Option<String>,
    /// Compute precision (Core ML default fp16).
    #[arg(long, value_parser = ["fp32", "fp16"])]
    precision: Option<String>,
    /// With fp16: the ONNX nodes that stay float32, comma separated. `auto` (the default) keeps
    /// layers with large weights (|w| >= 16) and everything upstream of them in fp32; `none`
    /// gives pure fp16; node names (optionally with `auto`) choose them by hand.
    #[arg(long = "fp32-ops", value_name = "auto|none|NODE,...", value_delimiter = ',')]
    fp32_ops: Option<Vec<String>>,
    /// Model author (metadata).
    #[arg(long)]
    author: Option<String>,
    /// Short description of the model (metadata).
    #[arg(long)]
    description: Option<String>,
    /// Model version string (metadata).
    #[arg(long = "model-version")]
    model_version: Option<String>,
    /// License (metadata).
    #[arg(long)]
    license: Option<String>,
    /// User-defined metadata entry (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    meta: Vec<(String, String)>,
}

fn parse_meta(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>), String> {
    let (name, dims) = s.rsplit_once('=').ok_or_else(|| format!("expected NAME=D,D,..., got '{s}'"))?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<usize>().map_err(|_| format!("'{d}' in '{s}' is not a dimension")))
        .collect::<Result<Vec<_>, _>>()?;
    if name.is_empty() {
        return Err(format!("missing input name in '{s}'"));
    }
    Ok((name.to_string(), dims))
}

/// Failure of the CLI itself: an engine error or an I/O error on a named path.
enum Failure {
    Engine(EngineError),
    Io(String),
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure::Engine(e)
    }
}

fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::Internal => 1,
        ErrorCode::InvalidOptions => 2,
        ErrorCode::InvalidModel | ErrorCode::LimitExceeded => 3,
        ErrorCode::Unsupported => 4,
    }
}

const EXIT_IO: u8 = 5;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let (msg, code) = match f {
                Failure::Engine(e) => (e.message.clone(), exit_code(e.code)),
                Failure::Io(m) => (m, EXIT_IO),
            };
            // One line, whatever the message holds.
            eprintln!("error: {}", msg.replace('\n', "; "));
            ExitCode::from(code)
        }
    }
}

fn read_model(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Io(format!("cannot read '{}': {e}", path.display())))
}

/// `--calibration FILE`: the samples for `model` imported with `input_shapes`.
fn read_calibration(
    path: &Path,
    model: &[u8],
    input_shapes: &BTreeMap<String, Vec<usize>>,
    images: &ImageArgs,
) -> Result<edgeport_engine::Calibration, Failure> {
    let is_image = |p: &Path| {
        p.extension().and_then(|e| e.to_str()).is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| EngineError::options(format!("{}: {e}", path.display())))?;
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_image(p)).collect();
        files.sort();
        files
    } else if is_image(path) {
        vec![path.to_path_buf()]
    } else {
        return Ok(edgeport_engine::Calibration::for_model(model, input_shapes, &read_model(path)?)?);
    };
    let images_read = files
        .iter()
        .map(|p| Ok((p.display().to_string(), read_model(p)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(edgeport_engine::Calibration::for_model_images(model, input_shapes, &images_read, &images.preprocess()?)?)
}

/// `--keep-float A,B`: the names, trimmed, empty ones dropped.
fn node_names(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn options(args: &ModelArgs, target: Target, nhwc_io: bool) -> ConvertOptions {
    let input_shapes: BTreeMap<String, Vec<usize>> = args.input_shapes.iter().cloned().collect();
    ConvertOptions { target, nhwc_io, input_shapes, ..ConvertOptions::default() }
}

fn coreml_options(opts: &mut ConvertOptions, c: CoremlArgs) -> Result<(), EngineError> {
    opts.coreml_target = c.target.as_deref().map(str::parse).transpose()?;
    opts.precision = c.precision.as_deref().map(str::parse).transpose()?;
    opts.fp32_ops = c.fp32_ops.map(|names| names.into_iter().filter(|n| n != "none" && !n.is_empty()).collect());
    opts.metadata = ModelMetadata {
        author: c.author,
        description: c.description,
        version: c.model_version,
        license: c.license,
        user_defined: c.meta.into_iter().collect(),
    };
    Ok(())
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Inspect { model } => {
            let bytes = read_model(&model.model)?;
            let report = edgeport_engine::inspect(&bytes, &options(&model, Target::Tflite, false))?;
            if model.json {
                print_json(&report);
            } else {
                print_inspect(&report);
            }
            Ok(())
        }
        Command::Convert { model, to, output, nhwc_io, quantize, int8, palettize, prune, coreml, report } => {
            let target: Target = to.parse()?;
            let mut opts = options(&model, target, nhwc_io);
            coreml_options(&mut opts, coreml)?;
            opts.quantize = quantize.as_deref().map(str::parse).transpose()?;
            opts.palettize = palettize.as_deref().map(str::parse).transpose()?;
            opts.prune = prune.as_deref().map(str::parse).transpose()?;
            opts.calibration_method = int8.calibration_method.as_deref().map(str::parse).transpose()?;
            opts.keep_float = node_names(&int8.keep_float);
            opts.interface = int8.interface.as_deref().map(str::parse).transpose()?;
            let bytes = read_model(&model.model)?;
            let calibration = match &int8.calibration {
                Some(path) => {
                    if !opts.quantize.is_some_and(edgeport_engine::Quantize::is_calibrated) {
                        return Err(EngineError::options("--calibration applies to --quantize int8 and w8a8 only").into());
                    }
                    Some(read_calibration(path, &bytes, &opts.input_shapes, &int8.images)?)
                }
                None => None,
            };
            if opts.quantize.is_some_and(edgeport_engine::Quantize::is_calibrated) && calibration.is_none() {
                eprintln!(
                    "warning: no --calibration data; activation ranges come from {} generated samples (uniform in [0, 1)), which rarely match real inputs",
                    edgeport_engine::quantize::GENERATED_SAMPLES
                );
            }
            let progress = indicatif::ProgressBar::new_spinner();
            progress.enable_steady_tick(std::time::Duration::from_millis(120));
            let result = edgeport_engine::convert_calibrated(&bytes, &opts, calibration.as_ref(), &mut |stage| {
                progress.set_message(stage.label());
            });
            progress.finish_and_clear();
            let artifact = result?;
            write_artifact(&output, &artifact)?;
            if report.wanted() {
                let mut r = report::ReportArgs::start(&model.model, &bytes);
                edgeport_engine::report::add_conversion(&mut r, &opts, &artifact);
                edgeport_engine::report::add_artifact_fidelity(&mut r, &bytes, &opts, calibration.as_ref())?;
                report.finish(&r)?;
                if !model.json {
                    report::print_fidelity(&r);
                }
            }
            if model.json {
                let mut v = serde_json::to_value(&artifact).unwrap_or_default();
                v["path"] = serde_json::Value::String(output.display().to_string());
                print_json(&v);
            } else {
                out!("wrote {} ({} bytes, sha256 {})", output.display(), artifact.size, artifact.sha256);
            }
            Ok(())
        }
        Command::Simulate(args) => simulate::run(args),
        Command::Run(args) => measure::run(args),
        Command::Bench(args) => measure::bench(args),
    }
}

/// A directory artifact goes to a path ending in `.mlpackage` as a directory; everything else
/// is written as one file.
fn write_artifact(path: &Path, artifact: &Artifact) -> Result<(), Failure> {
    let is_dir_path = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mlpackage"));
    match &artifact.directory {
        Some(dir) if is_dir_path => {
            let files: Vec<(&str, &[u8])> = dir.files.iter().map(|f| (f.path.as_str(), f.bytes.as_slice())).collect();
            write_dir_atomically(path, &files)
        }
        _ => write_atomically(path, &artifact.bytes),
    }
}

/// Write a directory tree into a temporary directory beside `path`, then rename it into place
/// (an existing directory there is replaced): a failed run leaves no partial output.
fn write_dir_atomically(path: &Path, files: &[(&str, &[u8])]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Io(format!("cannot write '{}': {e}", path.display()));
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Failure::Io(format!("'{}' is not a directory path", path.display())))?;
    let name = name.to_string_lossy();
    if path.exists() && !path.is_dir() {
        return Err(Failure::Io(format!("cannot write '{}': it exists and is not a directory", path.display())));
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let old = dir.join(format!(".{name}.{}.old", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = (|| {
        for (rel, bytes) in files {
            let p = tmp.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = std::fs::File::create(&p)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io(e));
    }
    let replacing = path.exists();
    if replacing {
        if let Err(e) = std::fs::rename(path, &old) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(io(e));
        }
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        if replacing {
            let _ = std::fs::rename(&old, path);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io(e));
    }
    if replacing {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Write to a temporary file beside `path`, then rename: a failed run leaves no partial file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Io(format!("cannot write '{}': {e}", path.display()));
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().ok_or_else(|| Failure::Io(format!("'{}' is not a file path", path.display())))?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn print_json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => out!("{s}"),
        Err(e) => eprintln!("error: cannot serialize report: {e}"),
    }
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} G", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2} M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

fn print_inspect(r: &InspectReport) {
    let opsets: Vec<String> = r.model.opsets.iter().map(|(d, v)| format!("{}:{v}", if d.is_empty() { "ai.onnx" } else { d })).collect();
    out!("model     ir {} opset {} producer '{}'", r.model.ir_version, opsets.join(" "), r.model.producer);
    out!("sha256    {}", r.model.sha256);
    for (label, list) in [("input ", &r.inputs), ("output", &r.outputs)] {
        for t in list {
            out!("{label}    {} {} {:?}", t.name, t.dtype, t.shape);
        }
    }
    out!("params    {} ({} bytes)", human(r.params.count as u64), r.params.bytes);
    out!("compute   {} MACs, {} FLOPs", human(r.total.macs), human(r.total.flops));
    out!("memory    peak activations {} bytes", r.peak_activation_bytes);
    out!("ops");
    for (op, n) in &r.op_histogram {
        out!("  {op:<24} {n}");
    }
    out!("nodes (by MACs)");
    let mut nodes: Vec<_> = r.nodes.iter().filter(|n| n.macs > 0).collect();
    nodes.sort_by(|a, b| b.macs.cmp(&a.macs).then_with(|| a.name.cmp(&b.name)));
    for n in nodes.iter().take(20) {
        out!("  {:<40} {:<16} {:>10} MACs  {:?}", n.name, n.op, human(n.macs), n.output_shapes);
    }
    if nodes.len() > 20 {
        out!("  ... {} more (see --json)", nodes.len() - 20);
    }
}
