//! Every ceiling kernel's GB/s on this machine, per operation and size
//! (median of 15 samples of at least 5 ms each), so that one can see which
//! shape makes each ceiling.
//!
//! ```sh
//! cargo run --release -p regnorm-support --example ceilings -- 1000 16384 262144
//! ```

use std::hint::black_box;
use std::time::Instant;

use regnorm_support::ceiling::{CeilingFloat, Op, ceiling_kernels};

fn gbs<T: CeilingFloat>(x: &[T], op: Op, k: regnorm_support::ceiling::Kernel) -> f64 {
    let t = Instant::now();
    black_box(T::reduce(black_box(x), op, k));
    let reps = (0.005 / t.elapsed().as_secs_f64().max(1e-9)).ceil() as u32;
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                black_box(T::reduce(black_box(x), op, k));
            }
            t.elapsed().as_secs_f64() / f64::from(reps)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    size_of_val(x) as f64 / times[7] / 1e9
}

fn table<T: CeilingFloat + From<f32>>(name: &str, sizes: &[usize]) {
    for op in [Op::Abs, Op::Sq, Op::Both] {
        println!("\n{name} {op:?}: GB/s by kernel");
        for &n in sizes {
            let store: Vec<T> = (0..n + 16).map(|i| T::from((i % 7) as f32 - 3.0)).collect();
            let skip = store.as_ptr().align_offset(64).min(16);
            let x = &store[skip..skip + n];
            let row: Vec<String> = ceiling_kernels()
                .into_iter()
                .map(|k| format!("{k} {:.1}", gbs(x, op, k)))
                .collect();
            println!("{n}: {}", row.join(" | "));
        }
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("element counts"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 16384, 262_144]
    } else {
        sizes
    };
    table::<f32>("f32", &sizes);
    table::<f64>("f64", &sizes);
}
