//! Rewrites over the edgeport IR. Each pass keeps the graph's meaning and its types valid
//! (`Graph::validate` holds after every pass); exporters pick the passes they need through
//! the engine.

mod affine;
mod cleanup;
mod fold;
mod fuse;
mod layout;
mod util;

pub use affine::fold_affine_into_conv;
pub use cleanup::simplify_reshapes_and_transposes;
pub use fold::fold_constants;
pub use fuse::{fuse_gelu, fuse_hardswish};
pub use layout::{to_nhwc, LayoutOptions};

use edgeport_ir::{Graph, IrError};

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Ir(#[from] IrError),
}

pub type PassResult<T> = Result<T, PassError>;

/// The layout-independent clean-up every exporter wants: fold constants, fold BatchNorm and
/// other per-channel affine ops into convolutions, recognise GELU and HardSwish.
pub fn optimize(g: &mut Graph) -> PassResult<()> {
    fold_constants(g)?;
    fold_affine_into_conv(g)?;
    fuse_gelu(g)?;
    fuse_hardswish(g)?;
    simplify_reshapes_and_transposes(g)?;
    g.remove_dead();
    g.toposort()?;
    Ok(())
}
