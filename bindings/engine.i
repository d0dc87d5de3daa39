/*
 * The private extension module cosmocopy._native._engine (SWIG proxy cosmocopy._native.engine),
 * made from the public C headers. Users never touch it: the hand-written package `cosmocopy`
 * (python/cosmocopy) wraps it in Pythonic objects and turns return codes into exceptions.
 *
 * Shape:
 * - Handles (options, job, catalog, a catalog's manifest list) are opaque structs given a
 *   constructor and destructor with %extend, so Python owns them and frees them once.
 * - Every call that may block (plan, run, finish, catalog open/list/read) releases the GIL
 *   (threads="1"); quick accessors are %nothread so they cost no thread-state switch.
 * - C callbacks reach Python through trampolines that take the GIL themselves
 *   (PyGILState_Ensure): the job's progress and log callbacks and the catalog's document
 *   callback. The callables are borrowed: the Python Job keeps them alive as long as the job.
 * - Errors come back as the C return code with a caller-owned ccopy_error_t; the package turns
 *   them into exceptions. Strings the engine allocates are freed with ccopy_free().
 */
%module(package="cosmocopy._native", threads="1") engine

%begin %{
#define PY_SSIZE_T_CLEAN
%}

%{
#define SWIG_FILE_WITH_INIT
#include <stdlib.h>
#include <string.h>
#include <mongoc/mongoc.h>

#include "cosmocopy/cosmocopy.h"
%}

%include <stdint.i>

/* Strings the engine returns as new memory. */
%typemap(newfree) char * "ccopy_free($1);";
%newobject ccopy_job_summary_json;
%newobject ccopy_job_task_json;
%newobject ccopy_job_get_note;

/* Quick calls keep the GIL. */
%nothread;
%thread cosmocopy_job_plan;
%thread ccopy_job_plan_tasks;
%thread cosmocopy_job_run;
%thread cosmocopy_job_run_tasks;
%thread cosmocopy_job_finish;
%thread cosmocopy_catalog_open;
%thread cosmocopy_catalog_list;
%thread cosmocopy_catalog_read_window;

/* Read-only views of the public structs. */
%immutable;
typedef struct ccopy_error {
    int32_t code;
    int32_t domain;
    int64_t cause;
    char message[496];
} ccopy_error_t;
%mutable;

%immutable;
typedef struct ccopy_window {
    int64_t start;
    int64_t end;
} ccopy_window_t;

typedef struct ccopy_option_info {
    const char *name;
    int type;
    const char *default_value;
    int64_t min, max;
    const char *choices;
    int secret;
    const char *doc;
    const char *commands;
    const char *flags;
} ccopy_option_info_t;

typedef struct ccopy_manifest {
    int format_version;
    int kind;
    char *database;
    char *collection;
    ccopy_window_t window;
    int64_t documents;
    int64_t bytes;
    int64_t stored_bytes;
    char *data;
    char sha256[65];
    char *first_id;
    char *last_id;
    char *format;
    char *compression;
    char *engine_version;
    char *completed_at;
} ccopy_manifest_t;

typedef struct ccopy_progress {
    size_t size;
    int phase;
    int64_t windows_total;
    int64_t windows_done;
    int64_t windows_failed;
    int64_t windows_already_complete;
    int64_t documents;
    int64_t bytes;
    int64_t retries;
    int64_t throttle_events;
    int64_t documents_written;
    int64_t bytes_written;
    int64_t stored_bytes;
    double retry_wait_seconds;
    double pacing_wait_seconds;
    double ru_charged;
    double ru_per_second;
    double ru_pace;
    int ru_estimated;
    double elapsed_seconds;
    double documents_per_second;
    double bytes_per_second;
    double eta_seconds;
    int64_t documents_rejected;
    double target_ru_charged;
    double target_ru_pace;
    int64_t windows_verified;
    int64_t windows_mismatched;
} ccopy_progress_t;

typedef struct ccopy_task_info {
    size_t size;
    const char *database;
    const char *collection;
    int kind;
    ccopy_window_t window;
    int state;
    int64_t documents;
    int64_t bytes;
    int64_t stored_bytes;
    char sha256[65];
    const char *data;
    int partial;
    ccopy_error_t error;
} ccopy_task_info_t;
%mutable;

/* Opaque handles that Python owns. */
typedef struct ccopy_options {} ccopy_options_t;
%nodefaultctor ccopy_job;
%nodefaultctor ccopy_catalog;
typedef struct ccopy_job {} ccopy_job_t;
typedef struct ccopy_catalog {} ccopy_catalog_t;

%extend ccopy_options {
    ccopy_options() { return ccopy_options_new(); }
    ~ccopy_options() { ccopy_options_destroy($self); }
}
%extend ccopy_job {
    ~ccopy_job() { ccopy_job_destroy($self); }
}
%extend ccopy_catalog {
    ~ccopy_catalog() { ccopy_catalog_destroy($self); }
}

%inline %{
/* The manifests of a catalog listing, freed together. */
typedef struct cosmocopy_manifests {
    ccopy_manifest_t *items;
    size_t count;
} cosmocopy_manifests;
%}
%extend cosmocopy_manifests {
    ~cosmocopy_manifests() {
        ccopy_manifest_array_free($self->items, $self->count);
        free($self);
    }
    /* Manifest i, borrowed from the list (the package keeps the list alive). */
    const ccopy_manifest_t *item(size_t i) { return i < $self->count ? &$self->items[i] : NULL; }
}

/* The library, the option table, options. */
void ccopy_init(void);
const char *ccopy_version(void);
const char *ccopy_code_name(int code);
const char *ccopy_domain_name(int domain);
const char *ccopy_job_status_name(int status);
size_t ccopy_option_count(void);
const ccopy_option_info_t *ccopy_option_get_info(size_t i);
int ccopy_options_set(ccopy_options_t *options, const char *name, const char *value, ccopy_error_t *error);
const char *ccopy_options_get(const ccopy_options_t *options, const char *name);
size_t ccopy_options_get_count(const ccopy_options_t *options, const char *name);
const char *ccopy_options_get_nth(const ccopy_options_t *options, const char *name, size_t i);

/* The job, read side (thread-safe, any moment). */
void ccopy_job_cancel(ccopy_job_t *job);
size_t ccopy_job_task_count(ccopy_job_t *job);
char *ccopy_job_summary_json(ccopy_job_t *job);
char *ccopy_job_task_json(ccopy_job_t *job, size_t index);
char *ccopy_job_get_note(ccopy_job_t *job, int kind, size_t index);
void ccopy_job_set_pace(ccopy_job_t *job, double ru_per_second);
/* Plan exactly these tasks (a JSON array of task lines), as a distributed runner's worker. */
int ccopy_job_plan_tasks(ccopy_job_t *job, const char *tasks_json, ccopy_error_t *error);

%{
/* ------------------------------------------------------------------ callbacks into Python */

/* Calls `callable(*args)` with the GIL held; its result as an int (None or False: 0). The
 * package's callables catch everything; an exception that still gets through cannot cross C, so
 * it is reported as unraisable and stops the engine's work. */
static int call_python(PyObject *callable, PyObject *args)
{
    int rc = 0;
    PyObject *result;
    if (!args) {
        PyErr_WriteUnraisable(callable);
        return 1;
    }
    result = PyObject_CallObject(callable, args);
    Py_DECREF(args);
    if (!result) {
        PyErr_WriteUnraisable(callable);
        return 1;
    }
    if (result != Py_None) {
        long v = PyLong_Check(result) ? PyLong_AsLong(result) : PyObject_IsTrue(result);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            v = 1;
        }
        rc = (int)v;
    }
    Py_DECREF(result);
    return rc;
}

/* A signal that arrived while the engine ran (Ctrl-C: KeyboardInterrupt) has its Python handler
 * run here, on the thread that called into the engine; the exception it raised is handed to
 * the callable as its last argument instead of escaping (NULL when there was none). */
static PyObject *pending_signal_exception(void)
{
    PyObject *type, *value, *tb;
    if (PyErr_CheckSignals() == 0)
        return NULL;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* progress(phase, exception_or_None) */
static int progress_trampoline(const ccopy_progress_t *progress, void *user_data)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *exc = pending_signal_exception();
    int rc = call_python((PyObject *)user_data,
                         Py_BuildValue("(iO)", (int)progress->phase, exc ? exc : Py_None));
    Py_XDECREF(exc);
    PyGILState_Release(gil);
    return rc;
}

/* The same callable when the caller gave no progress callback: only a pending signal (Ctrl-C)
 * reaches Python; otherwise the call costs taking the GIL, not a Python call. */
static int signal_trampoline(const ccopy_progress_t *progress, void *user_data)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *exc = pending_signal_exception();
    int rc = 0;
    if (exc) {
        rc = call_python((PyObject *)user_data, Py_BuildValue("(iO)", (int)progress->phase, exc));
        Py_DECREF(exc);
    }
    PyGILState_Release(gil);
    return rc;
}

/* log(level, message), from any of the job's threads */
static int log_trampoline(ccopy_log_level_t level, const char *message, void *user_data)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = call_python((PyObject *)user_data, Py_BuildValue("(is)", (int)level, message));
    PyGILState_Release(gil);
    return rc;
}

/* on_document(bson_bytes, exception_or_None) */
static int document_trampoline(const uint8_t *bson, size_t len, void *user_data)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *exc = pending_signal_exception();
    int rc = call_python((PyObject *)user_data,
                         Py_BuildValue("(y#O)", (const char *)bson, (Py_ssize_t)len,
                                       exc ? exc : Py_None));
    Py_XDECREF(exc);
    PyGILState_Release(gil);
    return rc;
}
%}

/* run_tasks takes a Python sequence of ints, or None. */
%typemap(in) (const size_t *indices, size_t count) {
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else {
        Py_ssize_t n = PySequence_Size($input), i;
        if (n < 0)
            SWIG_fail;
        $1 = malloc(sizeof(size_t) * (size_t)(n ? n : 1));
        $2 = (size_t)n;
        for (i = 0; $1 && i < n; i++) {
            PyObject *item = PySequence_GetItem($input, i);
            size_t v = item ? PyLong_AsSize_t(item) : (size_t)-1;
            Py_XDECREF(item);
            if (v == (size_t)-1 && PyErr_Occurred()) {
                free($1);
                $1 = NULL;
                break;
            }
            $1[i] = v;
        }
        if (!$1) {
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            SWIG_fail;
        }
    }
}
%typemap(freearg) (const size_t *indices, size_t count) {
    free($1);
}

%newobject cosmocopy_job_new;
%newobject cosmocopy_catalog_open;
%newobject cosmocopy_catalog_list;

%inline %{
/* A job of `kind` (0 backup, 1 replicate, 2 restore, 3 verify), or NULL with *error filled. */
ccopy_job_t *cosmocopy_job_new(int kind, const ccopy_options_t *options, ccopy_error_t *error)
{
    return ccopy_job_new_kind((ccopy_job_kind_t)kind, options, error);
}

/* Callbacks: `progress(phase, exception) -> int`, `log(level, message) -> int`; None removes.
 * Borrowed: the caller keeps them alive while the job may call them. */
/* progress(phase, exception_or_None) is called at every progress report when every_report,
 * else only when a signal's exception is pending; log(level, message) for every log line. */
void cosmocopy_job_set_callbacks(ccopy_job_t *job, PyObject *progress, PyObject *log,
                                 int every_report)
{
    if (progress && progress != Py_None)
        ccopy_job_set_progress(job, every_report ? progress_trampoline : signal_trampoline,
                               progress);
    else
        ccopy_job_set_progress(job, NULL, NULL);
    if (log && log != Py_None)
        ccopy_job_set_log(job, log_trampoline, log);
    else
        ccopy_job_set_log(job, NULL, NULL);
}

int cosmocopy_job_plan(ccopy_job_t *job, ccopy_error_t *error) { return ccopy_job_plan(job, error); }
int cosmocopy_job_run(ccopy_job_t *job, ccopy_error_t *error) { return ccopy_job_run(job, error); }
int cosmocopy_job_finish(ccopy_job_t *job, ccopy_error_t *error) { return ccopy_job_finish(job, error); }

/* Run tasks: `indices` a sequence of ints, or None for every task. */
int cosmocopy_job_run_tasks(ccopy_job_t *job, const size_t *indices, size_t count, ccopy_error_t *error)
{
    return ccopy_job_run_tasks(job, indices, count, error);
}

/* The job's progress, filled whole (size set here). */
int cosmocopy_job_progress(ccopy_job_t *job, ccopy_progress_t *out)
{
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    return ccopy_job_get_progress(job, out);
}

int cosmocopy_job_task(ccopy_job_t *job, size_t index, ccopy_task_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    return ccopy_job_get_task(job, index, out);
}

/* Opening a catalog: nothing is created or locked. NULL with *error filled. */
ccopy_catalog_t *cosmocopy_catalog_open(const char *location, const ccopy_options_t *options,
                                        ccopy_error_t *error)
{
    return ccopy_catalog_open_with_options(location, options, error);
}

cosmocopy_manifests *cosmocopy_catalog_list(ccopy_catalog_t *catalog, const char *db,
                                            const char *coll, ccopy_error_t *error)
{
    cosmocopy_manifests *list = calloc(1, sizeof *list);
    if (!list) {
        memset(error, 0, sizeof *error);
        error->code = CCOPY_ENOMEM;
        error->domain = CCOPY_DOMAIN_ENGINE;
        strcpy(error->message, "out of memory");
        return NULL;
    }
    if (ccopy_catalog_list(catalog, &list->items, &list->count, db, coll, error) != 0) {
        free(list);
        return NULL;
    }
    return list;
}

/* Read a window's documents: `on_document(bson: bytes, exception) -> int` (None: only hash and
 * check). */
int cosmocopy_catalog_read_window(ccopy_catalog_t *catalog, const ccopy_manifest_t *manifest,
                                  PyObject *on_document, ccopy_error_t *error)
{
    if (on_document && on_document != Py_None)
        return ccopy_catalog_read_window(catalog, manifest, document_trampoline, on_document, error);
    return ccopy_catalog_read_window(catalog, manifest, NULL, NULL, error);
}

/* The windows of [start, end) cut at multiples of step: a list of (start, end), or None with
 * *error filled. */
PyObject *cosmocopy_plan_cut(int64_t start, int64_t end, int64_t step, ccopy_error_t *error)
{
    ccopy_window_t *windows = NULL;
    size_t count = 0, i;
    PyObject *list;
    if (ccopy_plan_cut(&windows, &count, start, end, step, error) != 0)
        Py_RETURN_NONE;
    list = PyList_New((Py_ssize_t)count);
    for (i = 0; list && i < count; i++)
        PyList_SetItem(list, (Py_ssize_t)i, Py_BuildValue("(LL)", (long long)windows[i].start,
                                                          (long long)windows[i].end));
    ccopy_free(windows);
    return list;
}

/* A point in time ("2026-01-01", "@1767225600", "-4h", "now"...) in seconds; error on failure. */
int64_t cosmocopy_time_parse(const char *text, int64_t now, ccopy_error_t *error)
{
    int64_t out = 0;
    if (ccopy_time_parse(&out, text, now, error) != 0)
        return -1;
    return out;
}

int64_t cosmocopy_duration_parse(const char *text, ccopy_error_t *error)
{
    int64_t out = 0;
    if (ccopy_duration_parse(&out, text, error) != 0)
        return -1;
    return out;
}

/* The ObjectId bound of a time, as 24 hex digits, or None past the last ObjectId second. */
PyObject *cosmocopy_oid_hex(int64_t t)
{
    uint8_t oid[12];
    char hex[25];
    int i;
    if (ccopy_oid_from_time(oid, t, NULL) != 0)
        Py_RETURN_NONE;
    for (i = 0; i < 12; i++)
        snprintf(hex + 2 * i, 3, "%02x", oid[i]);
    return PyUnicode_FromString(hex);
}

/* A manifest as the catalog stores it (JSON text). */
PyObject *cosmocopy_manifest_json(const ccopy_manifest_t *manifest)
{
    char *text = NULL;
    PyObject *r;
    if (ccopy_manifest_to_json(&text, manifest, NULL) != 0 || !text)
        Py_RETURN_NONE;
    r = PyUnicode_FromString(text);
    ccopy_free(text);
    return r;
}

/* libmongoc's own log lines go to driver_log(level, domain, message) (level 1 warning, 2
 * error), or nowhere when it is None: only what the command shows a person passes (errors
 * outside the URI parser, whose error the engine reports in its own words; and warnings about
 * connection string options the driver ignores). Process-wide, as libmongoc's handler is. */
static PyObject *driver_log = NULL;

static void driver_log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                               void *data)
{
    int ignored_option = level == MONGOC_LOG_LEVEL_WARNING &&
                         strncmp(message, "Unsupported URI option", 22) == 0;
    PyGILState_STATE gil;
    (void)data;
    if (!ignored_option && (level > MONGOC_LOG_LEVEL_ERROR || strcmp(domain, "mongoc") == 0))
        return;
    if (!driver_log || !Py_IsInitialized())
        return;
    gil = PyGILState_Ensure();
    if (driver_log) {
        PyObject *callable = driver_log;
        Py_INCREF(callable);
        call_python(callable, Py_BuildValue("(iss)", ignored_option ? 1 : 2, domain, message));
        Py_DECREF(callable);
    }
    PyGILState_Release(gil);
}

void cosmocopy_set_driver_log(PyObject *callable)
{
    PyObject *old = driver_log;
    if (callable == Py_None)
        callable = NULL;
    Py_XINCREF(callable);
    driver_log = callable;
    Py_XDECREF(old);
    mongoc_log_set_handler(driver_log_handler, NULL);
}

/* Mask secrets in a copy of text. */
PyObject *cosmocopy_mask_secrets(const char *text)
{
    PyObject *r;
    char *copy = strdup(text ? text : "");
    if (!copy)
        return PyErr_NoMemory();
    ccopy_mask_secrets(copy);
    r = PyUnicode_FromString(copy);
    free(copy);
    return r;
}
%}
