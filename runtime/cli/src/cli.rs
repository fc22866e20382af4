//! Command-line definitions. Doc comments are the `--help` text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Run WebAssembly tasks on a pool of sandboxed worker processes — Python's multiprocessing.Pool,
/// with a .wasm file instead of a Python function.
///
/// A task module is a .wasm file built from Rust with the wasmproc-guest SDK: each function marked
/// #[task] becomes a task you can call by name. Arguments and results are JSON. Each worker is a
/// separate process with no access to files, network or environment variables.
///
/// Examples:
///   wasmproc inspect tasks.wasm                   # what tasks does it have?
///   wasmproc run tasks.wasm square 7              # like pool.apply(square, (7,)) → 49
///   seq 1 100 | wasmproc map tasks.wasm square    # like pool.map(square, range(1, 101))
///
/// On a cluster (--cluster nats://…), `run` and `map` send their work to `wasmproc node` processes
/// on any number of machines instead of local workers.
///
/// Exit codes: 0 success, 1 a task failed, 2 bad command line, 3 unusable module, unknown task or
/// input that does not fit, 4 runtime failure (worker start, cache, output, cluster), 130
/// interrupted.
#[derive(Debug, Parser)]
#[command(name = "wasmproc", version, max_term_width = 100, verbatim_doc_comment)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    #[command(flatten)]
    pub(crate) global: GlobalOptions,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalOptions {
    /// Where compiled modules are cached (must be private to you)
    #[arg(long, global = true, env = "WASMPROC_CACHE_DIR", value_name = "DIR", help_heading = "Global options")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// How workers start: `process` (one OS process each, forked by a fork server; the default),
    /// `spawn` (one OS process each, a new execution of this program) or `thread` (threads of this
    /// program, isolated by the wasm sandbox alone; faster to start and to call)
    #[arg(long, global = true, value_enum, default_value_t = StartMethodArg::Process, help_heading = "Global options")]
    pub(crate) start_method: StartMethodArg,
    #[command(flatten)]
    pub(crate) nats: NatsArgs,
}

/// Where a cluster's NATS server is and how to log in (for `run`/`map --cluster` and `node`).
#[derive(Debug, Args, Default)]
pub(crate) struct NatsArgs {
    /// Run tasks on the nodes of this cluster instead of local workers (a NATS server with
    /// JetStream, where `wasmproc node` processes serve): nats://HOST:PORT, or
    /// nats://USER:PASSWORD@HOST:PORT
    #[arg(long, global = true, env = "WASMPROC_CLUSTER", value_name = "URL", help_heading = "Cluster")]
    pub(crate) cluster: Option<String>,
    /// Log in to the cluster's server with this token
    #[arg(long, global = true, env = "WASMPROC_NATS_TOKEN", value_name = "TOKEN", help_heading = "Cluster")]
    pub(crate) nats_token: Option<String>,
    /// Log in to the cluster's server with this NATS credentials file
    #[arg(long, global = true, env = "WASMPROC_NATS_CREDS", value_name = "FILE", help_heading = "Cluster")]
    pub(crate) nats_creds: Option<PathBuf>,
    /// Trust this CA (PEM) for the server's TLS certificate, and require TLS
    #[arg(long, global = true, env = "WASMPROC_NATS_CA", value_name = "FILE", help_heading = "Cluster")]
    pub(crate) nats_ca: Option<PathBuf>,
    /// If this command dies (or is stopped) for this long, nodes drop the chunks it still had
    /// queued [default: 60s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = "Cluster")]
    pub(crate) orphan_timeout: Option<std::time::Duration>,
}

/// `--start-method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StartMethodArg {
    /// Worker processes forked by a fork server (the default).
    Process,
    /// Worker processes, each a new execution of this program.
    Spawn,
    /// Workers are threads of this process.
    Thread,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Call one task once and print its JSON result (Python: pool.apply(func, args))
    ///
    /// Each ARG is one JSON value: numbers as they are, strings in double quotes
    /// (in a shell: '"text"'), lists as [1,2,3], records as {"id":1}.
    Run(RunArgs),
    /// Call a task for every line of input, in parallel (Python: pool.map / imap / imap_unordered)
    ///
    /// Each input line is one JSON value: the argument of a one-parameter task, or a JSON array
    /// of the arguments for a task of several parameters ([1, 2] for add(a, b)). Each output line
    /// is the JSON result for the input line at the same position (unless --unordered). Empty
    /// lines are skipped.
    Map(MapArgs),
    /// List the tasks of a module with their parameter and result types
    Inspect(InspectArgs),
    /// Compile a module for this machine now, so later runs only read the cache
    ///
    /// `run`, `map` and `inspect` compile what they need on first use; a large module (a Python
    /// component: ~19 MB) takes seconds per engine. This does it ahead of time, for every engine
    /// those commands use without --fuel.
    Compile(CompileArgs),
    /// Create a task project that builds as it stands (then: wasmproc build NAME)
    New(NewArgs),
    /// Build a task project into a component and print the component's path
    ///
    /// A Rust project is built with cargo for wasm32-wasip2 in release mode, a Python project
    /// (pyproject.toml with [tool.wasmproc]) with componentize-py; their progress and errors go
    /// to stderr, the path of the .wasm file to stdout, so that
    /// `wasmproc run "$(wasmproc build)" square 7` works.
    Build(BuildArgs),
    /// Serve a cluster: run the chunks that `run`/`map --cluster` (or a Rust program's cluster
    /// pools) send to its NATS server, on local sandboxed workers
    ///
    /// Stops on SIGTERM or Ctrl-C after finishing what it runs (exit 0). Directories tasks ask for
    /// are granted only as --allow-dir says, by the path the task sees. With --list, prints the
    /// nodes that are up instead.
    ///
    ///   wasmproc node --cluster nats://10.0.0.5:4222 --slots 4 --name node-a
    ///   wasmproc node --cluster nats://10.0.0.5:4222 --list
    Node(NodeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// List the nodes that are up (name, slots, busy, host) and exit
    #[arg(long)]
    pub(crate) list: bool,
    /// This node's name in the cluster [default: HOST-PID]
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// How many chunks it runs at once (its worker processes) [default: number of CPUs]
    #[arg(long, value_name = "N")]
    pub(crate) slots: Option<u32>,
    /// Let tasks ask for this directory at GUEST: `HOST::GUEST` (read-write) or
    /// `HOST::GUEST:ro`. Repeatable. Without it, tasks here see no files
    #[arg(long = "allow-dir", value_name = "HOST::GUEST[:ro]")]
    pub(crate) allow_dirs: Vec<String>,
    /// The longest a task may run here; tasks asking for more, or for no limit, get this
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) max_timeout: Option<std::time::Duration>,
    /// The most memory a task may use here
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_memory: Option<u64>,
    /// The most fuel an input may use here
    #[arg(long, value_name = "N")]
    pub(crate) max_fuel: Option<u64>,
    /// Say on stderr when each chunk starts and is answered (redeliveries are always said)
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

/// The language of a new task project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate using the wasmproc-guest SDK, built with cargo.
    Rust,
    /// A Python module using the wasmproc_guest package, built with componentize-py.
    Python,
}

#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The project's directory (created; must not exist or be empty). Its last component names
    /// the crate and the component.
    pub(crate) path: PathBuf,
    /// The language tasks are written in
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub(crate) lang: Lang,
    /// Use the guest SDK from this local copy instead of crates.io (Rust) or the installed
    /// wasmproc_guest package (Python): a wasmproc checkout; for Rust also a directory holding
    /// the unpacked wasmproc-guest, wasmproc-guest-macros and wasmproc-wire crates, for Python one
    /// holding the wasmproc_guest package. Default: the checkout this wasmproc was built from, if
    /// it is still there.
    #[arg(long, value_name = "DIR")]
    pub(crate) sdk: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// The task module (.wasm)
    pub(crate) module: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The project's directory
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
}

/// Sandbox grants and limits, shared by `run` and `map`.
#[derive(Debug, Args, Default)]
pub(crate) struct PoolArgs {
    /// Let tasks see a host directory: `HOST::GUEST` (read-write), `HOST::GUEST:ro` (read-only), or
    /// just `PATH` (the same path inside). Repeatable. Without it, tasks see no files at all.
    #[arg(long = "dir", value_name = "HOST::GUEST[:ro]", help_heading = "Sandbox and limits")]
    pub(crate) dirs: Vec<String>,
    /// Give tasks an environment variable: `KEY=VALUE`, or `KEY` to pass on this shell's value.
    /// Repeatable. Without it, tasks see no environment.
    #[arg(long = "env", value_name = "KEY[=VALUE]", help_heading = "Sandbox and limits")]
    pub(crate) env: Vec<String>,
    /// Stop any input that runs longer than this (e.g. `500ms`, `2s`, `1m`); it fails and the
    /// worker goes on with the next
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = "Sandbox and limits")]
    pub(crate) timeout: Option<std::time::Duration>,
    /// Most memory a task may use (e.g. `64MiB`, `1GB`); an input that needs more fails
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Sandbox and limits")]
    pub(crate) max_memory: Option<u64>,
    /// Give each input this much fuel (about one unit per wasm instruction); an input that uses it
    /// up fails. Deterministic, unlike --timeout, but slower to run
    #[arg(long, value_name = "N", help_heading = "Sandbox and limits")]
    pub(crate) fuel: Option<u64>,
    /// Give up when the whole command has not finished within this long (e.g. `30s`, `5m`):
    /// results already in are written, the rest are not run, and wasmproc exits 4 saying how many
    /// inputs were answered. On a cluster with no node up, this is what ends the wait
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = "Sandbox and limits")]
    pub(crate) deadline: Option<std::time::Duration>,
    /// Run an input again (up to N times) if its worker process dies while running it
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Sandbox and limits")]
    pub(crate) retries: u32,
    /// Replace each worker process after it has run N chunks (Python's maxtasksperchild)
    #[arg(long, value_name = "N", help_heading = "Sandbox and limits")]
    pub(crate) max_tasks_per_child: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>().map(|b| b.as_u64()).map_err(|e| format!("{e} (write sizes like 64MiB or 1GB)"))
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The task module (.wasm)
    pub(crate) module: PathBuf,
    /// The task's name (see `wasmproc inspect MODULE`)
    pub(crate) task: String,
    /// The task's arguments, one JSON value each
    #[arg(allow_negative_numbers = true)]
    pub(crate) args: Vec<String>,
    #[command(flatten)]
    pub(crate) pool: PoolArgs,
}

#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    /// The task module (.wasm)
    pub(crate) module: PathBuf,
    /// The task's name (see `wasmproc inspect MODULE`)
    pub(crate) task: String,
    /// Read JSON lines from FILE; `-` is standard input
    #[arg(long, short, default_value = "-", value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// Write JSON result lines to FILE instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Number of worker processes [default: number of CPUs]
    #[arg(long, short, env = "WASMPROC_PROCESSES", value_name = "N")]
    pub(crate) processes: Option<usize>,
    /// Inputs per call into a worker. Larger chunks cost less overhead per input.
    /// [default: Python's rule (about 4 chunks per worker) when the input is a file, 1 for stdin]
    #[arg(long, short, value_name = "K")]
    pub(crate) chunksize: Option<usize>,
    /// Write results as they finish instead of in input order (Python: imap_unordered)
    #[arg(long)]
    pub(crate) unordered: bool,
    /// Do not stop at a failing input: write {"error": "...", "line": N} in its place and go on.
    /// The exit code is still 1 if any input failed.
    #[arg(long)]
    pub(crate) keep_going: bool,
    #[command(flatten)]
    pub(crate) pool: PoolArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The task module (.wasm)
    pub(crate) module: PathBuf,
    /// Print the listing as JSON
    #[arg(long)]
    pub(crate) json: bool,
}
