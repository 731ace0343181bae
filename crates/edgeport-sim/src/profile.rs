//! Device profiles: one TOML file per device under `profiles/`, embedded at build time.
//!
//! A profile lists the device's compute units (peak throughput per dtype, memory bandwidth,
//! fixed costs) and its runtime paths (which unit a runtime drives, which formats, dtypes and ops
//! it accepts, where rejected ops fall back). Every number carries its source in `sources`;
//! estimated numbers say so in `notes`. The schema is checked strictly (unknown keys are errors)
//! so a typo in a new file fails the profile tests instead of silently using a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::workload::OpClass;
use crate::SimError;

include!(concat!(env!("OUT_DIR"), "/profiles.rs"));

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short stable id used on the command line and in links (`pixel8`).
    pub id: String,
    /// Display name; for devices in the calibration data, spelled as its `device` column.
    pub name: String,
    pub kind: DeviceKind,
    pub soc: String,
    pub year: u16,
    pub ram_gb: f64,
    pub memory: Memory,
    pub units: Vec<Unit>,
    pub paths: Vec<RuntimePath>,
    pub sources: Vec<Source>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Other spellings of this device in published tables (matched by calibration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Phone,
    Laptop,
    Desktop,
    Board,
    Accelerator,
    Browser,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// e.g. "LPDDR5X (64-bit)".
    pub kind: String,
    pub bandwidth_gbps: f64,
}

/// The kinds of compute unit a user can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Cpu,
    Gpu,
    /// Hexagon / Tensor TPU / Samsung NPU / MediaTek APU driven through NNAPI or QNN.
    Npu,
    /// Apple Neural Engine.
    Ane,
    /// Google Edge TPU.
    Tpu,
}

impl UnitKind {
    pub fn name(self) -> &'static str {
        match self {
            UnitKind::Cpu => "cpu",
            UnitKind::Gpu => "gpu",
            UnitKind::Npu => "npu",
            UnitKind::Ane => "ane",
            UnitKind::Tpu => "tpu",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        Some(match s {
            "cpu" => UnitKind::Cpu,
            "gpu" => UnitKind::Gpu,
            "npu" => UnitKind::Npu,
            "ane" => UnitKind::Ane,
            "tpu" => UnitKind::Tpu,
            _ => return None,
        })
    }
}

/// Numeric precision of a model variant as a runtime executes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Fp32,
    Fp16,
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }

    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "fp32" => Precision::Fp32,
            "fp16" => Precision::Fp16,
            "int8" => Precision::Int8,
            _ => return None,
        })
    }

    pub fn bytes(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            Precision::Fp16 => 2.0,
            Precision::Int8 => 1.0,
        }
    }
}

/// Model file formats a runtime path loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Tflite,
    Coreml,
    Onnx,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Tflite => "tflite",
            Format::Coreml => "coreml",
            Format::Onnx => "onnx",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "tflite" => Format::Tflite,
            "coreml" => Format::Coreml,
            "onnx" => Format::Onnx,
            _ => return None,
        })
    }
}

/// Peak throughput in GFLOP/s (GOP/s for int8); absent means the unit has no fast path for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peak {
    #[serde(default)]
    pub fp32: Option<f64>,
    #[serde(default)]
    pub fp16: Option<f64>,
    #[serde(default)]
    pub int8: Option<f64>,
}

impl Peak {
    pub fn get(&self, p: Precision) -> Option<f64> {
        match p {
            Precision::Fp32 => self.fp32,
            Precision::Fp16 => self.fp16,
            Precision::Int8 => self.int8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub kind: UnitKind,
    pub name: String,
    /// Peak throughput of the cores a single inference uses (for CPUs: the threads a runtime
    /// uses by default, typically the big cores).
    pub peak_gflops: Peak,
    /// Memory bandwidth this unit sees, GB/s.
    pub bandwidth_gbps: f64,
    /// Fixed cost per dispatched op (kernel launch, delegate node), microseconds.
    pub dispatch_us: f64,
    /// Fixed cost per inference on this unit (delegate invoke, command buffer, sync), microseconds.
    pub invoke_us: f64,
    /// Bandwidth of the link tensors cross to reach this unit from the CPU (USB, PCIe), GB/s;
    /// absent for units sharing the CPU's memory.
    #[serde(default)]
    pub link_gbps: Option<f64>,
    /// Overrides of the default efficiency per op class for this unit (fraction of peak).
    #[serde(default)]
    pub efficiency: BTreeMap<OpClass, f64>,
    /// On-chip memory that holds weights without streaming them (Edge TPU SRAM), MB. The leading
    /// layers' weights fill it in graph order; on a unit behind a link (`link_gbps`) the rest are
    /// fetched from host memory over the link at every inference.
    #[serde(default)]
    pub weight_cache_mb: Option<f64>,
}

/// A runtime driving one unit (`tflite-xnnpack`, `tflite-gpu`, `nnapi`, `qnn`, `coreml-ane`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimePath {
    pub id: String,
    pub name: String,
    /// The unit (by kind) it runs on.
    pub unit: UnitKind,
    pub formats: Vec<Format>,
    /// Precisions it executes natively.
    pub precisions: Vec<Precision>,
    /// Float models run at this precision on this path (fp16 on most GPUs, NPUs and the ANE).
    #[serde(default)]
    pub float_as: Option<Precision>,
    /// Int8 models run at this precision on this path (GPU delegates dequantize to fp16);
    /// absent means int8 runs only if `precisions` lists it.
    #[serde(default)]
    pub int8_as: Option<Precision>,
    /// IR op names it rejects (they fall back).
    #[serde(default)]
    pub unsupported_ops: Vec<String>,
    /// Op classes it rejects.
    #[serde(default)]
    pub unsupported_classes: Vec<OpClass>,
    /// Largest tensor rank it accepts (4 on many delegates).
    #[serde(default)]
    pub max_rank: Option<usize>,
    /// Largest convolution kernel side it accepts.
    #[serde(default)]
    pub max_kernel: Option<usize>,
    /// Only this many leading layers are delegated; after the first rejected op everything runs
    /// on the fallback (the Edge TPU compiler's rule).
    #[serde(default)]
    pub prefix_only: bool,
    /// Path id rejected ops run on; absent means the model fails to run on this path.
    #[serde(default)]
    pub fallback: Option<String>,
    /// Throughput of this runtime relative to a tuned native one on the same unit (WebAssembly
    /// in a browser, an eager framework): multiplies the unit's throughput. Default 1.
    #[serde(default)]
    pub speed: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// What the source backs (`cpu peak`, `memory bandwidth`, `ANE TOPS`, ...).
    pub what: String,
    pub url: String,
    /// When it was read or published (YYYY-MM or YYYY-MM-DD).
    pub date: String,
}

impl Profile {
    pub fn unit(&self, kind: UnitKind) -> Option<&Unit> {
        self.units.iter().find(|u| u.kind == kind)
    }

    pub fn path(&self, id: &str) -> Option<&RuntimePath> {
        self.paths.iter().find(|p| p.id == id)
    }

    /// Parses and checks one profile file.
    pub fn parse(file: &str, text: &str) -> Result<Profile, SimError> {
        let p: Profile =
            toml::from_str(text).map_err(|e| SimError::Profile { file: file.to_string(), message: e.to_string() })?;
        p.check().map_err(|message| SimError::Profile { file: file.to_string(), message })?;
        Ok(p)
    }

    fn check(&self) -> Result<(), String> {
        let bad_id = self.id.is_empty() || !self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if bad_id {
            return Err(format!("id '{}' must be lowercase letters, digits and '-'", self.id));
        }
        if self.sources.is_empty() {
            return Err("sources: every profile cites where its numbers come from".into());
        }
        let positive = |what: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("{what} must be a positive number, got {v}")) }
        };
        positive("memory.bandwidth_gbps", self.memory.bandwidth_gbps)?;
        if self.unit(UnitKind::Cpu).is_none() {
            return Err("units: a cpu unit is required (it is where ops fall back)".into());
        }
        for (i, u) in self.units.iter().enumerate() {
            if self.units[..i].iter().any(|o| o.kind == u.kind) {
                return Err(format!("units: two units of kind {}", u.kind.name()));
            }
            positive(&format!("units.{}.bandwidth_gbps", u.kind.name()), u.bandwidth_gbps)?;
            for p in [Precision::Fp32, Precision::Fp16, Precision::Int8] {
                if let Some(v) = u.peak_gflops.get(p) {
                    positive(&format!("units.{}.peak_gflops.{}", u.kind.name(), p.name()), v)?;
                }
            }
            if u.dispatch_us < 0.0 || u.invoke_us < 0.0 {
                return Err(format!("units.{}: fixed costs must not be negative", u.kind.name()));
            }
            for (class, e) in &u.efficiency {
                if !(*e > 0.0 && *e <= 1.0) {
                    return Err(format!("units.{}.efficiency.{}: {e} is not in (0, 1]", u.kind.name(), class.name()));
                }
            }
        }
        for (i, p) in self.paths.iter().enumerate() {
            if self.paths[..i].iter().any(|o| o.id == p.id) {
                return Err(format!("paths: id '{}' twice", p.id));
            }
            let Some(unit) = self.unit(p.unit) else {
                return Err(format!("paths.{}: no unit of kind {}", p.id, p.unit.name()));
            };
            if let Some(v) = p.speed
                && !(v > 0.0 && v <= 1.0) {
                    return Err(format!("paths.{}.speed: {v} is not in (0, 1]", p.id));
                }
            if p.precisions.is_empty() || p.formats.is_empty() {
                return Err(format!("paths.{}: needs formats and precisions", p.id));
            }
            for &prec in p.precisions.iter().chain(p.float_as.iter()).chain(p.int8_as.iter()) {
                if unit.peak_gflops.get(prec).is_none() {
                    return Err(format!("paths.{}: unit {} has no peak for {}", p.id, unit.kind.name(), prec.name()));
                }
            }
            if let Some(fb) = &p.fallback {
                match self.path(fb) {
                    None => return Err(format!("paths.{}: fallback '{fb}' is not a path of this profile", p.id)),
                    Some(f) if f.fallback.is_some() || f.unit != UnitKind::Cpu => {
                        return Err(format!("paths.{}: fallback '{fb}' must be a cpu path without its own fallback", p.id));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// Every embedded profile, sorted by file name. A broken file is an error naming it.
pub fn all() -> Result<Vec<Profile>, SimError> {
    let mut out: Vec<Profile> = Vec::with_capacity(PROFILE_FILES.len());
    for (file, text) in PROFILE_FILES {
        let p = Profile::parse(file, text)?;
        if out.iter().any(|o| o.id == p.id) {
            return Err(SimError::Profile { file: (*file).to_string(), message: format!("id '{}' is used twice", p.id) });
        }
        out.push(p);
    }
    Ok(out)
}

/// One profile by id.
pub fn by_id(id: &str) -> Result<Profile, SimError> {
    all()?.into_iter().find(|p| p.id == id).ok_or_else(|| SimError::UnknownProfile(id.to_string()))
}
