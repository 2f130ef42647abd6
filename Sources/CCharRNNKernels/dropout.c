// A counter-based generator and the dropout masks drawn from it: the CPU twins of the GPU's
// crn_uniform, crn_stream_seed and dropout_mask (Sources/CharRNN/CUDA/Kernels/DropoutKernels.swift), the
// same hash and the same comparison, so a seed gives the same mask, and the same draws for generated
// text, on either device. Element i's draw depends on (seed, i % period) alone, so the threads can fill
// any parts of a mask in any order.
#include "charrnn_kernels.h"

// SplitMix64's finaliser of seed + golden * (j + 1): uniform in [0, 1) with 24 bits.
static inline float uniform(uint64_t seed, uint64_t j) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (j + 1ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

float crn_uniform(uint64_t seed, uint64_t j) { return uniform(seed, j); }

// Another odd constant than the counter's, so that no stream's seed is another's seed moved along by
// whole draws.
uint64_t crn_stream_seed(uint64_t seed, uint64_t stream) {
    uint64_t z = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1ULL));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void crn_dropout_mask(int64_t begin, int64_t end, float *mask, float p, float keep, uint64_t seed, int64_t period) {
    int64_t i = begin, j = begin % period;
    while (i < end) {
        // A run of counters without wrapping: one loop the compiler vectorises, no division per element.
        int64_t run = end - i < period - j ? end - i : period - j;
        for (int64_t k = 0; k < run; k++) mask[i + k] = uniform(seed, (uint64_t)(j + k)) < p ? 0.0f : keep;
        i += run;
        j = 0;
    }
}
