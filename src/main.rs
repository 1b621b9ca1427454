//! Entry point: BILLmanager's `--command` calls and the admin CLI.

fn main() {
    // Before anything reads the password: a core dump would hold it.
    pmsslreseller::hardening::no_core_dumps();
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(pmsslreseller::run(argv));
}
