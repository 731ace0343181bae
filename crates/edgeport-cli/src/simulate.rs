//! `edgeport simulate`: simulated latency, memory and placement per device profile and unit.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use edgeport_engine::simulate::{SimFormat, SimPrecision, SimResult, SimulateOptions, SimulationReport, UnitKind};
use edgeport_engine::{ConvertOptions, EngineError};

use crate::{Failure, print_json, read_model};

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The ONNX model (not needed with --list-profiles).
    #[arg(required_unless_present = "list_profiles")]
    model: Option<PathBuf>,
    /// Device profile ids, comma separated (default: every profile; see --list-profiles).
    #[arg(long = "profile", value_delimiter = ',')]
    profiles: Vec<String>,
    /// Compute units (default: every unit the profile runs the format on).
    #[arg(long = "unit", value_delimiter = ',', value_parser = ["cpu", "gpu", "npu", "ane", "tpu"])]
    units: Vec<String>,
    /// Variant precision: fp32, fp16 or int8 (weights and activations).
    #[arg(long, visible_alias = "variant", value_parser = ["fp32", "fp16", "int8"])]
    precision: Option<String>,
    /// Stored bits per weight when they differ from the precision (8: int8 weight-only,
    /// 4: 4-bit palettization).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=32))]
    weight_bits: Option<u8>,
    /// Model format (default: coreml on Apple devices, tflite elsewhere).
    #[arg(long, value_parser = ["tflite", "coreml", "onnx"])]
    format: Option<String>,
    /// Check against a use-case budget: camera, photo, text, voice or background.
    #[arg(long)]
    budget: Option<String>,
    /// Static shape for an input with dynamic dims, e.g. `x=1,3,224,224` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = crate::parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
    /// Show each layer's placement and time.
    #[arg(long)]
    layers: bool,
    /// List the device profiles instead.
    #[arg(long)]
    list_profiles: bool,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    report: crate::report::ReportArgs,
}

pub fn run(args: SimulateArgs) -> Result<(), Failure> {
    if args.list_profiles {
        let list = edgeport_engine::simulate::list_profiles()?;
        if args.json {
            print_json(&list);
        } else {
            out!("{:<24} {:<50} {:<10} units", "id", "name", "kind");
            for p in &list {
                let units: Vec<&str> = p.units.iter().map(|u| u.name()).collect();
                out!("{:<24} {:<50} {:<10} {}", p.id, p.name, format!("{:?}", p.kind).to_lowercase(), units.join(","));
            }
        }
        return Ok(());
    }
    let Some(model_path) = args.model.as_deref() else {
        return Err(EngineError::options("a model is required").into());
    };
    let opts = SimulateOptions {
        profiles: args.profiles.clone(),
        units: args.units.iter().filter_map(|u| UnitKind::parse(u)).collect(),
        precision: args.precision.as_deref().and_then(SimPrecision::parse),
        weight_bits: args.weight_bits,
        format: args.format.as_deref().and_then(SimFormat::parse),
        budget: args.budget.clone(),
        no_placement: !args.json && !args.layers && args.report.path.is_none(),
    };
    let convert = ConvertOptions { input_shapes: args.input_shapes.iter().cloned().collect::<BTreeMap<_, _>>(), ..Default::default() };
    let bytes = read_model(model_path)?;
    let report = edgeport_engine::simulate::simulate(&bytes, &convert, &opts)?;
    if args.json {
        print_json(&report);
    } else {
        print_report(&report, args.layers);
    }
    if args.report.wanted() {
        let mut r = crate::report::ReportArgs::start(model_path, &bytes);
        edgeport_engine::report::add_simulation(&mut r, &convert, report);
        args.report.finish(&r)?;
    }
    Ok(())
}

fn print_report(r: &SimulationReport, layers: bool) {
    out!(
        "model {} ({} layers, {:.2} GFLOPs, {:.2} M params), sha256 {}",
        if r.model.name.is_empty() { "(unnamed)" } else { &r.model.name },
        r.model.layers,
        r.model.flops as f64 / 1e9,
        r.model.params as f64 / 1e6,
        &r.model.sha256[..r.model.sha256.len().min(12)]
    );
    out!("");
    out!(
        "{:<20} {:<4} {:<26} {:<6} {:>10} {:>10} {:>9} {:>8}  notes",
        "profile", "unit", "runtime", "runs", "latency", "memory", "model", "on unit"
    );
    for res in &r.results {
        print_row(res);
    }
    for s in &r.skipped {
        out!("{:<20} {:<4} cannot run: {}", s.profile, s.unit.name(), s.reason);
    }
    if !r.best.is_empty() {
        out!("");
        out!(
            "suggested variant per device (fp32, fp16, int8 compared){}:",
            r.options.budget.as_deref().map(|b| format!(" (budget: {b})")).unwrap_or_default()
        );
        for b in &r.best {
            let verdict = match &b.budget {
                Some(c) if c.fits => " fits".to_string(),
                Some(c) => format!(" over budget: {}", c.over.join(", ")),
                None => String::new(),
            };
            out!(
                "  {:<20} {} on {} via {} {:.2} ms, {:.1} MB{verdict}",
                b.profile,
                b.precision.name(),
                b.unit.name(),
                b.path,
                b.latency_ms,
                b.model_size_bytes as f64 / 1e6
            );
        }
    }
    if layers {
        for res in &r.results {
            out!("");
            out!("{} / {} ({}):", res.profile, res.unit.name(), res.path);
            for p in &res.placement {
                out!("  {:<40} {:<14} {:<4} {:>9.4} ms", p.layer, p.op, p.unit.name(), p.ms);
            }
        }
    }
}

fn print_row(r: &SimResult) {
    let share = r.layers_on_unit as f64 / (r.layers_on_unit + r.layers_on_fallback).max(1) as f64 * 100.0;
    out!(
        "{:<20} {:<4} {:<26} {:<6} {:>7.2} ms {:>7.1} MB {:>6.1} MB {:>7.0} %  {}",
        r.profile,
        r.unit.name(),
        r.path_name.chars().take(26).collect::<String>(),
        r.executed_precision.name(),
        r.latency_ms,
        r.peak_memory_bytes as f64 / 1e6,
        r.model_size_bytes as f64 / 1e6,
        share,
        r.warnings.join("; ")
    );
}
