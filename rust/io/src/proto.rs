//! The messages of SageMaker's `record.proto` (package `aialgs.data`, proto2), written by hand
//! for prost: no protoc and no build script. The writer encodes with them; the tests decode with
//! them to check the hot-path walk of [`crate::wire`].
//!
//! Fields are declared in field-number order, which is the order prost encodes them in and the
//! order the official protobuf runtime (and so the SageMaker SDK) writes them in. The maps are
//! `BTreeMap`s so that the encoding is deterministic.

use std::collections::BTreeMap;

/// `message Float32Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Float32Tensor {
    #[prost(float, repeated, packed = "true", tag = "1")]
    pub values: Vec<f32>,
    #[prost(uint64, repeated, packed = "true", tag = "2")]
    pub keys: Vec<u64>,
    #[prost(uint64, repeated, packed = "true", tag = "3")]
    pub shape: Vec<u64>,
}

/// `message Float64Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Float64Tensor {
    #[prost(double, repeated, packed = "true", tag = "1")]
    pub values: Vec<f64>,
    #[prost(uint64, repeated, packed = "true", tag = "2")]
    pub keys: Vec<u64>,
    #[prost(uint64, repeated, packed = "true", tag = "3")]
    pub shape: Vec<u64>,
}

/// `message Int32Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Int32Tensor {
    #[prost(int32, repeated, packed = "true", tag = "1")]
    pub values: Vec<i32>,
    #[prost(uint64, repeated, packed = "true", tag = "2")]
    pub keys: Vec<u64>,
    #[prost(uint64, repeated, packed = "true", tag = "3")]
    pub shape: Vec<u64>,
}

/// `message Bytes` (raw content, e.g. an image; not a feature fastkmeans can train on).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Bytes {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub value: Vec<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    pub content_type: Option<String>,
}

/// `message Value { oneof value { ... } }`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(oneof = "value::Value", tags = "2, 3, 7, 9")]
    pub value: Option<value::Value>,
}

/// The members of `Value`'s oneof.
pub mod value {
    /// `oneof value`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(message, tag = "2")]
        Float32Tensor(super::Float32Tensor),
        #[prost(message, tag = "3")]
        Float64Tensor(super::Float64Tensor),
        #[prost(message, tag = "7")]
        Int32Tensor(super::Int32Tensor),
        #[prost(message, tag = "9")]
        Bytes(super::Bytes),
    }
}

/// `message Record`: features and labels each under the map key `"values"`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Record {
    #[prost(btree_map = "string, message", tag = "1")]
    pub features: BTreeMap<String, Value>,
    #[prost(btree_map = "string, message", tag = "2")]
    pub label: BTreeMap<String, Value>,
    #[prost(string, optional, tag = "3")]
    pub uid: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub metadata: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub configuration: Option<String>,
}
