#include "charrnn_pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define MAX_WORKERS 63
// A barrier spins this many times before it yields the core.
#define SPINS 20000
// An idle worker spins this long for the next job before it sleeps. Waking a sleeping worker costs tens
// of microseconds; a job waits for that whenever the work between two jobs (a batch-1 recurrence on one
// thread, say) outlasts the spin, and then two threads ran slower than one. A count of pause
// instructions is no measure of time (their latency differs tenfold between CPUs), so the clock is.
#define IDLE_SPIN_NS 1000000

#if defined(__x86_64__) || defined(__i386__)
#define relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define relax() __asm__ __volatile__("yield")
#else
#define relax() ((void)0)
#endif

// The job in flight. `ticket` packs the job's generation (high 32 bits), its task count (16 bits) and
// the next task index (low 16 bits), so a worker still finishing an old job can never take a task of
// a newer one, and reads nothing of a job but through the ticket that publishes it: fn and context are
// written before the ticket is stored (release) and read only after a successful exchange (acquire).
static struct {
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    pthread_t workers[MAX_WORKERS];
    int nworkers;
    _Atomic uint64_t ticket;
    _Atomic uint32_t generation;
    _Atomic int remaining;
    crn_task_fn fn;
    void *context;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void work(uint32_t gen) {
    for (;;) {
        uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        int index = (int)(t & 0xFFFF), count = (int)((t >> 16) & 0xFFFF);
        if ((uint32_t)(t >> 32) != gen || index >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire)) continue;
        pool.fn(pool.context, index);
        atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_release);
    }
}

static uint64_t monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// `arg` is the generation when the worker was created: reading it here instead could skip a job
// published before the thread first ran, which a job run together (every task on its own thread) needs.
static void *worker_main(void *arg) {
    uint32_t seen = (uint32_t)(uintptr_t)arg;
    for (;;) {
        unsigned spins = 0;
        uint64_t idle_since = 0;
        uint32_t gen;
        while ((gen = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
            relax();
            if (++spins % 64 != 0) continue;
            uint64_t now = monotonic_ns();
            if (idle_since == 0) idle_since = now;
            if (now - idle_since < IDLE_SPIN_NS) continue;
            pthread_mutex_lock(&pool.mutex);
            while ((gen = atomic_load(&pool.generation)) == seen) pthread_cond_wait(&pool.wake, &pool.mutex);
            pthread_mutex_unlock(&pool.mutex);
            break;
        }
        seen = gen;
        work(gen);
    }
    return 0;
}

static int active_threads = 1;

void crn_pool_set_threads(int threads) {
    int want = threads - 1;
    if (want < 0) want = 0;
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    // Workers are only ever added. Callers split work into crn_pool_threads() parts; a worker left
    // over from a larger setting may still take parts, which changes nothing but who computes them.
    pthread_mutex_lock(&pool.mutex);
    while (pool.nworkers < want) {
        void *created_at = (void *)(uintptr_t)atomic_load(&pool.generation);
        if (pthread_create(&pool.workers[pool.nworkers], 0, worker_main, created_at) != 0) break;
        pthread_detach(pool.workers[pool.nworkers]);
        pool.nworkers++;
    }
    pthread_mutex_unlock(&pool.mutex);
    active_threads = (want < pool.nworkers ? want : pool.nworkers) + 1;
}

int crn_pool_threads(void) { return active_threads; }

void crn_pool_run(int count, crn_task_fn fn, void *context) {
    if (count <= 0) return;
    if (active_threads <= 1 || count == 1 || count > 0xFFFF) {
        for (int i = 0; i < count; i++) fn(context, i);
        return;
    }
    pool.fn = fn;
    pool.context = context;
    atomic_store_explicit(&pool.remaining, count, memory_order_relaxed);
    uint32_t gen = atomic_load(&pool.generation) + 1;
    atomic_store_explicit(&pool.ticket, (uint64_t)gen << 32 | (uint64_t)count << 16, memory_order_release);
    pthread_mutex_lock(&pool.mutex);
    atomic_store_explicit(&pool.generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mutex);
    work(gen);
    while (atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0) relax();
}

// The barrier of a crn_pool_run_together job. `phase` counts completed barriers; the last of `parties`
// to arrive resets `arrived` before it advances `phase`, so no one can arrive early at the next one.
static struct {
    _Atomic int arrived;
    _Atomic uint32_t phase;
    int parties;
} barrier = { 0, 0, 1 };

int crn_pool_run_together(int count, crn_task_fn fn, void *context) {
    if (count < 1 || count > active_threads) return 0;
    barrier.parties = count;
    atomic_store_explicit(&barrier.arrived, 0, memory_order_relaxed);
    crn_pool_run(count, fn, context);  // publishes `parties` with the job (release)
    barrier.parties = 1;                // a barrier outside a job returns at once
    return 1;
}

void crn_pool_barrier(void) {
    if (barrier.parties <= 1) return;
    uint32_t phase = atomic_load_explicit(&barrier.phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&barrier.arrived, 1, memory_order_acq_rel) == barrier.parties - 1) {
        atomic_store_explicit(&barrier.arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&barrier.phase, 1, memory_order_release);
        return;
    }
    // Spin while the others are about to arrive; yield when they are not running (more threads than cores).
    int spins = 0;
    while (atomic_load_explicit(&barrier.phase, memory_order_acquire) == phase) {
        if (++spins < SPINS) relax(); else sched_yield();
    }
}
