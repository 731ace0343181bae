//! The page's markup. Every region keeps its place whether or not it has content yet, so nothing
//! jumps when a model loads; `data-testid`s are the hooks the browser test uses.

use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::format;
use super::{App, Busy, Choices, Msg, Outcome, Place, Shown, fidelity, measure, quantize, shared, simulate};
use crate::protocol::{ErrorInfo, Format, Ios, Precision, StageName, Summary};

pub fn page(app: &App, ctx: &Context<App>) -> Html {
    html! {
        <>
        <header class="top">
            <div class="brand">
                <img src="favicon.svg" alt="" width="28" height="28" />
                <span class="name">{ "edgeport" }</span>
            </div>
            <p class="tagline">{ "ONNX to TensorFlow Lite and Core ML, converted in this tab." }</p>
            <p class="privacy" data-testid="privacy">{ "Private: your model never leaves the browser" }</p>
        </header>
        <div class="banner-slot">{ shared::banner(app, ctx) }</div>
        <main class="layout" data-engine={if app.worker_ready { "ready" } else { "loading" }}>
            <div class="col">
                { model_card(app, ctx) }
                { target_card(app, ctx) }
            </div>
            <div class="col">
                { summary_card(app) }
                { result_card(app) }
            </div>
            <div class="wide">{ fidelity::panel(app, ctx) }</div>
            <div class="wide">{ simulate::panel(app, ctx) }</div>
            <div class="wide">{ measure::panel(app, ctx) }</div>
        </main>
        <footer class="foot">
            { format!("edgeport {} · WebAssembly in a Web Worker · no uploads, no tracking", env!("CARGO_PKG_VERSION")) }
        </footer>
        </>
    }
}

fn model_card(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let busy = app.is_busy();
    let on_change = link.callback(|e: Event| {
        let input: Option<web_sys::HtmlInputElement> = e.target().and_then(|t| t.dyn_into().ok());
        let file = input.as_ref().and_then(|i| i.files()).and_then(|f| f.get(0));
        // Clear the value so choosing the same file again still fires `change`.
        if let Some(i) = &input {
            i.set_value("");
        }
        Msg::Files(file)
    });
    let on_drop = link.callback(|e: DragEvent| {
        e.prevent_default();
        Msg::Files(e.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)))
    });
    let on_drag_over = link.callback(|e: DragEvent| {
        e.prevent_default();
        Msg::Drag(true)
    });
    let on_drag_leave = link.callback(|_: DragEvent| Msg::Drag(false));
    // The picker opens inside the event handler itself: browsers open it only while the user's
    // click or key press is still being handled.
    let input = app.file_input.clone();
    let pick = move || {
        if let Some(i) = input.cast::<web_sys::HtmlInputElement>() {
            i.click();
        }
    };
    let on_click = {
        let pick = pick.clone();
        Callback::from(move |_: MouseEvent| pick())
    };
    let on_key = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" || e.key() == " " {
            e.prevent_default();
            pick();
        }
    });
    let zone_class = classes!("drop", app.dragging.then_some("over"), busy.then_some("disabled"));
    let file_line = match (&app.model, app.busy) {
        (_, Busy::Reading) => html! { <span class="file muted">{ "Reading…" }</span> },
        (Some(m), Busy::Inspecting { .. }) => {
            html! { <span class="file">{ format!("{} · {} — reading the graph…", m.name, format::bytes(m.size)) }</span> }
        }
        (Some(m), _) => html! { <span class="file" data-testid="model-name">{ format!("{} · {}", m.name, format::bytes(m.size)) }</span> },
        (None, _) => html! { <span class="file muted">{ "No model yet" }</span> },
    };
    html! {
        <section class="card" aria-labelledby="model-h">
            <h2 id="model-h"><span class="step">{ "1" }</span>{ "Model" }</h2>
            <div class={zone_class} role="button" tabindex="0" aria-describedby="drop-help"
                data-testid="dropzone" aria-disabled={busy.to_string()}
                onclick={on_click} onkeydown={on_key} ondrop={on_drop} ondragover={on_drag_over}
                ondragenter={link.callback(|e: DragEvent| { e.prevent_default(); Msg::Drag(true) })}
                ondragleave={on_drag_leave}>
                <svg class="drop-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3v12m0-12 4.5 4.5M12 3 7.5 7.5M4 15v4a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-4" /></svg>
                <span class="drop-main">{ "Drop an " }<code>{ ".onnx" }</code>{ " file here" }</span>
                <span id="drop-help" class="drop-sub">{ "or press to choose one · read locally, never uploaded" }</span>
            </div>
            <input ref={app.file_input.clone()} id="file" class="visually-hidden" type="file" accept=".onnx,application/octet-stream"
                data-testid="file-input" tabindex="-1" aria-hidden="true" onchange={on_change} disabled={busy} />
            <div class="model-row">
                { file_line }
                <button type="button" class="secondary" data-testid="sample" disabled={busy}
                    onclick={link.callback(|_| Msg::Sample)}>{ "Try the sample model" }</button>
            </div>
            { error_box(app.error.as_ref(), Place::Model) }
        </section>
    }
}

fn target_card(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let c = &app.choices;
    let busy = app.is_busy();
    let converting = matches!(app.busy, Busy::Converting { .. } | Busy::Fidelity { .. });
    let inspecting = matches!(app.busy, Busy::Inspecting { .. });
    let can_convert = !busy && app.summary.is_some() && app.bridge.is_some();
    let choose = |f: fn(&mut Choices)| link.callback(move |_: Event| Msg::Choose(Box::new(f)));
    let on_nhwc = link.callback(|e: Event| {
        let on = checked(&e);
        Msg::Choose(Box::new(move |c: &mut Choices| c.nhwc_io = on))
    });
    let on_ios = link.callback(|e: Event| {
        let v = select_value(&e);
        Msg::Choose(Box::new(move |c: &mut Choices| c.coreml_target = Ios::from_key(&v).unwrap_or_default()))
    });
    let on_shapes = link.callback(|e: InputEvent| {
        let v = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).map(|i| i.value()).unwrap_or_default();
        Msg::Choose(Box::new(move |c: &mut Choices| c.shapes = v))
    });
    let needs_shape = app.error.as_ref().and_then(|s| s.error.dynamic_input.clone());
    let shape_hint = match (&needs_shape, &app.summary) {
        (Some(name), _) => format!("{name}=1,…"),
        (None, Some(s)) => s.inputs.iter().map(|i| format::shape_arg(&i.name, &i.shape)).collect::<Vec<_>>().join("; "),
        (None, None) => "x=1,3,224,224".into(),
    };
    let tflite = c.target == Format::Tflite;
    let coreml = c.target == Format::Coreml;
    let onnx = c.target == Format::Onnx;
    html! {
        <section class="card" aria-labelledby="target-h">
            <h2 id="target-h"><span class="step">{ "2" }</span>{ "Target" }</h2>
            <fieldset class="targets" data-testid="target-select" disabled={busy}>
                <legend class="visually-hidden">{ "Output format" }</legend>
                <label class={classes!("choice", tflite.then_some("on"))}>
                    <input type="radio" name="target" value="tflite" data-testid="target-tflite" checked={tflite}
                        onchange={choose(|c| c.target = Format::Tflite)} />
                    <span class="choice-title">{ "TensorFlow Lite (.tflite)" }</span>
                    <span class="choice-sub">{ "Android, Linux, microcontrollers · float32" }</span>
                </label>
                <label class={classes!("choice", coreml.then_some("on"))}>
                    <input type="radio" name="target" value="coreml" data-testid="target-coreml" checked={coreml}
                        onchange={choose(|c| c.target = Format::Coreml)} />
                    <span class="choice-title">{ "Core ML (.mlpackage)" }</span>
                    <span class="choice-sub">{ "iPhone, iPad, Mac · ML Program, downloaded as .zip" }</span>
                </label>
                <label class={classes!("choice", onnx.then_some("on"))}>
                    <input type="radio" name="target" value="onnx" data-testid="target-onnx" checked={onnx}
                        onchange={choose(|c| c.target = Format::Onnx)} />
                    <span class="choice-title">{ "ONNX (.onnx)" }</span>
                    <span class="choice-sub">{ "ONNX Runtime · the optimized graph, or int8 as QDQ" }</span>
                </label>
            </fieldset>
            <fieldset class="options" data-testid="options" disabled={busy}>
                <legend class="visually-hidden">{ "Options" }</legend>
                <div class="opt-slot">
                if tflite {
                    <label class="check">
                        <input type="checkbox" data-testid="opt-nhwc" checked={c.nhwc_io} onchange={on_nhwc} />
                        <span>{ "NHWC interface" }<span class="muted">{ " — image inputs and outputs channels-last, as TFLite apps expect" }</span></span>
                    </label>
                    { quantize::quantization(app, ctx) }
                } else if onnx {
                    { quantize::quantization(app, ctx) }
                } else {
                    <div class="row">
                        <label class="field">
                            <span>{ "Deployment target" }</span>
                            <select data-testid="opt-coreml-target" onchange={on_ios}>
                                { for Ios::ALL.into_iter().map(|i| html! {
                                    <option value={i.key()} selected={i == c.coreml_target}>{ i.label() }</option>
                                }) }
                            </select>
                        </label>
                        <div class="field" role="radiogroup" aria-label="Precision" data-testid="opt-precision">
                            <span>{ "Precision" }</span>
                            <div class="seg">
                                <label class={classes!(matches!(c.precision, Precision::Fp16).then_some("on"))}>
                                    <input type="radio" name="precision" value="fp16" data-testid="opt-fp16"
                                        checked={matches!(c.precision, Precision::Fp16)} onchange={choose(|c| c.precision = Precision::Fp16)} />
                                    { "fp16" }
                                </label>
                                <label class={classes!(matches!(c.precision, Precision::Fp32).then_some("on"))}>
                                    <input type="radio" name="precision" value="fp32" data-testid="opt-fp32"
                                        checked={matches!(c.precision, Precision::Fp32)} onchange={choose(|c| c.precision = Precision::Fp32)} />
                                    { "fp32" }
                                </label>
                            </div>
                        </div>
                    </div>
                    { quantize::coreml(app, ctx) }
                }
                </div>
                <div class={classes!("field", "shapes", needs_shape.is_some().then_some("attention"))}>
                    <label for="shapes">{ "Input shapes" }<span class="muted">{ " — only for inputs with open dims; separate inputs with ;" }</span></label>
                    <div class="inline">
                        <input id="shapes" type="text" spellcheck="false" autocomplete="off" data-testid="opt-input-shapes"
                            placeholder={shape_hint} value={c.shapes.clone()} oninput={on_shapes} />
                        <button type="button" class="secondary" data-testid="apply-shapes" disabled={busy || app.model.is_none()}
                            onclick={link.callback(|_| Msg::ApplyShapes)}>{ "Apply" }</button>
                    </div>
                </div>
            </fieldset>
            <div class="actions">
                <button type="button" class="primary" data-testid="convert" disabled={!can_convert}
                    onclick={link.callback(|_| Msg::Convert)}>{ match c.target {
                    Format::Tflite => "Convert to .tflite",
                    Format::Coreml => "Convert to .mlpackage",
                    Format::Onnx => "Convert to .onnx",
                } }</button>
                <button type="button" class="secondary" data-testid="cancel" disabled={!(converting || inspecting)}
                    onclick={link.callback(|_| Msg::Cancel)}>{ "Cancel" }</button>
                <span class="status" role="status" aria-live="polite" data-testid="status">{ status_text(app) }</span>
            </div>
            { progress(app) }
            { error_box(app.error.as_ref(), Place::Convert) }
        </section>
    }
}

fn status_text(app: &App) -> String {
    match app.busy {
        Busy::Reading => "Reading the file…".into(),
        Busy::Inspecting { .. } => "Inspecting the model…".into(),
        Busy::Converting { stage: Some(s), .. } => format!("{}…", s.label()),
        Busy::Converting { stage: None, .. } => "Starting…".into(),
        Busy::Simulating { .. } => "Simulating…".into(),
        Busy::Measuring { .. } => "Measuring in this browser…".into(),
        Busy::Fidelity { .. } => "Comparing with the original…".into(),
        Busy::Idle => {
            if let Some(n) = &app.notice {
                n.clone()
            } else if let Some(o) = &app.outcome {
                format!("Converted in {:.2} s.", o.seconds)
            } else if app.model.is_none() {
                "Choose a model to begin.".into()
            } else if app.summary.is_some() && app.outcome.is_none() {
                "Ready to convert.".into()
            } else {
                String::new()
            }
        }
    }
}

/// The four stages, always drawn (grey until reached) so the card keeps its height.
fn progress(app: &App) -> Html {
    let current = match app.busy {
        Busy::Converting { stage, .. } => stage,
        _ => None,
    };
    let failed = app.error.as_ref().is_some_and(|s| s.place == Place::Convert);
    html! {
        <ol class="stages" data-testid="progress" aria-label="Conversion progress">
            { for StageName::ALL.iter().map(|&s| {
                let state = if current == Some(s) {
                    "active"
                } else if app.reached.contains(&s) {
                    if failed && app.reached.last() == Some(&s) { "failed" } else { "done" }
                } else {
                    "pending"
                };
                html! {
                    <li class={classes!("stage", state)} data-testid={format!("stage-{}", s.key())} data-state={state}>
                        <span class="dot" aria-hidden="true"></span>
                        <span>{ s.label() }</span>
                        <span class="visually-hidden">{ format!(" ({state})") }</span>
                    </li>
                }
            }) }
        </ol>
    }
}

fn summary_card(app: &App) -> Html {
    let body = match (&app.summary, &app.model) {
        (Some(s), Some(m)) => summary_body(s, m.size),
        _ => {
            let text = match app.busy {
                Busy::Reading | Busy::Inspecting { .. } => "Reading the model…",
                _ => "Inputs, outputs, operators, parameters and compute appear here once a model is loaded.",
            };
            html! { <p class="placeholder">{ text }</p> }
        }
    };
    html! {
        <section class="card summary" aria-labelledby="summary-h" data-testid="summary" data-ready={app.summary.is_some().to_string()}>
            <h2 id="summary-h">{ "Model summary" }</h2>
            { body }
        </section>
    }
}

fn summary_body(s: &Summary, file_size: u64) -> Html {
    let io_rows = |list: &[crate::protocol::Io]| -> Html {
        list.iter()
            .map(|io| html! { <tr><td><code>{ &io.name }</code></td><td>{ &io.dtype }</td><td class="mono">{ format::shape(&io.shape) }</td></tr> })
            .collect()
    };
    let opsets: Vec<String> = s.opsets.iter().map(|(d, v)| format!("{} {v}", if d.is_empty() { "ai.onnx" } else { d })).collect();
    let total_ops: usize = s.ops.iter().map(|(_, n)| n).sum();
    html! {
        <>
        <dl class="facts">
            <div><dt>{ "Parameters" }</dt><dd data-testid="params">{ format::count(s.params as u64) }</dd></div>
            <div><dt>{ "Weights" }</dt><dd>{ format::bytes(s.param_bytes as u64) }</dd></div>
            <div><dt>{ "FLOPs" }</dt><dd title={format!("{} FLOPs, {} MACs", format::grouped(s.flops), format::grouped(s.macs))}>{ format::count(s.flops) }</dd></div>
            <div><dt title="Peak memory of live activations">{ "Peak memory" }</dt><dd>{ format::bytes(s.peak_activation_bytes) }</dd></div>
        </dl>
        <table class="list io">
            <caption>{ "Interface" }</caption>
            <thead><tr><th>{ "name" }</th><th>{ "dtype" }</th><th>{ "shape" }</th></tr></thead>
            <tbody>
                <tr class="group"><th colspan="3">{ "inputs" }</th></tr>
                { io_rows(&s.inputs) }
                <tr class="group"><th colspan="3">{ "outputs" }</th></tr>
                { io_rows(&s.outputs) }
            </tbody>
        </table>
        <details class="ops" open={s.ops.len() <= 12}>
            <summary>{ format!("Operators: {} nodes, {} types", total_ops, s.ops.len()) }</summary>
            <ul class="histogram" data-testid="op-histogram">
                { for s.ops.iter().map(|(op, n)| html! { <li><span>{ op }</span><span class="num">{ n }</span></li> }) }
            </ul>
        </details>
        <p class="meta muted">
            { format!("{} · {} MACs · {} compute nodes · ONNX IR {} · {}{}", format::bytes(file_size), format::count(s.macs), s.compute_nodes, s.ir_version, opsets.join(", "),
                if s.producer.is_empty() { String::new() } else { format!(" · {}", s.producer) }) }
        </p>
        </>
    }
}

fn result_card(app: &App) -> Html {
    let body = match &app.outcome {
        Some(o) => result_body(o, app),
        None => html! { <p class="placeholder">{ "The converted file appears here, with its size and SHA-256." }</p> },
    };
    html! {
        <section class="card result" aria-labelledby="result-h" data-testid="result" data-ready={app.outcome.is_some().to_string()}>
            <h2 id="result-h">{ "Result" }</h2>
            { body }
        </section>
    }
}

fn result_body(o: &Outcome, app: &App) -> Html {
    let kind = match o.target {
        Format::Tflite => "TensorFlow Lite model",
        Format::Coreml => "Core ML package (zip of the .mlpackage folder)",
        Format::Onnx => "ONNX model (opset 21)",
    };
    html! {
        <>
        <a class="download" href={o.url.clone()} download={o.file_name.clone()} data-testid="download"
            data-sha256={o.sha256.clone()} data-size={o.size.to_string()}>
            <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 4v11m0 0 4.5-4.5M12 15l-4.5-4.5M4 17v2a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-2" /></svg>
            <span>{ format!("Download {}", o.file_name) }</span>
        </a>
        <dl class="kv">
            <dt>{ "Format" }</dt><dd>{ kind }</dd>
            <dt>{ "Size" }</dt><dd>{ format!("{} ({} bytes)", format::bytes(o.size as u64), format::grouped(o.size as u64)) }</dd>
            <dt>{ "SHA-256" }</dt><dd><code class="hash" data-testid="sha256">{ &o.sha256 }</code></dd>
            <dt>{ "Structure" }</dt><dd data-testid="verified">{ format!("✓ {}", o.verified) }</dd>
            <dt>{ "Numeric check" }</dt><dd class="muted">{ numeric_check(app) }</dd>
            <dt>{ "Time" }</dt><dd>{ format!("{:.2} s in WebAssembly", o.seconds) }</dd>
        </dl>
        </>
    }
}

fn numeric_check(app: &App) -> String {
    match (&app.fidelity, app.busy) {
        (_, Busy::Fidelity { .. }) => "Comparing with the original on the CPU…".into(),
        (Some(f), _) => match f.report.worst() {
            Some(w) => format!("{}: worst output cosine {:.6}, max |Δ| {:.3e}; layers under Fidelity", f.report.variant, w.cosine_similarity, w.max_abs_error),
            None => "See Fidelity below.".into(),
        },
        (None, _) => "Float weights: measure the variants below to compare outputs with the original.".into(),
    }
}

/// The error for `place`, in plain words first and the engine's own message after.
pub(super) fn error_box(shown: Option<&Shown>, place: Place) -> Html {
    let Some(Shown { error, .. }) = shown.filter(|s| s.place == place) else { return html! {} };
    let (title, hint) = headline(error);
    html! {
        <div class="error" role="alert" data-testid="error" data-code={error.code.clone()}>
            <p class="error-title">{ title }</p>
            if let Some(h) = hint { <p>{ h }</p> }
            <p class="error-detail">{ &error.message }</p>
            if !error.nodes.is_empty() {
                <p>{ format!("{} node{} cannot be converted:", error.nodes.len(), if error.nodes.len() == 1 { "" } else { "s" }) }</p>
                <ul class="nodes" data-testid="error-nodes">
                    { for error.nodes.iter().map(|n| html! {
                        <li data-node={n.name.clone()}>
                            <code>{ if n.name.is_empty() { "(unnamed)" } else { &n.name } }</code>
                            { format!(" — {}", n.op) }
                            if !n.reason.is_empty() { <span class="muted">{ format!(": {}", n.reason) }</span> }
                        </li>
                    }) }
                </ul>
            }
        </div>
    }
}

fn headline(e: &ErrorInfo) -> (String, Option<String>) {
    if let Some(input) = &e.dynamic_input {
        return (
            format!("Input '{input}' has an open dimension."),
            Some("Give every input a fixed shape under Target → Input shapes (for example x=1,3,224,224), then press Apply.".into()),
        );
    }
    let title = match e.code.as_str() {
        "invalid_model" if e.message.contains("empty") => "This file is empty.",
        "invalid_model" => "This file is not a valid ONNX model.",
        "unsupported" => "This model uses something edgeport cannot convert yet.",
        "limit_exceeded" => "This model is larger than edgeport accepts.",
        "invalid_options" => "These options do not fit this model.",
        "model_mismatch" => "This is not the model of the shared report.",
        "io" => "The file could not be read.",
        _ => "Something went wrong inside edgeport.",
    };
    let hint = match e.code.as_str() {
        "invalid_model" => Some("Export the model again as .onnx (for example with torch.onnx.export) and drop the new file."),
        "internal" => Some("This is a bug in edgeport; the page still works, so you can try again or another model."),
        "model_mismatch" => Some("Drop the same file to re-run the report, or close the shared report to work on this model."),
        _ => None,
    };
    (title.to_string(), hint.map(str::to_string))
}

fn checked(e: &Event) -> bool {
    e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).is_some_and(|i| i.checked())
}

pub(super) fn input_value(e: &Event) -> String {
    e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).map(|i| i.value()).unwrap_or_default()
}

pub(super) fn select_value(e: &Event) -> String {
    e.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()).map(|s| s.value()).unwrap_or_default()
}
