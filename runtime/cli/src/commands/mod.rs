//! The subcommands, and how a failure carries its exit code.

mod build;
mod compile;
mod inspect;
mod map;
mod new;
mod node;
mod run;

use crate::cli::{Cli, Command, GlobalOptions, PoolArgs};
use crate::exit::{self, Code};
use wasmproc::Context;

/// A failed command: what to print and which exit code to return.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: Code,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    pub(crate) fn new(code: Code, error: impl Into<anyhow::Error>) -> Failure {
        Failure { code, error: error.into() }
    }
}

impl From<wasmproc::Error> for Failure {
    fn from(error: wasmproc::Error) -> Failure {
        Failure { code: exit::code_for(&error), error: error.into() }
    }
}

pub(crate) fn run(cli: Cli) -> Result<Code, Failure> {
    match cli.command {
        Command::Run(args) => run::run(&cli.global, args),
        Command::Map(args) => map::map(&cli.global, args),
        Command::Inspect(args) => inspect::inspect(&cli.global, args),
        Command::Compile(args) => compile::compile(&cli.global, &args),
        Command::New(args) => new::new(&args),
        Command::Build(args) => build::build(&args),
        Command::Node(args) => node::node(&cli.global, &args),
    }
}

/// A context for the CLI: guest stdout goes to stderr so results on stdout stay parseable.
pub(crate) fn context(global: &GlobalOptions, processes: Option<usize>) -> Result<Context, Failure> {
    let method = match global.start_method {
        crate::cli::StartMethodArg::Process => wasmproc::StartMethod::Process,
        crate::cli::StartMethodArg::Spawn => wasmproc::StartMethod::Spawn,
        crate::cli::StartMethodArg::Thread => wasmproc::StartMethod::Thread,
    };
    build_context(global, processes, method, true)
}

/// A context whose workers are local even with `--cluster` (a node's).
pub(crate) fn build_local_context(global: &GlobalOptions, processes: Option<usize>) -> Result<Context, Failure> {
    build_context(global, processes, wasmproc::StartMethod::Process, false)
}

/// A context for commands that start no worker and use no cluster (no fork server is started for
/// it).
pub(crate) fn context_without_workers(global: &GlobalOptions) -> Result<Context, Failure> {
    build_context(global, Some(1), wasmproc::StartMethod::Spawn, false)
}

fn build_context(
    global: &GlobalOptions,
    processes: Option<usize>,
    method: wasmproc::StartMethod,
    on_cluster: bool,
) -> Result<Context, Failure> {
    let mut builder = Context::builder().stdout_to_stderr(true).start_method(method);
    if let Some(cluster) = cluster(global).filter(|_| on_cluster) {
        builder = builder.cluster(cluster);
    }
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    if let Some(n) = processes {
        builder = builder.processes(n);
    }
    let ctx = builder.build()?;
    if let Some(cluster) = cluster(global).filter(|_| on_cluster)
        && ctx.nodes()?.is_empty()
    {
        let url = cluster.address();
        eprintln!(
            "wasmproc: no node is up on {url} yet; the work waits for one (start one: wasmproc node --cluster {url})"
        );
    }
    Ok(ctx)
}

/// The cluster `--cluster` names, with the credentials given, if any.
pub(crate) fn cluster(global: &GlobalOptions) -> Option<wasmproc::Cluster> {
    let nats = &global.nats;
    let mut cluster = wasmproc::Cluster::new(nats.cluster.clone()?);
    if let Some(token) = &nats.nats_token {
        cluster = cluster.token(token);
    }
    if let Some(creds) = &nats.nats_creds {
        cluster = cluster.creds_file(creds);
    }
    if let Some(ca) = &nats.nats_ca {
        cluster = cluster.tls_ca(ca);
    }
    if let Some(timeout) = nats.orphan_timeout {
        cluster = cluster.orphan_timeout(timeout);
    }
    Some(cluster)
}

/// `--deadline`: when a command gives up waiting.
pub(crate) struct Deadline {
    limit: std::time::Duration,
    at: std::time::Instant,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub(crate) fn new(limit: std::time::Duration) -> Deadline {
        Deadline { limit, at: std::time::Instant::now() + limit }
    }

    /// How long is left (zero once it has passed).
    pub(crate) fn left(&self) -> std::time::Duration {
        self.at.saturating_duration_since(std::time::Instant::now())
    }

    /// The failure of a command whose deadline passed, `done` saying how far it got; on a cluster
    /// with no node up, it says so.
    pub(crate) fn passed(&self, ctx: &Context, global: &GlobalOptions, done: String) -> Failure {
        let mut why = String::new();
        if let Some(cluster) = cluster(global)
            && ctx.nodes().is_ok_and(|n| n.is_empty())
        {
            let url = cluster.address();
            why = format!(" (no node is up on {url}: start one with wasmproc node --cluster {url})");
        }
        let limit = humantime::format_duration(self.limit);
        Failure::new(Code::Runtime, anyhow::anyhow!("gave up after --deadline {limit}: {done}{why}"))
    }
}

/// A pool of `processes` workers with the grants and limits of `args`.
pub(crate) fn pool(ctx: &Context, processes: Option<usize>, args: &PoolArgs) -> Result<wasmproc::Pool, Failure> {
    let mut sandbox = wasmproc::Sandbox::default();
    for spec in &args.dirs {
        let (host, guest, access) = parse_dir(spec).map_err(|e| Failure::new(Code::BadInput, anyhow::anyhow!(e)))?;
        sandbox = sandbox.dir(host, guest, access);
    }
    for spec in &args.env {
        sandbox = match spec.split_once('=') {
            Some((key, value)) => sandbox.env(key, value),
            None => sandbox.inherit_env(spec),
        };
    }
    let mut builder = wasmproc::Pool::builder(ctx).sandbox(sandbox).retries(args.retries);
    if let Some(n) = processes {
        builder = builder.processes(n);
    }
    if let Some(t) = args.timeout {
        builder = builder.timeout(t);
    }
    if let Some(bytes) = args.max_memory {
        builder = builder.max_memory(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    if let Some(fuel) = args.fuel {
        builder = builder.fuel(fuel);
    }
    if let Some(n) = args.max_tasks_per_child {
        builder = builder.max_tasks_per_child(n);
    }
    Ok(builder.build()?)
}

/// `HOST::GUEST[:ro|:rw]`, or `PATH[:ro|:rw]` for the same path inside.
pub(crate) fn parse_dir(spec: &str) -> Result<(String, String, wasmproc::DirAccess), String> {
    use wasmproc::DirAccess;
    let (rest, access) = if let Some(r) = spec.strip_suffix(":ro") {
        (r, DirAccess::ReadOnly)
    } else if let Some(r) = spec.strip_suffix(":rw") {
        (r, DirAccess::ReadWrite)
    } else {
        (spec, DirAccess::ReadWrite)
    };
    let (host, guest) = rest.split_once("::").unwrap_or((rest, rest));
    if host.is_empty() || guest.is_empty() {
        return Err(format!("--dir {spec:?}: expected HOST::GUEST[:ro], e.g. ./data::/data:ro"));
    }
    Ok((host.to_string(), guest.to_string(), access))
}

#[cfg(test)]
mod tests {
    use super::parse_dir;
    use wasmproc::DirAccess;

    #[test]
    fn dir_specs() {
        assert_eq!(parse_dir("./in::/data:ro").unwrap(), ("./in".into(), "/data".into(), DirAccess::ReadOnly));
        assert_eq!(parse_dir("/tmp/out::/out").unwrap(), ("/tmp/out".into(), "/out".into(), DirAccess::ReadWrite));
        assert_eq!(parse_dir("/srv:ro").unwrap(), ("/srv".into(), "/srv".into(), DirAccess::ReadOnly));
        assert!(parse_dir("::/x").is_err());
    }
}
