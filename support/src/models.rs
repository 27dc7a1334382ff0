//! The parameter shapes of real models, and deterministic values for them.

/// torchvision's ResNet-18: 62 tensors, 11,689,512 values, 41 tensors of at
/// most 1,024 values (the batch-norm weights and biases, and fc.bias).
pub fn resnet18() -> Vec<usize> {
    let mut shapes = vec![64 * 3 * 7 * 7, 64, 64];
    let mut in_ch = 64;
    for out_ch in [64, 128, 256, 512] {
        for block in 0..2 {
            let first_in = if block == 0 { in_ch } else { out_ch };
            shapes.extend([
                out_ch * first_in * 9,
                out_ch,
                out_ch,
                out_ch * out_ch * 9,
                out_ch,
                out_ch,
            ]);
            if block == 0 && out_ch != in_ch {
                shapes.extend([out_ch * in_ch, out_ch, out_ch]); // downsample conv + bn
            }
        }
        in_ch = out_ch;
    }
    shapes.extend([1000 * 512, 1000]);
    shapes
}

/// GPT-2 small (tied embeddings): 148 tensors, 124,439,808 values.
pub fn gpt2_small() -> Vec<usize> {
    let d = 768;
    let mut shapes = vec![50257 * d, 1024 * d];
    for _ in 0..12 {
        shapes.extend([
            d,
            d,
            d * 3 * d,
            3 * d,
            d * d,
            d,
            d,
            d,
            d * 4 * d,
            4 * d,
            4 * d * d,
            d,
        ]);
    }
    shapes.extend([d, d]);
    shapes
}

/// Deterministic values in [-1, 1) for every shape.
pub fn tensors(shapes: &[usize], seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed | 1;
    shapes
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect()
        })
        .collect()
}
