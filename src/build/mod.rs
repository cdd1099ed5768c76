//! Image builders. `customize` is daemonless: it adds a deterministic layer and config changes
//! on top of a base image, writing straight into the layout. `docker` drives the Docker engine
//! and re-packs its result into the layout; `buildkit` drives buildkitd through `buildctl` and
//! imports the OCI layout it exports; `dockerfile` and `context` prepare what both send.

pub mod buildkit;
pub mod context;
pub mod customize;
pub mod docker;
pub mod dockerfile;
pub mod layer;

pub use customize::{customize, Base, BuiltImage, CustomizeOptions, FileSpec};
