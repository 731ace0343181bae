//! The playground's Web Worker (built by trunk as a worker; loaded by the page).

#[cfg(target_arch = "wasm32")]
fn main() {
    edgeport_web::engine_worker::run();
}

/// Natively there is no worker; the binary exists so the workspace builds and lints everywhere.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the playground worker runs in a browser: cargo xtask serve");
}
