//! Work spread over the machine's cores, with results in the order of one thread: the
//! proof's sides, the read-back of emitted objects, the back ends' compiles and the
//! parts of each compile (objects per group, validation).

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

/// `f` of each item, taken by value, in order, on up to `threads` threads (each takes one
/// contiguous part); one thread when there are fewer than `min_per_thread` items per
/// thread.
pub fn map_into<T: Send, U: Send>(
    threads: usize,
    items: Vec<T>,
    min_per_thread: usize,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    let n = items.len();
    let threads = threads.min(n / min_per_thread.max(1)).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = n.div_ceil(threads);
    let mut items = items.into_iter();
    let parts: Vec<Vec<T>> = (0..threads)
        .map(|_| items.by_ref().take(chunk).collect())
        .collect();
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// `f` for each of `0..n`, results in order, on up to `threads` threads that each take
/// the next index when done with one: for a few large, uneven items (the back ends), so
/// that at most `threads` of them are in flight (and in memory) at once and no thread
/// idles while another has two left.
pub fn map_taken<T: Send>(threads: usize, n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads.min(n).max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (next, f) = (&next, &f);
    let mut taken: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break out;
                        }
                        out.push((i, f(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    taken.sort_by_key(|(i, _)| *i);
    taken.into_iter().map(|(_, t)| t).collect()
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

    #[test]
    fn map_into_keeps_the_order() {
        for (threads, min) in [(1, 1), (2, 1), (3, 7), (8, 1), (8, 2000)] {
            let items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
            let v = super::map_into(threads, items, min, |s| s + "!");
            let want: Vec<String> = (0..1000).map(|i| format!("{i}!")).collect();
            assert_eq!(v, want);
        }
        assert!(super::map_into(4, Vec::<u8>::new(), 1, |i| i).is_empty());
    }

    #[test]
    fn map_taken_keeps_the_order_and_runs_each_once() {
        for threads in [1, 2, 3, 8] {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let v = super::map_taken(threads, 100, |i| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i * 2
            });
            assert_eq!(v, (0..100).map(|i| i * 2).collect::<Vec<_>>());
            assert_eq!(calls.into_inner(), 100);
        }
        assert!(super::map_taken(4, 0, |i| i).is_empty());
    }
}
