//! Process hardening at start-up: no core dumps.
//!
//! A core dump of the module holds the upstream password (a trial
//! while hardening against hostile peers found four plain and three
//! url-encoded copies in one). Two cheap calls,
//! made first thing in `main`: `RLIMIT_CORE` 0 (no core file, inherited by
//! the `mgrctl` children) and `PR_SET_DUMPABLE` 0 (no core handed to a
//! `core_pattern` pipe either, and no ptrace attach by other processes of
//! the same user). Failures are ignored: the module must still answer.

/// Switch core dumps off for this process.
pub fn no_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls with valid arguments; nothing is borrowed.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_dumps_are_off_after_the_call() {
        super::no_core_dumps();
        let mut limit = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: a pointer to an rlimit we own; prctl without arguments.
        let (rc, dumpable) = unsafe {
            (
                libc::getrlimit(libc::RLIMIT_CORE, &mut limit),
                libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0),
            )
        };
        assert_eq!(rc, 0);
        assert_eq!((limit.rlim_cur, limit.rlim_max), (0, 0));
        assert_eq!(dumpable, 0);
    }
}
