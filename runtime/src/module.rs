//! Task modules: validated, precompiled once, cached; their task listing; typed task handles.

use crate::engine::Flavor;
use crate::error::{Error, Result};
use crate::keep::{self, KeepAlive};
use crate::worker::TaskInfo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Digest;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use wasmproc_wire::codec::{self, Codec};

/// A loaded task module: a WebAssembly component built with the wasmproc guest SDK, compiled once
/// and ready for any pool of the [`Context`](crate::Context) that loaded it.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    /// Unique within the process; workers key their loaded modules by it.
    pub(crate) id: u64,
    pub(crate) name: String,
    /// The precompiled artifacts this program wrote, one per engine flavour (see
    /// `engine::Flavor`), each compiled when a pool or process first needs it (see
    /// `ContextInner::ensure_compiled`); the only files workers deserialize.
    pub(crate) artifacts: [std::sync::OnceLock<PathBuf>; 3],
    /// Where the component's bytes are, for compiling a flavour; `hash` is their sha256.
    pub(crate) source: Source,
    pub(crate) hash: String,
    pub(crate) tasks: Vec<TaskSignature>,
}

/// Where a module's component bytes are.
pub(crate) enum Source {
    /// In memory (loaded from bytes, or read to be hashed).
    Bytes(Arc<[u8]>),
    /// In this file, unread: its hash was remembered from an earlier load.
    File(PathBuf),
}

impl ModuleInner {
    /// The artifact for `flavor`, if it was compiled (see `ContextInner::ensure_compiled`).
    pub(crate) fn artifact_for(&self, flavor: Flavor) -> Option<PathBuf> {
        self.artifacts[flavor_index(flavor)].get().cloned()
    }

    /// Records the artifact compiled for `flavor`.
    pub(crate) fn set_artifact(&self, flavor: Flavor, artifact: PathBuf) {
        let _ = self.artifacts[flavor_index(flavor)].set(artifact);
    }

    /// The component's bytes; read from its file if they are not in memory, and checked against
    /// the hash it was loaded with.
    pub(crate) fn bytes(&self) -> Result<Arc<[u8]>> {
        match &self.source {
            Source::Bytes(b) => Ok(b.clone()),
            Source::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.clone(), source })?;
                if format!("{:x}", sha2::Sha256::digest(&bytes)) != self.hash {
                    let source = std::io::Error::other("the file changed since it was loaded; load it again");
                    return Err(Error::Read { path: path.clone(), source });
                }
                Ok(Arc::from(bytes))
            }
        }
    }
}

fn flavor_index(flavor: Flavor) -> usize {
    match flavor {
        Flavor::Fast => 0,
        Flavor::Interruptible => 1,
        Flavor::Metered => 2,
    }
}

impl fmt::Debug for ModuleInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleInner").field("id", &self.id).field("name", &self.name).finish_non_exhaustive()
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module").field("name", &self.inner.name).field("tasks", &self.inner.tasks).finish()
    }
}

/// A task as its module declares it: name, parameters and result type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSignature {
    name: String,
    params: Vec<(String, String)>,
    returns: String,
    doc: String,
}

impl TaskSignature {
    pub(crate) fn from_info(info: TaskInfo) -> TaskSignature {
        TaskSignature {
            name: info.name,
            params: info.params.into_iter().map(|p| (p.name, normalize_type(&p.ty))).collect(),
            returns: normalize_type(&info.returns),
            doc: info.doc,
        }
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `(name, type)` of each parameter, types as written in the guest without module paths.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The result type.
    pub fn returns(&self) -> &str {
        &self.returns
    }

    /// The task function's doc comment.
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The type a caller passes as the argument: the parameter's type when there is one, a tuple
    /// otherwise (`()` for none).
    pub fn argument_type(&self) -> String {
        match self.params.as_slice() {
            [(_, ty)] => ty.clone(),
            params => format!("({})", params.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(",")),
        }
    }
}

impl fmt::Display for TaskSignature {
    /// `add(a: i64, b: i64) -> i64`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self.params.iter().map(|(n, t)| format!("{n}: {}", spaced(t))).collect();
        write!(f, "{}({}) -> {}", self.name, params.join(", "), spaced(&self.returns))
    }
}

/// `(i64,String)` → `(i64, String)` for display.
fn spaced(ty: &str) -> String {
    ty.replace(',', ", ")
}

impl Module {
    /// The module's name: its file name, or the name given to `load_bytes`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The tasks the module defines, sorted by name.
    pub fn tasks(&self) -> &[TaskSignature] {
        &self.inner.tasks
    }

    /// Looks up a task by name.
    pub fn signature(&self, task: &str) -> Result<&TaskSignature> {
        self.inner.tasks.iter().find(|t| t.name == task).ok_or_else(|| Error::UnknownTask {
            module: self.inner.name.clone(),
            task: task.to_string(),
            known: self.inner.tasks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// A typed handle to a task, checked against the module's declared signature before anything
    /// runs. `A` is the parameter's type for a one-parameter task and the tuple of parameter types
    /// otherwise; `R` is the result type (`T` for a task returning `Result<T, E>`).
    ///
    /// Types are compared by name without module paths (`Vec<u64>`, `Record`), which catches wrong
    /// arity and wrong primitive types; two different structs that share a name are not told apart.
    /// Use [`Module::task_unchecked`] when host and guest use different but wire-compatible types.
    ///
    /// ```no_run
    /// # fn main() -> wasmproc::Result<()> {
    /// let ctx = wasmproc::Context::new()?;
    /// let module = ctx.load("tasks.wasm")?;
    /// let square = module.task::<u64, u64>("square")?;
    /// let add = module.task::<(i64, i64), i64>("add")?;
    /// assert!(module.task::<String, u64>("square").is_err());
    /// # Ok(()) }
    /// ```
    pub fn task<A: Serialize, R: DeserializeOwned>(&self, name: &str) -> Result<Task<A, R>> {
        let sig = self.signature(name)?;
        let args = normalize_type(std::any::type_name::<A>());
        let result = normalize_type(std::any::type_name::<R>());
        if args != sig.argument_type() || result != sig.returns {
            return Err(Error::SignatureMismatch {
                signature: sig.to_string(),
                requested_args: spaced(&args),
                requested_result: spaced(&result),
            });
        }
        Ok(self.make_task(name, Codec::Postcard))
    }

    /// A typed handle without the signature check. A mismatch then shows up as a
    /// [`FailureKind::BadArgument`](crate::FailureKind::BadArgument) failure or a
    /// [`Error::Codec`] when the result is decoded — or, for postcard's compact encoding, as
    /// silently misread values: prefer [`Module::task`].
    pub fn task_unchecked<A: Serialize, R: DeserializeOwned>(&self, name: &str) -> Result<Task<A, R>> {
        self.signature(name)?;
        Ok(self.make_task(name, Codec::Postcard))
    }

    /// A handle that takes and returns JSON values, checked by the guest as it decodes: the CLI's
    /// way in. The argument is the bare value for a one-parameter task and an array otherwise.
    pub fn json_task(&self, name: &str) -> Result<Task<serde_json::Value, serde_json::Value>> {
        self.signature(name)?;
        Ok(self.make_task(name, Codec::Json))
    }

    fn make_task<A, R>(&self, name: &str, codec: Codec) -> Task<A, R> {
        let sig = self.signature(name).expect("checked by the caller").clone();
        Task { module: self.clone(), sig: Arc::new(sig), codec, _types: PhantomData }
    }
}

/// A handle to one task of a [`Module`], taking `A` and producing `R`. Obtained from
/// [`Module::task`]; pass it to [`Pool`](crate::Pool) methods.
pub struct Task<A, R> {
    pub(crate) module: Module,
    pub(crate) sig: Arc<TaskSignature>,
    pub(crate) codec: Codec,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Clone for Task<A, R> {
    fn clone(&self) -> Self {
        Task { module: self.module.clone(), sig: self.sig.clone(), codec: self.codec, _types: PhantomData }
    }
}

impl<A, R> fmt::Debug for Task<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task({} in {})", self.sig, self.module.name())
    }
}

impl<A: Serialize, R: DeserializeOwned> Task<A, R> {
    /// The task's declared signature.
    pub fn signature(&self) -> &TaskSignature {
        &self.sig
    }

    /// Appends the encoding of `args` to `buf`; returns its length, and the shared objects the
    /// arguments refer to (to keep alive while the task may use them). On error `buf` is
    /// unchanged.
    pub(crate) fn encode_into(&self, args: &A, buf: &mut Vec<u8>) -> Result<(u32, KeepAlive)> {
        let (len, objects) = keep::collecting(|| self.encode_uncollected(args, buf));
        Ok((len?, objects))
    }

    /// [`encode_into`](Task::encode_into) without collecting what the arguments refer to: for a
    /// caller that encodes many inputs inside one `keep::collecting`.
    pub(crate) fn encode_uncollected(&self, args: &A, buf: &mut Vec<u8>) -> Result<u32> {
        let start = buf.len();
        let fail = |reason: String| Error::Codec { task: self.sig.name.clone(), reason };
        codec::encode_into(self.codec, args, buf).map_err(|e| fail(format!("cannot encode the argument: {e}")))?;
        u32::try_from(buf.len() - start).map_err(|_| {
            buf.truncate(start);
            fail("an argument larger than 4 GiB cannot be sent".into())
        })
    }

    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<R> {
        self.decoder().decode(bytes)
    }

    /// Decodes this task's results; holds no `A`, so it can travel where `A` cannot.
    pub(crate) fn decoder(&self) -> Decoder<R> {
        Decoder { codec: self.codec, sig: self.sig.clone(), _result: PhantomData }
    }
}

/// Decodes the results of one task.
pub(crate) struct Decoder<R> {
    codec: Codec,
    sig: Arc<TaskSignature>,
    _result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Decoder<R> {
    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<R> {
        codec::decode(self.codec, bytes)
            .map_err(|e| Error::Codec { task: self.sig.name.clone(), reason: format!("cannot decode the result: {e}") })
    }
}

/// A Rust type's text without module paths or spaces: `alloc::vec::Vec<u64>` and the guest's
/// `std :: vec :: Vec < u64 >` both become `Vec<u64>`.
pub(crate) fn normalize_type(raw: &str) -> String {
    let mut compact = String::with_capacity(raw.len());
    let chars: Vec<char> = raw.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            // Keep a space only between two identifier characters (`dyn Trait`).
            let prev = compact.chars().last();
            let next = chars[i + 1..].iter().copied().find(|c| !c.is_whitespace());
            if let (Some(p), Some(n)) = (prev, next)
                && is_ident(p)
                && is_ident(n)
            {
                compact.push(' ');
            }
        } else {
            compact.push(c);
        }
    }
    let mut out = String::with_capacity(compact.len());
    let mut segment = String::new();
    let mut rest = compact.as_str();
    while let Some(c) = rest.chars().next() {
        if let Some(tail) = rest.strip_prefix("::") {
            segment.clear();
            rest = tail;
            continue;
        }
        if is_ident(c) {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&segment);
    out.replace(",>", ">")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Checks the 8-byte header: `\0asm`, then version/layer (`01 00 00 00` core, `0d 00 01 00` component).
pub(crate) fn check_header(name: &str, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(Error::NotWasm { name: name.to_string() });
    }
    match bytes[6..8] {
        [0, 0] => Err(Error::CoreModule { name: name.to_string() }),
        [1, 0] => Ok(()),
        _ => Err(Error::InvalidComponent {
            name: name.to_string(),
            reason: format!("unknown WebAssembly version/layer bytes {:02x?}", &bytes[4..8]),
        }),
    }
}

/// A listing as kept in the cache (see `cache.rs`).
pub(crate) fn listing_to_json(tasks: &[TaskSignature]) -> String {
    let tasks: Vec<serde_json::Value> = tasks
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "params": t.params, "returns": t.returns, "doc": t.doc}))
        .collect();
    serde_json::Value::Array(tasks).to_string()
}

/// A listing read back from the cache; `None` if it is not one.
pub(crate) fn listing_from_json(text: &str) -> Option<Vec<TaskSignature>> {
    #[derive(serde::Deserialize)]
    struct Kept {
        name: String,
        params: Vec<(String, String)>,
        returns: String,
        doc: String,
    }
    let kept: Vec<Kept> = serde_json::from_str(text).ok()?;
    Some(
        kept.into_iter()
            .map(|k| TaskSignature { name: k.name, params: k.params, returns: k.returns, doc: k.doc })
            .collect(),
    )
}

pub(crate) fn tasks_from_listing(listing: Vec<TaskInfo>) -> Vec<TaskSignature> {
    let mut tasks: Vec<TaskSignature> = listing.into_iter().map(TaskSignature::from_info).collect();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_normalize_the_same_on_both_sides() {
        assert_eq!(normalize_type(std::any::type_name::<Vec<u64>>()), "Vec<u64>");
        assert_eq!(normalize_type("std :: vec :: Vec < u64 >"), "Vec<u64>");
        assert_eq!(normalize_type(std::any::type_name::<(i64, String)>()), "(i64,String)");
        assert_eq!(normalize_type("(i64 , alloc :: string :: String)"), "(i64,String)");
        assert_eq!(normalize_type(std::any::type_name::<Option<(u8,)>>()), "Option<(u8,)>");
        assert_eq!(normalize_type("HashMap < String , Vec < u8 > , >"), "HashMap<String,Vec<u8>>");
        assert_eq!(normalize_type("[u8 ; 4]"), "[u8;4]");
    }

    #[test]
    fn headers_are_classified() {
        assert!(matches!(check_header("x", b"hello world"), Err(Error::NotWasm { .. })));
        assert!(matches!(check_header("x", b"\0asm\x01\0\0\0"), Err(Error::CoreModule { .. })));
        assert!(check_header("x", b"\0asm\x0d\0\x01\0").is_ok());
        assert!(matches!(check_header("x", b"\0as"), Err(Error::NotWasm { .. })));
    }

    #[test]
    fn argument_type_of_zero_one_and_many_parameters() {
        let sig = |params: &[(&str, &str)]| TaskSignature {
            name: "t".into(),
            params: params.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            returns: "u64".into(),
            doc: String::new(),
        };
        assert_eq!(sig(&[]).argument_type(), "()");
        assert_eq!(sig(&[("x", "u64")]).argument_type(), "u64");
        assert_eq!(sig(&[("a", "i64"), ("b", "String")]).argument_type(), "(i64,String)");
        assert_eq!(sig(&[("a", "i64"), ("b", "String")]).to_string(), "t(a: i64, b: String) -> u64");
    }
}
