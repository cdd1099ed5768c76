//! Image builders. `customize` is daemonless: it adds a deterministic layer and config changes
//! on top of a base image, writing straight into the layout.

pub mod customize;
pub mod layer;

pub use customize::{customize, Base, BuiltImage, CustomizeOptions, FileSpec};
