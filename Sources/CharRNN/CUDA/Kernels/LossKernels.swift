extension KernelSource {
    /// Softmax cross-entropy over N rows of V logits, the GPU twin of crn_softmax_xent. One thread per row.
    /// loss[r] = logsumexp(logits[r]) - logits[r, targets[r]] (=). With grad != 0 the logits are
    /// overwritten by scale * (softmax - onehot(target)) (=), dL/dlogits of the scaled loss; with
    /// row_scale not null, row r's scale is row_scale[r] (the classifier's weighted loss).
    static let loss = KernelSource(name: "loss", kernels: ["softmax_xent"], code: """
    extern "C" __global__ void softmax_xent(int N, int V, float *logits, const int *targets, float scale, int grad,
                                            float *loss, const float *row_scale) {
        const long r = CRN_THREAD;
        if (r >= N) return;
        float *x = logits + r * V;
        float m = x[0];
        for (int j = 1; j < V; j++) m = fmaxf(m, x[j]);
        const int t = targets[r];
        const float xt = x[t] - m;
        float s = 0.0f;
        for (int j = 0; j < V; j++) {
            const float e = expf(x[j] - m);
            if (grad) x[j] = e;
            s += e;
        }
        loss[r] = logf(s) - xt;
        if (grad) {
            const float w = row_scale ? row_scale[r] : scale;
            const float k = w / s;
            for (int j = 0; j < V; j++) x[j] *= k;
            x[t] -= w;
        }
    }
    """)
}
