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

#ifdef __cplusplus
}
#endif
#endif
