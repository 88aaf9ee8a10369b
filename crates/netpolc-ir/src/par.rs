//! Work spread over the machine's cores, with results in the order of one thread: the
//! proof's sides, the read-back of emitted objects, the back ends' compiles and the
//! parts of each compile (objects per group, validation), the grouping of rules into
//! objects by shares of their keys ([`by_share`]), and large sorts ([`order`],
//! [`permute`]). Also the freeing of large structures beside the next steps
//! ([`drop_later`]), or, for what a command frees last, at the process's exit
//! ([`drop_last`] after [`exit_frees`]).

use std::cell::Cell;

thread_local! {
    /// The share of the cores this thread's work may use, when it was given one
    /// ([`with_threads`]).
    static SHARE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// How many threads to run on: the machine's cores, at most 8; or the share of them that
/// the caller's thread was given ([`with_threads`]).
pub fn threads() -> usize {
    SHARE.with(Cell::get).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 8)
    })
}

/// `f` with [`threads`] answering `n` (at least 1) on this thread: work already spread
/// over the cores (one back end per core) does not spread its parts again, which would
/// only add threads and frees across threads.
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    /// Puts the previous share back, also when `f` panics.
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SHARE.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SHARE.with(|s| s.replace(Some(n.max(1)))));
    f()
}

/// `f` for each of `0..n`, in order, on up to `threads` threads; one thread when `n` is
/// below `min_per_thread` per thread. The indices are cut into a few ranges per thread
/// (of at least `min_per_thread`) that the threads take in turn, as [`flat_map_into`]
/// does: a thread whose items were cheap, or whose core was slower, does not leave the
/// other idle at the end.
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
    let chunk = n.div_ceil(threads * CHUNKS_PER_THREAD).max(min_per_thread);
    let chunks = n.div_ceil(chunk);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let mut parts: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if c >= chunks {
                            break done;
                        }
                        let part: Vec<T> = (c * chunk..((c + 1) * chunk).min(n)).map(f).collect();
                        done.push((c, part));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    parts.sort_unstable_by_key(|(c, _)| *c);
    let mut out = Vec::with_capacity(n);
    parts
        .into_iter()
        .for_each(|(_, mut part)| out.append(&mut part));
    out
}

/// What `f` pushes for each of `0..n`, in order, as one vector, on up to `threads`
/// threads (each takes one contiguous range); one thread when `n` is below
/// `min_per_thread` per thread. On one thread everything is pushed straight into the
/// result (no vector per item, no second copy to join).
pub fn flat_map<U: Send>(
    threads: usize,
    n: usize,
    min_per_thread: usize,
    f: impl Fn(usize, &mut Vec<U>) + Sync,
) -> Vec<U> {
    flat_map_into(threads, (0..n).collect(), min_per_thread, f)
}

/// [`flat_map`] over items taken by value: what `f` pushes for each item, in order.
/// The items are cut into a few chunks per thread (of at least `min_per_thread` items)
/// that the threads take in turn, so that a thread whose items were cheap takes more
/// and none idles at the end while another still has half its share left.
pub fn flat_map_into<T: Send, U: Send>(
    threads: usize,
    items: Vec<T>,
    min_per_thread: usize,
    f: impl Fn(T, &mut Vec<U>) + Sync,
) -> Vec<U> {
    let n = items.len();
    let threads = threads.min(n / min_per_thread.max(1)).max(1);
    let mut out = Vec::new();
    if threads == 1 {
        items.into_iter().for_each(|item| f(item, &mut out));
        return out;
    }
    let chunk = n.div_ceil(threads * CHUNKS_PER_THREAD).max(min_per_thread);
    let mut items = items.into_iter();
    let chunks: Vec<std::sync::Mutex<Vec<T>>> = (0..n.div_ceil(chunk))
        .map(|_| std::sync::Mutex::new(items.by_ref().take(chunk).collect()))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (f, chunks, next) = (&f, &chunks, &next);
    let mut parts: Vec<(usize, Vec<U>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(items) = chunks.get(c) else {
                            break done;
                        };
                        let items = std::mem::take(
                            &mut *items
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner),
                        );
                        let mut part = Vec::new();
                        items.into_iter().for_each(|item| f(item, &mut part));
                        done.push((c, part));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    parts.sort_unstable_by_key(|(c, _)| *c);
    out.reserve_exact(parts.iter().map(|(_, p)| p.len()).sum());
    parts
        .into_iter()
        .for_each(|(_, mut part)| out.append(&mut part));
    out
}

/// How many chunks per thread [`flat_map_into`] cuts its items into, at most.
const CHUNKS_PER_THREAD: usize = 8;

/// Sorts `v` (as `sort_unstable`: equal elements in any order) on up to two threads:
/// each half sorted in place on its own, then merged. Made for vectors that are mostly
/// in order already (rules joined from parts each sorted on its own): a vector in order
/// is only checked (one comparison per element, no element moved), the halves are
/// sorted by the standard library's run-adaptive sort (runs already in order are merged,
/// not sorted again), and halves that end up in order are not merged.
pub fn sort<T: Ord + Send>(threads: usize, v: &mut Vec<T>) {
    if v.is_sorted() {
        return;
    }
    if threads < 2 || v.len() < 4096 {
        v.sort();
        return;
    }
    let mid = v.len() / 2;
    let (a, b) = v.split_at_mut(mid);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| b.sort());
        a.sort();
        other
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
    });
    if v[mid - 1] <= v[mid] {
        return;
    }
    let b = v.split_off(mid);
    let a = std::mem::take(v);
    v.reserve_exact(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let next = if y < x { b.next() } else { a.next() };
        v.extend(next);
    }
    v.extend(a);
    v.extend(b);
}

/// Drops `value` on a thread of its own, so that freeing a large structure overlaps the
/// caller's next steps (when no thread can be started, the value is dropped here, with
/// the closure that held it).
pub fn drop_later<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().spawn(move || drop(value));
}

/// Set by [`exit_frees`]: the process exits once its current command is done.
static EXIT_FREES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that the process exits once its current command is done, so that [`drop_last`]
/// leaves what it is given to the exit (which returns the whole address space at once)
/// instead of freeing it allocation by allocation. For commands that only print once
/// the work is done (`render`, `fn`); a long-lived caller (a test, a library user) never
/// calls it.
pub fn exit_frees() {
    EXIT_FREES.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Frees `value`, which the command no longer needs and which nothing after it would
/// reuse the memory of: left to the process's exit after [`exit_frees`] (freeing the
/// model and evaluators of a large proof on other threads takes the cores the caller
/// still writes its output on), else dropped on a thread of its own ([`drop_later`]).
///
/// Only for values whose `Drop` frees memory and nothing else: after [`exit_frees`] it
/// never runs, so a file, lock or temporary directory given here would be left behind.
pub fn drop_last<T: Send + 'static>(value: T) {
    if EXIT_FREES.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(value);
    } else {
        drop_later(value);
    }
}

/// Frees `value` now, or leaves it to the process's exit after [`exit_frees`]: for a
/// value that borrows and so cannot be sent to a thread of its own ([`drop_last`]).
/// The same rule holds: only values whose `Drop` frees memory and nothing else.
pub fn forget_last<T>(value: T) {
    if EXIT_FREES.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(value);
    } else {
        drop(value);
    }
}

/// Which of `shares` parts of some work the key `key` belongs to (FNV-1a of its bytes):
/// the same on every machine and run. For a serial pass that groups by a key (such as a
/// namespace): each thread groups the keys of its own share, and no group is split.
pub fn share_of(key: &str, shares: usize) -> usize {
    let hash = crate::naming::fnv1a(key.as_bytes());
    usize::try_from(hash % shares.max(1) as u64).unwrap_or(0)
}

/// The groups of a serial grouping pass, built on up to `threads` threads and returned
/// in key order: `build(share, shares)` builds the map of the keys of one share (those
/// whose [`share_of`] is `share`), going through the items in order, so a group is the
/// same whichever thread built it and no key is in two maps.
pub fn by_share<K: Ord + Send, V: Send>(
    threads: usize,
    build: impl Fn(usize, usize) -> std::collections::BTreeMap<K, V> + Sync,
) -> Vec<(K, V)> {
    let shares = threads.max(1);
    let mut groups: Vec<(K, V)> = map(shares, shares, 1, |share| build(share, shares))
        .into_iter()
        .flatten()
        .collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// The first index (in index order) of an item equal to an earlier one, given `order`
/// (as [`order`] gives, ties in index order) and `same(a, b)`, whether items `a` and `b`
/// are equal: in each run of equal items, every one after the first is a repeat.
pub fn first_repeat(order: &[usize], same: impl Fn(usize, usize) -> bool) -> Option<usize> {
    order
        .windows(2)
        .filter(|w| same(w[0], w[1]))
        .map(|w| w[1])
        .min()
}

/// The indices of `keys` in the order of the keys, ties in index order (the order a
/// stable sort gives), sorted on up to two threads ([`sort`]). For a large serial sort
/// whose comparisons chase pointers (strings of objects scattered over the heap): the
/// other core shares the comparisons, and the objects themselves are moved once
/// ([`permute`]), not at every step of the sort.
pub fn order<K: Ord + Send>(threads: usize, keys: impl IntoIterator<Item = K>) -> Vec<usize> {
    let mut keyed: Vec<(K, usize)> = keys.into_iter().zip(0..).collect();
    sort(threads, &mut keyed);
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Puts `items` in the order of `order` (a permutation of their indices, as [`order`]
/// gives: the item at `order[k]` moves to `k`), in place, by swaps along each cycle: no
/// second vector of the items is held.
///
/// `order` must be a permutation of `0..items.len()`; otherwise the items are left in
/// an unspecified order (never lost, never duplicated: only swaps are made).
pub fn permute<T>(items: &mut [T], order: &[usize]) {
    let n = items.len().min(order.len());
    let mut placed = vec![false; n];
    for start in 0..n {
        if placed[start] {
            continue;
        }
        // Along the cycle of `start`: each position takes the item its order names,
        // whose place is next; the cycle closes on the item first at `start`.
        let mut at = start;
        loop {
            placed[at] = true;
            let from = order[at];
            if from >= n || from == start || placed[from] {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
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
            // Ranges of every size taken in turn, the last one short, uneven work.
            for (n, min) in [(1, 1), (7, 1), (64, 3), (1001, 1), (1001, 200), (5000, 64)] {
                let v = super::map(threads, n, min, |i| {
                    if i % 97 == 0 {
                        std::thread::yield_now();
                    }
                    i
                });
                assert_eq!(v, (0..n).collect::<Vec<_>>(), "{threads} {n} {min}");
            }
        }
        assert!(super::map(4, 0, 1, |i| i).is_empty());
    }

    #[test]
    fn with_threads_sets_the_share_on_this_thread_only() {
        let machine = super::threads();
        let (inside, spawned) = super::with_threads(1, || {
            let spawned = std::thread::spawn(super::threads).join().unwrap();
            (super::threads(), spawned)
        });
        assert_eq!((inside, spawned), (1, machine));
        assert_eq!(super::threads(), machine);
        assert_eq!(super::with_threads(0, super::threads), 1);
        let caught = std::panic::catch_unwind(|| super::with_threads(3, || panic!("boom")));
        assert!(caught.is_err());
        assert_eq!(super::threads(), machine);
    }

    #[test]
    fn flat_map_keeps_the_order() {
        for (threads, min) in [(1, 1), (2, 1), (3, 7), (8, 1), (8, 2000)] {
            let v = super::flat_map(threads, 300, min, |i, out| out.extend(0..i % 4));
            let want: Vec<usize> = (0..300).flat_map(|i| 0..i % 4).collect();
            assert_eq!(v, want);
        }
        assert!(super::flat_map(4, 0, 1, |i, out: &mut Vec<usize>| out.push(i)).is_empty());
    }

    #[test]
    fn flat_map_into_keeps_the_order() {
        for (threads, min) in [(1, 1), (2, 1), (3, 7), (8, 1), (8, 2000)] {
            let items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
            let v = super::flat_map_into(threads, items, min, |s, out| {
                out.push(s.clone());
                out.push(s + "!");
            });
            let want: Vec<String> = (0..1000)
                .flat_map(|i| [i.to_string(), format!("{i}!")])
                .collect();
            assert_eq!(v, want);
        }
        assert!(super::flat_map_into(4, Vec::<u8>::new(), 1, |i, out| out.push(i)).is_empty());
    }

    #[test]
    fn groups_by_share_are_the_groups_of_one_pass() {
        use std::collections::BTreeMap;
        let items: Vec<(String, usize)> =
            (0..500).map(|i| (format!("ns-{:03}", i % 37), i)).collect();
        let build = |share: usize, shares: usize| {
            let mut m: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (k, i) in &items {
                if super::share_of(k, shares) == share {
                    m.entry(k.as_str()).or_default().push(*i);
                }
            }
            m
        };
        let one: Vec<(&str, Vec<usize>)> = build(0, 1).into_iter().collect();
        assert_eq!(one.len(), 37);
        for threads in 1..5 {
            assert_eq!(super::by_share(threads, build), one, "{threads} threads");
        }
    }

    #[test]
    fn the_first_repeat_is_the_earliest_in_index_order() {
        // Sorted: a(1) a(3) a(5) b(0) b(2) c(4); the repeats are 3, 5 and 2.
        let keys = ["b", "a", "b", "a", "c", "a"];
        let order = super::order(2, keys.iter());
        assert_eq!(
            super::first_repeat(&order, |a, b| keys[a] == keys[b]),
            Some(2)
        );
        let unique = ["x", "y", "z"];
        let order = super::order(2, unique.iter());
        assert_eq!(
            super::first_repeat(&order, |a, b| unique[a] == unique[b]),
            None
        );
        assert_eq!(super::first_repeat(&[], |_, _| true), None);
    }

    #[test]
    fn a_value_dropped_later_is_dropped() {
        struct Signal(std::sync::mpsc::Sender<()>);
        impl Drop for Signal {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        super::drop_later(Signal(tx));
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn shares_are_fixed_and_cover_every_part() {
        assert_eq!(super::share_of("anything", 1), 0);
        assert_eq!(super::share_of("anything", 0), 0);
        // FNV-1a, 64 bits: fixed values, whatever the machine.
        assert_eq!(
            super::share_of("", 7),
            (0xcbf2_9ce4_8422_2325_u64 % 7) as usize
        );
        assert_eq!(
            super::share_of("a", 1 << 20),
            (0xaf63_dc4c_8601_ec8c_u64 % (1 << 20)) as usize
        );
        let mut seen = [0usize; 3];
        for i in 0..300 {
            seen[super::share_of(&format!("ns-{i:04}"), 3)] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
    }

    #[test]
    fn order_is_a_stable_sort_on_any_number_of_threads() {
        for threads in 1..4 {
            for n in [0usize, 1, 5, 4095, 4096, 10_000] {
                // Few distinct keys: many ties, which keep their index order.
                let keys: Vec<u64> = (0..n as u64).map(|i| (i * 7919 + 13) % 17).collect();
                let got = super::order(threads, keys.iter());
                let mut want: Vec<usize> = (0..n).collect();
                want.sort_by_key(|&i| keys[i]);
                assert_eq!(got, want, "{threads} threads, {n} keys");
                let mut items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
                super::permute(&mut items, &got);
                assert_eq!(
                    items,
                    want.iter().map(|i| i.to_string()).collect::<Vec<_>>()
                );
            }
        }
        // Every permutation of four items.
        let mut perms: Vec<Vec<usize>> = vec![vec![]];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for p in &perms {
                for i in (0..4).filter(|i| !p.contains(i)) {
                    longer.push([p.as_slice(), &[i]].concat());
                }
            }
            perms = longer;
        }
        assert_eq!(perms.len(), 24);
        for p in perms {
            let mut items = vec!['a', 'b', 'c', 'd'];
            super::permute(&mut items, &p);
            let want: Vec<char> = p.iter().map(|&i| ['a', 'b', 'c', 'd'][i]).collect();
            assert_eq!(items, want, "{p:?}");
        }
        // Not a permutation: nothing lost.
        let mut items = vec!['a', 'b', 'c'];
        super::permute(&mut items, &[1, 1, 7]);
        items.sort_unstable();
        assert_eq!(items, ['a', 'b', 'c']);
    }

    #[test]
    fn sort_sorts_as_one_thread_does() {
        for n in [0, 1, 10, 4095, 4096, 10_001] {
            let inputs: [Vec<u64>; 4] = [
                // A scramble with repeats.
                (0..n).map(|i| (i * 7919 + 13) % 1000).collect(),
                // In order already.
                (0..n).map(|i| i / 3).collect(),
                // Sorted runs, out of order with each other (rules joined from parts).
                (0..n)
                    .map(|i| (i / (n / 5 + 1) * 3 % 5) * n + i % (n / 5 + 1))
                    .collect(),
                // Two sorted halves whose join is out of order in the middle only.
                (0..n)
                    .map(|i| {
                        if i < n / 2 {
                            2 * i + 1
                        } else {
                            2 * (i - n / 2)
                        }
                    })
                    .collect(),
            ];
            for v in inputs {
                let mut want = v.clone();
                want.sort_unstable();
                for threads in [1, 2, 8] {
                    let mut got = v.clone();
                    super::sort(threads, &mut got);
                    assert_eq!(got, want, "{n} items, {threads} threads");
                }
            }
        }
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
