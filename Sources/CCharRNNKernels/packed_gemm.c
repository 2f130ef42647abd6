// Small-M matrix products against a weight matrix packed once: the per-step recurrent products
// (B/threads rows times W_hh) are too small for a BLAS call to amortise packing W_hh every step.
// Packed layout: panels of 16 columns; panel p holds, for k = 0..K-1, the 16 values B[k, 16p..16p+15]
// contiguously (zero beyond N). A 6x16 register tile (12 accumulators of 8 floats) runs over k.
#include "charrnn_kernels.h"
#include <string.h>

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

// mr is a constant at each call site, so the loops unroll and the accumulators stay in registers.
static inline __attribute__((always_inline))
void tile(const int mr, int K, const float *A, int lda, const float *panel, float *C, int ldc, int width, int accumulate) {
    v8 acc[MR][2];
    for (int i = 0; i < mr; i++) { acc[i][0] = 0; acc[i][1] = 0; }
    for (int k = 0; k < K; k++) {
        v8 b0 = load8(panel + (size_t)k * NR), b1 = load8(panel + (size_t)k * NR + 8);
        for (int i = 0; i < mr; i++) {
            v8 a = A[(size_t)i * lda + k];
            acc[i][0] += a * b0;
            acc[i][1] += a * b1;
        }
    }
    for (int i = 0; i < mr; i++) {
        float *c = C + (size_t)i * ldc;
        if (width == NR) {
            if (accumulate) { acc[i][0] += load8(c); acc[i][1] += load8(c + 8); }
            store8(c, acc[i][0]);
            store8(c + 8, acc[i][1]);
        } else {
            float t[NR];
            store8(t, acc[i][0]);
            store8(t + 8, acc[i][1]);
            for (int j = 0; j < width; j++) c[j] = accumulate ? c[j] + t[j] : t[j];
        }
    }
}

void crn_gemm_packed(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc, int accumulate) {
    int panels = (N + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        const float *panel = packed + (size_t)p * NR * K;
        int n0 = p * NR, width = N - n0 < NR ? N - n0 : NR;
        int i = 0;
        for (; i + MR <= M; i += MR) tile(MR, K, A + (size_t)i * lda, lda, panel, C + (size_t)i * ldc + n0, ldc, width, accumulate);
        switch (M - i) {
        case 5: tile(5, K, A + (size_t)i * lda, lda, panel, C + (size_t)i * ldc + n0, ldc, width, accumulate); break;
        case 4: tile(4, K, A + (size_t)i * lda, lda, panel, C + (size_t)i * ldc + n0, ldc, width, accumulate); break;
        case 3: tile(3, K, A + (size_t)i * lda, lda, panel, C + (size_t)i * ldc + n0, ldc, width, accumulate); break;
        case 2: tile(2, K, A + (size_t)i * lda, lda, panel, C + (size_t)i * ldc + n0, ldc, width, accumulate); break;
        case 1: tile(1, K, A + (size_t)i * lda, lda, panel, C + (size_t)i * ldc + n0, ldc, width, accumulate); break;
        default: break;
        }
    }
}
