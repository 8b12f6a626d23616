//! Records to batches and back: the SDK's bytes, round trips, what each tensor layout means, and
//! an error naming the record for everything the reader refuses.

mod common;

use common::{f32_tensor, f64_tensor, file, i32_tensor, record};
use fastkmeans_io::proto::{self, value};
use fastkmeans_io::{Batch, BatchData, BatchReader, Csr, Error, Matrix, RecordWriter, Rows, Values};
use proptest::prelude::*;

fn write(x: &Matrix<'_>, labels: Option<Values<'_>>) -> Vec<u8> {
    let mut writer = RecordWriter::new(Vec::new());
    writer.write_rows(x, labels, 0..x.n_rows()).unwrap();
    writer.finish().unwrap()
}

fn read_all(bytes: &[u8]) -> Result<Batch, Error> {
    Ok(BatchReader::new(bytes).read_to_end()?.expect("at least one record"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_float32_row_is_written_as_the_sdk_writes_it() {
    let bytes = write(&Matrix::dense(Values::F32(&[1.0, 2.0]), 1, 2).unwrap(), None);
    assert_eq!(
        hex(&bytes),
        "0a 23 d7 ce 18 00 00 00 0a 16 0a 06 76 61 6c 75 65 73 12 0c 12 0a 0a 08 00 00 80 3f 00 00 00 40"
    );
}

#[test]
fn a_label_is_appended_under_values_in_the_label_map() {
    let bytes = write(&Matrix::dense(Values::F32(&[1.0, 2.0]), 1, 2).unwrap(), Some(Values::F32(&[3.0])));
    assert_eq!(&bytes[4..8], [0x2c, 0, 0, 0]);
    assert_eq!(hex(&bytes[32..]), "12 12 0a 06 76 61 6c 75 65 73 12 08 12 06 0a 04 00 00 40 40");
}

#[test]
fn a_sparse_row_has_values_keys_and_shape() {
    let x = Matrix::sparse(Values::F32(&[1.0, 2.0]), &[1, 3], &[0, 2], 4).unwrap();
    let bytes = write(&x, None);
    let body = "0a 08 00 00 80 3f 00 00 00 40 12 02 01 03 1a 01 04";
    // 31 bytes of payload, then one byte of padding.
    assert_eq!((bytes[4], bytes.len(), bytes[39]), (31, 40, 0));
    assert!(hex(&bytes[..39]).ends_with(body), "{}", hex(&bytes));
    let batch = read_all(&bytes).unwrap();
    let expected = Csr { data: vec![1.0f32, 2.0], indices: vec![1, 3], indptr: vec![0, 2] };
    assert_eq!((batch.n_rows, batch.n_cols, batch.data), (1, 4, BatchData::F32(Rows::Sparse(expected))));
}

#[test]
fn batches_hold_whole_records_and_name_their_first_record() {
    let x: Vec<f64> = (0..10).map(f64::from).collect();
    let bytes = write(&Matrix::dense(Values::F64(&x), 5, 2).unwrap(), None);
    let mut reader = BatchReader::new(&bytes[..]);
    let mut seen = Vec::new();
    while let Some(batch) = reader.next_batch(2).unwrap() {
        seen.push((batch.first_record, batch.n_rows));
    }
    assert_eq!(seen, [(0, 2), (2, 2), (4, 1)]);
}

#[test]
fn int32_values_are_read_as_exact_float64() {
    let x = [i32::MIN, -1, 0, i32::MAX];
    let batch = read_all(&write(&Matrix::dense(Values::I32(&x), 2, 2).unwrap(), None)).unwrap();
    let expected: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    assert_eq!(batch.data, BatchData::F64(Rows::Dense(expected)));
}

#[test]
fn a_two_dimensional_dense_tensor_is_several_rows() {
    let records = [
        record(f32_tensor(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![], vec![3, 2])),
        record(f32_tensor(vec![7.0, 8.0], vec![], vec![2])),
    ];
    let batch = read_all(&file(&records)).unwrap();
    assert_eq!((batch.n_rows, batch.n_cols), (4, 2));
    assert_eq!(batch.data, BatchData::F32(Rows::Dense((1..=8).map(|v| v as f32).collect())));
}

#[test]
fn a_two_dimensional_sparse_tensor_uses_row_major_keys_in_any_order() {
    // shape [3, 4]: key = row * 4 + col; row 1 is empty.
    let records = [record(f64_tensor(vec![5.0, 1.0, 2.0], vec![9, 0, 3], vec![3, 4]))];
    let batch = read_all(&file(&records)).unwrap();
    let expected = Csr { data: vec![1.0, 2.0, 5.0], indices: vec![0, 3, 1], indptr: vec![0, 2, 2, 3] };
    assert_eq!((batch.n_rows, batch.n_cols, batch.data), (3, 4, BatchData::F64(Rows::Sparse(expected))));
}

#[test]
fn an_empty_sparse_row_is_a_shape_without_keys_or_values() {
    let x = Matrix::sparse(Values::F32(&[2.0]), &[1], &[0, 0, 1], 3).unwrap();
    let batch = read_all(&write(&x, None)).unwrap();
    let expected = Csr { data: vec![2.0f32], indices: vec![1], indptr: vec![0, 0, 1] };
    assert_eq!(batch.data, BatchData::F32(Rows::Sparse(expected)));
}

#[test]
fn sparse_records_in_a_dense_input_are_scattered_and_dense_ones_in_a_sparse_input_kept_whole() {
    let dense_first = [
        record(f32_tensor(vec![1.0, 2.0, 3.0], vec![], vec![])),
        record(f32_tensor(vec![4.0, 1.0, 1.0], vec![2, 0, 0], vec![3])),
    ];
    let batch = read_all(&file(&dense_first)).unwrap();
    assert_eq!(batch.data, BatchData::F32(Rows::Dense(vec![1.0, 2.0, 3.0, 2.0, 0.0, 4.0])));
    let sparse_first = [dense_first[1].clone(), dense_first[0].clone()];
    let batch = read_all(&file(&sparse_first)).unwrap();
    let expected =
        Csr { data: vec![4.0, 1.0, 1.0, 1.0, 2.0, 3.0], indices: vec![2, 0, 0, 0, 1, 2], indptr: vec![0, 3, 6] };
    assert_eq!(batch.data, BatchData::F32(Rows::Sparse(expected)));
}

#[test]
fn labels_and_other_fields_are_skipped() {
    let mut with_everything = record(f32_tensor(vec![1.0, 2.0], vec![], vec![]));
    with_everything.label.insert("values".into(), proto::Value { value: Some(f64_tensor(vec![9.0], vec![], vec![])) });
    with_everything.features.insert("other".into(), proto::Value { value: Some(i32_tensor(vec![1], vec![], vec![])) });
    with_everything.uid = Some("row-1".into());
    with_everything.metadata = Some("{}".into());
    let batch = read_all(&file(&[with_everything])).unwrap();
    assert_eq!(batch.data, BatchData::F32(Rows::Dense(vec![1.0, 2.0])));
}

/// The error reading `records`, whose problem is in the last one.
fn last_record_error(records: &[proto::Record]) -> Error {
    let err = read_all(&file(records)).unwrap_err();
    assert_eq!(err.record(), Some(records.len() as u64 - 1), "{err}");
    assert!(err.to_string().starts_with(&format!("record {} (0-based, at byte", records.len() - 1)), "{err}");
    err
}

#[test]
fn every_refused_record_is_named() {
    let good = record(f32_tensor(vec![1.0, 2.0], vec![], vec![]));
    let no_values = proto::Record::default();
    let err = last_record_error(&[good.clone(), no_values]);
    assert!(matches!(err, Error::NoValues { .. }), "{err}");

    let bytes_value = record(value::Value::Bytes(proto::Bytes { value: vec![b"jpeg".to_vec()], content_type: None }));
    let err = last_record_error(&[good.clone(), bytes_value]);
    assert!(err.to_string().contains("holds a Bytes value"), "{err}");

    let err = last_record_error(&[good.clone(), record(f64_tensor(vec![1.0, 2.0], vec![], vec![]))]);
    assert!(err.to_string().contains("Float64Tensor values, but the records before it hold Float32Tensor"), "{err}");

    let err = last_record_error(&[good.clone(), record(f32_tensor(vec![1.0, 2.0, 3.0], vec![], vec![]))]);
    assert!(err.to_string().contains("rows of 3 features, but the records before it have 2"), "{err}");

    let err = last_record_error(&[good.clone(), record(f32_tensor(vec![1.0], vec![2], vec![2]))]);
    assert!(err.to_string().contains("sparse key 2 is out of range for shape [2]"), "{err}");

    let err = last_record_error(&[good.clone(), record(f32_tensor(vec![1.0, 2.0], vec![1], vec![2]))]);
    assert!(err.to_string().contains("1 keys but 2 values"), "{err}");

    let err = last_record_error(&[good.clone(), record(f32_tensor(vec![1.0, 2.0], vec![], vec![1, 1, 2]))]);
    assert!(err.to_string().contains("has 3 dimensions"), "{err}");

    let err = last_record_error(&[good.clone(), record(f32_tensor(vec![1.0, 2.0], vec![], vec![3]))]);
    assert!(err.to_string().contains("[3] needs 3 values, but the tensor has 2"), "{err}");

    let wide = record(f32_tensor(vec![1.0; 32], vec![], vec![]));
    let huge_block = record(f32_tensor(vec![1.0], vec![0], vec![1 << 24, 32]));
    let err = last_record_error(&[wide, huge_block]);
    assert!(err.to_string().contains("too large for dense rows"), "{err}");

    let err = last_record_error(&[record(f32_tensor(vec![], vec![], vec![1 << 40, 2]))]);
    assert!(err.to_string().contains("declares 1099511627776 rows for 0 values"), "{err}");
}

#[test]
fn a_corrupted_protobuf_is_a_decode_error_naming_the_record() {
    let good = record(f32_tensor(vec![1.0, 2.0], vec![], vec![]));
    let mut bytes = file(&[good.clone(), good]);
    let second = bytes.len() / 2;
    bytes[second + 8 + 1] = 0x7f; // the features entry now claims 127 bytes
    let err = read_all(&bytes).unwrap_err();
    assert!(matches!(err, Error::Decode { at, .. } if at.record == 1), "{err}");
    assert!(err.to_string().contains("protobuf decode error"), "{err}");
}

#[test]
fn writing_refuses_matrices_whose_parts_disagree() {
    assert!(Matrix::dense(Values::F32(&[1.0; 5]), 2, 3).is_err());
    let err = Matrix::sparse(Values::F32(&[1.0, 2.0]), &[0, 5], &[0, 1, 2], 4).unwrap_err();
    assert_eq!(err.to_string(), "cannot write row 1: column index 5 is outside 0..4");
    assert!(Matrix::sparse(Values::F32(&[1.0]), &[0], &[0, 2], 4).is_err());
    let x = Matrix::dense(Values::F32(&[1.0; 4]), 2, 2).unwrap();
    let err = RecordWriter::new(Vec::new()).write_rows(&x, Some(Values::F32(&[1.0])), 0..2).unwrap_err();
    assert!(err.to_string().contains("1 labels for 2 rows"), "{err}");
}

fn dense_case() -> impl Strategy<Value = (usize, usize, Vec<f64>)> {
    (0usize..12, 0usize..9).prop_flat_map(|(rows, cols)| {
        (Just(rows.max(1)), Just(cols), prop::collection::vec(-1e6f64..1e6, rows.max(1) * cols))
    })
}

fn sparse_case() -> impl Strategy<Value = (usize, Vec<Vec<(i64, f32)>>)> {
    (1usize..40).prop_flat_map(|cols| {
        let row = prop::collection::btree_map(0..cols as i64, -1e3f32..1e3, 0..cols.min(6));
        (Just(cols), prop::collection::vec(row.prop_map(|r| r.into_iter().collect()), 1..12))
    })
}

proptest! {
    #[test]
    fn dense_matrices_round_trip_in_each_tensor_type((rows, cols, x) in dense_case(), batch_rows in 1usize..5) {
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let xi: Vec<i32> = x.iter().map(|&v| v as i32).collect();
        for values in [Values::F32(&x32), Values::F64(&x), Values::I32(&xi)] {
            let bytes = write(&Matrix::dense(values, rows, cols).unwrap(), Some(values).filter(|_| cols == 1));
            let mut reader = BatchReader::new(&bytes[..]);
            let (mut got32, mut got64, mut n_rows) = (Vec::new(), Vec::new(), 0);
            while let Some(batch) = reader.next_batch(batch_rows).unwrap() {
                prop_assert_eq!(batch.first_record, n_rows as u64);
                prop_assert_eq!(batch.n_cols, cols);
                n_rows += batch.n_rows;
                match batch.data {
                    BatchData::F32(Rows::Dense(v)) => got32.extend(v),
                    BatchData::F64(Rows::Dense(v)) => got64.extend(v),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            prop_assert_eq!(n_rows, rows);
            match values {
                Values::F32(_) => prop_assert_eq!(&got32, &x32),
                Values::F64(_) => prop_assert_eq!(&got64, &x),
                Values::I32(_) => prop_assert_eq!(got64, xi.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()),
            }
        }
    }

    #[test]
    fn sparse_matrices_round_trip((cols, rows) in sparse_case()) {
        let mut csr = Csr { data: vec![], indices: vec![], indptr: vec![0] };
        for row in &rows {
            csr.indices.extend(row.iter().map(|e| e.0));
            csr.data.extend(row.iter().map(|e| e.1));
            csr.indptr.push(csr.data.len() as i64);
        }
        let x = Matrix::sparse(Values::F32(&csr.data), &csr.indices, &csr.indptr, cols).unwrap();
        let batch = read_all(&write(&x, None)).unwrap();
        prop_assert_eq!((batch.n_rows, batch.n_cols), (rows.len(), cols));
        prop_assert_eq!(batch.data, BatchData::F32(Rows::Sparse(csr)));
    }

    #[test]
    fn the_wire_walk_reads_what_prost_decodes(
        values in prop::collection::vec(-1e9f64..1e9, 0..20),
        ty in 0..3,
        label in any::<bool>(),
        uid in prop::option::of("[a-z]{0,8}"),
    ) {
        let tensor = match ty {
            0 => f32_tensor(values.iter().map(|&v| v as f32).collect(), vec![], vec![]),
            1 => f64_tensor(values.clone(), vec![], vec![]),
            _ => i32_tensor(values.iter().map(|&v| v as i32).collect(), vec![], vec![]),
        };
        let mut rec = record(tensor.clone());
        if label {
            rec.label.insert("values".into(), proto::Value { value: Some(f32_tensor(vec![1.0], vec![], vec![])) });
        }
        rec.uid = uid;
        let bytes = file(&[rec.clone()]);
        let decoded: proto::Record = prost::Message::decode(&bytes[8..8 + prost::Message::encoded_len(&rec)]).unwrap();
        prop_assert_eq!(&decoded, &rec);
        let batch = read_all(&bytes).unwrap();
        let expected = match tensor {
            value::Value::Float32Tensor(t) => BatchData::F32(Rows::Dense(t.values)),
            value::Value::Float64Tensor(t) => BatchData::F64(Rows::Dense(t.values)),
            value::Value::Int32Tensor(t) => BatchData::F64(Rows::Dense(t.values.iter().map(|&v| f64::from(v)).collect())),
            value::Value::Bytes(_) => unreachable!(),
        };
        prop_assert_eq!(batch.data, expected);
    }
}
