//! `wasmproc run MODULE TASK [ARG ...]`

use super::{Deadline, Failure, context};
use crate::cli::{GlobalOptions, RunArgs};
use crate::exit::Code;
use anyhow::anyhow;
use serde_json::Value;

pub(crate) fn run(global: &GlobalOptions, args: RunArgs) -> Result<Code, Failure> {
    let ctx = context(global, Some(1))?;
    let module = crate::progress::while_slow(crate::progress::compiling(&args.module), || ctx.load(&args.module))?;
    let task = module.json_task(&args.task)?;
    let sig = task.signature().clone();
    let want = sig.params().len();
    if args.args.len() != want {
        return Err(Failure::new(
            Code::BadInput,
            anyhow!(
                "task `{}` takes {want} argument{}, got {}: {sig}",
                sig.name(),
                if want == 1 { "" } else { "s" },
                args.args.len()
            ),
        ));
    }
    let mut values = Vec::with_capacity(want);
    for (i, text) in args.args.iter().enumerate() {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Failure::new(
                Code::BadInput,
                anyhow!(
                    "argument {} ({text:?}) is not valid JSON: {e}\n(strings need double quotes, e.g. '\"{text}\"' in a shell; the task is {sig})",
                    i + 1
                ),
            )
        })?;
        values.push(value);
    }
    let arg = match want {
        0 => Value::Null,
        1 => values.pop().expect("one value"),
        _ => Value::Array(values),
    };
    let pool = super::pool(&ctx, Some(1), &args.pool)?;
    crate::progress::while_slow(crate::progress::compiling(&args.module), || pool.prepare(&module))?;
    let result = match args.pool.deadline.map(Deadline::new) {
        None => pool.apply(&task, arg)?,
        Some(d) => match pool.apply_async(&task, arg).get_timeout(d.left()) {
            Err(wasmproc::Error::Timeout) => return Err(d.passed(&ctx, global, "no answer".into())),
            other => other?,
        },
    };
    println!("{result}");
    // The worker exits by itself rather than being killed, so what its guest printed last without
    // a newline is written too.
    pool.join();
    Ok(Code::Success)
}
