//! Work spread over the machine's cores, with results in the order of one thread: the
//! proof's sides, the read-back of emitted objects, the back ends' compiles.

/// How many threads to run on: the machine's cores, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8)
}

/// `f` for each of `0..n`, in order, on up to `threads` threads (each takes one
/// contiguous range); one thread when `n` is below `min_per_thread` per thread.
pub fn map<T: Send>(
    threads: usize,
    n: usize,
    min_per_thread: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let threads = threads.min(n / min_per_thread.max(1)).max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let chunk = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    (k * chunk..((k + 1) * chunk).min(n))
                        .map(f)
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn map_keeps_the_order() {
        for threads in [1, 2, 3, 8] {
            let v = super::map(threads, 1000, 10, |i| i * 2);
            assert_eq!(v, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(super::map(4, 0, 1, |i| i).is_empty());
    }
}
