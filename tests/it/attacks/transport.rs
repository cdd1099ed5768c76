//! Attack cases: transport.
