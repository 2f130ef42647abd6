// NVRTC on the host: "compiles" a kernel module with the host's C++ compiler into a shared library,
// wrapped as the CUBIN that driver.cpp loads (host_cuda.h).

#include "host_cuda.h"

using namespace hostcuda;

namespace {

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
#define __fmaf_rn(a, b, c) __builtin_fmaf(a, b, c)
static inline unsigned __float_as_uint(float f) { unsigned u; __builtin_memcpy(&u, &f, 4); return u; }
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
extern "C" { int crn_host_reverse = 0; }
template <typename... A> static void crn_launch(void (*f)(A...), void **args, long threads, int block) {
    blockDim.x = block; blockDim.y = blockDim.z = 1;
    gridDim.x = (unsigned)((threads + block - 1) / block); gridDim.y = gridDim.z = 1;
    blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
    const long all = (long)gridDim.x * block;
    for (long n = 0; n < all; n++) {
        const long k = crn_host_reverse ? all - 1 - n : n;
        blockIdx.x = (unsigned)(k / block); threadIdx.x = (unsigned)(k % block);
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

}  // namespace

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
