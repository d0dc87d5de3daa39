/*
 * restore: the backup's windows, read back from their store (job->from) and checked against
 * their manifests, written into the target (job->dest). Every window is checked first, in a pass
 * of its own, so nothing is written from a damaged backup; then the target collections are
 * dropped and given their indexes, as asked; then the windows are written.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "job_internal.h"

typedef struct restore_ctx {
    ccopy_job_t *job;
    _ccopy_dest_window_t *window;
    int64_t until; /* only documents whose ObjectId time is before it; -1: all */
    int64_t skipped;
} restore_ctx_t;

static int restore_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    restore_ctx_t *r = user_data;
    _ccopy_counters_t *counters = &r->job->counters;
    atomic_fetch_add(&counters->documents, 1);
    atomic_fetch_add(&counters->bytes, (long long)doc->len);
    if (r->until >= 0) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it) &&
            (int64_t)bson_oid_get_time_t(bson_iter_oid(&it)) >= r->until) {
            r->skipped++;
            return 0;
        }
    }
    return r->job->dest->ops->window_add(r->window, doc, error);
}

static int check_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    (void)doc;
    (void)user_data;
    (void)error;
    return 0;
}

int _ccopy_restore_check_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                              ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    /* decoded too, not only hashed: a manifest whose format or compression is not what its data
     * holds (its SHA-256 still matched) stopped the restore halfway, other windows written */
    int rc = job->from->ops->window_read(worker->from_session, task->manifest, check_doc, NULL,
                                         NULL, error);
    (void)out;
    if (rc == 0) {
        pthread_mutex_lock(&job->lock);
        job->verified_windows++;
        job->verified_bytes += task->manifest->stored_bytes;
        pthread_mutex_unlock(&job->lock);
    }
    return rc;
}

int _ccopy_restore_prepare(ccopy_job_t *job, ccopy_error_t *error)
{
    size_t i;
    int rc = 0;
    for (i = 0; rc == 0 && i < job->coll_count; i++) {
        const char *coll = job->colls[i].name;
        if (job->colls[i].windows_planned == 0)
            continue;
        rc = job->dest->ops->prepare_collection(job->dest, job->db, coll,
                                                job->settings.drop_choice, NULL, 0, error);
        if (rc == 0 && job->settings.copy_indexes_choice) {
            char *metadata = NULL;
            rc = job->from->ops->get_metadata(job->from, job->db, coll, &metadata, error);
            if (rc == CCOPY_ENOTFOUND) {
                _ccopy_job_log(job, CCOPY_LOG_WARNING,
                               "%s.%s: the backup has no metadata.json, so no indexes are created",
                               job->db, coll);
                rc = 0;
            } else if (rc == 0) {
                rc = job->dest->ops->put_metadata(job->dest, job->db, coll, metadata, error);
            }
            free(metadata);
        }
    }
    return rc;
}

int _ccopy_restore_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                        ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    const _ccopy_dest_ops_t *ops = job->dest->ops;
    _ccopy_dest_window_spec_t spec = {task->kind, task->window, job->db, task->coll};
    ccopy_manifest_t written;
    restore_ctx_t r;
    int rc;

    memset(&r, 0, sizeof r);
    memset(&written, 0, sizeof written);
    r.job = job;
    r.until = task->kind == CCOPY_MANIFEST_WINDOW && job->until >= 0 && task->window.end > job->until
                  ? job->until
                  : -1;
    rc = ops->window_begin(worker->dest_session, &spec, &r.window, error);
    if (rc == 0)
        rc = job->from->ops->window_read(worker->from_session, task->manifest, restore_doc, NULL,
                                         &r, error);
    if (rc == 0)
        rc = ops->window_commit(r.window, &written, error);
    if (rc == 0) {
        ccopy_error_t ignored;
        char *json = NULL;
        /* The summary lists the backup's window with what was written from it. */
        if (ccopy_manifest_to_json(&json, task->manifest, &ignored) == 0 &&
            ccopy_manifest_from_json(out, json, strlen(json), &ignored) == 0) {
            out->documents = written.documents;
            out->bytes = written.bytes;
        }
        free(json);
        if (r.skipped > 0)
            _ccopy_job_log(job, CCOPY_LOG_INFO,
                           "%s.%s: %lld document%s of the window created at or after option until left out",
                           job->db, task->coll, (long long)r.skipped, r.skipped == 1 ? "" : "s");
    }
    ccopy_manifest_cleanup(&written);
    if (r.window)
        ops->window_abort(r.window);
    return rc;
}
