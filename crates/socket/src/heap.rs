//! Heap bytes per thread, for the server's bill under load: a global allocator over mimalloc
//! (the binary installs [`CountingAllocator`]) that keeps, on each thread, the bytes that thread
//! allocated less those it freed. The lab server runs on a thread of its own and shares no buffers with
//! the clients (they meet only through sockets), so its thread's count is the heap the server
//! holds, while the process's RSS would be the clients' and the server's together.
//!
//! The count is per thread with no atomics: an allocation costs one thread-local add. Memory
//! handed from one thread to another and freed there moves the count to the thread that freed
//! it; the server's connections, buffers and TLS state live and die on its thread.
//!
//! Under it is mimalloc rather than the C library's malloc: a load client allocates and frees
//! a few dozen small blocks per request, and glibc's malloc and free were a quarter of its
//! time (with mimalloc, 77k to 94k requests/s against the same server, here).
//!
//! A block whose alignment is at most a word's goes to `mi_malloc`, not the `mimalloc` crate's
//! `mi_malloc_aligned`: every mimalloc block is word-aligned, and the aligned entry point, when
//! its page has no free block of a size that is not a power of two, over-allocates and aligns
//! inside the larger block instead of taking the ordinary path.

use libmimalloc_sys::{mi_free, mi_malloc, mi_realloc, mi_zalloc};
use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

/// mimalloc, counting each thread's live bytes.
pub struct CountingAllocator;

/// Whether the binary installed the allocator (set by its first allocation).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The alignment of every block `mi_malloc` returns: its size classes are whole words.
const WORD: usize = std::mem::size_of::<usize>();

/// Whether `align` is one `mi_malloc`'s blocks already have.
fn word_aligned(align: usize) -> bool {
    align <= WORD
}

thread_local! {
    // A const-initialised `Cell` has no destructor and no lazy initialisation, so the
    // allocator may touch it at any point of a thread's life without allocating.
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn add(bytes: i64) {
    // `try_with`: during a thread's teardown the slot may be gone; those bytes go uncounted.
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(bytes)));
}

// SAFETY: every method forwards to mimalloc with the caller's arguments unchanged: to
// `MiMalloc` (mimalloc's aligned entry points), or for an alignment of at most a word to
// mimalloc's plain ones, whose blocks are all word-aligned; a block from either is freed by
// `mi_free`. So the `GlobalAlloc` contract is mimalloc's; the counting touches only a
// thread-local `Cell`.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        let ptr = if word_aligned(layout.align()) {
            unsafe { mi_malloc(layout.size()) }.cast::<u8>()
        } else {
            unsafe { MiMalloc.alloc(layout) }
        };
        if !ptr.is_null() {
            if !INSTALLED.load(Ordering::Relaxed) {
                INSTALLED.store(true, Ordering::Relaxed);
            }
            add(layout.size() as i64);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = if word_aligned(layout.align()) {
            unsafe { mi_zalloc(layout.size()) }.cast::<u8>()
        } else {
            unsafe { MiMalloc.alloc_zeroed(layout) }
        };
        if !ptr.is_null() {
            add(layout.size() as i64);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (that is, mimalloc) gave out.
        unsafe { mi_free(ptr.cast::<c_void>()) };
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc`, and `new_size` as the caller was given it.
        let new = if word_aligned(layout.align()) {
            unsafe { mi_realloc(ptr.cast::<c_void>(), new_size) }.cast::<u8>()
        } else {
            unsafe { MiMalloc.realloc(ptr, layout, new_size) }
        };
        if !new.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        new
    }
}

/// The calling thread's live heap bytes (allocated less freed, on this thread), or `None` when
/// the binary did not install [`CountingAllocator`].
pub fn thread_live_bytes() -> Option<i64> {
    INSTALLED
        .load(Ordering::Relaxed)
        .then(|| LIVE.try_with(Cell::get).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static COUNTING: CountingAllocator = CountingAllocator;

    #[test]
    fn blocks_have_their_alignment() {
        // Every size a word-aligned layout can have up to a few pages, each allocated, grown
        // and zeroed through this allocator: the plain entry points' blocks keep the alignment.
        for align in [1usize, 2, 4, 8, 16, 64] {
            let mut held = Vec::new();
            for size in (1..=4096).step_by(align.max(3)) {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: a non-zero size; every block is freed below with its layout.
                let (a, z) = unsafe { (COUNTING.alloc(layout), COUNTING.alloc_zeroed(layout)) };
                assert!(!a.is_null() && !z.is_null(), "{size} bytes aligned {align}");
                // SAFETY: `z` holds `size` zeroed bytes.
                assert!(unsafe { std::slice::from_raw_parts(z, size) }
                    .iter()
                    .all(|&b| b == 0));
                // SAFETY: `a` came from this allocator with `layout`.
                let grown = unsafe { COUNTING.realloc(a, layout, size * 3) };
                for p in [grown, z] {
                    assert_eq!(p as usize % align, 0, "{size} bytes aligned {align}: {p:?}");
                }
                let bigger = Layout::from_size_align(size * 3, align).expect("a valid layout");
                held.push((grown, bigger));
                held.push((z, layout));
            }
            for (p, layout) in held {
                // SAFETY: each block was allocated above with this layout.
                unsafe { COUNTING.dealloc(p, layout) };
            }
        }
    }

    #[test]
    fn a_thread_counts_what_it_holds() {
        std::thread::spawn(|| {
            let before = thread_live_bytes().expect("installed in this test binary");
            let block = vec![7u8; 1 << 20];
            let holding = thread_live_bytes().unwrap_or(0);
            assert!(holding - before >= 1 << 20, "{before} -> {holding}");
            drop(block);
            let after = thread_live_bytes().unwrap_or(0);
            assert!(after - before < 4096, "{before} -> {after} after the free");
        })
        .join()
        .expect("the counting thread");
    }
}
