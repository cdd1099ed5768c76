//! The rpm package database: `rpmdb.sqlite` (rpm ≥ 4.16: RHEL 9, Fedora ≥ 33, Rocky, Alma), the
//! older Berkeley DB `Packages` (CentOS 7/8, RHEL/UBI 8) and NDB `Packages.db` (SUSE, openSUSE).
//! Each row (or value, or blob) is one package header in rpm's header blob format.

use crate::sbom::sqlite::{self, Value};
use crate::sbom::{bdb, ndb};

/// Where rpm keeps its database, newest layout first.
pub const SQLITE_PATHS: [&str; 2] = [
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "var/lib/rpm/rpmdb.sqlite",
];

/// Where rpm before 4.16 keeps its Berkeley DB database.
pub const BDB_PATH: &str = "var/lib/rpm/Packages";

/// Where rpm keeps an NDB database (SUSE, openSUSE), newest layout first.
pub const NDB_PATHS: [&str; 2] = [
    "usr/lib/sysimage/rpm/Packages.db",
    "var/lib/rpm/Packages.db",
];

/// What cleanpipe takes from one package header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: Option<String>,
    pub license: Option<String>,
    pub source_rpm: Option<String>,
}

impl Header {
    /// `[epoch:]version-release`, the form rpm compares and OSV records use.
    pub fn evr(&self) -> String {
        let vr = format!("{}-{}", self.version, self.release);
        match self.epoch {
            Some(e) if e > 0 => format!("{e}:{vr}"),
            _ => vr,
        }
    }

    /// The source package name and `version-release`, from `SOURCERPM` (`name-v-r.src.rpm`).
    pub fn source(&self) -> Option<(String, String)> {
        let base = self
            .source_rpm
            .as_deref()?
            .strip_suffix(".rpm")?
            .rsplit_once('.')?
            .0;
        let (rest, release) = base.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        Some((name.to_string(), format!("{version}-{release}")))
    }
}

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// Why an rpm database, or one package record in it, could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] sqlite::Error),
    #[error(transparent)]
    Bdb(#[from] bdb::Error),
    #[error(transparent)]
    Ndb(#[from] ndb::Error),
    /// A package header is not in rpm's header blob format.
    #[error("{0}")]
    Header(&'static str),
    /// One package record, named by where it is in the database, and why it is unreadable.
    #[error("{at}")]
    Record {
        at: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    fn at(at: String, source: impl Into<Error>) -> Self {
        Error::Record {
            at,
            source: Box::new(source.into()),
        }
    }
}

/// Every package of an `rpmdb.sqlite` file. Rows whose header cannot be parsed are returned as
/// errors (with the row id) for the caller to report; they never stop the others.
pub fn packages(db: &[u8]) -> Result<Vec<Result<Header, Error>>, Error> {
    let db = sqlite::Database::open(db)?;
    let rows = db.table("Packages")?;
    Ok(rows
        .into_iter()
        .map(|(rowid, cols)| {
            let at = || format!("package row {rowid}");
            match cols.last() {
                Some(Value::Blob(blob)) => parse_header(blob).map_err(|e| Error::at(at(), e)),
                _ => Err(Error::at(at(), Error::Header("no header blob"))),
            }
        })
        .collect())
}

/// Every package of a Berkeley DB `Packages` file (errors per value, as for [`packages`]).
pub fn packages_bdb(db: &[u8]) -> Result<Vec<Result<Header, Error>>, Error> {
    Ok(bdb::values(db)?
        .into_iter()
        .enumerate()
        .map(|(i, blob)| parse_header(&blob).map_err(|e| Error::at(format!("value {}", i + 1), e)))
        .collect())
}

/// Every package of an NDB `Packages.db` file (errors per package, as for [`packages`]).
pub fn packages_ndb(db: &[u8]) -> Result<Vec<Result<Header, Error>>, Error> {
    Ok(ndb::blobs(db)?
        .into_iter()
        .map(|e| {
            e.blob
                .map_err(Error::from)
                .and_then(parse_header)
                .map_err(|err| Error::at(format!("package {}", e.index), err))
        })
        .collect())
}

/// Parse a header blob: index count, data length, 16-byte index entries, then the data store.
pub fn parse_header(blob: &[u8]) -> Result<Header, Error> {
    let be = |at: usize| -> Result<u32, Error> {
        blob.get(at..at + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or(Error::Header("truncated header"))
    };
    let count = be(0)? as usize;
    let data_len = be(4)? as usize;
    let data_start = count
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .filter(|n| *n <= blob.len())
        .ok_or(Error::Header("index larger than the header"))?;
    let data = blob
        .get(data_start..data_start.saturating_add(data_len))
        .ok_or(Error::Header("data store runs past the header"))?;
    let mut h = Header::default();
    for k in 0..count {
        let at = 8 + 16 * k;
        let (tag, kind, offset) = (be(at)?, be(at + 4)?, be(at + 8)? as usize);
        let string = || -> Result<String, Error> {
            let s = data
                .get(offset..)
                .ok_or(Error::Header("string offset past the data"))?;
            let end = s
                .iter()
                .position(|&b| b == 0)
                .ok_or(Error::Header("unterminated string"))?;
            Ok(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        let is_string = kind == TYPE_STRING || kind == TYPE_I18NSTRING;
        match tag {
            TAG_NAME if is_string => h.name = string()?,
            TAG_VERSION if is_string => h.version = string()?,
            TAG_RELEASE if is_string => h.release = string()?,
            TAG_ARCH if is_string => h.arch = Some(string()?),
            TAG_LICENSE if is_string => h.license = Some(string()?),
            TAG_SOURCERPM if is_string => h.source_rpm = Some(string()?),
            TAG_EPOCH if kind == TYPE_INT32 => {
                let s = data
                    .get(offset..offset + 4)
                    .ok_or(Error::Header("epoch past the data"))?;
                h.epoch = Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
            }
            _ => {}
        }
    }
    if h.name.is_empty() || h.version.is_empty() {
        return Err(Error::Header("header has no name or version"));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a header blob the way rpm lays it out (entries, then a data store).
    fn blob(entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, value) in entries {
            while *kind == TYPE_INT32 && data.len() % 4 != 0 {
                data.push(0);
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(value);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn header_fields_and_source() {
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"openssl-libs\0"),
            (TAG_EPOCH, TYPE_INT32, &1u32.to_be_bytes()),
            (TAG_VERSION, TYPE_STRING, b"3.0.7\0"),
            (TAG_RELEASE, TYPE_STRING, b"24.el9\0"),
            (TAG_ARCH, TYPE_STRING, b"x86_64\0"),
            (TAG_LICENSE, TYPE_STRING, b"ASL 2.0\0"),
            (
                TAG_SOURCERPM,
                TYPE_STRING,
                b"openssl-3.0.7-24.el9.src.rpm\0",
            ),
        ]);
        let h = parse_header(&b).unwrap();
        assert_eq!(h.evr(), "1:3.0.7-24.el9");
        assert_eq!(
            h.source(),
            Some(("openssl".to_string(), "3.0.7-24.el9".to_string()))
        );
        assert_eq!(h.license.as_deref(), Some("ASL 2.0"));
    }

    #[test]
    fn corrupt_headers_are_errors() {
        assert!(parse_header(&[]).is_err());
        assert!(parse_header(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        let mut b = blob(&[(TAG_NAME, TYPE_STRING, b"x")]);
        assert!(parse_header(&b).is_err(), "unterminated string");
        b.truncate(10);
        assert!(parse_header(&b).is_err());
    }

    #[test]
    fn a_bad_record_names_where_it_is_and_keeps_why() {
        // A Berkeley DB `Packages` file is not an sqlite one: the database error is the
        // reader's own, word for word.
        let e = packages(b"not a database").unwrap_err();
        assert!(
            matches!(e, Error::Sqlite(sqlite::Error::NotSqlite)),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "not an SQLite 3 database (bad header)");
        // A record: where it is, then why (as the catalogue records it).
        let e = Error::at("package row 3".into(), parse_header(&[]).unwrap_err());
        assert_eq!(e.to_string(), "package row 3");
        assert_eq!(
            crate::error::one_line(&e),
            "package row 3: truncated header"
        );
    }
}
