//! Attack cases: evidence.
