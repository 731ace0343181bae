//! `simulate`: latency, memory and placement of a model on device profiles, as one versioned
//! report. The model is imported and optimized as for conversion, so the simulator sees the
//! layers an exporter would emit (BatchNorm folded, activations fused).

use serde::{Deserialize, Serialize};

pub use edgeport_sim::budget::{BUDGETS, Budget, BudgetCheck};
pub use edgeport_sim::{
    DeviceKind, Format as SimFormat, Placement, Precision as SimPrecision, Profile, SimResult, UnitKind,
};

use crate::{ConvertOptions, EngineError, ErrorCode, sha256_hex};

pub const SCHEMA: &str = "edgeport.simulation/1";

/// What to simulate besides the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateOptions {
    /// Profile ids; empty means every profile.
    pub profiles: Vec<String>,
    /// Compute units; empty means every unit the profile can run the format on.
    pub units: Vec<UnitKind>,
    /// Variant precision (fp32 when absent).
    pub precision: Option<SimPrecision>,
    /// Stored bits per weight when they differ from the precision (int8 weight-only: 8).
    pub weight_bits: Option<u8>,
    /// Format; absent means Core ML on Apple devices and TFLite elsewhere.
    pub format: Option<SimFormat>,
    /// A use-case budget id (`camera`, `photo`, `text`, `voice`, `background`).
    pub budget: Option<String>,
    /// Leave the per-layer placement out of the report (it is recomputed from the model).
    pub no_placement: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    pub schema: String,
    pub edgeport_version: String,
    pub model: SimulatedModel,
    pub options: SimulateOptions,
    /// One entry per (profile, unit).
    pub results: Vec<SimResult>,
    /// (profile, unit) pairs that cannot run this variant, with the reason.
    pub skipped: Vec<Skipped>,
    /// Per profile: the suggested variant (fastest fitting the budget, if one is given).
    pub best: Vec<Best>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatedModel {
    pub name: String,
    pub sha256: String,
    pub bytes: usize,
    pub layers: usize,
    pub flops: u64,
    pub params: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub profile: String,
    pub unit: UnitKind,
    pub reason: String,
}

/// The suggested variant for one device: the fastest (precision, unit) that fits the budget,
/// over fp32, fp16 and int8 in the chosen format (the fastest overall when none fits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub profile: String,
    pub precision: SimPrecision,
    pub unit: UnitKind,
    pub path: String,
    pub latency_ms: f64,
    pub model_size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetCheck>,
}

/// A profile's id, display name, kind and units, for pickers and `--list-profiles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub soc: String,
    pub year: u16,
    pub units: Vec<UnitKind>,
}

/// Every embedded device profile.
pub fn profiles() -> Result<Vec<Profile>, EngineError> {
    edgeport_sim::profile::all().map_err(|e| EngineError::new(ErrorCode::Internal, e.to_string()))
}

pub fn list_profiles() -> Result<Vec<ProfileSummary>, EngineError> {
    Ok(profiles()?
        .into_iter()
        .map(|p| ProfileSummary {
            units: p.units.iter().map(|u| u.kind).collect(),
            id: p.id,
            name: p.name,
            kind: p.kind,
            soc: p.soc,
            year: p.year,
        })
        .collect())
}

/// Simulates the model on each requested profile and unit.
pub fn simulate(model: &[u8], convert: &ConvertOptions, opts: &SimulateOptions) -> Result<SimulationReport, EngineError> {
    let budget = match opts.budget.as_deref() {
        None => None,
        Some(id) => Some(edgeport_sim::budget::by_id(id).ok_or_else(|| {
            let ids: Vec<&str> = BUDGETS.iter().map(|b| b.id).collect();
            EngineError::options(format!("unknown budget '{id}' (one of {})", ids.join(", ")))
        })?),
    };
    let all = profiles()?;
    let chosen: Vec<&Profile> = if opts.profiles.is_empty() {
        all.iter().collect()
    } else {
        opts.profiles
            .iter()
            .map(|id| {
                all.iter().find(|p| &p.id == id).ok_or_else(|| {
                    EngineError::options(format!("unknown profile '{id}' (see the list of profiles)"))
                })
            })
            .collect::<Result<_, _>>()?
    };

    let imported = crate::import(model, convert)?;
    let mut graph = imported.graph;
    edgeport_passes::optimize(&mut graph)?;
    let workload = edgeport_sim::fuse::fuse_activations(edgeport_sim::Workload::from_graph(&graph));
    let cal = edgeport_sim::Calibration::embedded().map_err(|e| EngineError::new(ErrorCode::Internal, e.to_string()))?;
    let precision = opts.precision.unwrap_or(SimPrecision::Fp32);

    let mut results = Vec::new();
    let mut skipped = Vec::new();
    let mut best = Vec::new();
    for p in chosen {
        let format = opts.format.unwrap_or(if p.paths.iter().any(|x| x.formats.contains(&SimFormat::Coreml)) {
            SimFormat::Coreml
        } else {
            SimFormat::Tflite
        });
        let units: Vec<UnitKind> = if opts.units.is_empty() {
            p.units.iter().map(|u| u.kind).filter(|k| p.paths.iter().any(|x| x.unit == *k && x.formats.contains(&format))).collect()
        } else {
            opts.units.clone()
        };
        let first = results.len();
        // The other variants only compete for the suggestion; their per-layer detail is dropped.
        let mut alternatives = Vec::new();
        for unit in units {
            for variant in [SimPrecision::Fp32, SimPrecision::Fp16, SimPrecision::Int8] {
                let requested = variant == precision;
                let weight_bits = if requested { opts.weight_bits } else { None };
                let scenario = edgeport_sim::Scenario { format, precision: variant, weight_bits, unit, path: None };
                match edgeport_sim::simulate(&workload, p, &scenario, &cal) {
                    Ok(mut r) => {
                        if opts.no_placement || !requested {
                            r.placement.clear();
                        }
                        if requested { results.push(r) } else { alternatives.push(r) }
                    }
                    Err(e) if requested => skipped.push(Skipped { profile: p.id.clone(), unit, reason: e.to_string() }),
                    Err(_) => {}
                }
            }
        }
        let candidates: Vec<&SimResult> = results[first..].iter().chain(&alternatives).collect();
        if let Some(b) = edgeport_sim::budget::best(&candidates, budget) {
            best.push(Best {
                profile: p.id.clone(),
                precision: b.precision,
                unit: b.unit,
                path: b.path.clone(),
                latency_ms: b.latency_ms,
                model_size_bytes: b.model_size_bytes,
                budget: budget.map(|bu| edgeport_sim::budget::check(b, bu)),
            });
        }
    }
    Ok(SimulationReport {
        schema: SCHEMA.to_string(),
        edgeport_version: env!("CARGO_PKG_VERSION").to_string(),
        model: SimulatedModel {
            name: graph.name.clone(),
            sha256: sha256_hex(model),
            bytes: model.len(),
            layers: workload.layers.len(),
            flops: workload.total_flops(),
            params: workload.weight_elems(),
        },
        options: opts.clone(),
        results,
        skipped,
        best,
    })
}
