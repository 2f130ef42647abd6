// A binary built for Haswell (AVX2, FMA, BMI2: what scripts/common.sh passes on x86-64) would die with
// "illegal instruction" on an older x86-64 CPU, somewhere in its first product. This constructor runs
// before Swift's main and before any of that code, compiled for the x86-64 baseline whatever the
// build's flags, and turns that into one line on stderr and exit status 1. Builds without AVX2 lack it.
#if defined(__x86_64__) && defined(__AVX2__) && defined(__linux__)
#include <unistd.h>

__attribute__((constructor(101), target("arch=x86-64"))) static void crn_require_build_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2")) return;
    static const char line[] = "charrnn: error: this build needs an x86-64 CPU with AVX2 and FMA (Intel Haswell, AMD Excavator or "
                               "newer), and this CPU has not; build charrnn from source on this machine\n";
    (void)!write(2, line, sizeof line - 1);
    _exit(1);
}
#endif
