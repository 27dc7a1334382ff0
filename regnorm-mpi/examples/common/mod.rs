//! The examples' model: GPT-2 small's shapes, and which pieces a rank holds.
#![allow(dead_code)]

pub use regnorm_support::models as shapes;

use std::ops::Range;

use regnorm_mpi::Layout;

/// The elements of each tensor that `rank` of `size` holds: the two
/// largest tensors split over all ranks ([`Layout::split`]), the others
/// whole, round-robin.
pub fn my_share(layout: &Layout<f32>, rank: usize, size: usize) -> Vec<(usize, Range<usize>)> {
    let lens: Vec<usize> = (0..layout.tensors())
        .map(|t| layout.tensor_len(t).unwrap_or(0))
        .collect();
    let mut by_size: Vec<usize> = (0..lens.len()).collect();
    by_size.sort_by_key(|&t| std::cmp::Reverse(lens[t]));
    let split = &by_size[..2.min(lens.len())];
    let mut mine = Vec::new();
    let mut next = 0;
    for (t, &len) in lens.iter().enumerate() {
        if split.contains(&t) {
            let parts = layout.split(t, size).expect("a tensor of the layout");
            mine.push((t, parts[rank].clone()));
        } else {
            if next % size == rank {
                mine.push((t, 0..len));
            }
            next += 1;
        }
    }
    mine
}
