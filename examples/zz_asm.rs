fn main() {
    let x: Vec<half::bf16> = (0..16384).map(|i| half::bf16::from_f32(i as f32)).collect();
    let e = regnorm::Exec::sequential();
    println!("{:?}", e.sum_abs(std::hint::black_box(&x)));
}
