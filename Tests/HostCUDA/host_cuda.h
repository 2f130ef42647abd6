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
// - events (bench --phases): each records the host's clock, outside captures only;
// - cuBLAS: column-major products with cuBLAS's argument checks (leading dimensions), alpha and beta
//   read at the call, C not read when beta is 0; TF32 math and the bf16 compute type round the
//   operands as the tensor cores do.
// CHARRNN_HOST_CUDA_CXXFLAGS adds options to the kernels' compile: with "-fsanitize=address" (and the
// sanitizer's runtime in LD_PRELOAD, a separate CHARRNN_CACHE_DIR) a kernel that reads or writes past
// its buffers is caught at the access, since device memory here comes from malloc.
// CHARRNN_HOST_CUDA_FAIL=name[:after[:code]] makes the named entry point fail with `code` once it has
// succeeded `after` times (default 0 times, and the error that call usually returns), to reach error
// paths. CHARRNN_HOST_CUDA_DEVICES, _NAME and _CC (e.g. 8.0) describe the devices.
// CHARRNN_HOST_CUDA_THREAD_ORDER=reverse runs each launch's threads from the last to the first, so a
// kernel that depends on the order of its threads (a race on a GPU) computes otherwise and its check fails.
// - NCCL (nccl.cpp): a communicator of the ranks of the process's MPI job (Open MPI, which charrnn has
//   loaded), whose all-reduce is MPI_Allreduce on the "device" memory, queued or captured like a launch;
// CHARRNN_HOST_CUDA_STATS=1 prints at exit what the process asked of the "GPU": launches, products,
// graph replays, copies each way, allocations and waits (how much of a step crosses to the host).
//
// driver.cpp has the driver API, nvrtc.cpp the compiler, cublas.cpp the products; this header and
// state.cpp what they share: memory, the capture in progress, the current context, failures.

#pragma once

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
#include <time.h>
#include <unistd.h>
#include <vector>

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace hostcuda {

// Every entry point that touches shared state holds it (charrnn's server calls from several threads).
extern std::recursive_mutex lock;

// What the primary context, the stream and the handles point at: one device, one stream.
extern int contextToken, streamToken;

// The context each thread has made current (cuCtxSetCurrent): the driver binds contexts per thread,
// so a call from a thread that never made one current fails, as it does on a GPU.
extern thread_local void *currentContext;
int requireContext();  // 0, or CUDA_ERROR_INVALID_CONTEXT

// Stops the process with a message: what a GPU would report later, or not at all.
[[noreturn]] void misuse(const char *format, ...);
long environmentNumber(const char *name, long fallback);
// Nonzero (the code to return) when CHARRNN_HOST_CUDA_FAIL says this call of `name` fails.
int injectedFailure(const char *name, int usual);

size_t deviceMemory();
extern std::map<uint64_t, size_t> live;  // address -> bytes
extern size_t allocated;
// Whether [address, address + bytes) lies inside one live allocation (an address at its end, with no
// bytes, counts as inside).
bool inside(uint64_t address, size_t bytes);
void requireInside(uint64_t address, size_t bytes, const char *what);

struct Graph {
    std::vector<std::function<void()>> work;
};

struct Capture {
    bool active = false;
    pthread_t thread{};
    const char *invalidatedBy = nullptr;
    Graph *graph = nullptr;
};
extern Capture capture;
bool capturingHere();
// What a capture may not contain: the call fails (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) and the capture
// is invalidated.
int refuseWhileCapturing(const char *what);
// What each call queued on the stream, counted for CHARRNN_HOST_CUDA_STATS=1 (a line on stderr at exit).
enum class Work { kernel, product, copy, memset, collective };
struct Counts {
    long queued[5] = {0, 0, 0, 0, 0};  // by Work, run as they were queued
    long captured = 0, graphLaunches = 0, replayedNodes = 0;
    long toDevice = 0, toHost = 0, allocations = 0, frees = 0, waits = 0;
    size_t toDeviceBytes = 0, toHostBytes = 0;
};
extern Counts counts;
// Runs `check` (the work's addresses are live), then `work` now or records both into the capture: a
// replayed graph checks again, since a buffer it names may have been freed since.
void enqueue(Work kind, std::function<void()> check, std::function<void()> work);
// Set while a graph replays, so that a misuse found then says so.
extern bool replaying;

// The "CUBIN" nvrtc.cpp makes and driver.cpp loads: this, the library's size (8 bytes), the library.
extern const char cubinMagic[8];

}  // namespace hostcuda
