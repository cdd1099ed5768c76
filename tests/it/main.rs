//! Integration tests: the real binary against real Git, a real registry and a real Docker engine
//! (started by `.ci/run`). With CI=true a test that needs the registry or Docker fails when they
//! are missing; elsewhere it is skipped with a printed reason.

mod support;

mod attacks;
mod audit;
mod auth;
mod bad_input;
mod base_updates;
mod buildkit;
mod bundles;
mod catalogers;
mod ci_outputs;
mod db;
mod db_artifact;
mod deploy_policy;
mod docker_build;
mod external_scanners;
mod index_bases;
mod init;
mod keyless;
mod kms;
mod languages;
mod multi_platform;
mod osv_parity;
mod peers;
mod pkcs11;
mod register;
mod registry;
mod rescan;
mod run_local;
mod sbom_scan;
mod scan_gate;
mod syft_parity;
mod terminal;
mod verify;
mod vex;
mod vex_base;
mod vex_verify;
