//! Plain use of regnorm in a training step: the penalty of a model, its
//! gradient added to the model's gradients, and clipping by the global norm.
//!
//! ```sh
//! cargo run --release --example quickstart
//! ```

use regnorm::{ClipGradNorm, L2, Regularizer};

fn main() -> Result<(), regnorm::Error> {
    // A model is any list of tensors; here two layers and their gradients.
    let weights: Vec<Vec<f32>> = vec![vec![0.5; 4096], vec![-0.25; 64]];
    let mut grads: Vec<Vec<f32>> = vec![vec![0.01; 4096], vec![0.02; 64]];

    let l2 = L2::new(1e-4)?; // λ·Σw²
    // The penalty to add to the loss, and its gradient 2λw added to the
    // gradients, in one pass over the model.
    let penalty = l2.penalty_and_gradient_model(&weights, &mut grads)?;
    println!("L2 penalty: {penalty:.6}");

    // Clip the gradients' global norm to 1 (as torch.nn.utils.clip_grad_norm_).
    let norm = ClipGradNorm::new(1.0)?.clip_model(&mut grads)?;
    println!("gradient norm before clipping: {norm:.6}");

    // The reductions themselves, exact to the documented bound.
    println!("Σ|w| = {}", regnorm::sum_abs(&weights[0]));
    Ok(())
}
