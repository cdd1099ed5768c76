//! Package lists embedded in executables: Go's module build info (`.go.buildinfo`, Go ≥ 1.18)
//! and cargo-auditable's dependency list (`.dep-v0`, zlib-compressed JSON).
//!
//! [`embedded_section`] reads only an ELF file's section table and the one section it needs;
//! the parsers below work on that section's bytes, so they are pure and fuzzable.

use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;

/// Which embedded package list a section holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Section {
    GoBuildInfo,
    CargoAuditable,
}

impl Section {
    fn name(&self) -> &'static [u8] {
        match self {
            Section::GoBuildInfo => b".go.buildinfo",
            Section::CargoAuditable => b".dep-v0",
        }
    }
}

/// Embedded sections larger than this are not read (real ones are kilobytes).
const MAX_SECTION: u64 = 16 * 1024 * 1024;

/// Whether `head` starts like an ELF file.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// The first embedded package-list section of the ELF file `f`, with its bytes.
/// `None` for files that are not ELF, have no such section, or are malformed.
pub fn embedded_section(f: &mut (impl Read + Seek)) -> Option<(Section, Vec<u8>)> {
    let mut ident = [0u8; 64];
    f.seek(SeekFrom::Start(0)).ok()?;
    f.read_exact(&mut ident).ok()?;
    if !is_elf(&ident) {
        return None;
    }
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match ident[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let num = |b: &[u8]| -> u64 {
        let mut v = 0u64;
        if big {
            b.iter().for_each(|&x| v = (v << 8) | x as u64);
        } else {
            b.iter().rev().for_each(|&x| v = (v << 8) | x as u64);
        }
        v
    };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            num(&ident[0x28..0x30]),
            num(&ident[0x3a..0x3c]),
            num(&ident[0x3c..0x3e]),
            num(&ident[0x3e..0x40]),
        )
    } else {
        (
            num(&ident[0x20..0x24]),
            num(&ident[0x2e..0x30]),
            num(&ident[0x30..0x32]),
            num(&ident[0x32..0x34]),
        )
    };
    let min_entry = if wide { 64 } else { 40 };
    if shoff == 0
        || shnum == 0
        || shentsize < min_entry
        || shstrndx >= shnum
        || shentsize * shnum > MAX_SECTION
    {
        return None;
    }
    let mut table = vec![0u8; (shentsize * shnum) as usize];
    f.seek(SeekFrom::Start(shoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    // (name offset, type, file offset, size) of every section.
    let sections: Vec<(u64, u64, u64, u64)> = table
        .chunks_exact(shentsize as usize)
        .map(|s| {
            if wide {
                (
                    num(&s[0..4]),
                    num(&s[4..8]),
                    num(&s[24..32]),
                    num(&s[32..40]),
                )
            } else {
                (
                    num(&s[0..4]),
                    num(&s[4..8]),
                    num(&s[16..20]),
                    num(&s[20..24]),
                )
            }
        })
        .collect();
    const SHT_NOBITS: u64 = 8;
    let read = |f: &mut dyn ReadSeek, offset: u64, size: u64| -> Option<Vec<u8>> {
        if size > MAX_SECTION {
            return None;
        }
        let mut buf = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(offset)).ok()?;
        f.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let (_, _, str_off, str_size) = sections[shstrndx as usize];
    let names = read(f, str_off, str_size)?;
    let name_of = |at: u64| -> &[u8] {
        let s = names.get(at as usize..).unwrap_or_default();
        &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
    };
    for want in [Section::GoBuildInfo, Section::CargoAuditable] {
        if let Some(&(_, _, off, size)) = sections
            .iter()
            .find(|(n, kind, _, _)| *kind != SHT_NOBITS && name_of(*n) == want.name())
        {
            return read(f, off, size).map(|bytes| (want, bytes));
        }
    }
    None
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// A module named in Go build info.
#[derive(Clone, Debug, PartialEq)]
pub struct GoModule {
    pub path: String,
    pub version: String,
    /// The main module (`mod` line) rather than a dependency.
    pub main: bool,
}

/// What Go build info says: the toolchain version and the modules linked in.
#[derive(Clone, Debug, PartialEq)]
pub struct GoBuildInfo {
    /// e.g. `go1.21.3`.
    pub go_version: String,
    pub modules: Vec<GoModule>,
}

/// Why an embedded section could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `.go.buildinfo` is not Go ≥ 1.18's inline build info, or is broken.
    #[error("{0}")]
    GoBuildInfo(&'static str),
    /// `.dep-v0` does not inflate.
    #[error("cannot inflate .dep-v0")]
    Inflate(#[source] std::io::Error),
    /// `.dep-v0` inflates to something that is not cargo-auditable's JSON.
    #[error("invalid .dep-v0 JSON")]
    AuditableJson(#[source] serde_json::Error),
}

/// Parse a `.go.buildinfo` section. Go ≥ 1.18 stores both strings inline after a 32-byte
/// header; older binaries point into the data segment instead, which is not read (an error).
pub fn parse_go_buildinfo(section: &[u8]) -> Result<GoBuildInfo, Error> {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    if section.len() < 32 || !section.starts_with(MAGIC) {
        return Err(Error::GoBuildInfo("no Go build info header"));
    }
    if section[15] & 2 == 0 {
        return Err(Error::GoBuildInfo(
            "Go build info from before Go 1.18 is not read",
        ));
    }
    let mut at = 32;
    let mut inline_string = || -> Result<&[u8], Error> {
        let (len, n) = uvarint(section.get(at..).unwrap_or_default())?;
        let start = at + n;
        let end = start
            .checked_add(usize::try_from(len).map_err(|_| Error::GoBuildInfo("string too long"))?)
            .filter(|e| *e <= section.len())
            .ok_or(Error::GoBuildInfo("string runs past the section"))?;
        at = end;
        Ok(&section[start..end])
    };
    let go_version = String::from_utf8_lossy(inline_string()?).into_owned();
    let mut modinfo = inline_string()?;
    // The module info is wrapped in two 16-byte sentinels.
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    let text = String::from_utf8_lossy(modinfo);
    let mut modules: Vec<GoModule> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod", path, version, ..] | ["dep", path, version, ..] => modules.push(GoModule {
                path: path.to_string(),
                version: version.to_string(),
                main: fields[0] == "mod",
            }),
            // A replacement applies to the module on the line before it: another module
            // version is what was linked in; a local directory keeps the module's name but has
            // no published version.
            ["=>", path, version, ..] => {
                if let Some(last) = modules.last_mut() {
                    if is_local_path(path) {
                        last.version = "(devel)".into();
                    } else {
                        last.path = path.to_string();
                        last.version = version.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    if go_version.is_empty() {
        return Err(Error::GoBuildInfo("Go build info without a Go version"));
    }
    Ok(GoBuildInfo {
        go_version,
        modules,
    })
}

fn is_local_path(p: &str) -> bool {
    p.starts_with("./") || p.starts_with("../") || p.starts_with('/') || p == "." || p == ".."
}

fn uvarint(b: &[u8]) -> Result<(u64, usize), Error> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(Error::GoBuildInfo("bad varint"))
}

/// One crate in cargo-auditable's list.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AuditedCrate {
    pub name: String,
    pub version: String,
    /// `crates.io`, `git`, `local`, `registry`, or another source kind.
    #[serde(default)]
    pub source: String,
    /// `build` for build-time-only dependencies (not linked into the binary).
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub root: bool,
}

/// Parse a `.dep-v0` section: zlib-compressed JSON `{"packages": [...]}`.
pub fn parse_cargo_auditable(section: &[u8]) -> Result<Vec<AuditedCrate>, Error> {
    #[derive(Deserialize)]
    struct VersionInfo {
        packages: Vec<AuditedCrate>,
    }
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section)
        .take(MAX_SECTION)
        .read_to_end(&mut json)
        .map_err(Error::Inflate)?;
    let info: VersionInfo = serde_json::from_slice(&json).map_err(Error::AuditableJson)?;
    Ok(info.packages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn go_buildinfo_inline_strings() {
        let mut s = b"\xff Go buildinf:".to_vec();
        s.push(8);
        s.push(2);
        s.resize(32, 0);
        let version = b"go1.21.3";
        let info = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:abc=\ndep\texample.com/greet\tv1.4.2\t\n=>\t./greet\t(devel)\t\n\ndep\toras.land/oras-go\tv1.2.2\th1:x=\n=>\toras.land/oras-go\tv1.2.4-0.20230801060855-932dd06d38af\th1:y=\nbuild\tCGO_ENABLED=0\n";
        let mut wrapped = vec![0x30u8; 16];
        wrapped.extend_from_slice(info.as_bytes());
        wrapped.extend_from_slice(&[0xf9; 16]);
        s.push(version.len() as u8);
        s.extend_from_slice(version);
        s.push((wrapped.len() & 0x7f) as u8 | 0x80);
        s.push((wrapped.len() >> 7) as u8);
        s.extend_from_slice(&wrapped);
        let b = parse_go_buildinfo(&s).unwrap();
        assert_eq!(b.go_version, "go1.21.3");
        let mods: Vec<(&str, &str, bool)> = b
            .modules
            .iter()
            .map(|m| (m.path.as_str(), m.version.as_str(), m.main))
            .collect();
        assert_eq!(
            mods,
            vec![
                ("example.com/app", "(devel)", true),
                ("golang.org/x/text", "v0.14.0", false),
                ("example.com/greet", "(devel)", false),
                (
                    "oras.land/oras-go",
                    "v1.2.4-0.20230801060855-932dd06d38af",
                    false
                ),
            ]
        );
        assert!(parse_go_buildinfo(&s[..40]).is_err());
        let mut old = s.clone();
        old[15] = 0;
        assert!(parse_go_buildinfo(&old)
            .unwrap_err()
            .to_string()
            .contains("1.18"));
    }

    #[test]
    fn cargo_auditable_json() {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"itoa","version":"1.0.11","source":"crates.io"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let crates = parse_cargo_auditable(&z.finish().unwrap()).unwrap();
        assert_eq!(crates.len(), 3);
        assert!(crates[0].root);
        assert_eq!(crates[2].kind.as_deref(), Some("build"));
        assert!(parse_cargo_auditable(b"not zlib").is_err());
    }

    #[test]
    fn elf_section_table() {
        // A minimal little-endian ELF64 with sections: null, .shstrtab, .dep-v0.
        let names = b"\0.shstrtab\0.dep-v0\0";
        let payload = b"PAYLOAD";
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        let names_at = f.len() as u64;
        f.extend_from_slice(names);
        let payload_at = f.len() as u64;
        f.extend_from_slice(payload);
        let shoff = f.len() as u64;
        let section = |name: u32, kind: u32, off: u64, size: u64| {
            let mut s = vec![0u8; 64];
            s[0..4].copy_from_slice(&name.to_le_bytes());
            s[4..8].copy_from_slice(&kind.to_le_bytes());
            s[24..32].copy_from_slice(&off.to_le_bytes());
            s[32..40].copy_from_slice(&size.to_le_bytes());
            s
        };
        f.extend(section(0, 0, 0, 0));
        f.extend(section(1, 3, names_at, names.len() as u64));
        f.extend(section(11, 1, payload_at, payload.len() as u64));
        f[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        let got = embedded_section(&mut std::io::Cursor::new(&f)).unwrap();
        assert_eq!(got, (Section::CargoAuditable, payload.to_vec()));
        // Truncated or garbage files are simply not binaries with a package list.
        assert!(embedded_section(&mut std::io::Cursor::new(&f[..100])).is_none());
        assert!(embedded_section(&mut std::io::Cursor::new(b"#!/bin/sh\n")).is_none());
    }
}
