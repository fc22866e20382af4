//! A plugin with a bug.

/// What this plugin does.
#[wasmproc_guest::task]
fn describe() -> String {
    "indexes past the end".into()
}

/// The plugin's entry point.
#[wasmproc_guest::task]
fn transform(text: String) -> String {
    let bytes = text.as_bytes();
    format!("{}", bytes[bytes.len() + 10])
}
