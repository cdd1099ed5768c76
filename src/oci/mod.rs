//! OCI images: types, references, the local layout store and the registry transport.
//!
//! Mirrors go-containerregistry's split: [`types`] is pure data, [`reference`] parses names,
//! [`layout`] is the on-disk store, [`remote`] talks to registries, and [`Store`] lets the
//! layers above treat both the same way.

pub mod copy;
pub mod layout;
pub mod reference;
pub mod remote;
pub mod store;
pub mod tarball;
pub mod types;

pub use layout::Layout;
pub use reference::{ImageRef, LayoutRef, RegistryRef};
pub use remote::Remote;
pub use store::Store;
pub use types::{Descriptor, Digest, ImageConfig, Index, Manifest};
