/*
 * Planning a job: make sure the source answers and the database and collections exist, save each
 * collection's metadata.json, then turn the mode (full, incremental, range) and the catalog of
 * completed windows into the list of windows still to copy. The catalog, not the clock, decides:
 * what is complete is never planned again, and an incremental run starts where the last
 * completed window ended, so late or failed runs leave no gap.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "job_internal.h"

/* The arrays grow under job->lock: progress and the summary may read them from another thread
 * while planning runs. The pointer returned stays valid until the next collection is added. */
_ccopy_coll_stats_t *_ccopy_job_add_collection(ccopy_job_t *job, const char *name)
{
    _ccopy_coll_stats_t *c = NULL;
    size_t i;
    pthread_mutex_lock(&job->lock);
    for (i = 0; i < job->coll_count && !c; i++) {
        if (strcmp(job->colls[i].name, name) == 0)
            c = &job->colls[i];
    }
    if (!c) {
        job->colls = _ccopy_realloc(job->colls, (job->coll_count + 1) * sizeof *job->colls);
        c = &job->colls[job->coll_count++];
        memset(c, 0, sizeof *c);
        c->name = _ccopy_strdup(name);
        c->non_oid_copied = -1;
        c->non_oid_not_covered = -1;
        c->range_start = c->range_end = -1;
    }
    pthread_mutex_unlock(&job->lock);
    return c;
}

static void append_task(_ccopy_task_t **tasks, size_t *count, const char *coll,
                        ccopy_manifest_kind_t kind, int64_t start, int64_t end)
{
    _ccopy_task_t *t;
    *tasks = _ccopy_realloc(*tasks, (*count + 1) * sizeof **tasks);
    t = &(*tasks)[(*count)++];
    memset(t, 0, sizeof *t);
    t->coll = (char *)coll;
    t->kind = kind;
    t->window.start = start;
    t->window.end = end;
}

void _ccopy_job_add_task(ccopy_job_t *job, _ccopy_coll_stats_t *coll, ccopy_manifest_kind_t kind,
                         int64_t start, int64_t end)
{
    pthread_mutex_lock(&job->lock);
    append_task(&job->tasks, &job->task_count, coll->name, kind, start, end);
    coll->windows_planned++;
    pthread_mutex_unlock(&job->lock);
}

static int compare_windows(const void *a, const void *b)
{
    const ccopy_window_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* A window completed before its end had passed (a range that reached into the future) may lack
 * documents created in it since: it is provisional, and the next run whose range meets it
 * copies it again, with its own bounds. Recorded as complete for good, an incremental run went
 * on after it and never saw them. (Not before its end plus the settle lag: a run with
 * --settle-lag 0 chose to close its windows at once, and the next run with the default lag
 * would copy its last window again.) A completion time that cannot be read counts as settled,
 * as before there was this rule. */
static int provisional(const ccopy_manifest_t *m)
{
    int64_t done;
    if (m->kind != CCOPY_MANIFEST_WINDOW || !m->completed_at ||
        ccopy_time_parse(&done, m->completed_at, 0, NULL) != 0)
        return 0;
    return done < m->window.end;
}

/* The completed windows as sorted, disjoint intervals; with settled_only, not the provisional
 * ones. */
static ccopy_window_t *coverage_of(const ccopy_manifest_t *m, size_t count, int settled_only,
                                   size_t *out_count)
{
    ccopy_window_t *cov = _ccopy_calloc(count, sizeof *cov);
    size_t i, n = 0, merged = 0;
    for (i = 0; i < count; i++) {
        if (m[i].kind == CCOPY_MANIFEST_WINDOW && !(settled_only && provisional(&m[i])))
            cov[n++] = m[i].window;
    }
    qsort(cov, n, sizeof *cov, compare_windows);
    for (i = 0; i < n; i++) {
        if (merged > 0 && cov[i].start <= cov[merged - 1].end) {
            if (cov[i].end > cov[merged - 1].end)
                cov[merged - 1].end = cov[i].end;
        } else {
            cov[merged++] = cov[i];
        }
    }
    *out_count = merged;
    return cov;
}

/* The provisional windows of the manifests, read once for the plan. */
static ccopy_window_t *provisional_windows(const ccopy_manifest_t *m, size_t count,
                                           size_t *out_count)
{
    ccopy_window_t *redo = _ccopy_calloc(count, sizeof *redo);
    size_t i, n = 0;
    for (i = 0; i < count; i++) {
        if (provisional(&m[i]))
            redo[n++] = m[i].window;
    }
    *out_count = n;
    return redo;
}

static int overlaps(const ccopy_window_t *a, const ccopy_window_t *b)
{
    return a->start < b->end && b->start < a->end;
}

/* Plan the windows of [lo, hi) that the coverage does not hold yet, and again every provisional
 * window (redo) that meets [lo, hi): the coverage holds those too, so that no new window
 * overlaps one. */
static int plan_range(ccopy_job_t *job, _ccopy_coll_stats_t *coll, int64_t lo, int64_t hi,
                      const ccopy_window_t *cov, size_t cov_count, const ccopy_window_t *redo,
                      size_t redo_count, ccopy_error_t *error)
{
    ccopy_window_t *windows, range = {lo, hi};
    size_t count, i, j = 0, p;
    int rc = ccopy_plan_cut(&windows, &count, lo, hi, job->settings.step, error);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&job->lock);
    coll->range_start = lo;
    coll->range_end = hi;
    pthread_mutex_unlock(&job->lock);
    for (i = 0; i < count; i++) {
        int64_t cur = windows[i].start, end = windows[i].end;
        int gaps = 0;
        while (j < cov_count && cov[j].end <= cur)
            j++;
        for (size_t k = j; k < cov_count && cov[k].start < end; k++) {
            if (cov[k].start > cur) {
                _ccopy_job_add_task(job, coll, CCOPY_MANIFEST_WINDOW, cur, cov[k].start);
                gaps++;
            }
            if (cov[k].end > cur)
                cur = cov[k].end;
        }
        if (cur < end) {
            _ccopy_job_add_task(job, coll, CCOPY_MANIFEST_WINDOW, cur, end);
            gaps++;
        }
        for (p = 0; gaps == 0 && p < redo_count; p++)
            gaps = overlaps(&redo[p], &windows[i]);
        if (gaps == 0) {
            pthread_mutex_lock(&job->lock);
            coll->windows_already_complete++;
            pthread_mutex_unlock(&job->lock);
        }
    }
    for (p = 0; p < redo_count; p++) {
        if (overlaps(&redo[p], &range)) {
            _ccopy_job_add_task(job, coll, CCOPY_MANIFEST_WINDOW, redo[p].start, redo[p].end);
            pthread_mutex_lock(&job->lock);
            job->tasks[job->task_count - 1].again = 1;
            pthread_mutex_unlock(&job->lock);
        }
    }
    free(windows);
    return 0;
}

/* Planning reads (collections, indexes, the edge probes) survive the same faults as window
 * reads: after a lost connection, a throttling answer or a server timeout they are asked again,
 * with the same back-off and retry budget. Use as
 *     do rc = call(...); while (_ccopy_plan_again(job, rc, &attempt, error));                        */
int _ccopy_plan_again(ccopy_job_t *job, int rc, int *attempt, ccopy_error_t *error)
{
    int64_t delay;
    if (rc == 0)
        *attempt = 0; /* the budget counts failures in a row */
    if (rc == 0 || atomic_load(&job->canceled) ||
        (rc != CCOPY_ENETWORK && rc != CCOPY_ETHROTTLED && rc != CCOPY_ETIMEDOUT))
        return 0;
    if (++*attempt > job->backoff.max_retries) {
        _ccopy_error_prefix(error, "planning failed after %d retr%s", *attempt - 1,
                            *attempt - 1 == 1 ? "y" : "ies");
        return 0;
    }
    if (rc == CCOPY_ETHROTTLED)
        atomic_fetch_add(&job->counters.throttle_events, 1);
    atomic_fetch_add(&job->counters.retries, 1);
    delay = _ccopy_backoff_delay_ms(&job->backoff, *attempt, _ccopy_parse_retry_after_ms(error->message),
                                    &job->plan_rng);
    atomic_fetch_add(&job->counters.wait_ms, delay);
    _ccopy_job_log(job, CCOPY_LOG_INFO, "retrying in %lld ms (retry %d of %d): %s",
                   (long long)delay, *attempt, job->backoff.max_retries, error->message);
    return _ccopy_sleep_ms(delay, &job->canceled) == 0;
}

static int plan_collection(ccopy_job_t *job, mongoc_client_t *client, _ccopy_coll_stats_t *coll,
                           ccopy_error_t *error)
{
    ccopy_manifest_t *manifests = NULL;
    ccopy_window_t *cov = NULL;
    size_t count = 0, cov_count = 0;
    char *metadata = NULL;
    int64_t lo = 0, hi = 0, oldest = -1;
    int full = strcmp(job->settings.mode, "full") == 0;
    int incremental = strcmp(job->settings.mode, "incremental") == 0;
    int rc, attempt = 0;

    if (job->kind == CCOPY_JOB_BACKUP || job->settings.copy_indexes_choice) {
        do
            rc = _ccopy_source_metadata_json(job->source, client, job->db, coll->name, &metadata,
                                             error);
        while (_ccopy_plan_again(job, rc, &attempt, error));
        /* a backup keeps it beside the windows; a replica gets its indexes */
        if (rc == 0)
            rc = job->dest->ops->put_metadata(job->dest, job->db, coll->name, metadata, error);
        free(metadata);
        if (rc != 0)
            return rc;
    }
    rc = job->dest->ops->catalog_read(job->dest, NULL, job->db, coll->name, &manifests, &count,
                                      error);
    if (rc == 0)
        rc = job->dest->ops->prepare_collection(job->dest, job->db, coll->name, 0, manifests,
                                                count, error);
    if (rc != 0)
        return rc;
    cov = coverage_of(manifests, count, 0, &cov_count);

    if (full || incremental) {
        hi = job->now - job->settings.settle_lag;
        if (incremental && cov_count > 0) {
            /* From the first completed window, not the last: a window that failed while later
             * ones completed leaves a hole, and the next run must fill it. */
            lo = cov[0].start;
        } else {
            do
                rc = _ccopy_source_oldest_oid_time(job->source, client, job->db, coll->name,
                                                   &oldest, error);
            while (_ccopy_plan_again(job, rc, &attempt, error));
            lo = oldest < 0 ? hi : ccopy_time_align(oldest, job->settings.step);
            if (rc == 0 && incremental && oldest >= 0)
                _ccopy_job_log(job, CCOPY_LOG_INFO,
                               "%s.%s: no completed window yet, starting from the oldest ObjectId",
                               job->db, coll->name);
        }
        if (rc == 0 && cov_count > 0 && cov[cov_count - 1].end < hi) {
            /* Nothing created since the last completed window: nothing is recorded after it,
             * and the next run looks at that time again. Otherwise a collection backed up every
             * few minutes without change gains an empty window each time. Holes before it are
             * still filled. */
            ccopy_window_t tail = {cov[cov_count - 1].end, hi};
            int has = 1;
            do
                rc = _ccopy_source_window_has_documents(job->source, client, job->db, coll->name,
                                                        &tail, &has, error);
            while (_ccopy_plan_again(job, rc, &attempt, error));
            if (rc == 0 && !has) {
                char since[CCOPY_TIME_TEXT_SIZE];
                ccopy_time_format(since, tail.start, NULL);
                _ccopy_job_log(job, CCOPY_LOG_INFO, "%s.%s: nothing created since %s", job->db,
                               coll->name, since);
                hi = tail.start;
            }
        }
    } else {
        /* checked by ccopy_job_new(); relative times move with the clock, so clamp */
        ccopy_time_parse(&lo, job->settings.from, job->now, NULL);
        ccopy_time_parse(&hi, job->settings.until, job->now, NULL);
        if (hi > job->now) {
            char from[CCOPY_TIME_TEXT_SIZE];
            ccopy_time_format(from, job->now, NULL);
            _ccopy_job_log(job, CCOPY_LOG_WARNING,
                           "%s.%s: the range reaches past now (%s): its windows not over yet "
                           "are provisional, and the next run whose range meets them copies "
                           "them again",
                           job->db, coll->name, from);
        }
    }
    if (rc == 0 && lo < hi) {
        size_t redo_count;
        ccopy_window_t *redo = provisional_windows(manifests, count, &redo_count);
        rc = plan_range(job, coll, lo, hi, cov, cov_count, redo, redo_count, error);
        free(redo);
    }

    if (rc == 0 && full) {
        int has = 0;
        size_t i;
        /* A pass that an earlier full run wrote must be redone even when no such documents are
         * left, so the catalog does not keep documents that are gone. */
        for (i = 0; i < count; i++)
            has |= manifests[i].kind == CCOPY_MANIFEST_NON_OBJECTID;
        if (!has) {
            do
                rc = _ccopy_source_has_non_oid(job->source, client, job->db, coll->name, &has, error);
            while (_ccopy_plan_again(job, rc, &attempt, error));
        }
        if (rc == 0 && has)
            _ccopy_job_add_task(job, coll, CCOPY_MANIFEST_NON_OBJECTID, 0, 0);
        pthread_mutex_lock(&job->lock);
        coll->non_oid_copied = 0;
        pthread_mutex_unlock(&job->lock);
    } else if (rc == 0 && incremental) {
        /* A range run asks for exactly its windows; an incremental run stands in for a backup
         * of everything new, so it says what it cannot see. */
        int64_t not_covered = 0;
        do
            rc = _ccopy_source_count_non_oid(job->source, client, job->db, coll->name,
                                             &not_covered, error);
        while (_ccopy_plan_again(job, rc, &attempt, error));
        if (rc == 0) {
            pthread_mutex_lock(&job->lock);
            coll->non_oid_not_covered = not_covered;
            pthread_mutex_unlock(&job->lock);
        }
        if (rc == 0 && not_covered > 0)
            _ccopy_job_log(job, CCOPY_LOG_WARNING,
                           "%s.%s: %lld document%s an _id that is not an ObjectId; incremental "
                           "runs cannot see %s (a full run copies %s)",
                           job->db, coll->name, (long long)not_covered,
                           not_covered == 1 ? " has" : "s have", not_covered == 1 ? "it" : "them",
                           not_covered == 1 ? "it" : "them");
    }
    free(cov);
    _ccopy_manifests_free(manifests, count);
    return rc;
}

static int check_source(ccopy_job_t *job, mongoc_client_t *client, ccopy_error_t *error)
{
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e;
    int rc = 0;
    if (!mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &e))
        rc = _ccopy_source_error(job->source, error, &e, "connecting to the source");
    bson_destroy(ping);
    return rc;
}

static int select_collections(ccopy_job_t *job, mongoc_client_t *client, ccopy_error_t *error)
{
    char **names = NULL;
    size_t count = 0, i, k;
    int rc, attempt = 0;
    do
        rc = _ccopy_source_list_collections(job->source, client, job->db, &names, &count, error);
    while (_ccopy_plan_again(job, rc, &attempt, error));
    if (rc != 0)
        return rc;
    if (job->explicit_collections) {
        for (i = 0; i < job->coll_count && rc == 0; i++) {
            int found = 0;
            for (k = 0; k < count && !found; k++)
                found = strcmp(names[k], job->colls[i].name) == 0;
            if (!found && strncmp(job->colls[i].name, "system.", 7) == 0)
                rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                      "option collection: %s is a system collection of the "
                                      "server's, which is not copied",
                                      job->colls[i].name);
            else if (!found)
                rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                                      "collection %s not found in database %s on %s",
                                      job->colls[i].name, job->db, job->source->hosts);
        }
    } else {
        for (i = 0; i < count; i++) {
            /* A replica's catalog lives in its database; copying it along would be noise (name
             * it with --collection to copy it anyway). A warning: a collection of the user's of
             * that name is not copied without a word. */
            if (strcmp(names[i], _CCOPY_CATALOG_COLLECTION) == 0) {
                _ccopy_job_log(job, CCOPY_LOG_WARNING,
                               "%s.%s is a replica's catalog of cosmocopy: left out (name it with "
                               "option collection to copy it)",
                               job->db, names[i]);
                continue;
            }
            _ccopy_job_add_collection(job, names[i]);
        }
    }
    _ccopy_names_free(names, count);
    return rc;
}

/* With fewer windows left than workers (an incremental run usually has one), cut each window
 * into equal sub-windows so every worker has a range to read. Each sub-window is a window of its
 * own in the catalog, so an interrupted run keeps the parts it finished. A window that holds no
 * document is not cut: it is copied as one empty window, which keeps the catalog without a hole
 * (incremental planning and restore read its time coverage) without `parallel` empty files for
 * every run that finds nothing new. */
static int split_for_parallel(ccopy_job_t *job, mongoc_client_t *client, ccopy_error_t *error)
{
    size_t windows = 0, i, k, count = 0;
    _ccopy_task_t *tasks = NULL;
    int rc = 0;

    for (i = 0; i < job->task_count; i++)
        windows += job->tasks[i].kind == CCOPY_MANIFEST_WINDOW;
    if (windows == 0 || windows >= (size_t)job->settings.parallel)
        return 0;
    k = ((size_t)job->settings.parallel + windows - 1) / windows;
    for (i = 0; rc == 0 && i < job->task_count; i++) {
        const _ccopy_task_t *t = &job->tasks[i];
        ccopy_window_t *parts = NULL;
        size_t n = 0, p;
        int has = 0, attempt = 0;
        /* a window copied again keeps its bounds: cut, its old manifest would stay beside the
         * parts' */
        if (t->kind == CCOPY_MANIFEST_WINDOW && !t->again) {
            do
                rc = _ccopy_source_window_has_documents(job->source, client, job->db, t->coll,
                                                        &t->window, &has, error);
            while (_ccopy_plan_again(job, rc, &attempt, error));
        }
        if (rc == 0 && has)
            rc = ccopy_window_split(&parts, &n, &t->window, k, error);
        if (rc != 0)
            break;
        if (n == 0) {
            append_task(&tasks, &count, t->coll, t->kind, t->window.start, t->window.end);
            tasks[count - 1].again = t->again;
        }
        for (p = 0; p < n; p++)
            append_task(&tasks, &count, t->coll, t->kind, parts[p].start, parts[p].end);
        ccopy_free(parts);
    }
    if (rc != 0) {
        free(tasks);
        return rc;
    }
    pthread_mutex_lock(&job->lock);
    for (i = 0; i < job->coll_count; i++) {
        _ccopy_coll_stats_t *c = &job->colls[i];
        c->windows_planned = 0;
        for (k = 0; k < count; k++)
            c->windows_planned += tasks[k].coll == c->name;
    }
    free(job->tasks);
    job->tasks = tasks;
    job->task_count = count;
    pthread_mutex_unlock(&job->lock);
    return 0;
}

int _ccopy_job_plan(ccopy_job_t *job, ccopy_error_t *error)
{
    mongoc_client_t *client = mongoc_client_pool_pop(job->source->pool);
    size_t i;
    int rc;

    job->now = _ccopy_now_seconds();
    rc = check_source(job, client, error);
    if (rc == 0)
        rc = select_collections(job, client, error);
    /* The destination is created and locked only once the source has answered, so a run that
     * cannot start leaves nothing behind. */
    if (rc == 0 && job->settings.target_collection && job->coll_count != 1)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "option target_collection needs exactly one source collection; %s "
                              "has %zu (choose one with option collection)",
                              job->db, job->coll_count);
    /* Replicating a collection onto itself would rewrite every document in place. Checked once
     * the collections are chosen: a --target-collection may name the database's only one. */
    if (rc == 0 && job->kind == CCOPY_JOB_REPLICATE &&
        _ccopy_dest_mongo_is_source(job->dest, job->source, job->db,
                                    job->coll_count == 1 ? job->colls[0].name : NULL))
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "the target is the source (%s, database %s): give another "
                              "option target_db or option target_collection",
                              job->source->hosts, job->db);
    if (rc == 0 && job->kind == CCOPY_JOB_BACKUP)
        rc = _ccopy_job_open_store(job, 1, &job->dest, error);
    for (i = 0; rc == 0 && i < job->coll_count; i++)
        rc = plan_collection(job, client, &job->colls[i], error);
    if (rc == 0)
        rc = split_for_parallel(job, client, error);
    mongoc_client_pool_push(job->source->pool, client);
    return rc;
}

/* ---- restore and verify: the windows of a backup ----------------------------------------- */

/* Restore and verify read a backup (a store), not a replica. */
static int from_backup(const ccopy_job_t *job)
{
    return job->from && job->from->ops->is_backup;
}

static int choose_database(ccopy_job_t *job, ccopy_error_t *error)
{
    char **names = NULL;
    size_t count = 0;
    int rc = job->from->ops->catalog_list(job->from, NULL, &names, &count, error);
    /* bad input (exit 2), as a folder that does not exist is: the person named the wrong one */
    if (rc == 0 && count == 0)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "option sink: %s holds no backup", job->from->location);
    if (rc == 0 && count > 1) {
        char list[256] = "";
        for (size_t i = 0; i < count; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "%s holds several databases (%s): choose one with option db",
                              job->from->location, list);
    }
    if (rc == 0) {
        pthread_mutex_lock(&job->lock); /* the summary reads it; the options stay as given */
        job->db_found = _ccopy_strdup(names[0]);
        job->db = job->db_found;
        pthread_mutex_unlock(&job->lock);
    }
    _ccopy_names_free(names, count);
    return rc;
}

/* 1 when the backup holds windows of job->db, 0 when none, or an error. */
static int backup_holds_database(ccopy_job_t *job, ccopy_error_t *error)
{
    char **names = NULL;
    size_t count = 0;
    int rc = job->from->ops->catalog_list(job->from, job->db, &names, &count, error);
    _ccopy_names_free(names, count);
    return rc != 0 ? rc : count > 0;
}

/* 0 when the source has database db (listing its collections, with the planning retries),
 * CCOPY_ENOTFOUND when it has not, or another error. */
static int source_has_database(ccopy_job_t *job, mongoc_client_t *client, const char *db,
                               ccopy_error_t *error)
{
    char **names = NULL;
    size_t count = 0;
    int rc, attempt = 0;
    do
        rc = _ccopy_source_list_collections(job->source, client, db, &names, &count, error);
    while (_ccopy_plan_again(job, rc, &attempt, error));
    _ccopy_names_free(names, count);
    return rc;
}

/* verify with option source_db: that database is on the source. */
static int check_source_db(ccopy_job_t *job, ccopy_error_t *error)
{
    const char *db = job->settings.source_db;
    mongoc_client_t *client = mongoc_client_pool_pop(job->source->pool);
    int rc = check_source(job, client, error);
    if (rc == 0)
        rc = source_has_database(job, client, db, error);
    mongoc_client_pool_push(job->source->pool, client);
    if (rc == CCOPY_ENOTFOUND)
        rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                              "option source_db: database %s not found on %s (so every window "
                              "would differ)",
                              db, job->source->hosts);
    return rc;
}

/* The collections of the backup (restore) or of the source (verify), unless named. */
static int backup_collections(ccopy_job_t *job, ccopy_error_t *error)
{
    char **names = NULL;
    size_t count = 0, i;
    int rc;
    if (job->explicit_collections && !(job->kind == CCOPY_JOB_VERIFY && from_backup(job)))
        return 0;
    if (job->kind == CCOPY_JOB_VERIFY &&
        !(from_backup(job) && job->settings.source_db)) {
        mongoc_client_t *client = mongoc_client_pool_pop(job->source->pool);
        rc = check_source(job, client, error);
        if (rc == 0 && !job->explicit_collections) {
            rc = select_collections(job, client, error);
        } else if (rc == 0) {
            /* Named collections that the source lacks are differences to report (deleted
             * since); a whole database it lacks is most likely a backup restored under another
             * name, which deserves the same hint. */
            rc = source_has_database(job, client, job->db, error);
        }
        mongoc_client_pool_push(job->source->pool, client);
        if (rc == CCOPY_ENOTFOUND && from_backup(job)) {
            ccopy_error_t why = *error;
            /* a database neither side has is the wrong name: bad input, as restore says */
            if (backup_holds_database(job, error) == 0)
                return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                        "option db: %s holds no backup of database %s, and the "
                                        "source has no database of that name",
                                        job->from->location, job->db);
            rc = _ccopy_error_set(error, why.code, why.domain, why.cause,
                                  "%s; if it was restored under another name, give that name with "
                                  "option source_db", why.message);
        }
        return rc;
    }
    /* restore, and verify with source_db (a database the source lacks is a wrong name: every
     * window would "differ"): the collections named, or those of the backup (found on the source
     * under the new database name) */
    rc = job->kind == CCOPY_JOB_VERIFY ? check_source_db(job, error) : 0;
    if (rc != 0 || job->explicit_collections)
        return rc;
    rc = job->from->ops->catalog_list(job->from, job->db, &names, &count, error);
    for (i = 0; rc == 0 && i < count; i++)
        _ccopy_job_add_collection(job, names[i]);
    _ccopy_names_free(names, count);
    if (rc == 0 && count == 0) /* the wrong name or the wrong backup: bad input */
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "option db: %s holds no backup of database %s",
                              job->from->location, job->db);
    return rc;
}

/* The first hole in time between the windows of m[*i..count) (in order; windows may overlap),
 * starting after *covered (the end of the time covered so far, -1 at first): 1 with *hole
 * filled and *i at the window after it, or 0 when there is none. Restore refuses holes, verify
 * checks them: both walk the windows with this. */
static int next_hole(const ccopy_manifest_t *m, size_t count, size_t *i, int64_t *covered,
                     ccopy_window_t *hole)
{
    for (; *i < count; (*i)++) {
        const ccopy_manifest_t *w = &m[*i];
        int found;
        if (w->kind != CCOPY_MANIFEST_WINDOW)
            continue;
        found = *covered >= 0 && w->window.start > *covered;
        if (found) {
            hole->start = *covered;
            hole->end = w->window.start;
        }
        if (w->window.end > *covered)
            *covered = w->window.end;
        if (found) {
            (*i)++;
            return 1;
        }
    }
    return 0;
}

/* Restore refuses a backup whose windows leave a hole in time: a failed or missing window
 * would otherwise be restored as if those documents had never existed. A hole that starts at
 * or after --until (until >= 0) does not matter; one that starts before it does, even when
 * --until falls inside it. */
static int check_gaps(const ccopy_manifest_t *m, size_t count, int64_t until, ccopy_error_t *error)
{
    int64_t covered = -1;
    size_t i = 0;
    ccopy_window_t hole;
    while (next_hole(m, count, &i, &covered, &hole)) {
        char a[CCOPY_TIME_TEXT_SIZE], b[CCOPY_TIME_TEXT_SIZE];
        if (until >= 0 && hole.start >= until)
            continue;
        ccopy_time_format(a, hole.start, NULL);
        ccopy_time_format(b, hole.end, NULL);
        return _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                                "the backup of %s.%s has no completed window for [%s, %s): a "
                                "window failed or was never backed up (run the backup again, "
                                "or restore anyway with option allow_gaps)",
                                m[i - 1].database, m[i - 1].collection, a, b);
    }
    return 0;
}

/* Verify checks the time between the windows of backup[first..end) (one collection's, in
 * order) too: a window that failed or was never backed up (a replica's too) leaves documents
 * of the source in no window, which restore refuses. Each hole is a task whose manifest says
 * "no window here" (data NULL, no documents), appended after them. */
static void add_holes(ccopy_job_t *job, _ccopy_coll_stats_t *coll, size_t first, size_t end)
{
    int64_t covered = -1;
    size_t i = first;
    ccopy_window_t hole;
    /* job->backup grows as holes are added: the walk reads it by index, never past end */
    while (next_hole(job->backup, end, &i, &covered, &hole)) {
        ccopy_manifest_t m;
        memset(&m, 0, sizeof m);
        m.format_version = 1;
        m.kind = CCOPY_MANIFEST_WINDOW;
        m.database = _ccopy_strdup(job->backup[i - 1].database);
        m.collection = _ccopy_strdup(job->backup[i - 1].collection);
        m.window = hole;
        pthread_mutex_lock(&job->lock);
        job->backup = _ccopy_realloc(job->backup, (job->backup_count + 1) * sizeof *job->backup);
        job->backup[job->backup_count++] = m;
        pthread_mutex_unlock(&job->lock);
        _ccopy_job_add_task(job, coll, CCOPY_MANIFEST_WINDOW, hole.start, hole.end);
    }
}

static int wanted(const ccopy_job_t *job, const ccopy_manifest_t *m, int64_t from, int64_t until)
{
    if (m->kind == CCOPY_MANIFEST_NON_OBJECTID)
        return from < 0 && until < 0; /* a pass has no time: only without a range */
    if (from >= 0 && m->window.end <= from)
        return 0;
    (void)job;
    return until < 0 || m->window.start < until;
}

int _ccopy_job_plan_from_backup(ccopy_job_t *job, ccopy_error_t *error)
{
    int64_t from = -1, until = -1;
    size_t c, i;
    char *where = NULL; /* the catalog, for messages */
    int rc = 0;

    job->now = _ccopy_now_seconds();
    if (job->settings.from)
        ccopy_time_parse(&from, job->settings.from, job->now, NULL);
    if (job->settings.until)
        ccopy_time_parse(&until, job->settings.until, job->now, NULL);
    if (job->kind == CCOPY_JOB_RESTORE) {
        pthread_mutex_lock(&job->lock);
        job->until = until;
        pthread_mutex_unlock(&job->lock);
    }
    /* verify against a replica opened the target as job->from already */
    if (job->settings.sink)
        rc = _ccopy_job_open_store(job, 0, &job->from, error);
    if (rc == 0)
        where = job->from->ops->describe(job->from);
    if (rc == 0 && !job->db)
        rc = choose_database(job, error);
    if (rc == 0)
        rc = backup_collections(job, error);
    if (rc == 0 && job->settings.target_collection && job->coll_count != 1)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "option target_collection needs exactly one collection; %s has %zu "
                              "(choose one with option collection)",
                              job->db, job->coll_count);
    for (c = 0; rc == 0 && c < job->coll_count; c++) {
        _ccopy_coll_stats_t *coll = &job->colls[c];
        ccopy_manifest_t *m = NULL;
        size_t count = 0, kept = 0;
        rc = job->from->ops->catalog_read(job->from, NULL, job->db, coll->name, &m, &count, error);
        if (rc == 0 && count == 0 && !job->explicit_collections && job->kind == CCOPY_JOB_VERIFY)
            _ccopy_job_log(job, CCOPY_LOG_WARNING, "%s.%s: %s holds no completed window of it",
                           job->db, coll->name,
                           where);
        if (rc == 0 && count == 0 && job->explicit_collections) /* named wrong: bad input */
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "option collection: %s holds no completed window of %s.%s%s",
                                  where, job->db, coll->name,
                                  from_backup(job) || job->settings.target_collection
                                      ? ""
                                      : " (a replica written under another name is named with "
                                        "option target_collection)");
        if (rc == 0 && job->kind == CCOPY_JOB_RESTORE && !job->settings.allow_gaps_choice)
            rc = check_gaps(m, count, until, error);
        for (i = 0; rc == 0 && i < count; i++) {
            if (!wanted(job, &m[i], from, until)) {
                if (m[i].kind == CCOPY_MANIFEST_NON_OBJECTID)
                    _ccopy_job_log(job, CCOPY_LOG_WARNING,
                                   "%s.%s: the pass of %lld document%s whose _id is not an ObjectId "
                                   "has no time, so a run limited in time leaves it out",
                                   job->db, coll->name, (long long)m[i].documents,
                                   m[i].documents == 1 ? "" : "s");
                ccopy_manifest_cleanup(&m[i]);
                continue;
            }
            pthread_mutex_lock(&job->lock);
            job->backup = _ccopy_realloc(job->backup, (job->backup_count + 1) * sizeof *job->backup);
            job->backup[job->backup_count++] = m[i];
            pthread_mutex_unlock(&job->lock);
            _ccopy_job_add_task(job, coll, m[i].kind, m[i].window.start, m[i].window.end);
            kept++;
        }
        if (rc != 0) {
            for (; i < count; i++)
                ccopy_manifest_cleanup(&m[i]);
        }
        free(m);
        if (rc == 0 && kept > 0) {
            pthread_mutex_lock(&job->lock);
            coll->range_start = job->backup[job->backup_count - kept].window.start;
            coll->range_end = job->backup[job->backup_count - 1].window.end;
            pthread_mutex_unlock(&job->lock);
            if (job->kind == CCOPY_JOB_VERIFY)
                add_holes(job, coll, job->backup_count - kept, job->backup_count);
            if (job->kind == CCOPY_JOB_RESTORE && until > coll->range_end &&
                job->backup[job->backup_count - 1].kind == CCOPY_MANIFEST_WINDOW) {
                char end[CCOPY_TIME_TEXT_SIZE];
                ccopy_time_format(end, coll->range_end, NULL);
                _ccopy_job_log(job, CCOPY_LOG_WARNING,
                               "%s.%s: the backup ends at %s, before option until: documents created "
                               "after that are not in it",
                               job->db, coll->name, end);
            }
        }
    }
    /* a backup that holds nothing of the database (or collections) named is bad input, as a
     * folder that does not exist is; a range that leaves nothing is not */
    if (rc == 0 && job->task_count == 0)
        rc = _ccopy_error_set(error, from >= 0 || until >= 0 ? CCOPY_ENOTFOUND : CCOPY_EINVAL,
                              CCOPY_DOMAIN_ENGINE, 0,
                              "nothing to %s: %s holds no completed window of database %s%s",
                              job->kind == CCOPY_JOB_RESTORE ? "restore" : "verify",
                              where, job->db,
                              from >= 0 || until >= 0 ? " in the time asked for" : "");
    /* the array is complete: tasks may point into it now */
    pthread_mutex_lock(&job->lock);
    for (i = 0; i < job->task_count && i < job->backup_count; i++)
        job->tasks[i].manifest = &job->backup[i];
    pthread_mutex_unlock(&job->lock);
    free(where);
    return rc;
}

/* ---- a distributed runner's worker: tasks another process planned ------------------------ */

/* The catalog covers [start, end) whole. */
static int covered(const ccopy_window_t *cov, size_t cov_count, const ccopy_window_t *w)
{
    size_t i;
    for (i = 0; i < cov_count; i++) {
        if (cov[i].start <= w->start && cov[i].end >= w->end)
            return 1;
    }
    return 0;
}

static int overlapped(const ccopy_window_t *cov, size_t cov_count, const ccopy_window_t *w)
{
    size_t i;
    for (i = 0; i < cov_count; i++) {
        if (cov[i].start < w->end && cov[i].end > w->start)
            return 1;
    }
    return 0;
}

int _ccopy_job_plan_given(ccopy_job_t *job, ccopy_error_t *error)
{
    mongoc_client_t *client = mongoc_client_pool_pop(job->source->pool);
    ccopy_manifest_t *manifests = NULL;
    ccopy_window_t *cov = NULL;
    size_t count = 0, cov_count = 0, i;
    const char *read_for = NULL; /* the collection whose catalog cov holds */
    int rc;

    job->now = _ccopy_now_seconds();
    rc = check_source(job, client, error);
    /* the process that planned holds the destination's lock and wrote each collection's
     * metadata: this one only writes windows */
    if (rc == 0 && job->kind == CCOPY_JOB_BACKUP)
        rc = _ccopy_job_open_store(job, CCOPY_SINK_HELPER, &job->dest, error);
    for (i = 0; rc == 0 && i < job->given_count; i++) {
        const _ccopy_task_t *t = &job->given[i];
        _ccopy_coll_stats_t *coll = _ccopy_job_add_collection(job, t->coll);
        if (!read_for || strcmp(read_for, t->coll) != 0) {
            free(cov);
            cov = NULL;
            _ccopy_manifests_free(manifests, count);
            manifests = NULL;
            count = cov_count = 0;
            rc = job->dest->ops->catalog_read(job->dest, NULL, job->db, t->coll, &manifests,
                                              &count, error);
            if (rc == 0)
                rc = job->dest->ops->prepare_collection(job->dest, job->db, t->coll, 0,
                                                        manifests, count, error);
            if (rc != 0)
                break;
            /* a provisional window is one the planner gave out to be copied again */
            cov = coverage_of(manifests, count, 1, &cov_count);
            read_for = t->coll;
        }
        /* a window another try completed is not copied again; the non-ObjectId pass of a full
         * run is always rewritten */
        if (t->kind == CCOPY_MANIFEST_WINDOW && !covered(cov, cov_count, &t->window) &&
            overlapped(cov, cov_count, &t->window)) {
            /* a plan cuts around completed windows, and a task's every try has its bounds: this
             * one, copied, would leave windows that overlap (documents twice in a restore) */
            char a[CCOPY_TIME_TEXT_SIZE], b[CCOPY_TIME_TEXT_SIZE];
            ccopy_time_format(a, t->window.start, NULL);
            ccopy_time_format(b, t->window.end, NULL);
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "task %zu: %s.%s [%s, %s) overlaps a completed window without "
                                  "covering it: no job of these options planned it (or the "
                                  "catalog changed since)",
                                  i, job->db, t->coll, a, b);
            break;
        }
        if (t->kind == CCOPY_MANIFEST_WINDOW && covered(cov, cov_count, &t->window)) {
            pthread_mutex_lock(&job->lock);
            coll->windows_already_complete++;
            pthread_mutex_unlock(&job->lock);
        } else {
            _ccopy_job_add_task(job, coll, t->kind, t->window.start, t->window.end);
        }
    }
    free(cov);
    _ccopy_manifests_free(manifests, count);
    mongoc_client_pool_push(job->source->pool, client);
    return rc;
}

int _ccopy_job_keep_given(ccopy_job_t *job, ccopy_error_t *error)
{
    _ccopy_task_t *kept = _ccopy_calloc(job->given_count ? job->given_count : 1, sizeof *kept);
    size_t i, k, c;
    int rc = 0;

    for (i = 0; rc == 0 && i < job->given_count; i++) {
        const _ccopy_task_t *g = &job->given[i];
        int found = 0;
        for (k = 0; k < job->task_count && !found; k++) {
            const _ccopy_task_t *t = &job->tasks[k];
            found = t->kind == g->kind && t->window.start == g->window.start &&
                    t->window.end == g->window.end && strcmp(t->coll, g->coll) == 0;
            if (found)
                kept[i] = *t; /* its manifest stays in job->backup */
        }
        if (!found) {
            char start[CCOPY_TIME_TEXT_SIZE], end[CCOPY_TIME_TEXT_SIZE], what[2 * CCOPY_TIME_TEXT_SIZE + 8];
            ccopy_time_format(start, g->window.start, NULL);
            ccopy_time_format(end, g->window.end, NULL);
            snprintf(what, sizeof what, "[%s, %s)", start, end);
            rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                                  "the backup holds no window %s.%s %s (it changed since the job "
                                  "was planned, or no job of these options planned that task)",
                                  job->db, g->coll,
                                  g->kind == CCOPY_MANIFEST_WINDOW ? what : "(non-ObjectId pass)");
        }
    }
    if (rc != 0) {
        free(kept);
        return rc;
    }
    pthread_mutex_lock(&job->lock);
    free(job->tasks);
    job->tasks = kept;
    job->task_count = job->given_count;
    for (c = 0; c < job->coll_count; c++) {
        job->colls[c].windows_planned = 0;
        for (i = 0; i < job->task_count; i++)
            job->colls[c].windows_planned += strcmp(job->tasks[i].coll, job->colls[c].name) == 0;
    }
    pthread_mutex_unlock(&job->lock);
    /* the planning process dropped or indexed the target as asked; a worker writes windows */
    job->prepared = 1;
    return 0;
}
