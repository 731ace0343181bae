//! Where things live, and the idempotent installers for the host tools and the Python venv.
//!
//! Tools go into one per-machine root (`$EDGEPORT_TOOLS`, default `~/.cache/edgeport/tools`) so
//! every checkout on the machine shares them; each installer checks the installed version first
//! and does nothing when it is right.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{self, run, stdout_of, version_line};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
pub const BINARYEN_VERSION: &str = "132.0.0";

pub struct Env {
    /// The workspace root (the parent of `xtask/`).
    pub repo: PathBuf,
    /// Per-machine root for host tools.
    pub tools: PathBuf,
    /// Per-machine cache shared with the oracle tests (downloaded wheels, models).
    pub cache: PathBuf,
    /// Cargo's target directory.
    pub target: PathBuf,
    /// The cargo that runs us (same toolchain for nested builds).
    pub cargo: PathBuf,
}

fn home() -> PathBuf {
    env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn absolute(p: PathBuf, base: &Path) -> PathBuf {
    if p.is_absolute() { p } else { base.join(p) }
}

impl Env {
    pub fn detect() -> Result<Env> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        let cache = env::var_os("EDGEPORT_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache").join("edgeport"));
        let tools = env::var_os("EDGEPORT_TOOLS")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache").join("edgeport").join("tools"));
        let target = env::var_os("CARGO_TARGET_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target"));
        let cargo = env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| "cargo".into());
        let cwd = env::current_dir().unwrap_or_else(|_| repo.clone());
        Ok(Env {
            cache: absolute(cache, &cwd),
            tools: absolute(tools, &cwd),
            target: absolute(target, &repo),
            repo,
            cargo,
        })
    }

    pub fn cargo(&self) -> Command {
        let mut c = Command::new(&self.cargo);
        c.current_dir(&self.repo);
        c
    }

    /// Scratch space for xtask's own outputs.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.target.join("xtask").join(name)
    }

    pub fn cli_bin(&self) -> PathBuf {
        self.target.join("release").join("edgeport")
    }

    pub fn venv(&self) -> PathBuf {
        self.repo.join(".venv")
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }

    pub fn wasm_bindgen_bin(&self) -> PathBuf {
        self.tools.join("bin").join("wasm-bindgen")
    }

    pub fn wasm_opt_bin(&self) -> PathBuf {
        self.tools.join("npm").join("node_modules").join(".bin").join("wasm-opt")
    }
}

/// Holds an exclusive lock on a file while installing, so two checkouts on one machine (or two
/// terminals) do not install into the same place at once.
pub struct InstallLock(#[allow(dead_code)] fs::File);

impl InstallLock {
    pub fn take(path: &Path) -> Result<InstallLock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("open lock {}", path.display()))?;
        if f.try_lock().is_err() {
            eprintln!("waiting for another install holding {} ...", path.display());
            f.lock().with_context(|| format!("lock {}", path.display()))?;
        }
        Ok(InstallLock(f))
    }
}

fn done(what: &str, started: Instant) {
    eprintln!("  {what} ({:.1} s)", started.elapsed().as_secs_f64());
}

/// `rustup target add wasm32-unknown-unknown` unless the sysroot already has it.
pub fn ensure_wasm_target(env: &Env) -> Result<()> {
    let sysroot = stdout_of(Command::new("rustc").current_dir(&env.repo).args(["--print", "sysroot"]))?;
    if Path::new(&sysroot).join("lib").join("rustlib").join(WASM_TARGET).is_dir() {
        eprintln!("  rust target {WASM_TARGET}: present");
        return Ok(());
    }
    let t = Instant::now();
    run(Command::new("rustup").current_dir(&env.repo).args(["target", "add", WASM_TARGET]))?;
    done(&format!("installed rust target {WASM_TARGET}"), t);
    Ok(())
}

/// wasm-bindgen-cli at exactly the version the web crate links against.
pub fn ensure_wasm_bindgen(env: &Env) -> Result<PathBuf> {
    let bin = env.wasm_bindgen_bin();
    let want = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    if version_line(&bin).is_some_and(|v| v == want) {
        eprintln!("  {want}: present");
        return Ok(bin);
    }
    let _lock = InstallLock::take(&env.tools.join(".install.lock"))?;
    if version_line(&bin).is_some_and(|v| v == want) {
        eprintln!("  {want}: present (installed meanwhile)");
        return Ok(bin);
    }
    eprintln!("  installing {want} into {} (several minutes on 2 cores)", env.tools.display());
    let t = Instant::now();
    // No --locked: the crate's lockfile pins a version this registry does not have.
    // Run outside the workspace so its .cargo/config.toml does not apply.
    run(env_cargo(env)
        .current_dir(&env.tools)
        .args(["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION, "--root"])
        .arg(&env.tools))?;
    match version_line(&bin) {
        Some(v) if v == want => done(&format!("installed {want}"), t),
        other => bail!("after install, {} reports {other:?}, expected {want}", bin.display()),
    }
    Ok(bin)
}

fn env_cargo(env: &Env) -> Command {
    let mut c = Command::new(&env.cargo);
    // A target dir meant for the workspace must not collect cargo-install builds.
    c.env_remove("CARGO_TARGET_DIR");
    c
}

/// wasm-opt from the npm `binaryen` package (Debian's binaryen is too old for wasm-bindgen's output).
pub fn ensure_wasm_opt(env: &Env) -> Result<PathBuf> {
    let bin = env.wasm_opt_bin();
    let major = BINARYEN_VERSION.split('.').next().unwrap_or(BINARYEN_VERSION);
    let want = format!("wasm-opt version {major}");
    let ok = |v: &Option<String>| v.as_deref().is_some_and(|v| v.starts_with(&format!("{want} ")) || v == want);
    if ok(&version_line(&bin)) {
        eprintln!("  {want}: present");
        return Ok(bin);
    }
    let _lock = InstallLock::take(&env.tools.join(".install.lock"))?;
    let prefix = env.tools.join("npm");
    fs::create_dir_all(&prefix)?;
    let t = Instant::now();
    run(Command::new("npm")
        .current_dir(&prefix)
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(format!("binaryen@{BINARYEN_VERSION}")))?;
    let got = version_line(&bin);
    if !ok(&got) {
        bail!("after install, {} reports {got:?}, expected {want}", bin.display());
    }
    done(&format!("installed binaryen {BINARYEN_VERSION}"), t);
    Ok(bin)
}

pub fn requirements_file(env: &Env) -> PathBuf {
    env.repo.join("tests").join("requirements.txt")
}

fn base_python() -> String {
    env::var("EDGEPORT_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into())
}

fn python_works(python: &Path) -> bool {
    python.is_file()
        && Command::new(python)
            .args(["-c", "import sys, pip"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Creates (or repairs) a venv at `dir` and makes sure the packages listed by `requirements`
/// are installed; a stamp file holding their sha256 skips the pip run when nothing changed.
pub fn ensure_venv_with(
    dir: &Path,
    lock_path: &Path,
    stamp_name: &str,
    requirements: &[u8],
    pip_args: &[String],
) -> Result<PathBuf> {
    let python = dir.join("bin").join("python");
    let stamp = dir.join(stamp_name);
    let want = util::sha256_hex(requirements);
    let fresh = || python_works(&python) && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want);
    if fresh() {
        eprintln!("  venv {}: up to date", dir.display());
        return Ok(python);
    }
    let _lock = InstallLock::take(lock_path)?;
    if fresh() {
        eprintln!("  venv {}: up to date (installed meanwhile)", dir.display());
        return Ok(python);
    }
    let t = Instant::now();
    if !python_works(&python) {
        if dir.exists() {
            eprintln!("  venv {} is broken; recreating it", dir.display());
            fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
        }
        run(Command::new(base_python()).args(["-m", "venv"]).arg(dir))?;
    }
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input"]).args(pip_args);
    run(&mut pip)?;
    fs::write(&stamp, format!("{want}\n")).with_context(|| format!("write {}", stamp.display()))?;
    done(&format!("venv {} ready", dir.display()), t);
    Ok(python)
}

/// The test venv `.venv` from `tests/requirements.txt`.
pub fn ensure_test_venv(env: &Env) -> Result<PathBuf> {
    let req = requirements_file(env);
    let bytes = fs::read(&req).with_context(|| format!("read {}", req.display()))?;
    ensure_venv_with(
        &env.venv(),
        &env.scratch("venv.lock"),
        ".edgeport-requirements.sha256",
        &bytes,
        &["-r".into(), req.to_string_lossy().into_owned()],
    )
}

// ---- the playground's build tool and the browser test's tools ---------------------------------

pub const TRUNK_VERSION: &str = "0.21.14";
/// npm `playwright-core`: drives the system chromium over CDP; it never downloads a browser.
pub const PLAYWRIGHT_CORE_VERSION: &str = "1.65.1";
pub const CHROMIUM: &str = "/usr/bin/chromium";

impl Env {
    pub fn trunk_bin(&self) -> PathBuf {
        self.tools.join("bin").join("trunk")
    }

    /// The npm project of the browser test (its own package.json and lockfile).
    pub fn browser_npm(&self) -> PathBuf {
        self.tools.join("browser-npm")
    }
}

/// trunk at exactly [`TRUNK_VERSION`] in the tool root (`cargo install --locked`, built without
/// LTO: a few minutes on 2 cores the first time).
pub fn ensure_trunk(env: &Env) -> Result<PathBuf> {
    let bin = env.trunk_bin();
    let want = format!("trunk {TRUNK_VERSION}");
    if version_line(&bin).is_some_and(|v| v == want) {
        eprintln!("  {want}: present");
        return Ok(bin);
    }
    let _lock = InstallLock::take(&env.tools.join(".install.lock"))?;
    if version_line(&bin).is_some_and(|v| v == want) {
        return Ok(bin);
    }
    eprintln!("  installing {want} into {} (a few minutes on 2 cores)", env.tools.display());
    let t = Instant::now();
    // trunk's own release profile asks for fat LTO and one codegen unit, which makes a cold
    // install take about 20 minutes on 2 cores. It only orchestrates cargo, wasm-bindgen and
    // wasm-opt, so a quickly built binary serves as well: about 7 CPU-minutes instead.
    run(env_cargo(env)
        .current_dir(&env.tools)
        .env("CARGO_PROFILE_RELEASE_LTO", "off")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .args(["install", "trunk", "--locked", "--version", TRUNK_VERSION, "--root"])
        .arg(&env.tools))?;
    match version_line(&bin) {
        Some(v) if v == want => done(&format!("installed {want}"), t),
        other => bail!("after install, {} reports {other:?}, expected {want}", bin.display()),
    }
    Ok(bin)
}

/// Debian's chromium, installed with apt-get when missing. The test never downloads a browser
/// of its own.
pub fn ensure_chromium() -> Result<PathBuf> {
    let bin = PathBuf::from(CHROMIUM);
    ensure_apt_packages("chromium", &["chromium"], &bin)?;
    Ok(bin)
}

/// Mesa's lavapipe: a Vulkan driver on the CPU, so the GPU runtime's tests run on a machine
/// without a GPU.
pub const LAVAPIPE_ICD: &str = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";

pub fn ensure_lavapipe() -> Result<()> {
    ensure_apt_packages("lavapipe (Vulkan on the CPU)", &["mesa-vulkan-drivers", "libvulkan1"], Path::new(LAVAPIPE_ICD))
}

/// Installs Debian `packages` with apt-get unless `probe` exists (`apt-get update` only if the
/// first install fails).
fn ensure_apt_packages(what: &str, packages: &[&str], probe: &Path) -> Result<()> {
    if probe.exists() {
        eprintln!("  {what}: present ({})", probe.display());
        return Ok(());
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let t = Instant::now();
    if !install() {
        run(Command::new("apt-get").arg("update"))?;
        if !install() {
            bail!("apt-get install {} failed", packages.join(" "));
        }
    }
    if !probe.exists() {
        bail!("{} was installed but {} does not exist", packages.join(" "), probe.display());
    }
    done(&format!("installed {what}"), t);
    Ok(())
}

/// npm `playwright-core` at [`PLAYWRIGHT_CORE_VERSION`] in its own npm project under the tool
/// root; returns that project's folder (node resolves `playwright-core` through `NODE_PATH`).
pub fn ensure_playwright(env: &Env) -> Result<PathBuf> {
    // PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: belt and braces; playwright-core has no install script.
    ensure_npm_package(env, &env.browser_npm(), "edgeport-browser-test", "playwright-core", PLAYWRIGHT_CORE_VERSION)
}

/// npm `onnxruntime-web`: the in-browser peer of `cargo xtask bench cpu` (its own npm project,
/// so the test's install stays small).
pub const ONNXRUNTIME_WEB_VERSION: &str = "1.23.2";

pub fn ensure_onnxruntime_web(env: &Env) -> Result<PathBuf> {
    ensure_npm_package(env, &env.tools.join("bench-npm"), "edgeport-bench", "onnxruntime-web", ONNXRUNTIME_WEB_VERSION)
}

/// Installs `package@version` (exact) into the npm project `dir` unless it is there already.
fn ensure_npm_package(env: &Env, dir: &Path, project: &str, package: &str, version: &str) -> Result<PathBuf> {
    let manifest = dir.join("node_modules").join(package).join("package.json");
    let installed = || {
        fs::read(&manifest)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["version"] == version)
    };
    if installed() {
        eprintln!("  {package} {version}: present");
        return Ok(dir.to_path_buf());
    }
    let _lock = InstallLock::take(&env.tools.join(".install.lock"))?;
    if installed() {
        return Ok(dir.to_path_buf());
    }
    fs::create_dir_all(dir)?;
    let manifest_file = dir.join("package.json");
    if !manifest_file.is_file() {
        fs::write(&manifest_file, format!("{{\n  \"name\": \"{project}\",\n  \"private\": true\n}}\n"))?;
    }
    let t = Instant::now();
    run(Command::new("npm")
        .current_dir(dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .args(["install", "--no-audit", "--no-fund", "--save-exact"])
        .arg(format!("{package}@{version}")))?;
    if !installed() {
        bail!("after install, {} is not {package} {version}", manifest.display());
    }
    done(&format!("installed {package} {version}"), t);
    Ok(dir.to_path_buf())
}
