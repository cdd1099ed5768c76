//! CVSS base scores from vector strings, through the `cvss` crate (v3.0, v3.1 and v4.0; v2
//! vectors, which carry no `CVSS:` prefix, are read as v2).

use std::str::FromStr;

/// The base score of a CVSS vector, or why it cannot be read.
pub fn base_score(vector: &str) -> Result<f64, String> {
    let vector = vector.trim();
    // The crate scores a vector with base metrics missing; a rating needs all of them.
    let required: &[&str] = match vector.split('/').next() {
        Some("CVSS:3.0" | "CVSS:3.1") => &["AV", "AC", "PR", "UI", "S", "C", "I", "A"],
        Some("CVSS:4.0") => &[
            "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
        ],
        Some(v) if v.starts_with("CVSS:") => return Err(format!("unknown CVSS version `{v}`")),
        _ => &["AV", "AC", "Au", "C", "I", "A"],
    };
    let present: Vec<&str> = vector
        .split('/')
        .filter_map(|m| m.split_once(':').map(|(k, _)| k))
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|m| !present.contains(m))
        .collect();
    if !missing.is_empty() {
        return Err(format!("base metric(s) {} missing", missing.join(", ")));
    }
    let parsed = if vector.starts_with("CVSS:") {
        cvss::Cvss::from_str(vector).map_err(|e| e.to_string())?
    } else {
        cvss::v2::Vector::from_str(vector)
            .map(cvss::Cvss::CvssV20)
            .map_err(|e| e.to_string())?
    };
    Ok(parsed.score())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scores() {
        for (vector, score) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:N", 0.0),
            // CVSS v4.0 (FIRST's calculator gives 9.3 for this vector).
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
        ] {
            assert_eq!(base_score(vector), Ok(score), "{vector}");
        }
        assert!(base_score("CVSS:3.1/AV:N").is_err());
        assert!(base_score("CVSS:9.0/AV:N").is_err());
    }
}
