// The optimizers' elementwise updates over a range of the flat parameter buffer, the twins of the CUDA
// kernels of Optimizers/<Rule>.swift (same names without the prefix, same arguments). `restrict` lets
// the compiler vectorise the square roots and divisions, which a Swift loop over four pointers that
// might alias did one at a time; the square root is the builtin without errno (sqrtf's errno kept the
// loops scalar). Contraction is off, so each update rounds
// exactly as the Swift expressions it replaced, and runs give the same bits as before.
#include "charrnn_kernels.h"

#pragma clang fp contract(off)

// s is the update's scalars (UpdateScalars): s[0] lr, s[1] Adam's step size lr / (1 - beta1^t), s[2]
// sqrt(1 - beta2^t), s[3] AdamW's shrink 1 - lr * weight_decay (1 otherwise), s[4] 1 on the first update.
void crn_sgd_update(size_t n, float *restrict p, const float *restrict g, const float *restrict s) {
    const float lr = s[0];
    for (size_t i = 0; i < n; i++) p[i] = p[i] - lr * g[i];
}

void crn_sgd_momentum_update(size_t n, float *restrict p, const float *restrict g, float *restrict m,
                             const float *restrict s, float mu) {
    const float lr = s[0];
    if (s[4] != 0.0f) {
        for (size_t i = 0; i < n; i++) { m[i] = g[i]; p[i] = p[i] - lr * m[i]; }
    } else {
        for (size_t i = 0; i < n; i++) { m[i] = mu * m[i] + g[i]; p[i] = p[i] - lr * m[i]; }
    }
}

void crn_adam_update(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                     float b1, float b2, float eps, const float *restrict s) {
    const float a1 = 1.0f - b1, a2 = 1.0f - b2, step_size = s[1], bias2_root = s[2], shrink = s[3];
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i];
        m[i] = b1 * m[i] + a1 * gi;
        v[i] = b2 * v[i] + a2 * gi * gi;
        p[i] = p[i] * shrink - step_size * m[i] / (__builtin_elementwise_sqrt(v[i]) / bias2_root + eps);
    }
}

void crn_rmsprop_update(size_t n, float *restrict p, const float *restrict g, float *restrict m, const float *restrict s,
                        float alpha, float eps) {
    const float a = 1.0f - alpha, lr = s[0];
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i];
        m[i] = alpha * m[i] + a * gi * gi;
        p[i] = p[i] - lr * gi / (__builtin_elementwise_sqrt(m[i]) + eps);
    }
}

void crn_adagrad_update(size_t n, float *restrict p, const float *restrict g, float *restrict m, const float *restrict s,
                        float eps) {
    const float lr = s[0];
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i];
        m[i] = m[i] + gi * gi;
        p[i] = p[i] - lr * gi / (__builtin_elementwise_sqrt(m[i]) + eps);
    }
}

void crn_dynamic_update(size_t n, float *restrict p, const float *restrict g, const float *restrict p0,
                        const float *restrict rms, const float *restrict decay, float lr, float eps) {
    for (size_t i = 0; i < n; i++) {
        const float pi = p[i];
        p[i] = pi + decay[i] * (p0[i] - pi) - lr * g[i] / (rms[i] + eps);
    }
}

void crn_add_squares(size_t n, float *restrict sum, const float *restrict g) {
    for (size_t i = 0; i < n; i++) sum[i] = sum[i] + g[i] * g[i];
}
