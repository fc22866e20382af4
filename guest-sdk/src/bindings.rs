//! The one `generate!` call: Rust bindings for the `task` world in `wit/` (inside this crate, so
//! it packages on its own). The export is made in `dispatch`, next to what it exports.
#![allow(missing_docs, unreachable_pub)]

wit_bindgen::generate!({
    path: "wit",
    world: "task",
});
