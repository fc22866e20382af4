//! A plugin that never returns.

/// What this plugin does.
#[wasmproc_guest::task]
fn describe() -> String {
    "loops forever".into()
}

/// The plugin's entry point.
#[wasmproc_guest::task]
fn transform(text: String) -> String {
    let mut n = text.len() as u64;
    loop {
        n = std::hint::black_box(n.wrapping_mul(31).wrapping_add(7));
    }
}
