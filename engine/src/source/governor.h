/*
 * The governor: one per job, shared by every worker, that paces requests to a request-unit
 * budget so that parallel workers do not set off storms of 16500 answers.
 *
 * It is a token bucket in request units (RU). A request may start when the bucket is not in
 * debt; it reserves its estimated charge when it starts and settles the real charge when its
 * answer arrives (from getLastRequestStatistics where the server answers it, otherwise from the
 * estimate model in request.h). That mirrors how Cosmos DB charges: a request is admitted while
 * the partition has budget left and is charged when it completes.
 *
 * With a fixed budget (--max-ru N) the bucket refills at N RU/s. Without one the governor
 * starts unpaced and adapts: the first throttling answer sets the rate to what the job was
 * getting through (the larger of its recent rate and its average so far; when less than three
 * seconds were measured, the climb aims at the throttled request's own cost); later ones cut it
 * (at most once a second);
 * while requests succeed and pacing is what holds them back, the rate climbs back quickly to
 * just under the pace last throttled, then creeps above it by 1% a second. A fixed budget
 * is also the ceiling of the adaptive rate, so throttling from other clients of the same
 * account still slows the job down. Every throttling answer also pauses all workers for the
 * server's RetryAfterMs.
 */
#ifndef CCOPY_GOVERNOR_H
#define CCOPY_GOVERNOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct _ccopy_governor {
    pthread_mutex_t lock;
    double max_ru;         /* fixed budget in RU/s, 0 for none                                 */
    double rate;           /* current pace in RU/s; 0 while unpaced                            */
    double tokens;         /* RU available now; negative while in debt                         */
    int64_t refilled_us;   /* when tokens were last refilled (monotonic microseconds)          */
    int64_t paused_until_ms; /* no request starts before this (after a RetryAfterMs)          */
    int64_t last_cut_ms, last_raise_ms;
    double throttled_rate; /* the level the last cut found                                     */
    double ru_at_last_cut; /* ru_charged when the pace was last cut                            */
    int limited;           /* a request waited for budget since the last raise                 */
    /* what the job got through: RU settled in each of the last few whole seconds */
    double second_ru[5];
    int64_t second_of[5];
    int64_t first_charge_ms; /* when the first charge was settled, 0 before                    */
    /* totals, for progress and the summary */
    double ru_charged;
    int64_t throttles, pacing_wait_ms;
    int charge_source;     /* 0 nothing yet, 1 estimates only, 2 some from the server */
} _ccopy_governor_t;

/* max_ru: fixed budget in RU/s, or 0 to adapt from throttling answers alone. */
void _ccopy_governor_init(_ccopy_governor_t *g, double max_ru);
void _ccopy_governor_destroy(_ccopy_governor_t *g);
/* Start at `rate` RU/s (capped by a fixed budget) as though a throttle had found it: the pace
 * probes above it slowly and a throttle cuts it, as after any other. 0 or less: no change. */
void _ccopy_governor_seed(_ccopy_governor_t *g, double rate);

/* Wait until a request may start, then reserve `estimate` RU. Adds the time waited to
 * *waited_ms (may be NULL). Non-zero (and no reservation) when *canceled became true. */
int _ccopy_governor_acquire(_ccopy_governor_t *g, double estimate, atomic_int *canceled,
                            int64_t *waited_ms);

/* The request that reserved `reserved` completed and was charged `charged` RU; from_server says
 * whether the charge came from the server or from the estimate model. */
void _ccopy_governor_settle(_ccopy_governor_t *g, double reserved, double charged, int from_server);

/* The request that reserved `reserved` was throttled; the server asked to wait retry_after_ms
 * (0 or less when it did not say). Gives the reservation back, pauses every worker and slows
 * the pace down. */
void _ccopy_governor_throttled(_ccopy_governor_t *g, double reserved, int64_t retry_after_ms);

/* The request failed for another reason: give the reservation back. */
void _ccopy_governor_release(_ccopy_governor_t *g, double reserved);

typedef struct _ccopy_governor_stats {
    double ru_charged;
    double rate;           /* current pace, 0 when unpaced */
    int64_t throttles;
    int64_t pacing_wait_ms;
    int charge_source;     /* as in the struct */
} _ccopy_governor_stats_t;

_ccopy_governor_stats_t _ccopy_governor_stats(_ccopy_governor_t *g);

/* Tuning constants (documented in README, "Throttling and request units"). */
#define CCOPY_GOVERNOR_BURST_SECONDS 1.0 /* the bucket holds at most this much of the pace      */
#define CCOPY_GOVERNOR_CUT 0.9           /* a throttle: pace = this x what got through          */
#define CCOPY_GOVERNOR_CUT_AGAIN 0.8     /* ... this when throttled again within two seconds   */
#define CCOPY_GOVERNOR_PLATEAU 0.97      /* a second waiting below this x the level last        */
                                         /* throttled halves the gap to it ...                 */
#define CCOPY_GOVERNOR_RAISE 1.01        /* ... above it the pace grows 1% a second, 1% more    */
#define CCOPY_GOVERNOR_QUIET_STEP_S 20.0 /* for every 20 s without a throttle, up to 10%        */
#define CCOPY_GOVERNOR_MIN_RATE 1.0      /* never pace below 1 RU/s                            */

/* Monotonic microseconds (exposed for tests of the pacing arithmetic). */
int64_t _ccopy_monotonic_us(void);

#endif
