//! A minimal read-only Berkeley DB hash-database reader: every value of the file, from its
//! bytes. rpm before 4.16 (CentOS 7/8, RHEL/UBI 8) keeps its `Packages` database in this format,
//! one rpm header per value. Only what such files use is read: hash pages (sorted or not) with
//! on-page and off-page (overflow chain) items, either byte order. Every offset is checked and
//! overflow chains are cut at the page count: a corrupt file is an error, never a panic.

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;

const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

/// Why the file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a Berkeley DB hash database at all.
    #[error("{0}")]
    NotBdb(&'static str),
    /// A Berkeley DB feature this reader does not implement.
    #[error("{0}; not supported")]
    Unsupported(&'static str),
    /// The file's structure is broken: what and where.
    #[error("{0}")]
    Corrupt(String),
}

fn corrupt(what: impl Into<String>) -> Error {
    Error::Corrupt(what.into())
}

/// Every value stored in the hash database `bytes`, in page order.
pub fn values(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    if bytes.len() < 512 {
        return Err(Error::NotBdb("too short for a Berkeley DB file"));
    }
    let big = match (
        u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
        u32::from_be_bytes(bytes[12..16].try_into().expect("4 bytes")),
    ) {
        (HASH_MAGIC, _) => false,
        (_, HASH_MAGIC) => true,
        _ => return Err(Error::NotBdb("not a Berkeley DB hash database (bad magic)")),
    };
    let u32_at = |b: &[u8], at: usize| -> Result<u32, Error> {
        let s: [u8; 4] = b
            .get(at..at + 4)
            .ok_or_else(|| corrupt("truncated page"))?
            .try_into()
            .expect("4 bytes");
        Ok(if big {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    };
    let u16_at = |b: &[u8], at: usize| -> Result<u16, Error> {
        let s: [u8; 2] = b
            .get(at..at + 2)
            .ok_or_else(|| corrupt("truncated page"))?
            .try_into()
            .expect("2 bytes");
        Ok(if big {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    };
    if bytes[25] != P_HASHMETA {
        return Err(corrupt("the first page is not hash metadata"));
    }
    if bytes[24] != 0 {
        return Err(Error::Unsupported("the database is encrypted"));
    }
    if bytes[26] & 0x01 != 0 {
        return Err(Error::Unsupported("the database has page checksums"));
    }
    let page_size = u32_at(bytes, 20)? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(format!("invalid page size {page_size}")));
    }
    let pages = bytes.len() / page_size;
    let page = |n: u32| -> Result<&[u8], Error> {
        let start = n as usize * page_size;
        bytes
            .get(start..start + page_size)
            .ok_or_else(|| corrupt(format!("page {n} is beyond the end of the file")))
    };
    // An off-page value: follow the overflow chain, at most one visit per page.
    let overflow = |first: u32, total: usize| -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(total.min(bytes.len()));
        let mut next = first;
        for _ in 0..pages {
            if next == 0 || out.len() >= total {
                break;
            }
            let p = page(next)?;
            if p[25] != P_OVERFLOW {
                return Err(corrupt(format!(
                    "page {next} in an overflow chain is not an overflow page"
                )));
            }
            let len = u16_at(p, 22)? as usize;
            let data = p
                .get(PAGE_HEADER..PAGE_HEADER + len)
                .ok_or_else(|| corrupt("overflow page length exceeds the page"))?;
            out.extend_from_slice(data);
            next = u32_at(p, 16)?;
        }
        if out.len() != total {
            return Err(corrupt(format!(
                "overflow chain holds {} bytes, the item says {total}",
                out.len()
            )));
        }
        Ok(out)
    };
    let mut out = Vec::new();
    for n in 1..pages as u32 {
        let p = page(n)?;
        if p[25] != P_HASH && p[25] != P_HASH_UNSORTED {
            continue;
        }
        let entries = u16_at(p, 20)? as usize;
        let offsets: Vec<usize> = (0..entries)
            .map(|i| u16_at(p, PAGE_HEADER + 2 * i).map(|o| o as usize))
            .collect::<Result<_, _>>()?;
        // Items are key, value, key, value…; item i ends where item i-1 starts.
        for i in (1..entries).step_by(2) {
            let start = offsets[i];
            let end = offsets[i - 1];
            let item = p
                .get(start..end.max(start))
                .filter(|it| !it.is_empty())
                .ok_or_else(|| corrupt(format!("page {n}: item {i} is out of bounds")))?;
            match item[0] {
                H_KEYDATA => out.push(item[1..].to_vec()),
                H_OFFPAGE => {
                    let first = u32_at(item, 4)?;
                    let total = u32_at(item, 8)? as usize;
                    if total > bytes.len() {
                        return Err(corrupt(format!("page {n}: item {i} claims {total} bytes")));
                    }
                    out.push(overflow(first, total)?);
                }
                t => return Err(corrupt(format!("page {n}: item type {t} is not supported"))),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(values(b"short").is_err());
        let mut b = vec![0u8; 4096];
        assert!(values(&b).is_err(), "no magic");
        b[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        b[20..24].copy_from_slice(&512u32.to_le_bytes());
        b[25] = P_HASHMETA;
        assert_eq!(values(&b).unwrap(), Vec::<Vec<u8>>::new());
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..3000 {
            for x in b[512..1024].iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *x = state as u8;
            }
            b[512 + 25] = [P_HASH, P_HASH_UNSORTED, P_OVERFLOW][(state % 3) as usize];
            b[512 + 20] = (state >> 8) as u8 % 8;
            let _ = values(&b);
        }
    }
}
