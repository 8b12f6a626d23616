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

pub mod algo;
pub mod backend;
pub mod error;
pub mod kernels;
pub mod params;
pub mod rng;

pub use algo::evaluate::{loss, Loss};
pub use algo::lloyd::{fit_lloyd, lloyd, LloydFit};
pub use algo::minibatch::{fit_minibatch, Merged, MiniBatchFit, MiniBatchState, RowIndex};
pub use algo::reduce::{reduce, reduce_shards, Reduced, Shard};
pub use backend::{Backend, Cpu, Data, Gathered, Rows};
pub use error::{Error, Result};
pub use kernels::metrics::{calinski_harabasz, davies_bouldin, dispersion, Dispersion};
pub use kernels::points::Points;
pub use kernels::scalar::Scalar;
pub use kernels::silhouette::{silhouette_samples, PairwiseRows};
pub use kernels::sparse::{Csr, CsrBuf};
pub use params::{Checked, InitMethod, LloydParams, MiniBatchParams, ReduceParams};
