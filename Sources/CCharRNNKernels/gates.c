// The recurrent cells' elementwise work: LSTM, GRU and vanilla RNN gates, forward and backward, and the
// exp, sigmoid and tanh they use; sixteen floats at a time with clang's vector extension (a row's tail,
// n < 16, is loaded into zero padding and goes through the same arithmetic). Each kernel's body is
// compiled twice: for the build's own target (two AVX registers a vector with -march=haswell, four SSE
// or NEON ones otherwise) and for AVX-512, and the AVX-512 build runs where the CPU has it (see
// crn_kernel_width). Each lane does the same operations in both, so they give the same bits wherever
// the build has FMA. Sixteen lanes were faster than eight on AVX2 too (more independent work a loop).
#include "charrnn_kernels.h"
#include "vector_exp.h"
#include <string.h>

// The helpers take and return 16-float vectors; they are static and always inlined, so no call passes
// one across a boundary where the ABI warning would matter.
#pragma clang diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))
typedef float v16f __attribute__((ext_vector_type(16)));
typedef int32_t v16i __attribute__((ext_vector_type(16)));

INLINE v16f ld(const float *p, int n) {
    v16f v = 0.0f;
    if (n == 16) memcpy(&v, p, 64); else memcpy(&v, p, (size_t)n * 4);
    return v;
}
INLINE void st(float *p, v16f v, int n) {
    if (n == 16) memcpy(p, &v, 64); else memcpy(p, &v, (size_t)n * 4);
}
INLINE v16f splat(float x) { return (v16f)x; }
CRN_DEFINE_VEXP(vexp, v16f, v16i)
INLINE v16f vsigmoid(v16f x) { return 1.0f / (1.0f + vexp(-x)); }
INLINE v16f vtanh(v16f x) { return 1.0f - 2.0f / (vexp(2.0f * x) + 1.0f); }

#define FOR16(j, H) for (int j = 0, n_ = (H) < 16 ? (H) : 16; j < (H); j += 16, n_ = ((H) - j) < 16 ? ((H) - j) : 16)
#define W n_

// Units [0, n) of one row whose gate blocks are H apart.
INLINE void lstm_forward_units(int n, int H, float *gi, const float *bias, const float *cp,
                               float *cb, float *hb) {
    float *gf = gi + H, *gg = gf + H, *go = gg + H;
    FOR16(j, n) {
        v16f i = vsigmoid(ld(gi + j, W) + ld(bias + j, W));
        v16f f = vsigmoid(ld(gf + j, W) + ld(bias + H + j, W));
        v16f g = vtanh(ld(gg + j, W) + ld(bias + 2 * H + j, W));
        v16f o = vsigmoid(ld(go + j, W) + ld(bias + 3 * H + j, W));
        v16f cn = f * ld(cp + j, W) + i * g;
        st(gi + j, i, W); st(gf + j, f, W); st(gg + j, g, W); st(go + j, o, W);
        st(cb + j, cn, W);
        st(hb + j, o * vtanh(cn), W);
    }
}

INLINE void lstm_forward_body(int B, int H, float *gates, const float *bias, const float *c_prev,
                              float *c, float *h) {
    for (int b = 0; b < B; b++)
        lstm_forward_units(H, H, gates + (size_t)b * 4 * H, bias, c_prev + (size_t)b * H,
                           c + (size_t)b * H, h + (size_t)b * H);
}

INLINE void lstm_backward_body(int B, int H, const float *gates, const float *c_prev, const float *c,
                               const float *dh_out, const float *dh_rec, float *dc, float *dgates) {
    for (int b = 0; b < B; b++) {
        const float *gi = gates + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        const float *cp = c_prev + (size_t)b * H, *cb = c + (size_t)b * H;
        const float *dho = dh_out + (size_t)b * H;
        const float *dhr = dh_rec ? dh_rec + (size_t)b * H : NULL;
        float *dcb = dc + (size_t)b * H;
        float *di = dgates + (size_t)b * 4 * H, *df = di + H, *dg = df + H, *dob = dg + H;
        FOR16(j, H) {
            v16f dh = ld(dho + j, W);
            if (dhr) dh += ld(dhr + j, W);
            v16f tc = vtanh(ld(cb + j, W));
            v16f i = ld(gi + j, W), f = ld(gf + j, W), g = ld(gg + j, W), o = ld(go + j, W);
            v16f dcj = ld(dcb + j, W) + dh * o * (1.0f - tc * tc);
            st(di + j, dcj * g * i * (1.0f - i), W);
            st(df + j, dcj * ld(cp + j, W) * f * (1.0f - f), W);
            st(dg + j, dcj * i * (1.0f - g * g), W);
            st(dob + j, dh * tc * o * (1.0f - o), W);
            st(dcb + j, dcj * f, W);
        }
    }
}

INLINE void gru_forward_body(int B, int H, const float *xp, const float *hp, const float *h_prev,
                             float *act, float *h) {
    for (int b = 0; b < B; b++) {
        const float *xr = xp + (size_t)b * 3 * H, *xz = xr + H, *xn = xz + H;
        const float *hr = hp + (size_t)b * 3 * H, *hz = hr + H, *hn = hz + H;
        const float *hpv = h_prev + (size_t)b * H;
        float *ar = act + (size_t)b * 3 * H, *az = ar + H, *an = az + H;
        float *hb = h + (size_t)b * H;
        FOR16(j, H) {
            v16f r = vsigmoid(ld(xr + j, W) + ld(hr + j, W));
            v16f z = vsigmoid(ld(xz + j, W) + ld(hz + j, W));
            v16f n = vtanh(ld(xn + j, W) + r * ld(hn + j, W));
            st(ar + j, r, W); st(az + j, z, W); st(an + j, n, W);
            st(hb + j, (1.0f - z) * n + z * ld(hpv + j, W), W);
        }
    }
}

INLINE void gru_backward_body(int B, int H, const float *act, const float *hp, const float *h_prev,
                              const float *dh_out, const float *dh_rec, float *dxp, float *dhp,
                              float *dh_prev) {
    for (int b = 0; b < B; b++) {
        const float *ar = act + (size_t)b * 3 * H, *az = ar + H, *an = az + H;
        const float *hn = hp + (size_t)b * 3 * H + 2 * H;
        const float *hpv = h_prev + (size_t)b * H;
        const float *dho = dh_out + (size_t)b * H;
        const float *dhr = dh_rec ? dh_rec + (size_t)b * H : NULL;
        float *dxr = dxp + (size_t)b * 3 * H, *dxz = dxr + H, *dxn = dxz + H;
        float *dhr_ = dhp + (size_t)b * 3 * H, *dhz = dhr_ + H, *dhn = dhz + H;
        float *dhpv = dh_prev + (size_t)b * H;
        FOR16(j, H) {
            v16f dh = ld(dho + j, W);
            if (dhr) dh += ld(dhr + j, W);
            v16f r = ld(ar + j, W), z = ld(az + j, W), n = ld(an + j, W);
            v16f dpn = dh * (1.0f - z) * (1.0f - n * n);
            v16f dpz = dh * (ld(hpv + j, W) - n) * z * (1.0f - z);
            v16f dpr = dpn * ld(hn + j, W) * r * (1.0f - r);
            st(dxr + j, dpr, W); st(dxz + j, dpz, W); st(dxn + j, dpn, W);
            st(dhr_ + j, dpr, W); st(dhz + j, dpz, W); st(dhn + j, dpn * r, W);
            st(dhpv + j, dh * z, W);
        }
    }
}

INLINE void rnn_forward_body(int B, int H, const float *pre, const float *bias, float *h, int relu) {
    for (int b = 0; b < B; b++) {
        const float *p = pre + (size_t)b * H;
        float *hb = h + (size_t)b * H;
        FOR16(j, H) {
            v16f v = ld(p + j, W) + ld(bias + j, W);
            st(hb + j, relu ? __builtin_elementwise_max(v, splat(0.0f)) : vtanh(v), W);
        }
    }
}

#define UNARY_BODY(name, f)                                                          \
    INLINE void name(const float *x, float *y, size_t n) {                              \
        for (size_t i = 0; i < n; i += 16) {                                            \
            int w = n - i < 16 ? (int)(n - i) : 16;                                     \
            st(y + i, f(ld(x + i, w)), w);                                              \
        }                                                                               \
    }
UNARY_BODY(exp_body, vexp)
UNARY_BODY(sigmoid_body, vsigmoid)
UNARY_BODY(tanh_body, vtanh)

// Each public kernel: its body's AVX-512 build where the CPU has it, else the plain one.
#if defined(__x86_64__) && defined(__clang__)
#define PUBLIC(name, body, params, args)                                                \
    __attribute__((target("avx512f"))) static void body##_avx512 params { body args; }   \
    void name params {                                                                  \
        if (crn_kernel_width() == 16) body##_avx512 args; else body args;               \
    }
#else
#define PUBLIC(name, body, params, args) void name params { body args; }
#endif

PUBLIC(crn_exp, exp_body, (const float *x, float *y, size_t n), (x, y, n))
PUBLIC(crn_sigmoid, sigmoid_body, (const float *x, float *y, size_t n), (x, y, n))
PUBLIC(crn_tanh, tanh_body, (const float *x, float *y, size_t n), (x, y, n))
PUBLIC(crn_lstm_forward, lstm_forward_body,
       (int B, int H, float *gates, const float *bias, const float *c_prev, float *c, float *h),
       (B, H, gates, bias, c_prev, c, h))
PUBLIC(crn_lstm_backward, lstm_backward_body,
       (int B, int H, const float *gates, const float *c_prev, const float *c, const float *dh_out,
        const float *dh_rec, float *dc, float *dgates),
       (B, H, gates, c_prev, c, dh_out, dh_rec, dc, dgates))
PUBLIC(crn_gru_forward, gru_forward_body,
       (int B, int H, const float *xp, const float *hp, const float *h_prev, float *act, float *h),
       (B, H, xp, hp, h_prev, act, h))
PUBLIC(crn_gru_backward, gru_backward_body,
       (int B, int H, const float *act, const float *hp, const float *h_prev, const float *dh_out,
        const float *dh_rec, float *dxp, float *dhp, float *dh_prev),
       (B, H, act, hp, h_prev, dh_out, dh_rec, dxp, dhp, dh_prev))
PUBLIC(crn_rnn_forward, rnn_forward_body, (int B, int H, const float *pre, const float *bias, float *h, int relu),
       (B, H, pre, bias, h, relu))

// Scalar: the compiler vectorises it, and it has no exp.
void crn_rnn_backward(int B, int H, const float *h, const float *dh_out, const float *dh_rec,
                      float *dpre, int relu) {
    size_t n = (size_t)B * H;
    for (size_t k = 0; k < n; k++) {
        float dh = dh_out[k] + (dh_rec ? dh_rec[k] : 0.0f);
        dpre[k] = relu ? (h[k] > 0.0f ? dh : 0.0f) : dh * (1.0f - h[k] * h[k]);
    }
}

