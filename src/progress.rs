//! Progress on stderr for long runs of `build` and `check`: after a second, one line
//! saying what netpolc is doing and for how long, redrawn in place and erased at the end.
//! Only when stderr is a terminal and `--quiet` is not given, so logs, pipes and CI output
//! never see it.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a run stays silent before the first progress line.
pub(crate) const AFTER: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const EVERY: Duration = Duration::from_millis(500);

#[derive(Default)]
struct State {
    stage: String,
    done: bool,
}

/// A progress line drawn by a background thread; dropping it erases the line.
pub(crate) struct Progress {
    shared: Option<Arc<(Mutex<State>, Condvar)>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Progress on stderr when `enabled`; otherwise a no-op.
    pub(crate) fn stderr(enabled: bool) -> Progress {
        if enabled {
            Progress::start(Box::new(std::io::stderr()), AFTER)
        } else {
            Progress {
                shared: None,
                thread: None,
            }
        }
    }

    /// Progress written to `out`, starting `after` the call.
    pub(crate) fn start(mut out: Box<dyn Write + Send>, after: Duration) -> Progress {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let (lock, cv) = &*theirs;
                let mut drawn = false;
                let Ok(mut state) = lock.lock() else { return };
                // `done` is checked before every wait: finish() may have run before this
                // thread first took the lock, and its notification is then long gone.
                while !state.done {
                    let elapsed = started.elapsed();
                    let wait = if elapsed < after {
                        after - elapsed
                    } else {
                        EVERY
                    };
                    state = match cv.wait_timeout(state, wait) {
                        Ok((s, _)) => s,
                        Err(_) => return,
                    };
                    if state.done {
                        break;
                    }
                    let elapsed = started.elapsed();
                    if elapsed >= after && !state.stage.is_empty() {
                        let _ = write!(
                            out,
                            "\r\x1b[2Knetpolc: {} ({}s)",
                            state.stage,
                            elapsed.as_secs()
                        );
                        let _ = out.flush();
                        drawn = true;
                    }
                }
                if drawn {
                    let _ = write!(out, "\r\x1b[2K");
                    let _ = out.flush();
                }
            });
        Progress {
            shared: Some(shared),
            thread: spawned.ok(),
        }
    }

    /// Says what is being done now.
    pub(crate) fn stage(&self, stage: impl Into<String>) {
        if let Some(shared) = &self.shared {
            if let Ok(mut s) = shared.0.lock() {
                s.stage = stage.into();
            }
            shared.1.notify_all();
        }
    }

    /// Stops the thread and erases the line (also done on drop).
    pub(crate) fn finish(&mut self) {
        if let Some(shared) = self.shared.take() {
            if let Ok(mut s) = shared.0.lock() {
                s.done = true;
            }
            shared.1.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(s: &Sink) -> String {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn draws_the_stage_once_due_and_erases_it_at_the_end() {
        let sink = Sink::default();
        let mut p = Progress::start(Box::new(sink.clone()), Duration::ZERO);
        p.stage("rendering");
        // Wait (bounded) for the thread to draw; the assertion is on content, not time.
        for _ in 0..200 {
            if text(&sink).contains("rendering") {
                break;
            }
            p.stage("rendering");
            std::thread::sleep(Duration::from_millis(10));
        }
        p.finish();
        let out = text(&sink);
        assert!(out.starts_with("\r\x1b[2Knetpolc: rendering ("), "{out:?}");
        assert!(out.ends_with("\r\x1b[2K"), "{out:?}");
    }

    #[test]
    fn a_short_run_prints_nothing() {
        let sink = Sink::default();
        let mut p = Progress::start(Box::new(sink.clone()), Duration::from_secs(3600));
        p.stage("rendering");
        p.finish();
        assert_eq!(text(&sink), "");
    }

    #[test]
    fn disabled_progress_has_no_thread() {
        let mut p = Progress::stderr(false);
        p.stage("rendering");
        assert!(p.thread.is_none());
        p.finish();
    }
}
