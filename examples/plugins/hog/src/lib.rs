//! A plugin that wants all the memory it can get.

/// What this plugin does.
#[wasmproc_guest::task]
fn describe() -> String {
    "allocates without end".into()
}

/// The plugin's entry point.
#[wasmproc_guest::task]
fn transform(text: String) -> String {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![text.len() as u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}
