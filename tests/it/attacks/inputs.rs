//! Attack cases: inputs.
