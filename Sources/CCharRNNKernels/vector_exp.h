// exp by Cody-Waite range reduction and a degree-6 polynomial (Cephes expf coefficients), a vector at
// a time, for a float vector type VF and the int vector VI of the same width. The rounding uses the
// 1.5*2^23 trick so it vectorises without SSE4.1's round instruction. The softmax (8 lanes) and the
// cells' gates (16 lanes) each define theirs from this one text, so every lane computes the same.
#ifndef CHARRNN_VECTOR_EXP_H
#define CHARRNN_VECTOR_EXP_H

#define CRN_DEFINE_VEXP(NAME, VF, VI)                                                \
    static inline __attribute__((always_inline)) VF NAME(VF x) {                     \
        x = __builtin_elementwise_max(x, (VF)-87.0f);                                 \
        x = __builtin_elementwise_min(x, (VF)88.0f);                                  \
        const VF magic = (VF)12582912.0f;                                             \
        VF n = (x * 1.44269504088896341f + magic) - magic;                            \
        VF r = x - n * 0.693359375f;                                                  \
        r = r + n * 2.12194440e-4f;                                                   \
        VF p = (VF)1.9875691500e-4f;                                                  \
        p = p * r + 1.3981999507e-3f;                                                 \
        p = p * r + 8.3334519073e-3f;                                                 \
        p = p * r + 4.1665795894e-2f;                                                 \
        p = p * r + 1.6666665459e-1f;                                                 \
        p = p * r + 5.0000001201e-1f;                                                 \
        p = p * r * r + r + 1.0f;                                                     \
        VI e = (__builtin_convertvector(n, VI) + 127) << 23;                          \
        return p * (VF)e;                                                             \
    }

#endif
