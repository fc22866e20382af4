//! A well-behaved plugin: upper-cases its input.

/// What this plugin does.
#[wasmproc_guest::task]
fn describe() -> String {
    "upper-cases text".into()
}

/// The plugin's entry point.
#[wasmproc_guest::task]
fn transform(text: String) -> String {
    text.to_uppercase()
}
