//! What regnorm's benches, examples, tests and `regnorm-mpi` share: the
//! parameter shapes of real models ([`models`]), the speed-of-light kernels
//! every figure is judged against ([`ceiling`]), the libraries regnorm is
//! compared with ([`peers`]), the SVG charts of the examples ([`chart`]) and
//! the regression solver of the `paths` and `train` examples
//! ([`regression`]) and the harnesses' timing helpers ([`timing`]). Not published; nothing here is regnorm's API.
//!
//! The measuring harnesses live in this crate's `examples/`:
//!
//! ```sh
//! cargo run --release -p regnorm-support --example speed_of_light -- quick
//! cargo run --release -p regnorm-support --example caller_switch
//! cargo run --release -p regnorm-support --example handoff
//! cargo run --release -p regnorm-support --example wake
//! cargo run --release -p regnorm-support --example parallel_threshold
//! ```

pub mod ceiling;
pub mod chart;
pub mod models;
pub mod peers;
pub mod regression;
pub mod timing;

pub use models::*;
