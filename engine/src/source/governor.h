/*
 * The governor: one per job, shared by every worker, that paces requests to a request-unit
 * budget so that parallel workers do not set off storms of 16500 answers.
 *
 * It is a token bucket in request units (RU). A request may start when the bucket is not in
 * debt; it reserves its estimated charge when it starts and settles the real charge when its
 * answer arrives (from getLastRequestStatistics where the server answers it, otherwise from the
 * estimate model in request.h). That mirrors how Cosmos DB charges: a request is admitted while
 * the partition has budget left and is charged when it completes. So while a request is in
 * flight the server's bucket may sit full and refill nothing, where the governor's, which
 * reserved at the start, refilled: a slow request (a long first batch) would leave the governor
 * believing in budget the server does not have. The governor keeps the server's bucket beside
 * its own and, at each answer, never holds more than the server has left after the requests
 * still in flight.
 *
 * With a fixed budget (--max-ru N) the bucket refills at N RU/s. Without one the governor
 * starts unpaced and adapts: the first throttling answer at least a second after the first
 * charge, or one asking for a pause of a second or more (before that, only RetryAfterMs holds
 * the job back) sets the rate to what the job was
 * getting through (the larger of its recent rate and its average so far, both counting the
 * RetryAfterMs asked for now as time, and the average a second more, the budget the server had
 * banked before the job began; when less than three seconds were measured and that is
 * under half the throttled request's own cost, and less than that cost got through in all, the
 * climb aims at that cost); later ones cut it (at most once a second) to what got through
 * lately, or since the last cut when that is lower, leaving out the pauses the server asked for
 * and the time in which no worker waited for the pace (the server was the bottleneck then, not
 * the budget) but a second of it (the server refilled that much meanwhile, and the job spent it
 * after). The pace a cut sets holds for its trial (a second and 8 requests, below); then, while
 * requests succeed and pacing is what holds them back, the rate climbs back quickly to just
 * under the pace last throttled, then probes above it by 1% a second, doubled for every second
 * without a throttle, up to 10% (an application sharing the budget may have eased off). Once
 * cuts in a row found the same level (within 10%; a cut within two seconds of the last
 * corrects it and does not count, nor does one of a pace below the plateau, and a correction
 * that finds the level more than 10% lower undoes the confirmations), it first holds just under
 * it for 100 requests per such confirmation (at most 5), then probes by 1% a second (1% more
 * for every 20 s without a throttle, up to 10%) divided by two, three, and so on to six: every
 * probe above a budget that stays put ends in a throttle. A fixed budget is also the ceiling of
 * the adaptive rate, so throttling from other clients of the same account still slows the job
 * down.
 *
 * Not all throttling follows the job's own rate: an application sharing the budget, or a target
 * that cuts every bulk write part-way, throttles a share of the requests whatever the pace.
 * Cutting the pace for those only slows the job down, a little more every second. So every cut
 * is on trial: after at least a second and 8 requests, if the server let at least 90% of
 * the new pace through and the throttled share of the requests (above the background, below)
 * did not fall to half of what it was before the cut (in the window of the cut before it if
 * that one stood, else in the last two seconds but at least 0.2), the cut did not help:
 * (and at least 3 requests were throttled since the cut) the pace goes back to unpaced (or to the fixed budget) and that share becomes the
 * background. From then on only a share above the background (by 0.1, or by a quarter of it if
 * more) cuts the pace; throttles within it are left to the throttled request's own back-off
 * (its RetryAfterMs), without pausing the other workers; the background follows what later
 * windows of five seconds measure. A cut the server proves right (the share fell, or the
 * server held the job below the pace) stands, and if throttling goes on the next cut goes
 * deeper. The pace never falls below 5% of the best three-second rate the job got through, nor
 * below 1 RU/s; a server that admits nothing at all still stops the job with its RetryAfterMs.
 *
 * Every throttling answer that is not background pauses all workers for the server's
 * RetryAfterMs.
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
    double in_flight;      /* RU reserved by requests that have not been answered yet          */
    double server_tokens;  /* the server's bucket as it sees it: charged when answered         */
    int64_t refilled_us;   /* when tokens were last refilled (monotonic microseconds)          */
    int64_t paused_until_ms; /* no request starts before this (after a RetryAfterMs)          */
    int64_t paused_since_cut_ms; /* of the time since the last cut, how much was such a pause  */
    int64_t idle_since_cut_ms; /* ... and how much no request waited for the pace             */
    int64_t clock_ms;      /* when idle_since_cut_ms was last brought up to date               */
    int waiting;           /* workers waiting for the pace or a pause now                      */
    int64_t last_cut_ms, last_raise_ms;
    double throttled_rate; /* the level the last cut found                                     */
    double ru_at_last_cut; /* ru_charged when the pace was last cut                            */
    int64_t requests_at_last_cut; /* requests started when the pace was last cut              */
    double last_level;     /* what got through when the pace was last cut                     */
    int confirmed;         /* cuts in a row that found the level of the one before (5%)        */
    int limited;           /* a request waited for budget since the last raise                 */
    /* Is throttling following the pace? The window of the throttled share: since the last cut
     * or verdict. A cut on trial keeps what it replaced. */
    int64_t requests;      /* requests started (acquire)                                       */
    int64_t mark_ms, requests_at_mark;
    int64_t marks;         /* windows started so far                                           */
    int64_t window_throttles; /* throttles of requests started in the window                   */
    double ru_at_mark;
    int on_trial;          /* the last cut awaits its verdict                                  */
    double trial_rate;     /* the pace the cut set                                             */
    double share_at_cut;   /* throttled share of the requests before the cut (see governor.c) */
    double background;     /* throttled share that does not follow the pace; 0: none known    */
    double peak_rate;      /* the best three-second rate that got through (for the floor)      */
    int64_t background_throttles; /* throttles left to back-off alone (no cut, no pause)       */
    /* what the job got through: RU settled in each of the last few whole seconds */
    double second_ru[5];
    int64_t second_of[5];
    int64_t second_requests[5], second_throttles[5]; /* requests started, throttled */
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
 * probes above it and a throttle cuts it, as after any other. 0 or less: no change. */
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
 * the pace down, unless the throttle is background (see above): then it returns 1, and the
 * throttled request alone should wait the RetryAfterMs. */
int _ccopy_governor_throttled(_ccopy_governor_t *g, double reserved, int64_t retry_after_ms);

/* The request failed for another reason: give the reservation back. */
void _ccopy_governor_release(_ccopy_governor_t *g, double reserved);

typedef struct _ccopy_governor_stats {
    double ru_charged;
    double rate;           /* current pace, 0 when unpaced */
    int64_t throttles;
    int64_t pacing_wait_ms;
    int charge_source;     /* as in the struct */
    double background;     /* throttled share found not to follow the pace, 0 when none       */
} _ccopy_governor_stats_t;

_ccopy_governor_stats_t _ccopy_governor_stats(_ccopy_governor_t *g);

/* Tuning constants (documented in README, "Throttling and request units"). */
#define CCOPY_GOVERNOR_BURST_SECONDS 1.0 /* the bucket holds at most this much of the pace      */
#define CCOPY_GOVERNOR_CUT 0.9           /* a throttle: pace = this x what got through          */
#define CCOPY_GOVERNOR_CUT_AGAIN 0.8     /* ... this when throttled again within two seconds   */
#define CCOPY_GOVERNOR_PLATEAU 0.97      /* a second waiting below this x the level last        */
                                         /* throttled halves the gap to it ...                 */
#define CCOPY_GOVERNOR_RAISE 1.01        /* ... above it the pace grows 1% a second, doubled   */
#define CCOPY_GOVERNOR_DOUBLING_S 1.0    /* for every second without a throttle (up to 10%) ... */
#define CCOPY_GOVERNOR_QUIET_STEP_S 20.0 /* ... above a confirmed level 1% more for every 20 s */
#define CCOPY_GOVERNOR_SAME_LEVEL 0.1    /* a cut within 10% of the last one's level confirms it */
#define CCOPY_GOVERNOR_CONFIRMED_MAX 5   /* the probe is 1 / (1 + confirmations, at most 5)     */
#define CCOPY_GOVERNOR_HOLD_REQUESTS 100 /* ... after this many requests x confirmations       */
#define CCOPY_GOVERNOR_MIN_RATE 1.0      /* never pace below 1 RU/s ...                        */
#define CCOPY_GOVERNOR_FLOOR 0.05        /* ... nor below this x the best rate got through     */
#define CCOPY_GOVERNOR_TRIAL_MS 1000     /* a cut's verdict: at least this long after it ...   */
#define CCOPY_GOVERNOR_TRIAL_REQUESTS 8  /* ... and this many requests started since          */
#define CCOPY_GOVERNOR_TRIAL_THROTTLES 3 /* a cut is undone on no fewer throttles since it     */
#define CCOPY_GOVERNOR_HELD 0.9          /* the server held the job if less got through        */
#define CCOPY_GOVERNOR_MARGIN 0.1        /* a share above the background by this (or a quarter */
                                         /* of it) is the job's own doing                      */

/* Monotonic microseconds (exposed for tests of the pacing arithmetic). */
int64_t _ccopy_monotonic_us(void);

#endif
