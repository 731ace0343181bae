//! The "Measure in this browser" panel: runs the chosen variants on the CPU (WebAssembly, one
//! thread, SIMD128) or the GPU (WebGPU) in the runtime worker with the engine's harness, and
//! shows cold and warm figures apart, with each variant's agreement with the fp32 original on
//! the CPU. Without a WebGPU adapter the panel says so and measures on the CPU.

use std::collections::BTreeSet;

use yew::prelude::*;

use super::view::error_box;
use super::{App, Busy, Msg, Place, format};
use crate::protocol::{MeasureOptions, Measurement};

/// The variants the panel offers, with what each is.
const VARIANTS: [(&str, &str); 3] = [
    ("fp32", "the original float32 model"),
    ("fp16", "weights stored as float16, computed in float32 (TFLite float16 weights)"),
    ("coreml-fp16", "weights and intermediates in float16 where an fp16 Core ML program keeps them"),
];

#[derive(Clone, PartialEq)]
pub struct MeasureState {
    /// "cpu" or "gpu".
    pub backend: String,
    pub variants: BTreeSet<String>,
    pub runs: usize,
    pub result: Option<Measurement>,
    /// (variant, stage, done, total) of the running measurement.
    pub progress: Option<(String, String, usize, usize)>,
}

impl Default for MeasureState {
    fn default() -> Self {
        // fp32 and fp16 by default; coreml-fp16 on request.
        MeasureState {
            backend: "cpu".into(),
            variants: VARIANTS[..2].iter().map(|v| v.0.to_string()).collect(),
            runs: 20,
            result: None,
            progress: None,
        }
    }
}

impl MeasureState {
    pub fn options(&self) -> MeasureOptions {
        // keep the panel's order: fp32 first, so the others are compared with it
        let variants = VARIANTS.iter().map(|v| v.0.to_string()).filter(|v| self.variants.contains(v)).collect();
        MeasureOptions { variants, runs: self.runs, warmup: 3, backend: self.backend.clone() }
    }
}

pub fn panel(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let m = &app.measure;
    let measuring = matches!(app.busy, Busy::Measuring { .. });
    let can_measure = !app.is_busy() && app.summary.is_some() && app.bridge.is_some();
    let status = match (&m.progress, measuring) {
        (Some((variant, stage, done, total)), true) => format!("{variant}: {stage} {done}/{total}"),
        (None, true) => "Starting…".into(),
        _ if app.summary.is_none() => "Load a model to measure it.".into(),
        _ => format!("{} variant{} chosen.", m.variants.len(), if m.variants.len() == 1 { "" } else { "s" }),
    };
    let fraction = m.progress.as_ref().filter(|_| measuring).map(|(_, _, d, t)| *d as f64 / (*t).max(1) as f64);
    html! {
        <section class="card measure" aria-labelledby="measure-h" data-testid="measure-panel">
            <h2 id="measure-h"><span class="step">{ "4" }</span>{ "Measure in this browser" }</h2>
            <p class="lede muted">{ "Runs each variant here, on the CPU (WebAssembly, one thread, SIMD) or the GPU (WebGPU), on deterministic sample inputs: load and first run (cold) apart from the warm runs, and how far each variant's outputs are from the original's on the CPU." }</p>
            <fieldset class="measure-opts" disabled={!can_measure}>
                <legend class="visually-hidden">{ "Measurement options" }</legend>
                <label class="field">
                    <span>{ "Run on" }</span>
                    <select data-testid="measure-backend"
                        onchange={link.callback(|e: Event| {
                            let backend = super::view::select_value(&e);
                            Msg::MeasureChoose(Box::new(move |s: &mut MeasureState| s.backend = backend))
                        })}>
                        <option value="cpu" selected={m.backend == "cpu"}>{ "CPU — WebAssembly, 1 thread, SIMD" }</option>
                        <option value="gpu" selected={m.backend == "gpu"}>{ "GPU — WebGPU (falls back to the CPU without an adapter)" }</option>
                    </select>
                </label>
                { for VARIANTS.iter().map(|(name, what)| {
                    let name = name.to_string();
                    let checked = m.variants.contains(&name);
                    let toggle = name.clone();
                    html! {
                        <label class="check" title={*what}>
                            <input type="checkbox" data-testid={format!("measure-variant-{name}")} checked={checked}
                                onchange={link.callback(move |_| {
                                    let v = toggle.clone();
                                    Msg::MeasureChoose(Box::new(move |s: &mut MeasureState| {
                                        if !s.variants.remove(&v) { s.variants.insert(v); }
                                    }))
                                })} />
                            <span>{ name }<small class="muted">{ format!(" — {what}") }</small></span>
                        </label>
                    }
                }) }
                <label class="field">
                    <span>{ "Timed runs" }</span>
                    <input type="number" min="1" max="1000" value={m.runs.to_string()} data-testid="measure-runs"
                        onchange={link.callback(|e: Event| {
                            let runs = super::view::input_value(&e).parse::<usize>().unwrap_or(20).clamp(1, 1000);
                            Msg::MeasureChoose(Box::new(move |s: &mut MeasureState| s.runs = runs))
                        })} />
                </label>
                <div class="sim-go">
                    <button type="button" class="primary" data-testid="measure-button" disabled={!can_measure || m.variants.is_empty()}
                        onclick={link.callback(|_| Msg::Measure)}>{ "Measure" }</button>

                    <span class="status" role="status" aria-live="polite" data-testid="measure-status">{ status }</span>
                </div>
            </fieldset>
            if let Some(f) = fraction {
                <div class="measure-running">
                    <progress class="measure-progress" max="1" value={f.to_string()} data-testid="measure-progress" />
                    <button type="button" data-testid="measure-cancel" onclick={link.callback(|_| Msg::Cancel)}>{ "Cancel" }</button>
                </div>
            }
            { error_box(app.error.as_ref(), Place::Measure) }
            <div class="measure-results" data-testid="measure-results" data-ready={m.result.is_some().to_string()}>
                if let Some(r) = &m.result {
                    { results(r) }
                } else {
                    <p class="placeholder">{ "Choose variants and press Measure: cold and warm latency per variant appear here." }</p>
                }
            </div>
        </section>
    }
}

fn results(r: &Measurement) -> Html {
    let gpu = r.backend == "gpu";
    html! {
        <>
        if let Some(why) = &r.fallback {
            <p class="notice" role="note" data-testid="measure-fallback">{ why }</p>
        }
        if let Some(a) = &r.adapter {
            { adapter_line(a) }
        }
        <table class="list measure-table" data-testid="measure-table">
            <thead><tr>
                <th scope="col">{ "variant" }</th>
                <th scope="col" class="num">{ "load" }</th>
                if gpu { <th scope="col" class="num" title="buffers, weight upload and compute pipelines">{ "pipelines" }</th> }
                <th scope="col" class="num">{ "first run (cold)" }</th>
                <th scope="col" class="num">{ "warm p50" }</th>
                <th scope="col" class="num">{ "p95" }</th>
                <th scope="col" class="num">{ "p99" }</th>
                <th scope="col" class="num">{ "mean ± std" }</th>
                <th scope="col" class="num">{ "memory" }</th>
                <th scope="col" class="num">{ "max |Δ| vs fp32" }</th>
                <th scope="col" class="num">{ "cosine vs fp32" }</th>
            </tr></thead>
            <tbody>
                { for r.variants.iter().map(|v| html! {
                    <tr data-testid="measure-row" data-variant={v.variant.clone()} data-p50={v.p50_ms.to_string()}
                        data-max-abs-error={v.max_abs_error.to_string()} data-cosine={v.cosine_similarity.to_string()}
                        data-reference-max-abs={v.reference_max_abs.to_string()} data-wall-p50={v.wall_p50_ms.to_string()}>
                        <th scope="row">{ &v.variant }</th>
                        <td class="num">{ format::ms(v.load_ms) }</td>
                        if gpu { <td class="num">{ format::ms(v.executor_ms) }</td> }
                        <td class="num">{ format::ms(v.first_run_ms) }</td>
                        <td class="num">{ format::ms(v.p50_ms) }</td>
                        <td class="num">{ format::ms(v.p95_ms) }</td>
                        <td class="num">{ format::ms(v.p99_ms) }</td>
                        <td class="num">{ format!("{} ± {}", format::ms(v.mean_ms), format::ms(v.std_ms)) }</td>
                        <td class="num">{ format::bytes(v.peak_memory_bytes) }</td>
                        <td class="num">{ format!("{:.3e}", v.max_abs_error) }</td>
                        <td class="num">{ format!("{:.6}", v.cosine_similarity) }</td>
                    </tr>
                }) }
            </tbody>
        </table>
        <p class="muted small" data-testid="measure-env" data-backend={r.backend.clone()} data-timing={r.timing.clone()}>
            { format!("{} runs per variant after 3 warm-up runs · {} · {}",
                r.variants.first().map_or(0, |v| v.runs),
                if gpu {
                    if r.timing == "gpu-timestamp" { "GPU, WebGPU, warm figures from GPU timestamps" } else { "GPU, WebGPU, warm figures from submit to readback" }
                } else { "CPU, WebAssembly, 1 thread" },
                r.user_agent) }
        </p>
        </>
    }
}

/// The WebGPU adapter as the report records it: name, vendor, architecture, fallback flag,
/// features and the limits that decide which models fit.
fn adapter_line(a: &serde_json::Value) -> Html {
    let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let fallback = a.get("fallback").and_then(|v| v.as_bool()).unwrap_or(false);
    let limit = |k: &str| a.get("limits").and_then(|l| l.get(k)).and_then(|v| v.as_u64()).unwrap_or(0);
    let features: Vec<String> =
        a.get("features").and_then(|f| f.as_array()).map(|f| f.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default();
    let parts = [
        text("name"),
        text("vendor"),
        text("architecture"),
        if fallback { "software fallback adapter".into() } else { String::new() },
        if features.is_empty() { String::new() } else { features.join(", ") },
        format!("storage binding ≤ {}", format::bytes(limit("max_storage_buffer_binding_size"))),
    ];
    let line = parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" · ");
    html! { <p class="muted small" data-testid="measure-adapter" data-fallback={fallback.to_string()}>{ format!("Adapter: {line}") }</p> }
}
