//! Version ordering per ecosystem: dpkg, apk, rpm, PEP 440, SemVer (npm, crates.io, Go), Maven,
//! RubyGems, Packagist (Composer) and NuGet.
//! `None` means the versions cannot be compared (invalid input), never a guess.

use std::cmp::Ordering;

/// Which ordering a version string follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Dpkg,
    Apk,
    Rpm,
    Pep440,
    Semver,
    /// Maven's `ComparableVersion`.
    Maven,
    /// RubyGems' `Gem::Version`.
    RubyGems,
    /// Composer's version ordering (Packagist).
    Packagist,
    /// NuGet's SemVer 2.0 with four numeric parts.
    NuGet,
}

pub fn compare(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    match scheme {
        Scheme::Dpkg => dpkg(a, b),
        Scheme::Apk => apk(a, b),
        Scheme::Rpm => rpm(a, b),
        Scheme::Pep440 => Some(Pep440::parse(a)?.cmp(&Pep440::parse(b)?)),
        Scheme::Semver => semver(a, b),
        Scheme::Maven => maven(a, b),
        Scheme::RubyGems => rubygems(a, b),
        Scheme::Packagist => packagist(a, b),
        Scheme::NuGet => nuget(a, b),
    }
}

// ---- dpkg (lib/dpkg/version.c) ----

fn dpkg_parse(v: &str) -> Option<(u64, &str, &str)> {
    let v = v.trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return None;
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => {
            if r.is_empty() || e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (e.parse().ok()?, r)
        }
        None => (0, v),
    };
    let (upstream, revision) = match rest.rfind('-') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return None;
    }
    Some((epoch, upstream, revision))
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(b'~') => -1,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = a[i] as i32 - b[j] as i32;
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

fn dpkg(a: &str, b: &str) -> Option<Ordering> {
    let (ea, ua, ra) = dpkg_parse(a)?;
    let (eb, ub, rb) = dpkg_parse(b)?;
    Some(
        ea.cmp(&eb)
            .then_with(|| verrevcmp(ua, ub))
            .then_with(|| verrevcmp(ra, rb)),
    )
}

// ---- apk (apk-tools src/version.c) ----

#[derive(Debug, PartialEq, Clone)]
enum ApkToken {
    Digits(String),
    Letter(u8),
    Suffix(i32, u64),
    Hash(String),
    Revision(u64),
}

const SUFFIXES: &[(&str, i32)] = &[
    ("alpha", -4),
    ("beta", -3),
    ("pre", -2),
    ("rc", -1),
    ("cvs", 1),
    ("svn", 2),
    ("git", 3),
    ("hg", 4),
    ("p", 5),
];

fn apk_tokens(v: &str) -> Option<Vec<ApkToken>> {
    let b = v.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        v[s..*i].to_string()
    };
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    out.push(ApkToken::Digits(digits(&mut i)));
    while i < b.len() && b[i] == b'.' {
        i += 1;
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        out.push(ApkToken::Digits(digits(&mut i)));
    }
    if i < b.len() && b[i].is_ascii_lowercase() {
        out.push(ApkToken::Letter(b[i]));
        i += 1;
    }
    while i < b.len() && b[i] == b'_' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_lowercase() {
            i += 1;
        }
        let rank = SUFFIXES.iter().find(|(n, _)| *n == &v[s..i])?.1;
        let n = digits(&mut i);
        out.push(ApkToken::Suffix(rank, n.parse().unwrap_or(0)));
    }
    if i < b.len() && b[i] == b'~' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        out.push(ApkToken::Hash(v[s..i].to_string()));
    }
    if i + 1 < b.len() && &b[i..i + 2] == b"-r" {
        i += 2;
        let n = digits(&mut i);
        out.push(ApkToken::Revision(n.parse().ok()?));
    }
    (i == b.len()).then_some(out)
}

fn apk(a: &str, b: &str) -> Option<Ordering> {
    let ta = apk_tokens(a)?;
    let tb = apk_tokens(b)?;
    for (n, (x, y)) in ta.iter().zip(tb.iter()).enumerate() {
        let o = match (x, y) {
            (ApkToken::Digits(p), ApkToken::Digits(q)) => {
                if n > 0 && (p.starts_with('0') || q.starts_with('0')) {
                    p.cmp(q)
                } else {
                    p.parse::<u128>().ok()?.cmp(&q.parse::<u128>().ok()?)
                }
            }
            (ApkToken::Letter(p), ApkToken::Letter(q)) => p.cmp(q),
            (ApkToken::Suffix(r1, n1), ApkToken::Suffix(r2, n2)) => r1.cmp(r2).then(n1.cmp(n2)),
            (ApkToken::Hash(p), ApkToken::Hash(q)) => p.cmp(q),
            (ApkToken::Revision(p), ApkToken::Revision(q)) => p.cmp(q),
            // Different token kinds: rank by kind, with pre-release suffixes below everything.
            _ => rank(x).cmp(&rank(y)),
        };
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    let tail = |t: &[ApkToken]| match t.first() {
        Some(ApkToken::Suffix(r, _)) if *r < 0 => Ordering::Less,
        Some(_) => Ordering::Greater,
        None => Ordering::Equal,
    };
    Some(match ta.len().cmp(&tb.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater => tail(&ta[tb.len()..]),
        Ordering::Less => tail(&tb[ta.len()..]).reverse(),
    })
}

fn rank(t: &ApkToken) -> i32 {
    match t {
        ApkToken::Suffix(r, _) if *r < 0 => -1,
        ApkToken::Digits(_) => 5,
        ApkToken::Letter(_) => 4,
        ApkToken::Suffix(..) => 3,
        ApkToken::Hash(_) => 2,
        ApkToken::Revision(_) => 1,
    }
}

// ---- PEP 440 ----

/// (epoch, release, pre, post, dev) in comparable form.
type SortKey = (u64, Vec<u64>, (i8, u64, u64), (i8, u64), (i8, u64));

/// A parsed PEP 440 version; ordering per the spec (dev < pre < final < post; local last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<String>,
}

impl Pep440 {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        let (main, local) = match s.split_once('+') {
            Some((m, l)) => (m, l.split(['.', '-', '_']).map(String::from).collect()),
            None => (s, vec![]),
        };
        let (epoch, rest) = match main.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, main),
        };
        let b = rest.as_bytes();
        let mut i = 0;
        let mut release = Vec::new();
        loop {
            let s0 = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if s0 == i {
                return None;
            }
            release.push(rest[s0..i].parse().ok()?);
            if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            } else {
                break;
            }
        }
        let mut v = Pep440 {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local,
        };
        let mut rest = &rest[i..];
        let number = |r: &mut &str| -> u64 {
            let r2 = r.trim_start_matches(['.', '-', '_']);
            let n = r2.bytes().take_while(|c| c.is_ascii_digit()).count();
            let val = r2[..n].parse().unwrap_or(0);
            *r = &r2[n..];
            val
        };
        let strip = |r: &mut &str, words: &[&str]| -> bool {
            let r2 = r.trim_start_matches(['.', '-', '_']);
            for w in words {
                if let Some(x) = r2.strip_prefix(w) {
                    *r = x;
                    return true;
                }
            }
            false
        };
        if strip(&mut rest, &["alpha", "a"]) {
            v.pre = Some((0, number(&mut rest)));
        } else if strip(&mut rest, &["beta", "b"]) {
            v.pre = Some((1, number(&mut rest)));
        } else if strip(&mut rest, &["rc", "c", "preview", "pre"]) {
            v.pre = Some((2, number(&mut rest)));
        }
        let implicit_post =
            rest.starts_with('-') && rest[1..].bytes().next().is_some_and(|c| c.is_ascii_digit());
        if strip(&mut rest, &["post", "rev", "r"]) || implicit_post {
            v.post = Some(number(&mut rest));
        }
        if strip(&mut rest, &["dev"]) {
            v.dev = Some(number(&mut rest));
        }
        rest.is_empty().then_some(v)
    }

    fn key(&self) -> SortKey {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        // dev-only releases sort before pre-releases.
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0, 0),
            (Some((k, n)), _, _) => (0, k as u64, n),
            (None, _, _) => (1, 0, 0),
        };
        let post = match self.post {
            Some(n) => (1, n),
            None => (-1, 0),
        };
        let dev = match self.dev {
            Some(n) => (-1, n),
            None => (1, 0),
        };
        (self.epoch, release, pre, post, dev)
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| self.local.cmp(&other.local))
    }
}
impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// ---- rpm (rpmio/rpmvercmp.c semantics, EVR as in rpmdb) ----

/// `[epoch:]version[-release]`; a missing epoch is 0.
fn rpm_parse(v: &str) -> Option<(u64, &str, &str)> {
    let v = v.trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return None;
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().ok()?, r)
        }
        Some(_) => return None,
        None => (0, v),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (!version.is_empty()).then_some((epoch, version, release))
}

fn rpm(a: &str, b: &str) -> Option<Ordering> {
    let (ea, va, ra) = rpm_parse(a)?;
    let (eb, vb, rb) = rpm_parse(b)?;
    Some(
        ea.cmp(&eb)
            .then_with(|| rpmvercmp(va, vb))
            .then_with(|| rpmvercmp(ra, rb)),
    )
}

/// rpm's segment comparison: separators are ignored, digits beat letters, `~` sorts before
/// everything (even the end), `^` after the end but before anything else.
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let keep = |c: u8| c.is_ascii_alphanumeric() || c == b'~' || c == b'^';
    loop {
        while i < a.len() && !keep(a[i]) {
            i += 1;
        }
        while j < b.len() && !keep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let sa = i;
        while i < a.len() && class(&a[i]) {
            i += 1;
        }
        let sb = j;
        while j < b.len() && class(&b[j]) {
            j += 1;
        }
        let (seg_a, seg_b) = (&a[sa..i], &b[sb..j]);
        if seg_b.is_empty() {
            // Different kinds of segment: a numeric one is newer than an alphabetic one.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let o = if numeric {
            let trim = |s: &'_ [u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
            let (na, nb) = (&seg_a[trim(seg_a)..], &seg_b[trim(seg_b)..]);
            na.len().cmp(&nb.len()).then_with(|| na.cmp(nb))
        } else {
            seg_a.cmp(seg_b)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

// ---- SemVer (npm, crates.io, Go's v-prefixed versions) ----

fn semver(a: &str, b: &str) -> Option<Ordering> {
    let p = |s: &str| semver::Version::parse(s.trim().trim_start_matches('v')).ok();
    Some(p(a)?.cmp_precedence(&p(b)?))
}

// ---- Shared: decimal digit strings of any length ----

/// A non-negative integer kept as its decimal digits (leading zeros dropped, zero is empty),
/// so that version components of any length compare numerically without overflow.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal(String);

impl Decimal {
    fn new(digits: &str) -> Self {
        Decimal(digits.trim_start_matches('0').to_string())
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Lexicographic comparison where a missing item compares as `end`.
fn cmp_padded<T: Ord>(a: &[T], b: &[T], end: &T) -> Ordering {
    (0..a.len().max(b.len()))
        .map(|i| a.get(i).unwrap_or(end).cmp(b.get(i).unwrap_or(end)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

// ---- Maven (POM reference "Version Order Specification", as ComparableVersion applies it) ----

/// Known Maven qualifiers in order; unknown ones sort after them, lexically.
const MAVEN_QUALIFIERS: &[&str] = &["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// Rank of the empty qualifier (`""` = `ga` = `final` = `release`), which is also what the
/// end of a version compares as.
const MAVEN_RELEASE: usize = 5;

/// One token of a Maven version. The variant order is the order of the specification:
/// `.qualifier` = `-qualifier` < `-number` < `.number`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum MavenItem {
    /// Known qualifier rank and empty text, or `MAVEN_QUALIFIERS.len()` and the text.
    Qualifier(usize, String),
    HyphenNumber(Decimal),
    DotNumber(Decimal),
}

impl MavenItem {
    fn qualifier(text: &str, followed_by_digit: bool) -> Self {
        let text = match (text, followed_by_digit) {
            ("a", true) => "alpha",
            ("b", true) => "beta",
            ("m", true) => "milestone",
            ("cr", _) => "rc",
            ("ga" | "final" | "release", _) => "",
            (t, _) => t,
        };
        match MAVEN_QUALIFIERS.iter().position(|q| *q == text) {
            Some(rank) => MavenItem::Qualifier(rank, String::new()),
            None => MavenItem::Qualifier(MAVEN_QUALIFIERS.len(), text.to_string()),
        }
    }

    fn is_null(&self) -> bool {
        match self {
            MavenItem::Qualifier(rank, _) => *rank == MAVEN_RELEASE,
            MavenItem::HyphenNumber(n) | MavenItem::DotNumber(n) => n.is_zero(),
        }
    }
}

/// Tokens of a Maven version with trailing "null" values trimmed from every hyphen group.
/// Any string is a Maven version; only empty strings and whitespace are refused.
fn maven_items(v: &str) -> Option<Vec<MavenItem>> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let v = v.to_lowercase();
    // (preceded by a hyphen or a digit/letter transition, text, ends at a letter-to-digit transition)
    let mut tokens: Vec<(bool, &str, bool)> = Vec::new();
    let (mut hyphen, mut start, mut digit) = (false, 0, false);
    for (i, c) in v.char_indices() {
        if c == '.' || c == '-' {
            tokens.push((hyphen, &v[start..i], false));
            hyphen = c == '-';
            start = i + 1;
        } else if i > start && c.is_ascii_digit() != digit {
            tokens.push((hyphen, &v[start..i], !digit));
            hyphen = true;
            start = i;
        }
        digit = c.is_ascii_digit();
    }
    tokens.push((hyphen, &v[start..], false));

    // A hyphen group starts at a `-number` or at any qualifier (`.X` is treated as `-X`) and
    // goes on with the `.number`s after it.
    let mut groups: Vec<Vec<MavenItem>> = Vec::new();
    for (hyphen, text, followed_by_digit) in tokens {
        let item = if text.bytes().all(|b| b.is_ascii_digit()) {
            // Empty tokens count as "0".
            if hyphen {
                MavenItem::HyphenNumber(Decimal::new(text))
            } else {
                MavenItem::DotNumber(Decimal::new(text))
            }
        } else {
            MavenItem::qualifier(text, followed_by_digit)
        };
        match groups.last_mut() {
            Some(group) if matches!(item, MavenItem::DotNumber(_)) => group.push(item),
            _ => groups.push(vec![item]),
        }
    }
    for group in &mut groups {
        while group.last().is_some_and(MavenItem::is_null) {
            group.pop();
        }
    }
    Some(groups.into_iter().flatten().collect())
}

fn maven(a: &str, b: &str) -> Option<Ordering> {
    let end = MavenItem::Qualifier(MAVEN_RELEASE, String::new());
    Some(cmp_padded(&maven_items(a)?, &maven_items(b)?, &end))
}

// ---- RubyGems (lib/rubygems/version.rb, Gem::Version#<=> on canonical segments) ----

/// A segment of a gem version; any string segment sorts before any number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GemSegment {
    Text(String),
    Number(Decimal),
}

/// Whether `v` matches `Gem::Version`'s pattern
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
fn gem_valid(v: &str) -> bool {
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|pre| {
        pre.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

/// `Gem::Version#canonical_segments`: `-` read as `.pre.`, trailing zero segments dropped,
/// and in a prerelease the first run of zero segments in front of a letter dropped.
fn gem_segments(v: &str) -> Option<Vec<GemSegment>> {
    // Ruby's `strip` and `\s`: space, \t, \n, \v, \f, \r.
    let v = v.trim_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    // RubyGems reads a blank string as "0"; a blank version is unknown here, not 0.
    if v.is_empty() || !gem_valid(v) {
        return None;
    }
    let mut s = v.replace('-', ".pre.");
    let prerelease = s.bytes().any(|b| b.is_ascii_alphabetic());

    // The regex `(?<=[a-zA-Z.])[.0]+\z`: the leftmost start, after a letter or a dot, of a
    // tail made only of dots and zeros.
    let b = s.as_bytes();
    let tail = b.len()
        - b.iter()
            .rev()
            .take_while(|&&c| c == b'.' || c == b'0')
            .count();
    if let Some(p) =
        (tail.max(1)..b.len()).find(|&p| b[p - 1].is_ascii_alphabetic() || b[p - 1] == b'.')
    {
        s.truncate(p);
    }

    // The regex `(?<=\.|\A)[0.]+(?=[a-zA-Z])`, replaced once.
    if prerelease {
        let b = s.as_bytes();
        let run = (0..b.len()).find_map(|p| {
            if p > 0 && b[p - 1] != b'.' {
                return None;
            }
            let e = p + b[p..]
                .iter()
                .take_while(|&&c| c == b'0' || c == b'.')
                .count();
            (e > p && b.get(e).is_some_and(u8::is_ascii_alphabetic)).then_some(p..e)
        });
        if let Some(run) = run {
            s.replace_range(run, "");
        }
    }

    let mut segments = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let len = if b[i].is_ascii_digit() {
            b[i..].iter().take_while(|c| c.is_ascii_digit()).count()
        } else if b[i].is_ascii_alphabetic() {
            b[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count()
        } else {
            i += 1;
            continue;
        };
        let text = &s[i..i + len];
        segments.push(if b[i].is_ascii_digit() {
            GemSegment::Number(Decimal::new(text))
        } else {
            GemSegment::Text(text.to_string())
        });
        i += len;
    }
    Some(segments)
}

fn rubygems(a: &str, b: &str) -> Option<Ordering> {
    let zero = GemSegment::Number(Decimal::new(""));
    Some(cmp_padded(&gem_segments(a)?, &gem_segments(b)?, &zero))
}

// ---- Packagist (PHP version_compare on Composer-style versions, as OSV compares them) ----

/// A component of a canonicalised PHP version. The variant order is `version_compare`'s:
/// dev < alpha = a < beta = b < RC = rc < (end of version) < any number < patch = pl = p.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PhpPart {
    /// 0 dev, 1 alpha, 2 beta, 3 RC.
    Pre(u8),
    End,
    Number(Decimal),
    Patch,
}

/// Components of `[v]N(sep part)*`, split at `.`, `-`, `_`, `+` and at digit/letter
/// transitions. Composer accepts only the stability words, so any other word (a branch
/// such as `dev-main`, or `1.0.x-dev`) is not an orderable version.
fn php_parts(v: &str) -> Option<Vec<PhpPart>> {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    if !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut parts = Vec::new();
    for piece in v.split(['.', '-', '_', '+']) {
        if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let mut rest = piece;
        while !rest.is_empty() {
            let digits = rest.as_bytes()[0].is_ascii_digit();
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_digit() == digits)
                .count();
            let (run, tail) = rest.split_at(len);
            parts.push(if digits {
                PhpPart::Number(Decimal::new(run))
            } else {
                match run.to_ascii_lowercase().as_str() {
                    "dev" => PhpPart::Pre(0),
                    "alpha" | "a" => PhpPart::Pre(1),
                    "beta" | "b" => PhpPart::Pre(2),
                    "rc" => PhpPart::Pre(3),
                    "patch" | "pl" | "p" => PhpPart::Patch,
                    _ => return None,
                }
            });
            rest = tail;
        }
    }
    Some(parts)
}

fn packagist(a: &str, b: &str) -> Option<Ordering> {
    Some(cmp_padded(&php_parts(a)?, &php_parts(b)?, &PhpPart::End))
}

// ---- NuGet (NuGet.Versioning: NuGetVersion.TryParse and VersionComparer.Default) ----

/// A parsed NuGet version: four numeric parts (missing ones are 0) and the release labels.
/// Build metadata is validated and dropped: it takes no part in the order.
fn nuget_parse(v: &str) -> Option<([u32; 4], Vec<&str>)> {
    let v = v.trim();
    let (rest, metadata) = match v.split_once('+') {
        Some((r, m)) => (r, Some(m)),
        None => (v, None),
    };
    let (version, labels) = match rest.split_once('-') {
        Some((n, l)) => (n, Some(l)),
        None => (rest, None),
    };
    let mut numbers = [0u32; 4];
    for (i, part) in version.split('.').enumerate() {
        // System.Version: at most four parts, each an Int32.
        if i == 4 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers[i] = part.parse::<i32>().ok()? as u32;
    }
    let identifier =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let labels: Vec<&str> = match labels {
        Some(l) => l.split('.').collect(),
        None => Vec::new(),
    };
    let leading_zero =
        |s: &str| s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit());
    if labels.iter().any(|l| !identifier(l) || leading_zero(l)) {
        return None;
    }
    if metadata.is_some_and(|m| !m.split('.').all(identifier)) {
        return None;
    }
    Some((numbers, labels))
}

/// One release label: labels that parse as an Int32 compare numerically and before the
/// others, which compare ASCII case-insensitively.
fn nuget_label(a: &str, b: &str) -> Ordering {
    match (a.parse::<i32>(), b.parse::<i32>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

fn nuget(a: &str, b: &str) -> Option<Ordering> {
    let (na, la) = nuget_parse(a)?;
    let (nb, lb) = nuget_parse(b)?;
    let labels = || {
        // A release sorts after all of its prereleases.
        match (la.is_empty(), lb.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => la
                .iter()
                .zip(&lb)
                .map(|(x, y)| nuget_label(x, y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| la.len().cmp(&lb.len())),
        }
    };
    Some(na.cmp(&nb).then_with(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_vectors() {
        // From docs/formats.md §10.1 and dpkg's t/version tests.
        for (a, b, o) in [
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0", "1.0-0", Equal),
            ("1.0-1", "1.0-1~deb9u1", Greater),
            ("1.1.0l-1~deb9u5", "1.1.0l-1~deb9u6", Less),
            ("2.9.4+dfsg1-2.2+deb9u6", "2.9.4+dfsg1-2.2+deb9u7", Less),
            (
                "0.8.6-svn20061012.debian-5.1+etch2",
                "0.8.6-svn20061012.debian-5.1+etch3",
                Less,
            ),
            ("1.18.25", "1.18.26", Less),
            ("0:1.0", "1.0", Equal),
            ("1.0.0", "1.0", Greater),
            ("1~", "1", Less),
            ("1~~", "1~", Less),
        ] {
            assert_eq!(dpkg(a, b), Some(o), "{a} vs {b}");
            assert_eq!(dpkg(b, a), Some(o.reverse()), "{b} vs {a}");
        }
        assert_eq!(dpkg("a:1", "1"), None);
        assert_eq!(dpkg("1 2", "1"), None);
    }

    #[test]
    fn apk_vectors() {
        for (a, b, o) in [
            ("1.2.3", "1.2", Greater),
            ("1.2_rc1", "1.2", Less),
            ("1.2.3-r4", "1.2.3-r6", Less),
            ("1.2.3a", "1.2.3", Greater),
            ("1.2.3_p1", "1.2.3", Greater),
            ("1.2.3_alpha", "1.2.3_beta", Less),
            ("0.9.13", "1.2.3-r4", Less),
            ("1.0_git20200101", "1.0", Greater),
            ("1.01", "1.1", Less),
        ] {
            assert_eq!(apk(a, b), Some(o), "{a} vs {b}");
            assert_eq!(apk(b, a), Some(o.reverse()), "{b} vs {a}");
        }
        assert_eq!(apk("x1", "1"), None);
        // Found by cargo fuzz: a multi-byte character right after `-` used to panic on slicing.
        assert_eq!(apk("1-\u{e9}", "1"), None);
        assert_eq!(apk("1-r\u{e9}", "1"), None);
    }

    #[test]
    fn rpmvercmp_vectors() {
        // The cases of rpm's own test suite (tests/rpmvercmp.at).
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("xyz.4", "2", Less),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "6.5p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("10a2", "10b2", Less),
            ("1.0a", "1.0aa", Less),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4999.9", "5.0", Greater),
            ("20101121", "20101122", Less),
            ("2.0", "2_0", Equal),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("+_", "_+", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), o, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_evr() {
        assert_eq!(rpm("2:0.9-1.el9", "1.0-1.el9"), Some(Greater));
        assert_eq!(rpm("0:1.0-1.el9", "1.0-1.el9"), Some(Equal));
        assert_eq!(rpm("1.0-1.el9", "1.0-1.el9_2"), Some(Less));
        assert_eq!(rpm("3.0.7-24.el9", "3.0.7-25.el9"), Some(Less));
        assert_eq!(rpm("x:1", "1"), None);
        assert_eq!(rpm("", "1"), None);
    }

    #[test]
    fn pep440_vectors() {
        let v = |s: &str| Pep440::parse(s).unwrap_or_else(|| panic!("{s}"));
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1",
            "1.1",
            "2!0.1",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0").clone().max(v("1.0")));
        assert_eq!(v("1.0").cmp(&v("1.0.0")), Equal);
        assert!(Pep440::parse("not a version").is_none());
        assert_eq!(compare(Scheme::Pep440, "5.3", "5.3.1"), Some(Less));
    }

    #[test]
    fn semver_vectors() {
        assert_eq!(semver("4.17.11", "4.17.12"), Some(Less));
        assert_eq!(semver("1.0.0-alpha", "1.0.0"), Some(Less));
        assert_eq!(semver("v1.21.9", "1.21.10"), Some(Less));
        assert_eq!(semver("1.0", "1.0.0"), None);
    }

    /// Every earlier version is below every later one, in both directions.
    fn assert_ascending(scheme: Scheme, ordered: &[&str]) {
        for (i, a) in ordered.iter().enumerate() {
            for b in &ordered[i + 1..] {
                assert_eq!(compare(scheme, a, b), Some(Less), "{a} < {b}");
                assert_eq!(compare(scheme, b, a), Some(Greater), "{b} > {a}");
            }
        }
    }

    #[test]
    fn maven_vectors() {
        // ComparableVersionTest (apache/maven): VERSIONS_QUALIFIER and VERSIONS_NUMBER.
        assert_ascending(
            Scheme::Maven,
            &[
                "1-alpha2snapshot",
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-m11",
                "1-rc",
                "1-cr2",
                "1-rc123",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-sp2",
                "1-sp123",
                "1-abc",
                "1-def",
                "1-pom-1",
                "1-1-snapshot",
                "1-1",
                "1-2",
                "1-123",
            ],
        );
        assert_ascending(
            Scheme::Maven,
            &[
                "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
                "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
                "11.m11", "11", "11.a", "11b", "11c", "11m",
            ],
        );
        for (a, b, o) in [
            // ComparableVersionTest: testVersionComparing, testLeadingZeroes, MNG-5568,
            // MNG-6572, MNG-6964, MNG-7644.
            ("1.0-alpha-1", "1.0", Less),
            ("1.0-alpha-1", "1.0-beta-1", Less),
            ("1.0-beta-1", "1.0-SNAPSHOT", Less),
            ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1", Less),
            ("1.0", "1.0-1", Less),
            ("1.0.0", "1.0-1", Less),
            ("2.0-1", "2.0.1", Less),
            ("2.0.1-klm", "2.0.1-lmn", Less),
            ("2.0.1", "2.0.1-xyz", Less),
            ("2.0.1-xyz", "2.0.1-123", Less),
            ("0.2", "1.0.7", Less),
            ("6.1.0rc3", "6.1.0", Less),
            ("6.1.0rc3", "6.1H.5-beta", Less),
            ("6.1.0", "6.1H.5-beta", Less),
            ("7", "J", Greater),
            ("20190126.230843", "1234567890.12345", Less),
            (
                "123456789012345.1H.5-beta",
                "12345678901234567890.1H.5-beta",
                Less,
            ),
            ("1-0.alpha", "1", Less),
            ("1-0.beta", "1", Less),
            ("1-0.alpha", "1-0.beta", Less),
            ("1.0.0.RC1", "1.0.0-RC2", Less),
            ("1.0.0.a1", "1.0.0-a2", Less),
            ("1.0.0.abc1", "1.0.0-abc2", Less),
            // testVersionsEqual and testVersionsHaveSameOrderButAreNotEqual.
            ("1", "1.0.0", Equal),
            ("1", "1.0-0", Equal),
            ("1a", "1.0.0-a", Equal),
            ("1.0.0x", "1-x", Equal),
            ("1cr", "1rc", Equal),
            ("1a1", "1-alpha-1", Equal),
            ("1m3", "1MileStone3", Equal),
            ("1RELeaSE", "1", Equal),
            ("1FinaL", "1.ga", Equal),
            ("2-RC", "2.0.0.rc", Equal),
            ("0000000000000000001", "1", Equal),
            ("0000000000000000000", "0", Equal),
            (
                "1-abcdefghijklmnopqrstuvwxyz",
                "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                Equal,
            ),
            // The "Version Order Specification" examples (maven.apache.org/pom.html).
            ("1-1.foo-bar-1-baz-0.1", "1-1.foo-bar1baz-.1", Equal),
            ("1.0.0-foo.0.0", "1-foo", Equal),
            ("1.0.0-0.0.0", "1", Equal),
            ("1", "1.1", Less),
            ("1-foo2", "1-foo10", Less),
            ("1.foo", "1-foo", Equal),
            ("1-foo", "1-1", Less),
            ("1-1", "1.1", Less),
            ("1-sp", "1-ga", Greater),
            ("1-sp.1", "1-ga.1", Greater),
            ("1-sp-1", "1-ga-1", Less),
            ("1-ga-1", "1-1", Equal),
            ("1-a1", "1-alpha-1", Equal),
            // Not a/b/m shorthands: not directly followed by a digit.
            ("1-a-1", "1-alpha-1", Greater),
            ("1-c-1", "1c1", Equal),
            // osv-scanner's fixtures (internal/semantic/fixtures/maven-versions.txt).
            ("1", "1.", Equal),
            ("1", "1-", Equal),
            ("0.0.0-0.0.0", "0-final-ga", Equal),
            ("0.0.0-2021-05-17T01-01-51-5ec03a8b", "20.0.0", Less),
            ("1.1", "1.01", Equal),
        ] {
            assert_eq!(maven(a, b), Some(o), "{a} vs {b}");
            assert_eq!(maven(b, a), Some(o.reverse()), "{b} vs {a}");
        }
        assert_eq!(maven("", "1"), None);
        assert_eq!(maven("1 0", "1"), None);
    }

    #[test]
    fn rubygems_vectors() {
        // test/rubygems/test_gem_version.rb: test_spaceship, test_semver, test_equals2,
        // test_hash, test_frozen_version, test_initialize.
        for (a, b, o) in [
            ("1.0", "1.0.0", Equal),
            ("1.0", "1.0.a", Greater),
            ("1.8.2", "0.0.0", Greater),
            ("1.8.2", "1.8.2.a", Greater),
            ("1.8.2.b", "1.8.2.a", Greater),
            ("1.8.2.a", "1.8.2", Less),
            ("1.8.2.a10", "1.8.2.a9", Greater),
            ("0.beta.1", "0.0.beta.1", Equal),
            ("0.0.beta", "0.0.beta.1", Less),
            ("0.0.beta", "0.beta.1", Less),
            ("5.a", "5.0.0.rc2", Less),
            ("5.x", "5.0.0.rc2", Greater),
            ("1.2.b1", "1.2.b.1", Equal),
            ("1.2", "1.3", Less),
            ("1.2.pre.1", "1.2.0.pre.1.0", Equal),
            ("1.0.0-alpha", "1.0.0-alpha.1", Less),
            ("1.0.0-alpha.1", "1.0.0-beta.2", Less),
            ("1.0.0-beta.2", "1.0.0-beta.11", Less),
            ("1.0.0-beta.11", "1.0.0-rc.1", Less),
            ("1.0.0-rc1", "1.0.0", Less),
            ("1.0.0-1", "1", Less),
            ("1.2.3-1", "1.2.3.pre.1", Equal),
            ("1.freeze.test", "1", Less),
            (" 1.0 ", "1.0", Equal),
            ("\n1.0\n", "1.0", Equal),
            // Numbers of any length; text below numbers; text compared bytewise.
            ("1.99999999999999999999", "1.100000000000000000000", Less),
            ("1.0.a", "1.0.0", Less),
            ("1.0.A", "1.0.a", Less),
            ("3.2.0.rc1", "3.2.0.beta2", Greater),
            ("1.a0", "1.a", Equal),
        ] {
            assert_eq!(rubygems(a, b), Some(o), "{a} vs {b}");
            assert_eq!(rubygems(b, a), Some(o.reverse()), "{b} vs {a}");
        }
        // test_initialize_invalid, plus a leading `v` and a letter in the first segment.
        for bad in [
            "junk",
            "1.0\n2.0",
            "1..2",
            "1.2 3.4",
            "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.",
            "v1.0",
            "1rc1",
            "1.0-",
            "",
        ] {
            assert_eq!(rubygems(bad, "1"), None, "{bad:?}");
        }
    }

    #[test]
    fn packagist_vectors() {
        // PHP's version_compare documentation and tests (as OSV applies them), Composer's
        // stability names.
        for (a, b, o) in [
            ("1.0.0", "1.0.0", Equal),
            ("v1.0.0", "1.0.0", Equal),
            ("V2.1", "v2.1", Equal),
            ("5.2", "5.2.0", Less),
            ("1.0rc1", "1.0", Less),
            ("1.0.0RC1", "1.0.0-RC1", Equal),
            ("1.0.0-RC1", "1.0.0-rc1", Equal),
            ("1.0-dev", "1.0-alpha", Less),
            ("1.0.0-alpha", "1.0.0-a", Equal),
            ("1.0.0-beta2", "1.0.0-b2", Equal),
            ("1.0.0-alpha2", "1.0.0-beta1", Less),
            ("1.0.0-beta1", "1.0.0-beta.1", Equal),
            ("1.0.0-beta.11", "1.0.0-beta.2", Greater),
            ("1.0.0-beta", "1.0.0-beta1", Less),
            ("1.0.0-rc1", "1.0.0", Less),
            ("1.0.0", "1.0.0-pl1", Less),
            ("1.0.0-p1", "1.0.0-patch1", Equal),
            ("1.0.0-patch1", "1.0.1", Less),
            ("1.0.0_beta1", "1.0.0-beta1", Equal),
            ("1.10.0", "1.9.0", Greater),
            ("1.25.0", "1.24.0", Greater),
            ("2.0.0-dev", "2.0.0-alpha1", Less),
            ("1.0.0.0", "1.0.0", Greater),
            ("20240101", "1.0.0", Greater),
            ("1.0.01", "1.0.1", Equal),
            // `+` is a separator, as in OSV (Composer itself drops build metadata).
            ("1.0.0+20130313", "1.0.0", Greater),
        ] {
            assert_eq!(packagist(a, b), Some(o), "{a} vs {b}");
            assert_eq!(packagist(b, a), Some(o.reverse()), "{b} vs {a}");
        }
        for bad in [
            "",
            "v",
            "dev-main",
            "1.0.x-dev",
            "1.0.0-stable",
            "1.0.",
            "1..0",
            "1.0.0-foo",
            "1.0 0",
        ] {
            assert_eq!(packagist(bad, "1"), None, "{bad:?}");
        }
    }

    #[test]
    fn nuget_vectors() {
        // NuGet.Versioning's VersionComparerTests and osv-scanner's nuget-versions.txt.
        for (a, b, o) in [
            ("1.0.0", "1.0.0", Equal),
            ("1.0.0-BETA", "1.0.0-beta", Equal),
            ("1.0.0-BETA+AA", "1.0.0-beta+aa", Equal),
            (
                "1.0.0-BETA.X.y.5.77.0+AA",
                "1.0.0-beta.x.y.5.77.0+aa",
                Equal,
            ),
            ("1.0.0", "1.0.0+beta", Equal),
            ("1.0", "1.0.0.0", Equal),
            ("1", "1.0.0.0", Equal),
            ("1.0+test", "1.0.0.0", Equal),
            ("1.0.0.1-1.2.A", "1.0.0.1-1.2.a+A", Equal),
            ("1.0.01", "1.0.1.0", Equal),
            ("0.0.0", "1.0.0", Less),
            ("1.0.0", "1.1.0", Less),
            ("1.0.0", "1.0.1", Less),
            ("1.999.9999", "2.1.1", Less),
            ("1.0.0-BETA", "1.0.0-beta2", Less),
            ("1.0.0-beta+AA", "1.0.0+aa", Less),
            ("1.0.0-BETA", "1.0.0-beta.1+AA", Less),
            ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.79.0+aa", Less),
            (
                "1.0.0-BETA.X.y.5.79.0+AA",
                "1.0.0-beta.x.y.5.790.0+abc",
                Less,
            ),
            ("1.0", "1.0.0.1", Less),
            ("1.0.0.1-1.2.A", "1.0.0.1-1.2.a.A+A", Less),
            ("1.0.01", "1.0.1.2", Less),
            ("1.0.0.1-alpha", "1.0.0.1-pre", Less),
            ("1.0.0-pre", "1.0.0.1-alpha", Less),
            ("0.9.9.1", "1.0.0", Less),
            ("1.0.0-1", "1.0.0-a", Less),
            (" 1.0.0 ", "1.0.0", Equal),
        ] {
            assert_eq!(nuget(a, b), Some(o), "{a} vs {b}");
            assert_eq!(nuget(b, a), Some(o.reverse()), "{b} vs {a}");
        }
        // The SemVer 2.0.0 precedence example.
        assert_ascending(
            Scheme::NuGet,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
            ],
        );
        for bad in [
            "",
            "v1.0.0",
            "1.0.0-01",
            "1.2.3.4.5",
            "1..2",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "1.0.0-a_b",
            "1.0.0+a+b",
            "2147483648.0",
            "999999999999999999999999999991",
        ] {
            assert_eq!(nuget(bad, "1"), None, "{bad:?}");
        }
    }
}

/// Randomised robustness and ordering-law checks (a deterministic PRNG, no coverage guidance;
/// coverage-guided fuzzing lives in `fuzz/`).
#[cfg(test)]
mod properties {
    use super::*;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn string(&mut self, alphabet: &[u8], max: usize) -> String {
            let len = (self.next() % max as u64) as usize + 1;
            (0..len)
                .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
                .collect()
        }
    }

    /// Check antisymmetry, reflexivity and transitivity on generated triples.
    /// Returns (pairs compared, pairs where a version was invalid).
    fn laws(
        scheme: Scheme,
        seed: u64,
        gen: &mut dyn FnMut(&mut XorShift) -> String,
    ) -> (usize, usize) {
        let mut rng = XorShift(seed);
        let (mut compared, mut invalid) = (0, 0);
        for _ in 0..20_000 {
            let (a, b, c) = (gen(&mut rng), gen(&mut rng), gen(&mut rng));
            let (Some(ab), Some(ba)) = (compare(scheme, &a, &b), compare(scheme, &b, &a)) else {
                invalid += 1;
                continue;
            };
            compared += 1;
            assert_eq!(
                ab,
                ba.reverse(),
                "{scheme:?}: antisymmetry fails for {a:?} {b:?}"
            );
            assert_eq!(
                compare(scheme, &a, &a),
                Some(Ordering::Equal),
                "{scheme:?}: {a:?} != itself"
            );
            if let (Some(bc), Some(ac)) = (compare(scheme, &b, &c), compare(scheme, &a, &c)) {
                if ab != Ordering::Greater && bc != Ordering::Greater {
                    assert_ne!(
                        ac,
                        Ordering::Greater,
                        "{scheme:?}: transitivity fails for {a:?} <= {b:?} <= {c:?}"
                    );
                }
            }
        }
        (compared, invalid)
    }

    #[test]
    fn dpkg_ordering_laws() {
        let (compared, _) = laws(Scheme::Dpkg, 0x1234_5678, &mut |r| {
            r.string(b"0123456789.+~-:ab", 12)
        });
        assert!(
            compared > 10_000,
            "too few valid dpkg versions generated: {compared}"
        );
    }

    #[test]
    fn apk_ordering_laws() {
        let (compared, _) = laws(Scheme::Apk, 0x9abc_def0, &mut |r| {
            r.string(b"0123456789._-rpabc", 12)
        });
        assert!(
            compared > 100,
            "too few valid apk versions generated: {compared}"
        );
    }

    #[test]
    fn rpm_ordering_laws() {
        let (compared, _) = laws(Scheme::Rpm, 0x7777_1111, &mut |r| {
            r.string(b"0123456789.~^-:_ab", 12)
        });
        assert!(
            compared > 10_000,
            "too few valid rpm versions generated: {compared}"
        );
    }

    #[test]
    fn pep440_ordering_laws() {
        let (compared, _) = laws(Scheme::Pep440, 0x0fed_cba9, &mut |r| {
            r.string(b"0123456789.abrcpostdev+!", 12)
        });
        assert!(
            compared > 100,
            "too few valid PEP 440 versions generated: {compared}"
        );
    }

    #[test]
    fn semver_ordering_laws() {
        const TAILS: &[&str] = &[
            "",
            "-alpha",
            "-alpha.1",
            "-alpha.beta",
            "-beta.2",
            "-rc.1",
            "-0",
            "-1.a",
            "+build.5",
            "-rc.1+b",
        ];
        let (compared, invalid) = laws(Scheme::Semver, 0x5555_aaaa, &mut |r| {
            let tail = TAILS[(r.next() % TAILS.len() as u64) as usize];
            format!("{}.{}.{}{tail}", r.next() % 3, r.next() % 3, r.next() % 3)
        });
        assert_eq!(invalid, 0);
        assert!(compared > 10_000);
    }

    /// Joins 1..=`max` random `pieces`, each but the first preceded by a random separator.
    fn join(r: &mut XorShift, first: &[&str], pieces: &[&str], seps: &[&str], max: u64) -> String {
        let pick = |r: &mut XorShift, from: &[&str]| {
            from[(r.next() % from.len() as u64) as usize].to_string()
        };
        let mut s = pick(r, first);
        for _ in 0..r.next() % max {
            s += &pick(r, seps);
            s += &pick(r, pieces);
        }
        s
    }

    #[test]
    fn maven_ordering_laws() {
        const PIECES: &[&str] = &[
            "0", "1", "2", "10", "01", "", "alpha", "a", "b", "m", "rc", "cr", "snapshot", "ga",
            "final", "release", "sp", "foo", "x",
        ];
        let (compared, _) = laws(Scheme::Maven, 0x3141_5926, &mut |r| {
            join(r, PIECES, PIECES, &[".", "-", ""], 6)
        });
        assert!(
            compared > 10_000,
            "too few valid Maven versions generated: {compared}"
        );
    }

    #[test]
    fn rubygems_ordering_laws() {
        const PIECES: &[&str] = &[
            "0", "1", "2", "10", "00", "a", "b", "pre", "rc", "A", "0a", "a1",
        ];
        let (compared, _) = laws(Scheme::RubyGems, 0x2718_2818, &mut |r| {
            join(r, &["0", "1", "2", "10"], PIECES, &[".", ".", "-"], 6)
        });
        assert!(
            compared > 10_000,
            "too few valid RubyGems versions generated: {compared}"
        );
    }

    #[test]
    fn packagist_ordering_laws() {
        const PIECES: &[&str] = &[
            "0", "1", "2", "10", "dev", "alpha", "a", "beta", "b", "RC", "rc", "patch", "pl", "p",
        ];
        let (compared, _) = laws(Scheme::Packagist, 0x1618_0339, &mut |r| {
            join(
                r,
                &["0", "1", "v1", "2", "10"],
                PIECES,
                &[".", "-", "_", "+", ""],
                6,
            )
        });
        assert!(
            compared > 10_000,
            "too few valid Packagist versions generated: {compared}"
        );
    }

    #[test]
    fn nuget_ordering_laws() {
        const LABELS: &[&str] = &[
            "alpha", "Alpha", "beta", "1", "2", "10", "0", "rc", "x-y", "-1",
        ];
        let (compared, invalid) = laws(Scheme::NuGet, 0x1414_2135, &mut |r| {
            let mut v = join(r, &["0", "1", "2", "10"], &["0", "1", "2", "01"], &["."], 4);
            if r.next() % 2 == 0 {
                v += "-";
                v += &join(r, LABELS, LABELS, &["."], 3);
            }
            if r.next() % 4 == 0 {
                v += "+b.1";
            }
            v
        });
        assert_eq!(invalid, 0);
        assert!(compared > 10_000);
    }
}
