//! Sums of Euclidean distances between a block of rows and a run of columns (rows of the same
//! data): what the silhouette ([`crate::kernels::silhouette`]) is made of.
//!
//! Every distance comes from the identity
//!
//! ```text
//! ||x − y||² = ||x||² − 2 x·y + ||y||²
//! ```
//!
//! clamped at zero (roundoff can make it slightly negative for near-identical rows), as
//! scikit-learn's `euclidean_distances` does, in `f64` whatever the input's precision. Dense rows
//! are centred on their mean first (in `f64`), so the identity does not lose digits to a common
//! offset. A row and a column at the same position are the same row: their distance is exactly 0
//! (scikit-learn zeroes the diagonal too).
//!
//! Two ways to the sums, chosen at run time:
//!
//! - **Fused** ([`Fused`]: dense rows of at most 64 features, on x86-64 with AVX2 and FMA): the
//!   columns are packed into panels and the microkernel of [`avx2`] keeps dot products and
//!   distances in registers, taking the square roots while the next dot products are computed;
//!   only the sums reach memory.
//! - **Tiled** ([`Tiled`]: sparse rows, long dense rows, CPUs without AVX2): a tile of dot
//!   products from the GEMM kernel ([`crate::kernels::scalar::Scalar::gemm_abt`]) or, for sparse
//!   rows, from their non-zeros, then a pass that turns each tile row into distances and adds
//!   them up.
//!
//! Either way each sum is added in an order fixed by the block and column run alone, so the
//! silhouette does not depend on the thread count.

mod tiles;
pub(crate) use tiles::{DenseDots, Distances, SparseDots, Tiled, COLUMN_BLOCK, ROW_CHUNK};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod fused;
#[cfg(target_arch = "x86_64")]
pub(crate) use fused::Fused;
