extension KernelSource {
    /// The next character of B streams, the GPU twin of Sampler.choose, from logits [B, V]; each writes
    /// ids[b] (=), and also history[b] (=) when history is not null (the text so far stays on the device
    /// until the host asks for it).
    ///
    /// greedy: the first largest logit. Otherwise softmax(logits / temperature) over the top_k largest
    /// (top_k <= 0 or >= V: all; of equal logits at the k-th place, the lowest ids, as on the CPU) and a
    /// draw u = crn_uniform(crn_stream_seed(seed, b), draw) by inverse CDF in id order: the CPU's rule
    /// (StreamDraws), so stream b's draws do not depend on B. The seed and the draw's base are read from
    /// device memory (draws[0], draws[1]; draw = base + offset) and advance_draws moves the
    /// base on, so a recorded chunk of steps (a CUDA graph, whose arguments are fixed when it is
    /// recorded) draws new characters each time it is replayed.
    ///
    /// The k-th largest logit is found by a radix select: a logit's bits, mapped so that they order as
    /// the value (crn_order_key), one byte at a time from the top, counting the keys that share the
    /// bytes found so far.
    ///
    /// Two ways, the same ids bit for bit. `sample_next` is one warp per stream (32 threads each), for small
    /// vocabularies: without top-k its lanes share the work (GPU only), with top-k lane 0 does it alone,
    /// as does the host compiler's emulated device always.
    /// A large one (a Chinese corpus: thousands of characters) is cut into slices of CRN_SAMPLE_SLICE
    /// logits, a thread per slice, in a chain of kernels (no barriers or atomics): sample_slice_max;
    /// sample_select_begin; with top-k, sample_radix_count and sample_radix_choose for each byte;
    /// sample_slice_mass; sample_pick. Both sum the probabilities slice by slice and the slices in order,
    /// so their sums are the same floats (u is rounded on its own, __fmul_rn, so that no FMA differs).
    ///
    /// top_p < 1 (nucleus): after top-k, the first ids in the order of the logits (largest first, equal
    /// ones by id) whose masses reach top_p times the mass kept so far, as Sampler.keepNucleus. That
    /// prefix is itself a selection (threshold key, ties kept), found by the same radix walk over the key
    /// bytes with a histogram of masses beside the counts: at each byte, the largest digit at which the
    /// running mass reaches the target. One thread does it in sample_next; by slices, sample_nucleus_begin,
    /// sample_nucleus_count and sample_nucleus_choose for each byte. Both add each digit's mass slice by
    /// slice in order, so the cut is the same. It replaces top-k's selection when it keeps no more (it
    /// always does, but for rounding when top_p is within a float's precision of 1).
    ///
    /// penalize_logits lowers each logit by OpenAI's presence and frequency penalties from counts [B, V] of
    /// the characters each stream generated (count_draws adds each draw), as Sampler.choose.
    ///
    /// select [B, 4] (unsigned) carries a stream's selection between kernels: the threshold key (the k-th
    /// largest logit's, 0 when every logit stays), how many logits equal to it stay (the first ones in
    /// id order), the largest logit's bits, unused.
    /// part_max, part_mass [B, P] and part_counts [B, P, 256] are per slice (P = ceil(V / SLICE)).
    static let sampling = KernelSource(name: "sampling", code: """
    #define CRN_SAMPLE_SLICE 256

    extern "C" __global__ void advance_draws(unsigned long long *draws, int n) {
        if (CRN_THREAD == 0) draws[1] += (unsigned long long)n;
    }

    __device__ __forceinline__ unsigned crn_float_bits(float x) { union { float f; unsigned u; } v; v.f = x; return v.u; }
    __device__ __forceinline__ float crn_bits_float(unsigned u) { union { unsigned u; float f; } v; v.u = u; return v.f; }

    // Unsigned keys in the order of the floats: negative values flipped whole, positive ones above them.
    __device__ __forceinline__ unsigned crn_order_key(float x) {
        const unsigned u = crn_float_bits(x);
        return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    }

    __device__ __forceinline__ int crn_slice_end(int p, int V) { return p * CRN_SAMPLE_SLICE + CRN_SAMPLE_SLICE < V ? p * CRN_SAMPLE_SLICE + CRN_SAMPLE_SLICE : V; }

    __device__ float crn_slice_max(const float *x, int begin, int end) {
        float m = x[begin];
        for (int j = begin + 1; j < end; j++) m = x[j] > m ? x[j] : m;
        return m;
    }

    __device__ int crn_first_at(const float *x, int begin, int end, float value) {
        for (int j = begin; j < end; j++) if (x[j] == value) return j;
        return begin;
    }

    // counts[256] += the byte at `shift` of the keys in x[begin, end) whose higher bytes are prefix's.
    __device__ void crn_slice_histogram(const float *x, int begin, int end, unsigned prefix, int shift, int *counts) {
        const unsigned mask = shift >= 24 ? 0u : 0xFFFFFFFFu << (shift + 8);
        for (int j = begin; j < end; j++) {
            const unsigned key = crn_order_key(x[j]);
            if ((key & mask) == prefix) counts[(key >> shift) & 255]++;
        }
    }

    // Whether a logit stays: above the threshold, or equal to it and among the first `keep` such ids
    // (*ties counts those seen so far).
    __device__ __forceinline__ int crn_kept(unsigned key, unsigned threshold, int keep, int *ties) {
        return key > threshold || (key == threshold && (*ties)++ < keep);
    }

    // The sum of exp((x - m) / temperature) over the logits in x[begin, end) that stay.
    __device__ float crn_slice_mass(const float *x, int begin, int end, float m, float inv_temperature,
                                    unsigned threshold, int keep, int *ties) {
        float s = 0.0f;
        for (int j = begin; j < end; j++)
            if (crn_kept(crn_order_key(x[j]), threshold, keep, ties)) s += expf((x[j] - m) * inv_temperature);
        return s;
    }

    // The id in x[begin, end) at which the running sum of the kept masses passes u; the last kept id
    // when rounding leaves u unpassed; -1 when none stays.
    __device__ int crn_slice_pick(const float *x, int begin, int end, float m, float inv_temperature,
                                  unsigned threshold, int keep, int *ties, float u) {
        float s = 0.0f;
        int last = -1;
        for (int j = begin; j < end; j++) {
            if (!crn_kept(crn_order_key(x[j]), threshold, keep, ties)) continue;
            s += expf((x[j] - m) * inv_temperature);
            last = j;
            if (u < s) return j;
        }
        return last;
    }


    // The float whose crn_order_key is `key`.
    __device__ __forceinline__ float crn_key_float(unsigned key) {
        return crn_bits_float((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
    }

    // counts[256] and mass[256] += each byte at `shift` of the keys in x[begin, end) whose higher bytes
    // are prefix's, and its mass exp((x - m) / temperature).
    __device__ void crn_slice_mass_histogram(const float *x, int begin, int end, unsigned prefix, int shift, float m,
                                             float inv_temperature, int *counts, float *mass) {
        const unsigned mask = shift >= 24 ? 0u : 0xFFFFFFFFu << (shift + 8);
        for (int j = begin; j < end; j++) {
            const unsigned key = crn_order_key(x[j]);
            if ((key & mask) != prefix) continue;
            const int d = (int)((key >> shift) & 255u);
            counts[d]++;
            mass[d] += expf((x[j] - m) * inv_temperature);
        }
    }

    // The largest digit at which the running mass (*above, the mass of the larger keys) reaches target,
    // else the smallest digit present; *above gains the masses of the digits above it.
    __device__ int crn_nucleus_digit(const int *counts, const float *mass, float target, float *above) {
        int lowest = 0;
        while (lowest < 255 && counts[lowest] == 0) lowest++;
        for (int d = 255; d > lowest; d--) {
            if (counts[d] == 0) continue;
            if (*above + mass[d] >= target) return d;
            *above += mass[d];
        }
        return lowest;
    }

    // How many of `count` equal logits at `threshold` (each of mass exp((x - m) / temperature)) the
    // nucleus keeps: the fewest whose masses, after *above, reach target (at least one).
    __device__ int crn_nucleus_ties(unsigned threshold, int count, float m, float inv_temperature, float target, float above) {
        const float e = expf((crn_key_float(threshold) - m) * inv_temperature);
        int keep = 1;
        float s = above + e;
        while (keep < count && s < target) { s += e; keep++; }
        return keep;
    }

    // One thread's nucleus over x[0, V): the selection (threshold, keep), slice by slice as the kernels.
    __device__ void crn_nucleus_select(const float *x, int V, float m, float inv_temperature, float target,
                                       unsigned *threshold, int *keep) {
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        unsigned prefix = 0u;
        float above = 0.0f;
        int count = 0;
        for (int shift = 24; shift >= 0; shift -= 8) {
            int counts[256], part_counts[256];
            float mass[256], part_mass[256];
            for (int d = 0; d < 256; d++) { counts[d] = 0; mass[d] = 0.0f; }
            for (int p = 0; p < P; p++) {
                for (int d = 0; d < 256; d++) { part_counts[d] = 0; part_mass[d] = 0.0f; }
                crn_slice_mass_histogram(x, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), prefix, shift, m, inv_temperature,
                                         part_counts, part_mass);
                for (int d = 0; d < 256; d++) { counts[d] += part_counts[d]; mass[d] += part_mass[d]; }
            }
            const int digit = crn_nucleus_digit(counts, mass, target, &above);
            prefix |= (unsigned)digit << shift;
            count = counts[digit];
        }
        *threshold = prefix;
        *keep = crn_nucleus_ties(prefix, count, m, inv_temperature, target, above);
    }

    extern "C" __global__ void penalize_logits(int B, int V, float *logits, const int *counts, float presence, float frequency) {
        const long i = CRN_THREAD;
        if (i >= (long)B * V) return;
        logits[i] = logits[i] - __fmul_rn((float)counts[i], frequency) - (counts[i] > 0 ? presence : 0.0f);
    }

    extern "C" __global__ void count_draws(int B, int V, const int *ids, int *counts) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        counts[b * V + ids[b]]++;
    }

    #ifdef __CUDACC_RTC__
    // sample_next without top-k, a warp per stream: the lanes load the logits and work out the largest
    // and each probability mass together, and every lane then walks the masses in id order (each
    // handed round by __shfl_sync), so every lane holds the one thread's sums, bit for bit: slice by
    // slice, the slices in order. One thread alone waited on each logit's load in turn: 22 us (ncu,
    // caches emptied) of a 2x512 LSTM's 55 us per character on an H100, for 65 logits.
    __device__ float crn_warp_slice_mass(const float *x, int begin, int end, float m, float inv_temperature, int lane) {
        float s = 0.0f;
        for (int base = begin; base < end; base += 32) {
            const int j = base + lane;
            const float e = j < end ? expf((x[j] - m) * inv_temperature) : 0.0f;
            for (int l = 0; l < 32 && base + l < end; l++) s += __shfl_sync(0xffffffffu, e, l);
        }
        return s;
    }

    __device__ int crn_warp_sample(int B, int V, const float *x, float inv_temperature, int greedy,
                                   const unsigned long long *draws, int offset, long b, int lane) {
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        float m = x[lane < V ? lane : 0];
        for (int j = lane + 32; j < V; j += 32) m = x[j] > m ? x[j] : m;
        for (int o = 16; o > 0; o >>= 1) { const float other = __shfl_xor_sync(0xffffffffu, m, o); m = other > m ? other : m; }
        int best = V;
        for (int j = lane; j < V; j += 32) if (x[j] == m) { best = j; break; }
        for (int o = 16; o > 0; o >>= 1) { const int other = __shfl_xor_sync(0xffffffffu, best, o); best = other < best ? other : best; }
        if (best == V) best = 0;
        if (greedy) return best;
        float total = 0.0f;
        for (int p = 0; p < P; p++)
            total += crn_warp_slice_mass(x, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), m, inv_temperature, lane);
        const unsigned long long seed = draws[0], draw = draws[1] + (unsigned long long)offset;
        const float u = __fmul_rn(crn_uniform(crn_stream_seed(seed, (unsigned long long)b), draw), total);
        float before = 0.0f;
        for (int p = 0; p < P; p++) {
            const int begin = p * CRN_SAMPLE_SLICE, end = crn_slice_end(p, V);
            const float mass = crn_warp_slice_mass(x, begin, end, m, inv_temperature, lane);
            if (mass > 0.0f && u - before < mass) {
                const float target = u - before;
                float s = 0.0f;
                for (int base = begin; base < end; base += 32) {
                    const int j = base + lane;
                    const float e = j < end ? expf((x[j] - m) * inv_temperature) : 0.0f;
                    for (int l = 0; l < 32 && base + l < end; l++) {
                        s += __shfl_sync(0xffffffffu, e, l);
                        if (target < s) return base + l;
                    }
                }
                return end - 1;  // rounding left the target unpassed: the slice's last id, as crn_slice_pick
            }
            before += mass;
        }
        return best;
    }
    #endif

    extern "C" __global__ void sample_next(int B, int V, const float *logits, float inv_temperature, int top_k, float top_p,
                                           int greedy, const unsigned long long *draws, int offset, int *ids, int *history) {
        const long t = CRN_THREAD;
        const long b = t / 32;
        const int lane = (int)(t % 32);
        if (b >= B) return;
        const float *x = logits + b * V;
    #ifdef __CUDACC_RTC__
        if (greedy || ((top_k <= 0 || top_k >= V) && !(top_p < 1.0f))) {
            const int chosen = crn_warp_sample(B, V, x, inv_temperature, greedy, draws, offset, b, lane);
            if (lane == 0) {
                ids[b] = chosen;
                if (history) history[b] = chosen;
            }
            return;
        }
    #endif
        if (lane != 0) return;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        float m = x[0];
        for (int p = 0; p < P; p++) { const float s = crn_slice_max(x, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V)); m = s > m ? s : m; }
        const int best = crn_first_at(x, 0, V, m);
        int chosen = best;
        if (!greedy) {
            unsigned threshold = 0;
            int keep = V;
            if (top_k > 0 && top_k < V) {
                keep = top_k;
                for (int shift = 24; shift >= 0; shift -= 8) {
                    int counts[256];
                    for (int d = 0; d < 256; d++) counts[d] = 0;
                    crn_slice_histogram(x, 0, V, threshold, shift, counts);
                    int digit = 255;
                    while (digit > 0 && counts[digit] < keep) keep -= counts[digit--];
                    threshold |= (unsigned)digit << shift;
                }
            }
            float total = 0.0f;
            int ties = 0;
            for (int p = 0; p < P; p++)
                total += crn_slice_mass(x, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), m, inv_temperature, threshold, keep, &ties);
            if (top_p < 1.0f) {
                unsigned nucleus;
                int nucleus_keep;
                crn_nucleus_select(x, V, m, inv_temperature, __fmul_rn(top_p, total), &nucleus, &nucleus_keep);
                if (nucleus > threshold || (nucleus == threshold && nucleus_keep <= keep)) {
                    threshold = nucleus;
                    keep = nucleus_keep;
                    total = 0.0f;
                    ties = 0;
                    for (int p = 0; p < P; p++)
                        total += crn_slice_mass(x, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), m, inv_temperature, threshold, keep, &ties);
                }
            }
            const unsigned long long seed = draws[0], draw = draws[1] + (unsigned long long)offset;
            const float u = __fmul_rn(crn_uniform(crn_stream_seed(seed, (unsigned long long)b), draw), total);
            float before = 0.0f;
            ties = 0;
            for (int p = 0; p < P; p++) {
                int tiesBefore = ties;
                const int begin = p * CRN_SAMPLE_SLICE, end = crn_slice_end(p, V);
                const float mass = crn_slice_mass(x, begin, end, m, inv_temperature, threshold, keep, &ties);
                if (mass > 0.0f && u - before < mass) {
                    const int j = crn_slice_pick(x, begin, end, m, inv_temperature, threshold, keep, &tiesBefore, u - before);
                    if (j >= 0) chosen = j;
                    break;
                }
                before += mass;
            }
        }
        ids[b] = chosen;
        if (history) history[b] = chosen;
    }

    // The slice kernels: thread i is slice i % P of stream i / P.

    // The nucleus by slices. nucleus [B, 4] carries a stream's walk: the target mass and the mass above
    // the digits chosen so far (float bits), and top-k's selection (threshold, keep) to fall back on.
    extern "C" __global__ void sample_nucleus_begin(int B, int V, float top_p, const float *part_mass, unsigned *select,
                                                    unsigned *nucleus) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        float total = 0.0f;
        for (int p = 0; p < P; p++) total += part_mass[b * P + p];
        nucleus[b * 4] = crn_float_bits(__fmul_rn(top_p, total));
        nucleus[b * 4 + 1] = crn_float_bits(0.0f);
        nucleus[b * 4 + 2] = select[b * 4];
        nucleus[b * 4 + 3] = select[b * 4 + 1];
        select[b * 4] = 0u;
    }

    // part_counts and part_hist [i, 256]: slice i's counts and masses of the byte at `shift` among the keys
    // that match the nucleus's bytes so far.
    extern "C" __global__ void sample_nucleus_count(int B, int V, const float *logits, float inv_temperature, const unsigned *select,
                                                    int shift, int *part_counts, float *part_hist) {
        const long i = CRN_THREAD;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        if (i >= (long)B * P) return;
        const int p = (int)(i % P);
        int counts[256];
        float mass[256];
        for (int d = 0; d < 256; d++) { counts[d] = 0; mass[d] = 0.0f; }
        crn_slice_mass_histogram(logits + (i / P) * V, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), select[(i / P) * 4], shift,
                                 crn_bits_float(select[(i / P) * 4 + 2]), inv_temperature, counts, mass);
        for (int d = 0; d < 256; d++) { part_counts[i * 256 + d] = counts[d]; part_hist[i * 256 + d] = mass[d]; }
    }

    // One thread per stream: the nucleus's byte at `shift`; after the last byte, its ties, and the
    // selection it makes unless top-k's keeps fewer. ranked_counts gets the last byte's counts of the
    // chosen digit (what crn_ties_before reads) when the nucleus's selection is taken.
    extern "C" __global__ void sample_nucleus_choose(int B, int V, const int *part_counts, const float *part_hist, int shift,
                                                     float inv_temperature, unsigned *select, unsigned *nucleus, int *ranked_counts) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        int counts[256];
        float mass[256];
        for (int d = 0; d < 256; d++) {
            counts[d] = 0;
            mass[d] = 0.0f;
            for (int p = 0; p < P; p++) { counts[d] += part_counts[(b * P + p) * 256 + d]; mass[d] += part_hist[(b * P + p) * 256 + d]; }
        }
        const float target = crn_bits_float(nucleus[b * 4]);
        float above = crn_bits_float(nucleus[b * 4 + 1]);
        const int digit = crn_nucleus_digit(counts, mass, target, &above);
        select[b * 4] |= (unsigned)digit << shift;
        nucleus[b * 4 + 1] = crn_float_bits(above);
        if (shift != 0) return;
        const unsigned threshold = select[b * 4];
        const int keep = crn_nucleus_ties(threshold, counts[digit], crn_bits_float(select[b * 4 + 2]), inv_temperature, target, above);
        const unsigned top_threshold = nucleus[b * 4 + 2];
        const int top_keep = (int)nucleus[b * 4 + 3];
        if (threshold > top_threshold || (threshold == top_threshold && keep <= top_keep)) {
            select[b * 4 + 1] = (unsigned)keep;
            for (int p = 0; p < P; p++)
                ranked_counts[(b * P + p) * 256 + (threshold & 255u)] = part_counts[(b * P + p) * 256 + (threshold & 255u)];
        } else {
            select[b * 4] = top_threshold;
        }
    }

    extern "C" __global__ void sample_slice_max(int B, int V, const float *logits, float *part_max) {
        const long i = CRN_THREAD;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        if (i >= (long)B * P) return;
        const int p = (int)(i % P);
        part_max[i] = crn_slice_max(logits + (i / P) * V, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V));
    }

    // One thread per stream: the largest logit, and the selection before any byte is chosen.
    extern "C" __global__ void sample_select_begin(int B, int V, int top_k, const float *part_max, unsigned *select) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        float m = part_max[b * P];
        for (int p = 1; p < P; p++) m = part_max[b * P + p] > m ? part_max[b * P + p] : m;
        select[b * 4] = 0u;
        select[b * 4 + 1] = (unsigned)(top_k > 0 && top_k < V ? top_k : V);
        select[b * 4 + 2] = crn_float_bits(m);
        select[b * 4 + 3] = 0u;
    }

    // part_counts[i, 256]: slice i's histogram of the byte at `shift` among the keys that match so far.
    extern "C" __global__ void sample_radix_count(int B, int V, const float *logits, const unsigned *select, int shift,
                                                  int *part_counts) {
        const long i = CRN_THREAD;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        if (i >= (long)B * P) return;
        const int p = (int)(i % P);
        int counts[256];
        for (int d = 0; d < 256; d++) counts[d] = 0;
        crn_slice_histogram(logits + (i / P) * V, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), select[(i / P) * 4], shift, counts);
        for (int d = 0; d < 256; d++) part_counts[i * 256 + d] = counts[d];
    }

    // One thread per stream: the byte at `shift` of the k-th largest key, from the slices' histograms.
    extern "C" __global__ void sample_radix_choose(int B, int V, const int *part_counts, int shift, unsigned *select) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        int keep = (int)select[b * 4 + 1], digit = 255;
        for (;; digit--) {
            int count = 0;
            for (int p = 0; p < P; p++) count += part_counts[(b * P + p) * 256 + digit];
            if (digit == 0 || count >= keep) break;
            keep -= count;
        }
        select[b * 4] |= (unsigned)digit << shift;
        select[b * 4 + 1] = (unsigned)keep;
    }

    // The number of logits equal to the threshold in the slices before p (ranked: part_counts holds the
    // last byte's histograms, whose bin for the threshold's low byte counts exactly those).
    __device__ int crn_ties_before(const int *part_counts, int ranked, long b, int P, int p, unsigned threshold) {
        int ties = 0;
        if (ranked) for (int q = 0; q < p; q++) ties += part_counts[(b * P + q) * 256 + (threshold & 255u)];
        return ties;
    }

    extern "C" __global__ void sample_slice_mass(int B, int V, const float *logits, float inv_temperature, const unsigned *select,
                                                 int ranked, const int *part_counts, float *part_mass) {
        const long i = CRN_THREAD;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        if (i >= (long)B * P) return;
        const long b = i / P;
        const int p = (int)(i % P);
        const unsigned threshold = select[b * 4];
        int ties = crn_ties_before(part_counts, ranked, b, P, p, threshold);
        part_mass[i] = crn_slice_mass(logits + b * V, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), crn_bits_float(select[b * 4 + 2]),
                                      inv_temperature, threshold, (int)select[b * 4 + 1], &ties);
    }

    // One thread per stream: the draw, as sample_next's, from the slices' masses.
    extern "C" __global__ void sample_pick(int B, int V, const float *logits, float inv_temperature, int greedy,
                                           const unsigned *select, int ranked, const int *part_counts, const float *part_max,
                                           const float *part_mass, const unsigned long long *draws, int offset, int *ids,
                                           int *history) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        const int P = (V + CRN_SAMPLE_SLICE - 1) / CRN_SAMPLE_SLICE;
        const float *x = logits + b * V;
        const float m = crn_bits_float(select[b * 4 + 2]);
        int first = 0;
        while (first < P - 1 && part_max[b * P + first] != m) first++;
        const int best = crn_first_at(x, first * CRN_SAMPLE_SLICE, crn_slice_end(first, V), m);
        int chosen = best;
        if (!greedy) {
            const unsigned threshold = select[b * 4];
            const int keep = (int)select[b * 4 + 1];
            float total = 0.0f;
            for (int p = 0; p < P; p++) total += part_mass[b * P + p];
            const unsigned long long seed = draws[0], draw = draws[1] + (unsigned long long)offset;
            const float u = __fmul_rn(crn_uniform(crn_stream_seed(seed, (unsigned long long)b), draw), total);
            float before = 0.0f;
            for (int p = 0; p < P; p++) {
                const float mass = part_mass[b * P + p];
                if (mass > 0.0f && u - before < mass) {
                    int ties = crn_ties_before(part_counts, ranked, b, P, p, threshold);
                    const int j = crn_slice_pick(x, p * CRN_SAMPLE_SLICE, crn_slice_end(p, V), m, inv_temperature, threshold,
                                                 keep, &ties, u - before);
                    if (j >= 0) chosen = j;
                    break;
                }
                before += mass;
            }
        }
        ids[b] = chosen;
        if (history) history[b] = chosen;
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func advanceDraws(threads: Int, draws: DevicePointer?, n: Int) throws {
        try launch("advance_draws", threads: threads, [.pointer(draws), .int(n)])
    }

    func penalizeLogits(threads: Int, B: Int, V: Int, logits: DevicePointer?, counts: DevicePointer?, presence: Float,
        frequency: Float) throws {
        try launch("penalize_logits", threads: threads, [.int(B), .int(V), .pointer(logits), .pointer(counts),
            .float(presence), .float(frequency)])
    }

    func countDraws(threads: Int, B: Int, V: Int, ids: DevicePointer?, counts: DevicePointer?) throws {
        try launch("count_draws", threads: threads, [.int(B), .int(V), .pointer(ids), .pointer(counts)])
    }

    func sampleNext(threads: Int, B: Int, V: Int, logits: DevicePointer?, invTemperature: Float, topK: Int, topP: Float,
        greedy: Int, draws: DevicePointer?, offset: Int, ids: DevicePointer?, history: DevicePointer?) throws {
        try launch("sample_next", threads: threads, [.int(B), .int(V), .pointer(logits), .float(invTemperature),
            .int(topK), .float(topP), .int(greedy), .pointer(draws), .int(offset), .pointer(ids), .pointer(history)])
    }

    func sampleNucleusBegin(threads: Int, B: Int, V: Int, topP: Float, partMass: DevicePointer?, select: DevicePointer?,
        nucleus: DevicePointer?) throws {
        try launch("sample_nucleus_begin", threads: threads, [.int(B), .int(V), .float(topP), .pointer(partMass),
            .pointer(select), .pointer(nucleus)])
    }

    func sampleNucleusCount(threads: Int, B: Int, V: Int, logits: DevicePointer?, invTemperature: Float,
        select: DevicePointer?, shift: Int, partCounts: DevicePointer?, partHist: DevicePointer?) throws {
        try launch("sample_nucleus_count", threads: threads, [.int(B), .int(V), .pointer(logits),
            .float(invTemperature), .pointer(select), .int(shift), .pointer(partCounts), .pointer(partHist)])
    }

    func sampleNucleusChoose(threads: Int, B: Int, V: Int, partCounts: DevicePointer?, partHist: DevicePointer?,
        shift: Int, invTemperature: Float, select: DevicePointer?, nucleus: DevicePointer?,
        rankedCounts: DevicePointer?) throws {
        try launch("sample_nucleus_choose", threads: threads, [.int(B), .int(V), .pointer(partCounts),
            .pointer(partHist), .int(shift), .float(invTemperature), .pointer(select), .pointer(nucleus),
            .pointer(rankedCounts)])
    }

    func sampleSliceMax(threads: Int, B: Int, V: Int, logits: DevicePointer?, partMax: DevicePointer?) throws {
        try launch("sample_slice_max", threads: threads, [.int(B), .int(V), .pointer(logits), .pointer(partMax)])
    }

    func sampleSelectBegin(threads: Int, B: Int, V: Int, topK: Int, partMax: DevicePointer?,
        select: DevicePointer?) throws {
        try launch("sample_select_begin", threads: threads, [.int(B), .int(V), .int(topK), .pointer(partMax),
            .pointer(select)])
    }

    func sampleRadixCount(threads: Int, B: Int, V: Int, logits: DevicePointer?, select: DevicePointer?, shift: Int,
        partCounts: DevicePointer?) throws {
        try launch("sample_radix_count", threads: threads, [.int(B), .int(V), .pointer(logits), .pointer(select),
            .int(shift), .pointer(partCounts)])
    }

    func sampleRadixChoose(threads: Int, B: Int, V: Int, partCounts: DevicePointer?, shift: Int,
        select: DevicePointer?) throws {
        try launch("sample_radix_choose", threads: threads, [.int(B), .int(V), .pointer(partCounts), .int(shift),
            .pointer(select)])
    }

    func sampleSliceMass(threads: Int, B: Int, V: Int, logits: DevicePointer?, invTemperature: Float,
        select: DevicePointer?, ranked: Int, partCounts: DevicePointer?, partMass: DevicePointer?) throws {
        try launch("sample_slice_mass", threads: threads, [.int(B), .int(V), .pointer(logits), .float(invTemperature),
            .pointer(select), .int(ranked), .pointer(partCounts), .pointer(partMass)])
    }

    func samplePick(threads: Int, B: Int, V: Int, logits: DevicePointer?, invTemperature: Float, greedy: Int,
        select: DevicePointer?, ranked: Int, partCounts: DevicePointer?, partMax: DevicePointer?,
        partMass: DevicePointer?, draws: DevicePointer?, offset: Int, ids: DevicePointer?,
        history: DevicePointer?) throws {
        try launch("sample_pick", threads: threads, [.int(B), .int(V), .pointer(logits), .float(invTemperature),
            .int(greedy), .pointer(select), .int(ranked), .pointer(partCounts), .pointer(partMax), .pointer(partMass),
            .pointer(draws), .int(offset), .pointer(ids), .pointer(history)])
    }
}
