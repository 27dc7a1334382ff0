//! Shared by the benches and the `compare` example: the peers regnorm is
//! measured against, and the parameter shapes of real models.
#![allow(dead_code)]

pub mod ceiling;
pub mod peers;
pub mod shapes;

pub use shapes::*;
