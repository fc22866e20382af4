use wasmproc_guest::task;

/// Ordinary tasks compile, and stay callable as Rust functions.
#[task]
fn square(x: u64) -> u64 {
    x * x
}

#[task]
fn fallible(text: String) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

#[task]
fn nothing() {}

#[task]
fn many(mut a: Vec<u8>, b: (u8, String), c: Option<[u16; 3]>) -> usize {
    a.push(b.0);
    a.len() + b.1.len() + c.map_or(0, |c| c.len())
}

fn main() {
    assert_eq!(square(3), 9);
    assert_eq!(fallible("7".into()).unwrap(), 7);
    nothing();
    assert_eq!(many(vec![], (1, "ab".into()), None), 3);
}
