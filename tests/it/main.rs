//! wasmproc integration tests: real worker processes running the fixture component.

mod common;
mod pool;
