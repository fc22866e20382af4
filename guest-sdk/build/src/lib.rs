//! Build a wasmproc guest crate into a WebAssembly component from a `build.rs`.
//!
//! A host crate that ships its own tasks keeps the guest crate beside it (outside its workspace, or
//! excluded from it) and builds it from the host's build script:
//!
//! ```no_run
//! // build.rs
//! let wasm = wasmproc_guest_build::Guest::new("tasks").build().expect("guest build");
//! println!("cargo:rustc-env=TASKS_WASM={}", wasm.display());
//! ```
//!
//! ```text
//! // src/main.rs: the component's path is compiled into the host
//! let module = ctx.load(env!("TASKS_WASM"))?;
//! ```
//!
//! The guest is compiled with the `cargo` that runs the build, for `wasm32-wasip2`, in release mode,
//! into `<target>/wasm-guests`, shared by every build script of the workspace so each guest crate is
//! compiled once.
//!
//! A command-line tool (`wasmproc build`) uses [`Guest::at`] instead: cargo's progress and
//! diagnostics go to the terminal and the component into the crate's own target directory.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A guest crate to compile to a component.
#[derive(Debug, Clone)]
pub struct Guest {
    dir: PathBuf,
    watch: Vec<PathBuf>,
    /// Built from a build script (else from a command line).
    build_script: bool,
}

/// Why a guest crate did not build.
#[derive(Debug)]
pub enum BuildError {
    /// `cargo` could not be started.
    Spawn(std::io::Error),
    /// The compiler failed; carries its output.
    Compile {
        /// The guest crate's directory.
        dir: PathBuf,
        /// Everything cargo printed.
        output: String,
    },
    /// The build succeeded but produced no `.wasm` file (the crate is not a `cdylib`).
    NoArtifact(PathBuf),
    /// The Rust toolchain cannot build for `wasm32-wasip2`.
    TargetMissing,
    /// The compiler failed; its diagnostics went to stderr ([`Guest::at`]).
    Failed {
        /// The guest crate's directory.
        dir: PathBuf,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spawn(e) => write!(f, "could not run cargo: {e}"),
            BuildError::Compile { dir, output } => {
                write!(f, "building guest crate {} for wasm32-wasip2 failed", dir.display())?;
                if output.contains("wasm32-wasip2") && output.contains("target may not be installed") {
                    write!(f, "\nhint: run `rustup target add wasm32-wasip2`")?;
                }
                write!(f, "\n{output}")
            }
            BuildError::TargetMissing => {
                write!(f, "this Rust toolchain has no wasm32-wasip2 target; run `rustup target add wasm32-wasip2`")
            }
            BuildError::Failed { dir } => {
                write!(
                    f,
                    "building guest crate {} for wasm32-wasip2 failed (see cargo's messages above)",
                    dir.display()
                )
            }
            BuildError::NoArtifact(dir) => write!(
                f,
                "guest crate {} built no .wasm file; give it `[lib] crate-type = [\"cdylib\"]`",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for BuildError {}

impl Guest {
    /// A guest crate in `dir`, relative to the calling crate's manifest directory.
    pub fn new(dir: impl AsRef<Path>) -> Guest {
        let base = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
        Guest { dir: base.join(dir), watch: Vec::new(), build_script: true }
    }

    /// A guest crate in `dir` (relative to the current directory), built as from a command line:
    /// cargo's progress and diagnostics go to stderr, and the component into the crate's target
    /// directory (or `CARGO_TARGET_DIR`).
    pub fn at(dir: impl AsRef<Path>) -> Guest {
        Guest { dir: dir.as_ref().to_path_buf(), watch: Vec::new(), build_script: false }
    }

    /// Also rebuild when something under `path` (relative to the calling crate) changes: for path
    /// dependencies of the guest, such as a local copy of the SDK.
    pub fn watch(mut self, path: impl AsRef<Path>) -> Guest {
        let base = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
        self.watch.push(base.join(path));
        self
    }

    /// Compiles the crate and returns the path of its component.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        if !target_installed() {
            return Err(BuildError::TargetMissing);
        }
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.dir).args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ]);
        if self.build_script {
            self.configure_for_build_script(&mut cmd);
        } else {
            cmd.stderr(std::process::Stdio::inherit());
        }
        let out = cmd.output().map_err(BuildError::Spawn)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(if self.build_script {
                BuildError::Compile { dir: self.dir.clone(), output: String::from_utf8_lossy(&out.stderr).into_owned() }
            } else {
                BuildError::Failed { dir: self.dir.clone() }
            });
        }
        let mut artifact = None;
        for line in stdout.lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if msg["reason"] != "compiler-artifact" {
                continue;
            }
            let files = msg["filenames"].as_array().into_iter().flatten();
            for f in files.filter_map(|f| f.as_str()) {
                if f.ends_with(".wasm") {
                    artifact = Some(PathBuf::from(f));
                }
            }
        }
        artifact.ok_or_else(|| BuildError::NoArtifact(self.dir.clone()))
    }

    /// Build-script mode: tell cargo what to watch, share one target directory, and keep the
    /// outer build's settings out.
    fn configure_for_build_script(&self, cmd: &mut Command) {
        for dir in std::iter::once(&self.dir).chain(&self.watch) {
            for entry in ["src", "Cargo.toml", "Cargo.lock", "wit"] {
                let p = dir.join(entry);
                if p.exists() {
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
            if !dir.join("Cargo.toml").exists() && dir.exists() {
                println!("cargo:rerun-if-changed={}", dir.display());
            }
        }
        cmd.arg("--target-dir").arg(target_dir());
        // Nothing of the outer build may leak into the guest build: its flags, wrappers (clippy) and
        // jobserver are for the host target.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_NET_OFFLINE")
                || matches!(
                    key.as_str(),
                    "RUSTFLAGS"
                        | "RUSTC_WRAPPER"
                        | "RUSTC_WORKSPACE_WRAPPER"
                        | "MAKEFLAGS"
                        | "MFLAGS"
                        | "TARGET"
                        | "HOST"
                        | "OUT_DIR"
                        | "PROFILE"
                        | "OPT_LEVEL"
                        | "DEBUG"
                        | "NUM_JOBS"
                        | "RUSTDOC"
                        | "RUSTC_LINKER"
                        | "__CARGO_FIX_PLZ"
                );
            if outer {
                cmd.env_remove(key);
            }
        }
    }
}

/// Whether the toolchain that `rustc` runs has the `wasm32-wasip2` standard library (rustup
/// installs it with `rustup target add wasm32-wasip2`). If `rustc` cannot be asked, the build
/// itself reports what is wrong.
fn target_installed() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    match Command::new(rustc).args(["--print", "target-libdir", "--target", "wasm32-wasip2"]).output() {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout);
            Path::new(dir.trim()).exists()
        }
        _ => true,
    }
}

/// `<target>/wasm-guests`, found from `OUT_DIR` (`<target>[/<triple>]/<profile>/build/<pkg>/out`), so
/// every build script of the workspace shares one guest target directory.
fn target_dir() -> PathBuf {
    match std::env::var_os("OUT_DIR") {
        Some(out) => {
            let out = PathBuf::from(out);
            match out.ancestors().nth(4) {
                Some(t) => t.join("wasm-guests"),
                None => out.join("wasm-guests"),
            }
        }
        None => std::env::temp_dir().join("wasmproc-wasm-guests"),
    }
}
