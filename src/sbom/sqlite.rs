//! A minimal read-only SQLite reader: the rows of one table, from the database file's bytes.
//!
//! rpm keeps its package database in SQLite (`rpmdb.sqlite`). Reading it needs only the table
//! b-tree walk of the file format (sqlite.org/fileformat2.html), so cleanpipe does that itself
//! instead of linking a C SQLite. Every offset is bounds-checked: a corrupt file is an error,
//! never a panic, and page cycles are cut off.

use std::collections::HashSet;

/// One column value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A database file held in memory.
pub struct Database<'a> {
    bytes: &'a [u8],
    page_size: usize,
    usable: usize,
}

/// Why a database could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not an SQLite 3 file at all.
    #[error("not an SQLite 3 database (bad header)")]
    NotSqlite,
    /// An SQLite feature this reader does not implement.
    #[error("{0}; not supported")]
    Unsupported(&'static str),
    /// The schema has no table of that name.
    #[error("no table `{0}`")]
    NoTable(String),
    /// The file's structure is broken: what and where.
    #[error("{0}")]
    Corrupt(String),
}

fn corrupt(what: impl Into<String>) -> Error {
    Error::Corrupt(what.into())
}

impl<'a> Database<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < 100 || &bytes[..16] != b"SQLite format 3\0" {
            return Err(Error::NotSqlite);
        }
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65536,
            n if n >= 512 && n.is_power_of_two() => n as usize,
            n => return Err(corrupt(format!("invalid page size {n}"))),
        };
        let reserved = bytes[20] as usize;
        if bytes[56..60] != [0, 0, 0, 1] && bytes[56..60] != [0, 0, 0, 0] {
            return Err(Error::Unsupported("text encoding is not UTF-8"));
        }
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or_else(|| corrupt("invalid reserved space"))?;
        Ok(Database {
            bytes,
            page_size,
            usable,
        })
    }

    /// Every row of table `name` (case-insensitive), as `(rowid, columns)`.
    pub fn table(&self, name: &str) -> Result<Vec<(i64, Vec<Value>)>, Error> {
        let schema = self.rows(1)?;
        let root = schema
            .iter()
            .find_map(|(_, cols)| match cols.as_slice() {
                [Value::Text(kind), Value::Text(n), _, Value::Integer(root), ..]
                    if kind == "table" && n.eq_ignore_ascii_case(name) =>
                {
                    Some(*root)
                }
                _ => None,
            })
            .ok_or_else(|| Error::NoTable(name.to_string()))?;
        self.rows(u32::try_from(root).map_err(|_| corrupt("invalid root page"))?)
    }

    fn page(&self, number: u32) -> Result<&'a [u8], Error> {
        let start = (number as usize)
            .checked_sub(1)
            .ok_or_else(|| corrupt("page 0 referenced"))?
            * self.page_size;
        self.bytes
            .get(start..start + self.page_size)
            .ok_or_else(|| corrupt(format!("page {number} is beyond the end of the file")))
    }

    /// Walk the table b-tree rooted at `root`, in rowid order.
    fn rows(&self, root: u32) -> Result<Vec<(i64, Vec<Value>)>, Error> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(number) = stack.pop() {
            if !seen.insert(number) {
                return Err(corrupt(format!(
                    "page {number} is referenced twice (corrupt b-tree)"
                )));
            }
            let page = self.page(number)?;
            let h = if number == 1 { 100 } else { 0 };
            let header = page
                .get(h..h + 8)
                .ok_or_else(|| corrupt("truncated page header"))?;
            let cells = u16::from_be_bytes([header[3], header[4]]) as usize;
            match header[0] {
                0x05 => {
                    let right = be32(page, h + 8)?;
                    // Children are pushed in reverse so they pop in rowid order.
                    let mut children = Vec::with_capacity(cells + 1);
                    for k in 0..cells {
                        let at = cell_offset(page, h + 12, k)?;
                        children.push(be32(page, at)?);
                    }
                    children.push(right);
                    stack.extend(children.into_iter().rev());
                }
                0x0d => {
                    for k in 0..cells {
                        let at = cell_offset(page, h + 8, k)?;
                        out.push(self.leaf_cell(page, at)?);
                    }
                }
                t => {
                    return Err(corrupt(format!(
                        "page {number} is not a table b-tree page (type {t})"
                    )))
                }
            }
        }
        Ok(out)
    }

    fn leaf_cell(&self, page: &[u8], at: usize) -> Result<(i64, Vec<Value>), Error> {
        let (size, n1) = varint(page, at)?;
        let (rowid, n2) = varint(page, at + n1)?;
        let start = at + n1 + n2;
        let size = usize::try_from(size).map_err(|_| corrupt("cell too large"))?;
        if size > self.bytes.len() {
            return Err(corrupt("cell payload larger than the file"));
        }
        let (local, overflow) = self.local_size(size);
        let mut payload = page
            .get(start..start + local)
            .ok_or_else(|| corrupt("cell runs past its page"))?
            .to_vec();
        if overflow {
            let mut next = be32(page, start + local)?;
            let mut seen = HashSet::new();
            while payload.len() < size {
                if next == 0 || !seen.insert(next) {
                    return Err(corrupt("broken overflow chain"));
                }
                let p = self.page(next)?;
                next = be32(p, 0)?;
                let take = (size - payload.len()).min(self.usable - 4);
                payload.extend_from_slice(&p[4..4 + take]);
            }
        }
        Ok((rowid as i64, record(&payload)?))
    }

    /// How much of a table-leaf payload of `size` bytes is on the page itself.
    fn local_size(&self, size: usize) -> (usize, bool) {
        let u = self.usable;
        let max_local = u - 35;
        if size <= max_local {
            return (size, false);
        }
        let min_local = (u - 12) * 32 / 255 - 23;
        let k = min_local + (size - min_local) % (u - 4);
        (if k <= max_local { k } else { min_local }, true)
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| corrupt("truncated page"))
}

fn cell_offset(page: &[u8], array: usize, k: usize) -> Result<usize, Error> {
    let at = array + 2 * k;
    let s = page
        .get(at..at + 2)
        .ok_or_else(|| corrupt("truncated cell pointer array"))?;
    Ok(u16::from_be_bytes([s[0], s[1]]) as usize)
}

/// SQLite's big-endian varint: 1 to 9 bytes, the ninth contributing all 8 bits.
fn varint(b: &[u8], at: usize) -> Result<(u64, usize), Error> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(at + i).ok_or_else(|| corrupt("truncated varint"))?;
        if i == 8 {
            return Ok(((v << 8) | byte as u64, 9));
        }
        v = (v << 7) | (byte & 0x7f) as u64;
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    unreachable!("the loop returns by its ninth byte")
}

/// Decode a record: a header of serial types, then the values.
fn record(p: &[u8]) -> Result<Vec<Value>, Error> {
    let (header_len, mut at) = varint(p, 0)?;
    let header_len = usize::try_from(header_len).map_err(|_| corrupt("bad record header"))?;
    if header_len > p.len() {
        return Err(corrupt("record header longer than the record"));
    }
    let mut body = header_len;
    let mut out = Vec::new();
    while at < header_len {
        let (kind, n) = varint(p, at)?;
        at += n;
        let int = |len: usize| -> Result<i64, Error> {
            let s = p
                .get(body..body + len)
                .ok_or_else(|| corrupt("truncated record"))?;
            let mut v: i64 = if s[0] & 0x80 != 0 { -1 } else { 0 };
            for &byte in s {
                v = (v << 8) | byte as i64;
            }
            Ok(v)
        };
        let (value, len) = match kind {
            0 => (Value::Null, 0),
            1..=6 => {
                let len = [1, 2, 3, 4, 6, 8][kind as usize - 1];
                (Value::Integer(int(len)?), len)
            }
            7 => (Value::Real(f64::from_bits(int(8)? as u64)), 8),
            8 => (Value::Integer(0), 0),
            9 => (Value::Integer(1), 0),
            10 | 11 => return Err(corrupt("reserved serial type in record")),
            n => {
                let len = usize::try_from((n - 12) / 2).map_err(|_| corrupt("value too large"))?;
                let bytes = p
                    .get(body..body + len)
                    .ok_or_else(|| corrupt("truncated record"))?;
                if n % 2 == 0 {
                    (Value::Blob(bytes.to_vec()), len)
                } else {
                    (
                        Value::Text(String::from_utf8_lossy(bytes).into_owned()),
                        len,
                    )
                }
            }
        };
        body += len;
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05], 0).unwrap(), (5, 1));
        assert_eq!(varint(&[0x81, 0x00], 0).unwrap(), (128, 2));
        assert_eq!(varint(&[0xff; 9], 0).unwrap(), (u64::MAX, 9));
        assert!(varint(&[0x81], 0).is_err());
    }

    #[test]
    fn records() {
        // header: len 4, types NULL, int8, text(len 2) → 13+2*2=17
        let r = record(&[4, 0, 1, 17, 0xfe, b'h', b'i']).unwrap();
        assert_eq!(
            r,
            vec![Value::Null, Value::Integer(-2), Value::Text("hi".into())]
        );
        assert!(record(&[4, 0, 1, 17, 0xfe, b'h']).is_err());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(Database::open(b"not a database").is_err());
        let mut bytes = vec![0u8; 4096];
        bytes[..16].copy_from_slice(b"SQLite format 3\0");
        bytes[16..18].copy_from_slice(&4096u16.to_be_bytes());
        bytes[56..60].copy_from_slice(&[0, 0, 0, 1]);
        let db = Database::open(&bytes).unwrap();
        assert!(db.table("Packages").is_err());
        // Random page contents never panic.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            for b in bytes[100..200].iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            bytes[100] = [0x05, 0x0d, 0x02][(state % 3) as usize];
            let db = Database::open(&bytes).unwrap();
            let _ = db.table("Packages");
        }
    }
}
