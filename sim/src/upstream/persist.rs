//! When the world reaches `--state FILE`: in batches. A request that may have changed something
//! only marks the world dirty (`Sim::touch`, under the simulator lock); a background flusher writes
//! at most once per interval (`--state-flush-ms`, default 200). `POST /_sim/flush`, SIGTERM and
//! SIGINT write at once; `--state-flush-ms 0` writes before every answer, as the simulator once did.
//! Writing the whole world after every request cost O(certificates) per request, O(N²) over a
//! run. A simulator killed with SIGKILL loses at most the changes of the last interval.
//!
//! The world is cloned under the simulator lock (a copy is several times cheaper than JSON) and
//! serialised and written outside it, so requests do not wait for the disk.

use super::server::Shared;
use super::state::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default batch interval.
pub const DEFAULT_INTERVAL_MS: u64 = 200;

pub struct Persister {
    /// Also serialises writers: the snapshot taken later is written later.
    store: Mutex<Store>,
    interval: Duration,
    /// The last failure printed, so a flusher retrying every interval does not flood stderr.
    last_error: Mutex<Option<String>>,
}

impl Persister {
    pub fn new(store: Store, interval: Duration) -> Persister {
        Persister {
            store: Mutex::new(store),
            interval,
            last_error: Mutex::new(None),
        }
    }

    /// Writes after every request (`--state-flush-ms 0`) instead of from the flusher.
    pub fn synchronous(&self) -> bool {
        self.interval.is_zero()
    }

    /// Writes the world now if it changed since the last write; `Ok(true)` when the file was
    /// written. A failed write leaves the world dirty, so the next flush tries again.
    pub fn flush(&self, shared: &Shared) -> Result<bool, String> {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if !store.enabled() {
            return Ok(false);
        }
        let snapshot = {
            let mut sim = shared.lock();
            if !sim.dirty {
                return Ok(false);
            }
            sim.dirty = false;
            sim.world.clone()
        };
        let started = Instant::now();
        match store.save(&snapshot) {
            Ok(written) => {
                if let Some(bytes) = written.then(|| store.last_len()) {
                    shared.stats.state_write(started.elapsed(), bytes);
                }
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(written)
            }
            Err(e) => {
                shared.lock().dirty = true;
                Err(e)
            }
        }
    }

    /// [`flush`](Self::flush), reporting a failure on stderr (once until it changes); the
    /// simulator goes on.
    pub fn flush_reporting(&self, shared: &Shared) {
        if let Err(e) = self.flush(shared) {
            let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
            if last.as_deref() != Some(e.as_str()) {
                eprintln!("billmgr-sim upstream: cannot save state: {e}");
                *last = Some(e);
            }
        }
    }

    /// The background flusher (batched mode with a state file only).
    pub fn start_flusher(shared: Arc<Shared>) {
        let interval = shared.persist.interval;
        if interval.is_zero() || !shared.persist.enabled() {
            return;
        }
        std::thread::spawn(move || loop {
            std::thread::sleep(interval);
            shared.persist.flush_reporting(&shared);
        });
    }

    fn enabled(&self) -> bool {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .enabled()
    }
}
