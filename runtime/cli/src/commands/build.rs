//! `wasmproc build [DIR]`

use super::Failure;
use crate::cli::BuildArgs;
use crate::exit::Code;
use wasmproc_guest_build::{BuildError, Guest};

pub(crate) fn build(args: &BuildArgs) -> Result<Code, Failure> {
    let dir = &args.dir;
    if !dir.join("Cargo.toml").is_file() {
        return Err(Failure::new(
            Code::BadInput,
            anyhow::anyhow!(
                "{} is not a task project: it has no Cargo.toml (create one with `wasmproc new NAME`)",
                dir.display()
            ),
        ));
    }
    match Guest::at(dir).build() {
        Ok(wasm) => {
            eprintln!("built {}", wasm.display());
            println!("{}", wasm.display());
            Ok(Code::Success)
        }
        // The project's own code (or manifest) did not compile: cargo has said why.
        Err(e @ (BuildError::Failed { .. } | BuildError::Compile { .. } | BuildError::NoArtifact(_))) => {
            Err(Failure::new(Code::BadInput, anyhow::anyhow!("{e}")))
        }
        Err(BuildError::Spawn(e)) => Err(Failure::new(
            Code::Runtime,
            anyhow::anyhow!(
                "cannot run cargo ({e}): install Rust from https://rustup.rs, then run `rustup target add wasm32-wasip2`"
            ),
        )),
        Err(e) => Err(Failure::new(Code::Runtime, anyhow::anyhow!("{e}"))),
    }
}
