//! The `wasmproc` command, built inside the test package for the CLI tests.

fn main() -> std::process::ExitCode {
    wasmproc_cli::main()
}
