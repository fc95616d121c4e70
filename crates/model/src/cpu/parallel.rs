//! Splitting a mat-vec's output rows over the cores, with little cost per call.
//!
//! Decoding one token runs ~200 mat-vecs, each a few tens of microseconds on 2 cores, with
//! serial work (norms, rope, attention) in between. A rayon worker that finds no work goes to
//! sleep after a short spin, so most mat-vecs paid for a futex wake and a context switch, and
//! the cores sat idle ~12% of the decode. llama.cpp keeps its threads spinning between the ops
//! of a graph; this module does the same for our kernels: a few helper threads (one fewer than
//! the pool's thread count; the caller works too) wait for the next job by spinning, then by
//! yielding the core (so other work on it is not starved), and only sleep after ~2 ms without
//! a job. Jobs are index ranges handed out by an atomic counter.
//!
//! When the pool is busy (another thread is dispatching), when the caller's rayon pool has a
//! different size than the helpers serve, or from inside a job, the work goes to rayon instead.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// Runs `f(i, chunk_i)` for every `chunk`-sized piece of `data` (the last may be shorter), on
/// all threads of the current rayon pool.
pub fn for_each_chunk_mut<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let chunk = chunk.max(1);
    let n = data.len().div_ceil(chunk);
    let threads = rayon::current_num_threads();
    if n <= 1 || threads == 1 {
        for (i, c) in data.chunks_mut(chunk).enumerate() {
            f(i, c);
        }
        return;
    }
    let len = data.len();
    let base = SendPtr(data.as_mut_ptr());
    let (base, f) = (&base, &f);
    let task = move |i: usize| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        // SAFETY: each index i in 0..n runs exactly once and chunks of distinct indices are
        // disjoint ranges of `data`, which outlives the dispatch.
        let c = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        f(i, c);
    };
    if !SpinPool::get(threads).is_some_and(|p| p.try_run(n, &task)) {
        data.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Runs `f(range)` so that every unit of 0..units is in exactly one range, on all threads of
/// the current pool, each thread streaming through one contiguous stretch of memory.
///
/// Each thread owns an equal stretch and claims ranges from its front, upwards; a thread whose
/// stretch is done takes ranges from the back of the stretch with the most left. Claims are a
/// quarter of what is left, down to `grain`, so the threads finish within one small claim of
/// each other whatever their speeds, while each reads its stretch as one unbroken stream. (Fixed
/// tasks handed out in turn either left a core idle at the end of a mat-vec, with few tasks, or
/// made every thread start many new streams, each a prefetcher ramp-up, with many; walking a
/// stretch downwards from its end instead ran 25% slower.)
pub fn for_each_range_stealing(units: usize, grain: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    assert!(units < 1 << 32, "for_each_range_stealing: {units} units do not fit a stretch's 32-bit bounds");
    let threads = rayon::current_num_threads().max(1);
    let grain = grain.max(1);
    if threads == 1 || units <= grain {
        if units > 0 {
            f(0..units);
        }
        return;
    }
    let stretches: Vec<Stretch> =
        (0..threads).map(|t| Stretch::new(units * t / threads, units * (t + 1) / threads)).collect();
    let walker = |w: usize| {
        while let Some(range) = stretches[w].claim(true, grain) {
            f(range);
        }
        // Help the others: from the back of whichever stretch has the most left.
        while let Some(victim) = stretches.iter().max_by_key(|s| s.remaining()).filter(|s| s.remaining() > 0) {
            if let Some(range) = victim.claim(false, grain) {
                f(range);
            }
        }
    };
    if !SpinPool::get(threads).is_some_and(|p| p.try_run(threads, &walker)) {
        (0..threads).into_par_iter().for_each(walker);
    }
}

/// The unclaimed units [front, back) of a stretch, packed in one word so a claim is one CAS.
#[repr(align(64))]
struct Stretch {
    start: usize,
    left: AtomicU64,
}

impl Stretch {
    fn new(start: usize, end: usize) -> Self {
        Self { start, left: AtomicU64::new(((end - start) as u64) << 32) }
    }

    fn remaining(&self) -> u64 {
        let cur = self.left.load(Ordering::Relaxed);
        (cur >> 32).saturating_sub(cur & 0xFFFF_FFFF)
    }

    /// A quarter of what is left (at least `grain`) from the front (`front`) or the back.
    fn claim(&self, front: bool, grain: usize) -> Option<std::ops::Range<usize>> {
        let mut cur = self.left.load(Ordering::Relaxed);
        loop {
            let (lo, hi) = (cur & 0xFFFF_FFFF, cur >> 32);
            if lo >= hi {
                return None;
            }
            let take = ((hi - lo) / 4).max(grain as u64).min(hi - lo);
            let (next, range) =
                if front { (hi << 32 | (lo + take), lo..lo + take) } else { ((hi - take) << 32 | lo, hi - take..hi) };
            match self.left.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(self.start + range.start as usize..self.start + range.end as usize),
                Err(now) => cur = now,
            }
        }
    }
}

/// Units (weight rows or row groups of `unit_bytes` each) per task when `units` are split over
/// the current pool: two tasks per thread, at least 64 KiB of weights each. Each task streams
/// one contiguous stretch of weights, and every new stretch costs the prefetchers a ramp-up:
/// on the 0.5B Q4_K_M decode, 16 tasks per thread ran 8% slower than 4, and 4 about 5% slower
/// than 2 (one per thread was within noise of 2, and leaves nothing to rebalance when a core
/// is briefly taken by another process).
pub fn units_per_task(units: usize, unit_bytes: usize) -> usize {
    let by_threads = units.div_ceil(rayon::current_num_threads().max(1) * 2);
    let by_bytes = (64 << 10) / unit_bytes.max(1);
    by_threads.max(by_bytes).clamp(1, units.max(1))
}

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: only used to hand disjoint sub-slices to the threads of one dispatch.
unsafe impl<T: Send> Send for SendPtr<T> {}
// SAFETY: as for Send: each thread derives its own disjoint sub-slice from the shared pointer.
unsafe impl<T: Send> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

/// A job's task function with its lifetime erased; valid while its dispatch runs.
#[derive(Clone, Copy)]
struct TaskPtr(*const (dyn Fn(usize) + Sync));
// SAFETY: the pointee is Sync and outlives every use (see `try_run`).
unsafe impl Send for TaskPtr {}

struct Slot {
    epoch: u64,
    task: Option<TaskPtr>,
    n: usize,
    sleepers: usize,
}

struct SpinPool {
    helpers: usize,
    slot: Mutex<Slot>,
    wake: Condvar,
    /// Mirrors `slot.epoch` so waiting helpers can spin without the lock.
    epoch: AtomicU64,
    next: AtomicUsize,
    pending: AtomicUsize,
    /// Helpers that copied the current task and may still call it.
    active: AtomicUsize,
    busy: AtomicBool,
    panicked: AtomicBool,
}

thread_local! {
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// Pause-spin this long for the next job, then yield-spin until `SLEEP_AFTER`, then sleep.
const PAUSE_SPIN: Duration = Duration::from_micros(50);
const SLEEP_AFTER: Duration = Duration::from_millis(2);

impl SpinPool {
    /// The process's pool when it serves a rayon pool of `threads` threads (made on first use,
    /// sized for the first caller's pool).
    fn get(threads: usize) -> Option<&'static SpinPool> {
        static POOL: OnceLock<Option<&'static SpinPool>> = OnceLock::new();
        let pool = *POOL.get_or_init(|| {
            if std::env::var("REASONER_SPIN_POOL").as_deref() == Ok("0") {
                return None;
            }
            let pool: &'static SpinPool = Box::leak(Box::new(SpinPool {
                helpers: threads - 1,
                slot: Mutex::new(Slot { epoch: 0, task: None, n: 0, sleepers: 0 }),
                wake: Condvar::new(),
                epoch: AtomicU64::new(0),
                next: AtomicUsize::new(0),
                pending: AtomicUsize::new(0),
                active: AtomicUsize::new(0),
                busy: AtomicBool::new(false),
                panicked: AtomicBool::new(false),
            }));
            for i in 0..pool.helpers {
                let spawned =
                    std::thread::Builder::new().name(format!("reasoner-spin-{i}")).spawn(move || pool.helper());
                if spawned.is_err() {
                    return None;
                }
            }
            Some(pool)
        });
        pool.filter(|p| p.helpers + 1 == threads && !IN_JOB.with(|j| j.get()))
    }

    /// Runs `task(i)` for i in 0..n on the caller and the helpers; false (nothing run) when
    /// another dispatch holds the pool.
    fn try_run(&self, n: usize, task: &(dyn Fn(usize) + Sync)) -> bool {
        if self.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return false;
        }
        // SAFETY: lifetime erasure only; the pointer is cleared from the slot below before this
        // function returns, and we wait until no helper that copied it is still running.
        let ptr =
            TaskPtr(unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(task) });
        {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            self.next.store(0, Ordering::Relaxed);
            self.pending.store(n, Ordering::Relaxed);
            slot.epoch += 1;
            slot.task = Some(ptr);
            slot.n = n;
            self.epoch.store(slot.epoch, Ordering::Release);
            if slot.sleepers > 0 {
                self.wake.notify_all();
            }
        }
        self.work(task, n);
        while self.pending.load(Ordering::Acquire) > 0 {
            std::hint::spin_loop();
        }
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).task = None;
        while self.active.load(Ordering::Acquire) > 0 {
            std::hint::spin_loop();
        }
        let panicked = self.panicked.swap(false, Ordering::Relaxed);
        self.busy.store(false, Ordering::Release);
        if panicked {
            panic!("a parallel kernel task panicked on a helper thread");
        }
        true
    }

    /// Takes task indices until none are left.
    fn work(&self, task: &(dyn Fn(usize) + Sync), n: usize) {
        IN_JOB.with(|j| j.set(true));
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            if catch_unwind(AssertUnwindSafe(|| task(i))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.pending.fetch_sub(1, Ordering::Release);
        }
        IN_JOB.with(|j| j.set(false));
    }

    fn helper(&self) {
        let mut seen = 0u64;
        loop {
            self.wait_for_job(seen);
            let (task, n, epoch) = {
                let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
                let Some(task) = slot.task.filter(|_| slot.epoch != seen) else {
                    seen = slot.epoch;
                    continue;
                };
                self.active.fetch_add(1, Ordering::AcqRel);
                (task, slot.n, slot.epoch)
            };
            seen = epoch;
            // SAFETY: the dispatcher keeps the task alive until `active` drops back to zero.
            self.work(unsafe { &*task.0 }, n);
            self.active.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn wait_for_job(&self, seen: u64) {
        let start = Instant::now();
        loop {
            if self.epoch.load(Ordering::Acquire) != seen {
                return;
            }
            let waited = start.elapsed();
            if waited < PAUSE_SPIN {
                for _ in 0..32 {
                    std::hint::spin_loop();
                }
            } else if waited < SLEEP_AFTER {
                std::thread::yield_now();
            } else {
                let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
                slot.sleepers += 1;
                while slot.epoch == seen {
                    slot = self.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
                }
                slot.sleepers -= 1;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_runs_once_with_its_index() {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                for (len, chunk) in [(0, 4), (1, 4), (10, 3), (1000, 7), (64, 64)] {
                    let mut v = vec![0usize; len];
                    for _ in 0..50 {
                        for_each_chunk_mut(&mut v, chunk, |i, c| {
                            for (k, x) in c.iter_mut().enumerate() {
                                *x += i * chunk + k + 1;
                            }
                        });
                    }
                    assert!(v.iter().enumerate().all(|(k, &x)| x == 50 * (k + 1)), "{threads} threads, {len}/{chunk}");
                }
            });
        }
    }

    #[test]
    fn calls_from_many_threads_at_once_all_complete() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        pool.install(|| {
            (0..8).into_par_iter().for_each(|t| {
                let mut v = vec![0u32; 333];
                for_each_chunk_mut(&mut v, 10, |i, c| c.iter_mut().for_each(|x| *x = (i + t) as u32));
                assert!(v.iter().enumerate().all(|(k, &x)| x == (k / 10 + t) as u32));
            });
        });
    }

    #[test]
    fn stealing_walks_cover_every_unit_once() {
        for threads in [1, 2, 3, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                for (units, grain) in [(0, 1), (1, 1), (5, 8), (10, 1), (1000, 7), (4096, 64)] {
                    let seen: Vec<AtomicUsize> = (0..units).map(|_| AtomicUsize::new(0)).collect();
                    for _ in 0..20 {
                        for_each_range_stealing(units, grain, |r| {
                            assert!(!r.is_empty() && r.end <= units, "{r:?} of {units}");
                            r.for_each(|u| {
                                seen[u].fetch_add(1, Ordering::Relaxed);
                            });
                        });
                    }
                    assert!(
                        seen.iter().all(|c| c.load(Ordering::Relaxed) == 20),
                        "{threads} threads, {units} units / {grain}"
                    );
                }
            });
        }
    }
}
