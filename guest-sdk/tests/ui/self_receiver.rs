struct Calc;

impl Calc {
    #[wasmproc_guest::task]
    fn square(&self, x: u64) -> u64 {
        x * x
    }
}

fn main() {}
