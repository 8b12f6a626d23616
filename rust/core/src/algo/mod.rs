//! The top layer: the algorithms, written against the seam ([`crate::backend`]) alone.
//! Seeding ([`init`]), full-batch Lloyd ([`lloyd`]) and its empty-cluster policy ([`empty`]),
//! SageMaker's mini-batch trainer ([`minibatch`]) and the weighted K → k reduction ([`reduce`]).

pub mod empty;
pub mod init;
pub mod lloyd;
pub mod minibatch;
pub mod reduce;
