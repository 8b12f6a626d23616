//! The hot path: a zero-allocation walk over the protobuf wire format of `aialgs.data.Record`,
//! finding `features["values"]` and appending its numbers straight into the caller's buffers.
//!
//! prost (see [`crate::proto`]) would decode each record into a `BTreeMap<String, Value>` and
//! fresh `Vec`s: allocations per row that cost several times the parsing itself (the criterion
//! bench `recordio` measures both). The schema is small and fixed, so this walk reads only the
//! fields it needs and skips the rest (labels, uid, metadata, unknown fields) by their wire type.
//! Both packed and unpacked encodings of repeated numbers are accepted, as protobuf requires.

use crate::error::{At, Error, Result};

/// The numeric tensor types of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    /// `Float32Tensor` (field 2 of `Value`).
    Float32,
    /// `Float64Tensor` (field 3).
    Float64,
    /// `Int32Tensor` (field 7).
    Int32,
}

impl TensorType {
    /// The schema's name of the message.
    pub fn name(self) -> &'static str {
        match self {
            TensorType::Float32 => "Float32Tensor",
            TensorType::Float64 => "Float64Tensor",
            TensorType::Int32 => "Int32Tensor",
        }
    }
}

/// A wire-format problem, named in a static message.
type Wire<T> = std::result::Result<T, &'static str>;

/// One field's value on the wire (groups, wire types 3 and 4, are deprecated and refused).
enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32([u8; 4]),
}

#[inline]
fn varint(buf: &[u8], pos: &mut usize) -> Wire<u64> {
    // Tags and short lengths take one byte.
    if let Some(&byte) = buf.get(*pos).filter(|&&byte| byte < 0x80) {
        *pos += 1;
        return Ok(u64::from(byte));
    }
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = buf.get(*pos) else { return Err("truncated varint") };
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes")
}

/// The fields of one message, in the order they are on the wire.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    #[inline]
    fn field(&mut self) -> Wire<(u64, Field<'a>)> {
        let tag = varint(self.buf, &mut self.pos)?;
        let (number, wire_type) = (tag >> 3, tag & 7);
        if number == 0 {
            return Err("field number 0");
        }
        // Length-delimited fields (messages, strings, packed numbers) first: nearly all of them.
        if wire_type == 2 {
            let len = varint(self.buf, &mut self.pos)?;
            let start = self.pos;
            let bytes = usize::try_from(len)
                .ok()
                .and_then(|len| self.buf.get(start..start.checked_add(len)?))
                .ok_or("length-delimited field longer than its message")?;
            self.pos += bytes.len();
            return Ok((number, Field::Bytes(bytes)));
        }
        let rest = &self.buf[self.pos..];
        let field = match wire_type {
            0 => Field::Varint(varint(self.buf, &mut self.pos)?),
            1 => {
                let bytes = rest.get(..8).ok_or("truncated 64-bit field")?;
                self.pos += 8;
                Field::Fixed64(bytes.try_into().unwrap_or_default())
            }
            5 => {
                let bytes = rest.get(..4).ok_or("truncated 32-bit field")?;
                self.pos += 4;
                Field::Fixed32([bytes[0], bytes[1], bytes[2], bytes[3]])
            }
            _ => return Err("unsupported wire type (group or invalid)"),
        };
        Ok((number, field))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Wire<(u64, Field<'a>)>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.pos = self.buf.len();
        }
        Some(field)
    }
}

/// The tensor under `features["values"]` of one record, not decoded yet.
#[derive(Debug, Clone, Copy)]
pub struct Tensor<'a> {
    /// Which of the three numeric tensor messages it is.
    pub ty: TensorType,
    body: &'a [u8],
}

/// Finds `features["values"]` in a serialized `Record` (map key "values", as SageMaker writes
/// features). Labels and every other field are skipped.
pub fn values_tensor(record: &[u8], at: At) -> Result<Tensor<'_>> {
    let decode = |reason| Error::Decode { at, reason };
    let mut value = None;
    for field in Fields::new(record) {
        match field.map_err(decode)? {
            (1, Field::Bytes(entry)) => {
                let (key, entry_value) = map_entry(entry).map_err(decode)?;
                if key == b"values" {
                    value = Some(entry_value);
                }
            }
            (1, _) => return Err(decode("the features map entry is not length-delimited")),
            _ => {}
        }
    }
    let value = value.ok_or(Error::NoValues { at })?;
    // A oneof: the last member on the wire wins.
    let mut tensor: std::result::Result<Tensor<'_>, &'static str> = Err("no tensor");
    for field in Fields::new(value) {
        let (number, field) = field.map_err(decode)?;
        let ty = match number {
            2 => TensorType::Float32,
            3 => TensorType::Float64,
            7 => TensorType::Int32,
            9 => {
                tensor = Err("a Bytes value");
                continue;
            }
            _ => continue,
        };
        let Field::Bytes(body) = field else { return Err(decode("a tensor field is not length-delimited")) };
        tensor = Ok(Tensor { ty, body });
    }
    tensor.map_err(|found| Error::TensorType { at, found })
}

/// Key and value of a map entry (`key = 1`, `value = 2`; missing fields are empty).
fn map_entry(entry: &[u8]) -> Wire<(&[u8], &[u8])> {
    let (mut key, mut value): (&[u8], &[u8]) = (&[], &[]);
    for field in Fields::new(entry) {
        match field? {
            (1, Field::Bytes(bytes)) => key = bytes,
            (2, Field::Bytes(bytes)) => value = bytes,
            (1 | 2, _) => return Err("a map entry field is not length-delimited"),
            _ => {}
        }
    }
    Ok((key, value))
}

impl<'a> Tensor<'a> {
    /// Reads `keys` (field 2) and `shape` (field 3) into the given buffers (cleared first) and
    /// returns the number of values (field 1), checking their encoding.
    pub fn read_meta(&self, keys: &mut Vec<u64>, shape: &mut Vec<u64>, at: At) -> Result<usize> {
        keys.clear();
        shape.clear();
        self.meta(keys, shape).map_err(|reason| Error::Decode { at, reason })
    }

    fn meta(&self, keys: &mut Vec<u64>, shape: &mut Vec<u64>) -> Wire<usize> {
        let mut n_values = 0;
        for field in Fields::new(self.body) {
            match (field?, self.ty) {
                ((1, Field::Bytes(packed)), TensorType::Float32) => {
                    if packed.len() % 4 != 0 {
                        return Err("packed float32 values whose length is not a multiple of 4");
                    }
                    n_values += packed.len() / 4;
                }
                ((1, Field::Bytes(packed)), TensorType::Float64) => {
                    if packed.len() % 8 != 0 {
                        return Err("packed float64 values whose length is not a multiple of 8");
                    }
                    n_values += packed.len() / 8;
                }
                ((1, Field::Bytes(packed)), TensorType::Int32) => {
                    if packed.last().is_some_and(|&last| last >= 0x80) {
                        return Err("truncated varint");
                    }
                    n_values += packed.iter().filter(|&&byte| byte < 0x80).count();
                }
                ((1, Field::Fixed32(_)), TensorType::Float32)
                | ((1, Field::Fixed64(_)), TensorType::Float64)
                | ((1, Field::Varint(_)), TensorType::Int32) => n_values += 1,
                ((1, _), _) => return Err("tensor values of the wrong wire type"),
                ((2, field), _) => push_varints(field, keys)?,
                ((3, field), _) => push_varints(field, shape)?,
                _ => {}
            }
        }
        Ok(n_values)
    }

    /// Appends the float32 values of a `Float32Tensor`.
    pub fn push_f32(&self, out: &mut Vec<f32>, at: At) -> Result<()> {
        debug_assert_eq!(self.ty, TensorType::Float32);
        for field in Fields::new(self.body) {
            match field.map_err(|reason| Error::Decode { at, reason })? {
                (1, Field::Bytes(packed)) => extend_f32(out, packed),
                (1, Field::Fixed32(bytes)) => out.push(f32::from_le_bytes(bytes)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Appends the values of a `Float64Tensor` or (exactly) an `Int32Tensor` as float64.
    pub fn push_f64(&self, out: &mut Vec<f64>, at: At) -> Result<()> {
        debug_assert_ne!(self.ty, TensorType::Float32);
        let decode = |reason| Error::Decode { at, reason };
        for field in Fields::new(self.body) {
            let field = field.map_err(decode)?;
            match (field, self.ty) {
                ((1, Field::Bytes(packed)), TensorType::Float64) => {
                    out.extend(packed.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default())));
                }
                ((1, Field::Bytes(packed)), TensorType::Int32) => {
                    let mut pos = 0;
                    while pos < packed.len() {
                        out.push(f64::from(int32(varint(packed, &mut pos).map_err(decode)?)));
                    }
                }
                ((1, Field::Varint(v)), TensorType::Int32) => out.push(f64::from(int32(v))),
                ((1, Field::Fixed64(bytes)), TensorType::Float64) => out.push(f64::from_le_bytes(bytes)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Appends packed little-endian float32s (a multiple of 4 bytes, checked by `meta`).
#[inline]
fn extend_f32(out: &mut Vec<f32>, packed: &[u8]) {
    let n = packed.len() / 4;
    out.reserve(n);
    #[cfg(target_endian = "little")]
    // SAFETY: `reserve` made room for `n` more floats after `len`; the bytes are `n` floats in
    // the machine's byte order, every bit pattern is a valid f32, and the regions are distinct.
    unsafe {
        let end = out.as_mut_ptr().add(out.len());
        std::ptr::copy_nonoverlapping(packed.as_ptr(), end.cast::<u8>(), n * 4);
        out.set_len(out.len() + n);
    }
    #[cfg(not(target_endian = "little"))]
    out.extend(packed.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
}

/// An `int32` on the wire is its two's complement sign-extended to 64 bits; protobuf keeps the
/// low 32 bits.
fn int32(v: u64) -> i32 {
    v as u32 as i32
}

/// Appends a repeated uint64 field, packed or not.
fn push_varints(field: Field<'_>, out: &mut Vec<u64>) -> Wire<()> {
    match field {
        Field::Bytes(packed) => {
            let mut pos = 0;
            while pos < packed.len() {
                out.push(varint(packed, &mut pos)?);
            }
        }
        Field::Varint(v) => out.push(v),
        _ => return Err("keys or shape of the wrong wire type"),
    }
    Ok(())
}
