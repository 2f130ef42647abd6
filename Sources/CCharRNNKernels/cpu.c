// What the CPU can run, read from CPUID: the packed product picks its kernel by it.
#include "charrnn_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>

// CPUID leaf 7's EBX (0 where the CPU or the OS does not offer AVX-512's registers: XCR0 must save
// SSE, AVX, the opmasks, the upper halves of ZMM0-15 and ZMM16-31).
static unsigned avx512_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;  // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return b;
}

int crn_cpu_has_avx512f(void) { return (avx512_features() >> 16) & 1; }
#else
int crn_cpu_has_avx512f(void) { return 0; }
#endif
