//! The optimization choices under "Target": TFLite's and ONNX's quantization (float16 weights,
//! int8 weights, full-integer int8 with its calibration data, method, interface and kept-float
//! layers) and Core ML's weight compression (int8 or palettized), each with a line saying what it
//! does. Full-integer conversions calibrate on the CPU runtime, so the page sends them, with the
//! calibration file, to the runtime worker.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::{App, Choices, Msg, format};
use crate::protocol::{CalibrationMethod, Format, Interface, Ios, Options};

/// TFLite's and ONNX's `--quantize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quantize {
    #[default]
    None,
    Fp16,
    Int8Weights,
    Int8,
}

/// A choice as the page offers it: value, key (the engine's name; "none" for none), label, and
/// what it does on that target.
type Offered = (Quantize, &'static str, &'static str, &'static str);

const TFLITE: [Offered; 4] = [
    (Quantize::None, "none", "None", "float32 weights and compute, as the ONNX model"),
    (Quantize::Fp16, "fp16", "Float16 weights", "half the size; weights stored as float16 behind DEQUANTIZE, computed in float32"),
    (
        Quantize::Int8Weights,
        "int8-weights",
        "Int8 weights",
        "about a quarter of the size; int8 per-channel weights read by TFLite's hybrid kernels, which quantize their inputs as they run",
    ),
    (
        Quantize::Int8,
        "int8",
        "Full integer (int8)",
        "int8 weights and activations for integer-only hardware (NPUs, DSPs, microcontrollers); activation ranges calibrated on sample inputs",
    ),
];

const ONNX: [Offered; 3] = [
    (Quantize::None, "none", "None", "the optimized float32 graph (opset 21)"),
    (Quantize::Int8Weights, "int8-weights", "Int8 weights", "about a quarter of the size; int8 per-channel weights behind DequantizeLinear, float32 compute"),
    (
        Quantize::Int8,
        "int8",
        "Int8 (QDQ)",
        "QuantizeLinear/DequantizeLinear pairs that ONNX Runtime runs as int8 kernels; activation ranges calibrated on sample inputs",
    ),
];

impl Quantize {
    fn offered(target: Format) -> &'static [Offered] {
        match target {
            Format::Onnx => &ONNX,
            Format::Tflite | Format::Coreml => &TFLITE,
        }
    }

    fn engine_name(self) -> Option<&'static str> {
        match self {
            Quantize::None => None,
            Quantize::Fp16 => Some("fp16"),
            Quantize::Int8Weights => Some("int8-weights"),
            Quantize::Int8 => Some("int8"),
        }
    }
}

/// Core ML's weight compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoremlWeights {
    #[default]
    AsPrecision,
    Int8,
    Palettize,
    W8a8,
}

impl CoremlWeights {
    const ALL: [(CoremlWeights, &'static str, &'static str, &'static str); 4] = [
        (CoremlWeights::AsPrecision, "none", "Uncompressed", "weights in the program's precision (fp16 or fp32)"),
        (CoremlWeights::Int8, "int8-weights", "Int8 weights", "per-channel int8 conv and matmul weights, about half an fp16 package (iOS 16+)"),
        (
            CoremlWeights::Palettize,
            "palettize",
            "Palettized",
            "each weight an index into a table of 2^bits values (k-means or evenly spaced), down to an eighth of fp16 at 2 bits (iOS 16+)",
        ),
        (
            CoremlWeights::W8a8,
            "w8a8",
            "W8A8",
            "int8 weights, and activations held as int8 between ops (quantize/dequantize) for the Neural Engine; ranges calibrated on sample inputs (iOS 17+)",
        ),
    ];
}

/// Bit widths the engine palettizes to.
const PALETTE_BITS: [u8; 6] = [1, 2, 3, 4, 6, 8];

/// How activation ranges are chosen, with what each does.
fn method_help(m: CalibrationMethod) -> &'static str {
    match m {
        CalibrationMethod::Minmax => "the smallest and largest value seen (TFLite's and ONNX Runtime's default)",
        CalibrationMethod::Percentile => "the 99.99th percentile of each side, so rare outliers do not widen the grid",
        CalibrationMethod::Mse => "the range with the least squared int8 error on the samples",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QuantChoices {
    /// TFLite and ONNX (which has no float16 weights: none there).
    pub quantize: Quantize,
    pub coreml: CoremlWeights,
    pub palette_bits: u8,
    /// "kmeans" or "uniform".
    pub palette_mode: String,
    pub method: CalibrationMethod,
    pub interface: Interface,
    /// The kept-float field as typed: empty, `auto`, or node names separated by commas.
    pub keep_float: String,
    /// Magnitude pruning: the fraction of each weight tensor set to zero.
    pub prune: Option<f32>,
}

impl Default for QuantChoices {
    fn default() -> Self {
        QuantChoices {
            quantize: Quantize::None,
            coreml: CoremlWeights::AsPrecision,
            palette_bits: 4,
            palette_mode: "kmeans".into(),
            method: CalibrationMethod::Minmax,
            interface: Interface::Float32,
            keep_float: String::new(),
            prune: None,
        }
    }
}

/// Sparsities the page offers.
const SPARSITIES: [f32; 3] = [0.25, 0.5, 0.75];

impl QuantChoices {
    /// TFLite's or ONNX's quantization options, as the CLI's flags give them.
    pub fn quantize_options(&self, o: &mut Options, target: Format) {
        let quantize = Quantize::offered(target).iter().find(|q| q.0 == self.quantize).map_or(Quantize::None, |q| q.0);
        o.quantize = quantize.engine_name().map(str::to_string);
        if quantize == Quantize::Int8 {
            self.calibration_options(o);
            o.interface = (target == Format::Tflite).then_some(self.interface);
        }
    }

    fn calibration_options(&self, o: &mut Options) {
        o.calibration_method = Some(self.method);
        o.keep_float = self.keep_float.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
    }

    /// `--prune SPARSITY`, on any target.
    pub fn prune_options(&self, o: &mut Options) {
        o.prune = self.prune.map(|s| serde_json::json!({ "sparsity": s }));
    }

    /// Core ML's weight compression (iOS 16 and later only).
    pub fn coreml_options(&self, o: &mut Options, target: Ios) {
        if target == Ios::Ios15 {
            return;
        }
        match self.coreml {
            CoremlWeights::AsPrecision => {}
            CoremlWeights::Int8 => o.quantize = Some("int8-weights".into()),
            CoremlWeights::Palettize => {
                o.palettize = Some(serde_json::json!({ "bits": self.palette_bits, "mode": self.palette_mode }));
            }
            CoremlWeights::W8a8 if target >= Ios::Ios17 => {
                o.quantize = Some("w8a8".into());
                self.calibration_options(o);
            }
            CoremlWeights::W8a8 => {}
        }
    }

    /// The choices that give `o` (a shared report's conversion).
    pub fn from_options(o: &Options) -> QuantChoices {
        let d = QuantChoices::default();
        let quantize = o.quantize.as_deref();
        let palette = o.palettize.as_ref();
        QuantChoices {
            quantize: TFLITE.iter().find(|t| t.0.engine_name() == quantize).map_or(d.quantize, |t| t.0),
            coreml: match (quantize, palette) {
                (Some("int8-weights"), _) => CoremlWeights::Int8,
                (Some("w8a8"), _) => CoremlWeights::W8a8,
                (_, Some(_)) => CoremlWeights::Palettize,
                _ => CoremlWeights::AsPrecision,
            },
            palette_bits: palette.and_then(|p| p.get("bits")).and_then(|b| b.as_u64()).and_then(|b| u8::try_from(b).ok()).unwrap_or(d.palette_bits),
            palette_mode: palette.and_then(|p| p.get("mode")).and_then(|m| m.as_str()).unwrap_or(&d.palette_mode).to_string(),
            method: o.calibration_method.unwrap_or_default(),
            interface: o.interface.unwrap_or_default(),
            keep_float: o.keep_float.join(", "),
            prune: o.prune.as_ref().and_then(|p| p.get("sparsity")).and_then(|s| s.as_f64()).map(|s| s as f32),
        }
    }
}

/// The user's calibration data (`.npz`, or `.npy` for a single-input model).
#[derive(Clone)]
pub struct CalibrationFile {
    pub name: String,
    pub size: u64,
    pub bytes: Uint8Array,
}

type Choose = fn(&mut Choices, String);

/// A callback that applies a `<select>`'s or text field's value to the choices.
fn on_value(ctx: &Context<App>, apply: Choose) -> Callback<Event> {
    ctx.link().callback(move |e: Event| {
        let value = e
            .target()
            .and_then(|t| {
                t.clone().dyn_into::<web_sys::HtmlSelectElement>().map(|s| s.value()).ok().or_else(|| t.dyn_into::<web_sys::HtmlInputElement>().ok().map(|i| i.value()))
            })
            .unwrap_or_default();
        Msg::Choose(Box::new(move |c: &mut Choices| apply(c, value)))
    })
}

/// TFLite and ONNX: one radio per quantization the target offers, and the full-integer
/// settings under int8.
pub fn quantization(app: &App, ctx: &Context<App>) -> Html {
    let c = &app.choices;
    let offered = Quantize::offered(c.target);
    // a choice the target lacks (float16 weights on ONNX) converts as none
    let chosen = offered.iter().find(|q| q.0 == c.quant.quantize).map_or(Quantize::None, |q| q.0);
    html! {
        <>
        <div class="field" role="radiogroup" aria-label="Quantization" data-testid="opt-quantize">
            <span>{ "Quantization" }</span>
            { for offered.iter().map(|&(value, key, label, help)| html! {
                <label class="check">
                    <input type="radio" name="quantize" value={key} data-testid={format!("opt-quantize-{key}")}
                        checked={chosen == value}
                        onchange={ctx.link().callback(move |_: Event| Msg::Choose(Box::new(move |c: &mut Choices| c.quant.quantize = value)))} />
                    <span>{ label }<span class="muted">{ format!(" — {help}") }</span></span>
                </label>
            }) }
        </div>
        if chosen == Quantize::Int8 { { int8_settings(app, ctx) } }
        { prune(app, ctx) }
        </>
    }
}

/// Magnitude pruning, with what it stores on the chosen target.
fn prune(app: &App, ctx: &Context<App>) -> Html {
    let q = &app.choices.quant;
    let help = match app.choices.target {
        Format::Coreml => "the smallest weights become zeros, stored as a bit mask and the rest (constexpr_sparse_to_dense; with int8 or palettes from iOS 18)",
        Format::Tflite | Format::Onnx => "the smallest weights become zeros, stored dense (the file compresses better)",
    };
    html! {
        <label class="field">
            <span>{ "Prune" }<span class="muted">{ format!(" — {help}") }</span></span>
            <select data-testid="opt-prune" onchange={on_value(ctx, |c, v| c.quant.prune = v.parse().ok())}>
                <option value="none" selected={q.prune.is_none()}>{ "none" }</option>
                { for SPARSITIES.into_iter().map(|s| html! {
                    <option value={s.to_string()} selected={q.prune == Some(s)}>{ format!("{:.0} % of each weight", s * 100.0) }</option>
                }) }
            </select>
        </label>
    }
}

/// Calibration data, method, interface and kept-float layers of a full-integer conversion.
fn int8_settings(app: &App, ctx: &Context<App>) -> Html {
    let q = &app.choices.quant;
    let on_file = ctx.link().callback(|e: Event| {
        let input: Option<web_sys::HtmlInputElement> = e.target().and_then(|t| t.dyn_into().ok());
        let file = input.as_ref().and_then(|i| i.files()).and_then(|f| f.get(0));
        if let Some(i) = &input {
            i.set_value("");
        }
        Msg::CalibrationFile(file)
    });
    let calibration = match &app.calibration {
        Some(c) => html! {
            <p class="small" data-testid="calibration-file">
                { format!("Calibration data: {} · {} ", c.name, format::bytes(c.size)) }
                <button type="button" class="secondary small" data-testid="calibration-clear"
                    onclick={ctx.link().callback(|_| Msg::ForgetCalibration)}>{ "Remove" }</button>
            </p>
        },
        None => html! {
            <p class="small version-note" role="note" data-testid="calibration-note">
                { "No calibration data: activation ranges come from generated samples (uniform in [0, 1)), which rarely match real inputs." }
            </p>
        },
    };
    html! {
        <div class="field int8" data-testid="int8-settings">
            <label for="calibration">{ "Calibration data" }
                <span class="muted">{ " — .npz with one array per model input (samples first, then the input's shape), or one .npy for a single input" }</span>
            </label>
            <input id="calibration" type="file" accept=".npz,.npy" data-testid="opt-calibration" onchange={on_file} />
            { calibration }
            <div class="row">
                <label class="field">
                    <span>{ "Calibration method" }</span>
                    <select data-testid="opt-calibration-method"
                        onchange={on_value(ctx, |c, v| c.quant.method = CalibrationMethod::from_key(&v).unwrap_or_default())}>
                        { for CalibrationMethod::ALL.into_iter().map(|m| html! {
                            <option value={m.key()} selected={m == q.method}>{ m.key() }</option>
                        }) }
                    </select>
                </label>
                if app.choices.target == Format::Tflite {
                <label class="field">
                    <span>{ "Interface" }</span>
                    <select data-testid="opt-interface"
                        onchange={on_value(ctx, |c, v| c.quant.interface = if v == "int8" { Interface::Int8 } else { Interface::Float32 })}>
                        <option value="float32" selected={q.interface == Interface::Float32}>{ "float32" }</option>
                        <option value="int8" selected={q.interface == Interface::Int8}>{ "int8" }</option>
                    </select>
                </label>
                }
            </div>
            <p class="muted small" data-testid="calibration-method-help">{ format!("{}: {}.", q.method.key(), method_help(q.method)) }</p>
            if app.choices.target == Format::Tflite {
                <p class="muted small">{ match q.interface {
                    Interface::Float32 => "float32 interface: the model takes and returns float32, quantizing inside.",
                    Interface::Int8 => "int8 interface: the model takes and returns int8 (TFLite's inference_input_type = int8); the app scales its data.",
                } }</p>
            }
            <label class="field">
                <span>{ "Keep in float" }<span class="muted">{ " — empty, auto (the layers that lose the most), or node names separated by commas" }</span></span>
                <input type="text" spellcheck="false" autocomplete="off" data-testid="opt-keep-float" placeholder="auto"
                    value={q.keep_float.clone()} onchange={on_value(ctx, |c, v| c.quant.keep_float = v)} />
            </label>
        </div>
    }
}

/// Core ML: uncompressed, int8 or palettized weights (the last two from iOS 16).
pub fn coreml(app: &App, ctx: &Context<App>) -> Html {
    let c = &app.choices;
    let q = &c.quant;
    let ios15 = c.coreml_target == Ios::Ios15;
    let before_ios17 = c.coreml_target < Ios::Ios17;
    html! {
        <div class="field" role="radiogroup" aria-label="Weight compression" data-testid="opt-weights">
            <span>{ "Weights" }</span>
            { for CoremlWeights::ALL.iter().map(|&(value, key, label, help)| html! {
                <label class="check">
                    <input type="radio" name="coreml-weights" value={key} data-testid={format!("opt-weights-{key}")}
                        checked={q.coreml == value}
                        disabled={(ios15 && value != CoremlWeights::AsPrecision) || (before_ios17 && value == CoremlWeights::W8a8)}
                        onchange={ctx.link().callback(move |_: Event| Msg::Choose(Box::new(move |c: &mut Choices| c.quant.coreml = value)))} />
                    <span>{ label }<span class="muted">{ format!(" — {help}") }</span></span>
                </label>
            }) }
            if ios15 {
                <p class="muted small">{ "iOS 15 programs store float weights only: choose iOS 16 or later to compress them." }</p>
            } else if q.coreml == CoremlWeights::Palettize {
                <div class="row">
                    <label class="field">
                        <span>{ "Bits" }</span>
                        <select data-testid="opt-palette-bits" onchange={on_value(ctx, |c, v| c.quant.palette_bits = v.parse().unwrap_or(4))}>
                            { for PALETTE_BITS.into_iter().map(|b| html! {
                                <option value={b.to_string()} selected={b == q.palette_bits}>{ format!("{b} ({} entries)", 1u32 << b) }</option>
                            }) }
                        </select>
                    </label>
                    <label class="field">
                        <span>{ "Table" }</span>
                        <select data-testid="opt-palette-mode" onchange={on_value(ctx, |c, v| c.quant.palette_mode = v)}>
                            <option value="kmeans" selected={q.palette_mode == "kmeans"}>{ "k-means — entries fit to each weight's values" }</option>
                            <option value="uniform" selected={q.palette_mode == "uniform"}>{ "uniform — evenly spaced between min and max" }</option>
                        </select>
                    </label>
                </div>
            } else if q.coreml == CoremlWeights::W8a8 && !before_ios17 {
                { int8_settings(app, ctx) }
            }
            { prune(app, ctx) }
        </div>
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn choices_give_the_cli_options_and_back() {
        let q = QuantChoices {
            quantize: Quantize::Int8,
            method: CalibrationMethod::Mse,
            interface: Interface::Int8,
            keep_float: " auto, conv_1 ,,".into(),
            ..QuantChoices::default()
        };
        let mut o = Options::default();
        q.quantize_options(&mut o, Format::Tflite);
        assert_eq!(o.quantize.as_deref(), Some("int8"));
        assert_eq!((o.calibration_method, o.interface), (Some(CalibrationMethod::Mse), Some(Interface::Int8)));
        assert_eq!(o.keep_float, ["auto", "conv_1"]);
        let back = QuantChoices::from_options(&o);
        assert_eq!((back.quantize, back.method, back.interface, back.keep_float.as_str()), (Quantize::Int8, CalibrationMethod::Mse, Interface::Int8, "auto, conv_1"));

        // the int8 settings are left out unless int8 is chosen, as the CLI leaves them out
        let mut o = Options::default();
        QuantChoices { quantize: Quantize::Int8Weights, keep_float: "auto".into(), ..q.clone() }.quantize_options(&mut o, Format::Tflite);
        assert_eq!((o.quantize.as_deref(), o.calibration_method, o.interface, o.keep_float.len()), (Some("int8-weights"), None, None, 0));

        // ONNX: QDQ without TFLite's interface, and no float16 weights
        let mut o = Options::default();
        q.quantize_options(&mut o, Format::Onnx);
        assert_eq!((o.quantize.as_deref(), o.calibration_method, o.interface), (Some("int8"), Some(CalibrationMethod::Mse), None));
        let mut o = Options::default();
        QuantChoices { quantize: Quantize::Fp16, ..q.clone() }.quantize_options(&mut o, Format::Onnx);
        assert_eq!(o.quantize, None);

        let palette = QuantChoices { coreml: CoremlWeights::Palettize, palette_bits: 6, palette_mode: "uniform".into(), ..QuantChoices::default() };
        let mut o = Options::default();
        palette.coreml_options(&mut o, Ios::Ios16);
        assert_eq!(o.palettize, Some(serde_json::json!({"bits": 6, "mode": "uniform"})));
        assert_eq!(QuantChoices::from_options(&o), palette);
        let mut o = Options::default();
        palette.coreml_options(&mut o, Ios::Ios15);
        assert_eq!(o, Options::default(), "iOS 15 has no compressed weights");

        // W8A8 from iOS 17, with the calibration settings; pruning on any target
        let w8a8 = QuantChoices { coreml: CoremlWeights::W8a8, method: CalibrationMethod::Percentile, prune: Some(0.5), ..QuantChoices::default() };
        let mut o = Options::default();
        w8a8.coreml_options(&mut o, Ios::Ios17);
        w8a8.prune_options(&mut o);
        assert_eq!((o.quantize.as_deref(), o.calibration_method), (Some("w8a8"), Some(CalibrationMethod::Percentile)));
        assert_eq!(o.prune, Some(serde_json::json!({"sparsity": 0.5})));
        assert!(o.calibrates());
        assert_eq!(QuantChoices::from_options(&o), w8a8);
        let mut o = Options::default();
        w8a8.coreml_options(&mut o, Ios::Ios16);
        assert_eq!(o.quantize, None, "W8A8 needs iOS 17");
    }
}
