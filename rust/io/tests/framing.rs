//! RecordIO framing: split records, truncation and corruption at every byte, never a panic.

mod common;

use common::{dmlc_write_record, f32_tensor, file, record, record_starts};
use fastkmeans_io::{BatchData, BatchReader, Error, RecordReader, Rows, MAGIC};
use proptest::prelude::*;

fn payloads(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut reader = RecordReader::new(bytes);
    let mut out = Vec::new();
    while let Some(record) = reader.next_record()? {
        assert_eq!(record.at.record, out.len() as u64);
        out.push(record.payload.to_vec());
    }
    Ok(out)
}

fn read_all(bytes: &[u8]) -> Result<Option<fastkmeans_io::Batch>, Error> {
    BatchReader::new(bytes).read_to_end()
}

#[test]
fn a_record_holding_the_magic_is_split_by_dmlc_and_joined_again() {
    // The protobuf header before the first float takes 16 bytes, so a value whose bits are the
    // magic sits at a 4-aligned offset: dmlc-core splits the record there.
    let row = vec![1.0, f32::from_bits(MAGIC), 2.0, f32::from_bits(MAGIC), f32::from_bits(MAGIC), 3.0];
    let payload = prost::Message::encode_to_vec(&record(f32_tensor(row.clone(), vec![], vec![])));
    let mut bytes = Vec::new();
    dmlc_write_record(&mut bytes, &payload);
    dmlc_write_record(&mut bytes, &payload);
    let flags: Vec<u32> = {
        let mut flags = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let lrec = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap());
            flags.push(lrec >> 29);
            pos += 8 + ((lrec & ((1 << 29) - 1)) as usize).next_multiple_of(4);
        }
        flags
    };
    assert_eq!(flags, [1, 2, 2, 3, 1, 2, 2, 3]);
    assert_eq!(payloads(&bytes).unwrap(), vec![payload.clone(), payload]);
    let batch = read_all(&bytes).unwrap().unwrap();
    let twice: Vec<f32> = row.iter().chain(&row).copied().collect();
    assert_eq!(batch.n_rows, 2);
    let BatchData::F32(Rows::Dense(values)) = batch.data else { panic!("dense float32 expected") };
    assert_eq!(
        values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        twice.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn a_split_record_that_never_ends_is_an_error() {
    let payload = [1u8, 2, 3, 4, 0x0a, 0x23, 0xd7, 0xce, 5, 6, 7, 8];
    let mut bytes = Vec::new();
    dmlc_write_record(&mut bytes, &payload);
    let first_part = 8 + 4;
    let err = payloads(&bytes[..first_part]).unwrap_err();
    assert!(matches!(err, Error::BadContinuation { at, .. } if at.record == 0), "{err}");
    assert!(err.to_string().contains("ends inside a split record"), "{err}");
}

#[test]
fn continuation_flags_out_of_order_are_errors_naming_the_record() {
    let mut bytes = file(&[record(f32_tensor(vec![1.0], vec![], vec![]))]);
    let whole = bytes.len();
    bytes.extend_from_slice(&MAGIC.to_le_bytes());
    bytes.extend_from_slice(&((3u32 << 29) | 4).to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    let err = payloads(&bytes).unwrap_err();
    assert!(matches!(err, Error::BadContinuation { at, cflag: 3, .. } if at.record == 1 && at.offset == whole as u64));
    assert!(err.to_string().starts_with(&format!("record 1 (0-based, at byte {whole}): bad continuation flag 3")));
}

#[test]
fn an_empty_input_is_an_error() {
    assert!(matches!(read_all(&[]), Err(Error::Empty)));
}

#[test]
fn truncation_at_every_byte_names_the_record_it_cuts() {
    let records: Vec<_> = (0..4).map(|i| record(f32_tensor(vec![i as f32; 3], vec![], vec![]))).collect();
    let bytes = file(&records);
    let starts = record_starts(&records);
    assert_eq!(*starts.last().unwrap(), bytes.len());
    for cut in 1..bytes.len() {
        let result = read_all(&bytes[..cut]);
        match starts.iter().position(|&start| start == cut) {
            Some(n_records) => assert_eq!(result.unwrap().unwrap().n_rows, n_records, "cut at {cut}"),
            None => {
                let cut_record = starts.iter().rposition(|&start| start < cut).unwrap() as u64;
                let err = result.unwrap_err();
                assert!(matches!(err, Error::Truncated { .. } | Error::TruncatedHeader { .. }), "cut at {cut}: {err}");
                assert_eq!(err.record(), Some(cut_record), "cut at {cut}: {err}");
                assert!(err.to_string().starts_with(&format!("record {cut_record} (0-based")), "{err}");
            }
        }
    }
}

#[test]
fn a_bad_magic_names_the_record_and_the_bytes_found() {
    let records: Vec<_> = (0..3).map(|_| record(f32_tensor(vec![1.0, 2.0], vec![], vec![]))).collect();
    let mut bytes = file(&records);
    let third = record_starts(&records)[2];
    bytes[third] = 0;
    let err = read_all(&bytes).unwrap_err();
    assert!(matches!(err, Error::BadMagic { at, found: 0xced7_2300 } if at.record == 2 && at.offset == third as u64));
    assert_eq!(
        err.to_string(),
        format!("record 2 (0-based, at byte {third}): bad magic 0xced72300 (expected 0xced7230a): not RecordIO, or corrupted")
    );
}

#[test]
fn a_huge_length_in_a_short_input_is_a_truncation_not_an_allocation() {
    let mut bytes = MAGIC.to_le_bytes().to_vec();
    bytes.extend_from_slice(&((1u32 << 29) - 1).to_le_bytes());
    bytes.extend_from_slice(&[0; 40]);
    let err = payloads(&bytes).unwrap_err();
    assert!(matches!(err, Error::Truncated { length: 536_870_911, available: 40, .. }), "{err}");
}

#[test]
fn records_larger_than_the_read_buffer_are_read_whole() {
    let big = record(f32_tensor((0..700_000).map(|i| i as f32).collect(), vec![], vec![]));
    let small = record(f32_tensor(vec![0.5; 700_000], vec![], vec![]));
    let bytes = file(&[small.clone(), big.clone(), small]);
    let batch = read_all(&bytes).unwrap().unwrap();
    assert_eq!((batch.n_rows, batch.n_cols), (3, 700_000));
    let BatchData::F32(Rows::Dense(values)) = batch.data else { panic!("dense float32 expected") };
    assert_eq!(values[700_000 + 123_456], 123_456.0);
}

/// A reader that hands out at most `step` bytes per call, as a pipe may.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

proptest! {
    #[test]
    fn dmlc_split_records_read_back_as_written(
        parts in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..40), 0usize..3), 1..8),
        tail in prop::collection::vec(any::<u8>(), 0..7),
        step in 1usize..64,
    ) {
        // Payloads with the magic at 4-aligned offsets (0 to 2 in a row), which dmlc-core splits.
        let mut payload = Vec::new();
        for (chunk, magics) in &parts {
            payload.extend_from_slice(&chunk[..chunk.len() / 4 * 4]);
            for _ in 0..*magics {
                payload.extend_from_slice(&MAGIC.to_le_bytes());
            }
        }
        payload.extend_from_slice(&tail);
        let mut bytes = Vec::new();
        dmlc_write_record(&mut bytes, &payload);
        dmlc_write_record(&mut bytes, &tail);
        let mut reader = RecordReader::new(Trickle { bytes: &bytes, step });
        prop_assert_eq!(reader.next_record().unwrap().unwrap().payload, &payload[..]);
        prop_assert_eq!(reader.next_record().unwrap().unwrap().payload, &tail[..]);
        prop_assert!(reader.next_record().unwrap().is_none());
    }

    #[test]
    fn corrupting_any_byte_never_panics(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let records: Vec<_> = (0..3).map(|i| record(f32_tensor(vec![i as f32, 1.0, 2.0], vec![], vec![3]))).collect();
        let mut bytes = file(&records);
        let i = position.index(bytes.len());
        bytes[i] = byte;
        if let Err(err) = read_all(&bytes) {
            let record = err.record().expect("a corrupted record is named");
            prop_assert!(record < 3);
        }
    }
}
