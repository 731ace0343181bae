// Starts the playground's wasm. trunk's own start script is inline, which the page's
// Content-Security-Policy (script-src 'self') forbids; trunk.toml's pattern_script loads this
// file instead and passes the hashed file names as data attributes.
const tag = document.querySelector("script[data-trunk-js]");
const { default: init } = await import(tag.dataset.trunkJs);
await init({ module_or_path: tag.dataset.trunkWasm });
