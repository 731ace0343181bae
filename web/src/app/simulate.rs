//! The "Simulated latency on devices" panel: device picker and options, the SVG bar chart, the
//! results table with the best unit per device, and the per-layer placement of one row. The
//! numbers come from the engine's simulator in the worker; this module only draws them.

use std::collections::BTreeSet;

use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::view::error_box;
use super::{App, Busy, Msg, Place, format, shared};
use crate::protocol::Options;
use crate::sim_report::{BUDGETS, BudgetInfo, FORMATS, PRECISIONS, ProfileInfo, Report, SimOptions, UnitResult, budget};

/// Devices ticked before the user chooses: one of each common kind.
const DEFAULT_PROFILES: [&str; 5] = ["pixel8", "galaxy-s24", "iphone15pro", "rpi5", "browser-igpu"];

/// The simulator's options as picked.
#[derive(Clone, PartialEq)]
pub struct SimChoices {
    pub profiles: BTreeSet<String>,
    pub precision: String,
    /// Empty: automatic (Core ML on Apple devices, TFLite elsewhere).
    pub format: String,
    /// Empty: no budget.
    pub budget: String,
}

impl Default for SimChoices {
    fn default() -> Self {
        SimChoices { profiles: BTreeSet::new(), precision: "fp32".into(), format: String::new(), budget: String::new() }
    }
}

impl SimChoices {
    pub fn default_selection(&mut self, profiles: &[ProfileInfo]) {
        if self.profiles.is_empty() {
            self.profiles =
                profiles.iter().filter(|p| DEFAULT_PROFILES.contains(&p.id.as_str())).map(|p| p.id.clone()).collect();
        }
    }

    /// The engine's options; per-layer placement is asked for (the placement table needs it).
    pub fn options(&self) -> SimOptions {
        let some = |s: &String| (!s.is_empty()).then(|| s.clone());
        SimOptions {
            profiles: self.profiles.iter().cloned().collect(),
            precision: Some(self.precision.clone()),
            format: some(&self.format),
            budget: some(&self.budget),
            no_placement: false,
            ..SimOptions::default()
        }
    }

    /// The choices a report was made with.
    pub fn from_report(options: &SimOptions) -> SimChoices {
        SimChoices {
            profiles: options.profiles.iter().cloned().collect(),
            precision: options.precision.clone().unwrap_or_else(|| "fp32".into()),
            format: options.format.clone().unwrap_or_default(),
            budget: options.budget.clone().unwrap_or_default(),
        }
    }
}

pub struct SimState {
    pub choices: SimChoices,
    pub report: Option<Report>,
    /// The import options (input shapes) the report was made with.
    pub import_options: Option<Options>,
    /// The (profile, unit) row whose layers the placement table lists.
    pub selected: Option<(String, String)>,
    pub slowest_first: bool,
    /// Reports received so far (the browser test waits on it).
    pub runs: u32,
}

impl Default for SimState {
    fn default() -> Self {
        SimState { choices: SimChoices::default(), report: None, import_options: None, selected: None, slowest_first: true, runs: 0 }
    }
}

impl SimState {
    pub fn clear(&mut self) {
        self.report = None;
        self.import_options = None;
        self.selected = None;
    }

    /// Shows a new report, selecting the first device's best unit for the placement table.
    pub fn set_report(&mut self, report: Report) {
        let still_there = self.selected.as_ref().is_some_and(|k| report.results.iter().any(|r| &r.key() == k));
        if !still_there {
            self.selected = report
                .best
                .first()
                .map(|b| (b.profile.clone(), b.unit.clone()))
                .or_else(|| report.results.first().map(UnitResult::key));
        }
        self.report = Some(report);
        self.runs = self.runs.wrapping_add(1);
    }
}

pub fn panel(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let c = &app.sim.choices;
    let can_simulate = !app.is_busy() && app.summary.is_some() && app.bridge.is_some();
    let simulating = matches!(app.busy, Busy::Simulating { .. });
    let on_select = |apply: fn(&mut SimChoices, String)| {
        link.callback(move |e: Event| {
            let v = select_value(&e);
            Msg::SimChoose(Box::new(move |c: &mut SimChoices| apply(c, v)))
        })
    };
    let status = if simulating {
        "Simulating…".to_string()
    } else if app.summary.is_none() {
        "Load a model to simulate it.".into()
    } else {
        format!("{} device{} chosen.", c.profiles.len(), if c.profiles.len() == 1 { "" } else { "s" })
    };
    html! {
        <section class="card sim" aria-labelledby="sim-h" data-testid="simulate-panel">
            <h2 id="sim-h"><span class="step">{ "3" }</span>{ "Simulated latency on devices" }</h2>
            <p class="lede muted">{ "Estimates from each device's published specs and a calibrated cost model, not measurements. Runs in this tab." }</p>
            <div class="sim-controls">
                { profile_picker(app, ctx, !can_simulate) }
                <fieldset class="sim-opts" disabled={!can_simulate}>
                    <legend class="visually-hidden">{ "Simulation options" }</legend>
                    <label class="field">
                        <span>{ "Precision" }</span>
                        <select data-testid="sim-precision" onchange={on_select(|c, v| c.precision = v)}>
                            { for PRECISIONS.iter().map(|p| html! { <option value={*p} selected={c.precision == *p}>{ *p }</option> }) }
                        </select>
                    </label>
                    <label class="field">
                        <span>{ "Format" }</span>
                        <select data-testid="sim-format" onchange={on_select(|c, v| c.format = v)}>
                            <option value="" selected={c.format.is_empty()}>{ "auto (Core ML on Apple)" }</option>
                            { for FORMATS.iter().map(|f| html! { <option value={*f} selected={c.format == *f}>{ *f }</option> }) }
                        </select>
                    </label>
                    <label class="field">
                        <span>{ "Use-case budget" }</span>
                        <select data-testid="sim-budget" onchange={on_select(|c, v| c.budget = v)}>
                            <option value="" selected={c.budget.is_empty()}>{ "none" }</option>
                            { for BUDGETS.iter().map(|b| html! {
                                <option value={b.id} selected={c.budget == b.id}>{ format!("{} (< {})", b.id, format::ms_short(b.latency_ms)) }</option>
                            }) }
                        </select>
                    </label>
                    <div class="sim-go">
                        <button type="button" class="primary" data-testid="simulate-button" disabled={!can_simulate || c.profiles.is_empty()}
                            onclick={link.callback(|_| Msg::Simulate)}>{ "Simulate" }</button>
                        <span class="status" role="status" aria-live="polite" data-testid="sim-status">{ status }</span>
                    </div>
                </fieldset>
            </div>
            { error_box(app.error.as_ref(), Place::Simulate) }
            <div class="sim-results" data-testid="sim-results" data-ready={app.shown_report().is_some().to_string()} data-runs={app.sim.runs.to_string()}>
                if let Some(report) = app.shown_report() {
                    { results(app, ctx, report) }
                } else {
                    <p class="placeholder">{ "Pick devices and press Simulate: a chart and table per device and compute unit appear here." }</p>
                }
            </div>
            { shared::share_box(app, ctx) }
        </section>
    }
}

fn profile_picker(app: &App, ctx: &Context<App>, disabled: bool) -> Html {
    const KINDS: [(&str, &str); 6] = [
        ("phone", "Phones"),
        ("laptop", "Laptops"),
        ("desktop", "Desktops"),
        ("board", "Boards"),
        ("accelerator", "Accelerators"),
        ("browser", "Browsers"),
    ];
    if app.profiles.is_empty() {
        return html! { <div class="profiles"><p class="placeholder">{ "Loading device profiles…" }</p></div> };
    }
    html! {
        <fieldset class="profiles" disabled={disabled} data-testid="sim-profiles">
            <legend>{ "Devices" }</legend>
            { for KINDS.iter().map(|(kind, title)| {
                let group: Vec<&ProfileInfo> = app.profiles.iter().filter(|p| p.kind == *kind).collect();
                if group.is_empty() {
                    return html! {};
                }
                html! {
                    <div class="kind" role="group" aria-label={*title}>
                        <span class="kind-name">{ *title }</span>
                        { for group.into_iter().map(|p| profile_checkbox(app, ctx, p)) }
                    </div>
                }
            }) }
        </fieldset>
    }
}

fn profile_checkbox(app: &App, ctx: &Context<App>, p: &ProfileInfo) -> Html {
    let id = p.id.clone();
    let on_change = ctx.link().callback(move |e: Event| {
        let on = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).is_some_and(|i| i.checked());
        let id = id.clone();
        Msg::SimChoose(Box::new(move |c: &mut SimChoices| {
            if on {
                c.profiles.insert(id);
            } else {
                c.profiles.remove(&id);
            }
        }))
    });
    let units: Vec<String> = p.units.iter().map(|u| u.to_uppercase()).collect();
    html! {
        <label class="check device" title={format!("{} · {} · {}", p.soc, p.year, units.join(", "))}>
            <input type="checkbox" data-testid={format!("sim-profile-{}", p.id)} value={p.id.clone()}
                checked={app.sim.choices.profiles.contains(&p.id)} onchange={on_change} />
            <span>{ &p.name }</span>
        </label>
    }
}

fn results(app: &App, ctx: &Context<App>, report: &Report) -> Html {
    let chosen = report.options.budget.as_deref().and_then(budget);
    let json = serde_json::to_string(report).unwrap_or_default();
    html! {
        <>
        { best_list(report, chosen) }
        { chart(report, chosen) }
        { table(app, ctx, report, chosen) }
        if !report.skipped.is_empty() {
            <details class="skipped">
                <summary>{ format!("{} device/unit pair{} cannot run this variant", report.skipped.len(), if report.skipped.len() == 1 { "" } else { "s" }) }</summary>
                <ul>{ for report.skipped.iter().map(|s| html! { <li>{ &s.reason }</li> }) }</ul>
            </details>
        }
        { placement(app, ctx, report) }
        <pre class="visually-hidden" data-testid="sim-json" aria-hidden="true">{ json }</pre>
        </>
    }
}

fn unit_label(unit: &str) -> String {
    unit.to_uppercase()
}

fn device_name<'a>(report: &'a Report, profile: &'a str) -> &'a str {
    report.results.iter().find(|r| r.profile == profile).map(|r| r.device.as_str()).unwrap_or(profile)
}

fn best_list(report: &Report, chosen: Option<&BudgetInfo>) -> Html {
    html! {
        <ul class="best" data-testid="sim-best" aria-label="Suggested variant per device">
            { for report.best.iter().map(|b| {
                let fit = b.budget.as_ref().map(|c| (c.fits, c.over.join(", ")));
                html! {
                    <li data-profile={b.profile.clone()} data-unit={b.unit.clone()}>
                        <span class="best-dev">{ device_name(report, &b.profile) }</span>
                        <span class="best-unit">{ format!("{} {} · {}", b.precision, unit_label(&b.unit), format::ms(b.latency_ms)) }</span>
                        { match (fit, chosen) {
                            (Some((true, _)), Some(bu)) => html! { <span class="badge fit">{ format!("fits {}", bu.id) }</span> },
                            (Some((false, over)), _) => html! { <span class="badge over" title={over.clone()}>{ format!("over budget: {over}") }</span> },
                            _ => html! {},
                        } }
                    </li>
                }
            }) }
        </ul>
    }
}

/// Horizontal bars, one per (profile, unit), grouped by device; a log axis when the values
/// span more than 30x (phone NPUs against a Raspberry Pi), linear otherwise.
fn chart(report: &Report, chosen: Option<&BudgetInfo>) -> Html {
    const WIDTH: f64 = 760.0;
    const LABEL: f64 = 236.0;
    const VALUE: f64 = 74.0;
    const ROW: f64 = 22.0;
    const GAP: f64 = 8.0;
    const TOP: f64 = 24.0;
    let plot = WIDTH - LABEL - VALUE;
    let values: Vec<f64> = report.results.iter().map(|r| r.latency_ms).filter(|v| v.is_finite() && *v > 0.0).collect();
    if values.is_empty() {
        return html! { <p class="placeholder" data-testid="sim-chart">{ "No device could run this variant." }</p> };
    }
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(0.0, f64::max);
    if let Some(b) = chosen {
        lo = lo.min(b.latency_ms);
        hi = hi.max(b.latency_ms);
    }
    let axis = Axis::new(lo, hi);
    let x = |v: f64| LABEL + axis.fraction(v) * plot;

    let mut rows = Vec::new();
    let mut y = TOP;
    let mut previous: Option<&str> = None;
    for r in &report.results {
        let first_of_device = previous != Some(r.profile.as_str());
        if first_of_device && previous.is_some() {
            y += GAP;
        }
        previous = Some(&r.profile);
        rows.push((r, y, first_of_device));
        y += ROW;
    }
    let height = y + 6.0;
    let bar_class = |r: &UnitResult| -> Classes {
        let fit = chosen.map(|b| if b.fits(r) { "fit" } else { "over" });
        classes!("bar", format!("u-{}", r.unit), fit)
    };
    let title = match chosen {
        Some(b) => format!("Simulated latency per device and unit ({} axis); dashed line: {} budget, {} ms", axis.kind(), b.name, b.latency_ms),
        None => format!("Simulated latency per device and unit ({} axis)", axis.kind()),
    };
    html! {
        <figure class="chart">
            <svg viewBox={format!("0 0 {WIDTH} {height}")} role="img" aria-labelledby="sim-chart-title" data-testid="sim-chart"
                data-scale={axis.kind()} preserveAspectRatio="xMinYMin meet">
                <title id="sim-chart-title">{ title }</title>
                <text class="axis-unit" x={fmt(LABEL - 24.0)} y="13" text-anchor="end">{ "latency, ms" }</text>
                { for axis.ticks().into_iter().map(|(t, labelled)| html! {
                    <g class={classes!("tick", (!labelled).then_some("minor"))}>
                        <line x1={fmt(x(t))} x2={fmt(x(t))} y1={fmt(TOP - 4.0)} y2={fmt(height - 4.0)} />
                        if labelled {
                            <text x={fmt(x(t))} y="13" text-anchor="middle">{ format::number(t) }</text>
                        }
                    </g>
                }) }
                { for rows.iter().map(|(r, y, first)| {
                    let w = (x(r.latency_ms) - LABEL).max(2.0);
                    let name = shorten(&r.device, 30);
                    html! {
                        <g class="row" data-testid="sim-bar" data-profile={r.profile.clone()} data-unit={r.unit.clone()}
                            data-latency={r.latency_ms.to_string()}>
                            if *first {
                                <text class="dev" x="0" y={fmt(y + 15.0)}>{ name }</text>
                            }
                            <text class="unit" x={fmt(LABEL - 8.0)} y={fmt(y + 15.0)} text-anchor="end">{ unit_label(&r.unit) }</text>
                            <rect class={bar_class(r)} x={fmt(LABEL)} y={fmt(y + 3.0)} width={fmt(w)} height={fmt(ROW - 6.0)} rx="2">
                                <title>{ format!("{} · {}: {}", r.device, unit_label(&r.unit), format::ms(r.latency_ms)) }</title>
                            </rect>
                            <text class="val" x={fmt(LABEL + w + 6.0)} y={fmt(y + 15.0)}>{ format::ms(r.latency_ms) }</text>
                        </g>
                    }
                }) }
                if let Some(b) = chosen {
                    <g class="budget" data-testid="sim-budget-line" data-ms={b.latency_ms.to_string()}>
                        <line x1={fmt(x(b.latency_ms))} x2={fmt(x(b.latency_ms))} y1={fmt(TOP - 6.0)} y2={fmt(height - 2.0)} stroke-dasharray="5 4" />
                    </g>
                }
            </svg>
            <figcaption class="legend">
                { for ["cpu", "gpu", "npu", "ane", "tpu"].iter().filter(|u| report.results.iter().any(|r| r.unit == **u)).map(|u| html! {
                    <span class={classes!("key", format!("u-{u}"))}>{ unit_label(u) }</span>
                }) }
                if let Some(b) = chosen {
                    <span class="key budget-key">{ format!("{} budget: {} ms (paler bars do not fit)", b.name, b.latency_ms) }</span>
                }
                <span class="muted">{ format!("{} scale", axis.kind()) }</span>
            </figcaption>
        </figure>
    }
}

/// The latency axis.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn new(lo: f64, hi: f64) -> Axis {
        if hi / lo > 30.0 {
            Axis { log: true, lo: 10f64.powf(lo.log10().floor()), hi: 10f64.powf(hi.log10().ceil()) }
        } else {
            let step = nice_step(hi * 1.05 / 5.0);
            Axis { log: false, lo: 0.0, hi: (hi * 1.05 / step).ceil() * step }
        }
    }

    fn kind(&self) -> &'static str {
        if self.log { "log" } else { "linear" }
    }

    fn fraction(&self, v: f64) -> f64 {
        let f = if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            v / self.hi
        };
        if f.is_finite() { f.clamp(0.0, 1.0) } else { 0.0 }
    }

    /// Grid values and whether each gets a label: on a log axis, 2 and 5 are labelled only when
    /// there are few decades (labels must not overlap).
    fn ticks(&self) -> Vec<(f64, bool)> {
        let mut out = Vec::new();
        if self.log {
            let decades = (self.hi / self.lo).log10().round();
            let mut decade = self.lo;
            while decade <= self.hi * 1.0001 && out.len() < 40 {
                for m in [1.0, 2.0, 5.0] {
                    let t = decade * m;
                    if t <= self.hi * 1.0001 {
                        out.push((t, m == 1.0 || decades <= 2.0));
                    }
                }
                decade *= 10.0;
            }
        } else {
            let step = nice_step(self.hi / 5.0);
            let mut t = 0.0;
            while t <= self.hi * 1.0001 && out.len() < 12 {
                out.push((t, true));
                t += step;
            }
        }
        out
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * base).find(|s| *s >= raw).unwrap_or(10.0 * base)
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}

fn table(app: &App, ctx: &Context<App>, report: &Report, chosen: Option<&BudgetInfo>) -> Html {
    html! {
        <div class="table-scroll">
        <table class="list sim-table" data-testid="sim-table">
            <caption class="visually-hidden">{ "Simulated results per device and compute unit; select a row for its per-layer placement" }</caption>
            <thead><tr>
                <th>{ "Device" }</th><th>{ "Unit" }</th><th>{ "Runtime" }</th><th>{ "Runs at" }</th>
                <th class="num">{ "Latency" }</th><th class="num">{ "Peak memory" }</th><th class="num">{ "Model" }</th>
                <th class="num">{ "On unit" }</th><th>{ "Notes" }</th>
            </tr></thead>
            <tbody>
                { for report.results.iter().map(|r| {
                    let key = r.key();
                    let selected = app.sim.selected.as_ref() == Some(&key);
                    let best = report.best.iter().any(|b| b.profile == r.profile && b.unit == r.unit && b.precision == r.precision);
                    let fit = chosen.map(|b| b.fits(r));
                    let (p, u) = key.clone();
                    let on_click = ctx.link().callback(move |_: MouseEvent| Msg::SelectRow(p.clone(), u.clone()));
                    let (p, u) = key;
                    let on_key = ctx.link().batch_callback(move |e: KeyboardEvent| {
                        (e.key() == "Enter" || e.key() == " ").then(|| {
                            e.prevent_default();
                            Msg::SelectRow(p.clone(), u.clone())
                        })
                    });
                    html! {
                        <tr class={classes!("pick", selected.then_some("selected"), best.then_some("best-row"))}
                            data-testid={format!("sim-row-{}-{}", r.profile, r.unit)} data-latency={r.latency_ms.to_string()}
                            tabindex="0" aria-selected={selected.to_string()} onclick={on_click} onkeydown={on_key}>
                            <td>{ &r.device }</td>
                            <td>{ unit_label(&r.unit) }
                                if best { <span class="badge best" title="Fastest on this device (fitting the budget, if one is chosen)">{ "best" }</span> }
                            </td>
                            <td title={r.path_name.clone()}>{ &r.path }</td>
                            <td>{ &r.executed_precision }</td>
                            <td class={classes!("num", fit.map(|f| if f { "fit-text" } else { "over-text" }))} data-testid="sim-latency">{ format::ms(r.latency_ms) }</td>
                            <td class="num">{ format::bytes(r.peak_memory_bytes) }</td>
                            <td class="num">{ format::bytes(r.model_size_bytes) }</td>
                            <td class="num">{ format!("{:.0} %", r.on_unit_percent()) }</td>
                            <td class="warn">{ r.warnings.join("; ") }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
        </div>
    }
}

fn placement(app: &App, ctx: &Context<App>, report: &Report) -> Html {
    let Some((profile, unit)) = &app.sim.selected else { return html! {} };
    let Some(r) = report.results.iter().find(|r| &r.profile == profile && &r.unit == unit) else { return html! {} };
    let heading = format!("Per-layer placement: {} · {} ({})", r.device, unit_label(&r.unit), r.path_name);
    if r.placement.is_empty() {
        let hint = match &app.shared {
            Some(s) if app.sim.report.is_none() => format!("Per-layer detail is recomputed, not stored in links: drop {} to see it.", s.record.model.name),
            _ => "No per-layer detail in this report.".into(),
        };
        return html! {
            <div class="placement" data-testid="placement-table" data-rows="0">
                <h3>{ heading }</h3>
                <p class="placeholder">{ hint }</p>
            </div>
        };
    }
    let mut layers: Vec<_> = r.placement.iter().collect();
    layers.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    if !app.sim.slowest_first {
        layers.reverse();
    }
    let total: f64 = r.placement.iter().map(|l| l.ms).sum();
    let order = if app.sim.slowest_first { "descending" } else { "ascending" };
    html! {
        <div class="placement" data-testid="placement-table" data-rows={layers.len().to_string()} data-profile={r.profile.clone()} data-unit={r.unit.clone()}>
            <h3>{ heading }</h3>
            <div class="table-scroll tall">
            <table class="list">
                <thead><tr>
                    <th>{ "Layer" }</th><th>{ "Op" }</th><th>{ "Unit" }</th>
                    <th class="num" aria-sort={order}>
                        <button type="button" class="sort" data-testid="placement-sort" onclick={ctx.link().callback(|_| Msg::SortPlacement)}>
                            { if app.sim.slowest_first { "Time ▼" } else { "Time ▲" } }
                        </button>
                    </th>
                    <th class="num">{ "Share" }</th>
                </tr></thead>
                <tbody>
                    { for layers.iter().map(|l| html! {
                        <tr class={classes!((l.unit != r.unit).then_some("fallback"))}>
                            <td><code>{ &l.layer }</code></td><td>{ &l.op }</td><td>{ unit_label(&l.unit) }</td>
                            <td class="num">{ format::ms(l.ms) }</td>
                            <td class="num">{ if total > 0.0 { format!("{:.1} %", 100.0 * l.ms / total) } else { String::new() } }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
        </div>
    }
}

fn select_value(e: &Event) -> String {
    e.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()).map(|s| s.value()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes() {
        let lin = Axis::new(1.0, 9.0);
        assert_eq!(lin.kind(), "linear");
        assert!(lin.hi >= 9.0 && lin.fraction(0.0) == 0.0 && lin.fraction(lin.hi) == 1.0);
        let log = Axis::new(0.8, 400.0);
        assert_eq!(log.kind(), "log");
        assert!((log.lo - 0.1).abs() < 1e-12 && (log.hi - 1000.0).abs() < 1e-9);
        assert!(log.ticks().contains(&(100.0, true)));
        assert_eq!(nice_step(3.2), 5.0);
        assert_eq!(nice_step(0.0), 1.0);
    }
}
