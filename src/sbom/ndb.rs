//! A minimal read-only reader of rpm's NDB package database (`Packages.db`, the format SUSE and
//! openSUSE use): the header blob of every package, from the file's bytes.
//!
//! The format, as rpm's `lib/backend/ndb/rpmpkg.c` describes it (all numbers little-endian
//! 32-bit, the file counted in 16-byte blocks):
//!
//! - a 32-byte file header: magic `RpmP`, version 0, generation, the number of 4096-byte slot
//!   pages, the next package index;
//! - the slot pages, right after it: 16-byte slots of magic `Slot`, package index, first block
//!   and block count (first block 0: a free slot);
//! - each package's blob at its first block, after the slot pages: a 16-byte head (magic `BlbS`,
//!   package index, timestamp, length), the header blob itself, zero padding to a whole block and
//!   a 12-byte tail (Adler-32 of everything before it, the length again, magic `BlbE`).
//!
//! The companion `Index.db` holds only search indexes and is not needed. A file whose header or
//! slot pages are wrong is an error; a slot whose blob is out of bounds, overlaps another, fails
//! its length or checksum checks is returned as an error for that package, so the others are
//! still read. Blobs are borrowed from the input: nothing is allocated per byte of a claimed
//! length, only one small record per slot, and slots are bounded by the file's length.

use std::collections::HashSet;

const DB_MAGIC: &[u8; 4] = b"RpmP";
const DB_VERSION: u32 = 0;
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";

const DB_HEADER_SIZE: usize = 32;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: u64 = 16;
const PAGE_SIZE: usize = 4096;
const BLOB_HEAD_SIZE: u64 = 16;
const BLOB_TAIL_SIZE: u64 = 12;

/// Why the file (or one package's blob in it) could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not an NDB database at all.
    #[error("{0}")]
    NotNdb(&'static str),
    /// An NDB version this reader does not know.
    #[error("NDB version {0} is not supported")]
    Version(u32),
    /// The file's structure, or a blob, is broken: what and where.
    #[error("{0}")]
    Corrupt(String),
}

fn corrupt(what: impl Into<String>) -> Error {
    Error::Corrupt(what.into())
}

/// One used slot: the package's index (rpm's header number) and its header blob, or why it was
/// skipped.
#[derive(Debug, PartialEq)]
pub struct Entry<'a> {
    pub index: u32,
    pub blob: Result<&'a [u8], Error>,
}

/// A used slot as stored.
struct Slot {
    number: usize,
    index: u32,
    first_block: u32,
    blocks: u32,
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let s = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Adler-32 (RFC 1950), the checksum of a blob's tail.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that cannot overflow `b` between reductions.
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Every package of the NDB database `bytes`, in the order of their blobs in the file (the order
/// `rpm -qa` lists them).
pub fn blobs(bytes: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    if bytes.len() < DB_HEADER_SIZE {
        return Err(Error::NotNdb("too short for an rpm NDB database"));
    }
    if &bytes[..4] != DB_MAGIC {
        return Err(Error::NotNdb("not an rpm NDB database (bad magic)"));
    }
    let version = le32(bytes, 4).expect("header length checked");
    if version != DB_VERSION {
        return Err(Error::Version(version));
    }
    let slot_pages = le32(bytes, 12).expect("header length checked") as usize;
    let slot_end = slot_pages
        .checked_mul(PAGE_SIZE)
        .filter(|end| *end >= DB_HEADER_SIZE && *end <= bytes.len())
        .ok_or_else(|| {
            corrupt(format!(
                "{slot_pages} slot pages do not fit the {}-byte file",
                bytes.len()
            ))
        })?;
    let file_blocks = bytes.len() as u64 / BLOCK_SIZE;
    let first_data_block = (slot_end as u64) / BLOCK_SIZE;

    let mut slots = Vec::new();
    for at in (DB_HEADER_SIZE..slot_end).step_by(SLOT_SIZE) {
        // Numbered as rpm does: the file header takes the places of slots 0 and 1.
        let number = at / SLOT_SIZE;
        let slot = &bytes[at..at + SLOT_SIZE];
        if &slot[..4] != SLOT_MAGIC {
            return Err(corrupt(format!("slot {number} is not a slot (bad magic)")));
        }
        let first_block = le32(slot, 8).expect("16-byte slot");
        if first_block == 0 {
            continue;
        }
        slots.push(Slot {
            number,
            index: le32(slot, 4).expect("16-byte slot"),
            first_block,
            blocks: le32(slot, 12).expect("16-byte slot"),
        });
    }
    slots.sort_by_key(|s| (s.first_block, s.number));

    let mut out = Vec::with_capacity(slots.len());
    let mut seen = HashSet::new();
    let mut previous_end = first_data_block;
    for slot in &slots {
        let end = u64::from(slot.first_block) + u64::from(slot.blocks);
        let blob = if slot.index == 0 {
            Err(corrupt(format!("slot {} has package index 0", slot.number)))
        } else if !seen.insert(slot.index) {
            Err(corrupt(format!(
                "slot {} repeats package index {}",
                slot.number, slot.index
            )))
        } else if u64::from(slot.first_block) < first_data_block {
            Err(corrupt(format!(
                "slot {} points into the slot pages",
                slot.number
            )))
        } else if end > file_blocks {
            Err(corrupt(format!(
                "slot {} points past the end of the file (truncated database?)",
                slot.number
            )))
        } else if u64::from(slot.first_block) < previous_end {
            Err(corrupt(format!(
                "slot {} overlaps another package's blob",
                slot.number
            )))
        } else {
            previous_end = end;
            let start = (u64::from(slot.first_block) * BLOCK_SIZE) as usize;
            let len = (u64::from(slot.blocks) * BLOCK_SIZE) as usize;
            read_blob(&bytes[start..start + len], slot.index)
        };
        out.push(Entry {
            index: slot.index,
            blob,
        });
    }
    Ok(out)
}

/// The header blob inside the blocks of one slot, checked as rpm checks it.
fn read_blob(area: &[u8], index: u32) -> Result<&[u8], Error> {
    let area_len = area.len() as u64;
    if area_len < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE {
        return Err(corrupt("blob is too small"));
    }
    if &area[..4] != BLOB_HEAD_MAGIC {
        return Err(corrupt("blob has no blob head (bad magic)"));
    }
    let head_index = le32(area, 4).expect("length checked");
    if head_index != index {
        return Err(corrupt(format!(
            "blob belongs to package index {head_index}"
        )));
    }
    let len = u64::from(le32(area, 12).expect("length checked"));
    let needed = (BLOB_HEAD_SIZE + len + BLOB_TAIL_SIZE).div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
    if needed != area_len {
        return Err(corrupt(format!(
            "blob length {len} does not match its {} blocks",
            area_len / BLOCK_SIZE
        )));
    }
    let tail = (area_len - BLOB_TAIL_SIZE) as usize;
    if &area[tail + 8..] != BLOB_TAIL_MAGIC {
        return Err(corrupt("blob has no blob tail (bad magic)"));
    }
    if u64::from(le32(area, tail + 4).expect("length checked")) != len {
        return Err(corrupt("blob head and tail disagree on its length"));
    }
    if le32(area, tail).expect("length checked") != adler32(&area[..tail]) {
        return Err(corrupt("blob checksum mismatch"));
    }
    Ok(&area[BLOB_HEAD_SIZE as usize..(BLOB_HEAD_SIZE + len) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database laid out per rpmpkg.c: one slot page, then each blob in slot order.
    fn database(blobs: &[(u32, &[u8])]) -> Vec<u8> {
        let mut db = vec![0u8; PAGE_SIZE];
        db[..4].copy_from_slice(DB_MAGIC);
        db[8..12].copy_from_slice(&1u32.to_le_bytes());
        db[12..16].copy_from_slice(&1u32.to_le_bytes());
        db[16..20].copy_from_slice(&(blobs.len() as u32 + 1).to_le_bytes());
        for at in (DB_HEADER_SIZE..PAGE_SIZE).step_by(SLOT_SIZE) {
            db[at..at + 4].copy_from_slice(SLOT_MAGIC);
        }
        for (n, (index, blob)) in blobs.iter().enumerate() {
            let first_block = db.len() as u64 / BLOCK_SIZE;
            let mut area = Vec::new();
            area.extend_from_slice(BLOB_HEAD_MAGIC);
            area.extend_from_slice(&index.to_le_bytes());
            area.extend_from_slice(&1_700_000_000u32.to_le_bytes());
            area.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            area.extend_from_slice(blob);
            while !(area.len() as u64 + BLOB_TAIL_SIZE).is_multiple_of(BLOCK_SIZE) {
                area.push(0);
            }
            let sum = adler32(&area);
            area.extend_from_slice(&sum.to_le_bytes());
            area.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            area.extend_from_slice(BLOB_TAIL_MAGIC);
            let slot = DB_HEADER_SIZE + n * SLOT_SIZE;
            db[slot + 4..slot + 8].copy_from_slice(&index.to_le_bytes());
            db[slot + 8..slot + 12].copy_from_slice(&(first_block as u32).to_le_bytes());
            db[slot + 12..slot + 16]
                .copy_from_slice(&((area.len() as u64 / BLOCK_SIZE) as u32).to_le_bytes());
            db.extend(area);
        }
        db
    }

    fn slot_field(db: &mut [u8], slot: usize, field: usize, value: u32) {
        let at = DB_HEADER_SIZE + slot * SLOT_SIZE + field;
        db[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn adler32_matches_rfc1950() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let big = vec![0xffu8; 100_000];
        // The reference value is from zlib's adler32 over the same bytes.
        assert_eq!(adler32(&big), 0x149A_302C);
    }

    #[test]
    fn reads_every_blob_in_file_order() {
        let mut db = database(&[(7, b"first header"), (3, b"second, longer header blob!")]);
        // A freed slot (first block 0) between used ones is skipped.
        let slot = DB_HEADER_SIZE + 2 * SLOT_SIZE;
        db[slot + 4..slot + 8].copy_from_slice(&9u32.to_le_bytes());
        let entries = blobs(&db).unwrap();
        assert_eq!(
            entries,
            vec![
                Entry {
                    index: 7,
                    blob: Ok(&b"first header"[..])
                },
                Entry {
                    index: 3,
                    blob: Ok(&b"second, longer header blob!"[..])
                },
            ]
        );
        assert_eq!(blobs(&database(&[])).unwrap(), vec![]);
    }

    #[test]
    fn bad_file_headers_are_errors() {
        let good = database(&[(1, b"x")]);
        assert!(blobs(&good[..20])
            .unwrap_err()
            .to_string()
            .contains("too short"));
        let mut db = good.clone();
        db[..4].copy_from_slice(b"RpmQ");
        assert!(blobs(&db).unwrap_err().to_string().contains("bad magic"));
        let mut db = good.clone();
        db[4] = 1;
        assert!(blobs(&db).unwrap_err().to_string().contains("version 1"));
        let mut db = good.clone();
        db[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(blobs(&db).unwrap_err().to_string().contains("slot pages"));
        let mut db = good.clone();
        db[12..16].copy_from_slice(&0u32.to_le_bytes());
        assert!(blobs(&db).unwrap_err().to_string().contains("slot pages"));
        // Truncated inside the slot page.
        assert!(blobs(&good[..PAGE_SIZE - 16])
            .unwrap_err()
            .to_string()
            .contains("slot pages"));
        let mut db = good;
        db[DB_HEADER_SIZE + 5 * SLOT_SIZE] = b'X';
        assert!(blobs(&db).unwrap_err().to_string().contains("slot 7 "));
    }

    #[test]
    fn bad_slots_and_blobs_skip_only_their_package() {
        let good = database(&[(1, b"one"), (2, b"two")]);
        let skipped = |db: &[u8]| -> String {
            let entries = blobs(db).unwrap();
            assert_eq!(entries.len(), 2, "{entries:?}");
            assert!(entries.iter().any(|e| e.blob.is_ok()), "{entries:?}");
            entries
                .into_iter()
                .find_map(|e| e.blob.err())
                .expect("one package skipped")
                .to_string()
        };
        let mut db = good.clone();
        slot_field(&mut db, 1, 8, u32::MAX - 1);
        assert!(skipped(&db).contains("past the end"));
        let mut db = good.clone();
        slot_field(&mut db, 1, 8, 3);
        assert!(skipped(&db).contains("slot pages"));
        let mut db = good.clone();
        slot_field(&mut db, 1, 12, u32::MAX);
        assert!(skipped(&db).contains("past the end"));
        // The second slot pointing at the first blob: overlap, not a second copy.
        let mut db = good.clone();
        slot_field(&mut db, 1, 8, (PAGE_SIZE as u64 / BLOCK_SIZE) as u32);
        assert!(skipped(&db).contains("overlaps"));
        let mut db = good.clone();
        slot_field(&mut db, 1, 4, 1);
        assert!(skipped(&db).contains("repeats"));
        let mut db = good.clone();
        slot_field(&mut db, 1, 4, 0);
        assert!(skipped(&db).contains("index 0"));
        let mut db = good.clone();
        slot_field(&mut db, 1, 4, 5);
        assert!(skipped(&db).contains("belongs to package index 2"));
        // A blob length that overflows its blocks, and one that is just off by a block.
        let second = PAGE_SIZE + 32;
        for len in [u32::MAX, 3 + 16] {
            let mut db = good.clone();
            db[second + 12..second + 16].copy_from_slice(&len.to_le_bytes());
            assert!(skipped(&db).contains("does not match"));
        }
        let mut db = good.clone();
        db[second] = b'x';
        assert!(skipped(&db).contains("blob head"));
        let mut db = good.clone();
        db[second + 17] ^= 1;
        assert!(skipped(&db).contains("checksum"));
        let mut db = good.clone();
        let end = db.len();
        db[end - 1] = b'x';
        assert!(skipped(&db).contains("blob tail"));
        let mut db = good.clone();
        db[end - 8] ^= 1;
        assert!(skipped(&db).contains("disagree"));
        // Truncated in the last blob.
        assert!(skipped(&good[..good.len() - 20]).contains("past the end"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = database(&[(1, b"one header"), (2, b"two"), (3, &[0u8; 300])]);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            let mut db = good.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mostly the slots and blobs, sometimes the file header.
                let at = if state.is_multiple_of(5) {
                    (state >> 8) as usize % DB_HEADER_SIZE
                } else if state.is_multiple_of(2) {
                    DB_HEADER_SIZE + (state >> 8) as usize % (4 * SLOT_SIZE)
                } else {
                    PAGE_SIZE + (state >> 8) as usize % (db.len() - PAGE_SIZE)
                };
                db[at] = (state >> 32) as u8;
            }
            let cut = (state >> 40) as usize % (db.len() + 1);
            let _ = blobs(&db);
            let _ = blobs(&db[..cut]);
        }
    }
}
