//! The model shapes the benches and the example use are the real ones.

use regnorm_support::models as shapes;

#[test]
fn resnet18_and_gpt2_shapes() {
    let r = shapes::resnet18();
    assert_eq!((r.len(), r.iter().sum::<usize>()), (62, 11_689_512));
    assert_eq!(r.iter().filter(|&&n| n <= 1024).count(), 41);
    let g = shapes::gpt2_small();
    assert_eq!((g.len(), g.iter().sum::<usize>()), (148, 124_439_808));
}
