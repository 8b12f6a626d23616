//! `application/json` and `application/jsonlines` request bodies: SageMaker's instance forms,
//! read with serde_json's streaming deserializer straight into rows (no document is built).
//!
//! A JSON body is one of
//!
//! - `{"instances": [instance, ...]}` (other keys ignored);
//! - a list of instances `[instance, ...]`, or one row `[1.5, 16.0]`;
//! - one instance on its own.
//!
//! An instance is a list of numbers (a dense row), `{"features": [...]}` (dense),
//! `{"data": {"features": [...]}}` or `{"data": {"features": {"values": [...]}}}` (dense), or
//! `{"data": {"features": {"keys": [...], "shape": [n], "values": [...]}}}` (sparse; the shape
//! `[n]` or `[1, n]`, every key a column in `[0, n)`). `"features"` wins over `"data"`; keys
//! not named here are ignored. A JSON Lines body holds one instance per line; blank lines are
//! skipped. If any instance is sparse the rows are CSR rows (dense instances holding all their
//! values, zeros included), otherwise dense rows.
//!
//! This reader is strict where Python's `json` module is lenient, so that whatever it accepts
//! it reads exactly as `json.loads` and NumPy would: it refuses a key given twice, booleans,
//! `NaN` / `Infinity` literals, integers (and integral floats) of magnitude 2**53 or more, and
//! values that are not finite once rounded to the element type. Its messages say what was
//! wrong, in serde_json's words or ours; the endpoint words its answers to such bodies itself.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Element;

/// Rows read from a JSON body, `n_features` values wide.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRows<T> {
    /// Row-major dense rows.
    Dense { values: Vec<T>, n_rows: usize },
    /// CSR rows: row `i` holds `data[indptr[i]..indptr[i + 1]]` in the columns `indices[...]`, in
    /// the order sent (duplicates not summed).
    Sparse { data: Vec<T>, indices: Vec<i32>, indptr: Vec<i64> },
}

/// Why a JSON body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

/// Integers are exact in a double up to 2**53; beyond it Python's integers and NumPy's
/// conversions round differently from a double's, so such values are refused.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Reads a JSON body (the forms of the module's documentation).
///
/// ```
/// use fastkmeans_io::text::{parse_json, JsonRows};
///
/// let body = br#"{"instances": [{"features": [1, 2.5]}, {"data": {"features": {"values": [3, 4]}}}]}"#;
/// assert_eq!(parse_json::<f64>(body, 2)?, JsonRows::Dense { values: vec![1.0, 2.5, 3.0, 4.0], n_rows: 2 });
/// let sparse = br#"[{"data": {"features": {"keys": [1], "shape": [2], "values": [7]}}}, [1, 2]]"#;
/// assert_eq!(
///     parse_json::<f32>(sparse, 2)?,
///     JsonRows::Sparse { data: vec![7.0, 1.0, 2.0], indices: vec![1, 0, 1], indptr: vec![0, 1, 3] }
/// );
/// assert!(parse_json::<f64>(br#"{"instances": [[1, 2, 3]]}"#, 2).is_err());
/// # Ok::<(), fastkmeans_io::text::JsonError>(())
/// ```
pub fn parse_json<T: Element>(body: &[u8], n_features: usize) -> Result<JsonRows<T>, JsonError> {
    let mut rows = Builder::new(n_features)?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Document { rows: &mut rows }.deserialize(&mut deserializer).map_err(json_error)?;
    deserializer.end().map_err(json_error)?;
    rows.finish()
}

/// Reads a JSON Lines body: one instance per line, blank lines skipped.
///
/// ```
/// use fastkmeans_io::text::{parse_json_lines, JsonRows};
///
/// let body = b"{\"features\": [1, 2]}\n\n[3, 4]\n";
/// assert_eq!(parse_json_lines::<f64>(body, 2)?, JsonRows::Dense { values: vec![1.0, 2.0, 3.0, 4.0], n_rows: 2 });
/// # Ok::<(), fastkmeans_io::text::JsonError>(())
/// ```
pub fn parse_json_lines<T: Element>(body: &[u8], n_features: usize) -> Result<JsonRows<T>, JsonError> {
    let mut rows = Builder::new(n_features)?;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        let mut deserializer = serde_json::Deserializer::from_slice(line);
        Instance { rows: &mut rows, instances: None }
            .deserialize(&mut deserializer)
            .and_then(|()| deserializer.end())
            .map_err(|e| JsonError(format!("line {}: {e}", i + 1)))?;
    }
    rows.finish()
}

fn json_error(e: serde_json::Error) -> JsonError {
    JsonError(e.to_string())
}

/// Python's `bytes.strip()`.
fn trim(mut line: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c);
    while line.first().is_some_and(blank) {
        line = &line[1..];
    }
    while line.last().is_some_and(blank) {
        line = &line[..line.len() - 1];
    }
    line
}

/// Rows as they are read: every value (as a double), the column keys of sparse rows, and where
/// each row ends.
struct Builder {
    n_features: usize,
    values: Vec<f64>,
    keys: Vec<i32>,
    /// (end of the row's values, whether it is sparse)
    rows: Vec<(usize, bool)>,
}

/// A builder's lengths, to undo a partly read instance.
#[derive(Clone, Copy)]
struct Mark {
    values: usize,
    keys: usize,
    rows: usize,
}

impl Builder {
    fn new(n_features: usize) -> Result<Self, JsonError> {
        if i32::try_from(n_features).is_err() {
            return Err(JsonError(format!("{n_features} features do not fit int32 column indices")));
        }
        Ok(Builder { n_features, values: Vec::new(), keys: Vec::new(), rows: Vec::new() })
    }

    fn mark(&self) -> Mark {
        Mark { values: self.values.len(), keys: self.keys.len(), rows: self.rows.len() }
    }

    fn rollback(&mut self, mark: Mark) {
        self.values.truncate(mark.values);
        self.keys.truncate(mark.keys);
        self.rows.truncate(mark.rows);
    }

    /// Ends a dense row whose values start at `start`.
    fn dense_row<E: de::Error>(&mut self, start: usize) -> Result<(), E> {
        let found = self.values.len() - start;
        if found != self.n_features {
            return Err(E::custom(format_args!("{found} features, but the model takes {}", self.n_features)));
        }
        self.rows.push((self.values.len(), false));
        Ok(())
    }

    /// Ends a sparse row whose values start at `mark.values` and keys at `mark.keys`.
    fn sparse_row<E: de::Error>(&mut self, mark: Mark, shape: &[u64]) -> Result<(), E> {
        let n = self.n_features as u64;
        if shape != [n] && shape != [1, n] {
            return Err(E::custom(format_args!("shape {shape:?}, but the model takes {n} features")));
        }
        if self.values.len() - mark.values != self.keys.len() - mark.keys {
            return Err(E::custom("sparse features need as many keys as values"));
        }
        self.rows.push((self.values.len(), true));
        Ok(())
    }

    fn finish<T: Element>(self) -> Result<JsonRows<T>, JsonError> {
        if self.rows.is_empty() {
            return Err(JsonError("the request holds no instance".into()));
        }
        let data: Vec<T> = self.values.iter().map(|&v| T::from_f64(v)).collect();
        if let Some(at) = data.iter().position(|v| !v.finite()) {
            let row = self.rows.partition_point(|&(end, _)| end <= at);
            return Err(JsonError(format!("instance {row} holds a value out of range for the model's float type")));
        }
        if !self.rows.iter().any(|&(_, sparse)| sparse) {
            return Ok(JsonRows::Dense { values: data, n_rows: self.rows.len() });
        }
        let mut indices = Vec::with_capacity(data.len());
        let mut indptr = Vec::with_capacity(self.rows.len() + 1);
        indptr.push(0);
        let mut keys = self.keys.iter();
        let mut start = 0;
        for &(end, sparse) in &self.rows {
            if sparse {
                indices.extend(keys.by_ref().take(end - start));
            } else {
                indices.extend(0..self.n_features as i32);
            }
            indptr.push(end as i64);
            start = end;
        }
        Ok(JsonRows::Sparse { data, indices, indptr })
    }
}

/// The keys the forms name; any other key is skipped.
enum Key {
    Instances,
    Features,
    Data,
    Values,
    Keys,
    Shape,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "instances" => Key::Instances,
                    "features" => Key::Features,
                    "data" => Key::Data,
                    "values" => Key::Values,
                    "keys" => Key::Keys,
                    "shape" => Key::Shape,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

fn once<E: de::Error>(seen: &mut bool, key: &str) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        return Err(E::custom(format_args!("the key {key:?} is given twice")));
    }
    Ok(())
}

/// One number, appended to a vector.
struct Number<'a>(&'a mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for Number<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for Number<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.abs() >= EXACT && v.fract() == 0.0 {
            return Err(E::custom(format_args!("{v} is too large to be read exactly")));
        }
        self.0.push(v);
        Ok(())
    }
}

/// A list of numbers, appended to a vector.
struct Numbers<'a>(&'a mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for Numbers<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Numbers<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of numbers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Number(self.0))?.is_some() {}
        Ok(())
    }
}

/// A list of column keys (integers in `[0, n_features)`), appended to a vector.
struct Keys<'a>(&'a mut Vec<i32>, usize);

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of column keys")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(key) = seq.next_element::<u64>()? {
            if key >= self.1 as u64 {
                return Err(de::Error::custom(format_args!("key {key} is not a column in [0, {})", self.1)));
            }
            self.0.push(key as i32);
        }
        Ok(())
    }
}

/// The whole body: a map (`{"instances": ...}` or one instance) or a list (of instances, or one row).
struct Document<'a> {
    rows: &'a mut Builder,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"{"instances": [...]}, a list of instances or one instance"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        // The map's own "features" / "data" go to a second builder: they are the instance only
        // if no "instances" key comes.
        let mut single =
            Builder { n_features: self.rows.n_features, values: Vec::new(), keys: Vec::new(), rows: Vec::new() };
        if instance_map(map, &mut single, Some(&mut *self.rows))? {
            return Ok(());
        }
        *self.rows = single;
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut kind = ListKind::Unknown;
        while seq.next_element_seed(ListItem { rows: self.rows, kind: &mut kind })?.is_some() {}
        match kind {
            ListKind::Row => self.rows.dense_row(0),
            ListKind::Instances => Ok(()),
            ListKind::Unknown => Err(de::Error::custom("the request holds no instance")),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Unknown,
    /// A list of numbers: one row.
    Row,
    /// A list of lists and maps: instances.
    Instances,
}

/// An item of a top-level list: a number (of the one row) or an instance.
struct ListItem<'a> {
    rows: &'a mut Builder,
    kind: &'a mut ListKind,
}

impl ListItem<'_> {
    fn set<E: de::Error>(&mut self, kind: ListKind) -> Result<(), E> {
        if *self.kind != ListKind::Unknown && *self.kind != kind {
            return Err(E::custom("a list mixing numbers with lists or objects"));
        }
        *self.kind = kind;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ListItem<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListItem<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a list of numbers or an instance")
    }
    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.set(ListKind::Row)?;
        Number(&mut self.rows.values).visit_u64(v)
    }
    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.set(ListKind::Row)?;
        Number(&mut self.rows.values).visit_i64(v)
    }
    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.set(ListKind::Row)?;
        Number(&mut self.rows.values).visit_f64(v)
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<(), A::Error> {
        self.set(ListKind::Instances)?;
        Instance { rows: self.rows, instances: None }.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        self.set(ListKind::Instances)?;
        Instance { rows: self.rows, instances: None }.visit_map(map)
    }
}

/// One instance: a list of numbers or a map.
struct Instance<'a> {
    rows: &'a mut Builder,
    instances: Option<&'a mut Builder>,
}

impl<'de> DeserializeSeed<'de> for Instance<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Instance<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an instance: a list of numbers, {"features": [...]} or {"data": {"features": ...}}"#)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let start = self.rows.values.len();
        Numbers(&mut self.rows.values).visit_seq(seq)?;
        self.rows.dense_row(start)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        instance_map(map, self.rows, self.instances).map(|_| ())
    }
}

/// Reads an instance's map into `rows`; with `instances`, an `"instances"` key's list goes there
/// instead and the map's own features are ignored. Returns whether `"instances"` was found.
fn instance_map<'de, A: MapAccess<'de>>(
    mut map: A,
    rows: &mut Builder,
    mut instances: Option<&mut Builder>,
) -> Result<bool, A::Error> {
    let mark = rows.mark();
    let (mut features, mut data, mut listed) = (false, false, false);
    while let Some(key) = map.next_key::<Key>()? {
        match (key, instances.as_deref_mut()) {
            (Key::Instances, Some(list)) => {
                once(&mut listed, "instances")?;
                map.next_value_seed(InstanceList(list))?;
            }
            (Key::Features, _) => {
                once(&mut features, "features")?;
                rows.rollback(mark); // "features" wins over a "data" read before it
                map.next_value_seed(Numbers(&mut rows.values))?;
            }
            (Key::Data, _) => {
                once(&mut data, "data")?;
                if features {
                    map.next_value::<IgnoredAny>()?;
                } else {
                    map.next_value_seed(Data(rows))?;
                }
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    if listed {
        return Ok(true);
    }
    if features {
        rows.dense_row(mark.values)?;
    } else if !data {
        return Err(de::Error::custom(r#"expected {"features": [...]} or {"data": {"features": ...}}"#));
    }
    Ok(false)
}

/// The list under `"instances"`.
struct InstanceList<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for InstanceList<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for InstanceList<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of instances")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Instance { rows: &mut *self.0, instances: None })?.is_some() {}
        Ok(())
    }
}

/// The map under `"data"`: its `"features"` is a list of numbers or a tensor.
struct Data<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Data<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Data<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"{"features": ...}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut features = false;
        while let Some(key) = map.next_key::<Key>()? {
            if let Key::Features = key {
                once(&mut features, "features")?;
                map.next_value_seed(DataFeatures(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !features {
            return Err(de::Error::custom(r#""data" holds no "features""#));
        }
        Ok(())
    }
}

/// `data.features`: a list of numbers (a dense row) or a tensor `{"values", "keys", "shape"}`.
struct DataFeatures<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for DataFeatures<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataFeatures<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a list of numbers or {"values": [...]}"#)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let start = self.0.values.len();
        Numbers(&mut self.0.values).visit_seq(seq)?;
        self.0.dense_row(start)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let rows = self.0;
        let mark = rows.mark();
        let (mut values, mut keys, mut shape_seen) = (false, false, false);
        let mut shape: Vec<u64> = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Values => {
                    once(&mut values, "values")?;
                    map.next_value_seed(Numbers(&mut rows.values))?;
                }
                Key::Keys => {
                    once(&mut keys, "keys")?;
                    map.next_value_seed(Keys(&mut rows.keys, rows.n_features))?;
                }
                Key::Shape => {
                    once(&mut shape_seen, "shape")?;
                    shape = map.next_value()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !values {
            return Err(de::Error::custom(r#"features must hold "values", a list of numbers"#));
        }
        if keys {
            rows.sparse_row(mark, &shape)
        } else {
            rows.dense_row(mark.values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(body: &str, n_features: usize) -> Vec<f64> {
        match parse_json::<f64>(body.as_bytes(), n_features) {
            Ok(JsonRows::Dense { values, n_rows }) => {
                assert_eq!(values.len(), n_rows * n_features);
                values
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    fn refused(body: &str, n_features: usize) -> String {
        parse_json::<f64>(body.as_bytes(), n_features).unwrap_err().to_string()
    }

    #[test]
    fn reads_every_dense_form() {
        let expected = vec![1.0, 2.0, 3.0, 4.0];
        assert_eq!(dense(r#"{"instances": [{"features": [1, 2]}, {"features": [3, 4.0]}]}"#, 2), expected);
        assert_eq!(dense(r#"{"instances": [[1, 2], [3, 4]], "other": {"x": [true]}}"#, 2), expected);
        assert_eq!(dense(r#"[[1, 2], {"data": {"features": [3, 4]}}]"#, 2), expected);
        assert_eq!(dense(r#"[{"data": {"features": {"values": [1, 2], "shape": [9]}}}, [3, 4]]"#, 2), expected);
        assert_eq!(dense(r#"[1, 2]"#, 2), vec![1.0, 2.0]);
        assert_eq!(dense(r#"{"features": [1, 2]}"#, 2), vec![1.0, 2.0]);
        assert_eq!(dense(r#"{"data": {"features": {"values": [1, 2]}}, "label": 3}"#, 2), vec![1.0, 2.0]);
        // "instances" wins over the map's own features, "features" over "data" (in any order).
        assert_eq!(dense(r#"{"features": [9, 9], "instances": [[1, 2]]}"#, 2), vec![1.0, 2.0]);
        assert_eq!(dense(r#"{"data": {"features": [9, 9]}, "features": [1, 2]}"#, 2), vec![1.0, 2.0]);
        assert_eq!(dense(r#"{"features": [1, 2], "data": "anything"}"#, 2), vec![1.0, 2.0]);
        assert_eq!(dense(r#"{"instances": [{"fe\u0061tures": [1, 2]}]}"#, 2), vec![1.0, 2.0]);
        assert_eq!(dense(r#"[[-0.0, 1e-320]]"#, 2)[1], 1e-320);
    }

    #[test]
    fn reads_sparse_instances_and_mixes() {
        let body =
            br#"{"instances": [{"data": {"features": {"keys": [2, 0, 2], "shape": [1, 3], "values": [1, 2, 3]}}},
                                      {"features": [4, 0, 5]},
                                      {"data": {"features": {"values": [], "keys": [], "shape": [3]}}}]}"#;
        assert_eq!(
            parse_json::<f64>(body, 3).unwrap(),
            JsonRows::Sparse {
                data: vec![1.0, 2.0, 3.0, 4.0, 0.0, 5.0],
                indices: vec![2, 0, 2, 0, 1, 2],
                indptr: vec![0, 3, 6, 6]
            }
        );
    }

    #[test]
    fn refuses_what_python_would_read_differently_or_not_at_all() {
        for (body, why) in [
            (r#"{"instances": [{"features": [1, 2, 3]}]}"#, "3 features"),
            (r#"{"instances": [{"features": [1, "a"]}]}"#, "expected a number"),
            (r#"{"instances": [{"features": [1, true]}]}"#, "expected a number"),
            (r#"{"instances": [{"features": [1, NaN]}]}"#, "expected value"),
            (r#"{"instances": [{"features": [1, 9007199254740993]}]}"#, "too large"),
            (r#"{"instances": [{"features": [1, 1e300]}]}"#, "too large"),
            (r#"{"instances": [{"feature": [1, 2]}]}"#, "expected"),
            (r#"{"instances": [{"features": [1, 2], "features": [1, 2]}]}"#, "twice"),
            (r#"{"instances": []}"#, "no instance"),
            (r#"[]"#, "no instance"),
            (r#"[1, [2]]"#, "mixing"),
            (r#"[[1, 2], 3]"#, "mixing"),
            (r#"{"instances": [1, 2]}"#, "instance"),
            (r#"{"instances": {"features": [1, 2]}}"#, "a list of instances"),
            (r#"{"data": {"features": {"keys": [0, 2], "shape": [2], "values": [1, 2]}}}"#, "not a column"),
            (r#"{"data": {"features": {"keys": [0], "shape": [3], "values": [1]}}}"#, "shape [3]"),
            (r#"{"data": {"features": {"keys": [0], "shape": [2], "values": [1, 2]}}}"#, "as many keys"),
            (r#"{"data": {"features": {"keys": [0.0], "shape": [2], "values": [1]}}}"#, "expected u64"),
            (r#"{"data": {"features": {"shape": [2]}}}"#, "values"),
            (r#"{"data": {"other": 1}}"#, "no \"features\""),
            (r#"{"instances": [[1, 2]]} [1, 2]"#, "trailing"),
            (r#"{"instances": [[1, 2]"#, "EOF"),
            ("\u{feff}[1, 2]", "expected value"),
            (r#"3"#, "instance"),
        ] {
            let message = refused(body, 2);
            assert!(message.contains(why), "{body}: {message}");
        }
        // Every double past float32's range is integral and at least 2**53: refused before rounding.
        assert!(parse_json::<f32>(b"[1e39, 1]", 2).unwrap_err().to_string().contains("too large"));
    }

    #[test]
    fn json_lines_name_the_line() {
        let body = b"\n {\"features\": [1, 2]} \r\n[3, 4]\n{\"features\": [1, 2]\n";
        assert!(parse_json_lines::<f64>(body, 2).unwrap_err().to_string().starts_with("line 4: EOF"));
        assert!(parse_json_lines::<f64>(b"\n \n", 2).unwrap_err().to_string().contains("no instance"));
        // A line holds an instance, never {"instances": ...}.
        assert!(parse_json_lines::<f64>(br#"{"instances": [[1, 2]]}"#, 2).is_err());
    }
}
