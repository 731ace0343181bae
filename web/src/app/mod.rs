//! The playground app: the page's state and its transitions. Rendering lives in [`view`], the
//! worker connection in [`bridge`]. The page never runs the engine itself; every inspect and
//! convert goes to the worker, so a long conversion cannot freeze it and Cancel can kill it.

mod bridge;
mod fidelity;
pub mod format;
mod shared;
mod measure;
mod quantize;
mod simulate;
mod view;

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::protocol::{ErrorInfo, Format, Ios, Options, Precision, Reply, Request, StageName, Summary, parse_shapes};
use crate::share::SharedConversion;
use crate::sim_report::{ProfileInfo, Report};
use bridge::{EngineBridge, Incoming};
use fidelity::FidelityView;
use shared::SharedView;
use measure::MeasureState;
use quantize::{CalibrationFile, QuantChoices};
use simulate::{SimChoices, SimState};

/// The sample model, copied into the site by trunk (static/index.html) and fetched only when
/// the sample button is pressed.
const SAMPLE_URL: &str = "./sample/model.onnx";
const SAMPLE_NAME: &str = "mobilenetv2.onnx";

/// A model the user gave us; the bytes stay in JS memory and are copied to the worker per request.
#[derive(Clone)]
pub struct Model {
    pub name: String,
    pub size: u64,
    bytes: Uint8Array,
}

impl Model {
    /// File name stem for the artifact: `mobilenetv2.onnx` -> `mobilenetv2`.
    fn stem(&self) -> String {
        let stem = self.name.strip_suffix(".onnx").or_else(|| self.name.strip_suffix(".ONNX")).unwrap_or(&self.name);
        let clean: String = stem.chars().filter(|c| !c.is_control() && !"/\\:*?\"<>|".contains(*c)).collect();
        if clean.trim().is_empty() { "model".into() } else { clean }
    }
}

/// The choices under "Target".
#[derive(Clone, PartialEq)]
pub struct Choices {
    pub target: Format,
    pub nhwc_io: bool,
    /// TFLite's and ONNX's quantization, Core ML's weight compression.
    pub quant: QuantChoices,
    pub coreml_target: Ios,
    pub precision: Precision,
    /// The input-shape field as typed.
    pub shapes: String,
}

impl Default for Choices {
    fn default() -> Self {
        Choices {
            target: Format::Tflite,
            nhwc_io: false,
            quant: QuantChoices::default(),
            coreml_target: Ios::Ios16,
            precision: Precision::Fp16,
            shapes: String::new(),
        }
    }
}

impl Choices {
    /// The engine options for these choices (only what applies to the chosen target, as the CLI
    /// would pass them, so the bytes match the CLI's).
    fn options(&self) -> Result<Options, String> {
        let input_shapes = parse_shapes(&self.shapes)?;
        let mut o = Options { to: self.target, input_shapes, ..Options::default() };
        match self.target {
            Format::Tflite => {
                o.nhwc_io = self.nhwc_io;
                self.quant.quantize_options(&mut o, Format::Tflite);
            }
            Format::Onnx => self.quant.quantize_options(&mut o, Format::Onnx),
            Format::Coreml => {
                o.coreml_target = Some(self.coreml_target);
                o.precision = Some(self.precision);
                self.quant.coreml_options(&mut o, self.coreml_target);
            }
        }
        self.quant.prune_options(&mut o);
        Ok(o)
    }

    fn inspect_options(&self) -> Result<Options, String> {
        Ok(Options { input_shapes: parse_shapes(&self.shapes)?, ..Options::default() })
    }
}

/// Where an error is shown: next to what failed.
#[derive(Clone, Copy, PartialEq)]
pub enum Place {
    Model,
    Convert,
    Simulate,
    Measure,
    Fidelity,
}

#[derive(Clone, PartialEq)]
pub struct Shown {
    pub place: Place,
    pub error: ErrorInfo,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Busy {
    Idle,
    Reading,
    Inspecting { id: u32 },
    /// `in_runtime`: a full-integer conversion, which calibrates in the runtime worker.
    Converting { id: u32, stage: Option<StageName>, started_ms: f64, in_runtime: bool },
    Simulating { id: u32 },
    Measuring { id: u32 },
    /// The runtime worker compares the last conversion's artifact with the original.
    Fidelity { id: u32 },
}

impl Busy {
    /// Whether the runtime worker (not the conversion worker) does the work.
    fn in_runtime(self) -> bool {
        matches!(self, Busy::Measuring { .. } | Busy::Fidelity { .. } | Busy::Converting { in_runtime: true, .. })
    }
}

/// A finished conversion, ready to download.
#[derive(Clone, PartialEq)]
pub struct Outcome {
    pub url: String,
    pub file_name: String,
    pub size: usize,
    pub sha256: String,
    pub verified: String,
    pub seconds: f64,
    pub target: Format,
}

pub enum Msg {
    Files(Option<web_sys::File>),
    Sample,
    Read { name: String, result: Result<Uint8Array, String> },
    CalibrationFile(Option<web_sys::File>),
    CalibrationRead { name: String, result: Result<Uint8Array, String> },
    ForgetCalibration,
    SortLayers(fidelity::Column),
    Worker(Incoming),
    WorkerCrashed(String),
    /// The runtime worker died (a trap, or it could not load).
    RuntimeCrashed(String),
    Choose(Box<dyn FnOnce(&mut Choices)>),
    ApplyShapes,
    Convert,
    Cancel,
    Drag(bool),
    SimChoose(Box<dyn FnOnce(&mut SimChoices)>),
    Simulate,
    MeasureChoose(Box<dyn FnOnce(&mut MeasureState)>),
    Measure,
    /// Select a (profile, unit) row for the placement table.
    SelectRow(String, String),
    SortPlacement,
    Share,
    CopyLink,
    /// Leave the shared report (or a damaged link's message) behind.
    CloseShared,
}

pub struct App {
    /// This component's scope, for callbacks made outside `update` (the runtime worker's).
    link: html::Scope<App>,
    bridge: Option<EngineBridge>,
    /// The runtime worker (measurements), started on first use.
    runtime: Option<EngineBridge>,
    worker_ready: bool,
    model: Option<Model>,
    summary: Option<Summary>,
    choices: Choices,
    busy: Busy,
    /// Stages reached by the current or last conversion.
    reached: Vec<StageName>,
    outcome: Option<Outcome>,
    /// The user's calibration data for full-integer conversions.
    calibration: Option<CalibrationFile>,
    /// The last lossy conversion's fidelity.
    fidelity: Option<FidelityView>,
    error: Option<Shown>,
    notice: Option<String>,
    next_id: u32,
    dragging: bool,
    file_input: NodeRef,
    /// Device profiles for the simulator's picker (asked of each fresh worker until known).
    profiles: Vec<ProfileInfo>,
    sim: SimState,
    measure: MeasureState,
    /// The last conversion, as a share link records it.
    last_conversion: Option<SharedConversion>,
    /// A report opened from a share link, or why the link could not be read.
    shared: Option<SharedView>,
    link_error: Option<String>,
    share_link: Option<String>,
    share_link_input: NodeRef,
    share_copied: bool,
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let mut app = App {
            link: ctx.link().clone(),
            bridge: None,
            runtime: None,
            worker_ready: false,
            model: None,
            summary: None,
            choices: Choices::default(),
            busy: Busy::Idle,
            reached: Vec::new(),
            outcome: None,
            calibration: None,
            fidelity: None,
            error: None,
            notice: None,
            next_id: 1,
            dragging: false,
            file_input: NodeRef::default(),
            profiles: Vec::new(),
            sim: SimState::default(),
            measure: MeasureState::default(),
            last_conversion: None,
            shared: None,
            link_error: None,
            share_link: None,
            share_link_input: NodeRef::default(),
            share_copied: false,
        };
        app.open_link_in_url();
        app.spawn_worker(ctx);
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Drag(on) => {
                let changed = self.dragging != on;
                self.dragging = on;
                changed
            }
            Msg::Files(file) => {
                self.dragging = false;
                let Some(file) = file else { return true };
                if self.is_busy() {
                    return true;
                }
                let name = file.name();
                self.start_reading();
                ctx.link().send_future(async move { Msg::Read { name, result: read_file(&file).await } });
                true
            }
            Msg::CalibrationFile(file) => {
                let Some(file) = file else { return false };
                let name = file.name();
                ctx.link().send_future(async move { Msg::CalibrationRead { name, result: read_file(&file).await } });
                false
            }
            Msg::CalibrationRead { name, result } => {
                match result {
                    Ok(bytes) => {
                        let size = u64::from(bytes.length());
                        self.calibration = Some(CalibrationFile { name, size, bytes });
                    }
                    Err(e) => self.error = Some(Shown { place: Place::Convert, error: ErrorInfo::new("io", e) }),
                }
                true
            }
            Msg::ForgetCalibration => {
                self.calibration = None;
                true
            }
            Msg::SortLayers(column) => {
                if let Some(f) = &mut self.fidelity {
                    f.sort_by(column);
                }
                true
            }
            Msg::Sample => {
                if self.is_busy() {
                    return false;
                }
                self.start_reading();
                ctx.link().send_future(async move {
                    Msg::Read { name: SAMPLE_NAME.to_string(), result: fetch_bytes(SAMPLE_URL).await }
                });
                true
            }
            Msg::Read { name, result } => {
                self.busy = Busy::Idle;
                match result {
                    Ok(bytes) => {
                        let size = u64::from(bytes.length());
                        self.model = Some(Model { name, size, bytes });
                        self.choices.shapes.clear();
                        self.apply_shared_options();
                        if size == 0 {
                            let error = ErrorInfo::new("invalid_model", "The file is empty (0 bytes).");
                            self.error = Some(Shown { place: Place::Model, error });
                        } else {
                            self.inspect();
                        }
                    }
                    Err(e) => self.error = Some(Shown { place: Place::Model, error: ErrorInfo::new("io", e) }),
                }
                true
            }
            Msg::ApplyShapes => {
                if !self.is_busy() && self.model.is_some() {
                    self.error = None;
                    self.outcome_clear();
                    self.inspect();
                }
                true
            }
            Msg::Choose(f) => {
                f(&mut self.choices);
                true
            }
            Msg::Convert => {
                self.convert();
                true
            }
            Msg::Cancel => {
                if self.busy.in_runtime() {
                    // Only the runtime worker is busy: stop it; its next use starts a fresh one.
                    self.notice = Some(
                        match self.busy {
                            Busy::Measuring { .. } => "Measurement cancelled.",
                            Busy::Fidelity { .. } => "Fidelity check cancelled.",
                            _ => "Conversion cancelled.",
                        }
                        .into(),
                    );
                    if matches!(self.busy, Busy::Converting { .. }) {
                        self.reached.clear();
                    }
                    self.runtime = None;
                    self.measure.progress = None;
                    self.busy = Busy::Idle;
                    self.stop_shared_check("cancelled");
                } else if matches!(self.busy, Busy::Converting { .. } | Busy::Inspecting { .. } | Busy::Simulating { .. }) {
                    let was_converting = matches!(self.busy, Busy::Converting { .. });
                    let was_simulating = matches!(self.busy, Busy::Simulating { .. });
                    // Dropping the bridge terminates the worker mid-call; a fresh one takes over.
                    self.bridge = None;
                    self.busy = Busy::Idle;
                    self.reached.clear();
                    self.spawn_worker(ctx);
                    self.notice = Some(
                        if was_converting {
                            "Conversion cancelled."
                        } else if was_simulating {
                            "Simulation cancelled."
                        } else {
                            "Reading cancelled."
                        }
                        .into(),
                    );
                    self.stop_shared_check("cancelled");
                    if !was_converting && !was_simulating {
                        self.summary = None;
                    }
                }
                true
            }
            Msg::RuntimeCrashed(why) => {
                self.runtime = None;
                self.measure.progress = None;
                if self.busy.in_runtime() {
                    let (what, place) = match self.busy {
                        Busy::Measuring { .. } => ("measurement", Place::Measure),
                        Busy::Fidelity { .. } => ("fidelity check", Place::Fidelity),
                        _ => ("conversion", Place::Convert),
                    };
                    self.busy = Busy::Idle;
                    self.stop_shared_check(&format!("the {what} stopped: {why}"));
                    let error = ErrorInfo::new("internal", format!("The {what} stopped: {why}"));
                    self.error = Some(Shown { place, error });
                }
                true
            }
            Msg::WorkerCrashed(why) => {
                self.bridge = None;
                if self.busy.in_runtime() {
                    // the work runs in the runtime worker and goes on
                    self.spawn_worker(ctx);
                    return true;
                }
                let place = match self.busy {
                    Busy::Converting { .. } => Place::Convert,
                    Busy::Simulating { .. } => Place::Simulate,
                    _ => Place::Model,
                };
                let busy = self.is_busy();
                self.busy = Busy::Idle;
                self.reached.clear();
                self.spawn_worker(ctx);
                if busy || !self.worker_ready {
                    let error = ErrorInfo::new("internal", format!("The conversion engine stopped: {why}"));
                    self.error = Some(Shown { place, error });
                }
                true
            }
            Msg::Worker(incoming) => self.on_reply(incoming),
            Msg::SimChoose(f) => {
                f(&mut self.sim.choices);
                true
            }
            Msg::Simulate => {
                let options = self.sim.choices.options();
                self.simulate(options);
                true
            }
            Msg::MeasureChoose(f) => {
                f(&mut self.measure);
                true
            }
            Msg::Measure => {
                self.start_measure();
                true
            }
            Msg::SelectRow(profile, unit) => {
                self.sim.selected = Some((profile, unit));
                true
            }
            Msg::SortPlacement => {
                self.sim.slowest_first = !self.sim.slowest_first;
                true
            }
            Msg::Share => {
                self.make_share_link();
                true
            }
            Msg::CopyLink => {
                self.copy_share_link();
                true
            }
            Msg::CloseShared => {
                self.shared = None;
                self.link_error = None;
                if self.sim.report.is_none() {
                    self.sim.selected = None;
                }
                true
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        view::page(self, ctx)
    }
}

impl App {
    fn spawn_worker(&mut self, ctx: &Context<Self>) {
        self.worker_ready = false;
        let on_reply = ctx.link().callback(Msg::Worker);
        let on_crash = ctx.link().callback(Msg::WorkerCrashed);
        match EngineBridge::spawn(bridge::WORKER_URL, on_reply, on_crash) {
            Ok(b) => {
                if self.profiles.is_empty() {
                    b.send(&Request::Profiles { id: 0 }, &Uint8Array::new_with_length(0));
                }
                self.bridge = Some(b);
            }
            Err(e) => {
                let error = ErrorInfo::new("internal", format!("This browser could not start a Web Worker: {e}"));
                self.error = Some(Shown { place: Place::Model, error });
            }
        }
    }

    fn is_busy(&self) -> bool {
        self.busy != Busy::Idle
    }

    fn start_reading(&mut self) {
        self.busy = Busy::Reading;
        self.error = None;
        self.notice = None;
        self.summary = None;
        self.reached.clear();
        self.outcome_clear();
        self.sim.clear();
        self.last_conversion = None;
        self.share_link = None;
    }

    /// Forgets the last conversion's download and fidelity.
    fn outcome_clear(&mut self) {
        self.fidelity = None;
        if let Some(o) = self.outcome.take() {
            let _ = web_sys::Url::revoke_object_url(&o.url);
        }
    }

    fn inspect(&mut self) {
        let (Some(model), Some(bridge)) = (&self.model, &self.bridge) else { return };
        let options = match self.choices.inspect_options() {
            Ok(o) => o,
            Err(e) => {
                let error = ErrorInfo::new("invalid_options", format!("Input shapes: {e}"));
                self.error = Some(Shown { place: Place::Model, error });
                return;
            }
        };
        let id = self.next_id.wrapping_add(1);
        bridge.send(&Request::Inspect { id, options }, &model.bytes);
        self.next_id = id;
        self.busy = Busy::Inspecting { id };
    }

    /// Converts in the conversion worker, or, for a full-integer model (which calibrates on the
    /// CPU runtime), in the runtime worker with the calibration data.
    fn convert(&mut self) {
        if self.is_busy() || self.summary.is_none() || self.model.is_none() {
            return;
        }
        self.error = None;
        self.notice = None;
        self.share_link = None;
        let options = match self.choices.options() {
            Ok(o) => o,
            Err(e) => {
                let error = ErrorInfo::new("invalid_options", format!("Input shapes: {e}"));
                self.error = Some(Shown { place: Place::Convert, error });
                return;
            }
        };
        let in_runtime = options.calibrates();
        if in_runtime && !self.start_runtime(Place::Convert) {
            return;
        }
        let bridge = if in_runtime { &self.runtime } else { &self.bridge };
        let (Some(model), Some(bridge)) = (&self.model, bridge) else { return };
        let id = self.next_id.wrapping_add(1);
        let calibration = self.calibration.as_ref().filter(|_| in_runtime).map(|c| &c.bytes);
        bridge.send_with(&Request::Convert { id, options }, &model.bytes, calibration);
        self.next_id = id;
        self.outcome_clear();
        self.reached.clear();
        self.busy = Busy::Converting { id, stage: None, started_ms: now_ms(), in_runtime };
    }

    /// After a lossy conversion: its fidelity, from the runtime worker. Returns whether it started.
    fn check_fidelity(&mut self, options: Options) -> bool {
        if !options.compresses_weights() || !self.start_runtime(Place::Fidelity) {
            return false;
        }
        let (Some(model), Some(runtime)) = (&self.model, &self.runtime) else { return false };
        let id = self.next_id.wrapping_add(1);
        let calibration = self.calibration.as_ref().filter(|_| options.calibrates()).map(|c| &c.bytes);
        runtime.send_with(&Request::Fidelity { id, options }, &model.bytes, calibration);
        self.next_id = id;
        self.busy = Busy::Fidelity { id };
        true
    }

    /// Starts the runtime worker unless it runs; a failure is shown at `place`.
    fn start_runtime(&mut self, place: Place) -> bool {
        if self.runtime.is_some() {
            return true;
        }
        let on_reply = self.link.callback(Msg::Worker);
        let on_crash = self.link.callback(Msg::RuntimeCrashed);
        match EngineBridge::spawn(bridge::RUNTIME_WORKER_URL, on_reply, on_crash) {
            Ok(b) => {
                self.runtime = Some(b);
                true
            }
            Err(e) => {
                let error = ErrorInfo::new("internal", format!("This browser could not start a Web Worker: {e}"));
                self.error = Some(Shown { place, error });
                false
            }
        }
    }

    fn current_id(&self) -> Option<u32> {
        match self.busy {
            Busy::Inspecting { id }
            | Busy::Converting { id, .. }
            | Busy::Simulating { id }
            | Busy::Measuring { id }
            | Busy::Fidelity { id } => Some(id),
            Busy::Idle | Busy::Reading => None,
        }
    }

    fn on_reply(&mut self, incoming: Incoming) -> bool {
        let Incoming { reply, bytes } = incoming;
        if let Reply::Ready { .. } = reply {
            self.worker_ready = true;
            return true;
        }
        if let Reply::Profiles { profiles, .. } = reply {
            self.sim.choices.default_selection(&profiles);
            self.profiles = profiles;
            return true;
        }
        let id = match &reply {
            Reply::Summary { id, .. }
            | Reply::Stage { id, .. }
            | Reply::Converted { id, .. }
            | Reply::Simulated { id, .. }
            | Reply::MeasureProgress { id, .. }
            | Reply::Measured { id, .. }
            | Reply::Fidelity { id, .. }
            | Reply::Failed { id, .. } => *id,
            Reply::Ready { .. } | Reply::Profiles { .. } => return true,
        };
        // A reply to a request the page no longer waits for (replaced or cancelled) is dropped.
        if Some(id) != self.current_id() {
            return false;
        }
        match reply {
            Reply::Summary { summary, .. } => {
                self.busy = Busy::Idle;
                if let Err(error) = self.check_shared_model(&summary) {
                    self.model = None;
                    self.error = Some(Shown { place: Place::Model, error });
                    return true;
                }
                self.summary = Some(summary);
                self.continue_shared_check();
            }
            Reply::Stage { stage, .. } => {
                if let Busy::Converting { stage: s, .. } = &mut self.busy {
                    *s = Some(stage);
                }
                self.reached.push(stage);
            }
            Reply::Converted { result, .. } => {
                let started = match self.busy {
                    Busy::Converting { started_ms, .. } => started_ms,
                    _ => now_ms(),
                };
                self.busy = Busy::Idle;
                let Some(bytes) = bytes else {
                    let error = ErrorInfo::new("internal", "the worker sent no artifact bytes");
                    self.error = Some(Shown { place: Place::Convert, error });
                    return true;
                };
                let stem = self.model.as_ref().map(Model::stem).unwrap_or_else(|| "model".into());
                let target = self.choices.target;
                // The choices cannot change while a conversion runs, so these are its options.
                let options = self.choices.options().unwrap_or_default();
                self.last_conversion = Some(SharedConversion {
                    options: options.clone(),
                    file_name: format!("{stem}.{}", target.extension()),
                    sha256: result.sha256.clone(),
                    size: result.size,
                });
                match object_url(&bytes, &result.media_type) {
                    Ok(url) => {
                        self.outcome = Some(Outcome {
                            url,
                            file_name: format!("{stem}.{}", target.extension()),
                            size: result.size,
                            sha256: result.sha256,
                            verified: result.verified,
                            seconds: (now_ms() - started) / 1000.0,
                            target,
                        });
                    }
                    Err(e) => self.error = Some(Shown { place: Place::Convert, error: ErrorInfo::new("internal", e) }),
                }
                // a shared report's re-run goes on once the fidelity is in
                if !self.check_fidelity(options) {
                    self.continue_shared_check();
                }
            }
            Reply::Fidelity { fidelity, .. } => {
                self.busy = Busy::Idle;
                self.fidelity = fidelity.map(|f| FidelityView::new(*f));
                self.continue_shared_check();
            }
            Reply::Simulated { report, .. } => {
                self.busy = Busy::Idle;
                self.sim.set_report(*report);
                self.continue_shared_check();
            }
            Reply::MeasureProgress { variant, stage, done, total, .. } => {
                self.measure.progress = Some((variant, stage, done, total));
            }
            Reply::Measured { result, .. } => {
                self.busy = Busy::Idle;
                self.measure.progress = None;
                self.measure.result = Some(*result);
                self.continue_shared_check();
            }
            Reply::Failed { error, .. } => {
                self.measure.progress = None;
                let place = match self.busy {
                    Busy::Converting { .. } => Place::Convert,
                    Busy::Simulating { .. } => Place::Simulate,
                    Busy::Measuring { .. } => Place::Measure,
                    Busy::Fidelity { .. } => Place::Fidelity,
                    _ => Place::Model,
                };
                self.stop_shared_check(&error.message);
                if place == Place::Model {
                    self.summary = None;
                }
                self.busy = Busy::Idle;
                self.error = Some(Shown { place, error });
            }
            Reply::Ready { .. } | Reply::Profiles { .. } => {}
        }
        true
    }

    /// The import options (input shapes) as typed; a typing error is shown at `place`.
    fn import_options(&mut self, place: Place) -> Option<Options> {
        match self.choices.inspect_options() {
            Ok(o) => Some(o),
            Err(e) => {
                let error = ErrorInfo::new("invalid_options", format!("Input shapes: {e}"));
                self.error = Some(Shown { place, error });
                None
            }
        }
    }

    /// Runs a simulation in the worker with the current import options.
    fn simulate(&mut self, options: crate::sim_report::SimOptions) {
        if self.is_busy() || self.summary.is_none() {
            return;
        }
        let Some(import) = self.import_options(Place::Simulate) else { return };
        let (Some(model), Some(bridge)) = (&self.model, &self.bridge) else { return };
        if options.profiles.is_empty() {
            let error = ErrorInfo::new("invalid_options", "Choose at least one device.");
            self.error = Some(Shown { place: Place::Simulate, error });
            return;
        }
        self.error = None;
        self.notice = None;
        self.share_link = None;
        let id = self.next_id.wrapping_add(1);
        bridge.send(&Request::Simulate { id, options: import.clone(), simulate: options }, &model.bytes);
        self.next_id = id;
        self.sim.import_options = Some(import);
        self.busy = Busy::Simulating { id };
    }

    /// Measures the chosen variants in the worker.
    fn start_measure(&mut self) {
        if self.is_busy() || self.summary.is_none() {
            return;
        }
        let Some(import) = self.import_options(Place::Measure) else { return };
        if !self.start_runtime(Place::Measure) {
            return;
        }
        let (Some(model), Some(bridge)) = (&self.model, &self.runtime) else { return };
        self.error = None;
        self.notice = None;
        let id = self.next_id.wrapping_add(1);
        bridge.send(&Request::Measure { id, options: import, measure: self.measure.options() }, &model.bytes);
        self.next_id = id;
        self.measure.progress = None;
        self.measure.result = None;
        self.busy = Busy::Measuring { id };
    }

    /// The report on screen: the page's own, else the one a share link carries.
    fn shown_report(&self) -> Option<&Report> {
        self.sim.report.as_ref().or_else(|| self.shared.as_ref().and_then(|s| s.record.simulation.as_ref()).map(|s| &s.report))
    }
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Reads a file the user chose into JS memory.
async fn read_file(file: &web_sys::File) -> Result<Uint8Array, String> {
    JsFuture::from(file.array_buffer())
        .await
        .map(|buf| Uint8Array::new(&buf))
        .map_err(|e| format!("the browser could not read the file ({e:?})"))
}

/// A `blob:` URL for the artifact, so the download never leaves the browser.
fn object_url(bytes: &Uint8Array, media_type: &str) -> Result<String, String> {
    let parts = js_sys::Array::of1(bytes);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(media_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)
        .map_err(|e| format!("could not hold the artifact in memory ({e:?})"))?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("could not offer the download ({e:?})"))
}

/// Fetches a same-origin file (the sample model).
async fn fetch_bytes(url: &str) -> Result<Uint8Array, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp = JsFuture::from(window.fetch_with_str(url)).await.map_err(|e| format!("could not load the sample ({e:?})"))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| "the sample request returned no response".to_string())?;
    if !resp.ok() {
        return Err(format!("could not load the sample model (HTTP {})", resp.status()));
    }
    let buf = resp.array_buffer().map_err(|e| format!("{e:?}"))?;
    let buf = JsFuture::from(buf).await.map_err(|e| format!("could not read the sample ({e:?})"))?;
    Ok(Uint8Array::new(&buf))
}
