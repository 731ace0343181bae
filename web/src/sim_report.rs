//! The simulator's types as the page sees them: JSON mirrors of the engine's `SimulateOptions`,
//! `SimulationReport` (schema `edgeport.simulation/1`) and `ProfileSummary`, because the page is
//! built without the engine. Tests pin them to the engine's by a JSON round trip.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The variant precisions the simulator takes.
pub const PRECISIONS: [&str; 3] = ["fp32", "fp16", "int8"];
/// Formats; `auto` (absent) means Core ML on Apple devices and TFLite elsewhere.
pub const FORMATS: [&str; 3] = ["tflite", "coreml", "onnx"];

/// A use-case budget (the engine's `BUDGETS`; a test keeps them equal).
pub struct BudgetInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub latency_ms: f64,
    pub model_mb: f64,
    pub memory_mb: f64,
}

pub const BUDGETS: [BudgetInfo; 5] = [
    BudgetInfo { id: "camera", name: "real-time camera", latency_ms: 33.0, model_mb: 10.0, memory_mb: 50.0 },
    BudgetInfo { id: "photo", name: "photo processing", latency_ms: 500.0, model_mb: 50.0, memory_mb: 200.0 },
    BudgetInfo { id: "text", name: "text classification", latency_ms: 50.0, model_mb: 5.0, memory_mb: 30.0 },
    BudgetInfo { id: "voice", name: "voice command", latency_ms: 100.0, model_mb: 20.0, memory_mb: 100.0 },
    BudgetInfo { id: "background", name: "background task", latency_ms: 5000.0, model_mb: 100.0, memory_mb: 500.0 },
];

impl BudgetInfo {
    /// Whether a result fits this budget's latency, model size and memory (the engine's check).
    pub fn fits(&self, r: &UnitResult) -> bool {
        r.latency_ms <= self.latency_ms
            && r.model_size_bytes as f64 / 1e6 <= self.model_mb
            && r.peak_memory_bytes as f64 / 1e6 <= self.memory_mb
    }
}

pub fn budget(id: &str) -> Option<&'static BudgetInfo> {
    BUDGETS.iter().find(|b| b.id == id)
}

/// The engine's `SimulateOptions` (unit filter and weight bits are not offered by the page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimOptions {
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    pub precision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_bits: Option<u8>,
    pub format: Option<String>,
    pub budget: Option<String>,
    pub no_placement: bool,
}

#[cfg(feature = "engine")]
impl SimOptions {
    pub fn to_engine(&self) -> Result<edgeport_engine::simulate::SimulateOptions, edgeport_engine::EngineError> {
        let json = serde_json::to_value(self).map_err(|e| edgeport_engine::EngineError::options(e.to_string()))?;
        serde_json::from_value(json).map_err(|e| edgeport_engine::EngineError::options(format!("simulate options: {e}")))
    }
}

/// A device profile for the picker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub soc: String,
    pub year: u16,
    pub units: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub edgeport_version: String,
    pub model: ReportModel,
    pub options: SimOptions,
    pub results: Vec<UnitResult>,
    pub skipped: Vec<Skipped>,
    pub best: Vec<Best>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub layers: usize,
    pub flops: u64,
    pub params: u64,
}

/// One (profile, unit) result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    pub profile: String,
    pub device: String,
    pub unit: String,
    pub path: String,
    pub path_name: String,
    pub format: String,
    pub precision: String,
    pub executed_precision: String,
    pub latency_ms: f64,
    pub compute_ms: f64,
    pub transfer_ms: f64,
    pub overhead_ms: f64,
    pub peak_memory_bytes: u64,
    pub model_size_bytes: u64,
    pub layers_on_unit: usize,
    pub layers_on_fallback: usize,
    pub partitions: usize,
    pub fallback_ops: BTreeMap<String, usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_on_unit_ms: Option<f64>,
    pub warnings: Vec<String>,
    /// Per layer; empty in share links (recomputed from the model instead).
    #[serde(default)]
    pub placement: Vec<LayerPlacement>,
}

impl UnitResult {
    pub fn key(&self) -> (String, String) {
        (self.profile.clone(), self.unit.clone())
    }

    /// Share of the layers the chosen unit runs, in percent.
    pub fn on_unit_percent(&self) -> f64 {
        let all = self.layers_on_unit + self.layers_on_fallback;
        if all == 0 { 0.0 } else { 100.0 * self.layers_on_unit as f64 / all as f64 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerPlacement {
    pub layer: String,
    pub op: String,
    pub unit: String,
    pub ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub profile: String,
    pub unit: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub profile: String,
    /// The suggested variant's precision (fp32, fp16 or int8).
    pub precision: String,
    pub unit: String,
    pub path: String,
    pub latency_ms: f64,
    pub model_size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetCheck {
    pub budget: String,
    pub fits: bool,
    pub over: Vec<String>,
}

impl Report {
    /// The report without per-layer placement, as share links carry it.
    pub fn without_placement(&self) -> Report {
        let mut r = self.clone();
        for x in &mut r.results {
            x.placement.clear();
        }
        r.options.no_placement = false;
        r
    }

    /// How this report's numbers differ from `earlier`'s (placement aside); empty when identical.
    pub fn differences(&self, earlier: &Report) -> Vec<String> {
        let mut out = Vec::new();
        for old in &earlier.results {
            match self.results.iter().find(|r| r.key() == old.key()) {
                None => out.push(format!("{}/{}: no longer simulated", old.profile, old.unit)),
                Some(new) => {
                    let (mut a, mut b) = (old.clone(), new.clone());
                    a.placement.clear();
                    b.placement.clear();
                    if a == b {
                        continue;
                    }
                    if a.latency_ms != b.latency_ms {
                        out.push(format!("{}/{}: latency {} ms, now {} ms", old.profile, old.unit, a.latency_ms, b.latency_ms));
                    } else {
                        out.push(format!("{}/{}: details differ (memory, size, placement counts or warnings)", old.profile, old.unit));
                    }
                }
            }
        }
        for new in &self.results {
            if !earlier.results.iter().any(|r| r.key() == new.key()) {
                out.push(format!("{}/{}: new result", new.profile, new.unit));
            }
        }
        if out.is_empty() && self.best != earlier.best {
            out.push("the best unit per device differs".into());
        }
        out
    }
}

#[cfg(feature = "engine")]
pub fn report_from_engine(r: &edgeport_engine::simulate::SimulationReport) -> Result<Report, String> {
    serde_json::to_value(r).and_then(serde_json::from_value).map_err(|e| format!("simulation report: {e}"))
}

#[cfg(feature = "engine")]
pub fn profiles_from_engine(list: &[edgeport_engine::simulate::ProfileSummary]) -> Result<Vec<ProfileInfo>, String> {
    serde_json::to_value(list).and_then(serde_json::from_value).map_err(|e| format!("profiles: {e}"))
}

#[cfg(all(test, feature = "engine"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use edgeport_engine::simulate::{self as engine_sim, SimulationReport};

    fn mobilenet() -> Option<Vec<u8>> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mobilenetv2/model.onnx")).ok()
    }

    /// The mirror loses nothing: engine JSON -> page types -> JSON gives the engine's report back.
    #[test]
    fn report_mirror_is_lossless() {
        let Some(model) = mobilenet() else { return };
        let opts = SimOptions {
            profiles: vec!["pixel8".into(), "iphone15pro".into(), "coral-usb".into()],
            precision: Some("int8".into()),
            budget: Some("camera".into()),
            ..SimOptions::default()
        };
        let engine = engine_sim::simulate(&model, &Default::default(), &opts.to_engine().unwrap()).unwrap();
        let page = report_from_engine(&engine).unwrap();
        let back: SimulationReport = serde_json::from_value(serde_json::to_value(&page).unwrap()).unwrap();
        assert_eq!(back, engine);
        assert!(page.results.iter().any(|r| !r.placement.is_empty()));
        assert!(page.differences(&page.without_placement()).is_empty());
        // The page's budget check agrees with the engine's on the best entries.
        for b in &page.best {
            let r = page.results.iter().find(|r| r.profile == b.profile && r.unit == b.unit).unwrap();
            assert_eq!(budget("camera").unwrap().fits(r), b.budget.as_ref().unwrap().fits, "{}/{}", b.profile, b.unit);
        }
    }

    #[test]
    fn options_and_lists_match_the_engine() {
        assert_eq!(SimOptions::default().to_engine().unwrap(), engine_sim::SimulateOptions::default());
        for p in PRECISIONS {
            for f in FORMATS {
                let o = SimOptions { precision: Some(p.into()), format: Some(f.into()), ..SimOptions::default() };
                let e = o.to_engine().unwrap();
                assert_eq!(e.precision.map(|x| x.name()), Some(p));
                assert_eq!(e.format.map(|x| x.name()), Some(f));
            }
        }
        assert_eq!(BUDGETS.len(), engine_sim::BUDGETS.len());
        for (mine, theirs) in BUDGETS.iter().zip(engine_sim::BUDGETS) {
            assert_eq!((mine.id, mine.name, mine.latency_ms), (theirs.id, theirs.name, theirs.latency_ms));
            assert_eq!((mine.model_mb, mine.memory_mb), (theirs.model_mb, theirs.memory_mb));
        }
        let profiles = profiles_from_engine(&engine_sim::list_profiles().unwrap()).unwrap();
        assert!(profiles.iter().any(|p| p.id == "pixel8" && p.kind == "phone" && p.units.contains(&"npu".to_string())));
    }
}
