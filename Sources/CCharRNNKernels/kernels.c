#include "charrnn_kernels.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

// Eight floats at a time with clang's vector extension: vectorised whatever the compiler concludes about
// aliasing, and lowered to AVX on x86-64 with -march, to SSE pairs without it, to NEON on Arm.
// A row's tail (n < 8) is loaded into zero padding and goes through the same arithmetic.
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
static inline v8f splat(float x) { return (v8f)x; }

// exp by Cody-Waite range reduction and a degree-6 polynomial (Cephes expf coefficients), eight lanes
// at a time. The rounding uses the 1.5*2^23 trick so it vectorises without SSE4.1's round instruction.
static inline v8f vexp(v8f x) {
    x = __builtin_elementwise_max(x, splat(-87.0f));
    x = __builtin_elementwise_min(x, splat(88.0f));
    const v8f magic = splat(12582912.0f);
    v8f n = (x * 1.44269504088896341f + magic) - magic;
    v8f r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    v8f p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
    return p * (v8f)e;
}
static inline v8f vsigmoid(v8f x) { return 1.0f / (1.0f + vexp(-x)); }
static inline v8f vtanh(v8f x) { return 1.0f - 2.0f / (vexp(2.0f * x) + 1.0f); }

#define FOR8(j, H) for (int j = 0, n_ = (H) < 8 ? (H) : 8; j < (H); j += 8, n_ = ((H) - j) < 8 ? ((H) - j) : 8)
#define W n_

void crn_exp(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 8) { int w = n - i < 8 ? (int)(n - i) : 8; st(y + i, vexp(ld(x + i, w)), w); }
}
void crn_sigmoid(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 8) { int w = n - i < 8 ? (int)(n - i) : 8; st(y + i, vsigmoid(ld(x + i, w)), w); }
}
void crn_tanh(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 8) { int w = n - i < 8 ? (int)(n - i) : 8; st(y + i, vtanh(ld(x + i, w)), w); }
}

// Units [0, n) of one row whose gate blocks are H apart.
static inline void lstm_forward_units(int n, int H, float *gi, const float *bias, const float *cp,
                                      float *cb, float *hb) {
    float *gf = gi + H, *gg = gf + H, *go = gg + H;
    FOR8(j, n) {
        v8f i = vsigmoid(ld(gi + j, W) + ld(bias + j, W));
        v8f f = vsigmoid(ld(gf + j, W) + ld(bias + H + j, W));
        v8f g = vtanh(ld(gg + j, W) + ld(bias + 2 * H + j, W));
        v8f o = vsigmoid(ld(go + j, W) + ld(bias + 3 * H + j, W));
        v8f cn = f * ld(cp + j, W) + i * g;
        st(gi + j, i, W); st(gf + j, f, W); st(gg + j, g, W); st(go + j, o, W);
        st(cb + j, cn, W);
        st(hb + j, o * vtanh(cn), W);
    }
}

void crn_lstm_forward(int B, int H, float *gates, const float *bias, const float *c_prev,
                      float *c, float *h) {
    for (int b = 0; b < B; b++)
        lstm_forward_units(H, H, gates + (size_t)b * 4 * H, bias, c_prev + (size_t)b * H,
                           c + (size_t)b * H, h + (size_t)b * H);
}

void crn_lstm_forward_slice(int H, int j0, int n, float *gates, const float *bias, const float *c_prev,
                            float *c, float *h) {
    lstm_forward_units(n, H, gates + j0, bias + j0, c_prev + j0, c + j0, h + j0);
}

void crn_lstm_backward(int B, int H, const float *gates, const float *c_prev, const float *c,
                       const float *dh_out, const float *dh_rec, float *dc, float *dgates) {
    for (int b = 0; b < B; b++) {
        const float *gi = gates + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        const float *cp = c_prev + (size_t)b * H, *cb = c + (size_t)b * H;
        const float *dho = dh_out + (size_t)b * H;
        const float *dhr = dh_rec ? dh_rec + (size_t)b * H : NULL;
        float *dcb = dc + (size_t)b * H;
        float *di = dgates + (size_t)b * 4 * H, *df = di + H, *dg = df + H, *dob = dg + H;
        FOR8(j, H) {
            v8f dh = ld(dho + j, W);
            if (dhr) dh += ld(dhr + j, W);
            v8f tc = vtanh(ld(cb + j, W));
            v8f i = ld(gi + j, W), f = ld(gf + j, W), g = ld(gg + j, W), o = ld(go + j, W);
            v8f dcj = ld(dcb + j, W) + dh * o * (1.0f - tc * tc);
            st(di + j, dcj * g * i * (1.0f - i), W);
            st(df + j, dcj * ld(cp + j, W) * f * (1.0f - f), W);
            st(dg + j, dcj * i * (1.0f - g * g), W);
            st(dob + j, dh * tc * o * (1.0f - o), W);
            st(dcb + j, dcj * f, W);
        }
    }
}

void crn_gru_forward(int B, int H, const float *xp, const float *hp, const float *h_prev,
                     float *act, float *h) {
    for (int b = 0; b < B; b++) {
        const float *xr = xp + (size_t)b * 3 * H, *xz = xr + H, *xn = xz + H;
        const float *hr = hp + (size_t)b * 3 * H, *hz = hr + H, *hn = hz + H;
        const float *hpv = h_prev + (size_t)b * H;
        float *ar = act + (size_t)b * 3 * H, *az = ar + H, *an = az + H;
        float *hb = h + (size_t)b * H;
        FOR8(j, H) {
            v8f r = vsigmoid(ld(xr + j, W) + ld(hr + j, W));
            v8f z = vsigmoid(ld(xz + j, W) + ld(hz + j, W));
            v8f n = vtanh(ld(xn + j, W) + r * ld(hn + j, W));
            st(ar + j, r, W); st(az + j, z, W); st(an + j, n, W);
            st(hb + j, (1.0f - z) * n + z * ld(hpv + j, W), W);
        }
    }
}

void crn_gru_backward(int B, int H, const float *act, const float *hp, const float *h_prev,
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
        FOR8(j, H) {
            v8f dh = ld(dho + j, W);
            if (dhr) dh += ld(dhr + j, W);
            v8f r = ld(ar + j, W), z = ld(az + j, W), n = ld(an + j, W);
            v8f dpn = dh * (1.0f - z) * (1.0f - n * n);
            v8f dpz = dh * (ld(hpv + j, W) - n) * z * (1.0f - z);
            v8f dpr = dpn * ld(hn + j, W) * r * (1.0f - r);
            st(dxr + j, dpr, W); st(dxz + j, dpz, W); st(dxn + j, dpn, W);
            st(dhr_ + j, dpr, W); st(dhz + j, dpz, W); st(dhn + j, dpn * r, W);
            st(dhpv + j, dh * z, W);
        }
    }
}

void crn_rnn_forward(int B, int H, const float *pre, const float *bias, float *h, int relu) {
    for (int b = 0; b < B; b++) {
        const float *p = pre + (size_t)b * H;
        float *hb = h + (size_t)b * H;
        FOR8(j, H) {
            v8f v = ld(p + j, W) + ld(bias + j, W);
            st(hb + j, relu ? __builtin_elementwise_max(v, splat(0.0f)) : vtanh(v), W);
        }
    }
}

void crn_rnn_backward(int B, int H, const float *h, const float *dh_out, const float *dh_rec,
                      float *dpre, int relu) {
    size_t n = (size_t)B * H;
    for (size_t k = 0; k < n; k++) {
        float dh = dh_out[k] + (dh_rec ? dh_rec[k] : 0.0f);
        dpre[k] = relu ? (h[k] > 0.0f ? dh : 0.0f) : dh * (1.0f - h[k] * h[k]);
    }
}

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
double crn_sumsq(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
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
