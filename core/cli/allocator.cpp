// jemalloc's start-up options for the parley executable (linked only when jemalloc is; see
// core/CMakeLists.txt). jemalloc reads this symbol before the first allocation; MALLOC_CONF in the
// environment still overrides any of it.
//
// A run keeps every conversation in flight in memory at once (100,000 at ~14 KB each in
// bench/orchestration), so its cost there is dominated by first touches of fresh memory: on a
// virtual machine each 4 KiB page fault is a trip through the hypervisor. Measured with
// `perf stat` on 102,000 conversations (bench/orchestration, records = false): 375,000 page
// faults and 15 CPU-s with jemalloc's defaults; 6,600 faults and 7.5 CPU-s with
//   thp:always         jemalloc asks for transparent huge pages (the kernel's default mode,
//                      "madvise", gives them only to those who ask) for its extents,
//   metadata_thp       the same for its own metadata,
//   dirty/muzzy decay  -1: freed pages stay with the process for reuse instead of being handed
//                      back and faulted in again; resident memory stays at the run's peak.
// Peak resident memory grows by ~5% (huge pages are filled less evenly).
extern "C" {
__attribute__((used)) const char *malloc_conf =
    "thp:always,metadata_thp:always,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
