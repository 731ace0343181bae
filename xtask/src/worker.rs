//! The edge worker: `cargo xtask worker` builds the bundle and serves it with workerd,
//! `cargo xtask size` reports the bundle sizes against their budgets, and [`run_test`] is the
//! `worker` stage of `cargo xtask test`.
//!
//! The bundle is two modules (see worker/workerd.capnp): `entry.mjs`, which is
//! worker/js/entry.mjs bundled by esbuild with the wasm-bindgen glue (`--target web`), and
//! `edgeport_worker_bg.wasm`. Nothing is downloaded at build time except through npm and cargo:
//! wasm-bindgen-cli, binaryen, esbuild and workerd all live in the per-machine tool root.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::env::{self, Env, WASM_BINDGEN_VERSION, WASM_TARGET};
use crate::util::{self, run, run_status};

pub const CRATE: &str = "edgeport-worker";
const STEM: &str = "edgeport_worker";
/// npm packages the worker needs, pinned; installed next to binaryen.
pub const WORKERD_VERSION: &str = "1.20261117.1";
pub const ESBUILD_VERSION: &str = "0.28.2";
/// Cloudflare's free-plan limit on a worker's compressed size: "3 MB" in the docs, 3 MiB in
/// what the upload enforces ("Your Worker exceeded the size limit of 3 MiB"). We hold the bundle
/// to the stricter reading, 3,000,000 bytes.
pub const WORKER_BUDGET_GZ: u64 = 3_000_000;
/// The web app's initial download.
pub const WEB_BUDGET_GZ: u64 = 4_000_000;

/// wasm-opt must accept what wasm-bindgen emits: the wasm32 defaults, simd128
/// (.cargo/config.toml) and exception handling (the abort handler's try_table).
const WASM_FEATURES: &[&str] = &[
    "--enable-simd",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
    "--enable-exception-handling",
];
const WASM_OPT_LEVEL: &str = "-O2";
/// The cargo profile of the worker build: release, optimized for size. Defined here (with
/// `--config`) rather than in Cargo.toml because only this build uses it; `opt-level = "s"`
/// takes about a fifth off the bundle (2.63 MB instead of 3.43 MB gzipped before wasm-opt),
/// which is what keeps it under Cloudflare's 3 MiB.
const PROFILE: &str = "worker";
const PROFILE_CONFIG: &[&str] = &["profile.worker.inherits=\"release\"", "profile.worker.opt-level=\"s\""];

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Port on 127.0.0.1 (the committed config says 8787).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Skip wasm-opt (faster build, larger bundle).
    #[arg(long)]
    pub no_opt: bool,
    /// Build worker/dist and stop; do not start workerd.
    #[arg(long)]
    pub build_only: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SizeArgs {
    /// Report the worker bundle without building it (fails if it is missing).
    #[arg(long)]
    pub no_build: bool,
}

/// A built bundle: a folder holding `workerd.capnp` and `dist/{entry.mjs, edgeport_worker_bg.wasm}`.
pub struct Bundle {
    pub root: PathBuf,
    pub entry: PathBuf,
    pub wasm: PathBuf,
}

impl Bundle {
    pub fn config(&self) -> PathBuf {
        self.root.join("workerd.capnp")
    }
}

fn npm_bin(env: &Env, package: &str, platform_package: &str, name: &str) -> PathBuf {
    let modules = env.tools.join("npm").join("node_modules");
    // The platform package holds the real binary; `.bin/` may be a node launcher in front of it.
    let direct = modules.join(platform_package).join("bin").join(name);
    if direct.is_file() { direct } else { modules.join(package).join("bin").join(name) }
}

pub fn workerd_bin(env: &Env) -> PathBuf {
    let platform = match std::env::consts::ARCH {
        "aarch64" => "@cloudflare/workerd-linux-arm64",
        _ => "@cloudflare/workerd-linux-64",
    };
    npm_bin(env, "workerd", platform, "workerd")
}

pub fn esbuild_bin(env: &Env) -> PathBuf {
    let platform = match std::env::consts::ARCH {
        "aarch64" => "@esbuild/linux-arm64",
        _ => "@esbuild/linux-x64",
    };
    npm_bin(env, "esbuild", platform, "esbuild")
}

/// npm `workerd` and `esbuild` at their pinned versions in the tool root.
pub fn ensure_npm_tools(env: &Env) -> Result<()> {
    let workerd_ok = || util::version_line(&workerd_bin(env)).is_some_and(|v| v.starts_with("workerd "))
        && npm_package_version(env, "workerd").as_deref() == Some(WORKERD_VERSION);
    let esbuild_ok = || util::version_line(&esbuild_bin(env)).as_deref() == Some(ESBUILD_VERSION);
    if workerd_ok() && esbuild_ok() {
        eprintln!("  workerd {WORKERD_VERSION}, esbuild {ESBUILD_VERSION}: present");
        return Ok(());
    }
    let _lock = env::InstallLock::take(&env.tools.join(".install.lock"))?;
    if workerd_ok() && esbuild_ok() {
        return Ok(());
    }
    let prefix = env.tools.join("npm");
    fs::create_dir_all(&prefix)?;
    let t = Instant::now();
    run(Command::new("npm")
        .current_dir(&prefix)
        .args(["install", "--no-audit", "--no-fund", "--save-exact", "--prefix"])
        .arg(&prefix)
        .arg(format!("workerd@{WORKERD_VERSION}"))
        .arg(format!("esbuild@{ESBUILD_VERSION}")))?;
    if !workerd_ok() {
        bail!("after install, {} does not run as workerd {WORKERD_VERSION}", workerd_bin(env).display());
    }
    if !esbuild_ok() {
        bail!("after install, {} is not esbuild {ESBUILD_VERSION}", esbuild_bin(env).display());
    }
    eprintln!("  installed workerd {WORKERD_VERSION} and esbuild {ESBUILD_VERSION} ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

fn npm_package_version(env: &Env, package: &str) -> Option<String> {
    let manifest = env.tools.join("npm").join("node_modules").join(package).join("package.json");
    let v: serde_json::Value = serde_json::from_slice(&fs::read(manifest).ok()?).ok()?;
    v["version"].as_str().map(str::to_string)
}

/// Everything the worker build needs.
pub fn ensure_tools(env: &Env, optimize: bool) -> Result<()> {
    env::ensure_wasm_target(env)?;
    env::ensure_wasm_bindgen(env)?;
    if optimize {
        env::ensure_wasm_opt(env)?;
    }
    ensure_npm_tools(env)
}

/// Builds the worker bundle into `root` (`root/dist/` plus a copy of worker/workerd.capnp).
/// `features` are cargo features of edgeport-worker (the end-to-end test builds a second bundle
/// with `panic-test`). wasm-bindgen, esbuild and wasm-opt are skipped when nothing changed.
pub fn build(env: &Env, root: &Path, optimize: bool, features: &[&str]) -> Result<Bundle> {
    ensure_tools(env, optimize)?;
    let t = Instant::now();
    // The size profile is for bundles that ship (optimized ones); test bundles use plain
    // release, whose wasm32 dependencies the determinism and browser builds already compiled.
    let profile = if optimize { PROFILE } else { "release" };
    let mut cargo = env.cargo();
    cargo.args(["build", "--profile", profile, "--target", WASM_TARGET, "-p", CRATE]);
    if optimize {
        for c in PROFILE_CONFIG {
            cargo.args(["--config", c]);
        }
    }
    if !features.is_empty() {
        cargo.arg("--features").arg(features.join(","));
    }
    run(&mut cargo)?;
    let input = env.target.join(WASM_TARGET).join(profile).join(format!("{STEM}.wasm"));
    if !input.is_file() {
        bail!("cargo did not produce {}", input.display());
    }
    eprintln!("  compiled {} ({:.1} s)", input.display(), t.elapsed().as_secs_f64());

    let worker_dir = env.repo.join("worker");
    let entry_src = worker_dir.join("js").join("entry.mjs");
    let config_src = worker_dir.join("workerd.capnp");
    let dist = root.join("dist");
    let bundle = Bundle {
        root: root.to_path_buf(),
        entry: dist.join("entry.mjs"),
        wasm: dist.join(format!("{STEM}_bg.wasm")),
    };
    // Scratch space (wasm-bindgen output, the stamp) lives under target/, whatever the root.
    let scratch = env.scratch("worker").join("stage").join(root.file_name().unwrap_or_default());
    let stamp_path = scratch.join(".xtask-stamp");
    let stamp = format!(
        "input {}\nentry {}\nwasm-bindgen {WASM_BINDGEN_VERSION}\nesbuild {ESBUILD_VERSION}\nwasm-opt {}\n",
        util::sha256_file(&input)?,
        util::sha256_file(&entry_src)?,
        if optimize { format!("{WASM_OPT_LEVEL} {}", WASM_FEATURES.join(" ")) } else { "none".into() },
    );
    fs::create_dir_all(root).with_context(|| format!("create {}", root.display()))?;
    // A root other than worker/ gets a copy of the config (every time: it is tiny and may
    // change without the wasm changing). Never copy the file onto itself: that truncates it.
    if !same_dir(root, &worker_dir) {
        fs::copy(&config_src, bundle.config()).with_context(|| format!("copy {}", config_src.display()))?;
    }
    if bundle.entry.is_file() && bundle.wasm.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        eprintln!("  worker bundle {} is up to date", dist.display());
        return Ok(bundle);
    }
    let _ = fs::remove_file(&stamp_path);

    // wasm-bindgen: --target web gives `initSync({ module })`, which takes the WebAssembly.Module
    // workerd hands the entry; the reset function and the abort handler let a trapped instance
    // be replaced by a fresh one (worker/js/entry.mjs).
    let stage = scratch.join("bindgen");
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("remove {}", stage.display()))?;
    }
    fs::create_dir_all(&stage).with_context(|| format!("create {}", stage.display()))?;
    let t = Instant::now();
    run(Command::new(env.wasm_bindgen_bin())
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--experimental-reset-state-function",
            "--force-enable-abort-handler",
            "--out-dir",
        ])
        .arg(&stage)
        .arg(&input))?;
    eprintln!("  wasm-bindgen done ({:.1} s)", t.elapsed().as_secs_f64());
    fs::copy(&entry_src, stage.join("entry.mjs"))?;

    if dist.exists() {
        fs::remove_dir_all(&dist).with_context(|| format!("remove {}", dist.display()))?;
    }
    fs::create_dir_all(&dist)?;
    // One ES module: the entry, the glue and its snippets; the wasm stays a module of its own.
    run(Command::new(esbuild_bin(env))
        .current_dir(&stage)
        .args([
            "entry.mjs",
            "--bundle",
            "--format=esm",
            "--platform=neutral",
            "--log-level=warning",
            &format!("--external:./{STEM}_bg.wasm"),
        ])
        .arg(format!("--outfile={}", bundle.entry.display())))?;

    let staged_wasm = stage.join(format!("{STEM}_bg.wasm"));
    if optimize {
        let t = Instant::now();
        run(Command::new(env.wasm_opt_bin())
            .arg(WASM_OPT_LEVEL)
            .args(WASM_FEATURES)
            .arg(&staged_wasm)
            .arg("-o")
            .arg(&bundle.wasm))?;
        eprintln!(
            "  wasm-opt {WASM_OPT_LEVEL}: {} -> {} bytes ({:.1} s)",
            file_len(&staged_wasm),
            file_len(&bundle.wasm),
            t.elapsed().as_secs_f64()
        );
    } else {
        fs::copy(&staged_wasm, &bundle.wasm)?;
    }
    fs::write(&stamp_path, stamp)?;
    Ok(bundle)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// `cargo xtask worker`: build worker/dist and serve it with workerd until interrupted.
pub fn cmd(env: &Env, args: &WorkerArgs) -> Result<()> {
    let bundle = build(env, &env.repo.join("worker"), !args.no_opt, &[])?;
    report_size(&bundle)?;
    if args.build_only {
        return Ok(());
    }
    println!("serving the edgeport worker on http://127.0.0.1:{}/v1/health (Ctrl-C stops it)", args.port);
    let mut cmd = Command::new(workerd_bin(env));
    cmd.arg("serve").arg(bundle.config());
    if args.port != 8787 {
        cmd.arg("--socket-addr").arg(format!("http=127.0.0.1:{}", args.port));
    }
    match run_status(&mut cmd)? {
        Some(0) | None => Ok(()),
        Some(code) => bail!("workerd exited with {code}"),
    }
}

/// Size of `path` compressed with `gzip -9`, as Cloudflare counts a worker's size.
pub fn gzip_size(path: &Path) -> Result<u64> {
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not start gzip")?;
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    if let Some(mut out) = child.stdout.take() {
        loop {
            let n = out.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    if !child.wait()?.success() {
        bail!("gzip failed on {}", path.display());
    }
    Ok(total)
}

fn mb(n: u64) -> String {
    format!("{:.2} MB", n as f64 / 1e6)
}

/// Prints the worker bundle's raw and gzipped size; returns the gzipped total.
fn report_size(bundle: &Bundle) -> Result<u64> {
    let (mut raw, mut gz) = (0, 0);
    for f in [&bundle.entry, &bundle.wasm] {
        let (r, g) = (file_len(f), gzip_size(f)?);
        println!("  {:<28} {:>12} bytes raw {:>12} bytes gzipped", file_name(f), r, g);
        raw += r;
        gz += g;
    }
    let verdict = if gz <= WORKER_BUDGET_GZ { "within" } else { "OVER" };
    println!(
        "worker bundle: {} raw, {} gzipped ({verdict} the {} budget)",
        mb(raw),
        mb(gz),
        mb(WORKER_BUDGET_GZ)
    );
    Ok(gz)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `cargo xtask size`: the worker bundle (built with wasm-opt unless --no-build) and the web
/// app's initial download (wasm, js and css of trunk's last build); fails when either is over its budget.
pub fn size_cmd(env: &Env, args: &SizeArgs) -> Result<()> {
    let root = env.repo.join("worker");
    let bundle = if args.no_build {
        let b = Bundle {
            root: root.clone(),
            entry: root.join("dist").join("entry.mjs"),
            wasm: root.join("dist").join(format!("{STEM}_bg.wasm")),
        };
        if !b.entry.is_file() || !b.wasm.is_file() {
            bail!("no worker bundle in {}; run `cargo xtask worker --build-only`", root.join("dist").display());
        }
        b
    } else {
        build(env, &root, true, &[])?
    };
    let worker_gz = report_size(&bundle)?;

    let mut over = Vec::new();
    if worker_gz > WORKER_BUDGET_GZ {
        over.push("worker");
    }
    // The web app: the playground's initial download, as trunk last built it.
    match crate::serve::report_initial_download(env, WEB_BUDGET_GZ)? {
        None => println!("web app: not built (run `cargo xtask serve`); skipped"),
        Some(gz) if gz >= WEB_BUDGET_GZ => over.push("web app"),
        Some(_) => {}
    }
    if !over.is_empty() {
        bail!("over budget: {}", over.join(", "));
    }
    Ok(())
}

// ---- the end-to-end test ---------------------------------------------------------------------

/// workerd serving one bundle on a free loopback port; stopped on drop.
pub struct Workerd {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Workerd {
    pub fn start(env: &Env, bundle: &Bundle, log: &Path) -> Result<Workerd> {
        let port = free_port()?;
        let out = fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
        let child = Command::new(workerd_bin(env))
            .arg("serve")
            .arg(bundle.config())
            .arg("--socket-addr")
            .arg(format!("http=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("could not start workerd")?;
        let mut w = Workerd { child, port, log: log.to_path_buf() };
        let t = Instant::now();
        loop {
            if health(port) {
                eprintln!("  workerd up on 127.0.0.1:{port} ({:.2} s)", t.elapsed().as_secs_f64());
                return Ok(w);
            }
            if let Some(status) = w.child.try_wait()? {
                bail!("workerd exited ({status}) before serving:\n{}", w.log_tail());
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("workerd did not answer /v1/health within 30 s:\n{}", w.log_tail());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("bind a loopback port")?;
    Ok(l.local_addr()?.port())
}

/// A bare `GET /v1/health` answered 200.
fn health(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// The `worker` stage of `cargo xtask test`: builds the bundle (and a `panic-test` twin),
/// starts workerd on free loopback ports and runs tests/worker (pytest) against them.
pub fn run_test(env: &Env, optimize: bool) -> Result<()> {
    let scratch = env.scratch("worker");
    let variant = if optimize { "opt" } else { "noopt" };
    // The panic-test twin first, so that the real worker is what target/ holds afterwards
    // (switching features back and forth only relinks the worker crate).
    let panic_bundle = build(env, &scratch.join("panic-test"), false, &["panic-test"])?;
    let bundle = build(env, &scratch.join(variant), optimize, &[])?;

    let server = Workerd::start(env, &bundle, &scratch.join(format!("workerd-{variant}.log")))?;
    let panic_server = Workerd::start(env, &panic_bundle, &scratch.join("workerd-panic-test.log"))?;
    let mut cmd = Command::new(env.venv_python());
    cmd.args(["-m", "pytest", "tests/worker", "-q", "-p", "no:cacheprovider"])
        .current_dir(&env.repo)
        .env("EDGEPORT_WORKER_URL", format!("http://127.0.0.1:{}", server.port))
        .env("EDGEPORT_WORKER_PANIC_URL", format!("http://127.0.0.1:{}", panic_server.port))
        .env("EDGEPORT_BIN", env.cli_bin());
    let status = run_status(&mut cmd)?;
    drop(panic_server);
    let log = server.log_tail();
    drop(server);
    match status {
        Some(0) => Ok(()),
        Some(code) => {
            eprintln!("  workerd log (last lines):\n{log}");
            bail!("worker tests failed (pytest exited with {code})")
        }
        None => bail!("pytest was killed by a signal"),
    }
}
