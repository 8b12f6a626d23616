//! Helpers shared by the integration tests: records built with prost, and dmlc-core's writer.
#![allow(dead_code)]

use fastkmeans_io::proto::{self, value};
use fastkmeans_io::MAGIC;
use prost::Message;

/// dmlc-core's `RecordIOWriter::WriteRecord` (src/recordio.cc), transcribed: the record is split
/// wherever the magic occurs at a 4-aligned offset of the data, those four bytes are dropped, and
/// the parts carry cflag 1 (first), 2 (middle), 3 (last); padding follows the last part only.
pub fn dmlc_write_record(out: &mut Vec<u8>, data: &[u8]) {
    let magic = MAGIC.to_le_bytes();
    let len = data.len();
    let lower_align = len / 4 * 4;
    let upper_align = len.next_multiple_of(4);
    let mut dptr = 0;
    let mut i = 0;
    while i < lower_align {
        if data[i..i + 4] == magic {
            let cflag = if dptr == 0 { 1u32 } else { 2 };
            out.extend_from_slice(&magic);
            out.extend_from_slice(&((cflag << 29) | (i - dptr) as u32).to_le_bytes());
            out.extend_from_slice(&data[dptr..i]);
            dptr = i + 4;
        }
        i += 4;
    }
    let cflag = if dptr != 0 { 3u32 } else { 0 };
    out.extend_from_slice(&magic);
    out.extend_from_slice(&((cflag << 29) | (len - dptr) as u32).to_le_bytes());
    out.extend_from_slice(&data[dptr..]);
    out.extend(std::iter::repeat_n(0u8, upper_align - len));
}

/// A record whose "values" feature is `tensor`.
pub fn record(tensor: value::Value) -> proto::Record {
    let mut record = proto::Record::default();
    record.features.insert("values".into(), proto::Value { value: Some(tensor) });
    record
}

/// A Float32Tensor.
pub fn f32_tensor(values: Vec<f32>, keys: Vec<u64>, shape: Vec<u64>) -> value::Value {
    value::Value::Float32Tensor(proto::Float32Tensor { values, keys, shape })
}

/// A Float64Tensor.
pub fn f64_tensor(values: Vec<f64>, keys: Vec<u64>, shape: Vec<u64>) -> value::Value {
    value::Value::Float64Tensor(proto::Float64Tensor { values, keys, shape })
}

/// An Int32Tensor.
pub fn i32_tensor(values: Vec<i32>, keys: Vec<u64>, shape: Vec<u64>) -> value::Value {
    value::Value::Int32Tensor(proto::Int32Tensor { values, keys, shape })
}

/// The records framed with cflag 0, as the SDK writes them.
pub fn file(records: &[proto::Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        fastkmeans_io::write_record(&mut out, &record.encode_to_vec()).unwrap();
    }
    out
}

/// Byte offsets where each record's header starts, and the file's length last.
pub fn record_starts(records: &[proto::Record]) -> Vec<usize> {
    let mut starts = vec![0];
    for record in records {
        starts.push(starts.last().unwrap() + 8 + record.encoded_len().next_multiple_of(4));
    }
    starts
}
