//! The one `generate!` call: Rust bindings for the `task` world in `wit/`, and its export.
#![allow(missing_docs, unreachable_pub)]

wit_bindgen::generate!({
    path: "../wit",
    world: "task",
});

use crate::dispatch::Dispatcher;

export!(Dispatcher);
