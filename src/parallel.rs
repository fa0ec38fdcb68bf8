//! Work spread over the machine's cores: thousands of small files to read and check, or the
//! chunks of one large file to parse. Results keep the order of the input.

/// `f` on each item, on as many threads as the machine has cores, each thread taking at least
/// `min_per_thread` items (fewer items run on this thread: a thread costs more than a small
/// job); results in the order of `items`.
pub fn map<T: Send, R: Send>(
    items: Vec<T>,
    min_per_thread: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / min_per_thread.max(1))
        .max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut groups = Vec::with_capacity(threads);
    let mut rest = items;
    while rest.len() > per {
        let tail = rest.split_off(per);
        groups.push(rest);
        rest = tail;
    }
    groups.push(rest);
    std::thread::scope(|scope| {
        let f = &f;
        let workers: Vec<_> = groups
            .into_iter()
            .map(|group| scope.spawn(move || group.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(results) => results,
                // A panic in `f` is a bug: it goes on up as it would have on one thread.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::map;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_split() {
        for n in [0, 1, 2, 3, 7, 64, 65, 1000] {
            for min in [1, 2, 64] {
                let items: Vec<usize> = (0..n).collect();
                let out = map(items, min, |i| i * 2);
                assert_eq!(
                    out,
                    (0..n).map(|i| i * 2).collect::<Vec<_>>(),
                    "n={n} min={min}"
                );
            }
        }
    }
}
