//! `wasmproc build [DIR]`: a Rust project (Cargo.toml) with cargo, a Python project
//! (pyproject.toml with `[tool.wasmproc]`) with componentize-py.

use super::Failure;
use crate::cli::BuildArgs;
use crate::exit::Code;
use anyhow::anyhow;
use std::path::{Path, PathBuf};
use std::process::Command;
use wasmproc_guest_build::{BuildError, Guest};

/// The componentize-py release the Python SDK is made for.
const COMPONENTIZE_PY: &str = "componentize-py>=0.25,<0.26";

pub(crate) fn build(args: &BuildArgs) -> Result<Code, Failure> {
    let dir = &args.dir;
    let wasm = if let Some(python) = python_project(dir)? {
        build_python(dir, &python)?
    } else if dir.join("Cargo.toml").is_file() {
        build_rust(dir)?
    } else {
        return Err(Failure::new(
            Code::BadInput,
            anyhow!(
                "{} is not a task project: it has neither a Cargo.toml nor a pyproject.toml with [tool.wasmproc] \
                 (create one with `wasmproc new NAME`)",
                dir.display()
            ),
        ));
    };
    eprintln!("built {}", wasm.display());
    println!("{}", wasm.display());
    Ok(Code::Success)
}

fn build_rust(dir: &Path) -> Result<PathBuf, Failure> {
    match Guest::at(dir).build() {
        Ok(wasm) => Ok(wasm),
        // The project's own code (or manifest) did not compile: cargo has said why.
        Err(e @ (BuildError::Failed { .. } | BuildError::Compile { .. } | BuildError::NoArtifact(_))) => {
            Err(Failure::new(Code::BadInput, anyhow!("{e}")))
        }
        Err(BuildError::Spawn(e)) => Err(Failure::new(
            Code::Runtime,
            anyhow!(
                "cannot run cargo ({e}): install Rust from https://rustup.rs, then run `rustup target add wasm32-wasip2`"
            ),
        )),
        Err(e) => Err(Failure::new(Code::Runtime, anyhow!("{e}"))),
    }
}

/// A Python project's `[tool.wasmproc]` settings.
struct Python {
    name: String,
    module: String,
    sdk: Option<PathBuf>,
}

/// The Python project at `dir`, if it is one.
fn python_project(dir: &Path) -> Result<Option<Python>, Failure> {
    let path = dir.join("pyproject.toml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let bad = |e: String| Failure::new(Code::BadInput, anyhow!("{}: {e}", path.display()));
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
    let Some(tool) = doc.get("tool").and_then(|t| t.get("wasmproc")) else { return Ok(None) };
    let string = |v: Option<&toml::Value>, what: &str| match v {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{what} must be a string"))),
    };
    let name = string(doc.get("project").and_then(|p| p.get("name")), "project.name")?
        .ok_or_else(|| bad("[project] needs a name (it names the component)".into()))?;
    let module = string(tool.get("module"), "tool.wasmproc.module")?.unwrap_or_else(|| "app".into());
    let sdk = string(tool.get("sdk"), "tool.wasmproc.sdk")?.map(|s| dir.join(s));
    Ok(Some(Python { name, module, sdk }))
}

fn build_python(dir: &Path, project: &Python) -> Result<PathBuf, Failure> {
    let sdk = match &project.sdk {
        Some(sdk) => sdk.clone(),
        None => installed_python_sdk()?,
    };
    let wit = sdk.join("wasmproc_guest/wit");
    if !wit.join("task.wit").is_file() {
        return Err(Failure::new(
            Code::BadInput,
            anyhow!("{} holds no wasmproc_guest package (its WIT is missing): fix [tool.wasmproc] sdk", sdk.display()),
        ));
    }
    let out = dir.join("target").join(format!("{}.wasm", project.name));
    std::fs::create_dir_all(dir.join("target"))
        .map_err(|e| Failure::new(Code::Runtime, anyhow!("cannot create {}/target: {e}", dir.display())))?;
    let status = Command::new("componentize-py")
        .current_dir(dir)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "task", "componentize", &project.module, "-p", "."])
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(format!("target/{}.wasm", project.name))
        // Its own messages go to stderr: stdout carries only the component's path.
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status();
    match status {
        Ok(s) if s.success() => Ok(out),
        Ok(_) => Err(Failure::new(
            Code::BadInput,
            anyhow!(
                "building Python module {} of {} failed (see componentize-py's messages above)",
                project.module,
                dir.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::new(
            Code::Runtime,
            anyhow!("componentize-py is not installed: run `pip install '{COMPONENTIZE_PY}'`"),
        )),
        Err(e) => Err(Failure::new(Code::Runtime, anyhow!("cannot run componentize-py: {e}"))),
    }
}

/// The directory holding the `wasmproc_guest` package installed for `python3`.
fn installed_python_sdk() -> Result<PathBuf, Failure> {
    let missing = |why: String| {
        Failure::new(
            Code::Runtime,
            anyhow!(
                "the wasmproc_guest package is not installed ({why}): run `pip install <wasmproc checkout>/guest-sdk/python`, \
                 or name a local copy with `sdk = \"…\"` under [tool.wasmproc] in pyproject.toml"
            ),
        )
    };
    let out = Command::new("python3")
        .args(["-c", "import os, wasmproc_guest; print(os.path.dirname(os.path.dirname(wasmproc_guest.__file__)))"])
        .output()
        .map_err(|e| missing(format!("cannot run python3: {e}")))?;
    if !out.status.success() {
        return Err(missing("python3 cannot import it".into()));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
