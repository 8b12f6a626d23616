//! fastkmeans-core: the compute core of fastkmeans, in pure Rust (no Python).
//!
//! Two trainers share one assignment kernel:
//!
//! * [`minibatch`]: SageMaker's "web-scale" k-means (Sculley 2010). K = k · extra_center_factor
//!   centres are seeded from a sampled first batch, updated batch by batch with per-centre counts
//!   (optionally decayed by a half-life), then [`reduce`]d from K to k by weighted Lloyd runs.
//!   The state ([`MiniBatchState`]) is plain data, so training can be fed one batch at a time,
//!   saved and resumed.
//! * [`lloyd`]: full-batch (optionally weighted) Lloyd iterations, also used by the reduction.
//!
//! Both take dense ([`Points`]) or sparse ([`Csr`]) rows through the [`Rows`] trait; sparse rows
//! are assigned and summed sparse × dense ([`sparse`]), never densified.
//!
//! The heavy lifting (nearest-centre assignment) goes through the [`Backend`] seam; [`Cpu`] is the
//! multithreaded rayon implementation. Every result is a function of the inputs and the seed only:
//! work is split into blocks of fixed size and reduced in a fixed order, so the thread count never
//! changes a bit of the output.
//!
//! Long loops poll a caller-owned stop flag (an [`AtomicBool`](std::sync::atomic::AtomicBool)) once
//! per batch or iteration and return [`Error::Interrupted`] when it is set.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx2_f64;
pub mod backend;
pub mod distance;
pub mod error;
pub mod init;
pub mod lloyd;
pub mod metrics;
pub mod minibatch;
pub mod parallel;
pub mod params;
pub mod points;
pub mod reduce;
pub mod rng;
pub mod rows;
pub mod scalar;
pub mod sparse;
pub mod sums;

pub use backend::{Backend, Cpu};
pub use error::{Error, Result};
pub use lloyd::{fit_lloyd, lloyd, LloydFit};
pub use minibatch::{fit_minibatch, Merged, MiniBatchFit, MiniBatchState, RowIndex};
pub use params::{Checked, InitMethod, LloydParams, MiniBatchParams, ReduceParams};
pub use points::Points;
pub use reduce::{reduce, Reduced};
pub use rows::{Data, Gathered, Rows};
pub use scalar::Scalar;
pub use sparse::{Csr, CsrBuf};
