//! The seam: what the algorithms need of their data ([`Rows`]) and of the hardware that does the
//! O(n·k·d) work ([`Backend`]). The algorithms above see nothing else; the kernels below know
//! nothing of them. [`Cpu`] is the multithreaded rayon backend; a GPU backend implements the
//! same trait beside it.
//!
//! # The contract a backend implements
//!
//! Every method gets the data as [`Data`] (dense [`Points`] or sparse [`Csr`](crate::Csr) rows)
//! and the centres as dense `k × d` [`Points`] of the same precision, with `k >= 1` and the same
//! `d`. `labels` and `dist2` have one element per row.
//!
//! * [`Backend::assign`] is the one required method. For every row `i`: `labels[i]` is the index
//!   of the nearest centre, ties to the lowest index, and `dist2[i]` is the squared Euclidean
//!   distance to it, accumulated in `f64` in [`sq_dist_f64`](crate::kernels::points::sq_dist_f64)'s
//!   order (for sparse rows, [`sq_dist_to_dense`](crate::kernels::sparse::sq_dist_to_dense)'s).
//!   The label must be the exact argmin of the kernel's scores `||c||² − 2 x·c` in the data's
//!   precision where two centres are far apart; near-ties may only go to the lower index.
//! * The other three have defaults built on `assign` and the CPU's sums, and a backend overrides
//!   them to fuse work. An override must give *exactly* the default's results (labels, `dist2`
//!   and every bit of the [`ClusterSums`]): the sums are taken relative to each row's centre,
//!   per cluster in row order (see [`crate::kernels::sums`]); a faster order must still add in
//!   that order.
//!
//! Determinism: the results must not depend on the number of threads, streams or blocks (fixed
//! block boundaries, fixed-order reductions, no order-dependent float atomics).
//!
//! A backend may return [`Error::Backend`](crate::Error::Backend) (a device failure); the
//! algorithms pass it up untouched.

pub mod contract;
pub mod cpu;
pub mod rows;

pub use contract::Backend;
pub use cpu::Cpu;
pub use rows::{Data, Gathered, Rows};
