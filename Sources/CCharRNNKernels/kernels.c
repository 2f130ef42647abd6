#include "charrnn_kernels.h"
#include "vector_exp.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

// The vector helpers are static: every call that passes a vector stays inside this file and its one
// set of compiler flags, so the ABI warning of a build without AVX does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

// The softmax eight floats at a time with clang's vector extension: vectorised whatever the compiler
// concludes about aliasing, and lowered to AVX on x86-64 with -march, to SSE pairs without it, to NEON
// on Arm. A row's tail (n < 8) is loaded into zero padding and goes through the same arithmetic.
// (The cells' gates are in gates.c.)
typedef float v8f __attribute__((ext_vector_type(8)));
typedef int32_t v8i __attribute__((ext_vector_type(8)));

static inline v8f ld(const float *p, int n) {
    v8f v = 0.0f;
    if (n == 8) memcpy(&v, p, 32); else memcpy(&v, p, (size_t)n * 4);
    return v;
}
static inline void st(float *p, v8f v, int n) {
    if (n == 8) memcpy(p, &v, 32); else memcpy(p, &v, (size_t)n * 4);
}
CRN_DEFINE_VEXP(vexp, v8f, v8i)

// The largest of x[V], eight lanes at a time.
static float row_max(const float *x, int V) {
    float m = x[0];
    int j = 0;
    if (V >= 8) {
        v8f mv = ld(x, 8);
        for (j = 8; j + 8 <= V; j += 8) mv = __builtin_elementwise_max(mv, ld(x + j, 8));
        for (int l = 0; l < 8; l++) m = mv[l] > m ? mv[l] : m;
    }
    for (; j < V; j++) m = x[j] > m ? x[j] : m;
    return m;
}

// The sum of exp((x[j] - m) * k) over x[V], the terms written to y[V] when y is not null. Eight partial
// sums, one per lane (a single running sum is a chain the compiler may not reorder, so it stays scalar).
static float exp_sum(const float *x, int V, float m, float k, float *y) {
    v8f sv = 0.0f;
    for (int j = 0; j < V; j += 8) {
        int w = V - j < 8 ? V - j : 8;
        v8f e = vexp((ld(x + j, w) - m) * k);
        if (w < 8) {
            for (int l = w; l < 8; l++) e[l] = 0.0f;  // the zero padding of a short tail is not a term
        }
        if (y) st(y + j, e, w);
        sv += e;
    }
    float s = 0.0f;
    for (int l = 0; l < 8; l++) s += sv[l];
    return s;
}

double crn_softmax_xent(int N, int V, float *logits, const int32_t *targets, float scale, int grad) {
    double total = 0.0;
    for (int r = 0; r < N; r++) {
        float *x = logits + (size_t)r * V;
        const float m = row_max(x, V);
        const int t = targets[r];
        const float xt = x[t] - m;
        const float s = exp_sum(x, V, m, 1.0f, grad ? x : NULL);
        total += log((double)s) - (double)xt;
        if (grad) {
            const float k = scale / s;
            for (int j = 0; j < V; j++) x[j] *= k;
            x[t] -= scale;
        }
    }
    return total;
}

void crn_softmax_temperature(int V, const float *logits, float inv_temperature, float *probs) {
    const float s = exp_sum(logits, V, row_max(logits, V), inv_temperature, probs);
    const float k = 1.0f / s;
    for (int j = 0; j < V; j++) probs[j] *= k;
}

void crn_keep_top_k(int V, float *probs, int k) {
    if (k >= V) return;
    // A non-negative float's bits order as its value. Find the k-th largest key a byte at a time, from
    // the top: `rank` is its place among the keys that share the bytes found so far.
    uint32_t prefix = 0, mask = 0;
    int rank = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        int count[256] = {0};
        for (int j = 0; j < V; j++) {
            uint32_t key;
            memcpy(&key, probs + j, 4);
            if ((key & mask) == prefix) count[(key >> shift) & 255]++;
        }
        int digit = 255;
        while (digit > 0 && count[digit] < rank) rank -= count[digit--];
        prefix |= (uint32_t)digit << shift;
        mask |= 255u << shift;
    }
    // prefix is the k-th largest key; the first `rank` ids that hold it stay.
    for (int j = 0; j < V; j++) {
        uint32_t key;
        memcpy(&key, probs + j, 4);
        if (key < prefix || (key == prefix && rank-- <= 0)) probs[j] = 0.0f;
    }
}

void crn_mul(const float *x, const float *m, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * m[i];
}
void crn_add(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
// Sixteen partial sums in four vectors of four doubles, added in a fixed order at the end: one running
// sum is a chain of dependent additions the compiler may not reorder, and it was a twelfth of a
// batch-1 RNN's training step.
typedef float v4f __attribute__((ext_vector_type(4)));
typedef double v4d __attribute__((ext_vector_type(4)));
double crn_sumsq(const float *x, size_t n) {
    v4d s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int q = 0; q < 4; q++) {
            v4f f;
            memcpy(&f, x + i + 4 * q, sizeof f);
            v4d d = __builtin_convertvector(f, v4d);
            s[q] += d * d;
        }
    }
    v4d t = (s[0] + s[1]) + (s[2] + s[3]);
    double total = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) total += (double)x[i] * (double)x[i];
    return total;
}

static volatile sig_atomic_t interrupted = 0;

static void on_interrupt(int sig) {
    if (interrupted) _exit(128 + sig);
    interrupted = 1;
}

void crn_install_interrupt_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
int crn_interrupted(void) { return interrupted != 0; }
void crn_clear_interrupt(void) { interrupted = 0; }

// OpenAI's penalties on B rows of V logits, in place (the twin of the penalize_logits kernel). The
// product is rounded before the subtraction (no FMA), as the kernel's __fmul_rn, so both give the same floats.
void crn_penalize_logits(int B, int V, float *logits, const int *counts, float presence, float frequency) {
#pragma clang fp contract(off)
    for (long i = 0; i < (long)B * V; i++) logits[i] = logits[i] - (float)counts[i] * frequency - (counts[i] > 0 ? presence : 0.0f);
}
