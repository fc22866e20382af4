//! `wasmproc map MODULE TASK --input FILE|- [--output FILE] …`
//!
//! Input lines are read lazily and fed to `imap`/`imap_unordered`, so memory stays bounded however
//! long the input. Lines that are not JSON never reach a worker: they fail in place.

use super::{Deadline, Failure, context};
use crate::cli::{GlobalOptions, MapArgs};
use crate::exit::Code;
use crate::progress;
use anyhow::anyhow;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::rc::Rc;

/// What the input reader records for the output loop, in input order.
#[derive(Default)]
struct Ledger {
    /// Line number of each input sent to the pool, by its position among the sent inputs.
    sent_lines: Vec<usize>,
    /// Lines that were not JSON: (number of inputs sent before it, line, message).
    invalid: VecDeque<(usize, usize, String)>,
    /// A read error or (without --keep-going) the first invalid line: stops the input.
    stopped: Option<(Code, String)>,
}

struct Lines {
    reader: Box<dyn BufRead>,
    line_no: usize,
    keep_going: bool,
    ledger: Rc<RefCell<Ledger>>,
}

impl Iterator for Lines {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        let mut ledger = self.ledger.borrow_mut();
        if ledger.stopped.is_some() {
            return None;
        }
        let mut text = String::new();
        loop {
            text.clear();
            match self.reader.read_line(&mut text) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    ledger.stopped = Some((Code::Runtime, format!("reading line {}: {e}", self.line_no + 1)));
                    return None;
                }
            }
            self.line_no += 1;
            let line = text.trim();
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(value) => {
                    ledger.sent_lines.push(self.line_no);
                    return Some(value);
                }
                Err(e) => {
                    let message = format!("line {} is not valid JSON: {e}", self.line_no);
                    if self.keep_going {
                        let sent = ledger.sent_lines.len();
                        ledger.invalid.push_back((sent, self.line_no, message));
                    } else {
                        ledger.stopped = Some((Code::BadInput, message));
                        return None;
                    }
                }
            }
        }
    }
}

pub(crate) fn map(global: &GlobalOptions, args: MapArgs) -> Result<Code, Failure> {
    let ctx = context(global, args.processes)?;
    let module = crate::progress::while_slow(crate::progress::compiling(&args.module), || ctx.load(&args.module))?;
    let task = module.json_task(&args.task)?;
    let from_stdin = args.input == Path::new("-");
    let (reader, total): (Box<dyn BufRead>, Option<u64>) = if from_stdin {
        (Box::new(BufReader::new(io::stdin())), None)
    } else {
        let open = || {
            File::open(&args.input)
                .map_err(|e| Failure::new(Code::BadInput, anyhow!("cannot read {}: {e}", args.input.display())))
        };
        // Count the inputs first: for the progress bar and Python's default chunk size.
        let mut count = 0u64;
        for line in BufReader::new(open()?).lines() {
            let line =
                line.map_err(|e| Failure::new(Code::Runtime, anyhow!("reading {}: {e}", args.input.display())))?;
            count += u64::from(!line.trim().is_empty());
        }
        (Box::new(BufReader::new(open()?)), Some(count))
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path)
                .map_err(|e| Failure::new(Code::Runtime, anyhow!("cannot create {}: {e}", path.display())))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };

    let pool = super::pool(&ctx, args.processes, &args.pool)?;
    crate::progress::while_slow(crate::progress::compiling(&args.module), || pool.prepare(&module))?;
    let chunksize = args.chunksize.unwrap_or_else(|| match total {
        Some(n) => wasmproc::default_chunksize(n as usize, pool.processes()).max(1),
        None => 1,
    });
    let ledger = Rc::new(RefCell::new(Ledger::default()));
    let lines = Lines { reader, line_no: 0, keep_going: args.keep_going, ledger: ledger.clone() };
    let chunked = pool.chunksize(chunksize);
    let mut results = if args.unordered { chunked.imap_unordered(&task, lines) } else { chunked.imap(&task, lines) };
    let bar = progress::bar(total);
    let deadline = args.pool.deadline.map(Deadline::new);

    let write_err = |e: io::Error| Failure::new(Code::Runtime, anyhow!("writing results: {e}"));
    let mut failed = 0usize;
    let mut position = 0;
    loop {
        let next = match &deadline {
            Some(d) => results.next_timeout(d.left()),
            None => results.next(),
        };
        let Some(result) = next else { break };
        if let (Err(wasmproc::Error::Timeout), Some(d)) = (&result, &deadline) {
            out.flush().map_err(write_err)?;
            bar.finish_and_clear();
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            return Err(d.passed(&ctx, global, format!("{position}{of} inputs answered")));
        }
        // Invalid lines that came before this result (in input order when ordered).
        flush_invalid(&ledger, if args.unordered { usize::MAX } else { position }, &mut out, &mut failed, &bar)
            .map_err(write_err)?;
        match result {
            Ok(value) => writeln!(out, "{value}").map_err(write_err)?,
            Err(error) => {
                let line = match &error {
                    wasmproc::Error::Task(f) => ledger.borrow().sent_lines.get(f.index).copied(),
                    _ => None,
                };
                let line = line
                    .or_else(|| if args.unordered { None } else { ledger.borrow().sent_lines.get(position).copied() });
                if !args.keep_going {
                    out.flush().map_err(write_err)?;
                    bar.finish_and_clear();
                    let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
                    return Err(Failure { code: crate::exit::code_for(&error), error: anyhow!("{at}{error}") });
                }
                failed += 1;
                writeln!(out, "{}", json!({"error": error.to_string(), "line": line})).map_err(write_err)?;
            }
        }
        bar.inc(1);
        position += 1;
    }
    flush_invalid(&ledger, usize::MAX, &mut out, &mut failed, &bar).map_err(write_err)?;
    out.flush().map_err(write_err)?;
    bar.finish_and_clear();
    let stopped = ledger.borrow_mut().stopped.take();
    if stopped.is_none() {
        // Everything is answered: the workers exit by themselves rather than being killed, so what
        // their guests printed last without a newline is written too.
        pool.join();
    }
    drop(pool);
    if let Some((code, message)) = stopped {
        return Err(Failure::new(code, anyhow!(message)));
    }
    if failed > 0 {
        eprintln!("wasmproc: {failed} input{} failed", if failed == 1 { "" } else { "s" });
        return Ok(Code::TaskFailed);
    }
    Ok(Code::Success)
}

/// Writes error lines for the invalid inputs recorded before input number `upto`.
fn flush_invalid(
    ledger: &RefCell<Ledger>,
    upto: usize,
    out: &mut dyn Write,
    failed: &mut usize,
    bar: &indicatif::ProgressBar,
) -> io::Result<()> {
    let mut ledger = ledger.borrow_mut();
    while ledger.invalid.front().is_some_and(|(sent, _, _)| *sent <= upto) {
        let (_, line, message) = ledger.invalid.pop_front().expect("checked");
        writeln!(out, "{}", json!({"error": message, "line": line}))?;
        *failed += 1;
        bar.inc(1);
    }
    Ok(())
}
