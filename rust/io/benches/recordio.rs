//! Criterion benches of RecordIO-protobuf reading and writing: `cargo bench -p fastkmeans-io`.
//!
//! `decode/prost` decodes every record into prost's messages (a `BTreeMap` and fresh `Vec`s per
//! row) and copies the values into a batch; `decode/wire` is the zero-allocation walk the reader
//! uses. Throughput is bytes of RecordIO.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fastkmeans_io::proto::{self, value};
use fastkmeans_io::{BatchReader, Matrix, RecordReader, RecordWriter, Values};
use prost::Message;

const ROWS: usize = 20_000;
const COLS: usize = 50;

fn data() -> Vec<f32> {
    (0..ROWS * COLS).map(|i| (i % 9973) as f32 * 0.25).collect()
}

fn file(x: &[f32]) -> Vec<u8> {
    let mut writer = RecordWriter::new(Vec::new());
    writer.write_rows(&Matrix::dense(Values::F32(x), ROWS, COLS).unwrap(), None, 0..ROWS).unwrap();
    writer.finish().unwrap()
}

fn decode(c: &mut Criterion) {
    let bytes = file(&data());
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(format!("prost_{ROWS}x{COLS}_f32"), |b| {
        b.iter(|| {
            let mut reader = RecordReader::new(black_box(&bytes[..]));
            let mut values = Vec::with_capacity(ROWS * COLS);
            while let Some(record) = reader.next_record().unwrap() {
                let record = proto::Record::decode(record.payload).unwrap();
                match record.features.get("values").and_then(|v| v.value.as_ref()) {
                    Some(value::Value::Float32Tensor(t)) => values.extend_from_slice(&t.values),
                    _ => panic!("not a Float32Tensor"),
                }
            }
            values
        })
    });
    group.bench_function(format!("wire_{ROWS}x{COLS}_f32"), |b| {
        b.iter(|| BatchReader::new(black_box(&bytes[..])).next_batch(ROWS).unwrap())
    });
    group.bench_function(format!("wire_batches_of_5000_{ROWS}x{COLS}_f32"), |b| {
        b.iter(|| {
            let mut reader = BatchReader::new(black_box(&bytes[..]));
            while let Some(batch) = reader.next_batch(5000).unwrap() {
                black_box(batch);
            }
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let x = data();
    let bytes = file(&x).len();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("dense_{ROWS}x{COLS}_f32"), |b| b.iter(|| file(black_box(&x))));
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
