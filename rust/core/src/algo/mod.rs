//! The top layer: the algorithms, written against the seam ([`crate::backend`]) alone.
//! Seeding ([`init`]: random, [`kmeanspp`], [`kmeans_parallel`], [`coreset`]), full-batch Lloyd ([`lloyd`], the best of several seeded runs: [`fit`]) and its empty-cluster policy ([`empty`]),
//! SageMaker's mini-batch trainer ([`minibatch`]) and its starved-centre policy ([`starved`]), the weighted K → k reduction ([`reduce`]; its runs over few points of many features in the table of their pairwise distances: `tabled_lloyd`), the choice among its trials by the rows ([`choose`]), the coarse part of small float64 fits in float32 (`coarse`) and
//! the loss of data against given centres ([`evaluate`]).

pub mod choose;
pub(crate) mod coarse;
pub mod coreset;
pub mod empty;
pub mod evaluate;
pub mod fit;
pub mod init;
pub mod kmeans_parallel;
pub mod kmeanspp;
pub mod lloyd;
pub mod minibatch;
pub mod reduce;
pub mod starved;
pub(crate) mod tabled_lloyd;
