//! The seam: what the algorithms need of their data ([`Rows`]) and of the hardware that does the
//! O(n·k·d) work ([`Backend`]). The algorithms above see nothing else; the kernels below know
//! nothing of them. [`Cpu`] is the multithreaded rayon backend; a GPU backend implements the
//! same trait beside it.
//!
//! # The contract a backend implements
//!
//! Every method gets the data as [`Data`] (dense [`Points`](crate::Points) or sparse
//! [`Csr`](crate::Csr) rows) and the centres as dense `k × d` [`Points`](crate::Points) of the
//! same precision, with `k >= 1` and the same `d`. `labels` and `dist2` have one element per row.
//!
//! * [`Backend::assign`] is the one required method. For every row `i`, `labels[i]` is its
//!   nearest centre and `dist2[i]` the squared Euclidean distance to that centre, accumulated in
//!   `f64` exactly as [`sq_dist_f64`](crate::kernels::points::sq_dist_f64) (dense rows) or
//!   [`sq_dist_to_dense`](crate::kernels::sparse::sq_dist_to_dense) with the centre's norm summed
//!   in `f64` in feature order (sparse rows) computes it, so that a label fixes the distance's
//!   bits.
//!   Where two centres are nearly equidistant (within the rounding of the backend's scores) a
//!   backend may pick either; elsewhere the label is the exact nearest centre, and among centres
//!   at exactly equal distance, the lowest index. (The CPU ranks by `||c||² − 2 x·c` in the data's
//!   precision for dense rows, in `f64` for sparse rows.)
//! * [`Backend::assign_and_sum`] adds the per-cluster sums of the next M step
//!   ([`ClusterSums`](crate::kernels::sums::ClusterSums): `Σ w·(x − c)` per cluster, the weights
//!   and the rows of positive weight). The default sums cluster by cluster, each cluster in row
//!   order ([`Data::sum_by_label`]); a backend may add in another order (the CPU's fused pass
//!   adds rows in order within fixed chunks, then the chunks in order), as long as that order is
//!   fixed.
//! * [`Backend::distances`] gives every row's Euclidean distance to every centre (`transform`),
//!   within the rounding of the backend's scores and exact near the centres; the default computes
//!   each exactly in `f64` on the CPU ([`Data::distances`]).
//! * [`Backend::gather_assign_and_sum`] and [`Backend::assign_and_sum_bounded`] have defaults
//!   built on `assign_and_sum`. An override must give exactly the backend's own `assign_and_sum`
//!   results (labels, `dist2` and every bit of the sums) for the same rows.
//! * [`Backend::assign_and_update`] runs the passes of a Lloyd run under the centre-shift rule:
//!   labels, and sums kept in a [`RunSums`](crate::kernels::incremental::RunSums) relative to its
//!   reference centres. The default sums afresh every pass (relative to that pass's centres); the
//!   CPU keeps the sums from pass to pass and changes them by the rows that change centre only
//!   ([`crate::kernels::incremental`]), so its sums differ from `assign_and_sum`'s in the last
//!   bits, never in the labels of a pass given the same centres. It may leave `dist2` stale, and
//!   says so.
//! * [`Backend::silhouette_samples`] computes the exact silhouette (the CPU's by default; a
//!   device's within about 1e-12 of it, the sums added in an order of its own, fixed).
//! * [`Backend::seeding_steps`] runs the passes of a k-means++ run on a device
//!   ([`SeedingSteps`]), with the bits of the CPU's: the same rows are chosen. The default, `None`,
//!   measures on the CPU.
//!
//! Determinism: the results must not depend on the number of threads, streams or blocks in
//! flight (fixed block boundaries, fixed-order reductions, no order-dependent float atomics).
//! Two backends that rank near-ties or add sums differently give centres that differ in the last
//! bits; on data without near-ties whose sums are exact they agree to the bit
//! (`tests/seam.rs`).
//!
//! A backend may return [`Error::Backend`](crate::Error::Backend) (a device failure); the
//! algorithms pass it up untouched.

pub mod contract;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod rows;

pub use contract::{Backend, SeedingSteps};
pub use cpu::Cpu;
pub use rows::{Data, Gathered, Rows};
