//! The bottom layer: everything that touches rows. Data types ([`points::Points`],
//! [`sparse::Csr`], [`scalar::Scalar`]), the nearest-centre kernels and their dispatch
//! ([`distance`], the AVX2 microkernels in [`avx2`], the AMX filter in [`amx`]), squared distances between many pairs of rows
//! ([`sq_dists`]), the per-cluster sums ([`sums`]), the fused
//! and bounded Lloyd passes ([`fused`], [`bounds`], with group bounds for many centres in
//! [`yinyang`], and the incremental pass that keeps a run's sums in [`incremental`]), sparse ×
//! dense products ([`sparse`]), the reductions behind the metrics ([`metrics`]), the data's mean
//! and scatter in one pass ([`scatter`]) and the blocked silhouette ([`silhouette`]).
//! Nothing here knows of a backend or an algorithm.

#[cfg(target_arch = "x86_64")]
pub mod amx;
#[cfg(target_arch = "x86_64")]
pub mod avx2;
pub mod bounds;
pub mod distance;
pub mod fused;
pub mod incremental;
pub mod metrics;
pub mod pairwise;
pub mod parallel;
pub mod points;
pub mod scalar;
pub mod scatter;
pub mod silhouette;
pub mod silhouette_bounds;
pub mod sparse;
pub mod sq_dists;
pub mod sums;
pub mod yinyang;
