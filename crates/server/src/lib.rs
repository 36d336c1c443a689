//! The `sluice` server: configuration, telemetry, wiring and the command line. It only wires;
//! behaviour lives in the domain crates and the adapters.

pub mod config;
pub mod cpu;
pub mod demo;
pub mod master_key;
pub mod startup;
pub mod telemetry;
