/*
 * Unit tests for governor.c and the estimate model of request.c: the token bucket (reservations,
 * settlements, debt), the pause after RetryAfterMs, how throttling cuts the pace and how the
 * pace comes back. Waits are checked only from below (a governor must never let a request go
 * sooner than its budget allows); nothing here asserts that something is fast.
 */
#include <math.h>
#include <stdint.h>

#include "common.h"
#include "governor.h"
#include "harness.h"
#include "request.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

/* As if `ru` RU had been settled in each of the last three whole seconds. */
static void set_recent(_ccopy_governor_t *g, double ru)
{
    int64_t second = _ccopy_monotonic_ms() / 1000, s;
    for (s = second - 3; s < second; s++) {
        g->second_of[s % 5] = s;
        g->second_ru[s % 5] = ru;
    }
}

/* An unpaced governor that has been charging for 5 s, the last three seconds at ru RU/s each. */
static void init_streaming(_ccopy_governor_t *g, double ru)
{
    _ccopy_governor_init(g, 0);
    set_recent(g, ru);
    g->first_charge_ms = _ccopy_monotonic_ms() - 5000;
}

CCOPY_TEST(unpaced_governor_never_waits)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    int64_t waited = 0;
    int i;
    _ccopy_governor_init(&g, 0);
    for (i = 0; i < 1000; i++) {
        CHECK_INT(_ccopy_governor_acquire(&g, 500, &canceled, &waited), 0);
        _ccopy_governor_settle(&g, 500, 500, 0);
    }
    CHECK_INT(waited, 0);
    CHECK(NEAR(_ccopy_governor_stats(&g).ru_charged, 500.0 * 1000));
    CHECK(_ccopy_governor_stats(&g).rate == 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(fixed_budget_starts_with_one_second_of_budget_then_waits_for_the_debt)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    int64_t waited = 0;
    _ccopy_governor_init(&g, 1000);
    CHECK_INT(_ccopy_governor_acquire(&g, 600, &canceled, &waited), 0);
    CHECK_INT(_ccopy_governor_acquire(&g, 600, &canceled, &waited), 0); /* 400 left: may go */
    CHECK_INT(waited, 0);
    /* now 200 RU in debt at 1,000 RU/s: the next request waits at least ~200 ms */
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, &waited), 0);
    CHECK(waited >= 150);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(settlement_charges_the_real_cost_not_the_reservation)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    _ccopy_governor_init(&g, 1000);
    CHECK_INT(_ccopy_governor_acquire(&g, 100, &canceled, NULL), 0);
    _ccopy_governor_settle(&g, 100, 1300, 1); /* the server said 1,300: 300 RU of debt */
    CHECK(g.tokens < -250 && g.tokens > -301);
    CHECK(NEAR(_ccopy_governor_stats(&g).ru_charged, 1300));
    CHECK_INT(_ccopy_governor_stats(&g).charge_source, 2);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(charge_source_says_estimate_until_the_server_reports)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    CHECK_INT(_ccopy_governor_stats(&g).charge_source, 0);
    _ccopy_governor_settle(&g, 0, 5, 0);
    CHECK_INT(_ccopy_governor_stats(&g).charge_source, 1);
    _ccopy_governor_settle(&g, 0, 5, 1);
    _ccopy_governor_settle(&g, 0, 5, 0);
    CHECK_INT(_ccopy_governor_stats(&g).charge_source, 2);
    _ccopy_governor_destroy(&g);
}

/* The server charges when it answers: while a slow request is in flight (a first batch that
 * takes seconds) its bucket sits full and earns nothing, and once answered it is owed the whole
 * charge. The governor reserved at the start and refilled meanwhile; it used to let the next
 * request go at once, into a throttle. */
CCOPY_TEST(a_request_in_flight_longer_than_its_refill_leaves_the_server_debt_owed)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    int64_t waited = 0;
    _ccopy_governor_init(&g, 100);
    CHECK_INT(_ccopy_governor_acquire(&g, 150, &canceled, &waited), 0);
    CHECK_INT(_ccopy_sleep_ms(1600, &canceled), 0); /* long enough for a full refill */
    _ccopy_governor_settle(&g, 150, 150, 1);
    /* the server's bucket: 100 - 150 = -50 RU, half a second of the budget */
    CHECK(g.tokens < -40);
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, &waited), 0);
    CHECK(waited >= 400);
    _ccopy_governor_destroy(&g);
}

/* An unpaced job owes nothing: a minute of charges before the first throttle used to stay in
 * the bucket as debt, and the first pace began by waiting about a minute. */
CCOPY_TEST(a_long_unpaced_run_leaves_no_debt_to_the_first_pace)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    int64_t waited = 0;
    int i;
    init_streaming(&g, 1000);
    for (i = 0; i < 60; i++) {
        CHECK_INT(_ccopy_governor_acquire(&g, 1000, &canceled, &waited), 0);
        _ccopy_governor_settle(&g, 1000, 1000, 1);
    }
    g.first_charge_ms -= 60000; /* 60,000 RU over a minute */
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(g.rate > 0);
    CHECK(g.tokens > -g.rate); /* the server's 5 ms, not a minute of charges */
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, &waited), 0);
    CHECK(waited < 1500);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(release_gives_the_reservation_back)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    _ccopy_governor_init(&g, 1000);
    CHECK_INT(_ccopy_governor_acquire(&g, 900, &canceled, NULL), 0);
    _ccopy_governor_release(&g, 900);
    CHECK(g.tokens > 999);
    CHECK(NEAR(_ccopy_governor_stats(&g).ru_charged, 0));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(retry_after_pauses_every_request_even_when_unpaced)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    int64_t waited = 0;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_throttled(&g, 0, 300);
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, &waited), 0);
    CHECK(waited >= 290);
    CHECK_INT(_ccopy_governor_stats(&g).throttles, 1);
    _ccopy_governor_destroy(&g);
}

/* RetryAfterMs is the server's text: "RetryAfterMs=9223372036854775807" parses (retry.h), and
 * now + it overflowed, so the pause was skipped instead of taken (found reading the users of
 * the value the fuzz target fuzz_retry parses). */
CCOPY_TEST(retry_after_of_any_size_pauses_and_never_overflows)
{
    _ccopy_governor_t g;
    atomic_int canceled = 1; /* the wait is taken: cancellation ends it at once */
    int64_t waited = 0;
    double budgets[] = {0, 1000};
    size_t i;
    for (i = 0; i < 2; i++) {
        _ccopy_governor_init(&g, budgets[i]);
        if (budgets[i] > 0)
            _ccopy_governor_settle(&g, 0, 5000, 1);
        _ccopy_governor_throttled(&g, 0, INT64_MAX);
        CHECK(g.paused_until_ms > _ccopy_monotonic_ms() + INT64_C(1000) * 86400 * 365);
        CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, &waited), -1);
        _ccopy_governor_destroy(&g);
    }
}

CCOPY_TEST(first_throttle_before_any_charge_keeps_the_job_unpaced)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(_ccopy_governor_stats(&g).rate == 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(first_throttle_counts_at_least_a_second_of_average)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 50, 1); /* 50 RU just now: too soon to set a pace */
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(g.rate == 0);
    g.first_charge_ms -= 1000; /* a second later, still 50 RU: no more than 50 RU/s is known */
    g.last_cut_ms = 0;
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(g.rate > 0 && g.rate <= 50 * CCOPY_GOVERNOR_CUT + 1e-9);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(first_throttle_with_a_long_pause_paces_at_once)
{
    /* Two windows' first reads end a long scan together on a budget of 150 RU/s: the first
     * charges 538 RU and the server asks for 2,577 ms. That pause measures the budget, so the
     * job is paced at once, and the other read's charge, landing during the pause, is waited
     * off before any request goes: unpaced, the pause alone let the next request go into the
     * server's new debt, and it was throttled again. */
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    int64_t waited = 0;
    _ccopy_governor_init(&g, 0);
    CHECK_INT(_ccopy_governor_acquire(&g, 135, &canceled, &waited), 0);
    CHECK_INT(_ccopy_governor_acquire(&g, 135, &canceled, &waited), 0);
    _ccopy_governor_settle(&g, 135, 538, 1);
    _ccopy_governor_throttled(&g, 135, 2577);
    CHECK(fabs(g.throttled_rate - 538 / 3.577) < 1.0);
    CHECK(NEAR(g.rate, g.throttled_rate * CCOPY_GOVERNOR_CUT));
    _ccopy_governor_settle(&g, 135, 539, 1);
    /* the server is paid at 2.6 s + 539 / 150 s = 6.2 s; no request before that */
    CHECK(g.paused_until_ms - _ccopy_monotonic_ms() > 2400);
    CHECK(-g.tokens / g.rate > 3.5);
    _ccopy_governor_destroy(&g);
    /* a short pause says nothing yet: unpaced until a second of charges */
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 538, 1);
    _ccopy_governor_throttled(&g, 135, 999);
    CHECK(g.rate == 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(first_throttle_prefers_the_average_when_recent_seconds_were_slow)
{
    _ccopy_governor_t g;
    int64_t now = _ccopy_monotonic_ms();
    _ccopy_governor_init(&g, 0);
    /* 4,000 RU over the last two seconds, a second of them banked by the server before the
     * job began, but a slow recent second measured 100 RU/s */
    _ccopy_governor_settle(&g, 0, 4000, 1);
    g.first_charge_ms = now - 2000;
    set_recent(&g, 100);
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(g.rate > 0.99 * 4000 / 3.005 * CCOPY_GOVERNOR_CUT &&
          g.rate <= 4000 / 3.0 * CCOPY_GOVERNOR_CUT);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(first_throttle_paces_at_the_recent_rate_when_it_is_higher)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 10, 1);
    g.first_charge_ms -= 10000; /* 10 RU over 10 s on average, 1,000 RU/s lately */
    set_recent(&g, 1000);
    _ccopy_governor_throttled(&g, 0, 0);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT));
    CHECK(NEAR(g.throttled_rate, 1000));
    CHECK(g.tokens <= 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(first_throttle_counts_the_pause_it_asks_for_as_time)
{
    /* Unpaced, two reads of 540 RU went through in the first second on a budget of
     * 150 RU/s: the server is paid when the pause it asks for (about 4.2 s) ends, and it had
     * a second of budget banked before the job began. */
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 1080, 1);
    g.first_charge_ms -= 1000;
    _ccopy_governor_throttled(&g, 236, 4200);
    CHECK(NEAR(g.throttled_rate, 1080 / 6.2));
    CHECK(NEAR(g.rate, 1080 / 6.2 * CCOPY_GOVERNOR_CUT));
    CHECK(NEAR(g.last_level, 1080 / 6.2)); /* a level measured: the next cut may confirm it */
    _ccopy_governor_destroy(&g);
    /* the same over the last three whole seconds */
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 10, 1);
    g.first_charge_ms -= 10000;
    set_recent(&g, 360);
    _ccopy_governor_throttled(&g, 236, 3000);
    CHECK(NEAR(g.throttled_rate, 180));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(early_first_throttle_climbs_towards_the_throttled_request_cost)
{
    /* a bulk write of 3,000 RU cut after a few documents in the first second: 30 RU got
     * through, which says little about the budget */
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 30, 1);
    g.first_charge_ms -= 1000; /* a second ago: the first pace is set from a second at least */
    _ccopy_governor_throttled(&g, 3000, 0);
    CHECK(g.rate > 0 && g.rate <= 30 * CCOPY_GOVERNOR_CUT + 1e-9);
    CHECK(NEAR(g.throttled_rate, 3000));
    /* limited for a second once the cut's trial is over: half the gap to just under it */
    g.on_trial = 0;
    g.limited = 1;
    g.last_raise_ms -= 1000;
    _ccopy_governor_release(&g, 0);
    {
        atomic_int canceled = 0;
        int64_t waited = 0;
        g.tokens = 1;
        CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, &waited), 0);
    }
    CHECK(g.rate > 1000);
    _ccopy_governor_destroy(&g);
    /* the same cost once thousands of RU got through (a job set unpaced again by background
     * throttling, then a window's first read): the level measured stands */
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_settle(&g, 0, 1650, 1);
    g.first_charge_ms -= 10000;
    _ccopy_governor_throttled(&g, 280, 0);
    CHECK(fabs(g.throttled_rate - 150) < 0.1); /* 1,650 RU in 10 s and the second banked */
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(later_throttles_cut_below_what_actually_got_through)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 1000); /* paced at 1,000 RU/s but only 500 got through */
    set_recent(&g, 500);
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(NEAR(g.rate, 500 * CCOPY_GOVERNOR_CUT));
    CHECK(NEAR(g.throttled_rate, 500));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(recent_rate_needs_two_whole_seconds_with_charges)
{
    _ccopy_governor_t g;
    int64_t second = _ccopy_monotonic_ms() / 1000;
    _ccopy_governor_init(&g, 1000);
    set_recent(&g, 500);
    g.second_ru[(second - 2) % 5] = 0; /* a second with nothing settled: no recent rate */
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT)); /* cut from the pace instead */
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(throttles_cut_the_pace_once_a_second)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 1000);
    _ccopy_governor_throttled(&g, 0, 1);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT));
    _ccopy_governor_throttled(&g, 0, 1); /* the same storm: no second cut */
    _ccopy_governor_throttled(&g, 0, 1);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT));
    g.last_cut_ms -= 1000; /* a second later, still throttled: a deeper cut */
    _ccopy_governor_throttled(&g, 0, 1);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT * CCOPY_GOVERNOR_CUT_AGAIN));
    g.last_cut_ms -= 5000; /* long after */
    _ccopy_governor_throttled(&g, 0, 1);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT * CCOPY_GOVERNOR_CUT_AGAIN * CCOPY_GOVERNOR_CUT));
    CHECK_INT(_ccopy_governor_stats(&g).throttles, 5);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(pace_never_drops_below_the_minimum)
{
    _ccopy_governor_t g;
    int i;
    _ccopy_governor_init(&g, 2);
    for (i = 0; i < 50; i++) {
        g.last_cut_ms -= 2000;
        _ccopy_governor_throttled(&g, 0, 0);
    }
    CHECK(g.rate >= CCOPY_GOVERNOR_MIN_RATE);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(limited_pace_climbs_back_halfway_to_the_plateau_each_second)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    _ccopy_governor_init(&g, 0);
    g.rate = 500;
    g.throttled_rate = 1000;
    g.tokens = 1000;
    g.limited = 1;
    g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
    CHECK(NEAR(g.rate, 500 + (1000 * CCOPY_GOVERNOR_PLATEAU - 500) / 2));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(pace_is_not_raised_when_nothing_waited_for_it)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    _ccopy_governor_init(&g, 0);
    g.rate = 500;
    g.throttled_rate = 1000;
    g.tokens = 500;
    g.limited = 0;
    g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
    CHECK(NEAR(g.rate, 500));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(pace_above_the_plateau_grows_slowly_and_never_past_the_budget)
{
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    _ccopy_governor_init(&g, 1000);
    g.rate = 995;
    g.throttled_rate = 900;
    g.tokens = 500;
    g.limited = 1;
    g.last_cut_ms = _ccopy_monotonic_ms() - 1000;
    g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
    CHECK(NEAR(g.rate, 1000)); /* 990 x ~1.01 capped at the budget */
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(cancel_ends_a_wait)
{
    _ccopy_governor_t g;
    atomic_int canceled = 1;
    _ccopy_governor_init(&g, 1);
    g.tokens = -1000; /* 1,000 s of debt */
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), -1);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(estimate_model_figures)
{
    CHECK(NEAR(_ccopy_ru_estimate_read(0, 0), 1.0));
    CHECK(NEAR(_ccopy_ru_estimate_read(100, 100 * 1024), 1.0 + 25 + 25));
    CHECK(NEAR(_ccopy_ru_estimate_write(0, 0), 1.0));
    CHECK(NEAR(_ccopy_ru_estimate_write(10, 10 * 1024), 1.0 + 50 + 10));
}

CCOPY_TEST(batch_size_of_a_cursor_reply)
{
    bson_t *reply = BCON_NEW("cursor", "{", "id", BCON_INT64(7), "ns", BCON_UTF8("d.c"), "nextBatch",
                             "[", "{", "_id", BCON_INT32(1), "}", "{", "_id", BCON_INT32(2), "x",
                             BCON_UTF8("abc"), "}", "]", "}", "ok", BCON_DOUBLE(1));
    int64_t docs = -1, bytes = -1;
    _ccopy_reply_batch_size(reply, &docs, &bytes);
    CHECK_INT(docs, 2);
    CHECK_INT(bytes, 14 + 25);
    bson_destroy(reply);
    reply = BCON_NEW("ok", BCON_DOUBLE(1));
    _ccopy_reply_batch_size(reply, &docs, &bytes);
    CHECK_INT(docs, 0);
    CHECK_INT(bytes, 0);
    bson_destroy(reply);
}

CCOPY_TEST(pace_just_under_the_plateau_probes_above_it)
{
    /* halving the gap never reaches the plateau: close to it, the pace must start probing */
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    double plateau = 1000 * CCOPY_GOVERNOR_PLATEAU;
    _ccopy_governor_init(&g, 0);
    g.throttled_rate = 1000;
    g.rate = plateau * 0.995;
    g.tokens = 500;
    g.limited = 1;
    g.last_cut_ms = _ccopy_monotonic_ms() - 1000;
    g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
    CHECK(g.rate > plateau);
    _ccopy_governor_destroy(&g);
}

/* As if `ru_per_s` RU had been settled in each of the last three whole seconds. */
static void got_through(_ccopy_governor_t *g, double ru_per_s)
{
    int64_t second = _ccopy_monotonic_ms() / 1000, s;
    for (s = second - 3; s < second; s++) {
        int slot = (int)(s % 5);
        g->second_of[slot] = s;
        g->second_ru[slot] = ru_per_s;
        g->second_requests[slot] = 10;
        g->second_throttles[slot] = 0;
    }
}

/* A request starts after a second in which requests waited for the pace: the pace may rise. */
static void after_a_second_waiting(_ccopy_governor_t *g)
{
    atomic_int canceled = 0;
    g->tokens = 1e9;
    g->paused_until_ms = 0;
    g->limited = 1;
    g->last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(g, 1, &canceled, NULL), 0);
}

/* One second of waiting for the pace above the plateau: the factor the probe raised it by. */
static double probe_step(_ccopy_governor_t *g)
{
    double before;
    g->rate = g->throttled_rate * CCOPY_GOVERNOR_PLATEAU;
    g->on_trial = 0; /* the cut's verdict came (the hold until it is tested below) */
    /* and enough requests since the cut that a confirmed level no longer holds the probe */
    g->requests += CCOPY_GOVERNOR_HOLD_REQUESTS * CCOPY_GOVERNOR_CONFIRMED_MAX;
    before = g->rate;
    after_a_second_waiting(g);
    return g->rate / before;
}

/* The pace was throttled at `level` RU/s (what got through), five seconds after the last cut. */
static void throttled_at(_ccopy_governor_t *g, double level)
{
    g->rate = level * 2;
    g->last_cut_ms -= 5000;
    g->mark_ms -= 5000;
    got_through(g, level);
    _ccopy_governor_throttled(g, 0, 1);
    CHECK(NEAR(g->throttled_rate, level));
}

/* Throttled again 1.5 s after the last cut (a correction), with `got` RU/s got through. */
static void throttled_again(_ccopy_governor_t *g, double got)
{
    g->rate = 2000;
    g->on_trial = 0;
    got_through(g, got);
    g->last_cut_ms = _ccopy_monotonic_ms() - 1500;
    _ccopy_governor_throttled(g, 0, 1);
}

/* After a second of waiting at the plateau of `level`, did the pace probe above it (no hold)? */
static int probes_at_once(_ccopy_governor_t *g, double level)
{
    g->on_trial = 0;
    g->rate = level * CCOPY_GOVERNOR_PLATEAU;
    after_a_second_waiting(g);
    return g->rate > level * CCOPY_GOVERNOR_PLATEAU * 1.0001;
}

CCOPY_TEST(a_cut_on_trial_holds_its_pace_for_a_second_and_8_requests)
{
    /* climbing back before the verdict throttled the job at its own doing, and the verdict
     * then took the cut for useless and set the job unpaced */
    _ccopy_governor_t g;
    atomic_int canceled = 0;
    double paced;
    int i;
    _ccopy_governor_init(&g, 0);
    throttled_at(&g, 1000);
    paced = g.rate;
    CHECK(g.on_trial && NEAR(paced, 1000 * CCOPY_GOVERNOR_CUT));
    for (i = 0; i < CCOPY_GOVERNOR_TRIAL_REQUESTS; i++) {
        g.tokens = paced;
        g.limited = 1;
        g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
        CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
        CHECK(g.rate == paced); /* 8 requests, but not a second yet */
    }
    g.last_cut_ms -= CCOPY_GOVERNOR_TRIAL_MS - 100;
    g.limited = 1;
    g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
    CHECK(g.rate == paced);
    g.last_cut_ms -= 100; /* a second and 9 requests: the climb goes on */
    g.limited = 1;
    g.last_raise_ms = _ccopy_monotonic_ms() - 1000;
    CHECK_INT(_ccopy_governor_acquire(&g, 1, &canceled, NULL), 0);
    CHECK(g.rate > paced && g.on_trial);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(above_a_level_not_found_again_the_probe_doubles_every_quiet_second)
{
    /* an application sharing the budget eased off: creeping at 1% a second the job stayed at
     * 200 RU/s through 10 s phases that left it 320 */
    _ccopy_governor_t g;
    double step;
    _ccopy_governor_init(&g, 0);
    throttled_at(&g, 1000);
    CHECK_INT(g.confirmed, 0);
    g.last_cut_ms -= 3000; /* 3 s without a throttle: 1% doubled three times */
    step = probe_step(&g);
    CHECK(step > 1.0799 && step < 1.0801);
    g.last_cut_ms -= 60000; /* never more than 10% a second */
    step = probe_step(&g);
    CHECK(step > 1.0999 && step < 1.1001);
    throttled_at(&g, 1000); /* the same level again: a budget that stays put */
    CHECK_INT(g.confirmed, 1);
    g.last_cut_ms -= 3000; /* 1% more for every 20 s, halved */
    step = probe_step(&g);
    CHECK(step > 1.0 + 0.01 * (1.0 + 3.0 / 20) / 2 - 1e-4 &&
          step < 1.0 + 0.01 * (1.0 + 3.2 / 20) / 2);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(cuts_that_find_the_same_level_slow_the_probe_above_it)
{
    /* a fixed budget: every probe above it costs a throttle, so once the cuts keep finding
     * the same level the probe slows to a sixth; a level that moved probes at 1% again */
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    throttled_at(&g, 1000);
    CHECK(NEAR(probe_step(&g), CCOPY_GOVERNOR_RAISE));
    throttled_at(&g, 1070); /* 7% off: measuring a level is that noisy */
    CHECK(NEAR(probe_step(&g), 1.0 + (CCOPY_GOVERNOR_RAISE - 1.0) / 2));
    throttled_at(&g, 990);
    throttled_at(&g, 1010);
    CHECK(NEAR(probe_step(&g), 1.0 + (CCOPY_GOVERNOR_RAISE - 1.0) / 4));
    throttled_at(&g, 1000);
    throttled_at(&g, 995);
    throttled_at(&g, 1005);
    CHECK(NEAR(probe_step(&g), 1.0 + (CCOPY_GOVERNOR_RAISE - 1.0) / 6));
    /* a cut within two seconds of the last corrects it: it neither confirms nor moves */
    throttled_again(&g, 1000);
    CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_CUT_AGAIN)); /* it did cut */
    CHECK_INT(g.confirmed, 6);
    CHECK(NEAR(g.last_level, 1005));
    throttled_at(&g, 1200); /* the application sharing the budget stopped */
    CHECK(NEAR(probe_step(&g), CCOPY_GOVERNOR_RAISE));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_level_found_again_holds_the_plateau_for_100_requests_a_confirmation)
{
    /* each probe above a budget that stays put costs a throttle: once a cut found the level
     * of the one before, the pace stays at the plateau for 100 requests per confirmation */
    _ccopy_governor_t g;
    int i, confirmations;
    _ccopy_governor_init(&g, 0);
    throttled_at(&g, 1000);
    for (confirmations = 1; confirmations <= CCOPY_GOVERNOR_CONFIRMED_MAX + 1; confirmations++) {
        int held = CCOPY_GOVERNOR_HOLD_REQUESTS *
                   (confirmations < CCOPY_GOVERNOR_CONFIRMED_MAX ? confirmations
                                                                 : CCOPY_GOVERNOR_CONFIRMED_MAX);
        throttled_at(&g, 1000);
        CHECK_INT(g.confirmed, confirmations);
        g.on_trial = 0;
        g.rate = 1000 * CCOPY_GOVERNOR_PLATEAU;
        for (i = 0; i < held; i++) {
            after_a_second_waiting(&g);
            CHECK(NEAR(g.rate, 1000 * CCOPY_GOVERNOR_PLATEAU));
        }
        after_a_second_waiting(&g);
        CHECK(g.rate > 1000 * CCOPY_GOVERNOR_PLATEAU * 1.0001); /* then it probes */
    }
    /* a level that moved probes at once */
    throttled_at(&g, 1200);
    CHECK_INT(g.confirmed, 0);
    CHECK(probes_at_once(&g, 1200));
    _ccopy_governor_destroy(&g);
}

/* Throttled five seconds after the last cut while pacing at `rate`, with `got` RU/s got through. */
static void throttled_while_paced_at(_ccopy_governor_t *g, double rate, double got)
{
    g->rate = rate;
    g->on_trial = 0;
    g->last_cut_ms -= 5000;
    g->mark_ms -= 5000;
    got_through(g, got);
    _ccopy_governor_throttled(g, 0, 1);
}

CCOPY_TEST(a_throttle_below_the_plateau_confirms_no_level)
{
    /* what got through below the plateau is the pace, whatever the budget: beside an
     * application, such a cut "found" the level of the one before and held the pace there
     * through the application's light phase */
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    throttled_at(&g, 1000);
    throttled_while_paced_at(&g, 940, 950); /* under the plateau (970): the level 940 */
    CHECK(NEAR(g.throttled_rate, 940));
    CHECK_INT(g.confirmed, 0);
    CHECK(probes_at_once(&g, 940)); /* no hold */
    /* the same cut while the pace probed above the plateau confirms the level */
    throttled_while_paced_at(&g, 960, 950);
    CHECK_INT(g.confirmed, 1);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_correction_that_finds_the_level_lower_undoes_its_confirmation)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    throttled_at(&g, 1000);
    throttled_at(&g, 1000);
    CHECK_INT(g.confirmed, 1);
    throttled_again(&g, 750); /* 1.5 s after the cut, and only 750 RU/s got through */
    CHECK(NEAR(g.rate, 750 * CCOPY_GOVERNOR_CUT_AGAIN));
    CHECK_INT(g.confirmed, 0);
    CHECK(NEAR(g.last_level, 750));
    CHECK(probes_at_once(&g, 750)); /* no hold */
    /* one that finds the level within 10% only corrects the cut (see the test above) */
    throttled_at(&g, 750);
    CHECK_INT(g.confirmed, 1);
    throttled_again(&g, 700);
    CHECK_INT(g.confirmed, 1);
    CHECK(NEAR(g.last_level, 750));
    _ccopy_governor_destroy(&g);
}

/* `requests` requests start (none waits: the bucket is refilled first) and `throttled` of them,
 * spread evenly, are throttled with RetryAfterMs=retry_after; the others settle `ru` each. */
static void traffic(_ccopy_governor_t *g, int requests, int throttled, double ru,
                    int64_t retry_after)
{
    atomic_int canceled = 0;
    int i;
    for (i = 0; i < requests; i++) {
        g->tokens = 1e9;
        g->paused_until_ms = 0;
        CHECK_INT(_ccopy_governor_acquire(g, 1, &canceled, NULL), 0);
        if ((i + 1) * throttled / requests > i * throttled / requests)
            _ccopy_governor_throttled(g, 1, retry_after);
        else
            _ccopy_governor_settle(g, 1, ru, 1);
    }
}

/* As if the last cut, and the window that judges it, were `ms` earlier. */
static void age_cut(_ccopy_governor_t *g, int64_t ms)
{
    g->last_cut_ms -= ms;
    g->mark_ms -= ms;
    g->last_raise_ms -= ms;
}

CCOPY_TEST(a_cut_that_leaves_the_throttled_share_unchanged_is_undone)
{
    /* 40% of requests throttled whatever the pace (an application sharing the budget) */
    _ccopy_governor_t g;
    init_streaming(&g, 1000);
    traffic(&g, 10, 4, 100, 1);
    CHECK(g.rate > 0 && g.on_trial); /* the first throttle cut the pace, on trial */
    CHECK(NEAR(g.share_at_cut, 0.2)); /* too few requests before it: at least twice the margin */
    /* a second later: still 40% throttled, and the job got its pace through */
    age_cut(&g, 1000);
    g.ru_at_mark = g.ru_charged - g.trial_rate; /* a second of the pace got through */
    traffic(&g, 10, 4, 0, 1);
    CHECK(g.rate == 0);          /* back to unpaced, as before the cut */
    CHECK(!g.on_trial);
    CHECK(g.background > 0.3 && g.background < 0.5);
    /* from now on, 40% more is background: no cut, no pause for the other workers */
    {
        int64_t throttles = g.background_throttles;
        g.paused_until_ms = 0;
        traffic(&g, 10, 4, 100, 500);
        age_cut(&g, 2000);
        traffic(&g, 10, 4, 100, 500);
        CHECK(g.rate == 0);
        CHECK(g.paused_until_ms == 0);
        CHECK_INT(g.background_throttles, throttles + 8);
    }
    CHECK(NEAR(_ccopy_governor_stats(&g).background, g.background));
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_cut_after_which_the_throttling_stops_stands)
{
    /* throttling that follows the pace: the cut ends it */
    _ccopy_governor_t g;
    double paced;
    init_streaming(&g, 1000);
    traffic(&g, 10, 1, 100, 1);
    paced = g.rate;
    CHECK(paced > 0 && g.on_trial);
    age_cut(&g, 1000);
    g.ru_at_mark = g.ru_charged - g.trial_rate;
    traffic(&g, 20, 1, 0, 1); /* one throttle in 20 since the cut */
    CHECK(NEAR(g.rate, paced) || g.rate < paced); /* the cut stands (or goes deeper) */
    CHECK(g.rate > 0);
    CHECK(g.background == 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_cut_the_server_holds_the_job_under_goes_deeper_whatever_the_share)
{
    _ccopy_governor_t g;
    double paced;
    init_streaming(&g, 1000);
    traffic(&g, 10, 4, 100, 1);
    paced = g.rate;
    age_cut(&g, 1500);
    g.ru_at_mark = g.ru_charged; /* nothing got through since the cut */
    traffic(&g, 10, 4, 0, 1);
    CHECK(g.rate < paced);
    CHECK(g.background == 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(throttling_above_the_background_cuts_the_pace)
{
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 2000);
    g.background = 0.4;
    g.last_cut_ms = _ccopy_monotonic_ms() - 5000;
    set_recent(&g, 1000);
    traffic(&g, 10, 4, 100, 1); /* 40%: background */
    CHECK(NEAR(g.rate, 2000));
    age_cut(&g, 2000);
    traffic(&g, 10, 9, 100, 1); /* 90%: the job's own doing */
    CHECK(g.rate < 2000);
    CHECK(g.on_trial);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(the_pace_stays_above_a_twentieth_of_the_best_rate)
{
    _ccopy_governor_t g;
    int i;
    init_streaming(&g, 1000);
    _ccopy_governor_throttled(&g, 0, 0); /* the best rate: 1,000 RU/s */
    for (i = 0; i < 50; i++) {
        age_cut(&g, 2000);
        g.ru_at_mark = g.ru_charged; /* nothing gets through: held, cut deeper */
        _ccopy_governor_throttled(&g, 0, 0);
    }
    CHECK(g.rate >= 1000 * CCOPY_GOVERNOR_FLOOR - 1e-9);
    CHECK(g.rate < 1000 * CCOPY_GOVERNOR_FLOOR * 1.5);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_cut_is_judged_against_at_least_twice_the_margin)
{
    _ccopy_governor_t g;
    init_streaming(&g, 1000);
    traffic(&g, 20, 0, 50, 1);
    traffic(&g, 10, 5, 50, 1); /* the cut comes after 22 requests this second: 5%, taken as 20% */
    CHECK(g.on_trial && NEAR(g.share_at_cut, 0.2));
    age_cut(&g, 1000);
    g.ru_at_mark = g.ru_charged - g.trial_rate;
    traffic(&g, 20, 2, 0, 1); /* 6 of 28 since the cut: not under half of 20%, nothing held it */
    CHECK(g.rate == 0 && g.background > 0.1);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_cut_after_one_that_stood_is_judged_against_its_window)
{
    /* 4% throttled at random: the first cut seems to help (under 10%), the next shows not */
    _ccopy_governor_t g;
    init_streaming(&g, 1000);
    traffic(&g, 25, 1, 50, 1);
    CHECK(g.on_trial);
    age_cut(&g, 1000);
    g.ru_at_mark = g.ru_charged - g.trial_rate;
    traffic(&g, 100, 4, 50, 1); /* 4%: the cut stands; throttled still, it cuts deeper */
    CHECK(g.on_trial && g.rate > 0 && g.share_at_cut > 0.02 && g.share_at_cut < 0.05);
    age_cut(&g, 1000);
    g.ru_at_mark = g.ru_charged - g.trial_rate;
    traffic(&g, 100, 4, 50, 1); /* 4% again: no better */
    CHECK(g.rate == 0 && g.background > 0.03);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_background_throttle_waits_its_retry_after_alone)
{
    _ccopy_requester_t r = {0};
    _ccopy_backoff_t policy = {0};
    uint64_t a = 7, b = 7;
    int64_t normal;
    policy.base_ms = 1000;
    policy.cap_ms = 60000;
    policy.max_retries = 10;
    normal = _ccopy_request_backoff_ms(&r, &policy, 3, 5, &a);
    CHECK(normal >= 5 && normal <= 5 + 4000);
    r.background_throttle = 1;
    CHECK_INT(_ccopy_request_backoff_ms(&r, &policy, 3, 5, &b), 5);
    CHECK(a == b); /* the generator advanced the same */
    /* without a RetryAfterMs to go by, the policy's back-off */
    CHECK(_ccopy_request_backoff_ms(&r, &policy, 1, -1, &b) <= 1000);
}

CCOPY_TEST(one_throttle_in_a_trial_never_undoes_a_cut)
{
    /* a budget of less than a request a second: a well-paced job still meets one now and then */
    _ccopy_governor_t g;
    double paced;
    init_streaming(&g, 60);
    traffic(&g, 10, 2, 50, 1);
    paced = g.rate;
    age_cut(&g, 1000);
    g.ru_at_mark = g.ru_charged - g.trial_rate;
    traffic(&g, 8, 1, 0, 1); /* 1 in 8: no lower than before, but one throttle is no evidence */
    CHECK(g.rate > 0 && g.rate <= paced);
    CHECK(g.background == 0);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(a_paced_read_asks_for_half_a_second_of_the_pace_or_50_ru)
{
    _ccopy_governor_t g;
    _ccopy_request_shared_t shared;
    _ccopy_requester_t r = {0};

    /* unpaced: always the configured batch */
    _ccopy_governor_init(&g, 0);
    _ccopy_request_shared_init(&shared, &g);
    r.shared = &shared;
    CHECK_INT(_ccopy_request_read_batch(&r, 1000), 1000);
    atomic_store(&shared.read_doc_mru, 540); /* 0.54 RU a document */
    CHECK_INT(_ccopy_request_read_batch(&r, 1000), 1000);
    _ccopy_governor_destroy(&g);

    /* a budget of 150 RU/s: 75 RU a read, 138 documents of 0.54 RU */
    _ccopy_governor_init(&g, 150);
    _ccopy_request_shared_init(&shared, &g);
    CHECK_INT(_ccopy_request_read_batch(&r, 1000), CCOPY_READ_FIRST_BATCH); /* nothing known */
    CHECK_INT(_ccopy_request_read_batch(&r, 50), 50);
    atomic_store(&shared.read_doc_mru, 540);
    CHECK_INT(_ccopy_request_read_batch(&r, 1000), 138);
    CHECK_INT(_ccopy_request_read_batch(&r, 100), 100); /* never more than configured */
    atomic_store(&shared.read_doc_mru, 500000); /* a 500 RU document still goes, alone */
    CHECK_INT(_ccopy_request_read_batch(&r, 1000), 1);
    _ccopy_governor_destroy(&g);

    /* 10 RU/s: half a second is 5 RU, of which a request's own 1 RU would be a fifth; a read
     * asks for 50 RU, 92 documents of 0.54 RU */
    _ccopy_governor_init(&g, 10);
    _ccopy_request_shared_init(&shared, &g);
    atomic_store(&shared.read_doc_mru, 540);
    CHECK_INT(_ccopy_request_read_batch(&r, 1000), 92);
    CHECK_INT(_ccopy_request_read_batch(&r, 20), 20);
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(the_pause_after_a_throttle_does_not_count_against_the_budget)
{
    /* Paced at 200 RU/s, a throttle asks for 6 s: the server is paying off what was charged
     * before. Three seconds of 150 RU/s follow, then another throttle: the budget is 150, not
     * the 50 a second of the whole 9 s. */
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_seed(&g, 200);
    _ccopy_governor_throttled(&g, 0, 6000); /* within a second of the seeded cut: a pause only */
    CHECK(NEAR(g.rate, 200));
    CHECK(g.paused_since_cut_ms == 6000);
    g.last_cut_ms -= 9000;
    g.last_raise_ms -= 9000;
    g.paused_until_ms = 0;
    g.ru_charged += 450;
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(NEAR(g.throttled_rate, 150));
    CHECK(NEAR(g.rate, 150 * CCOPY_GOVERNOR_CUT));
    CHECK(g.paused_since_cut_ms == 5); /* the new cut's own pause */
    _ccopy_governor_destroy(&g);
}

CCOPY_TEST(time_no_request_waited_for_the_pace_does_not_count_against_the_budget)
{
    /* Paced at 200 RU/s; for 5 of the 9 s since the last cut every worker was at the server
     * (FerretDB scanning for a window's first batch), nobody waited for the pace; 750 RU got
     * through in the other 4: the second of budget the server refilled meanwhile, then 150 a
     * second. The budget is 150, not the 83 a second of the whole 9 s nor the 188 of the 4. */
    _ccopy_governor_t g;
    _ccopy_governor_init(&g, 0);
    _ccopy_governor_seed(&g, 200);
    g.last_cut_ms -= 9000;
    g.last_raise_ms -= 9000;
    g.clock_ms -= 5000; /* the idle clock last ran 5 s ago, and nobody has waited since */
    g.ru_charged += 750;
    _ccopy_governor_throttled(&g, 0, 5);
    CHECK(NEAR(g.throttled_rate, 150));
    CHECK(NEAR(g.rate, 150 * CCOPY_GOVERNOR_CUT));
    CHECK(g.idle_since_cut_ms == 0); /* the new cut starts its own count */
    _ccopy_governor_destroy(&g);
}
