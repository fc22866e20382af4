//! `wasmproc inspect MODULE`

use super::{Failure, context_without_workers};
use crate::cli::{GlobalOptions, InspectArgs};
use crate::exit::Code;

pub(crate) fn inspect(global: &GlobalOptions, args: InspectArgs) -> Result<Code, Failure> {
    let ctx = context_without_workers(global)?;
    let module = crate::progress::while_slow(crate::progress::compiling(&args.module), || ctx.load(&args.module))?;
    if args.json {
        let tasks: Vec<serde_json::Value> = module
            .tasks()
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name(),
                    "params": t.params().iter().map(|(n, ty)| serde_json::json!({"name": n, "type": ty})).collect::<Vec<_>>(),
                    "returns": t.returns(),
                    "signature": t.to_string(),
                    "doc": t.doc(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"module": module.name(), "tasks": tasks})).expect("json")
        );
        return Ok(Code::Success);
    }
    let n = module.tasks().len();
    println!("{}: {n} task{}", module.name(), if n == 1 { "" } else { "s" });
    for task in module.tasks() {
        println!("  {task}");
        for line in task.doc().lines() {
            println!("      {line}");
        }
    }
    Ok(Code::Success)
}
