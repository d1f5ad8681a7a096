/*
 * parallel.c - the one way the library spreads work over threads.
 *
 * Every parallel stage (cleaning a batch, sketching, building pivots,
 * extracting pages) is "do task(i) for every index, each thread with its
 * own non-thread-safe tools". Threads pull the next index from one atomic
 * counter, so uneven documents balance themselves; each task writes only
 * its own output slot, so results never depend on which thread ran what.
 * The calling thread works too, so one thread means no thread is created.
 * After a failure the remaining indices are skipped; the error returned is
 * that of the lowest failing index seen.
 */
#include "common/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct job {
    nfi_task_fn task;
    void *ctx;
    size_t n;
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    size_t error_index;
    nf_error error;
} job;

typedef struct thread_arg {
    job *job;
    void *worker;
} thread_arg;

static void *run(void *p)
{
    thread_arg *a = p;
    job *j = a->job;
    for (size_t i; !atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        nf_error err = {NF_OK, ""};
        if (j->task(j->ctx, a->worker, i, &err) == NF_OK)
            continue;
        pthread_mutex_lock(&j->lock);
        if (!atomic_load(&j->failed) || i < j->error_index) {
            j->error = err;
            j->error_index = i;
        }
        atomic_store(&j->failed, 1);
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

nf_status nfi_parallel_for(size_t n, void *workers, size_t worker_size, int n_workers, nfi_task_fn task, void *ctx,
                          nf_error *err)
{
    if (n == 0)
        return NF_OK;
    int threads = n_workers < 1 ? 1 : (size_t)n_workers > n ? (int)n : n_workers;
    job j = {.task = task, .ctx = ctx, .n = n};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    thread_arg *args = calloc((size_t)threads, sizeof *args);
    int started = 0;
    for (int t = 1; tids && args && t < threads; t++) {
        args[t] = (thread_arg){&j, (char *)workers + (size_t)t * worker_size};
        if (pthread_create(&tids[t], NULL, run, &args[t]) != 0)
            break; /* fewer threads: the others still finish the work */
        started = t;
    }
    thread_arg self = {&j, workers};
    run(&self);
    for (int t = 1; t <= started; t++)
        pthread_join(tids[t], NULL);
    pthread_mutex_destroy(&j.lock);
    free(tids);
    free(args);
    if (!atomic_load(&j.failed))
        return NF_OK;
    if (err)
        *err = j.error;
    return j.error.code ? j.error.code : NF_ERR_NOMEM;
}
