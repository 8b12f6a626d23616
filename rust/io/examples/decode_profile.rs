//! Decodes 20,000 dense float32 rows of 50 features 20 times: a steady workload for profilers
//! (`valgrind --tool=callgrind`, `perf record`), whose instruction count does not depend on
//! what else the machine is doing.

use fastkmeans_io::{BatchReader, Matrix, RecordWriter, Values};

fn main() {
    let (rows, cols) = (20_000, 50);
    let x: Vec<f32> = (0..rows * cols).map(|i| (i % 9973) as f32 * 0.25).collect();
    let mut writer = RecordWriter::new(Vec::new());
    writer.write_rows(&Matrix::dense(Values::F32(&x), rows, cols).unwrap(), None, 0..rows).unwrap();
    let bytes = writer.finish().unwrap();
    let mut n_rows = 0;
    for _ in 0..20 {
        let mut reader = BatchReader::new(&bytes[..]);
        while let Some(batch) = reader.next_batch(5000).unwrap() {
            n_rows += batch.n_rows;
        }
    }
    println!("{n_rows} rows from {} bytes", bytes.len());
}
