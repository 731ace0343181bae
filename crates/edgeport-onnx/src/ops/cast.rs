//! Cast (opset 6+): to one of the IR's element types; a cast to the same type is removed.

use edgeport_ir::Op;

use crate::context::Ctx;
use crate::error::Result;
use crate::tensor::{dtype_from_code, onnx_dtype_name};

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let Some(code) = ctx.attr_opt_i("to")? else {
        return Err(ctx.invalid("missing attribute 'to'"));
    };
    let code = i32::try_from(code).unwrap_or(-1);
    let Some(to) = dtype_from_code(code) else {
        return Err(ctx.unsupported(format!("tensor '{}' would have unsupported element type {}", ctx.output_name(0), onnx_dtype_name(code))));
    };
    if ctx.dtype(x) == to {
        return ctx.set_output(0, x);
    }
    let y = ctx.emit1("", Op::Cast { to }, vec![x])?;
    ctx.set_output(0, y)
}
