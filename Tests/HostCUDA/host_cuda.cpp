// A stand-in for the three CUDA libraries charrnn opens at run time (the driver API of libcuda,
// NVRTC and cuBLAS) that runs everything on the host, so the real binary's GPU path (CUDADevice,
// the kernel cache, graph capture, `--device cuda` in every command) runs end to end on a machine
// without a GPU. Build it with scripts/host-cuda.sh (or let the tests do it) and point
// CHARRNN_LIBCUDA, CHARRNN_NVRTC and CHARRNN_CUBLAS at the one library.
//
// What it models, and checks more strictly than a GPU reports it:
// - memory: cuMemAlloc gives NaN-filled host memory from a device of CHARRNN_HOST_CUDA_MEMORY_MIB;
//   every copy, memset, product operand and pointer argument of a launch must lie inside a live
//   allocation, or the process stops with a message naming the call (a GPU would fault later, or
//   silently read another buffer);
// - "compiling": nvrtcCompileProgram compiles the kernel source with the host's C++ compiler into a
//   shared library, wrapped as the "CUBIN" that cuModuleLoadData loads; each kernel runs one thread
//   at a time, which is exact for charrnn's kernels (no shared memory, barriers or atomics);
// - launches copy their arguments' values at the call, as the driver does, with the sizes of the
//   kernel's own C signature;
// - stream capture in CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: launches, products, device-to-device
//   copies and memsets are recorded; allocation, freeing, host copies and waits on the capturing
//   thread fail with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidate the capture; a graph
//   replays what was recorded, with the argument values of the capture;
// - cuBLAS: column-major products with cuBLAS's argument checks (leading dimensions), alpha and beta
//   read at the call, C not read when beta is 0; TF32 math and the bf16 compute type round the
//   operands as the tensor cores do.
// CHARRNN_HOST_CUDA_CXXFLAGS adds options to the kernels' compile: with "-fsanitize=address" (and the
// sanitizer's runtime in LD_PRELOAD, a separate CHARRNN_CACHE_DIR) a kernel that reads or writes past
// its buffers is caught at the access, since device memory here comes from malloc.
// CHARRNN_HOST_CUDA_FAIL=name[:after[:code]] makes the named entry point fail with `code` once it has
// succeeded `after` times (default 0 times, and the error that call usually returns), to reach error
// paths. CHARRNN_HOST_CUDA_DEVICES, _NAME and _CC (e.g. 8.0) describe the devices.

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <map>
#include <mutex>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {

std::recursive_mutex lock;

int contextToken, streamToken;

// The context each thread has made current (cuCtxSetCurrent): the driver binds contexts per thread,
// so a call from a thread that never made one current fails, as it does on a GPU.
thread_local void *currentContext = nullptr;

int requireContext() { return currentContext == &contextToken ? 0 : 201; }  // CUDA_ERROR_INVALID_CONTEXT

[[noreturn]] void misuse(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("host CUDA: misuse: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    fflush(stderr);
    abort();
}

long environmentNumber(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, nullptr, 10) : fallback;
}

// CHARRNN_HOST_CUDA_FAIL=name[:after[:code]]: nonzero when this call of `name` must fail.
int injectedFailure(const char *name, int usual) {
    static std::map<std::string, long> calls;
    const char *spec = getenv("CHARRNN_HOST_CUDA_FAIL");
    if (!spec) return 0;
    std::string s(spec), target = s.substr(0, s.find(':'));
    if (target != name) return 0;
    long after = 0, code = usual;
    if (s.find(':') != std::string::npos) {
        std::string rest = s.substr(s.find(':') + 1);
        after = strtol(rest.c_str(), nullptr, 10);
        if (rest.find(':') != std::string::npos) code = strtol(rest.c_str() + rest.find(':') + 1, nullptr, 10);
    }
    return calls[name]++ >= after ? (int)code : 0;
}

// MARK: memory

size_t deviceMemory() { return (size_t)environmentNumber("CHARRNN_HOST_CUDA_MEMORY_MIB", 16384) << 20; }
std::map<uint64_t, size_t> live;  // address -> bytes
size_t allocated = 0;

// Whether [address, address + bytes) lies inside one live allocation (an address at its end, with no
// bytes, counts as inside).
bool inside(uint64_t address, size_t bytes) {
    auto it = live.upper_bound(address);
    if (it == live.begin()) return false;
    --it;
    return address >= it->first && address + bytes <= it->first + std::max<size_t>(it->second, 4);
}

void requireInside(uint64_t address, size_t bytes, const char *what) {
    if (!inside(address, bytes))
        misuse("%s: %zu bytes at 0x%llx are not inside one live allocation", what, bytes, (unsigned long long)address);
}

// MARK: capture

struct Graph {
    std::vector<std::function<void()>> work;
};

struct Capture {
    bool active = false;
    pthread_t thread{};
    const char *invalidatedBy = nullptr;
    Graph *graph = nullptr;
} capture;

bool capturingHere() { return capture.active && pthread_equal(capture.thread, pthread_self()); }

// What a capture may not contain: the call fails and the capture is invalidated.
int refuseWhileCapturing(const char *what) {
    if (!capturingHere()) return 0;
    if (!capture.invalidatedBy) capture.invalidatedBy = what;
    return 900;  // CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
}

// Runs `work` now, or records it into the capture.
void enqueue(std::function<void()> work) {
    if (capturingHere()) capture.graph->work.push_back(std::move(work));
    else work();
}

// MARK: modules

const char cubinMagic[8] = {'C', 'R', 'N', 'H', 'O', 'S', 'T', '1'};

struct Kernel {
    std::string name;
    void (*launch)(void **args, long threads, int block);
    int count;
    unsigned char sizes[64], pointers[64];
};

struct Module {
    void *library;
    std::map<std::string, Kernel *> kernels;
};

// Every pointer argument must point into a live allocation: at the launch, and again at each replay of
// a graph that recorded it (a buffer freed since then leaves the graph pointing at nothing).
void checkPointers(const Kernel *k, const std::vector<uint64_t> &values, const char *when) {
    for (int i = 0; i < k->count; i++)
        if (k->pointers[i] && values[i] && !inside(values[i], 0))
            misuse("%s %s: argument %d (0x%llx) points into no live allocation", when, k->name.c_str(), i,
                   (unsigned long long)values[i]);
}

void runKernel(const Kernel *k, const std::vector<uint64_t> &values, long threads, int block) {
    checkPointers(k, values, "running");
    std::vector<uint64_t> copy(values);
    std::vector<void *> args(k->count + 1);
    for (int i = 0; i < k->count; i++) args[i] = &copy[i];
    k->launch(args.data(), threads, block);
}

// MARK: cuBLAS arithmetic

typedef void (*SgemmFunction)(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                              const float *b, int ldb, float beta, float *c, int ldc);

SgemmFunction hostSgemm() {
    static SgemmFunction f = [] {
        for (const char *name : {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}) {
            if (void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL))
                if (void *s = dlsym(h, "cblas_sgemm")) return (SgemmFunction)s;
        }
        return (SgemmFunction) nullptr;
    }();
    return f;
}

float roundMantissa(float x, int bits) {
    if (!std::isfinite(x)) return x;
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t drop = 23 - bits, half = (1u << (drop - 1)) - 1 + ((u >> drop) & 1);
    u = (u + half) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

// Column-major C[m, n] = alpha op(A) op(B) + beta C, operands rounded to `bits` mantissa bits (23: none).
void columnMajorProduct(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc, int bits) {
    std::vector<float> ra, rb;
    if (bits < 23) {
        size_t spanA = (size_t)((ta ? m : k) - 1) * lda + (ta ? k : m), spanB = (size_t)((tb ? k : n) - 1) * ldb + (tb ? n : k);
        ra.assign(a, a + spanA);
        rb.assign(b, b + spanB);
        for (float &x : ra) x = roundMantissa(x, bits);
        for (float &x : rb) x = roundMantissa(x, bits);
        a = ra.data();
        b = rb.data();
    }
    if (beta == 0)  // cuBLAS does not read C then: it may hold anything, NaN included
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) c[i + (size_t)j * ldc] = 0;
    if (SgemmFunction sgemm = hostSgemm()) {
        sgemm(102, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta == 0 ? 0 : beta, c, ldc);
        return;
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0;
            for (int l = 0; l < k; l++)
                s += (ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda]) * (tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb]);
            float &out = c[i + (size_t)j * ldc];
            out = alpha * s + (beta == 0 ? 0 : beta * out);
        }
}

struct BLASHandle {
    int mathMode = 0;
    uint64_t workspace = 0;
    size_t workspaceBytes = 0;
};

int gemm(BLASHandle *h, int opA, int opB, int m, int n, int k, float alpha, uint64_t A, int lda, uint64_t B, int ldb,
         float beta, uint64_t C, int ldc, int bits) {
    if (!h) return 1;  // CUBLAS_STATUS_NOT_INITIALIZED
    if (requireContext()) misuse("a cuBLAS product from a thread whose current context is not the handle's");
    if (opA < 0 || opA > 2 || opB < 0 || opB > 2 || m < 0 || n < 0 || k < 0) return 7;  // INVALID_VALUE
    bool ta = opA != 0, tb = opB != 0;
    if (lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m)) return 7;
    if (m == 0 || n == 0) return 0;
    if (k > 0) {
        requireInside(A, 4 * ((size_t)((ta ? m : k) - 1) * lda + (ta ? k : m)), "cublas gemm: A");
        requireInside(B, 4 * ((size_t)((tb ? k : n) - 1) * ldb + (tb ? n : k)), "cublas gemm: B");
    }
    requireInside(C, 4 * ((size_t)(n - 1) * ldc + m), "cublas gemm: C");
    enqueue([=] {
        if (!inside(C, 4 * ((size_t)(n - 1) * ldc + m))) misuse("replaying a product into freed memory");
        columnMajorProduct(ta, tb, m, n, k, alpha, (const float *)(uintptr_t)A, lda, (const float *)(uintptr_t)B, ldb, beta,
                           (float *)(uintptr_t)C, ldc, bits);
    });
    return 0;
}

// MARK: NVRTC's program

struct Program {
    std::string source, name, log;
    std::vector<char> cubin;
};

std::string hostCompiler() {
    if (const char *c = getenv("CHARRNN_HOST_CUDA_CXX"); c && *c) return c;
    const char *path = getenv("PATH");
    std::string folders = path ? path : "/usr/bin";
    for (const char *name : {"clang++", "g++", "c++"}) {
        size_t start = 0;
        while (start <= folders.size()) {
            size_t end = folders.find(':', start);
            if (end == std::string::npos) end = folders.size();
            std::string candidate = folders.substr(start, end - start) + "/" + name;
            if (access(candidate.c_str(), X_OK) == 0) return candidate;
            start = end + 1;
        }
    }
    return "c++";
}

// What nvcc defines and a host compiler does not: the qualifiers as nothing, the thread coordinates as
// globals that each launch sets, and the intrinsics the kernels use.
const char *hostPrelude = R"(#include <math.h>
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __fmul_rn(a, b) ((a) * (b))
struct crn_dim3 { unsigned x, y, z; };
static crn_dim3 threadIdx, blockIdx, blockDim, gridDim;
)";

// Per kernel: a launcher that walks the grid one thread at a time and unpacks the argument array by
// the kernel's own signature, and that signature's sizes and which arguments are pointers.
const char *hostRunner = R"(
template <unsigned long... I> struct crn_indices {};
template <unsigned long N, unsigned long... I> struct crn_make : crn_make<N - 1, N - 1, I...> {};
template <unsigned long... I> struct crn_make<0, I...> { typedef crn_indices<I...> type; };
template <typename T> struct crn_plain { typedef T type; };
template <typename T> struct crn_plain<const T> { typedef T type; };
template <typename T> struct crn_pointer { enum { value = 0 }; };
template <typename T> struct crn_pointer<T *> { enum { value = 1 }; };
template <typename... A, unsigned long... I>
static void crn_apply(void (*f)(A...), void **args, crn_indices<I...>) {
    f(*static_cast<typename crn_plain<A>::type *>(args[I])...);
}
template <typename... A> static void crn_launch(void (*f)(A...), void **args, long threads, int block) {
    blockDim.x = block; blockDim.y = blockDim.z = 1;
    gridDim.x = (unsigned)((threads + block - 1) / block); gridDim.y = gridDim.z = 1;
    blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
    for (unsigned b = 0; b < gridDim.x; b++)
        for (unsigned t = 0; t < (unsigned)block; t++) {
            blockIdx.x = b; threadIdx.x = t;
            crn_apply(f, args, typename crn_make<sizeof...(A)>::type());
        }
}
template <typename... A> static int crn_signature(void (*)(A...), unsigned char *sizes, unsigned char *pointers) {
    const unsigned char s[] = {(unsigned char)sizeof(typename crn_plain<A>::type)..., 0};
    const unsigned char p[] = {(unsigned char)crn_pointer<typename crn_plain<A>::type>::value..., 0};
    for (unsigned long i = 0; i < sizeof...(A); i++) { sizes[i] = s[i]; pointers[i] = p[i]; }
    return (int)sizeof...(A);
}
)";

std::vector<std::string> kernelNames(const std::string &source) {
    std::vector<std::string> names;
    const std::string marker = "__global__ void ";
    for (size_t at = source.find(marker); at != std::string::npos; at = source.find(marker, at + 1)) {
        size_t start = at + marker.size(), end = start;
        while (end < source.size() && (isalnum((unsigned char)source[end]) || source[end] == '_')) end++;
        names.push_back(source.substr(start, end - start));
    }
    return names;
}

std::string readFile(const std::string &path) {
    std::string text;
    if (FILE *f = fopen(path.c_str(), "rb")) {
        char buffer[4096];
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
        fclose(f);
    }
    return text;
}

int compileForHost(Program *p, int architecture) {
    char folder[] = "/tmp/charrnn-host-cuda-XXXXXX";
    if (!mkdtemp(folder)) { p->log = "cannot make a temporary folder"; return 7; }  // NVRTC_ERROR_BUILTIN_OPERATION_FAILURE
    std::string base(folder), cpp = base + "/kernels.cpp", so = base + "/kernels.so", log = base + "/log";
    std::string text = std::string(hostPrelude) + p->source + "\n" + hostRunner;
    for (const std::string &k : kernelNames(p->source)) {
        text += "extern \"C\" void crn_host_launch_" + k + "(void **a, long t, int b) { crn_launch(" + k + ", a, t, b); }\n";
        text += "extern \"C\" int crn_host_signature_" + k + "(unsigned char *s, unsigned char *p) { return crn_signature(" + k
                + ", s, p); }\n";
    }
    text += "extern \"C\" int crn_host_architecture = " + std::to_string(architecture) + ";\n";
    if (FILE *f = fopen(cpp.c_str(), "wb")) { fwrite(text.data(), 1, text.size(), f); fclose(f); }
    const char *extra = getenv("CHARRNN_HOST_CUDA_CXXFLAGS");
    std::string command = "'" + hostCompiler() + "' -x c++ -std=c++17 -O2 -fPIC -shared -w " + (extra ? extra : "") + " -o '" + so
                          + "' '" + cpp + "' -lm > '" + log + "' 2>&1";
    int status = system(command.c_str());
    p->log = readFile(log);
    std::string library = status == 0 ? readFile(so) : "";
    unlink(cpp.c_str()); unlink(so.c_str()); unlink(log.c_str()); rmdir(folder);
    if (status != 0 || library.empty()) {
        if (p->log.empty()) p->log = "error: the host compiler failed (" + command + ")";
        return 6;  // NVRTC_ERROR_COMPILATION
    }
    uint64_t size = library.size();
    p->cubin.assign(cubinMagic, cubinMagic + 8);
    p->cubin.insert(p->cubin.end(), (const char *)&size, (const char *)&size + 8);
    p->cubin.insert(p->cubin.end(), library.begin(), library.end());
    return 0;
}

const char *deviceName() {
    const char *n = getenv("CHARRNN_HOST_CUDA_NAME");
    return n && *n ? n : "charrnn host CUDA stand-in";
}

}  // namespace

// MARK: the driver API

EXPORT int cuInit(unsigned flags) {
    if (int e = injectedFailure("cuInit", 100)) return e;
    return flags == 0 ? (environmentNumber("CHARRNN_HOST_CUDA_DEVICES", 1) > 0 ? 0 : 100) : 1;  // 100: NO_DEVICE
}

EXPORT int cuDriverGetVersion(int *v) { *v = 13000; return 0; }

EXPORT int cuGetErrorName(int e, const char **s) {
    static const std::map<int, const char *> names = {
        {0, "CUDA_SUCCESS"}, {1, "CUDA_ERROR_INVALID_VALUE"}, {2, "CUDA_ERROR_OUT_OF_MEMORY"},
        {3, "CUDA_ERROR_NOT_INITIALIZED"}, {100, "CUDA_ERROR_NO_DEVICE"}, {101, "CUDA_ERROR_INVALID_DEVICE"},
        {200, "CUDA_ERROR_INVALID_IMAGE"}, {201, "CUDA_ERROR_INVALID_CONTEXT"}, {400, "CUDA_ERROR_INVALID_HANDLE"},
        {401, "CUDA_ERROR_ILLEGAL_STATE"}, {500, "CUDA_ERROR_NOT_FOUND"}, {700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
        {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"}, {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"}};
    auto it = names.find(e);
    *s = it == names.end() ? nullptr : it->second;
    return it == names.end() ? 1 : 0;
}

EXPORT int cuGetErrorString(int e, const char **s) {
    static const std::map<int, const char *> texts = {
        {0, "no error"}, {1, "invalid argument"}, {2, "out of memory"}, {3, "initialization error"},
        {100, "no CUDA-capable device is detected"}, {101, "invalid device ordinal"},
        {200, "device kernel image is invalid"}, {201, "invalid device context"}, {400, "invalid resource handle"},
        {401, "the operation cannot be performed in the present state"}, {500, "named symbol not found"},
        {700, "an illegal memory access was encountered"}, {900, "operation not permitted when stream is capturing"},
        {901, "operation failed due to a previous error during capture"}};
    auto it = texts.find(e);
    *s = it == texts.end() ? nullptr : it->second;
    return it == texts.end() ? 1 : 0;
}

EXPORT int cuDeviceGetCount(int *count) {
    *count = (int)environmentNumber("CHARRNN_HOST_CUDA_DEVICES", 1);
    return 0;
}

EXPORT int cuDeviceGet(int *device, int ordinal) {
    if (ordinal < 0 || ordinal >= environmentNumber("CHARRNN_HOST_CUDA_DEVICES", 1)) return 101;
    *device = ordinal;
    return 0;
}

EXPORT int cuDeviceGetName(char *name, int length, int) {
    snprintf(name, (size_t)length, "%s", deviceName());
    return 0;
}

EXPORT int cuDeviceTotalMem_v2(size_t *bytes, int) { *bytes = deviceMemory(); return 0; }

EXPORT int cuDeviceGetAttribute(int *value, int attribute, int) {
    const char *cc = getenv("CHARRNN_HOST_CUDA_CC");
    int major = 9, minor = 0;
    if (cc && *cc) sscanf(cc, "%d.%d", &major, &minor);
    switch (attribute) {
    case 75: *value = major; return 0;   // COMPUTE_CAPABILITY_MAJOR
    case 76: *value = minor; return 0;   // COMPUTE_CAPABILITY_MINOR
    case 16: *value = 2; return 0;       // MULTIPROCESSOR_COUNT
    default: return 1;
    }
}

EXPORT int cuDevicePrimaryCtxRetain(void **context, int) { *context = &contextToken; return 0; }
EXPORT int cuCtxSetCurrent(void *context) {
    if (context && context != &contextToken) return 201;
    currentContext = context;
    return 0;
}

EXPORT int cuCtxSynchronize() {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    return refuseWhileCapturing("cuCtxSynchronize");
}

EXPORT int cuMemAlloc_v2(uint64_t *address, size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = refuseWhileCapturing("cuMemAlloc")) return e;
    if (int e = injectedFailure("cuMemAlloc_v2", 2)) return e;
    if (bytes == 0) return 1;
    if (allocated + bytes > deviceMemory()) return 2;
    void *p = malloc(bytes);
    if (!p) return 2;
    memset(p, 0xFF, bytes);  // NaN in every float, as fresh device memory holds whatever was there
    *address = (uint64_t)(uintptr_t)p;
    live[*address] = bytes;
    allocated += bytes;
    return 0;
}

EXPORT int cuMemFree_v2(uint64_t address) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = refuseWhileCapturing("cuMemFree")) return e;
    auto it = live.find(address);
    if (it == live.end()) misuse("cuMemFree of 0x%llx, which is not a live allocation", (unsigned long long)address);
    allocated -= it->second;
    live.erase(it);
    free((void *)(uintptr_t)address);
    return 0;
}

EXPORT int cuMemGetInfo_v2(size_t *freeBytes, size_t *total) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    *total = deviceMemory();
    *freeBytes = *total - allocated;
    return 0;
}

EXPORT int cuModuleLoadData(void **module, const void *image) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuModuleLoadData", 200)) return e;
    const char *bytes = (const char *)image;
    if (memcmp(bytes, cubinMagic, 8) != 0) return 200;  // INVALID_IMAGE: not one of ours (a real CUBIN, or damaged)
    uint64_t size;
    memcpy(&size, bytes + 8, 8);
    char path[] = "/tmp/charrnn-host-cuda-module-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 200;
    bool written = write(fd, bytes + 16, size) == (ssize_t)size;
    close(fd);
    void *library = written ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
    unlink(path);
    if (!library) return 200;
    Module *m = new Module{library, {}};
    *module = m;
    return 0;
}

EXPORT int cuModuleGetFunction(void **function, void *module, const char *name) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    Module *m = (Module *)module;
    if (!m) return 400;
    auto found = m->kernels.find(name);
    if (found != m->kernels.end()) { *function = found->second; return 0; }
    void *launch = dlsym(m->library, ("crn_host_launch_" + std::string(name)).c_str());
    void *signature = dlsym(m->library, ("crn_host_signature_" + std::string(name)).c_str());
    if (!launch || !signature) return 500;  // NOT_FOUND
    Kernel *k = new Kernel{name, (void (*)(void **, long, int))launch, 0, {}, {}};
    k->count = ((int (*)(unsigned char *, unsigned char *))signature)(k->sizes, k->pointers);
    m->kernels[name] = k;
    *function = k;
    return 0;
}

EXPORT int cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                          unsigned sharedBytes, void *stream, void **params, void **extra) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuLaunchKernel", 700)) return e;
    Kernel *k = (Kernel *)function;
    if (!k) return 400;
    if (stream != &streamToken) return 400;
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || sharedBytes != 0 || extra) misuse("launching %s: only 1-D grids of 1-D blocks", k->name.c_str());
    if (gx == 0 || bx == 0 || bx > 1024) return 1;
    if (k->count > 0 && !params) return 1;
    std::vector<uint64_t> values(k->count, 0);
    for (int i = 0; i < k->count; i++) memcpy(&values[i], params[i], k->sizes[i]);  // by value, now
    checkPointers(k, values, "launching");
    long threads = (long)gx * bx;
    int block = (int)bx;
    enqueue([k, values, threads, block] { runKernel(k, values, threads, block); });
    return 0;
}

EXPORT int cuStreamCreate(void **stream, unsigned) {
    if (int e = requireContext()) return e;
    *stream = &streamToken;
    return 0;
}

EXPORT int cuStreamSynchronize(void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    return refuseWhileCapturing("cuStreamSynchronize");
}

EXPORT int cuMemcpyHtoDAsync_v2(uint64_t destination, const void *source, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    if (int e = refuseWhileCapturing("a copy from pageable host memory")) return e;
    requireInside(destination, bytes, "cuMemcpyHtoD: the destination");
    memcpy((void *)(uintptr_t)destination, source, bytes);  // pageable: staged before the call returns
    return 0;
}

EXPORT int cuMemcpyDtoHAsync_v2(void *destination, uint64_t source, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    if (int e = refuseWhileCapturing("a copy to pageable host memory")) return e;
    requireInside(source, bytes, "cuMemcpyDtoH: the source");
    memcpy(destination, (const void *)(uintptr_t)source, bytes);
    return 0;
}

EXPORT int cuMemcpyDtoDAsync_v2(uint64_t destination, uint64_t source, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    requireInside(destination, bytes, "cuMemcpyDtoD: the destination");
    requireInside(source, bytes, "cuMemcpyDtoD: the source");
    enqueue([=] {
        if (!inside(destination, bytes) || !inside(source, bytes)) misuse("replaying a copy between freed buffers");
        memmove((void *)(uintptr_t)destination, (const void *)(uintptr_t)source, bytes);
    });
    return 0;
}

EXPORT int cuMemsetD32Async(uint64_t destination, unsigned value, size_t count, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    if (destination % 4) return 1;
    requireInside(destination, 4 * count, "cuMemsetD32");
    enqueue([=] {
        if (!inside(destination, 4 * count)) misuse("replaying a memset of freed memory");
        uint32_t *p = (uint32_t *)(uintptr_t)destination;
        for (size_t i = 0; i < count; i++) p[i] = value;
    });
    return 0;
}

EXPORT int cuStreamBeginCapture_v2(void *stream, int mode) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuStreamBeginCapture_v2", 900)) return e;
    if (stream != &streamToken) return 400;
    if (capture.active) return 401;  // ILLEGAL_STATE: captures do not nest
    if (mode != 1) misuse("cuStreamBeginCapture: charrnn captures in CU_STREAM_CAPTURE_MODE_THREAD_LOCAL (1), got %d", mode);
    capture = Capture{true, pthread_self(), nullptr, new Graph};
    return 0;
}

EXPORT int cuStreamEndCapture(void *stream, void **graph) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken || !capture.active) return 401;
    Graph *g = capture.graph;
    bool invalidated = capture.invalidatedBy != nullptr;
    capture = Capture{};
    if (invalidated) { delete g; *graph = nullptr; return 901; }
    *graph = g;
    return 0;
}

EXPORT int cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (!graph) return 400;
    *exec = new Graph(*(Graph *)graph);
    return 0;
}

EXPORT int cuGraphLaunch(void *exec, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (!exec || stream != &streamToken) return 400;
    if (capture.active) misuse("cuGraphLaunch inside a capture");
    for (auto &work : ((Graph *)exec)->work) work();
    return 0;
}

EXPORT int cuGraphDestroy(void *graph) { delete (Graph *)graph; return 0; }
EXPORT int cuGraphExecDestroy(void *exec) { delete (Graph *)exec; return 0; }

// MARK: NVRTC

EXPORT int nvrtcVersion(int *major, int *minor) { *major = 99; *minor = 0; return 0; }

EXPORT const char *nvrtcGetErrorString(int e) {
    switch (e) {
    case 0: return "NVRTC_SUCCESS";
    case 3: return "NVRTC_ERROR_INVALID_INPUT";
    case 5: return "NVRTC_ERROR_INVALID_OPTION";
    case 6: return "NVRTC_ERROR_COMPILATION";
    case 7: return "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE";
    default: return "NVRTC_ERROR_INTERNAL_ERROR";
    }
}

EXPORT int nvrtcCreateProgram(void **program, const char *source, const char *name, int headers, const char *const *,
                              const char *const *) {
    if (!program || !source || headers != 0) return 3;
    *program = new Program{source, name ? name : "default_program", "", {}};
    return 0;
}

EXPORT int nvrtcCompileProgram(void *program, int count, const char *const *options) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    Program *p = (Program *)program;
    if (!p) return 3;
    if (int e = injectedFailure("nvrtcCompileProgram", 6)) {
        p->log = p->name + "(1): error: compilation refused (CHARRNN_HOST_CUDA_FAIL)";
        return e;
    }
    int architecture = 0;
    for (int i = 0; i < count; i++) {
        if (sscanf(options[i], "--gpu-architecture=sm_%d", &architecture) == 1) continue;
        if (!strcmp(options[i], "--std=c++17") || !strncmp(options[i], "--fmad=", 7)) continue;
        p->log = std::string("error: unknown option ") + options[i];
        return 5;
    }
    if (architecture == 0) { p->log = "error: no --gpu-architecture=sm_XX: a CUBIN needs a real architecture"; return 5; }
    return compileForHost(p, architecture);
}

EXPORT int nvrtcGetProgramLogSize(void *program, size_t *size) { *size = ((Program *)program)->log.size() + 1; return 0; }
EXPORT int nvrtcGetProgramLog(void *program, char *log) {
    const std::string &l = ((Program *)program)->log;
    memcpy(log, l.c_str(), l.size() + 1);
    return 0;
}
EXPORT int nvrtcGetCUBINSize(void *program, size_t *size) {
    Program *p = (Program *)program;
    if (p->cubin.empty()) return 3;
    *size = p->cubin.size();
    return 0;
}
EXPORT int nvrtcGetCUBIN(void *program, char *cubin) {
    Program *p = (Program *)program;
    if (p->cubin.empty()) return 3;
    memcpy(cubin, p->cubin.data(), p->cubin.size());
    return 0;
}
EXPORT int nvrtcDestroyProgram(void **program) { delete (Program *)*program; *program = nullptr; return 0; }

// MARK: cuBLAS

EXPORT int cublasCreate_v2(void **handle) {
    if (int e = injectedFailure("cublasCreate_v2", 1)) return e;
    if (requireContext()) return 1;  // NOT_INITIALIZED: cuBLAS binds the handle to the current context
    *handle = new BLASHandle;
    return 0;
}
EXPORT int cublasSetStream_v2(void *handle, void *stream) { return handle && stream == &streamToken ? 0 : 7; }
EXPORT int cublasSetMathMode(void *handle, int mode) {
    if (!handle || (mode != 0 && mode != 3)) return 7;  // DEFAULT_MATH, TF32_TENSOR_OP_MATH
    ((BLASHandle *)handle)->mathMode = mode;
    return 0;
}
EXPORT int cublasSetWorkspace_v2(void *handle, uint64_t workspace, size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!handle) return 1;
    if (bytes) requireInside(workspace, bytes, "cublasSetWorkspace");
    ((BLASHandle *)handle)->workspace = workspace;
    ((BLASHandle *)handle)->workspaceBytes = bytes;
    return 0;
}
EXPORT int cublasGetProperty(int type, int *value) {
    static const int parts[3] = {13, 0, 0};
    if (type < 0 || type > 2) return 7;
    *value = parts[type];
    return 0;
}

EXPORT int cublasSgemm_v2(void *handle, int opA, int opB, int m, int n, int k, const float *alpha, uint64_t A, int lda,
                          uint64_t B, int ldb, const float *beta, uint64_t C, int ldc) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = injectedFailure("cublasSgemm_v2", 13)) return e;
    BLASHandle *h = (BLASHandle *)handle;
    return gemm(h, opA, opB, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc, h && h->mathMode == 3 ? 10 : 23);
}

EXPORT int cublasGemmEx(void *handle, int opA, int opB, int m, int n, int k, const void *alpha, uint64_t A, int typeA, int lda,
                        uint64_t B, int typeB, int ldb, const void *beta, uint64_t C, int typeC, int ldc, int computeType,
                        int algorithm) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = injectedFailure("cublasGemmEx", 13)) return e;
    if (typeA != 0 || typeB != 0 || typeC != 0) return 15;  // only CUDA_R_32F operands here: NOT_SUPPORTED
    int bits;
    switch (computeType) {
    case 68: bits = 23; break;  // CUBLAS_COMPUTE_32F
    case 74: bits = 10; break;  // CUBLAS_COMPUTE_32F_FAST_TF32
    case 75: bits = 7; break;   // CUBLAS_COMPUTE_32F_FAST_16BF
    default: return 15;
    }
    if (algorithm != -1) return 7;
    return gemm((BLASHandle *)handle, opA, opB, m, n, k, *(const float *)alpha, A, lda, B, ldb, *(const float *)beta, C, ldc,
                bits);
}
