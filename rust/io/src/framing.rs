//! RecordIO framing, as MXNet's dmlc-core defines it and SageMaker's SDK writes it.
//!
//! A record is `magic: u32`, `lrec: u32`, `length` bytes of data, then zero bytes up to a multiple
//! of 4, all little-endian. `lrec = cflag << 29 | length`. The SDK always writes `cflag = 0` (a
//! whole record). dmlc-core's writer also splits a record wherever the magic number occurs at a
//! 4-aligned offset of its data, dropping those four bytes: the parts carry `cflag` 1 (first),
//! 2 (middle) and 3 (last), and a reader puts the magic back between them.

use std::io::{self, Read, Write};

use crate::error::{At, Error, Result};

/// The RecordIO magic number, `0a 23 d7 ce` on disk.
pub const MAGIC: u32 = 0xCED7_230A;

/// Records (and parts of split records) are shorter than 2^29 bytes: the length has 29 bits.
pub const MAX_LENGTH: usize = (1 << 29) - 1;

/// How much the reader asks the operating system for at a time.
const READ_CHUNK: usize = 1 << 20;

/// The data of one record, borrowed from the reader until its next call.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// The payload (a protobuf message for RecordIO-protobuf), split parts joined.
    pub payload: &'a [u8],
    /// Where the record starts.
    pub at: At,
}

/// Reads records one after the other from any byte source (a file, a pipe, a buffer), through
/// one reusable buffer: a whole record is returned borrowed, without a copy.
pub struct RecordReader<R> {
    source: R,
    buf: Vec<u8>,
    /// `buf[pos..end]` holds bytes read but not consumed yet.
    pos: usize,
    end: usize,
    eof: bool,
    /// Offset in the input of `buf[pos]`.
    offset: u64,
    /// Index of the next record.
    record: u64,
    /// The parts of a split record, joined.
    joined: Vec<u8>,
}

/// Where the payload of the record just read lies.
enum Payload {
    Buffer { start: usize, len: usize },
    Joined,
}

impl<R: Read> RecordReader<R> {
    /// A reader of the records of `source`.
    pub fn new(source: R) -> Self {
        RecordReader { source, buf: Vec::new(), pos: 0, end: 0, eof: false, offset: 0, record: 0, joined: Vec::new() }
    }

    /// Index of the next record (the number of records read so far).
    pub fn records_read(&self) -> u64 {
        self.record
    }

    /// The next record, or `None` at the end of the input. A record is returned only whole: an
    /// input that ends inside one, or a header without the magic, is an error naming the record.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'_>>> {
        let at = At { record: self.record, offset: self.offset };
        let mut in_split = false;
        let payload = loop {
            let available = self.fill(8, at)?;
            if available == 0 {
                if in_split {
                    return Err(Error::BadContinuation {
                        at,
                        cflag: 0,
                        context: "(the input ends inside a split record)",
                    });
                }
                return Ok(None);
            }
            if available < 8 {
                return Err(Error::TruncatedHeader { at, available });
            }
            let header = &self.buf[self.pos..self.pos + 8];
            let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            if magic != MAGIC {
                return Err(Error::BadMagic { at, found: magic });
            }
            let lrec = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            let (cflag, length) = (lrec >> 29, lrec & MAX_LENGTH as u32);
            let padded = (length as usize).next_multiple_of(4);
            let available = self.fill(8 + padded, at)?;
            if available < 8 + padded {
                return Err(Error::Truncated { at, length, padded, available: available - 8 });
            }
            let start = self.pos + 8;
            self.pos += 8 + padded;
            self.offset += 8 + padded as u64;
            let data = start..start + length as usize;
            match (in_split, cflag) {
                (false, 0) => break Payload::Buffer { start, len: length as usize },
                (false, 1) => {
                    self.joined.clear();
                    self.joined.extend_from_slice(&self.buf[data]);
                    self.joined.extend_from_slice(&MAGIC.to_le_bytes());
                    in_split = true;
                }
                (true, 2) => {
                    self.joined.extend_from_slice(&self.buf[data]);
                    self.joined.extend_from_slice(&MAGIC.to_le_bytes());
                }
                (true, 3) => {
                    self.joined.extend_from_slice(&self.buf[data]);
                    break Payload::Joined;
                }
                (false, _) => {
                    return Err(Error::BadContinuation { at, cflag, context: "(expected 0 or 1 to start a record)" })
                }
                (true, _) => {
                    return Err(Error::BadContinuation {
                        at,
                        cflag,
                        context: "(expected 2 or 3 inside a split record)",
                    })
                }
            }
        };
        self.record += 1;
        let payload = match payload {
            Payload::Buffer { start, len } => &self.buf[start..start + len],
            Payload::Joined => &self.joined[..],
        };
        Ok(Some(RawRecord { payload, at }))
    }

    /// Makes `buf[pos..]` hold at least `want` bytes, or everything left in the input; returns
    /// how many it holds. The buffer grows only as data arrives, so a corrupted length in a short
    /// input never allocates more than the input's size.
    fn fill(&mut self, want: usize, at: At) -> Result<usize> {
        while self.end - self.pos < want && !self.eof {
            if self.end == self.buf.len() {
                // Move the unread bytes to the front; grow only a buffer full of unread bytes.
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
                if self.end == self.buf.len() {
                    self.buf.resize((self.buf.len() * 2).max(READ_CHUNK), 0);
                }
            }
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(Error::Io { context: format!("reading {at}"), source }),
            }
        }
        Ok(self.end - self.pos)
    }
}

/// Writes whole records (`cflag = 0`) padded with zeros to 4 bytes, exactly as the SageMaker
/// SDK's `write_numpy_to_dense_tensor` does. A payload of 2^29 bytes or more is refused
/// (`InvalidInput`): its length would not fit the header.
pub fn write_record(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    if payload.len() > MAX_LENGTH {
        let message = format!("a record of {} bytes: RecordIO records must be shorter than 2^29 bytes", payload.len());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let padding = payload.len().next_multiple_of(4) - payload.len();
    out.write_all(&MAGIC.to_le_bytes())?;
    out.write_all(&(payload.len() as u32).to_le_bytes())?;
    out.write_all(payload)?;
    out.write_all(&[0u8; 3][..padding])
}
