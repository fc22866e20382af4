#[wasmproc_guest::task]
fn identity<T: serde::Serialize>(x: T) -> T {
    x
}

fn main() {}
