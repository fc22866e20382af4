//! Twin of the tutorial's `Pipe` example:
//!
//! ```python
//! parent_conn, child_conn = Pipe()
//! p1 = Process(target=sender, args=(parent_conn,))
//! p2 = Process(target=receiver, args=(child_conn,))
//! p1.start(); p2.start(); p1.join(); p2.join()
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin pipe_sender_receiver`

use wasmproc::{Connection, Process, pipe};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let sender = module.task::<Connection<String>, ()>("sender")?;
    let receiver = module.task::<Connection<String>, ()>("receiver")?;
    let (parent_conn, child_conn) = pipe::<String>(&ctx)?;
    let p1 = Process::builder(&ctx, &sender, parent_conn)?.name("sender").build()?;
    let p2 = Process::builder(&ctx, &receiver, child_conn)?.name("receiver").build()?;
    p1.start()?;
    p2.start()?;
    p1.join();
    p2.join();
    assert_eq!((p1.exit_code(), p2.exit_code()), (Some(0), Some(0)));
    Ok(())
}
