//! `par::drop_last`: a value is freed (on a thread of its own) until the process says it
//! exits after its command (`par::exit_frees`), and left to the exit from then on. A test
//! binary of its own, as `exit_frees` holds for the rest of the process.

use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::Duration;

/// Says on its channel when it is dropped.
struct Signal(Sender<()>);

impl Drop for Signal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn a_value_dropped_last_is_freed_until_the_process_says_it_exits() {
    let (tx, rx) = channel();
    netpolc_ir::par::drop_last(Signal(tx));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(()));

    netpolc_ir::par::exit_frees();
    let (tx, rx) = channel();
    netpolc_ir::par::drop_last(Signal(tx));
    // Forgotten: never dropped, so the sender never sends nor hangs up. Dropped on a
    // thread (as before `exit_frees`), it would have sent within the wait.
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(500)),
        Err(RecvTimeoutError::Timeout)
    );
}
