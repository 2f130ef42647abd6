#ifndef CHARRNN_POOL_H
#define CHARRNN_POOL_H
// A persistent pool of worker threads for splitting work that is too small for a thread per call.
// Workers spin briefly after a job (the next one usually follows within microseconds), then sleep.
#ifdef __cplusplus
extern "C" {
#endif

typedef void (*crn_task_fn)(void *context, int index);

// Total threads taking part, the caller included (1 = run everything on the caller).
void crn_pool_set_threads(int threads);
int crn_pool_threads(void);

// Runs fn(context, i) for every i in [0, count), on the caller and the workers; returns when all are done.
// Not reentrant: a task must not call crn_pool_run.
void crn_pool_run(int count, crn_task_fn fn, void *context);

// Runs fn(context, i) for i in [0, count) with every task on its own thread at the same time, so the
// tasks may wait for each other at crn_pool_barrier. Returns 0 (running nothing) when count is more than
// crn_pool_threads(). Not reentrant, like crn_pool_run.
int crn_pool_run_together(int count, crn_task_fn fn, void *context);
// Inside a crn_pool_run_together task: returns when every task of the job has reached it, and makes
// what each task wrote before it visible to every task after it.
void crn_pool_barrier(void);

#ifdef __cplusplus
}
#endif
#endif
