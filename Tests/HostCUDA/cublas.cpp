// cuBLAS on the host: column-major products with cuBLAS's argument checks, on OpenBLAS where it is
// loaded and a plain loop otherwise (host_cuda.h).

#include "host_cuda.h"

using namespace hostcuda;

namespace {

typedef void (*SgemmFunction)(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                              const float *b, int ldb, float beta, float *c, int ldc);

SgemmFunction hostSgemm() {
    static SgemmFunction f = [] {
        for (const char *name : {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}) {
            if (void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL))
                if (void *s = dlsym(h, "cblas_sgemm")) return (SgemmFunction)s;
        }
        return (SgemmFunction) nullptr;
    }();
    return f;
}

float roundMantissa(float x, int bits) {
    if (!std::isfinite(x)) return x;
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t drop = 23 - bits, half = (1u << (drop - 1)) - 1 + ((u >> drop) & 1);
    u = (u + half) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

// Column-major C[m, n] = alpha op(A) op(B) + beta C, operands rounded to `bits` mantissa bits (23: none).
void columnMajorProduct(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc, int bits) {
    std::vector<float> ra, rb;
    if (bits < 23) {
        size_t spanA = (size_t)((ta ? m : k) - 1) * lda + (ta ? k : m), spanB = (size_t)((tb ? k : n) - 1) * ldb + (tb ? n : k);
        ra.assign(a, a + spanA);
        rb.assign(b, b + spanB);
        for (float &x : ra) x = roundMantissa(x, bits);
        for (float &x : rb) x = roundMantissa(x, bits);
        a = ra.data();
        b = rb.data();
    }
    if (beta == 0)  // cuBLAS does not read C then: it may hold anything, NaN included
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) c[i + (size_t)j * ldc] = 0;
    if (SgemmFunction sgemm = hostSgemm()) {
        sgemm(102, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta == 0 ? 0 : beta, c, ldc);
        return;
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0;
            for (int l = 0; l < k; l++)
                s += (ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda]) * (tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb]);
            float &out = c[i + (size_t)j * ldc];
            out = alpha * s + (beta == 0 ? 0 : beta * out);
        }
}

struct BLASHandle {
    int mathMode = 0;
    uint64_t workspace = 0;
    size_t workspaceBytes = 0;
};

// A bfloat16's float: its 16 bits are the float's top half.
std::vector<float> widenBF16(uint64_t p, size_t count) {
    std::vector<float> out(count);
    const uint16_t *h = (const uint16_t *)(uintptr_t)p;
    for (size_t i = 0; i < count; i++) {
        uint32_t u = (uint32_t)h[i] << 16;
        memcpy(&out[i], &u, 4);
    }
    return out;
}

// halfOperands: A and B are bfloat16 (CUDA_R_16BF), C float.
int gemm(BLASHandle *h, int opA, int opB, int m, int n, int k, float alpha, uint64_t A, int lda, uint64_t B, int ldb,
         float beta, uint64_t C, int ldc, int bits, bool halfOperands = false) {
    if (!h) return 1;  // CUBLAS_STATUS_NOT_INITIALIZED
    if (requireContext()) misuse("a cuBLAS product from a thread whose current context is not the handle's");
    if (opA < 0 || opA > 2 || opB < 0 || opB > 2 || m < 0 || n < 0 || k < 0) return 7;  // INVALID_VALUE
    bool ta = opA != 0, tb = opB != 0;
    if (lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m)) return 7;
    if (m == 0 || n == 0) return 0;
    enqueue(Work::product, [=] {
        size_t element = halfOperands ? 2 : 4;
        if (k > 0) {
            requireInside(A, element * ((size_t)((ta ? m : k) - 1) * lda + (ta ? k : m)), "cublas gemm: A");
            requireInside(B, element * ((size_t)((tb ? k : n) - 1) * ldb + (tb ? n : k)), "cublas gemm: B");
        }
        requireInside(C, 4 * ((size_t)(n - 1) * ldc + m), "cublas gemm: C");
    }, [=] {
        if (halfOperands && k > 0) {
            std::vector<float> a = widenBF16(A, (size_t)((ta ? m : k) - 1) * lda + (ta ? k : m));
            std::vector<float> b = widenBF16(B, (size_t)((tb ? k : n) - 1) * ldb + (tb ? n : k));
            columnMajorProduct(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, (float *)(uintptr_t)C, ldc, 23);
            return;
        }
        columnMajorProduct(ta, tb, m, n, k, alpha, (const float *)(uintptr_t)A, lda, (const float *)(uintptr_t)B, ldb, beta,
                           (float *)(uintptr_t)C, ldc, bits);
    });
    return 0;
}

}  // namespace

EXPORT int cublasCreate_v2(void **handle) {
    if (int e = injectedFailure("cublasCreate_v2", 1)) return e;
    if (requireContext()) return 1;  // NOT_INITIALIZED: cuBLAS binds the handle to the current context
    *handle = new BLASHandle;
    return 0;
}
EXPORT int cublasSetStream_v2(void *handle, void *stream) { return handle && stream == &streamToken ? 0 : 7; }
EXPORT int cublasSetMathMode(void *handle, int mode) {
    if (!handle || (mode != 0 && mode != 3)) return 7;  // DEFAULT_MATH, TF32_TENSOR_OP_MATH
    ((BLASHandle *)handle)->mathMode = mode;
    return 0;
}
EXPORT int cublasSetWorkspace_v2(void *handle, uint64_t workspace, size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!handle) return 1;
    if (bytes) requireInside(workspace, bytes, "cublasSetWorkspace");
    ((BLASHandle *)handle)->workspace = workspace;
    ((BLASHandle *)handle)->workspaceBytes = bytes;
    return 0;
}
EXPORT int cublasGetProperty(int type, int *value) {
    static const int parts[3] = {13, 0, 0};
    if (type < 0 || type > 2) return 7;
    *value = parts[type];
    return 0;
}

EXPORT int cublasSgemm_v2(void *handle, int opA, int opB, int m, int n, int k, const float *alpha, uint64_t A, int lda,
                          uint64_t B, int ldb, const float *beta, uint64_t C, int ldc) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = injectedFailure("cublasSgemm_v2", 13)) return e;
    BLASHandle *h = (BLASHandle *)handle;
    return gemm(h, opA, opB, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc, h && h->mathMode == 3 ? 10 : 23);
}

EXPORT int cublasGemmEx(void *handle, int opA, int opB, int m, int n, int k, const void *alpha, uint64_t A, int typeA, int lda,
                        uint64_t B, int typeB, int ldb, const void *beta, uint64_t C, int typeC, int ldc, int computeType,
                        int algorithm) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = injectedFailure("cublasGemmEx", 13)) return e;
    if (typeA == 14 && typeB == 14 && typeC == 0 && computeType == 68 && algorithm == -1)  // CUDA_R_16BF operands
        return gemm((BLASHandle *)handle, opA, opB, m, n, k, *(const float *)alpha, A, lda, B, ldb, *(const float *)beta, C,
                    ldc, 23, true);
    if (typeA != 0 || typeB != 0 || typeC != 0) return 15;  // other operand types: NOT_SUPPORTED
    int bits;
    switch (computeType) {
    case 68: bits = 23; break;  // CUBLAS_COMPUTE_32F
    case 74: bits = 10; break;  // CUBLAS_COMPUTE_32F_FAST_TF32
    case 75: bits = 7; break;   // CUBLAS_COMPUTE_32F_FAST_16BF
    default: return 15;
    }
    if (algorithm != -1) return 7;
    return gemm((BLASHandle *)handle, opA, opB, m, n, k, *(const float *)alpha, A, lda, B, ldb, *(const float *)beta, C, ldc,
                bits);
}
