//! Work spread over the machine's cores: thousands of small files to read and check, or the
//! chunks of one large file to parse. Results keep the order of the input.

/// The machine's cores (1 when it cannot tell).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

#[cfg(test)]
mod tests {
    use super::map;

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
}
