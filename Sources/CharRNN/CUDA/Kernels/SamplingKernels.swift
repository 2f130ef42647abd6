extension KernelSource {
    /// The next character of B streams, the GPU twin of Sampler.choose: one thread per stream reads its
    /// logits [V] and writes ids[b] (=), and also history[b] (=) when history is not null (the text so
    /// far stays on the device until the host asks for it).
    /// greedy: the first largest logit. Otherwise softmax(logits / temperature) over the top_k largest
    /// (top_k <= 0 or >= V: all; ties at the k-th value are all kept) and a draw u = uniform(seed, draw*B + b)
    /// by inverse CDF, in id order as on the CPU.
    /// The seed and the draw's base are read from device memory (draws[0], draws[1]; draw = base + offset)
    /// and advance_draws moves the base on, so a recorded chunk of steps (a CUDA graph, whose arguments
    /// are fixed when it is recorded) draws new characters each time it is replayed.
    static let sampling = KernelSource(name: "sampling", kernels: ["sample_next", "advance_draws"], code: """
    extern "C" __global__ void advance_draws(unsigned long long *draws, int n) {
        if (CRN_THREAD == 0) draws[1] += (unsigned long long)n;
    }

    extern "C" __global__ void sample_next(int B, int V, const float *logits, float inv_temperature, int top_k, int greedy,
                                           const unsigned long long *draws, int offset, int *ids, int *history) {
        const long b = CRN_THREAD;
        if (b >= B) return;
        const unsigned long long seed = draws[0], draw = draws[1] + (unsigned long long)offset;
        const float *x = logits + b * V;
        int best = 0;
        for (int j = 1; j < V; j++) if (x[j] > x[best]) best = j;
        int chosen = best;
        if (!greedy) {
            const float m = x[best];
            float threshold = -3.0e38f;
            if (top_k > 0 && top_k < V) {
                // The k-th largest distinct value: k - 1 steps down from the maximum.
                threshold = m;
                for (int step = 1; step < top_k; step++) {
                    float next = -3.0e38f;
                    for (int j = 0; j < V; j++) if (x[j] < threshold && x[j] > next) next = x[j];
                    if (next <= -3.0e38f) break;
                    threshold = next;
                }
            }
            float total = 0.0f;
            for (int j = 0; j < V; j++) if (x[j] >= threshold) total += expf((x[j] - m) * inv_temperature);
            const float u = crn_uniform(seed, draw * (unsigned long long)B + (unsigned long long)b) * total;
            float acc = 0.0f;
            chosen = -1;
            for (int j = 0; j < V; j++) {
                if (x[j] < threshold) continue;
                acc += expf((x[j] - m) * inv_temperature);
                if (u < acc) { chosen = j; break; }
            }
            if (chosen < 0) chosen = best;
        }
        ids[b] = chosen;
        if (history) history[b] = chosen;
    }
    """)
}
