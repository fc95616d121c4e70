//! Chat templates that grow a value in a loop (string, list or dict doubling, `replace`,
//! `format`, `join`, `center`) are refused before they hold much memory: minijinja's fuel
//! charges every byte an operator or filter creates, and `chat_template::FUEL` bounds that
//! total. Peak heap is measured with a counting allocator around each render.

use reasoner_model::chat_template::ChatTemplate;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator with the caller's arguments; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One test function (the counters are process-wide, so no other render runs beside these).
#[test]
fn growing_templates_are_refused_within_a_memory_bound() {
    // Jinja scopes a `set` inside a loop to the iteration: a value grows across iterations
    // only through a namespace (or through macro recursion). Not here, because minijinja 3.1.0
    // does not bound them (README "Fuzzing", tests/fuzz-open/template): a list doubled with `+`
    // past 32 levels, and `tojson`/`string` of a dict or list that holds itself twice per level.
    let cases = [
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s|replace('a', 'aa') %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = '%s%s'|format(ns.s, ns.s) %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = (ns.s ~ ns.s)|upper %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s * 2 %}{% endfor %}",
        "{% set s = 'ab' * 50000000 %}{% set t = s ~ s %}{{ t|length }}",
    ];
    for src in cases {
        let t = ChatTemplate::new(src, "evil/chat_template.jinja", None, None).unwrap();
        let before = CURRENT.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = t.render(&[], false, &Default::default());
        let peak = PEAK.load(Ordering::Relaxed) - before;
        eprintln!("{:>6} MiB peak, {:?}: {src}", peak >> 20, started.elapsed());
        let e = result.expect_err(src).to_string();
        assert!(e.contains("evil/chat_template.jinja"), "{src}: {e}");
        // Measured: 160 MiB for most, 320 MiB for `format` (it holds its arguments and result).
        assert!(peak < 400 << 20, "{src}: {} MiB", peak >> 20);
        assert!(started.elapsed().as_secs() < 10, "{src}: {:?}", started.elapsed());
    }
}
