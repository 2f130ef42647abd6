// What the CPU can run, read from CPUID, and the kernels chosen by it: the packed product and the cells'
// gates each have an AVX-512 build, used where the CPU has AVX-512F.
#include "charrnn_kernels.h"
#include <stdlib.h>

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

// 0: not yet chosen; else the lane width of the kernels in use (8 or 16).
static int kernel_width = 0;

int crn_kernel_width(void) {
    int w = __atomic_load_n(&kernel_width, __ATOMIC_RELAXED);
    if (w) return w;
    const char *env = getenv("CHARRNN_AVX512");
    w = !(env && env[0] == '0') && crn_cpu_has_avx512f() ? 16 : 8;
    __atomic_store_n(&kernel_width, w, __ATOMIC_RELAXED);
    return w;
}

int crn_set_kernel_width(int width) {
    int w = width == 16 && crn_cpu_has_avx512f() ? 16 : 8;
    __atomic_store_n(&kernel_width, width == 0 ? 0 : w, __ATOMIC_RELAXED);
    return crn_kernel_width();
}

int crn_built_with_fma(void) {
#ifdef __FMA__
    return 1;
#else
    return 0;
#endif
}
