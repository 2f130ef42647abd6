extension KernelSource {
    /// The counter-based generator (crn_uniform, crn_stream_seed; their CPU twins are in dropout.c) and
    /// dropout masks drawn from it: element i's draw is a hash of (seed, i % period), so
    /// a mask needs no generator state on the device and any launch can be replayed. period = n gives an
    /// ordinary mask; period = B*H over T*B*H elements repeats one mask at every step (variational dropout).
    /// mask[i] = 0 with probability p, else keep (= 1/(1-p)) (=). crn_dropout_mask (dropout.c) is its CPU
    /// twin: the same hash and comparison, so CharRNNModel draws the same masks from the same seeds.
    /// The seed is read from device memory, so a captured training step draws new masks each time it is
    /// replayed (the host writes the step's seeds first).
    static let dropout = KernelSource(name: "dropout", code: """
    __device__ __forceinline__ float crn_uniform(unsigned long long seed, unsigned long long i) {
        unsigned long long z = seed + 0x9E3779B97F4A7C15ULL * (i + 1ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        return (float)(z >> 40) * (1.0f / 16777216.0f);
    }

    // The seed of one stream of a generation (KernelSource.sampling): stream b's k-th draw is
    // crn_uniform(crn_stream_seed(seed, b), k), whatever the number of streams, as on the CPU.
    __device__ __forceinline__ unsigned long long crn_stream_seed(unsigned long long seed, unsigned long long stream) {
        unsigned long long z = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1ULL));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    extern "C" __global__ void dropout_mask(long n, float *mask, float p, float keep, const unsigned long long *seed,
                                            long period) {
        const long i = CRN_THREAD;
        if (i >= n) return;
        mask[i] = crn_uniform(*seed, (unsigned long long)(i % period)) < p ? 0.0f : keep;
    }
    """)
}

// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit

extension ComputeDevice {
    func dropoutMask(threads: Int, n: Int, mask: DevicePointer?, p: Float, keep: Float, seed: DevicePointer?,
        period: Int) throws {
        try launch("dropout_mask", threads: threads, [.long(n), .pointer(mask), .float(p), .float(keep), .pointer(seed),
            .long(period)])
    }
}
