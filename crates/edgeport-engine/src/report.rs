//! The run report (schema `edgeport.report/1`, defined in `edgeport-report`) with the engine's
//! option and simulation types, and the steps that fill it: a conversion's artifact and its
//! fidelity, a simulation, the harness's measurements. A share link is this report, deflated
//! ([`link`]); the CLI writes it with `--report`, the edge worker returns it.

use std::collections::BTreeMap;

pub use edgeport_report::{
    Conversion, Environment, Fidelity, Measured, MeasuredVariant, ModelRecord, OutputFidelity, SCHEMA, Simulation, link,
};

use crate::runtime::{BenchReport, RunOptions, Variant};
use crate::simulate::SimulationReport;
use crate::{Artifact, ConvertOptions, EngineError, Precision, Quantize, Target, sha256_hex};

pub type Report = edgeport_report::Report<ConvertOptions, SimulationReport>;

/// An empty report about `model`, named as the user gave it.
pub fn new(name: &str, model: &[u8]) -> Report {
    Report::new(ModelRecord { name: name.to_string(), sha256: sha256_hex(model), bytes: model.len() as u64 })
}

/// How the runtime runs what a conversion's artifact computes: TFLite keeps float32, or
/// float16 weights with `quantize fp16`; an fp16 Core ML program (the default) stores weights
/// and intermediates in float16 except in the nodes its fp32 rule keeps.
pub fn artifact_variant(opts: &ConvertOptions) -> RunOptions {
    let (variant, fp32_ops) = match (opts.target, opts.precision, opts.quantize) {
        (Target::Coreml, Some(Precision::Fp16) | None, _) => (Variant::CoremlFp16, opts.fp32_ops.clone()),
        (Target::Tflite, _, Some(Quantize::Fp16)) => (Variant::Fp16, None),
        _ => (Variant::Fp32, None),
    };
    let quantize = opts.quantize.filter(|q| matches!(q, Quantize::Int8Weights | Quantize::Int8 | Quantize::W8a8));
    RunOptions {
        variant,
        fp32_ops,
        quantize,
        hybrid: opts.target == Target::Tflite && quantize == Some(Quantize::Int8Weights),
        palettize: opts.palettize,
        prune: opts.prune,
        input_shapes: opts.input_shapes.clone(),
        calibration_method: opts.calibration_method,
        keep_float: opts.keep_float.clone(),
        ..RunOptions::default()
    }
}

/// Records a conversion (options, file name, hash, size). Runs nothing, so front ends without
/// the CPU runtime (the edge worker) can use it.
pub fn add_conversion(report: &mut Report, opts: &ConvertOptions, artifact: &Artifact) {
    report.conversion = Some(Conversion {
        options: opts.clone(),
        file_name: artifact.file_name.clone(),
        sha256: artifact.sha256.clone(),
        size: artifact.size,
    });
}

/// Records the fidelity of what a conversion with `opts` computes, when it is lossy: the
/// artifact's variant against the float original on generated samples (see
/// [`crate::runtime::fidelity`]).
pub fn add_artifact_fidelity(
    report: &mut Report,
    model: &[u8],
    opts: &ConvertOptions,
    calibration: Option<&crate::Calibration>,
) -> Result<(), EngineError> {
    let mut run = artifact_variant(opts);
    if run.quantize.is_some_and(Quantize::is_calibrated) {
        run.calibration = calibration.cloned();
    }
    if run.is_lossy() {
        // A full-integer model is judged on its calibration samples when the user gave them.
        let given = run.calibration.as_ref().map(|c| c.samples.as_slice());
        let f = crate::runtime::fidelity(model, &run, given)?;
        report.fidelity.retain(|x| x.variant != f.variant);
        report.fidelity.push(f);
    }
    Ok(())
}

/// Records a simulation and the import options it ran with.
pub fn add_simulation(report: &mut Report, import: &ConvertOptions, simulation: SimulationReport) {
    report.simulation = Some(Simulation { options: import.clone(), report: simulation });
}

/// Records the harness's reports of one backend, replacing that backend's earlier ones.
pub fn add_measured(report: &mut Report, backend: &str, reports: &[BenchReport]) {
    if let Some(m) = measured(backend, reports) {
        report.measured.retain(|x| x.backend != backend);
        report.measured.push(m);
    }
}

/// What a report keeps of the harness's reports of one backend (their samples are left out).
pub fn measured(backend: &str, reports: &[BenchReport]) -> Option<Measured> {
    let first = reports.first()?;
    Some(Measured {
        backend: backend.to_string(),
        environment: first.environment.clone(),
        warmup: first.warmup_runs,
        variants: reports.iter().map(BenchReport::summary).collect(),
    })
}

/// Input shapes as a report's options keep them.
pub fn import_options(input_shapes: &BTreeMap<String, Vec<usize>>) -> ConvertOptions {
    ConvertOptions { input_shapes: input_shapes.clone(), ..ConvertOptions::default() }
}
