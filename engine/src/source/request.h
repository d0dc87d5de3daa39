/*
 * One governed request to a MongoDB-protocol server: wait for the governor, run the command on
 * the worker's own connection, learn its charge in request units, and settle it.
 *
 * The charge comes from Cosmos DB's getLastRequestStatistics, asked on the same connection
 * right after the request. Servers that do not know the command (MongoDB, FerretDB: code 59)
 * are remembered job-wide and charged by the estimate model instead:
 *   reads:  1 RU per request + 0.25 RU per document + 0.25 RU per KiB returned
 *   writes: 1 RU per request + 5 RU per document + 1 RU per KiB written
 * (Cosmos DB prices a 1 KiB point read at 1 RU and reads of many documents well below that per
 * document; a 1 KiB insert costs about 5-6 RU with default indexing.)
 */
#ifndef CCOPY_REQUEST_H
#define CCOPY_REQUEST_H

#include <stdatomic.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "governor.h"
#include "retry.h"

/* Job-wide counters, updated by every worker. */
typedef struct _ccopy_counters {
    atomic_llong documents;
    atomic_llong bytes;
    atomic_llong retries;
    atomic_llong throttle_events;
    atomic_llong wait_ms;         /* back-off after failures, summed over workers */
} _ccopy_counters_t;

/* Shared by the workers of one job. */
typedef struct _ccopy_request_shared {
    _ccopy_governor_t *governor;
    atomic_int stats_supported;   /* -1 not known yet, 0 the server lacks the command, 1 it has it */
    atomic_llong read_estimate_mru; /* smoothed charge of a read request, in thousandths of RU */
    atomic_llong read_doc_mru;    /* smoothed charge per document read, thousandths; 0 unknown */
} _ccopy_request_shared_t;

void _ccopy_request_shared_init(_ccopy_request_shared_t *shared, _ccopy_governor_t *governor);

/* A worker's side: its connection and (when the server supports sessions) one explicit session,
 * so a getMore runs in the session that opened its cursor. */
typedef struct _ccopy_requester {
    mongoc_client_t *client;
    mongoc_client_session_t *session; /* NULL when the server has no sessions */
    _ccopy_request_shared_t *shared;
    _ccopy_counters_t *counters;
    atomic_int *canceled;
    int background_throttle; /* the last request's throttle was background (governor.h) */
} _ccopy_requester_t;

void _ccopy_requester_init(_ccopy_requester_t *r, mongoc_client_t *client,
                           _ccopy_request_shared_t *shared, _ccopy_counters_t *counters,
                           atomic_int *canceled);
void _ccopy_requester_cleanup(_ccopy_requester_t *r);

typedef enum _ccopy_request_kind { CCOPY_REQUEST_READ, CCOPY_REQUEST_WRITE } _ccopy_request_kind_t;

typedef enum _ccopy_request_result {
    CCOPY_REQUEST_OK = 0,
    CCOPY_REQUEST_FAILED = 1,   /* *e holds the driver/server error; reply holds the server's answer */
    CCOPY_REQUEST_CANCELED = 2
} _ccopy_request_result_t;

/* Run `command` on db. reply is always initialised (the caller destroys it). For writes,
 * write_estimate is the model's charge of the statements sent (see
 * _ccopy_ru_estimate_write); for reads the governor reserves the smoothed charge of earlier reads.
 * A throttling answer (16500) tells the governor and counts a throttle event. */
_ccopy_request_result_t _ccopy_request_run(_ccopy_requester_t *r, const char *db,
                                           const bson_t *command, _ccopy_request_kind_t kind,
                                           double write_estimate, bson_t *reply, bson_error_t *e);

/* Documents to ask for in the next find or getMore: `configured` (--batch-size), or fewer while
 * the governor paces the job, so that one read costs at most about CCOPY_READ_BATCH_SECONDS of
 * the pace, but no less than CCOPY_READ_BATCH_MIN_RU (at least one document). A read that
 * costs seconds of the budget leaves the account's bucket in debt for that long, throttling
 * whatever else shares it, and makes the pace coarse: one request every few seconds. The floor
 * keeps each request's own charge (1 RU here, a few on Cosmos DB) a small part of a read under
 * a budget of a few RU/s. The charge per document is what earlier reads were charged
 * (smoothed); before any was, a paced read asks for MongoDB's default first batch, 101
 * documents (or `configured` if fewer). */
int _ccopy_request_read_batch(const _ccopy_requester_t *r, int configured);
#define CCOPY_READ_BATCH_SECONDS 0.5
#define CCOPY_READ_BATCH_MIN_RU 50.0
#define CCOPY_READ_FIRST_BATCH 101

/* The most RU one bulk write should cost while the governor paces the job: the same
 * CCOPY_READ_BATCH_SECONDS of the pace (at least CCOPY_READ_BATCH_MIN_RU) as a read (compare
 * _ccopy_ru_estimate_write). A write costing more than the target's bucket holds is cut
 * part-way whatever the pace. 0 while the job is not paced: no bound. */
double _ccopy_request_write_most_ru(const _ccopy_requester_t *r);

/* How long to wait before sending a failed request again: RetryAfterMs alone after a throttle
 * the governor found to be background (throttling that does not follow the job's rate: a
 * longer wait would only slow the job down); otherwise the policy's back-off
 * (_ccopy_backoff_delay_ms). */
int64_t _ccopy_request_backoff_ms(const _ccopy_requester_t *r, const _ccopy_backoff_t *policy,
                                  int attempt, int64_t retry_after_ms, uint64_t *rng_state);

/* The estimate model (see above). */
double _ccopy_ru_estimate_read(int64_t documents, int64_t bytes);
double _ccopy_ru_estimate_write(int64_t documents, int64_t bytes);

/* Documents and bytes of the batch in a find/getMore/aggregate reply (cursor.firstBatch or
 * cursor.nextBatch). */
void _ccopy_reply_batch_size(const bson_t *reply, int64_t *documents, int64_t *bytes);

#endif
