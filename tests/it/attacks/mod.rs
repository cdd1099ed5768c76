//! The project's own attack suite (issue 8): each case plays an attacker or a careless user and
//! asserts the exit code, the message, that nothing was published or tagged, and that no canary
//! secret appears in any output. One module per area.

mod dockerfile;
mod evidence;
mod export;
mod init;
mod inputs;
mod policy;
mod redteam;
mod resolved;
mod secrets;
pub(crate) mod transport;
