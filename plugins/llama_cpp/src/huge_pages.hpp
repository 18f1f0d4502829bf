// Buffers for KV states (megabytes each: a sequence's cells as llama_state_seq_get_data writes
// them). Large blocks are mapped fresh, aligned to 2 MiB with transparent huge pages advised, so
// filling one faults in a few huge pages instead of thousands of 4 KiB ones: on a VM the faults of
// a 14 MB state cost ~35 ms, ten times the copy, on the engine's one thread. Elements are left
// uninitialised: the state is written over them.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

namespace parley::llama_cpp {

template <class T> struct HugePageAllocator {
    using value_type = T;
    static constexpr size_t kHuge = size_t{2} << 20;

    HugePageAllocator() = default;
    template <class U> HugePageAllocator(const HugePageAllocator<U> &) noexcept {}

    T *allocate(size_t n) {
        const size_t bytes = n * sizeof(T);
        if (bytes < kHuge) {
            if (void *p = std::malloc(bytes == 0 ? 1 : bytes)) return static_cast<T *>(p);
            throw std::bad_alloc();
        }
        // Map a huge page more than needed, keep the aligned part.
        const size_t size = rounded(bytes);
        void *raw = mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) throw std::bad_alloc();
        const auto base = reinterpret_cast<uintptr_t>(raw);
        const uintptr_t aligned = (base + kHuge - 1) & ~(kHuge - 1);
        if (aligned > base) munmap(raw, aligned - base);
        if (const uintptr_t end = base + size + kHuge; end > aligned + size) munmap(reinterpret_cast<void *>(aligned + size), end - aligned - size);
        madvise(reinterpret_cast<void *>(aligned), size, MADV_HUGEPAGE); // advice: fine if refused
        return reinterpret_cast<T *>(aligned);
    }

    void deallocate(T *p, size_t n) noexcept {
        const size_t bytes = n * sizeof(T);
        if (bytes < kHuge) std::free(p);
        else munmap(p, rounded(bytes));
    }

    template <class U> void construct(U *p) noexcept { ::new (static_cast<void *>(p)) U; } // default-initialised
    template <class U, class... A> void construct(U *p, A &&...args) { ::new (static_cast<void *>(p)) U(std::forward<A>(args)...); }

    template <class U> bool operator==(const HugePageAllocator<U> &) const noexcept { return true; }
    template <class U> bool operator!=(const HugePageAllocator<U> &) const noexcept { return false; }

  private:
    static size_t rounded(size_t bytes) { return (bytes + kHuge - 1) & ~(kHuge - 1); }
};

// A KV state's bytes.
using StateBytes = std::vector<uint8_t, HugePageAllocator<uint8_t>>;

} // namespace parley::llama_cpp
