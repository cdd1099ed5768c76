//! Image builders. `customize` is daemonless: it adds a deterministic layer and config changes
//! on top of a base image, writing straight into the layout. `docker` drives the Docker engine
//! and re-packs its result into the layout; `dockerfile` and `context` prepare what it sends.

pub mod context;
pub mod customize;
pub mod docker;
pub mod dockerfile;
pub mod layer;

pub use customize::{customize, Base, BuiltImage, CustomizeOptions, FileSpec};
