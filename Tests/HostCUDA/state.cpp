// What the stand-in's three libraries share (host_cuda.h).

#include "host_cuda.h"

namespace hostcuda {

std::recursive_mutex lock;

int contextToken, streamToken;

thread_local void *currentContext = nullptr;

int requireContext() { return currentContext == &contextToken ? 0 : 201; }  // CUDA_ERROR_INVALID_CONTEXT

[[noreturn]] void misuse(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("host CUDA: misuse: ", stderr);
    vfprintf(stderr, format, args);
    fputs(replaying ? " (replaying a graph)\n" : "\n", stderr);
    va_end(args);
    fflush(stderr);
    abort();
}

long environmentNumber(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, nullptr, 10) : fallback;
}

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

Capture capture;

bool capturingHere() { return capture.active && pthread_equal(capture.thread, pthread_self()); }

int refuseWhileCapturing(const char *what) {
    if (!capturingHere()) return 0;
    if (!capture.invalidatedBy) capture.invalidatedBy = what;
    return 900;  // CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
}

Counts counts;
bool replaying = false;

void enqueue(Work kind, std::function<void()> check, std::function<void()> work) {
    check();
    if (capturingHere()) {
        capture.graph->work.push_back([check, work] { check(); work(); });
        counts.captured++;
    } else {
        counts.queued[(int)kind]++;
        work();
    }
}

namespace {
struct StatsAtExit {
    ~StatsAtExit() {
        if (environmentNumber("CHARRNN_HOST_CUDA_STATS", 0) == 0) return;
        const Counts &c = counts;
        fprintf(stderr,
                "host CUDA: %ld kernel launches, %ld products, %ld device copies, %ld memsets, %ld collectives; %ld graph launches "
                "replaying %ld nodes (%ld captured); %ld copies to the device (%zu bytes), %ld to the host (%zu bytes); "
                "%ld allocations, %ld frees, %ld waits\n",
                c.queued[0], c.queued[1], c.queued[2], c.queued[3], c.queued[4], c.graphLaunches, c.replayedNodes, c.captured, c.toDevice,
                c.toDeviceBytes, c.toHost, c.toHostBytes, c.allocations, c.frees, c.waits);
    }
} statsAtExit;
}  // namespace

const char cubinMagic[8] = {'C', 'R', 'N', 'H', 'O', 'S', 'T', '1'};

}  // namespace hostcuda
