//! The module's file locks: the per-item lock (one module process at a time
//! works on one certificate) and the same kind of lock for the other
//! writers that must not overlap (the bulk sync and the service import of a
//! module, the catalog's template names file).
//!
//! An exclusive `flock`-style lock (`std::fs::File::lock`) on
//! `var/pmsslreseller/locks/item-<id>.lock`. The kernel drops it when the
//! process dies, so a crash never leaves a stale lock. Two `open` runs started
//! together for one item (BILLmanager rerunning an operation while the first
//! run still works) serialise here; the second one then sees the first one's
//! recorded order and does not order again.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// Held while alive; dropping it releases the lock.
#[derive(Debug)]
pub struct ItemLock {
    _file: File,
    path: PathBuf,
}

impl ItemLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the lock of `item`, waiting up to `wait` for another holder.
    pub fn acquire(lock_dir: &Path, item: u64, wait: Duration) -> Result<ItemLock> {
        let (file, path) = open_lock_file(lock_dir, &format!("item-{item}.lock"))?;
        match lock_within(&file, wait) {
            Ok(true) => Ok(ItemLock { _file: file, path }),
            Ok(false) => Err(ModuleError::new(
                ErrorKind::Locked,
                format!(
                    "another pmsslreseller process has been working on item {item} for more than {}s; \
                     the operation is retried later. If no such process exists (ps ax | grep pmsslreseller), \
                     check {}",
                    wait.as_secs(),
                    path.display()
                ),
            )
            .with_object(format!("item {item}"))),
            Err(e) => Err(ModuleError::new(
                ErrorKind::Internal,
                format!("cannot lock {}: {e}", path.display()),
            )),
        }
    }
}

/// Lock `file` exclusively, trying again until `wait` has passed (zero:
/// once); `Ok(false)` when another process still holds it then. Every
/// module lock waits this way.
pub fn lock_within(file: &File, wait: Duration) -> std::io::Result<bool> {
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The lock file `name` under `lock_dir` (both created when missing), not
/// yet locked: every module lock (this one, the service import's) is taken on
/// such a file, so the kernel drops it when the process dies.
pub fn open_lock_file(lock_dir: &Path, name: &str) -> Result<(File, PathBuf)> {
    std::fs::create_dir_all(lock_dir).map_err(|e| {
        ModuleError::new(
            ErrorKind::Config,
            format!(
                "cannot create the lock directory {}: {e}{}",
                lock_dir.display(),
                crate::paths::write_hint(&e)
            ),
        )
        .with_object(lock_dir.display().to_string())
    })?;
    let path = lock_dir.join(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            ModuleError::new(
                ErrorKind::Config,
                format!(
                    "cannot open the lock file {}: {e}{}",
                    path.display(),
                    crate::paths::write_hint(&e)
                ),
            )
            .with_object(path.display().to_string())
        })?;
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_then_fails_and_release_frees() {
        let dir = tempfile::tempdir().unwrap();
        let first = ItemLock::acquire(dir.path(), 7, Duration::ZERO).unwrap();
        let e = ItemLock::acquire(dir.path(), 7, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Locked);
        // Another item is independent.
        let _other = ItemLock::acquire(dir.path(), 8, Duration::ZERO).unwrap();
        drop(first);
        let again = ItemLock::acquire(dir.path(), 7, Duration::ZERO).unwrap();
        assert!(again.path().ends_with("item-7.lock"));
    }

    #[test]
    fn waiter_gets_the_lock_only_after_release() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let first = ItemLock::acquire(dir.path(), 1, Duration::ZERO).unwrap();
        let trying = Arc::new(AtomicBool::new(false));
        let released = Arc::new(AtomicBool::new(false));
        let d = dir.path().to_path_buf();
        let (t, r) = (trying.clone(), released.clone());
        // The waiter records whether the holder had already let go at the
        // moment it got the lock: with a lock that does not block, it gets it
        // while the holder still holds it, and sees `false`.
        let waiter = std::thread::spawn(move || {
            t.store(true, Ordering::SeqCst);
            let lock = ItemLock::acquire(&d, 1, Duration::from_secs(30));
            (lock.is_ok(), r.load(Ordering::SeqCst))
        });
        while !trying.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // Room for a broken lock to let the waiter through.
        std::thread::sleep(Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        drop(first);
        let (got_it, after_release) = waiter.join().unwrap();
        assert!(got_it, "the waiter gets the lock once it is free");
        assert!(
            after_release,
            "the waiter got the lock while it was still held"
        );
    }
}
