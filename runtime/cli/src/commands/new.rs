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
    let sdk = match &args.sdk {
        Some(dir) => Some(local_sdk(dir).map_err(bad)?),
        None => local_sdk(&built_from()).ok(),
    };
    let Lang::Rust = args.lang;
    let files = rust_project(&name, sdk.as_deref());
    let io = |e: std::io::Error| Failure::new(Code::Runtime, anyhow!("cannot write {}: {e}", args.path.display()));
    std::fs::create_dir_all(args.path.join("src")).map_err(io)?;
    for (file, text) in files {
        std::fs::write(args.path.join(file), text).map_err(io)?;
    }
    let dir = args.path.display();
    let sdk_note = match &sdk {
        Some(_) => "the guest SDK from a local copy (see [patch.crates-io] in Cargo.toml)",
        None => "the guest SDK from crates.io",
    };
    eprintln!("created {dir}: a Rust task project ({name}) with {sdk_note}");
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
    fn the_checkout_this_was_built_from_holds_the_sdk() {
        let sdk = local_sdk(&built_from()).unwrap();
        assert_eq!(sdk.iter().map(|(k, _)| *k).collect::<Vec<_>>(), SDK_CRATES);
        assert!(sdk[0].1.ends_with("guest-sdk") && sdk[2].1.ends_with("wire"), "{sdk:?}");
    }
}
