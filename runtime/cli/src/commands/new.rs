//! `wasmproc new PATH [--lang rust] [--sdk DIR]`: a task project that builds as it stands.

use super::Failure;
use crate::cli::{Lang, NewArgs};
use crate::exit::Code;
use anyhow::anyhow;
use std::path::{Path, PathBuf};

/// The guest SDK's crates, which a local copy must provide.
const SDK_CRATES: [&str; 3] = ["wasmproc-guest", "wasmproc-guest-macros", "wasmproc-wire"];

pub(crate) fn new(args: &NewArgs) -> Result<Code, Failure> {
    let bad = |e: anyhow::Error| Failure::new(Code::BadInput, e);
    let name = crate_name(&args.path).map_err(bad)?;
    if args.path.exists() && std::fs::read_dir(&args.path).map_or(true, |mut d| d.next().is_some()) {
        return Err(bad(anyhow!("{} already exists and is not empty: choose another path", args.path.display())));
    }
    let (files, local) = match args.lang {
        Lang::Rust => {
            let sdk = match &args.sdk {
                Some(dir) => Some(local_sdk(dir).map_err(bad)?),
                None => local_sdk(&built_from()).ok(),
            };
            (rust_project(&name, sdk.as_deref()), sdk.is_some())
        }
        Lang::Python => {
            let sdk = match &args.sdk {
                Some(dir) => Some(local_python_sdk(dir).map_err(bad)?),
                None => local_python_sdk(&built_from()).ok(),
            };
            (python_project(&name, sdk.as_deref()), sdk.is_some())
        }
    };
    let io = |e: std::io::Error| Failure::new(Code::Runtime, anyhow!("cannot write {}: {e}", args.path.display()));
    for (file, text) in files {
        let path = args.path.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, text).map_err(io)?;
    }
    let dir = args.path.display();
    let (lang, sdk_note) = match (args.lang, local) {
        (Lang::Rust, true) => ("Rust", "the guest SDK from a local copy (see [patch.crates-io] in Cargo.toml)"),
        (Lang::Rust, false) => ("Rust", "the guest SDK from crates.io"),
        (Lang::Python, true) => ("Python", "the guest SDK from a local copy (see [tool.wasmproc] in pyproject.toml)"),
        (Lang::Python, false) => ("Python", "the installed wasmproc_guest package"),
    };
    eprintln!("created {dir}: a {lang} task project ({name}) with {sdk_note}");
    eprintln!("next: wasmproc build {dir}   (then: wasmproc run <the printed .wasm> square 7)");
    Ok(Code::Success)
}

/// The crate name: the path's last component, which must be a valid package name.
fn crate_name(path: &Path) -> anyhow::Result<String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(anyhow!(
            "{name:?} cannot name a crate: use a letter followed by letters, digits, '-' or '_' (e.g. my-tasks)"
        ));
    }
    Ok(name.to_string())
}

/// The checkout this program was built from (its guest SDK, if still there, is the default).
fn built_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directories of the SDK's crates in `dir` (a checkout, or unpacked crates), found by their
/// manifests up to two levels down.
fn local_sdk(dir: &Path) -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    let mut candidates = vec![dir.to_path_buf()];
    for _ in 0..2 {
        let below: Vec<PathBuf> = candidates
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !p.ends_with("target"))
            .collect();
        candidates.extend(below);
    }
    let mut found = Vec::new();
    for krate in SDK_CRATES {
        let line = format!("name = \"{krate}\"");
        let hit = candidates
            .iter()
            .find(|d| std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|m| m.lines().any(|l| l.trim() == line)));
        match hit {
            Some(d) => found.push((krate, d.canonicalize().unwrap_or_else(|_| d.clone()))),
            None => {
                return Err(anyhow!(
                    "{} holds no {krate} crate: --sdk wants a wasmproc checkout or the unpacked SDK crates ({})",
                    dir.display(),
                    SDK_CRATES.join(", ")
                ));
            }
        }
    }
    Ok(found)
}

/// The directory holding the Python SDK package (`wasmproc_guest`) in `dir`: a checkout, its
/// `guest-sdk/python`, or a directory (such as site-packages) holding the package.
fn local_python_sdk(dir: &Path) -> anyhow::Result<PathBuf> {
    ["", "src", "python/src", "guest-sdk/python/src"]
        .iter()
        .map(|sub| dir.join(sub))
        .find(|d| d.join("wasmproc_guest/__init__.py").is_file() && d.join("wasmproc_guest/wit/task.wit").is_file())
        .map(|d| d.canonicalize().unwrap_or(d))
        .ok_or_else(|| {
            anyhow!(
                "{} holds no wasmproc_guest package: --sdk wants a wasmproc checkout or a directory holding the package",
                dir.display()
            )
        })
}

/// The files of a Python task project.
fn python_project(name: &str, sdk: Option<&Path>) -> Vec<(&'static str, String)> {
    let sdk_line = match sdk {
        Some(dir) => format!(
            "# The guest SDK from a local copy; remove this line to use the installed wasmproc_guest package.\nsdk = {:?}\n",
            dir.display().to_string()
        ),
        None => String::new(),
    };
    let manifest = format!(
        r#"[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.10"

# `wasmproc build` builds `module` into a WebAssembly component with componentize-py.
[tool.wasmproc]
module = "app"
{sdk_line}"#
    );
    let app = PYTHON_APP.replace("{file}", name);
    vec![("pyproject.toml", manifest), ("app.py", app), (".gitignore", "/target\n__pycache__/\n".to_string())]
}

/// The app module of a new Python project.
const PYTHON_APP: &str = r#""""The tasks of this module. Build with `wasmproc build`, then for example:

    wasmproc inspect target/{file}.wasm
    wasmproc run target/{file}.wasm square 7
    seq 1 10 | wasmproc map target/{file}.wasm square

Parameters and results need annotations: int is i64, float f64, str String, list[int] Vec<i64>,
tuple[int, str] (i64,String), int | None Option<i64> (see docs/python.md).
"""

from wasmproc_guest import Guest, task  # Guest: what the component exports


@task
def square(x: int) -> int:
    """The square of `x`."""
    return x * x


@task
def add(a: int, b: int) -> int:
    """The sum of `a` and `b`; an exception is that input's failure."""
    total = a + b
    if not -(2**63) <= total < 2**63:
        raise OverflowError(f"{a} + {b} does not fit in i64")
    return total
"#;

/// The files of a Rust task project.
fn rust_project(name: &str, sdk: Option<&[(&str, PathBuf)]>) -> Vec<(&'static str, String)> {
    let mut manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A task module is a WebAssembly component: `wasmproc build` compiles this crate for
# wasm32-wasip2 and prints where the .wasm file is.
[lib]
crate-type = ["cdylib"]

[dependencies]
wasmproc-guest = "0.1"

# Small, fast components.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

# A project of its own, even inside another workspace.
[workspace]
"#
    );
    if let Some(sdk) = sdk {
        manifest.push_str(
            "\n# The guest SDK from a local copy; remove this section to use crates.io.\n[patch.crates-io]\n",
        );
        for (krate, dir) in sdk {
            manifest.push_str(&format!("{krate} = {{ path = {:?} }}\n", dir.display().to_string()));
        }
    }
    let lib = format!(
        r#"//! The tasks of {name}. Build with `wasmproc build`, then for example:
//!
//! ```text
//! wasmproc inspect target/wasm32-wasip2/release/{file}.wasm
//! wasmproc run target/wasm32-wasip2/release/{file}.wasm square 7
//! seq 1 10 | wasmproc map target/wasm32-wasip2/release/{file}.wasm square
//! ```

use wasmproc_guest::task;

/// The square of `x`.
#[task]
fn square(x: u64) -> u64 {{
    x * x
}}

/// The sum of `a` and `b`, or an error if it does not fit.
#[task]
fn add(a: i64, b: i64) -> Result<i64, String> {{
    a.checked_add(b).ok_or_else(|| format!("{{a}} + {{b}} overflows"))
}}
"#,
        file = name.replace('-', "_")
    );
    vec![("Cargo.toml", manifest), ("src/lib.rs", lib), (".gitignore", "/target\n".to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_are_checked() {
        assert_eq!(crate_name(Path::new("some/dir/my-tasks")).unwrap(), "my-tasks");
        assert!(crate_name(Path::new("9lives")).is_err());
        assert!(crate_name(Path::new("has space")).is_err());
        assert!(crate_name(Path::new("/")).is_err());
    }

    #[test]
    fn the_checkout_this_was_built_from_holds_the_python_sdk() {
        let sdk = local_python_sdk(&built_from()).unwrap();
        assert!(sdk.ends_with("guest-sdk/python/src"), "{sdk:?}");
        assert!(local_python_sdk(&sdk).is_ok(), "the package's own directory works too");
    }

    #[test]
    fn the_checkout_this_was_built_from_holds_the_sdk() {
        let sdk = local_sdk(&built_from()).unwrap();
        assert_eq!(sdk.iter().map(|(k, _)| *k).collect::<Vec<_>>(), SDK_CRATES);
        assert!(sdk[0].1.ends_with("guest-sdk") && sdk[2].1.ends_with("wire"), "{sdk:?}");
    }
}
