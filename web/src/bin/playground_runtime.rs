//! The playground's runtime worker: runs and measures models for "Measure in this browser".
//! Started on first use, so the page's initial download does not carry the CPU runtime.

#[cfg(target_arch = "wasm32")]
fn main() {
    edgeport_web::engine_worker::run();
}

/// Natively there is no worker; the binary exists so the workspace builds and lints everywhere.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the playground's runtime worker runs in a browser: cargo xtask serve");
}
