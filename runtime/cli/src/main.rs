//! The `wasmproc` command. Everything lives in the library; see `wasmproc --help`.

fn main() -> std::process::ExitCode {
    wasmproc_cli::main()
}
