//! Share links in the page: making one from the current model, conversion, simulation and
//! measurement; opening one (`#r=...` at load) as a read-only report; and, when the same model
//! is dropped, redoing the recorded conversion and simulation (saying whether they came out the
//! same) and measuring again here, beside the recorded figures.

use yew::prelude::*;

use super::quantize::QuantChoices;
use super::simulate::SimChoices;
use super::{App, Busy, Choices, Msg, Place, Shown, fidelity, format};
use crate::protocol::{ErrorInfo, Options, Summary};
use crate::share::{self, ModelRecord, ShareRecord, SharedSimulation};

/// Where a re-run stands for one part of the record.
#[derive(Clone, PartialEq)]
pub enum Check {
    /// Nothing to compare (the link has no such part).
    Absent,
    Waiting,
    Running,
    Same,
    Differs(String),
    /// Measured again here (measurements are compared, not expected to be equal).
    Remeasured,
    Stopped(String),
}

impl Check {
    fn state(&self) -> &'static str {
        match self {
            Check::Absent => "absent",
            Check::Waiting => "waiting",
            Check::Running => "running",
            Check::Same => "identical",
            Check::Differs(_) => "different",
            Check::Remeasured => "remeasured",
            Check::Stopped(_) => "stopped",
        }
    }
}

pub struct SharedView {
    pub record: ShareRecord,
    pub conversion: Check,
    pub simulation: Check,
    pub measurement: Check,
}

impl SharedView {
    fn new(record: ShareRecord) -> SharedView {
        let waiting = |present: bool| if present { Check::Waiting } else { Check::Absent };
        SharedView {
            conversion: waiting(record.conversion.is_some()),
            simulation: waiting(record.simulation.is_some()),
            measurement: waiting(record.measured.iter().any(|m| m.backend == "cpu")),
            record,
        }
    }

    /// A re-run failed or was cancelled: what was running stops with the reason.
    pub fn stop_check(&mut self, why: &str) {
        for c in [&mut self.conversion, &mut self.simulation, &mut self.measurement] {
            if *c == Check::Running {
                *c = Check::Stopped(why.to_string());
            }
        }
    }
}

impl App {
    /// Reads `#r=...` from the page's address, once at start.
    pub(super) fn open_link_in_url(&mut self) {
        let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
        if !hash.starts_with(&format!("#{}", share::FRAGMENT_KEY)) {
            return;
        }
        match share::decode(&hash) {
            Ok(record) => {
                if let Some(sim) = &record.simulation {
                    self.sim.selected = sim.report.best.first().map(|b| (b.profile.clone(), b.unit.clone()));
                    self.sim.choices = SimChoices::from_report(&sim.report.options);
                }
                self.shared = Some(SharedView::new(record));
            }
            Err(e) => self.link_error = Some(e),
        }
    }

    /// Before a model dropped under a shared report is read: take the recorded options.
    pub(super) fn apply_shared_options(&mut self) {
        let Some(shared) = &mut self.shared else { return };
        *shared = SharedView::new(shared.record.clone());
        let record = &shared.record;
        let import = record.simulation.as_ref().map(|s| &s.options).or(record.conversion.as_ref().map(|c| &c.options));
        if let Some(o) = import {
            self.choices.shapes = shapes_text(o);
        }
        if let Some(c) = &record.conversion {
            let o = &c.options;
            self.choices = Choices {
                target: o.to,
                nhwc_io: o.nhwc_io,
                quant: QuantChoices::from_options(o),
                coreml_target: o.coreml_target.unwrap_or(self.choices.coreml_target),
                precision: o.precision.unwrap_or(self.choices.precision),
                shapes: shapes_text(o),
            };
        }
        if let Some(s) = &record.simulation {
            self.sim.choices = SimChoices::from_report(&s.report.options);
        }
        // Re-measured on the backend the link recorded (WebGPU falls back to the CPU here if
        // this browser has no adapter, and the table says so).
        if let Some(m) = record.measured.first() {
            self.measure.backend = m.backend.clone();
            self.measure.variants = m.variants.iter().map(|v| v.variant.clone()).collect();
            self.measure.runs = m.variants.first().map_or(self.measure.runs, |v| v.runs);
        }
    }

    /// A dropped model must be the one the shared report was made from.
    pub(super) fn check_shared_model(&self, summary: &Summary) -> Result<(), ErrorInfo> {
        let Some(shared) = &self.shared else { return Ok(()) };
        let want = &shared.record.model;
        if summary.sha256 == want.sha256 {
            return Ok(());
        }
        let mut e = ErrorInfo::new(
            "model_mismatch",
            format!(
                "The shared report is for {} (sha256 {}); the file you gave has sha256 {}.",
                want.name, want.sha256, summary.sha256
            ),
        );
        e.nodes.clear();
        Err(e)
    }

    /// Moves the re-run of a shared report one step on: conversion, simulation, measurement.
    pub(super) fn continue_shared_check(&mut self) {
        if self.summary.is_none() {
            return;
        }
        let Some(shared) = self.shared.as_mut() else { return };
        if shared.conversion == Check::Running {
            let (Some(want), Some(got)) = (&shared.record.conversion, &self.last_conversion) else { return };
            shared.conversion = if want.sha256 == got.sha256 {
                Check::Same
            } else {
                Check::Differs(format!("recorded sha256 {}, this run {}", want.sha256, got.sha256))
            };
        }
        if shared.simulation == Check::Running {
            let (Some(want), Some(got)) = (&shared.record.simulation, &self.sim.report) else { return };
            let diffs = got.differences(&want.report);
            shared.simulation = if diffs.is_empty() { Check::Same } else { Check::Differs(diffs.join("; ")) };
        }
        if shared.measurement == Check::Running {
            if self.measure.result.is_none() {
                return;
            }
            shared.measurement = Check::Remeasured;
        }
        if shared.conversion == Check::Waiting {
            shared.conversion = Check::Running;
            self.convert();
            if !matches!(self.busy, Busy::Converting { .. }) {
                self.stop_shared_check("the conversion could not start");
            }
        } else if shared.simulation == Check::Waiting {
            shared.simulation = Check::Running;
            let options = shared.record.simulation.as_ref().map(|s| {
                let mut o = s.report.options.clone();
                o.no_placement = false;
                o
            });
            if let Some(o) = options {
                self.simulate(o);
            }
            if !matches!(self.busy, Busy::Simulating { .. }) {
                self.stop_shared_check("the simulation could not start");
            }
        } else if shared.measurement == Check::Waiting {
            shared.measurement = Check::Running;
            self.start_measure();
            if !matches!(self.busy, Busy::Measuring { .. }) {
                self.stop_shared_check("the measurement could not start");
            }
        }
    }

    pub(super) fn stop_shared_check(&mut self, why: &str) {
        if let Some(s) = &mut self.shared {
            s.stop_check(why);
        }
    }

    pub(super) fn make_share_link(&mut self) {
        let (Some(model), Some(summary)) = (&self.model, &self.summary) else { return };
        let mut record =
            ShareRecord::new(ModelRecord { name: model.name.clone(), sha256: summary.sha256.clone(), bytes: model.size });
        record.conversion = self.last_conversion.clone();
        record.simulation = self.sim.report.as_ref().map(|r| SharedSimulation {
            options: self.sim.import_options.clone().unwrap_or_default(),
            report: r.without_placement(),
        });
        if let Some(m) = &self.measure.result {
            record.measured.push(m.measured.clone());
            record.fidelity.clone_from(&m.fidelity);
        }
        // The conversion's fidelity without its per-layer detail, which a link never holds (it
        // is recomputed when the model is dropped on the shared page).
        if let Some(f) = &self.fidelity {
            let mut f = f.report.clone();
            f.layers.clear();
            f.kept_float.clear();
            record.fidelity.retain(|x| x.variant != f.variant);
            record.fidelity.push(f);
        }
        let base = web_sys::window()
            .map(|w| w.location())
            .map(|l| format!("{}{}", l.origin().unwrap_or_default(), l.pathname().unwrap_or_default()))
            .unwrap_or_default();
        match share::encode(&record) {
            Ok(payload) => {
                self.share_link = Some(format!("{base}#{}{payload}", share::FRAGMENT_KEY));
                self.share_copied = false;
            }
            Err(e) => self.error = Some(Shown { place: Place::Simulate, error: ErrorInfo::new("internal", e) }),
        }
    }

    /// Copies the link with the clipboard API where the browser has it, and selects the field
    /// either way so Ctrl+C works too.
    pub(super) fn copy_share_link(&mut self) {
        let Some(link) = &self.share_link else { return };
        if let Some(input) = self.share_link_input.cast::<web_sys::HtmlInputElement>() {
            input.select();
        }
        let Some(navigator) = web_sys::window().map(|w| w.navigator()) else { return };
        let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok().filter(|c| !c.is_undefined());
        let write = clipboard.as_ref().and_then(|c| js_sys::Reflect::get(c, &"writeText".into()).ok());
        if let (Some(c), Some(f)) = (clipboard, write.and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok())) {
            // The promise settles later; a refusal leaves the selected field for Ctrl+C.
            self.share_copied = f.call1(&c, &link.into()).is_ok();
        }
    }
}

fn shapes_text(o: &Options) -> String {
    o.input_shapes.iter().map(|(name, dims)| format::shape_arg(name, dims)).collect::<Vec<_>>().join("; ")
}

/// The banner under the header: a shared report and its checks, or why a link is damaged.
pub fn banner(app: &App, ctx: &Context<App>) -> Html {
    if let Some(why) = &app.link_error {
        return html! {
            <div class="banner bad" role="alert" data-testid="report-banner" data-state="damaged">
                <p><strong>{ "This share link is damaged: " }</strong>{ why }</p>
                <p class="muted">{ "Nothing was loaded from it. The playground works as usual: drop a model to start." }</p>
            </div>
        };
    }
    let Some(shared) = &app.shared else { return html! {} };
    let r = &shared.record;
    let artifact = r.conversion.as_ref().map(|c| {
        let target = c.options.to.name();
        html! {
            <p data-testid="shared-artifact" data-sha256={c.sha256.clone()}>
                { format!("Artifact: {} ({target}, {}) · sha256 ", c.file_name, format::bytes(c.size as u64)) }
                <code class="hash">{ &c.sha256 }</code>
            </p>
        }
    });
    let model_known = app.summary.is_some() && app.model.is_some();
    html! {
        <section class="banner" aria-label="Shared report" data-testid="report-banner" data-state="shared">
            <div class="banner-head">
                <p class="banner-title">
                    <strong>{ format!("Shared report: {}", r.model.name) }</strong>
                    { " sha256 " }<code class="hash" title={r.model.sha256.clone()}>{ short(&r.model.sha256) }</code>
                    { format!(" ({}), edgeport {}", format::bytes(r.model.bytes), r.edgeport_version) }
                </p>
                <button type="button" class="secondary small" data-testid="close-shared" onclick={ctx.link().callback(|_| Msg::CloseShared)}>{ "Close report" }</button>
            </div>
            if let Some(note) = r.version_note() {
                <p class="version-note" data-testid="shared-version-note">{ note }</p>
            }
            { for artifact }
            { conversion_fidelity(r) }
            { measured_table(app) }
            if model_known {
                <ul class="checks">
                    { check_line("Conversion", &shared.conversion, "byte-identical", "share-check-conversion") }
                    { check_line("Simulation", &shared.simulation, "identical", "share-check-simulation") }
                    { check_line("Measurement", &shared.measurement, "", "share-check-measurement") }
                </ul>
            } else {
                <p class="muted">{ format!("Results as recorded. Drop {} to redo the conversion and the simulation here and compare, and to measure it again in this browser.", r.model.name) }</p>
            }
        </section>
    }
}

fn check_line(what: &str, check: &Check, same: &str, testid: &str) -> Html {
    let text = match check {
        Check::Absent => format!("{what}: not in this link"),
        Check::Waiting => format!("{what}: waiting"),
        Check::Running => format!("{what}: re-running…"),
        Check::Same => format!("{what}: {same} ✓"),
        Check::Differs(d) => format!("{what}: different — {d}"),
        Check::Remeasured => format!("{what}: measured again in this browser, beside the recorded figures"),
        Check::Stopped(why) => format!("{what}: not compared ({why})"),
    };
    html! { <li class={classes!("check-line", check.state())} data-testid={testid.to_string()} data-state={check.state()}>{ text }</li> }
}

/// The recorded measurements and fidelity, with this browser's figures beside them once the
/// model has been measured again here.
fn measured_table(app: &App) -> Html {
    let Some(shared) = &app.shared else { return html! {} };
    let Some(m) = shared.record.measured.first() else { return html! {} };
    // "here" only beside figures of the same backend
    let here = app.measure.result.as_ref().filter(|r| shared.measurement == Check::Remeasured && r.backend == m.backend);
    let env = &m.environment;
    let adapter = env.adapter.as_ref().and_then(|a| a.get("name")).and_then(|n| n.as_str()).unwrap_or("an unnamed adapter");
    let on = if m.backend == "gpu" {
        format!("the GPU (WebGPU, {adapter})")
    } else {
        format!("the CPU ({}, {} thread{})", env.runtime, env.threads, if env.threads == 1 { "" } else { "s" })
    };
    let fidelity = |variant: &str| shared.record.fidelity.iter().find(|f| f.variant == variant).and_then(|f| f.worst().cloned());
    html! {
        <div class="shared-measured">
            <table class="list measure-table" data-testid="shared-measured">
                <caption class="muted small" data-testid="shared-measured-env" data-backend={m.backend.clone()}>{ format!(
                    "Measured on {on}, {} runs after {} warm-up · {}",
                    m.variants.first().map_or(0, |v| v.runs), m.warmup,
                    env.user_agent.as_deref().unwrap_or(&env.os)) }</caption>
                <thead><tr>
                    <th scope="col">{ "variant" }</th>
                    <th scope="col" class="num">{ "load" }</th>
                    <th scope="col" class="num">{ "first run" }</th>
                    <th scope="col" class="num">{ "warm p50" }</th>
                    <th scope="col" class="num">{ "p95" }</th>
                    <th scope="col" class="num">{ "max |Δ| vs fp32" }</th>
                    <th scope="col" class="num">{ "cosine" }</th>
                    if here.is_some() {
                        <th scope="col" class="num">{ "p50 here" }</th>
                        <th scope="col" class="num">{ "here / recorded" }</th>
                    }
                </tr></thead>
                <tbody>
                    { for m.variants.iter().map(|v| {
                        let f = fidelity(&v.variant);
                        let now = here.and_then(|h| h.variants.iter().find(|x| x.variant == v.variant));
                        html! {
                            <tr data-testid="shared-measured-row" data-variant={v.variant.clone()} data-recorded-p50={v.p50_ms.to_string()}
                                data-here-p50={now.map(|n| n.p50_ms.to_string()).unwrap_or_default()}>
                                <th scope="row">{ &v.variant }</th>
                                <td class="num">{ format::ms(v.load_ms) }</td>
                                <td class="num">{ format::ms(v.first_run_ms) }</td>
                                <td class="num">{ format::ms(v.p50_ms) }</td>
                                <td class="num">{ format::ms(v.p95_ms) }</td>
                                <td class="num">{ f.as_ref().map_or("—".into(), |f| format!("{:.3e}", f.max_abs_error)) }</td>
                                <td class="num">{ f.as_ref().map_or("—".into(), |f| format!("{:.6}", f.cosine_similarity)) }</td>
                                if here.is_some() {
                                    <td class="num">{ now.map_or("—".into(), |n| format::ms(n.p50_ms)) }</td>
                                    <td class="num">{ now.filter(|_| v.p50_ms > 0.0).map_or("—".into(), |n| format!("{:.2}x", n.p50_ms / v.p50_ms)) }</td>
                                }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </div>
    }
}

/// The recorded fidelity of the conversion (the variants the measurements did not make).
fn conversion_fidelity(r: &ShareRecord) -> Html {
    let measured = |variant: &str| r.measured.iter().any(|m| m.variants.iter().any(|v| v.variant == variant));
    html! {
        <div class="shared-fidelity" data-testid="shared-fidelity">
            { for r.fidelity.iter().filter(|f| !measured(&f.variant)).map(fidelity::outputs_table) }
        </div>
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(16).chain("…".chars()).collect()
}

/// The Share button and, once made, the link with its length and a Copy button.
pub fn share_box(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let can_share = !app.is_busy()
        && app.summary.is_some()
        && (app.sim.report.is_some() || app.last_conversion.is_some() || app.measure.result.is_some());
    html! {
        <div class="share" data-testid="share-box">
            <div class="share-row">
                <button type="button" class="secondary" data-testid="share-button" disabled={!can_share}
                    onclick={link.callback(|_| Msg::Share)}>{ "Share a link to these results" }</button>
                <span class="muted small">{ "The results travel in the link's #fragment, which browsers never send to a server; the model itself is not in it." }</span>
            </div>
            if let Some(url) = &app.share_link {
                <div class="inline share-out">
                    <label class="visually-hidden" for="share-link">{ "Share link" }</label>
                    <input id="share-link" type="text" readonly=true value={url.clone()} data-testid="share-link"
                        ref={app.share_link_input.clone()} data-length={url.len().to_string()} />
                    <button type="button" class="secondary" data-testid="share-copy" onclick={link.callback(|_| Msg::CopyLink)}>
                        { if app.share_copied { "Copied" } else { "Copy" } }
                    </button>
                </div>
                <p class="muted small" data-testid="share-length">{ format!("{} characters", format::grouped(url.len() as u64)) }</p>
            }
        </div>
    }
}
