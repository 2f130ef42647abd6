// Small-M matrix products against a weight matrix packed once: the per-step recurrent products
// (B/threads rows times W_hh) are too small for a BLAS call to amortise packing W_hh every step.
// Packed layout: panels of 16 columns; panel p holds, for k = 0..K-1, the 16 values B[k, 16p..16p+15]
// contiguously (zero beyond N). A 6x16 register tile (12 accumulators of 8 floats) runs over k; on an
// x86-64 CPU with AVX-512 a 14x32 tile (28 accumulators of 16 floats, one per panel row) runs instead
// (crn_kernel_width). Both compute each output element as one chain of fused multiply-adds over k in
// order, so they give the same bits wherever the build has FMA. A is read in place: row-major [M, K]
// (`ta` 0), or stored [K, M] and read as its transpose (`ta` 1, crn_gemm_packed_at), when a tile's
// rows at one k are neighbours in memory. `ta` is a constant at every call site, so each way of
// reading A is its own unrolled loop.
#include "charrnn_kernels.h"
#include <string.h>

// The vector helpers are static: every call that passes a vector stays inside this file and its one
// set of compiler flags, so the ABI warning of a build without AVX does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v8 __attribute__((ext_vector_type(8)));
enum { NR = 16, MR = 6 };

size_t crn_packed_size(int K, int N) { return (size_t)((N + NR - 1) / NR) * NR * (size_t)K; }

void crn_pack_b(int K, int N, const float *W, int ldw, int transposed, float *packed, int panel_begin, int panel_end) {
    for (int p = panel_begin; p < panel_end; p++) {
        float *dst = packed + (size_t)p * NR * K;
        int n0 = p * NR, width = N - n0 < NR ? N - n0 : NR;
        if (transposed) {
            // B[k, n] = W[n, k]: read each row of W once, scatter it down the panel's column.
            if (width < NR) memset(dst, 0, sizeof(float) * NR * (size_t)K);
            for (int j = 0; j < width; j++) {
                const float *row = W + (size_t)(n0 + j) * ldw;
                for (int k = 0; k < K; k++) dst[(size_t)k * NR + j] = row[k];
            }
        } else {
            for (int k = 0; k < K; k++) {
                const float *src = W + (size_t)k * ldw + n0;
                float *d = dst + (size_t)k * NR;
                memcpy(d, src, sizeof(float) * (size_t)width);
                for (int j = width; j < NR; j++) d[j] = 0;
            }
        }
    }
}

static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

// mr and np (panels side by side) are constants at each call site, so the loops unroll and the
// mr * np * 2 accumulators stay in registers. Few rows take several panels at once, so that enough
// independent FMA chains hide the FMA latency. Each output element is still one chain over k in order,
// so a row's result does not depend on how many rows are computed with it (batching changes no bits).
static inline __attribute__((always_inline))
void tile(const int ta, const int mr, const int np, int K, const float *A, int lda, const float *panels, int N, int n0,
          float *C, int ldc, int accumulate) {
    v8 acc[MR][6][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++)
#pragma clang loop unroll(full)
        for (int q = 0; q < np; q++) { acc[i][q][0] = 0; acc[i][q][1] = 0; }
    for (int k = 0; k < K; k++) {
        v8 b[6][2];
#pragma clang loop unroll(full)
        for (int q = 0; q < np; q++) {
            const float *src = panels + (size_t)q * NR * K + (size_t)k * NR;
            b[q][0] = load8(src);
            b[q][1] = load8(src + 8);
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            v8 a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
#pragma clang loop unroll(full)
            for (int q = 0; q < np; q++) {
                acc[i][q][0] += a * b[q][0];
                acc[i][q][1] += a * b[q][1];
            }
        }
    }
    for (int q = 0; q < np; q++) {
        int start = n0 + q * NR, width = N - start < NR ? N - start : NR;
        for (int i = 0; i < mr; i++) {
            float *c = C + (size_t)i * ldc + start;
            if (width == NR) {
                if (accumulate) { acc[i][q][0] += load8(c); acc[i][q][1] += load8(c + 8); }
                store8(c, acc[i][q][0]);
                store8(c + 8, acc[i][q][1]);
            } else {
                float t[NR];
                store8(t, acc[i][q][0]);
                store8(t + 8, acc[i][q][1]);
                for (int j = 0; j < width; j++) c[j] = accumulate ? c[j] + t[j] : t[j];
            }
        }
    }
}

// Panels [p0, p1) for a block of mr rows, np panels at a time, then one at a time for the rest.
static inline __attribute__((always_inline))
void rows_block(const int ta, const int mr, const int np, int p0, int p1, int N, int K, const float *A, int lda,
                const float *packed, float *C, int ldc, int accumulate) {
    int p = p0;
    for (; p + np <= p1; p += np)
        tile(ta, mr, np, K, A, lda, packed + (size_t)p * NR * K, N, p * NR, C, ldc, accumulate);
    for (; p < p1; p++)
        tile(ta, mr, 1, K, A, lda, packed + (size_t)p * NR * K, N, p * NR, C, ldc, accumulate);
}

// Row i of op(A): row i of A, or column i of A stored [K, M].
static inline __attribute__((always_inline)) const float *row_of(const int ta, const float *A, int lda, int i) {
    return ta ? A + i : A + (size_t)i * lda;
}

#if defined(__x86_64__) && defined(__clang__)
#define CRN_AVX512_VARIANT 1
static void gemm_packed_avx512(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc,
                               int accumulate);
static void gemm_packed_at_avx512(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc,
                                  int accumulate);
#endif

// Six panels at a time (at most 6 * 16 * K floats, kept in cache) against every row of A, so each
// panel is read from memory once per call, not once per block of rows.
static inline __attribute__((always_inline))
void gemm_packed(const int ta, int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc,
                 int accumulate) {
    int panels = (N + NR - 1) / NR;
    for (int p0 = 0; p0 < panels; p0 += 6) {
        int p1 = p0 + 6 < panels ? p0 + 6 : panels;
        int i = 0;
        for (; i + MR <= M; i += MR)
            rows_block(ta, MR, 1, p0, p1, N, K, row_of(ta, A, lda, i), lda, packed, C + (size_t)i * ldc, ldc, accumulate);
        const float *a = row_of(ta, A, lda, i);
        float *c = C + (size_t)i * ldc;
        switch (M - i) {
        case 5: rows_block(ta, 5, 1, p0, p1, N, K, a, lda, packed, c, ldc, accumulate); break;
        case 4: rows_block(ta, 4, 1, p0, p1, N, K, a, lda, packed, c, ldc, accumulate); break;
        // Three rows by two panels, or two by three, hold 12 accumulators and 4 or 6 panel rows: more
        // than AVX2's 16 registers, and they ran at half the speed of one panel or two.
        case 3: rows_block(ta, 3, 1, p0, p1, N, K, a, lda, packed, c, ldc, accumulate); break;
        case 2: rows_block(ta, 2, 2, p0, p1, N, K, a, lda, packed, c, ldc, accumulate); break;
        case 1: rows_block(ta, 1, 6, p0, p1, N, K, a, lda, packed, c, ldc, accumulate); break;
        default: break;
        }
    }
}

void crn_gemm_packed(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc, int accumulate) {
#ifdef CRN_AVX512_VARIANT
    if (crn_kernel_width() == 16) { gemm_packed_avx512(M, N, K, A, lda, packed, C, ldc, accumulate); return; }
#endif
    gemm_packed(0, M, N, K, A, lda, packed, C, ldc, accumulate);
}

void crn_gemm_packed_at(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc, int accumulate) {
#ifdef CRN_AVX512_VARIANT
    if (crn_kernel_width() == 16) { gemm_packed_at_avx512(M, N, K, A, lda, packed, C, ldc, accumulate); return; }
#endif
    gemm_packed(1, M, N, K, A, lda, packed, C, ldc, accumulate);
}

#ifdef CRN_AVX512_VARIANT
// The same products with 16-lane vectors: a panel row is one register, so a tile of r rows and np
// panels keeps r * np accumulators of the 32 registers (14 x 2 = 28, plus the panel rows and A's value).
typedef float v16 __attribute__((ext_vector_type(16)));
#define AVX512 __attribute__((target("avx512f"), always_inline)) static inline

AVX512 v16 load16(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
AVX512 void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }

AVX512 void tile16(const int ta, const int mr, const int np, int K, const float *A, int lda, const float *panels, int N,
                   int n0, float *C, int ldc, int accumulate) {
    // The pragmas unroll the loops over rows and panels whatever the optimisation level: at -O2 the
    // 14-row tile was not unrolled, its accumulators went to memory, and it ran at half the speed.
    v16 acc[14][8];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++)
#pragma clang loop unroll(full)
        for (int q = 0; q < np; q++) acc[i][q] = 0;
    for (int k = 0; k < K; k++) {
        v16 b[8];
#pragma clang loop unroll(full)
        for (int q = 0; q < np; q++) b[q] = load16(panels + (size_t)q * NR * K + (size_t)k * NR);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            v16 a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
#pragma clang loop unroll(full)
            for (int q = 0; q < np; q++) acc[i][q] += a * b[q];
        }
    }
    for (int q = 0; q < np; q++) {
        int start = n0 + q * NR, width = N - start < NR ? N - start : NR;
        for (int i = 0; i < mr; i++) {
            float *c = C + (size_t)i * ldc + start;
            if (width == NR) {
                if (accumulate) acc[i][q] += load16(c);
                store16(c, acc[i][q]);
            } else {
                float t[NR];
                store16(t, acc[i][q]);
                for (int j = 0; j < width; j++) c[j] = accumulate ? c[j] + t[j] : t[j];
            }
        }
    }
}

AVX512 void rows_block16(const int ta, const int mr, const int np, int p0, int p1, int N, int K, const float *A, int lda,
                         const float *packed, float *C, int ldc, int accumulate) {
    int p = p0;
    for (; p + np <= p1; p += np)
        tile16(ta, mr, np, K, A, lda, packed + (size_t)p * NR * K, N, p * NR, C, ldc, accumulate);
    for (; p < p1; p++)
        tile16(ta, mr, 1, K, A, lda, packed + (size_t)p * NR * K, N, p * NR, C, ldc, accumulate);
}

#define ROWS16(r, np) rows_block16(ta, r, np, p0, p1, N, K, a, lda, packed, c, ldc, accumulate)

// One or two rows (a batch-1 step): a tile is then K dependent FMAs per accumulator, as long with one
// panel as with eight, so eight panels go at a time and the last few together, in as few tiles as the
// registers allow (8 x 2 accumulators, 8 panel rows and A's value).
#define FEW16(np) tile16(0, mr, np, K, A, lda, packed + (size_t)p * NR * K, N, p * NR, C, ldc, accumulate)
AVX512 void few_rows16(const int mr, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc,
                       int accumulate) {
    int panels = (N + NR - 1) / NR, p = 0;
    for (; p + 8 <= panels; p += 8) FEW16(8);
    switch (panels - p) {
    case 7: FEW16(7); break;
    case 6: FEW16(6); break;
    case 5: FEW16(5); break;
    case 4: FEW16(4); break;
    case 3: FEW16(3); break;
    case 2: FEW16(2); break;
    case 1: FEW16(1); break;
    default: break;
    }
}

AVX512 void gemm_packed16(const int ta, int M, int N, int K, const float *A, int lda, const float *packed, float *C,
                          int ldc, int accumulate) {
    int panels = (N + NR - 1) / NR;
    for (int p0 = 0; p0 < panels; p0 += 6) {
        int p1 = p0 + 6 < panels ? p0 + 6 : panels;
        int i = 0;
        for (; i + 14 <= M; i += 14)
            rows_block16(ta, 14, 2, p0, p1, N, K, row_of(ta, A, lda, i), lda, packed, C + (size_t)i * ldc, ldc, accumulate);
        const float *a = row_of(ta, A, lda, i);
        float *c = C + (size_t)i * ldc;
        // Fewer rows take more panels at once: enough independent chains to hide the FMA latency.
        switch (M - i) {
        case 13: ROWS16(13, 2); break;
        case 12: ROWS16(12, 2); break;
        case 11: ROWS16(11, 2); break;
        case 10: ROWS16(10, 2); break;
        case 9: ROWS16(9, 3); break;
        case 8: ROWS16(8, 3); break;
        case 7: ROWS16(7, 3); break;
        case 6: ROWS16(6, 3); break;
        case 5: ROWS16(5, 3); break;
        case 4: ROWS16(4, 6); break;
        case 3: ROWS16(3, 6); break;
        case 2: ROWS16(2, 6); break;  // rows left after 14-row blocks
        case 1: ROWS16(1, 6); break;
        default: break;
        }
    }
}

__attribute__((target("avx512f")))
static void gemm_packed_avx512(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc,
                               int accumulate) {
    if (M == 1) { few_rows16(1, N, K, A, lda, packed, C, ldc, accumulate); return; }
    if (M == 2) { few_rows16(2, N, K, A, lda, packed, C, ldc, accumulate); return; }
    gemm_packed16(0, M, N, K, A, lda, packed, C, ldc, accumulate);
}

__attribute__((target("avx512f")))
static void gemm_packed_at_avx512(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc,
                                  int accumulate) {
    gemm_packed16(1, M, N, K, A, lda, packed, C, ldc, accumulate);
}
#endif
