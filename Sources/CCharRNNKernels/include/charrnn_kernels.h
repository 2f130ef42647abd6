#ifndef CHARRNN_KERNELS_H
#define CHARRNN_KERNELS_H
// Elementwise kernels for charrnn. Loops are written so the compiler vectorises them:
// no calls into libm inside the loops, only the polynomial exp below.
// Shapes are in the comments; all matrices are row-major, batch rows of width H or G*H.
#include <stddef.h>
#include <stdint.h>
#include "charrnn_pool.h"
#include "charrnn_nccl.h"

#ifdef __cplusplus
extern "C" {
#endif

// y[i] = exp(x[i]), sigmoid, tanh over n floats (x and y may alias).
void crn_exp(const float *x, float *y, size_t n);
void crn_sigmoid(const float *x, float *y, size_t n);
void crn_tanh(const float *x, float *y, size_t n);

// LSTM, PyTorch gate order i, f, g, o.
// forward: gates[B,4H] holds x W_ih^T + h W_hh^T (no bias); adds bias[4H], activates in place,
//          c = f*c_prev + i*g, h = o*tanh(c).
void crn_lstm_forward(int B, int H, float *gates, const float *bias, const float *c_prev,
                      float *c, float *h);
// backward: dh = dh_out + dh_rec (dh_rec may be NULL); dc[B,H] carries dc from step t+1 in and
//           dc for step t-1 out; writes pre-activation gradients dgates[B,4H].
void crn_lstm_backward(int B, int H, const float *gates, const float *c_prev, const float *c,
                       const float *dh_out, const float *dh_rec, float *dc, float *dgates);

// GRU, PyTorch gate order r, z, n.
// forward: xp[B,3H] = x W_ih^T + b_ih, hp[B,3H] = h W_hh^T + b_hh (kept for backward);
//          act[B,3H] receives r, z, n; h = (1-z)*n + z*h_prev.
void crn_gru_forward(int B, int H, const float *xp, const float *hp, const float *h_prev,
                     float *act, float *h);
// backward: dxp[B,3H] and dhp[B,3H] are the gradients of xp and hp; dh_prev[B,H] = dh*z
//           (the part of dh_{t-1} that does not go through W_hh).
void crn_gru_backward(int B, int H, const float *act, const float *hp, const float *h_prev,
                      const float *dh_out, const float *dh_rec, float *dxp, float *dhp,
                      float *dh_prev);

// Vanilla RNN: pre[B,H] = x W_ih^T + h W_hh^T; h = act(pre + bias); relu != 0 selects ReLU.
void crn_rnn_forward(int B, int H, const float *pre, const float *bias, float *h, int relu);
void crn_rnn_backward(int B, int H, const float *h, const float *dh_out, const float *dh_rec,
                      float *dpre, int relu);

// Softmax cross-entropy over N rows of V logits. Returns the summed loss (nats) in double.
// With grad != 0 the logits are overwritten by scale * (softmax - onehot(target)).
double crn_softmax_xent(int N, int V, float *logits, const int32_t *targets, float scale, int grad);

// probs[V] = softmax(logits / temperature).
void crn_softmax_temperature(int V, const float *logits, float inv_temperature, float *probs);

// Zeroes all of probs[V] (values >= 0) but the k largest; of equal values at the k-th place, the lowest
// ids stay. A radix select on the values' bits: O(V), where sorting the ids cost O(V log V) per draw.
void crn_keep_top_k(int V, float *probs, int k);
// logits[b, j] -= counts[b, j] * frequency + (counts[b, j] > 0 ? presence : 0), in place: OpenAI's penalties.
void crn_penalize_logits(int B, int V, float *logits, const int *counts, float presence, float frequency);

// y[i] = x[i] * m[i]
void crn_mul(const float *x, const float *m, float *y, size_t n);

// Dropout mask elements [begin, end): mask[i] = 0 where a hash of (seed, i % period) drawn uniform in
// [0, 1) is below p, else keep. The GPU's dropout_mask kernel draws the same (dropout.c); period = the
// count for an ordinary mask, B*H over T*B*H for one mask repeated at every step.
// The counter-based generator: the j-th draw of `seed`, uniform in [0, 1) with 24 bits (SplitMix64's
// finaliser of seed + golden * (j + 1)); and the seed of stream `stream` of a generation seeded `seed`.
// Generated text draws its k-th character of stream b with crn_uniform(crn_stream_seed(seed, b), k) on
// the CPU and the GPU alike.
float crn_uniform(uint64_t seed, uint64_t j);
uint64_t crn_stream_seed(uint64_t seed, uint64_t stream);
void crn_dropout_mask(int64_t begin, int64_t end, float *mask, float p, float keep, uint64_t seed, int64_t period);
// y[i] += x[i]
void crn_add(const float *x, float *y, size_t n);
// sum of squares, in double
double crn_sumsq(const float *x, size_t n);

// Dynamic evaluation's step (Krause et al. 2018): p += decay * (p0 - p) - lr * g / (rms + eps), each term
// from the parameters before the step.
void crn_dynamic_update(size_t n, float *p, const float *g, const float *p0, const float *rms, const float *decay,
                        float lr, float eps);
// sum += g * g, elementwise (gradient statistics).
void crn_add_squares(size_t n, float *sum, const float *g);

// The optimizers' updates of n parameters p from their gradients g, with their moments m (and v), as
// Optimizers/<Rule>.swift describes; s holds the update's scalars (UpdateScalars, as in optimizer.c).
void crn_sgd_update(size_t n, float *p, const float *g, const float *s);
void crn_sgd_momentum_update(size_t n, float *p, const float *g, float *m, const float *s, float mu);
void crn_adam_update(size_t n, float *p, const float *g, float *m, float *v, float b1, float b2, float eps, const float *s);
void crn_rmsprop_update(size_t n, float *p, const float *g, float *m, const float *s, float alpha, float eps);
void crn_adagrad_update(size_t n, float *p, const float *g, float *m, const float *s, float eps);

// Ctrl-C: after crn_install_interrupt_handler, the first SIGINT/SIGTERM sets a flag instead of
// killing the process, so training can save a checkpoint; a second one exits at once.
void crn_install_interrupt_handler(void);
int crn_interrupted(void);
void crn_clear_interrupt(void);

// Small-M products against a matrix packed once (see packed_gemm.c). B is K x N; with `transposed`,
// B[k, n] = W[n * ldw + k] (W stored N x K, as PyTorch's weights), else B[k, n] = W[k * ldw + n].
// crn_pack_b fills panels [panel_begin, panel_end) of the (N + 15) / 16 panels, so threads can share it.
size_t crn_packed_size(int K, int N);
void crn_pack_b(int K, int N, const float *W, int ldw, int transposed, float *packed, int panel_begin, int panel_end);
// C[M, N] (+)= A[M, K] B; accumulate 0 overwrites C.
void crn_gemm_packed(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc, int accumulate);
// C[M, N] (+)= A^T B with A stored [K, M] (row stride lda): the weight gradients, dPre^T x.
void crn_gemm_packed_at(int M, int N, int K, const float *A, int lda, const float *packed, float *C, int ldc, int accumulate);
// The lane width of the kernels with an AVX-512 build (the packed product and the cells' gates): 16
// where the CPU has AVX-512F (unless the environment sets CHARRNN_AVX512=0), else 8, chosen at the
// first call. crn_set_kernel_width(8 or 16) picks one where the CPU has it, 0 the automatic choice
// again; it returns the width now in use (the tests run both).
int crn_kernel_width(void);
int crn_set_kernel_width(int width);
// 1 where the kernels were compiled for a CPU with FMA (the plain builds then fuse as the AVX-512 ones do).
int crn_built_with_fma(void);

// Whether the CPU (and the OS) offer AVX-512F; 0 on other architectures.
int crn_cpu_has_avx512f(void);


/* Returns memory the process freed to the system (glibc's malloc_trim; nothing elsewhere). */
void crn_return_freed_memory(void);

#ifdef __cplusplus
}
#endif

#endif
