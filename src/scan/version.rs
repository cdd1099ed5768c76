//! Version ordering per ecosystem: dpkg, apk, rpm, PEP 440 and SemVer (npm, crates.io, Go).
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
}

pub fn compare(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    match scheme {
        Scheme::Dpkg => dpkg(a, b),
        Scheme::Apk => apk(a, b),
        Scheme::Rpm => rpm(a, b),
        Scheme::Pep440 => Some(Pep440::parse(a)?.cmp(&Pep440::parse(b)?)),
        Scheme::Semver => semver(a, b),
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
}
