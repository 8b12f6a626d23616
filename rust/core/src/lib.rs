//! fastkmeans-core: the compute core of fastkmeans, in pure Rust (no Python).
//!
//! Three layers, each importing only from itself and the layers below (`tests/layers.rs` checks
//! it; docs/architecture.md draws it):
//!
//! * [`algo`]: what k-means is. [`algo::minibatch`], SageMaker's "web-scale" k-means (Sculley
//!   2010): K = k · extra_center_factor centres seeded from a sampled first batch, updated batch
//!   by batch with per-centre counts (optionally decayed by a half-life), then reduced from K to k
//!   by weighted Lloyd runs ([`algo::reduce`], also for the weighted centres of many shards). The
//!   state ([`MiniBatchState`]) is plain data, so training can be fed one batch at a time, saved
//!   and resumed. [`algo::lloyd`]: full-batch (optionally weighted) Lloyd iterations; seeding in
//!   [`algo::init`], the empty-cluster policy in [`algo::empty`].
//! * [`backend`]: the seam. The algorithms read data only through the [`Rows`] trait (dense
//!   [`Points`] or sparse [`Csr`] rows, never densified) and hand the O(n·k·d) work to a
//!   [`Backend`]; [`Cpu`] is the multithreaded rayon implementation, and the trait's docs are the
//!   contract a GPU backend implements.
//! * [`kernels`]: everything that touches rows: distances and their SIMD microkernels, the fused
//!   and bounded Lloyd passes, per-cluster sums, sparse × dense products, metrics' reductions.
//!
//! [`error`], [`params`] and [`rng`] stand beside them. Every result is a function of the inputs
//! and the seed only: work is split into blocks of fixed size and reduced in a fixed order, so the
//! thread count never changes a bit of the output.
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
pub use algo::fit::fit_lloyd;
pub use algo::lloyd::{lloyd, LloydFit};
pub use algo::minibatch::{
    fit_minibatch, reduce_and_refine, Merged, MiniBatchFit, MiniBatchState, RowIndex, DEFAULT_RESEED_RATIO,
};
pub use algo::reduce::{reduce, reduce_shards, Reduced, Shard};
#[cfg(feature = "cuda")]
pub use backend::cuda::{Cuda, Precision};
pub use backend::{Backend, Cpu, Data, Gathered, Rows, SeedingSteps};
pub use error::{Error, Result};
pub use kernels::distance::tiles;
pub use kernels::metrics::{calinski_harabasz, davies_bouldin, dispersion, Dispersion};
pub use kernels::points::Points;
pub use kernels::scalar::Scalar;
pub use kernels::silhouette::{silhouette_pairs, silhouette_samples, PairwiseRows};
pub use kernels::sparse::{Csr, CsrBuf};
pub use params::{Checked, InitMethod, LloydParams, MiniBatchParams, ReduceParams, StopRule};
