// The driver API (libcuda) on the host: devices, contexts, memory, modules, launches, the stream and
// its capture into graphs (host_cuda.h says what is modelled).

#include "host_cuda.h"

using namespace hostcuda;

namespace {

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

// Every pointer argument must point into a live allocation.
void checkPointers(const Kernel *k, const std::vector<uint64_t> &values) {
    for (int i = 0; i < k->count; i++)
        if (k->pointers[i] && values[i] && !inside(values[i], 0))
            misuse("launching %s: argument %d (0x%llx) points into no live allocation", k->name.c_str(), i,
                   (unsigned long long)values[i]);
}

void runKernel(const Kernel *k, std::vector<uint64_t> values, long threads, int block) {
    std::vector<void *> args(k->count + 1);
    for (int i = 0; i < k->count; i++) args[i] = &values[i];
    k->launch(args.data(), threads, block);
}

const char *deviceName() {
    const char *n = getenv("CHARRNN_HOST_CUDA_NAME");
    return n && *n ? n : "charrnn host CUDA stand-in";
}

}  // namespace

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
        {401, "CUDA_ERROR_ILLEGAL_STATE"}, {500, "CUDA_ERROR_NOT_FOUND"}, {600, "CUDA_ERROR_NOT_READY"}, {700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
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
        {600, "device not ready"},
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
    if (int e = refuseWhileCapturing("cuCtxSynchronize")) return e;
    counts.waits++;
    return 0;
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
    counts.allocations++;
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
    counts.frees++;
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
    // CHARRNN_HOST_CUDA_THREAD_ORDER=reverse runs each launch's threads last to first: a kernel whose
    // threads read what other threads of the same launch write (a race on a GPU) then computes otherwise.
    if (const char *order = getenv("CHARRNN_HOST_CUDA_THREAD_ORDER"); order && !strcmp(order, "reverse"))
        if (int *reverse = (int *)dlsym(library, "crn_host_reverse")) *reverse = 1;
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
    long threads = (long)gx * bx;
    int block = (int)bx;
    enqueue(Work::kernel, [k, values] { checkPointers(k, values); },
            [k, values, threads, block] { runKernel(k, values, threads, block); });
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
    if (int e = injectedFailure("cuStreamSynchronize", 700)) return e;  // an earlier kernel's fault surfaces here
    if (stream != &streamToken) return 400;
    if (int e = refuseWhileCapturing("cuStreamSynchronize")) return e;
    counts.waits++;
    return 0;
}

EXPORT int cuMemcpyHtoDAsync_v2(uint64_t destination, const void *source, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuMemcpyHtoDAsync_v2", 700)) return e;  // an earlier kernel's fault surfaces here
    if (stream != &streamToken) return 400;
    if (int e = refuseWhileCapturing("a copy from pageable host memory")) return e;
    requireInside(destination, bytes, "cuMemcpyHtoD: the destination");
    memcpy((void *)(uintptr_t)destination, source, bytes);  // pageable: staged before the call returns
    counts.toDevice++;
    counts.toDeviceBytes += bytes;
    return 0;
}

EXPORT int cuMemcpyDtoHAsync_v2(void *destination, uint64_t source, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuMemcpyDtoHAsync_v2", 700)) return e;  // an earlier kernel's fault surfaces here
    if (stream != &streamToken) return 400;
    if (int e = refuseWhileCapturing("a copy to pageable host memory")) return e;
    requireInside(source, bytes, "cuMemcpyDtoH: the source");
    memcpy(destination, (const void *)(uintptr_t)source, bytes);
    counts.toHost++;
    counts.toHostBytes += bytes;
    return 0;
}

EXPORT int cuMemcpyDtoDAsync_v2(uint64_t destination, uint64_t source, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    enqueue(Work::copy, [=] {
        requireInside(destination, bytes, "cuMemcpyDtoD: the destination");
        requireInside(source, bytes, "cuMemcpyDtoD: the source");
    }, [=] { memmove((void *)(uintptr_t)destination, (const void *)(uintptr_t)source, bytes); });
    return 0;
}

EXPORT int cuMemsetD32Async(uint64_t destination, unsigned value, size_t count, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (stream != &streamToken) return 400;
    if (destination % 4) return 1;
    enqueue(Work::memset, [=] { requireInside(destination, 4 * count, "cuMemsetD32"); }, [=] {
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
    if (int e = injectedFailure("cuGraphLaunch", 700)) return e;  // an earlier kernel's fault surfaces here
    if (!exec || stream != &streamToken) return 400;
    if (capture.active) misuse("cuGraphLaunch inside a capture");
    counts.graphLaunches++;
    counts.replayedNodes += (long)((Graph *)exec)->work.size();
    replaying = true;
    for (auto &work : ((Graph *)exec)->work) work();
    replaying = false;
    return 0;
}

// Events: a recorded event holds the host's clock when the work before it ran (which is when it was
// queued: work runs as it is queued). charrnn records them only outside captures (bench --phases).
namespace {
struct Event {
    bool recorded = false;
    double seconds = 0;
};
}  // namespace

EXPORT int cuEventCreate(void **event, unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (flags != 0) misuse("cuEventCreate: charrnn's events time work (CU_EVENT_DEFAULT, 0), got flags %u", flags);
    *event = new Event;
    return 0;
}

EXPORT int cuEventRecord(void *event, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuEventRecord", 700)) return e;  // an earlier kernel's fault surfaces here
    if (!event || stream != &streamToken) return 400;
    if (capture.active) misuse("cuEventRecord inside a capture: bench --phases launches its steps one by one");
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    *(Event *)event = Event{true, now.tv_sec + now.tv_nsec * 1e-9};
    return 0;
}

EXPORT int cuEventSynchronize(void *event) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (!event) return 400;
    if (int e = refuseWhileCapturing("cuEventSynchronize")) return e;
    counts.waits++;
    return 0;
}

EXPORT int cuEventElapsedTime(float *ms, void *start, void *end) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (int e = requireContext()) return e;
    if (int e = injectedFailure("cuEventElapsedTime", 600)) return e;
    if (!start || !end) return 400;
    const Event *a = (const Event *)start, *b = (const Event *)end;
    if (!a->recorded || !b->recorded) return 600;  // CUDA_ERROR_NOT_READY
    *ms = (float)((b->seconds - a->seconds) * 1000);
    return 0;
}

EXPORT int cuEventDestroy_v2(void *event) { delete (Event *)event; return 0; }

EXPORT int cuGraphDestroy(void *graph) { delete (Graph *)graph; return 0; }
EXPORT int cuGraphExecDestroy(void *exec) { delete (Graph *)exec; return 0; }
