//! `wasmproc compile MODULE`

use super::{Failure, context_without_workers};
use crate::cli::{CompileArgs, GlobalOptions};
use crate::exit::Code;

pub(crate) fn compile(global: &GlobalOptions, args: &CompileArgs) -> Result<Code, Failure> {
    let ctx = context_without_workers(global)?;
    let start = std::time::Instant::now();
    let module =
        crate::progress::while_slow(crate::progress::compiling(&args.module), || ctx.precompile(&args.module))?;
    let n = module.tasks().len();
    eprintln!(
        "compiled {} ({n} task{}) in {:.1?}: runs, maps and inspects of it now read the cache",
        args.module.display(),
        if n == 1 { "" } else { "s" },
        start.elapsed()
    );
    Ok(Code::Success)
}
