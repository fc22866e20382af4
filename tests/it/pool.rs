use crate::common::{ctx, fixtures};
use wasmproc::Pool;

#[test]
fn map_squares_in_order() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    assert_eq!(
        pool.map(&square, 0..10).unwrap(),
        vec![0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    );
}
