//! Shared by the benches and the `compare` example: the peers regnorm is
//! measured against, and the parameter shapes of real models.
#![allow(dead_code)]

pub mod ceiling;
pub mod models;
pub mod peers;

pub use models::*;
