//! Build script of billmgr-sim: links the `billmgr-sim` binary as a position-dependent (non-PIE)
//! executable.
//!
//! Why: in tests and benchmarks this binary is the `mgrctl` stand-in, started once per call —
//! a 10,000-certificate bulk sync starts ~32,500 of them. As a PIE, every start made the dynamic
//! loader apply the binary's ~15,000 relative relocations and dirty the pages holding them
//! (callgrind: 0.65 M instructions per core-mode client call → 0.44 M; perf: 180 → 108 page
//! faults, ~1.0 → ~0.85 ms CPU; 150 relocations are left). Address randomisation of a test stand-in buys nothing. The
//! module's own binary is untouched.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
