// NCCL's entry points that charrnn uses, for the ranks of an MPI job on one machine: a communicator
// is the job's MPI_COMM_WORLD (of the Open MPI library charrnn loaded into the process), and
// ncclAllReduce is MPI_Allreduce on the host memory that stands for the device's, queued on the
// stream or recorded into a capture like a launch, so a replayed graph exchanges again.

#include "host_cuda.h"

using namespace hostcuda;

namespace {

struct Communicator {
    int ranks, rank;
};

// ncclResult_t
const int ncclSuccess = 0, ncclSystemError = 2, ncclInvalidArgument = 4, ncclInvalidUsage = 5;

typedef int (*AllreduceFn)(const void *, void *, int, void *, void *, void *);
typedef int (*RankFn)(void *, int *);

struct MPI {
    AllreduceFn allreduce = nullptr;
    RankFn rank = nullptr, size = nullptr;
    void *world = nullptr, *floats = nullptr, *doubles = nullptr, *sum = nullptr;
    bool found() const { return allreduce && rank && size && world && floats && doubles && sum; }
};

MPI mpi() {
    MPI m;
    m.allreduce = (AllreduceFn)dlsym(RTLD_DEFAULT, "MPI_Allreduce");
    m.rank = (RankFn)dlsym(RTLD_DEFAULT, "MPI_Comm_rank");
    m.size = (RankFn)dlsym(RTLD_DEFAULT, "MPI_Comm_size");
    m.world = dlsym(RTLD_DEFAULT, "ompi_mpi_comm_world");
    m.floats = dlsym(RTLD_DEFAULT, "ompi_mpi_float");
    m.doubles = dlsym(RTLD_DEFAULT, "ompi_mpi_double");
    m.sum = dlsym(RTLD_DEFAULT, "ompi_mpi_op_sum");
    return m;
}

int groupDepth = 0;

}  // namespace

typedef struct { char internal[128]; } ncclUniqueId;

EXPORT int ncclGetVersion(int *version) {
    *version = 21903;  // 2.19.3
    return ncclSuccess;
}

EXPORT const char *ncclGetErrorString(int result) {
    switch (result) {
    case ncclSuccess: return "no error";
    case ncclSystemError: return "unhandled system error (host stand-in: no Open MPI job in this process)";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    default: return "unknown result";
    }
}

EXPORT int ncclGetUniqueId(ncclUniqueId *id) {
    std::lock_guard<std::recursive_mutex> hold(lock);
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "host-nccl:%d:%ld", (int)getpid(), (long)time(nullptr));
    return ncclSuccess;
}

EXPORT int ncclCommInitRank(Communicator **comm, int ranks, ncclUniqueId id, int rank) {
    std::lock_guard<std::recursive_mutex> hold(lock);
    if (requireContext() != 0) return ncclInvalidUsage;  // NCCL works on the current device
    if (strncmp(id.internal, "host-nccl:", 10) != 0) return ncclInvalidArgument;
    MPI m = mpi();
    if (!m.found()) return ncclSystemError;
    int worldRank = -1, worldSize = 0;
    m.rank(m.world, &worldRank);
    m.size(m.world, &worldSize);
    if (ranks != worldSize || rank != worldRank) return ncclInvalidArgument;
    *comm = new Communicator{ranks, rank};
    return ncclSuccess;
}

EXPORT int ncclCommDestroy(Communicator *comm) {
    delete comm;
    return ncclSuccess;
}

EXPORT int ncclGroupStart() { groupDepth++; return ncclSuccess; }
EXPORT int ncclGroupEnd() { return groupDepth-- > 0 ? ncclSuccess : ncclInvalidUsage; }

// ncclDataType_t 7 (float32) and 8 (float64); ncclRedOp_t 0 (sum) and 4 (average).
EXPORT int ncclAllReduce(const void *send, void *receive, size_t count, int type, int op, Communicator *comm, void *stream) {
    std::lock_guard<std::recursive_mutex> hold(lock);
    if (!comm || stream != &streamToken) return ncclInvalidArgument;
    if ((type != 7 && type != 8) || (op != 0 && op != 4)) return ncclInvalidArgument;
    if (requireContext() != 0) return ncclInvalidUsage;
    MPI m = mpi();
    if (!m.found()) return ncclSystemError;
    size_t size = type == 7 ? 4 : 8, bytes = count * size;
    uint64_t from = (uint64_t)send, to = (uint64_t)receive;
    int ranks = comm->ranks;
    enqueue(Work::collective, [=] {
        requireInside(from, bytes, "ncclAllReduce (send)");
        requireInside(to, bytes, "ncclAllReduce (receive)");
    }, [=] {
        if (from != to) memcpy((void *)to, (const void *)from, bytes);
        if (m.allreduce((const void *)1, (void *)to, (int)count, type == 7 ? m.floats : m.doubles, m.sum, m.world) != 0)
            misuse("ncclAllReduce: MPI_Allreduce failed");
        if (op == 4) {
            if (type == 7) for (size_t i = 0; i < count; i++) ((float *)to)[i] /= (float)ranks;
            else for (size_t i = 0; i < count; i++) ((double *)to)[i] /= (double)ranks;
        }
    });
    return ncclSuccess;
}
