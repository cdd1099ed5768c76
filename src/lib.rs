//! cleanpipe: one Git commit in, one signed image digest out, with the evidence to prove it.
//!
//! The library is layered like go-containerregistry: [`oci`] knows images, layouts and
//! registries; [`sign`] adds cosign-format signatures on top; [`build`] makes images;
//! [`pipeline`] reads the pipeline file and runs the five [`stages`] in order. Only [`cli`]
//! prints to the terminal.

pub mod build;
pub mod cli;
pub mod error;
pub mod oci;
pub mod pipeline;
pub mod policy;
pub mod redact;
pub mod sign;
pub mod stages;

pub use error::{Error, ExitCode};
