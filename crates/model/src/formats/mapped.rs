//! Memory-mapped weight files: dropping pages a process no longer needs from its resident set,
//! shared by the GGUF and safetensors readers.

use memmap2::Mmap;

/// Tells the kernel this process no longer needs the mapped pages of `map` that lie wholly
/// inside `part` (a sub-slice of the map), so they leave its resident set: used once a tensor
/// has been copied into another layout. The map is read-only and shared, so a later read of
/// those bytes faults them in again from the page cache; nothing is lost. A `part` outside the
/// map is ignored.
pub fn release_pages(map: &Mmap, part: &[u8]) {
    let base = map.as_ptr() as usize;
    let (start, end) = (part.as_ptr() as usize, part.as_ptr() as usize + part.len());
    if start < base || end > base + map.len() {
        return;
    }
    const PAGE: usize = 4096;
    let (first, last) = ((start - base).next_multiple_of(PAGE), (end - base) / PAGE * PAGE);
    if last > first {
        // SAFETY: DONTNEED on a read-only shared file map only drops our page-table entries;
        // the contents stay those of the file.
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, last - first) };
    }
}
