//! `pmsslreseller sync --module N [--dry-run]`: runs the bulk sync
//! (`commands::bulk_sync`) and prints what it reports: progress on a
//! terminal, a dry run's line per due item, a one-line summary always. Exit 1
//! when any item failed or was unreadable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::commands::bulk_sync::{self, Event, Outcome};
use crate::commands::Ctx;
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::args::Args;

/// Run the bulk sync; returns the exit code.
pub fn run(root: &MgrRoot, module: u64, dry_run: bool) -> i32 {
    let config = match Config::load(&root.config_file()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    super::open_log(root, &config);
    crate::logging::set_context(format!("sync module={module}"));
    let ctx = Ctx {
        root: root.clone(),
        config,
        args: Args::default(),
        argv: Vec::new(),
    };
    let terminal = std::io::stderr().is_terminal();
    let mut progress: Option<Progress> = None;
    let outcome = bulk_sync::run(&ctx, module, dry_run, &mut |event| match event {
        Event::Planned(total) => progress = Some(Progress::new(total, terminal)),
        Event::Looked => {
            if let Some(p) = &progress {
                p.tick();
            }
        }
        Event::DryRun(line) => println!("{line}"),
        Event::Failed(item, e) => {
            if terminal {
                eprintln!("\ritem {item}: {e}");
            }
        }
    });
    if let Some(p) = &progress {
        p.finish();
    }
    match outcome {
        Ok(Outcome::Maintenance) => {
            println!(
                "sync module {module}: maintenance mode ({} exists), nothing done",
                root.do_nothing_flag().display()
            );
            0
        }
        Ok(Outcome::Busy) => {
            let line = format!(
                "sync module {module}: another sync of this module is still running; nothing done"
            );
            println!("{line}");
            log::info!("{line}");
            0
        }
        Ok(Outcome::Done(summary)) => {
            let line = if dry_run {
                format!("dry run, nothing changed: {}", summary.line(module))
            } else {
                summary.line(module)
            };
            println!("{line}");
            log::info!("{line}");
            i32::from(summary.errors + summary.unreadable > 0)
        }
        Err(e) => {
            log::error!("sync module {module} failed: {e}");
            eprintln!("error: {e}");
            1
        }
    }
}

/// Progress on a terminal: done/total, rate and time left, at most ten
/// times a second.
struct Progress {
    total: usize,
    show: bool,
    started: Instant,
    state: std::cell::Cell<(usize, Option<Instant>)>,
}

impl Progress {
    fn new(total: usize, show: bool) -> Progress {
        Progress {
            total,
            show,
            started: Instant::now(),
            state: std::cell::Cell::new((0, None)),
        }
    }

    fn tick(&self) {
        let (done, last) = self.state.get();
        let done = done + 1;
        let now = Instant::now();
        let due = last.is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        self.state.set((done, if due { Some(now) } else { last }));
        if self.show && (due || done == self.total) {
            eprint!(
                "\r{}        ",
                progress_line(done, self.total, self.started.elapsed())
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&self) {
        if self.show && self.total > 0 {
            eprint!("\r{:70}\r", "");
            let _ = std::io::stderr().flush();
        }
    }
}

/// `[120/10000] 245/s, 40s left`.
pub fn progress_line(done: usize, total: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if done == 0 || secs <= 0.0 {
        return format!("[{done}/{total}]");
    }
    let rate = done as f64 / secs;
    let left = (total.saturating_sub(done)) as f64 / rate;
    format!(
        "[{done}/{total}] {rate:.0}/s, {} left",
        short_duration(left)
    )
}

fn short_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_count_rate_and_time_left() {
        assert_eq!(progress_line(0, 10_000, Duration::ZERO), "[0/10000]");
        assert_eq!(
            progress_line(1_200, 10_000, Duration::from_secs(5)),
            "[1200/10000] 240/s, 37s left"
        );
        assert_eq!(
            progress_line(100, 10_000, Duration::from_secs(10)),
            "[100/10000] 10/s, 16m30s left"
        );
        assert_eq!(
            progress_line(10_000, 10_000, Duration::from_secs(40)),
            "[10000/10000] 250/s, 0s left"
        );
    }
}
