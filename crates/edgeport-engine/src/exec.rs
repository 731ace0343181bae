//! The executors behind a [`crate::runtime::Runner`]: edgeport-cpu always, edgeport-gpu with
//! the `gpu` feature. GPU work is asynchronous (the browser hands results back through its
//! event loop), so the common interface is async; natively, and for the CPU everywhere, the
//! futures complete at once and [`block_on`] drives them.

use std::future::Future;

use edgeport_ir::{Graph, Tensor, TensorType};

use crate::EngineError;
use crate::runtime::{Backend, Environment};

pub(crate) enum Exec {
    Cpu(edgeport_cpu::Session),
    #[cfg(feature = "gpu")]
    Gpu(Box<edgeport_gpu::Session>),
}

/// Outputs of one run, with the GPU's own time for it when the adapter has timestamps.
pub(crate) struct Timed {
    pub outputs: Vec<Tensor>,
    pub gpu_ms: Option<f64>,
}

impl Exec {
    /// `cpu`: how the CPU session runs the variant (its float16 nodes and the int8 rounding it
    /// simulates); the GPU takes the float16 nodes. `f16_weights`: the variant's float weights
    /// are float16 values (fp16 variants), so the GPU may store them as float16.
    pub async fn create(
        graph: &Graph,
        backend: Backend,
        cpu: edgeport_cpu::SessionOptions,
        f16_weights: bool,
    ) -> Result<Exec, EngineError> {
        if (cpu.int8_values || cpu.hybrid_nodes.is_some()) && backend != Backend::Cpu {
            return Err(EngineError::options("int8 models are simulated on the cpu backend; use --backend cpu"));
        }
        match backend {
            Backend::Cpu => {
                let _ = f16_weights;
                Ok(Exec::Cpu(edgeport_cpu::Session::new(graph, &cpu)?))
            }
            #[cfg(feature = "gpu")]
            Backend::Gpu => {
                let gpu = gpu::shared().await?;
                let options = edgeport_gpu::SessionOptions { f16_nodes: cpu.f16_nodes, f16_weights };
                match edgeport_gpu::Session::new(&gpu, graph, &options).await {
                    Ok(s) => Ok(Exec::Gpu(Box::new(s))),
                    Err(e) => {
                        gpu::forget_if_lost(&e);
                        Err(e.into())
                    }
                }
            }
            #[cfg(not(feature = "gpu"))]
            Backend::Gpu => Err(EngineError::new(
                crate::ErrorCode::Unsupported,
                "the gpu backend is not available in this build; use --backend cpu",
            )),
        }
    }

    pub fn inputs(&self) -> Vec<(&str, &TensorType)> {
        match self {
            Exec::Cpu(s) => s
                .inputs()
                .iter()
                .map(|p| (p.name.as_str(), &p.ty))
                .collect(),
            #[cfg(feature = "gpu")]
            Exec::Gpu(s) => s
                .inputs()
                .iter()
                .map(|p| (p.name.as_str(), &p.ty))
                .collect(),
        }
    }

    pub fn output_names(&self) -> Vec<&str> {
        match self {
            Exec::Cpu(s) => s.outputs().iter().map(|p| p.name.as_str()).collect(),
            #[cfg(feature = "gpu")]
            Exec::Gpu(s) => s.outputs().iter().map(|p| p.name.as_str()).collect(),
        }
    }

    pub async fn run(&mut self, inputs: &[Tensor]) -> Result<Timed, EngineError> {
        match self {
            Exec::Cpu(s) => Ok(Timed {
                outputs: s.run(inputs)?,
                gpu_ms: None,
            }),
            #[cfg(feature = "gpu")]
            Exec::Gpu(s) => match s.run(inputs).await {
                Ok(r) => Ok(Timed {
                    outputs: r.outputs,
                    gpu_ms: r.gpu_ms,
                }),
                Err(e) => {
                    gpu::forget_if_lost(&e);
                    Err(e.into())
                }
            },
        }
    }

    pub fn memory_plan(&self) -> edgeport_cpu::MemoryPlan {
        match self {
            Exec::Cpu(s) => s.memory_plan().clone(),
            #[cfg(feature = "gpu")]
            Exec::Gpu(s) => {
                let p = s.plan();
                edgeport_cpu::MemoryPlan {
                    arena_bytes: p.arena_bytes,
                    unshared_bytes: p.arena_bytes,
                    weights_bytes: p.weights_bytes,
                    steps: p.steps,
                }
            }
        }
    }

    /// Adds the adapter to a measurement's environment (gpu backend).
    pub fn describe(&self, environment: &mut Environment) {
        #[cfg(feature = "gpu")]
        if let Exec::Gpu(_) = self {
            environment.adapter = gpu::summary().and_then(|s| serde_json::to_value(s).ok());
        }
        let _ = environment;
    }
}

#[cfg(feature = "gpu")]
pub mod gpu {
    //! One device per thread, opened on first use and kept (the browser's worker and the CLI
    //! each have one thread running models); dropped when it is lost so the next load opens
    //! a fresh one.
    use std::cell::RefCell;

    use edgeport_gpu::{AdapterSummary, Gpu, GpuError};

    thread_local! {
        static SHARED: RefCell<Option<Gpu>> = const { RefCell::new(None) };
    }

    pub async fn shared() -> Result<Gpu, GpuError> {
        if let Some(g) = SHARED.with(|s| s.borrow().clone()) {
            return Ok(g);
        }
        let g = Gpu::open().await?;
        SHARED.with(|s| *s.borrow_mut() = Some(g.clone()));
        Ok(g)
    }

    /// The open device's adapter, if one is open.
    pub fn summary() -> Option<AdapterSummary> {
        SHARED.with(|s| s.borrow().as_ref().map(|g| g.summary().clone()))
    }

    /// Records what only the browser's JavaScript API tells (vendor, architecture).
    pub fn describe(vendor: &str, architecture: &str) {
        SHARED.with(|s| {
            if let Some(g) = s.borrow_mut().as_mut() {
                g.describe(vendor, architecture);
            }
        });
    }

    pub(crate) fn forget_if_lost(e: &GpuError) {
        if matches!(e, GpuError::Lost(_) | GpuError::OutOfMemory(_)) {
            SHARED.with(|s| *s.borrow_mut() = None);
        }
    }
}

/// Drives a future that needs no event loop: natively any (wgpu's native futures complete
/// once the device is polled), in the browser only those that are ready at once (CPU work).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, EngineError> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        Ok(pollster::block_on(future))
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => Ok(v),
            std::task::Poll::Pending => Err(EngineError::new(
                crate::ErrorCode::Internal,
                "GPU work in the browser goes through the async API (load_async, bench_async)",
            )),
        }
    }
}
