#[wasmproc_guest::task]
fn length(text: &str) -> usize {
    text.len()
}

fn main() {}
