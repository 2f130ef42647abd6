#include "charrnn_kernels.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

// exp by Cody-Waite range reduction and a degree-6 polynomial (Cephes expf coefficients).
// The rounding uses the 1.5*2^23 trick so it vectorises without SSE4.1's round instruction.
static inline float fast_exp(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f;
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale;
    scale.i = ((int32_t)n + 127) << 23;
    return p * scale.f;
}

static inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

static inline float fast_tanh(float x) {
    float e = fast_exp(2.0f * x);
    return 1.0f - 2.0f / (e + 1.0f);
}

void crn_exp(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = fast_exp(x[i]);
}
void crn_sigmoid(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = fast_sigmoid(x[i]);
}
void crn_tanh(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = fast_tanh(x[i]);
}

void crn_lstm_forward(int B, int H, float *gates, const float *bias, const float *c_prev,
                      float *c, float *h) {
    for (int b = 0; b < B; b++) {
        float *gi = gates + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        const float *bi = bias, *bf = bias + H, *bg = bias + 2 * H, *bo = bias + 3 * H;
        const float *cp = c_prev + (size_t)b * H;
        float *cb = c + (size_t)b * H, *hb = h + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            float i = fast_sigmoid(gi[j] + bi[j]);
            float f = fast_sigmoid(gf[j] + bf[j]);
            float g = fast_tanh(gg[j] + bg[j]);
            float o = fast_sigmoid(go[j] + bo[j]);
            float cn = f * cp[j] + i * g;
            gi[j] = i; gf[j] = f; gg[j] = g; go[j] = o;
            cb[j] = cn;
            hb[j] = o * fast_tanh(cn);
        }
    }
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
        if (dhr) {
            for (int j = 0; j < H; j++) {
                float dh = dho[j] + dhr[j];
                float tc = fast_tanh(cb[j]);
                float i = gi[j], f = gf[j], g = gg[j], o = go[j];
                float dcj = dcb[j] + dh * o * (1.0f - tc * tc);
                di[j] = dcj * g * i * (1.0f - i);
                df[j] = dcj * cp[j] * f * (1.0f - f);
                dg[j] = dcj * i * (1.0f - g * g);
                dob[j] = dh * tc * o * (1.0f - o);
                dcb[j] = dcj * f;
            }
        } else {
            for (int j = 0; j < H; j++) {
                float dh = dho[j];
                float tc = fast_tanh(cb[j]);
                float i = gi[j], f = gf[j], g = gg[j], o = go[j];
                float dcj = dcb[j] + dh * o * (1.0f - tc * tc);
                di[j] = dcj * g * i * (1.0f - i);
                df[j] = dcj * cp[j] * f * (1.0f - f);
                dg[j] = dcj * i * (1.0f - g * g);
                dob[j] = dh * tc * o * (1.0f - o);
                dcb[j] = dcj * f;
            }
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
        for (int j = 0; j < H; j++) {
            float r = fast_sigmoid(xr[j] + hr[j]);
            float z = fast_sigmoid(xz[j] + hz[j]);
            float n = fast_tanh(xn[j] + r * hn[j]);
            ar[j] = r; az[j] = z; an[j] = n;
            hb[j] = (1.0f - z) * n + z * hpv[j];
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
        for (int j = 0; j < H; j++) {
            float dh = dho[j] + (dhr ? dhr[j] : 0.0f);
            float r = ar[j], z = az[j], n = an[j];
            float dpn = dh * (1.0f - z) * (1.0f - n * n);
            float dpz = dh * (hpv[j] - n) * z * (1.0f - z);
            float dpr = dpn * hn[j] * r * (1.0f - r);
            dxr[j] = dpr; dxz[j] = dpz; dxn[j] = dpn;
            dhr_[j] = dpr; dhz[j] = dpz; dhn[j] = dpn * r;
            dhpv[j] = dh * z;
        }
    }
}

void crn_rnn_forward(int B, int H, const float *pre, const float *bias, float *h, int relu) {
    for (int b = 0; b < B; b++) {
        const float *p = pre + (size_t)b * H;
        float *hb = h + (size_t)b * H;
        if (relu) {
            for (int j = 0; j < H; j++) { float v = p[j] + bias[j]; hb[j] = v > 0.0f ? v : 0.0f; }
        } else {
            for (int j = 0; j < H; j++) hb[j] = fast_tanh(p[j] + bias[j]);
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

double crn_softmax_xent(int N, int V, float *logits, const int32_t *targets, float scale, int grad) {
    double total = 0.0;
    for (int r = 0; r < N; r++) {
        float *x = logits + (size_t)r * V;
        float m = x[0];
        for (int j = 1; j < V; j++) m = x[j] > m ? x[j] : m;
        int t = targets[r];
        float xt = x[t] - m;
        float s = 0.0f;
        if (grad) {
            for (int j = 0; j < V; j++) { float e = fast_exp(x[j] - m); x[j] = e; s += e; }
        } else {
            for (int j = 0; j < V; j++) s += fast_exp(x[j] - m);
        }
        total += log((double)s) - (double)xt;
        if (grad) {
            float k = scale / s;
            for (int j = 0; j < V; j++) x[j] *= k;
            x[t] -= scale;
        }
    }
    return total;
}

void crn_softmax_temperature(int V, const float *logits, float inv_temperature, float *probs) {
    float m = logits[0];
    for (int j = 1; j < V; j++) m = logits[j] > m ? logits[j] : m;
    float s = 0.0f;
    for (int j = 0; j < V; j++) { float e = fast_exp((logits[j] - m) * inv_temperature); probs[j] = e; s += e; }
    float k = 1.0f / s;
    for (int j = 0; j < V; j++) probs[j] *= k;
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
