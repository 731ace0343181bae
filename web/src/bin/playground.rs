//! The playground page's app (built by trunk from static/index.html).

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    // Mount into #app, replacing its "Loading…" line; fall back to <body>.
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => {
            root.set_inner_html("");
            yew::Renderer::<edgeport_web::app::App>::with_root(root).render();
        }
        None => {
            yew::Renderer::<edgeport_web::app::App>::new().render();
        }
    }
}

/// Natively there is no page; the binary exists so the workspace builds and lints everywhere.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the playground runs in a browser: cargo xtask serve");
}
