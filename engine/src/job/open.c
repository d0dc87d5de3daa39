/*
 * Opening what the options name: the source and target servers (reading their connection strings
 * from Key Vault when the options hold references), the store of a backup, and the MongoDB
 * destination with the hooks through which it reports to the job (log lines, refused
 * documents, planning retries). The destinations know nothing of the job; this is where the
 * job's settings become their configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "credentials.h"
#include "dest_mongo.h"
#include "dest_store.h"
#include "job_internal.h"
#include "keyvault.h"

#define MAX_REJECTED_EXAMPLES 100

int _ccopy_job_open_server(ccopy_job_t *job, _ccopy_source_t **out, const char *option,
                           const char *uri, ccopy_error_t *error)
{
    _ccopy_source_settings_t settings;
    _ccopy_credential_settings_t credentials;
    char *secret = NULL;
    int rc;
    _ccopy_credential_settings_from(&credentials, &job->settings);
    credentials.canceled = &job->canceled;
    credentials.retries = &job->counters.retries;
    /* a Key Vault reference: the connection string is the secret's value, read now and kept
     * only by the driver's connection pool */
    rc = _ccopy_keyvault_resolve(&secret, option, uri, &credentials, error);
    if (rc != 0)
        return rc;
    _ccopy_source_settings_from(&settings, &job->settings);
    rc = _ccopy_source_open(out, secret ? secret : uri, &settings, error);
    _ccopy_secret_free(secret);
    if (rc != 0)
        _ccopy_error_prefix(error, "option %s", option); /* which of source and target it is */
    return rc;
}

int _ccopy_job_open_store(ccopy_job_t *job, int for_writing, _ccopy_dest_t **out,
                          ccopy_error_t *error)
{
    _ccopy_dest_store_config_t config;
    int rc;
    memset(&config, 0, sizeof config);
    _ccopy_sink_settings_from(&config.sink, &job->settings);
    config.sink.canceled = &job->canceled;
    config.sink.retries = &job->counters.retries;
    config.format = job->settings.format;
    /* the choices of option compress, none|gzip|zstd, are in the order of the enum */
    config.compression = (_ccopy_compression_t)job->settings.compress_choice;
    config.compress_level = (int)job->settings.compress_level;
    rc = _ccopy_dest_store_open(out, job->settings.sink, for_writing, &config, error);
    /* A folder or container that is not there, or not a folder, is the location the person
     * named: say which option named it (the command names its flag, Python its argument). */
    if (rc != 0 && error && strncmp(error->message, "option ", 7) != 0 &&
        (error->domain == CCOPY_DOMAIN_OS ||
         (error->domain == CCOPY_DOMAIN_HTTP && error->cause == 404)))
        _ccopy_error_prefix(error, "option sink");
    return rc;
}

static void hook_log(void *data, ccopy_log_level_t level, const char *line)
{
    _ccopy_job_log(data, level, "%s", line);
}

static void hook_rejected(void *data, const char *line)
{
    ccopy_job_t *job = data;
    pthread_mutex_lock(&job->lock);
    job->rejected++;
    if (job->rejected_examples.count < MAX_REJECTED_EXAMPLES)
        _ccopy_strings_push(&job->rejected_examples, line);
    pthread_mutex_unlock(&job->lock);
    _ccopy_job_log(job, CCOPY_LOG_WARNING, "the target refused the document with %s", line);
}

static int hook_again(void *data, int rc, int *attempt, ccopy_error_t *error)
{
    return _ccopy_plan_again(data, rc, attempt, error);
}

int _ccopy_job_open_target(ccopy_job_t *job, int record_windows, _ccopy_dest_t **out,
                           ccopy_error_t *error)
{
    _ccopy_dest_mongo_hooks_t hooks = {hook_log, hook_rejected, hook_again, job};
    _ccopy_dest_mongo_config_t config;
    _ccopy_source_t *server = NULL;
    int rc = _ccopy_job_open_server(job, &server, "target", job->settings.target, error);

    if (rc != 0)
        return rc;
    memset(&config, 0, sizeof config);
    config.server = server;
    config.target_db = job->settings.target_db ? job->settings.target_db : job->db;
    config.target_coll = job->settings.target_collection;
    config.record_windows = record_windows;
    config.write_mode = strcmp(job->settings.write_mode, "insert") == 0 ? CCOPY_WRITE_INSERT
                                                                          : CCOPY_WRITE_UPSERT;
    config.write_batch_size = (int)job->settings.write_batch_size;
    config.write_batch_bytes = job->settings.write_batch_bytes;
    config.read_batch_size = (int)job->settings.batch_size;
    config.backoff = job->backoff;
    config.shared = &job->target_shared;
    config.counters = &job->counters;
    config.canceled = &job->canceled;
    return _ccopy_dest_mongo_open(out, &config, &hooks, error);
}
