//! Work spread over the machine's cores: thousands of small files to read and check, or the
//! chunks of one large file to parse. Results keep the order of the input.

/// The machine's cores (1 when it cannot tell). Asked once: the standard library reads the
/// cgroup's files each time (three files opened), and a deploy asked twice per migration.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f` on each item, on up to `max_threads` threads, each thread taking at least
/// `min_per_thread` items (fewer items run on this thread: a thread costs more than a small
/// job); results in the order of `items`. The items go in chunks, about four per thread, that
/// threads take as they finish one: a slow chunk does not hold the others up. A panic in `f`
/// is a bug: it goes on up, as it would have on one thread.
pub fn map<T: Send, R: Send>(
    items: Vec<T>,
    min_per_thread: usize,
    max_threads: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let n = items.len();
    let threads = max_threads.min(n / min_per_thread.max(1)).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let size = n.div_ceil(threads * 4).max(min_per_thread.max(1));
    let mut chunks: Vec<Mutex<Option<Vec<T>>>> = Vec::with_capacity(n.div_ceil(size));
    let mut rest = items;
    while !rest.is_empty() {
        let tail = rest.split_off(size.min(rest.len()));
        chunks.push(Mutex::new(Some(rest)));
        rest = tail;
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let (f, chunks, next) = (&f, &chunks, &next);
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = chunks.get(k) else {
                            return mine;
                        };
                        let chunk = slot.lock().ok().and_then(|mut c| c.take());
                        if let Some(chunk) = chunk {
                            mine.push((k, chunk.into_iter().map(f).collect::<Vec<R>>()));
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().flat_map(|(_, r)| r).collect()
}

/// `f` on each item, on up to `max_threads` threads, and `consume` on each result on this
/// thread, in the order of `items`, as soon as it and every result before it are done. At
/// most `window` items are taken ahead of the next one to consume, so that results waiting
/// for an earlier slow one stay few: memory is bounded by the window, not the input. A panic
/// in `f` goes on up.
pub fn for_each_ordered<T: Sync, R: Send>(
    items: &[T],
    max_threads: usize,
    window: usize,
    f: impl Fn(&T) -> R + Sync,
    mut consume: impl FnMut(usize, R),
) {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};
    let n = items.len();
    let threads = max_threads.min(n).max(1);
    if threads == 1 {
        for (i, item) in items.iter().enumerate() {
            consume(i, f(item));
        }
        return;
    }
    let window = window.max(threads);
    let next = AtomicUsize::new(0);
    // How many results were consumed, and a wake-up for threads waiting to take more.
    let consumed = (Mutex::new(0usize), Condvar::new());
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let tx = tx.clone();
                let (f, next, consumed) = (&f, &next, &consumed);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    // The thread holding the next result to consume never waits here.
                    let (count, wake) = consumed;
                    let mut done = count.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *done + window {
                        done = wake.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                    drop(done);
                    if tx.send((i, f(&items[i]))).is_err() {
                        return;
                    }
                })
            })
            .collect();
        drop(tx);
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        let mut expected = 0;
        for (i, r) in rx {
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&expected) {
                consume(expected, r);
                expected += 1;
                let (count, wake) = &consumed;
                *count.lock().unwrap_or_else(|e| e.into_inner()) = expected;
                wake.notify_all();
            }
        }
        for w in workers {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// A value made on another thread from now on, waited for where it is first read: work off
/// the path to what must happen first (a data file's normalized checksum, needed only by its
/// record, is made while its data are sent). Clones share the value.
#[derive(Clone)]
pub struct Later<T>(std::sync::Arc<LaterValue<T>>);

struct LaterValue<T> {
    value: std::sync::OnceLock<T>,
    making: std::sync::Mutex<Option<std::thread::JoinHandle<T>>>,
}

impl<T: Send + Sync + 'static> Later<T> {
    /// A value there already.
    pub fn ready(value: T) -> Later<T> {
        Later(std::sync::Arc::new(LaterValue {
            value: std::sync::OnceLock::from(value),
            making: std::sync::Mutex::new(None),
        }))
    }

    /// `make` run on a thread of its own, starting now.
    pub fn spawn(make: impl FnOnce() -> T + Send + 'static) -> Later<T> {
        Later(std::sync::Arc::new(LaterValue {
            value: std::sync::OnceLock::new(),
            making: std::sync::Mutex::new(Some(std::thread::spawn(make))),
        }))
    }

    /// The value, once made (a panic in `make` goes on up).
    pub fn get(&self) -> &T {
        self.0.value.get_or_init(|| {
            let making = self
                .0
                .making
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match making.map(std::thread::JoinHandle::join) {
                Some(Ok(value)) => value,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                None => panic!("a later value whose making panicked was read again"),
            }
        })
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Later<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.value.get() {
            Some(v) => v.fmt(f),
            None => f.write_str("(being made)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{for_each_ordered, map, Later};

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_split() {
        for n in [0, 1, 2, 3, 7, 64, 65, 1000] {
            for min in [1, 2, 64] {
                let items: Vec<usize> = (0..n).collect();
                let out = map(items, min, 3, |i| i * 2);
                assert_eq!(
                    out,
                    (0..n).map(|i| i * 2).collect::<Vec<_>>(),
                    "n={n} min={min}"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "a bug in one item")]
    fn a_panic_in_one_item_goes_on_up() {
        let _ = map((0..100).collect(), 1, 4, |i: i32| {
            if i == 57 {
                panic!("a bug in one item");
            }
            i
        });
    }

    #[test]
    fn ordered_results_come_in_order_with_few_waiting() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for n in [0, 1, 2, 5, 100, 1000] {
            let consumed = AtomicUsize::new(0);
            let mut seen = Vec::new();
            let items: Vec<usize> = (0..n).collect();
            for_each_ordered(
                &items,
                3,
                4,
                |&i| {
                    // No item is started more than the window ahead of the next to consume.
                    assert!(
                        i < consumed.load(Ordering::SeqCst) + 4,
                        "item {i} too early"
                    );
                    // Some are slow: the later ones would pile up without the window.
                    if i % 50 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    i * 3
                },
                |i, r| {
                    assert_eq!(r, i * 3);
                    seen.push(i);
                    consumed.fetch_add(1, Ordering::SeqCst);
                },
            );
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_later_value_is_the_one_made_on_its_thread_and_shared_by_clones() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let later = Later::spawn(move || {
            // Made only once the test lets it: `get` waits for it.
            wait.recv().unwrap();
            "made".to_string()
        });
        let clone = later.clone();
        assert_eq!(format!("{later:?}"), "(being made)");
        go.send(()).unwrap();
        assert_eq!(clone.get(), "made");
        assert_eq!(later.get(), "made");
        assert_eq!(format!("{later:?}"), "\"made\"");
        assert_eq!(Later::ready(7).get(), &7);
    }

    #[test]
    #[should_panic(expected = "broken")]
    fn a_panic_making_a_later_value_goes_on_up_where_it_is_read() {
        let later: Later<u8> = Later::spawn(|| panic!("broken"));
        later.get();
    }
}
