//! The adapter and device: opened once, shared by every session on it.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::GpuError;

/// What the measurement report says about the adapter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdapterSummary {
    pub name: String,
    /// PCI vendor id natively (hex), or the browser's `GPUAdapterInfo.vendor`.
    pub vendor: String,
    /// The browser's `GPUAdapterInfo.architecture`, or the native device type.
    pub architecture: String,
    pub driver: String,
    /// vulkan, metal, dx12 or webgpu.
    pub backend: String,
    /// A software (CPU) implementation: lavapipe, SwiftShader, WARP.
    pub fallback: bool,
    /// `shader-f16`, `timestamp-query` when the adapter has them.
    pub features: Vec<String>,
    pub limits: AdapterLimits,
}

/// The limits that decide which models fit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdapterLimits {
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
}

/// An open device and what went wrong on it outside error scopes.
#[derive(Clone)]
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) timestamps: bool,
    pub(crate) shader_f16: bool,
    summary: AdapterSummary,
    uncaptured: Arc<Mutex<Vec<String>>>,
    lost: Arc<Mutex<Option<String>>>,
}

impl Gpu {
    /// Opens the first adapter (a high-performance one if there is a choice) with its own
    /// limits, so large models fit where the hardware allows.
    pub async fn open() -> Result<Gpu, GpuError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = if cfg!(target_arch = "wasm32") {
            wgpu::Backends::BROWSER_WEBGPU
        } else {
            wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12
        };
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let available = adapter.features();
        let wanted = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16;
        let features = available & wanted;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("edgeport"),
                required_features: features,
                required_limits: limits.clone(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let info = adapter.get_info();
        let mut names = Vec::new();
        if features.contains(wgpu::Features::SHADER_F16) {
            names.push("shader-f16".to_string());
        }
        if features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            names.push("timestamp-query".to_string());
        }
        let summary = AdapterSummary {
            name: info.name.clone(),
            vendor: if info.vendor == 0 {
                String::new()
            } else {
                format!("0x{:04x}", info.vendor)
            },
            architecture: format!("{:?}", info.device_type).to_lowercase(),
            driver: [info.driver.as_str(), info.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            backend: info.backend.to_str().to_string(),
            fallback: info.device_type == wgpu::DeviceType::Cpu,
            features: names,
            limits: AdapterLimits {
                max_buffer_size: limits.max_buffer_size,
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
                max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            },
        };
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut l) = lost_sink.lock() {
                *l = Some(format!("{reason:?}: {message}"));
            }
        });
        Ok(Gpu {
            device,
            queue,
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            summary,
            uncaptured,
            lost,
        })
    }

    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// Adds what only the browser knows (`GPUAdapterInfo.vendor` and `.architecture`).
    pub fn describe(&mut self, vendor: &str, architecture: &str) {
        if !vendor.is_empty() {
            self.summary.vendor = vendor.to_string();
        }
        if !architecture.is_empty() {
            self.summary.architecture = architecture.to_string();
        }
    }

    /// Gives the device up now (the browser may do the same at any time): every later run on
    /// it fails with [`GpuError::Lost`].
    pub fn destroy(&self) {
        self.device.destroy();
    }

    /// Errors raised outside any error scope, and device loss, since the last call.
    pub(crate) fn check(&self) -> Result<(), GpuError> {
        if let Some(reason) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(GpuError::Lost(reason));
        }
        let errors: Vec<String> = self
            .uncaptured
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        match errors.into_iter().next() {
            Some(e) if e.to_lowercase().contains("out of memory") => Err(GpuError::OutOfMemory(e)),
            Some(e) => Err(GpuError::Runtime(e)),
            None => Ok(()),
        }
    }

    /// Waits for submitted work natively (the browser runs it on its own).
    pub(crate) fn wait(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}
