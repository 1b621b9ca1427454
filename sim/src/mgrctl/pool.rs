//! Where a call's database connection comes from: its own process's (direct mode) or the core's
//! pool (core mode), behind one [`DbSlot`] so that `funcs::execute` is the same code in both.
//!
//! The pool opens connections on demand, at most [`MAX_CONNECTIONS`] at once: a test run starts
//! many cores, and MariaDB's `max_connections` (151 by default) is shared by all of them. An idle
//! connection is kept for the next call with the same `DB*` settings; tests rewrite
//! billmgr-sim.conf between calls, so a connection opened for other settings is closed rather
//! than reused. A connection whose call failed in the database is never reused (it may be broken
//! or inside a transaction).

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::conf::Conf;
use super::db::{connect, Db};
use super::SimError;

/// Connections a core holds at most (8 concurrent module workers need 8).
pub const MAX_CONNECTIONS: usize = 16;
/// How long a call waits for a free connection before it is refused.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(30);

/// The `DB*` settings a connection was opened with.
type Settings = BTreeMap<String, String>;

#[derive(Default)]
struct State {
    idle: Vec<(Settings, Db)>,
    /// Connections open, idle or in use.
    open: usize,
}

pub struct Pool {
    state: Mutex<State>,
    freed: Condvar,
}

impl Pool {
    pub fn new() -> Pool {
        Pool {
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left a consistent state (every change
        // is one push, remove or counter step), so the pool goes on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection with `conf`'s settings, else a new one while fewer than
    /// [`MAX_CONNECTIONS`] are open, else the first to come free (bounded wait).
    fn take(&self, conf: &Conf) -> Result<(Settings, Db), SimError> {
        let deadline = Instant::now() + WAIT_FOR_CONNECTION;
        let mut state = self.lock();
        loop {
            if let Some(i) = state.idle.iter().position(|(s, _)| *s == conf.db) {
                return Ok(state.idle.swap_remove(i));
            }
            if state.open < MAX_CONNECTIONS {
                state.open += 1;
                drop(state);
                return match connect(conf) {
                    Ok(conn) => Ok((conf.db.clone(), Db::new(conn))),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            if !state.idle.is_empty() {
                // Settings changed: an idle connection of the old ones makes room.
                state.idle.remove(0);
                state.open -= 1;
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SimError::new(
                    "database",
                    "pool",
                    format!(
                        "all {MAX_CONNECTIONS} database connections of the mgrctl core stayed busy for {} s",
                        WAIT_FOR_CONNECTION.as_secs()
                    ),
                ));
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn give_back(&self, settings: Settings, db: Option<Db>) {
        let mut state = self.lock();
        match db {
            Some(db) => state.idle.push((settings, db)),
            None => state.open -= 1,
        }
        drop(state);
        self.freed.notify_one();
    }
}

/// The connection of one call, taken when a function first needs it.
pub struct DbSlot<'p> {
    pool: Option<&'p Pool>,
    held: Option<(Settings, Db)>,
    /// The call failed in the database: close the connection instead of keeping it.
    poisoned: bool,
}

impl<'p> DbSlot<'p> {
    /// A connection of this process's own, closed when the process ends.
    pub fn direct() -> DbSlot<'static> {
        DbSlot {
            pool: None,
            held: None,
            poisoned: false,
        }
    }

    /// A connection of the core's pool, given back when the call is done.
    pub fn pooled(pool: &'p Pool) -> DbSlot<'p> {
        DbSlot {
            pool: Some(pool),
            held: None,
            poisoned: false,
        }
    }

    pub fn get(&mut self, conf: &Conf) -> Result<&mut Db, SimError> {
        let held = match self.held.take() {
            Some(h) => h,
            None => match self.pool {
                Some(pool) => pool.take(conf)?,
                None => (Settings::new(), Db::new(connect(conf)?)),
            },
        };
        Ok(&mut self.held.insert(held).1)
    }

    /// Never hand this call's connection to another call.
    pub fn discard(&mut self) {
        self.poisoned = true;
    }
}

impl Drop for DbSlot<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.pool {
            if let Some((settings, db)) = self.held.take() {
                // A call that panicked may have left its connection mid-transaction.
                let reusable = !self.poisoned && !std::thread::panicking();
                pool.give_back(settings, reusable.then_some(db));
            }
        }
    }
}
