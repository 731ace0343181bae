//! The fidelity panel: after a quantized or palettized conversion, how far what the artifact
//! computes is from the float original (computed in the runtime worker with the engine's
//! report): output by output, then layer by layer, worst first, sortable by any column; for a
//! full-integer model also the layers kept in float and why.

use yew::prelude::*;

use super::view::error_box;
use super::{App, Busy, Msg, Place};
use crate::share::Fidelity;
use edgeport_report::{LayerFidelity, OutputFidelity};

/// The layer table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Node,
    Op,
    Output,
    Sqnr,
    Int8,
}

impl Column {
    const ALL: [(Column, &'static str, &'static str); 5] = [
        (Column::Node, "node", "node"),
        (Column::Op, "op", "op"),
        (Column::Output, "output", "output"),
        (Column::Sqnr, "sqnr", "SQNR (dB)"),
        (Column::Int8, "int8", "int8"),
    ];
}

/// A conversion's fidelity and how its layer table is sorted.
#[derive(Clone, PartialEq)]
pub struct FidelityView {
    pub report: Fidelity,
    pub column: Column,
    pub descending: bool,
}

impl FidelityView {
    /// Worst layers (lowest SQNR) first.
    pub fn new(report: Fidelity) -> FidelityView {
        FidelityView { report, column: Column::Sqnr, descending: false }
    }

    /// A header click: the same column turns its order round, another sorts by it.
    pub fn sort_by(&mut self, column: Column) {
        if self.column == column {
            self.descending = !self.descending;
        } else {
            self.column = column;
            self.descending = false;
        }
    }

    pub fn sorted_layers(&self) -> Vec<&LayerFidelity> {
        let mut layers: Vec<&LayerFidelity> = self.report.layers.iter().collect();
        layers.sort_by(|a, b| {
            let order = match self.column {
                Column::Node => a.node.cmp(&b.node),
                Column::Op => a.op.cmp(&b.op),
                Column::Output => a.output.cmp(&b.output),
                Column::Sqnr => sqnr(a).total_cmp(&sqnr(b)),
                Column::Int8 => a.int8.cmp(&b.int8),
            };
            let order = if self.descending { order.reverse() } else { order };
            order.then_with(|| sqnr(a).total_cmp(&sqnr(b)))
        });
        layers
    }
}

/// A layer equal to the original's has no SQNR: it sorts as the best.
fn sqnr(l: &LayerFidelity) -> f64 {
    l.sqnr_db.unwrap_or(f64::INFINITY)
}

/// For data attributes: JavaScript's `Number()` reads "Infinity", not Rust's "inf".
fn js_number(v: f64) -> String {
    if v.is_finite() { v.to_string() } else { "Infinity".into() }
}

fn decibels(v: Option<f64>) -> String {
    v.map_or("identical".into(), |d| format!("{d:.1}"))
}

fn share(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| format!("{:.1} %", s * 100.0))
}

pub fn panel(app: &App, ctx: &Context<App>) -> Html {
    let running = matches!(app.busy, Busy::Fidelity { .. });
    let state = match (&app.fidelity, running) {
        (_, true) => "running",
        (Some(_), false) => "ready",
        (None, false) => "absent",
    };
    html! {
        <section class="card fidelity" aria-labelledby="fidelity-h" data-testid="fidelity-panel" data-state={state}>
            <h2 id="fidelity-h">{ "Fidelity" }</h2>
            if running {
                <p class="placeholder" role="status">{ "Running the original and the converted model on the CPU (WebAssembly) to compare them, layer by layer…" }</p>
            } else if let Some(view) = &app.fidelity {
                { body(view, ctx) }
            } else {
                <p class="placeholder">{ "After a quantized or palettized conversion: how far its outputs are from the original's, and which layers lose the most." }</p>
            }
            { error_box(app.error.as_ref(), Place::Fidelity) }
        </section>
    }
}

fn body(view: &FidelityView, ctx: &Context<App>) -> Html {
    let f = &view.report;
    let layers = view.sorted_layers();
    html! {
        <>
        <p class="muted small" data-testid="fidelity-method" data-variant={f.variant.clone()}>
            { format!("{} against the float32 original on {} {} sample{} · {}", f.variant, f.samples, f.inputs, if f.samples == 1 { "" } else { "s" }, f.method) }
        </p>
        { outputs_table(f) }
        if !layers.is_empty() {
            <table class="list measure-table" data-testid="fidelity-layers" data-rows={layers.len().to_string()}>
                <caption>{ if layers.len() >= edgeport_report::MAX_LAYERS {
                    format!("The {} layers that lose the most (SQNR of each layer's output against the original's)", layers.len())
                } else {
                    "Layers (SQNR of each layer's output against the original's; higher is closer)".into()
                } }</caption>
                <thead><tr>
                    { for Column::ALL.iter().map(|&(column, key, label)| {
                        let sorted = view.column == column;
                        let aria = match (sorted, view.descending) {
                            (false, _) => "none",
                            (true, false) => "ascending",
                            (true, true) => "descending",
                        };
                        let arrow = match (sorted, view.descending) {
                            (false, _) => "",
                            (true, false) => " ▲",
                            (true, true) => " ▼",
                        };
                        let numeric = column == Column::Sqnr;
                        html! {
                            <th scope="col" class={classes!(numeric.then_some("num"))} aria-sort={aria}>
                                <button type="button" class="sort" data-testid={format!("fidelity-sort-{key}")}
                                    onclick={ctx.link().callback(move |_| Msg::SortLayers(column))}>{ format!("{label}{arrow}") }</button>
                            </th>
                        }
                    }) }
                </tr></thead>
                <tbody>
                    { for layers.iter().map(|l| html! {
                        <tr data-testid="fidelity-layer" data-node={l.node.clone()} data-sqnr={js_number(sqnr(l))} data-int8={l.int8.to_string()}>
                            <td><code>{ &l.node }</code></td>
                            <td>{ &l.op }</td>
                            <td><code>{ &l.output }</code></td>
                            <td class="num">{ decibels(l.sqnr_db) }</td>
                            <td>{ if l.int8 { "int8" } else { "float" } }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        }
        if !f.kept_float.is_empty() {
            <table class="list" data-testid="fidelity-kept-float">
                <caption>{ format!("Kept in float ({} node{})", f.kept_float.len(), if f.kept_float.len() == 1 { "" } else { "s" }) }</caption>
                <thead><tr><th scope="col">{ "node" }</th><th scope="col">{ "op" }</th><th scope="col">{ "reason" }</th></tr></thead>
                <tbody>
                    { for f.kept_float.iter().map(|k| html! {
                        <tr data-testid="fidelity-kept" data-node={k.node.clone()}>
                            <td><code>{ &k.node }</code></td><td>{ &k.op }</td><td>{ &k.reason }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        }
        </>
    }
}

/// Output by output: errors, cosine, SQNR and, for class scores, top-1/top-5 agreement. Also
/// shown for a shared report, whose link carries no layers.
pub fn outputs_table(f: &Fidelity) -> Html {
    let row = |o: &OutputFidelity| {
        html! {
            <tr data-testid="fidelity-output" data-output={o.output.clone()} data-max-abs-error={o.max_abs_error.to_string()}
                data-sqnr={js_number(o.sqnr_db.unwrap_or(f64::INFINITY))}>
                <th scope="row"><code>{ &o.output }</code></th>
                <td class="num">{ format!("{:.3e}", o.max_abs_error) }</td>
                <td class="num">{ format!("{:.3e}", o.mean_abs_error) }</td>
                <td class="num">{ format!("{:.6}", o.cosine_similarity) }</td>
                <td class="num">{ decibels(o.sqnr_db) }</td>
                <td class="num">{ share(o.top1_agreement) }</td>
                <td class="num">{ share(o.top5_agreement) }</td>
            </tr>
        }
    };
    html! {
        <table class="list measure-table" data-testid="fidelity-outputs" data-variant={f.variant.clone()}>
            <caption>{ format!("Outputs ({})", f.variant) }</caption>
            <thead><tr>
                <th scope="col">{ "output" }</th>
                <th scope="col" class="num">{ "max |Δ|" }</th>
                <th scope="col" class="num">{ "mean |Δ|" }</th>
                <th scope="col" class="num">{ "cosine" }</th>
                <th scope="col" class="num">{ "SQNR (dB)" }</th>
                <th scope="col" class="num" title="rows whose top class is the original's">{ "top-1" }</th>
                <th scope="col" class="num" title="rows whose top five hold the original's top class">{ "top-5" }</th>
            </tr></thead>
            <tbody>{ for f.outputs.iter().map(row) }</tbody>
        </table>
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn layer(node: &str, sqnr_db: Option<f64>, int8: bool) -> LayerFidelity {
        LayerFidelity { node: node.into(), op: "Conv".into(), output: format!("{node}_out"), sqnr_db, int8 }
    }

    #[test]
    fn worst_first_then_by_any_column() {
        let report = Fidelity {
            variant: "int8".into(),
            method: String::new(),
            inputs: "generated".into(),
            samples: 8,
            outputs: Vec::new(),
            layers: vec![layer("b", Some(30.0), true), layer("c", None, false), layer("a", Some(12.5), true)],
            kept_float: Vec::new(),
        };
        let mut view = FidelityView::new(report);
        let nodes = |v: &FidelityView| v.sorted_layers().iter().map(|l| l.node.clone()).collect::<Vec<_>>();
        assert_eq!(nodes(&view), ["a", "b", "c"], "lowest SQNR first, identical layers last");
        view.sort_by(Column::Sqnr);
        assert_eq!(nodes(&view), ["c", "b", "a"]);
        view.sort_by(Column::Node);
        assert_eq!(nodes(&view), ["a", "b", "c"]);
        view.sort_by(Column::Node);
        assert_eq!(nodes(&view), ["c", "b", "a"]);
        view.sort_by(Column::Int8);
        assert_eq!(nodes(&view), ["c", "a", "b"], "float first, ties worst first");
        assert_eq!(js_number(f64::INFINITY), "Infinity");
    }
}
