/*
 * The job-wide request-unit governor (see governor.h for the model). Everything happens under
 * one mutex; waiting happens outside it, in slices of at most 50 ms so that cancellation and
 * changes of pace are noticed quickly.
 */
#include <math.h>
#include <time.h>

#include "common.h"
#include "governor.h"

#define WAIT_SLICE_MS 50
#define BURST_MS ((int64_t)(CCOPY_GOVERNOR_BURST_SECONDS * 1000))

/* The window a worker's last request started in (and whose governor), so that the answers of
 * requests sent before a cut do not count as throttling after it: a worker throttles the
 * request it has just acquired, on its own thread. */
static _Thread_local const _ccopy_governor_t *started_with;
static _Thread_local int64_t started_in;

int64_t _ccopy_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void _ccopy_governor_init(_ccopy_governor_t *g, double max_ru)
{
    int64_t now_us = _ccopy_monotonic_us();
    *g = (_ccopy_governor_t){0};
    pthread_mutex_init(&g->lock, NULL);
    g->max_ru = max_ru > 0 ? max_ru : 0;
    g->rate = g->max_ru;
    g->tokens = g->server_tokens = g->rate * CCOPY_GOVERNOR_BURST_SECONDS;
    g->refilled_us = now_us;
    g->last_raise_ms = now_us / 1000;
    g->mark_ms = now_us / 1000;
    g->clock_ms = now_us / 1000;
}

void _ccopy_governor_seed(_ccopy_governor_t *g, double rate)
{
    int64_t now_us = _ccopy_monotonic_us();
    if (!(rate > 0))
        return;
    pthread_mutex_lock(&g->lock);
    if (g->max_ru > 0 && rate > g->max_ru)
        rate = g->max_ru;
    if (rate < CCOPY_GOVERNOR_MIN_RATE)
        rate = CCOPY_GOVERNOR_MIN_RATE;
    g->rate = rate;
    g->throttled_rate = rate;
    g->tokens = g->server_tokens = rate * CCOPY_GOVERNOR_BURST_SECONDS;
    g->refilled_us = now_us;
    g->last_cut_ms = g->last_raise_ms = g->clock_ms = now_us / 1000;
    g->paused_since_cut_ms = g->idle_since_cut_ms = 0;
    pthread_mutex_unlock(&g->lock);
}

void _ccopy_governor_destroy(_ccopy_governor_t *g)
{
    pthread_mutex_destroy(&g->lock);
}

/* (lock) Add what the pace earned since the last refill, up to the burst, to both buckets. */
static void refill(_ccopy_governor_t *g, int64_t now_us)
{
    double cap = g->rate * CCOPY_GOVERNOR_BURST_SECONDS;
    if (g->rate > 0) {
        double earned = g->rate * (double)(now_us - g->refilled_us) / 1e6;
        g->tokens += earned;
        if (g->tokens > cap)
            g->tokens = cap;
        g->server_tokens += earned;
        if (g->server_tokens > cap)
            g->server_tokens = cap;
    } else {
        /* Unpaced, nothing is owed: without this the charges of a long unpaced run would
         * stay as debt, and the first pace would start by waiting all of it off (an hour
         * unthrottled, then a throttle, and the job stood still for about an hour). */
        g->tokens = -g->in_flight;
        g->server_tokens = 0;
    }
    g->refilled_us = now_us;
}

/* (lock) Bring the idle time since the last cut up to now: time in which no worker waited for
 * the pace says nothing of the budget (every worker was at the server, on a slow first batch
 * say), so the average since the last cut leaves it out. */
static void clock_idle(_ccopy_governor_t *g, int64_t now_ms)
{
    if (g->waiting == 0 && now_ms > g->clock_ms)
        g->idle_since_cut_ms += now_ms - g->clock_ms;
    g->clock_ms = now_ms;
}

/* (lock) An answer came: the governor's bucket holds no more than what the server's holds
 * after the requests still in flight are charged their reservations (see governor.h). */
static void answered(_ccopy_governor_t *g, double reserved)
{
    g->in_flight -= reserved;
    if (g->in_flight < 1e-9)
        g->in_flight = 0;
    if (g->rate > 0 && g->tokens > g->server_tokens - g->in_flight)
        g->tokens = g->server_tokens - g->in_flight;
}

/* (lock) Every second in which some request had to wait for budget, raise the pace a little:
 * the budget may have grown, or other clients of the account may have stopped. */
static void maybe_raise(_ccopy_governor_t *g, int64_t now_ms)
{
    if (now_ms - g->last_raise_ms < 1000)
        return;
    /* A cut on trial holds its pace until the verdict can be had (a second and 8 requests):
     * climbing back meanwhile throttled the job at its own doing, and three such throttles
     * judged the cut useless, the throttling background, and set the job unpaced again. */
    if (g->on_trial && (now_ms - g->last_cut_ms < CCOPY_GOVERNOR_TRIAL_MS ||
                        g->requests - g->requests_at_mark < CCOPY_GOVERNOR_TRIAL_REQUESTS))
        return;
    if (g->rate > 0 && g->limited) {
        /* back quickly towards just under the pace that was last throttled, then probe above
         * it slowly: the budget may have grown, or other clients may have stopped */
        double plateau = g->throttled_rate * CCOPY_GOVERNOR_PLATEAU;
        int confirmed = g->confirmed < CCOPY_GOVERNOR_CONFIRMED_MAX
                            ? g->confirmed
                            : CCOPY_GOVERNOR_CONFIRMED_MAX;
        /* A level found again holds the pace at the plateau for 100 requests per confirmation
         * before it probes: each probe above a budget that stays put ends in a throttle, and at
         * a probe every 20-25 s the job was throttled at 3% of its requests. Counted in
         * requests, not seconds, as the throttled share is. */
        int held = g->requests - g->requests_at_last_cut < CCOPY_GOVERNOR_HOLD_REQUESTS * confirmed;
        if (g->rate < plateau * 0.99)
            g->rate += (plateau - g->rate) / 2;
        else if (!held) {
            /* Above a level no cut has found again, 1% a second doubled for every whole
             * second without a throttle, up to 10%: the budget left by an application whose load
             * falls is found in seconds (creeping at 1% a second, 1% more for every 20 s, the
             * job stayed at 200 RU/s through 10 s phases that left it 320). Above a level the
             * cuts found again and again, a budget that stays where it is, 1% more for every
             * 20 s, and slower: each probe costs a throttle, and at 1% a second one came every
             * 12-15 s. */
            double quiet_s = (double)(now_ms - g->last_cut_ms) / 1000.0;
            double steps = confirmed ? 1.0 + quiet_s / CCOPY_GOVERNOR_QUIET_STEP_S
                                     : exp2(floor(quiet_s / CCOPY_GOVERNOR_DOUBLING_S));
            if (steps > 10.0)
                steps = 10.0;
            g->rate *= 1.0 + (CCOPY_GOVERNOR_RAISE - 1.0) * steps / (1.0 + confirmed);
        }
        if (g->max_ru > 0 && g->rate > g->max_ru)
            g->rate = g->max_ru;
    }
    g->limited = 0;
    g->last_raise_ms = now_ms;
}

#define SECONDS_KEPT (int64_t)(sizeof ((_ccopy_governor_t *)0)->second_ru / sizeof(double))

/* (lock) The slot of the current whole second in the last few seconds' figures. */
static int this_second(_ccopy_governor_t *g, int64_t now_ms)
{
    int64_t second = now_ms / 1000;
    int slot = (int)(second % SECONDS_KEPT);
    if (g->second_of[slot] != second) {
        g->second_of[slot] = second;
        g->second_ru[slot] = 0;
        g->second_requests[slot] = 0;
        g->second_throttles[slot] = 0;
    }
    return slot;
}

int _ccopy_governor_acquire(_ccopy_governor_t *g, double estimate, atomic_int *canceled,
                            int64_t *waited_ms)
{
    int64_t started_ms = _ccopy_monotonic_ms();
    int counted = 0; /* this worker is counted in g->waiting */
    for (;;) {
        int64_t now_us = _ccopy_monotonic_us(), now_ms = now_us / 1000, wait_ms = 0;

        pthread_mutex_lock(&g->lock);
        clock_idle(g, now_ms);
        refill(g, now_us);
        maybe_raise(g, now_ms);
        if (g->paused_until_ms > now_ms)
            wait_ms = g->paused_until_ms - now_ms;
        else if (g->rate > 0 && g->tokens <= 0)
            wait_ms = (int64_t)(-g->tokens / g->rate * 1000.0) + 1;
        if (wait_ms <= 0) {
            /* a request that never slept waited nothing, whatever the clock did meanwhile */
            int64_t waited = counted ? now_ms - started_ms : 0;
            g->tokens -= estimate;
            g->in_flight += estimate;
            g->requests++;
            started_with = g;
            started_in = g->marks;
            g->second_requests[this_second(g, now_ms)]++;
            g->pacing_wait_ms += waited;
            g->waiting -= counted;
            pthread_mutex_unlock(&g->lock);
            if (waited_ms)
                *waited_ms += waited;
            return 0;
        }
        g->limited = 1;
        if (!counted) {
            g->waiting++;
            counted = 1;
        }
        pthread_mutex_unlock(&g->lock);

        if (_ccopy_sleep_ms(wait_ms < WAIT_SLICE_MS ? wait_ms : WAIT_SLICE_MS, canceled)) {
            int64_t waited = _ccopy_monotonic_ms() - started_ms;
            pthread_mutex_lock(&g->lock);
            clock_idle(g, _ccopy_monotonic_ms());
            g->waiting -= counted;
            g->pacing_wait_ms += waited;
            pthread_mutex_unlock(&g->lock);
            if (waited_ms)
                *waited_ms += waited;
            return -1;
        }
    }
}

/* (lock) Account `ru` as got through in the current whole second. */
static void measure(_ccopy_governor_t *g, double ru, int64_t now_ms)
{
    g->second_ru[this_second(g, now_ms)] += ru;
}

/* (lock) RU/s settled over the last three whole seconds, or -1 unless each saw some. Three,
 * because a server that admits requests while its budget lasts and charges them when they
 * complete lets more than its budget through in any one second. */
static double recent_rate(const _ccopy_governor_t *g, int64_t now_ms)
{
    int64_t second = now_ms / 1000;
    double sum = 0;
    int64_t s;
    for (s = second - 3; s < second; s++) {
        int slot = (int)(((s % SECONDS_KEPT) + SECONDS_KEPT) % SECONDS_KEPT);
        if (s < 0 || g->second_of[slot] != s || g->second_ru[slot] <= 0)
            return -1;
        sum += g->second_ru[slot];
    }
    return sum / 3;
}

void _ccopy_governor_settle(_ccopy_governor_t *g, double reserved, double charged, int from_server)
{
    int64_t now_us = _ccopy_monotonic_us();
    pthread_mutex_lock(&g->lock);
    refill(g, now_us);
    g->tokens += reserved - charged;
    g->server_tokens -= charged;
    answered(g, reserved);
    g->ru_charged += charged;
    if (!g->first_charge_ms)
        g->first_charge_ms = now_us / 1000;
    if (from_server)
        g->charge_source = 2;
    else if (g->charge_source == 0)
        g->charge_source = 1;
    measure(g, charged, now_us / 1000);
    pthread_mutex_unlock(&g->lock);
}

void _ccopy_governor_release(_ccopy_governor_t *g, double reserved)
{
    pthread_mutex_lock(&g->lock);
    g->tokens += reserved;
    g->in_flight -= reserved;
    if (g->in_flight < 1e-9)
        g->in_flight = 0;
    pthread_mutex_unlock(&g->lock);
}

/* (lock) The throttled share of the requests in this and the last whole second; -1 when they
 * were too few to say. */
static double share_lately(_ccopy_governor_t *g, int64_t now_ms)
{
    int64_t second = now_ms / 1000, s, n = 0, t = 0;
    for (s = second - 1; s <= second; s++) {
        int slot = (int)(((s % SECONDS_KEPT) + SECONDS_KEPT) % SECONDS_KEPT);
        if (s < 0 || g->second_of[slot] != s)
            continue;
        n += g->second_requests[slot];
        t += g->second_throttles[slot];
    }
    if (n < t)
        n = t;
    return n >= CCOPY_GOVERNOR_TRIAL_REQUESTS ? (double)t / (double)n : -1.0;
}

/* (lock) Start a new window for the throttled share. */
static void mark(_ccopy_governor_t *g, int64_t now_ms)
{
    g->mark_ms = now_ms;
    g->requests_at_mark = g->requests;
    g->window_throttles = 0;
    g->marks++;
    g->ru_at_mark = g->ru_charged;
}

/* (lock) Cut the pace after a throttle that follows it (see governor.h). */
static void cut(_ccopy_governor_t *g, double reserved, int64_t retry_after_ms, int64_t now_ms)
{
    double recent = recent_rate(g, now_ms), level;
    int measured = 0; /* the level is what got through, not the pace that was throttled */
    /* still throttled within two seconds of the last cut: the level was too high */
    int again = g->last_cut_ms && now_ms - g->last_cut_ms < 2000;
    /* throttled at the plateau or above it (see maybe_raise): the pace was probing above the
     * level last found; below it, the budget shrank (or another client of it takes more) */
    int probing = g->rate >= g->throttled_rate * CCOPY_GOVERNOR_PLATEAU * 0.99;
    if (g->rate <= 0) {
        /* First throttle of an unpaced job: the larger of the recent rate and the average
         * since the first charge, counting at least a second. Pacing from above costs a
         * few more throttles; pacing from below would leave the budget idle. Both count
         * the RetryAfterMs the server asks for now as time: an unpaced start overdraws
         * (a server charges when it answers, so two reads of 540 RU went through on a
         * budget of 150 RU/s), and the server is paid only when that pause ends. Without
         * it the first pace was 2.8 times the budget, and it took six throttles to come
         * down; Cosmos DB's RetryAfterMs of a few ms changes nothing. The average counts
         * a second more: the server had a second of budget banked when the job began (1,077
         * RU in 6.2 s found 174 RU/s on a budget of 150, and the climb threw two throttles
         * more). */
        int64_t span = g->first_charge_ms ? now_ms - g->first_charge_ms : 0;
        double owed_s = retry_after_ms > 0 ? (double)retry_after_ms / 1000.0 : 0;
        /* The caller cuts an unpaced job only after a second of charges or on a pause of a
         * second or more, so the span is what the server counted against its budget (538 RU
         * owed for 2.58 s after the second banked: 150 RU/s, not the 117 a span of at least a
         * second made it). */
        double average = g->first_charge_ms ? g->ru_charged / ((double)span / 1000.0 + owed_s +
                                                               CCOPY_GOVERNOR_BURST_SECONDS)
                                            : 0;
        if (recent > 0)
            recent = recent * 3.0 / (3.0 + owed_s);
        level = recent > average ? recent : average;
        /* what got through, counting the second banked: the level the next cuts confirm */
        measured = 1;
    } else {
        /* What got through, and never more than the pace that was throttled. Since the last
         * cut, a server with burst capacity let more than its budget through until the
         * burst was spent: the average since then is the closer figure when it is lower. */
        /* The pause the server asked for after the last cut went to paying off what was
         * charged before it, and while no worker waited for the pace the server was the
         * bottleneck (FerretDB scanning for a window's first batch): neither says anything
         * about the budget. Counting them took a job whose first reads left a debt of several
         * seconds down to a third of its budget, and one back from a scan of 14 s to the
         * same, to climb back for a minute. */
        int64_t since = now_ms - g->last_cut_ms, left_out;
        clock_idle(g, now_ms);
        /* ... except a second of a long idle: the server's bucket refilled meanwhile, and
         * the job spent that second's budget once it went on (a cut after a scan of 9 s
         * found 164 RU/s on a budget of 150, and the climb probed above it at once). */
        left_out = g->paused_since_cut_ms + g->idle_since_cut_ms;
        left_out -= g->idle_since_cut_ms < BURST_MS ? g->idle_since_cut_ms : BURST_MS;
        since -= left_out < since ? left_out : since;
        level = recent > 0 && recent < g->rate ? recent : g->rate;
        measured = recent > 0;
        if (g->last_cut_ms && since >= 3000) {
            double average = (g->ru_charged - g->ru_at_last_cut) * 1000.0 / (double)since;
            if (average > 0 && average < level)
                level = average;
            measured = measured || average > 0;
        }
    }
    if (level > 0 && measured && !again) {
        /* the same level as the last cut found (within 10%), by a probe above it: the budget
         * is where it was. A cut with nothing measured (seconds without a charge) says nothing
         * either way, nor one within two seconds of the last: it corrects that cut (its three
         * seconds still hold the pace before it), and two such cuts beside an application had
         * confirmed a level at once, so the probe crept at half a percent a second in its
         * light phases. Nor does a throttle below the plateau: what got through then is the
         * pace, whatever the budget, and beside an application two cuts in its heavy phase,
         * the second below the first one's plateau, confirmed a level and held the pace there
         * for 30 s of the light phase after. */
        if (probing && g->last_level > 0 &&
            level >= g->last_level * (1.0 - CCOPY_GOVERNOR_SAME_LEVEL) &&
            level <= g->last_level * (1.0 + CCOPY_GOVERNOR_SAME_LEVEL))
            g->confirmed++;
        else
            g->confirmed = 0;
        g->last_level = level;
    } else if (level > 0 && measured && g->last_level > 0 &&
               level < g->last_level * (1.0 - CCOPY_GOVERNOR_SAME_LEVEL)) {
        /* a correction that found the level lower still: the last cut's level, and whatever
         * confirmed it, was wrong (two levels 15 s apart beside an application agreed by
         * chance, and the hold kept the pace at the first for 30 s after corrections had
         * found it a quarter lower) */
        g->confirmed = 0;
        g->last_level = level;
    }
    if (level > 0) {
        int first = g->rate <= 0;
        g->throttled_rate = level;
        g->rate = level * (again ? CCOPY_GOVERNOR_CUT_AGAIN : CCOPY_GOVERNOR_CUT);
        /* A first throttle before three whole seconds were measured says little about the
         * budget when it is under half the throttled request's cost and less than that cost
         * got through in all (a bulk write cut after a few documents charges almost nothing):
         * aim the climb at what that request wanted to spend, so the pace halves its way back
         * up to it in seconds unless a throttle with a measured rate says otherwise. A read
         * that cost more than a second of the budget, overdrawn as above, is no such case,
         * nor a job set unpaced again after thousands of RU (a window's first read of 540 RU
         * at 150 RU/s): aiming at it overshot again, and the cuts took 20 s to come down. */
        if (first && recent < 0 && reserved > 2 * g->throttled_rate && g->ru_charged < reserved)
            g->throttled_rate = reserved;
    }
    if (g->rate > 0) {
        double floor = g->peak_rate * CCOPY_GOVERNOR_FLOOR;
        if (floor < CCOPY_GOVERNOR_MIN_RATE)
            floor = CCOPY_GOVERNOR_MIN_RATE;
        if (g->rate < floor)
            g->rate = floor;
    }
    if (g->max_ru > 0 && g->rate > g->max_ru)
        g->rate = g->max_ru;
    g->ru_at_last_cut = g->ru_charged;
    g->requests_at_last_cut = g->requests;
    g->last_cut_ms = now_ms;
    g->paused_since_cut_ms = 0;
    g->idle_since_cut_ms = 0;
    g->clock_ms = now_ms;
    g->last_raise_ms = now_ms;
    g->limited = 0;
    g->on_trial = g->rate > 0;
    g->trial_rate = g->rate;
}

int _ccopy_governor_throttled(_ccopy_governor_t *g, double reserved, int64_t retry_after_ms)
{
    int64_t now_us = _ccopy_monotonic_us(), now_ms = now_us / 1000, window_ms, n, t;
    double share, recent, threshold;
    int background = 0, chained = 0;

    /* RetryAfterMs is the server's text and may be any int64: 2^53 ms (285,000 years) is as
     * good as forever and keeps the sums and the debt below exact and free of overflow. */
    if (retry_after_ms > (INT64_C(1) << 53))
        retry_after_ms = INT64_C(1) << 53;
    pthread_mutex_lock(&g->lock);
    refill(g, now_us);
    g->tokens += reserved;
    answered(g, reserved);
    g->throttles++;
    g->second_throttles[this_second(g, now_ms)]++;
    if (started_with == g && started_in == g->marks)
        g->window_throttles++;
    recent = recent_rate(g, now_ms);
    if (recent > g->peak_rate)
        g->peak_rate = recent;

    /* The throttled share of the requests since the last cut or verdict (a partly throttled
     * bulk write is a request that was also throttled). A cut's window starts with it. */
    window_ms = now_ms - (g->on_trial ? g->last_cut_ms : g->mark_ms);
    n = g->requests - g->requests_at_mark;
    t = g->window_throttles;
    if (n < t)
        n = t;
    share = n > 0 ? (double)t / (double)n : 0;

    if (g->on_trial && window_ms >= CCOPY_GOVERNOR_TRIAL_MS) {
        /* The verdict on the last cut: did the throttled share fall, or did the server hold
         * the job below its pace? Either says the throttling follows the pace. */
        /* ... over the time the job could send: the pauses the server asked for since the
         * cut are left out. With a RetryAfterMs of a second, a cut's window was mostly pause,
         * the server "held" the job every time, and throttling that another client caused
         * cut the pace again and again, down to its floor (600 documents took 284 s, not 2). */
        int64_t ahead = g->paused_until_ms > now_ms ? g->paused_until_ms - now_ms : 0;
        int64_t paused = g->paused_since_cut_ms - ahead;
        int64_t active_ms = window_ms - (paused > 0 ? paused : 0);
        double delivered = active_ms > 0 ? (g->ru_charged - g->ru_at_mark) * 1000.0 /
                                               (double)active_ms
                                         : 0;
        int held = active_ms >= CCOPY_GOVERNOR_TRIAL_MS / 4 &&
                   delivered < CCOPY_GOVERNOR_HELD * g->trial_rate;
        /* Not before 8 requests, however long: under a budget of less than a request a
         * second, a few seconds hold one or two requests and say nothing. */
        if (held || n >= CCOPY_GOVERNOR_TRIAL_REQUESTS) {
            double before = g->share_at_cut - g->background, after = share - g->background;
            g->on_trial = 0;
            /* and not on one or two throttles: under a small budget a well-paced job still
             * meets one now and then, and one in 8 requests is as noisy as a share gets */
            if (!held && t >= CCOPY_GOVERNOR_TRIAL_THROTTLES && after >= 0.5 * before) {
                /* The cut changed nothing: this much throttling is background, and the pace
                 * says nothing about it. Back to where the job was before any of it: unpaced,
                 * or the fixed budget. */
                g->rate = g->max_ru;
                g->throttled_rate = 0;
                g->last_level = 0;
                g->confirmed = 0;
                g->background = share;
                g->last_raise_ms = now_ms;
                background = 1;
            } else {
                chained = 1; /* if throttling goes on, the next cut is judged against this */
            }
            mark(g, now_ms);
        }
    }
    if (!background && !g->on_trial) {
        threshold = 0;
        if (g->background > 0) {
            double margin = g->background / 4;
            threshold = g->background +
                        (margin > CCOPY_GOVERNOR_MARGIN ? margin : CCOPY_GOVERNOR_MARGIN);
        }
        /* No background known: every throttle counts (of requests sent before the last
         * cut too). With one, a share over too few requests says nothing yet. */
        if (g->background <= 0 || (share > threshold && n >= CCOPY_GOVERNOR_TRIAL_REQUESTS)) {
            /* Several workers are usually throttled at once: cut once per second, not once
             * per answer. */
            /* An unpaced job sets its first pace from at least a second of charges: from
             * less, the pace is a guess, ten times too low when a bulk write is cut in the
             * first tenth of a second, and the job crawls. Or from a pause of a second or
             * more: the server is owed that much of its budget, so what it charged measures
             * the budget without waiting (waiting let the other window's first read, 538 RU at
             * 150 RU/s, land during the pause unpaced, and the job was throttled again when
             * the pause ended). Until then RetryAfterMs paces it. */
            int measured = g->rate > 0 ||
                           (g->first_charge_ms && (now_ms - g->first_charge_ms >= 1000 ||
                                                   retry_after_ms >= 1000));
            if (measured && (now_ms - g->last_cut_ms >= 1000 || g->last_cut_ms == 0)) {
                /* The share before the cut: after a cut that stood, what its window
                 * measured. Otherwise the last two seconds say little (the first throttles
                 * come after quiet seconds, or before many requests): throttling that follows
                 * the pace all but stops at 90% of what got through, so the cut must bring the
                 * share under half of at least twice the margin. */
                double lately = share_lately(g, now_ms);
                g->share_at_cut = chained ? share
                                  : lately > 2 * CCOPY_GOVERNOR_MARGIN ? lately
                                                                      : 2 * CCOPY_GOVERNOR_MARGIN;
                cut(g, reserved, retry_after_ms, now_ms);
                mark(g, now_ms);
            }
        } else {
            background = 1;
            /* a long enough window within the threshold: follow what it measured */
            if (window_ms >= 5 * CCOPY_GOVERNOR_TRIAL_MS && n >= CCOPY_GOVERNOR_TRIAL_REQUESTS) {
                g->background = (g->background + share) / 2;
                if (g->background < 0.02)
                    g->background = 0;
                mark(g, now_ms);
            }
        }
    }
    if (background) {
        /* left to the throttled request's own back-off: no cut, no pause for the others */
        g->background_throttles++;
        pthread_mutex_unlock(&g->lock);
        return 1;
    }
    if (retry_after_ms > 0 && now_ms + retry_after_ms > g->paused_until_ms) {
        int64_t from = g->paused_until_ms > now_ms ? g->paused_until_ms : now_ms;
        g->paused_since_cut_ms += now_ms + retry_after_ms - from;
        g->paused_until_ms = now_ms + retry_after_ms;
    }
    /* The server's budget is spent and it is owed what RetryAfterMs says: start from that
     * debt, so the refill during the pause does not let a burst go when it ends. */
    if (g->rate > 0) {
        double debt = retry_after_ms > 0 ? g->rate * (double)retry_after_ms / 1000.0 : 0;
        if (g->tokens > -debt)
            g->tokens = -debt;
        if (g->server_tokens > -debt)
            g->server_tokens = -debt;
    }
    pthread_mutex_unlock(&g->lock);
    return 0;
}

_ccopy_governor_stats_t _ccopy_governor_stats(_ccopy_governor_t *g)
{
    _ccopy_governor_stats_t s;
    pthread_mutex_lock(&g->lock);
    s.ru_charged = g->ru_charged;
    s.rate = g->rate;
    s.throttles = g->throttles;
    s.pacing_wait_ms = g->pacing_wait_ms;
    s.charge_source = g->charge_source;
    s.background = g->background;
    pthread_mutex_unlock(&g->lock);
    return s;
}
