#include <math.h>
#include <string.h>

#include "clock/calendar.h"
#include "forecast/forecast.h"
#include "jobs/render.h"
#include "pattern_rt_errors.h"

static void
job_id(prt_json_t *j, const char *key, const uint8_t id[PRT_JOB_UUID_LEN])
{
    char  text[PRT_JOB_ID_SIZE];

    prt_job_id_format(id, text);
    prt_json_kstr(j, key, text);
}

void
prt_render_interval(prt_json_t *j, const char *key, double lo, double hi)
{
    prt_json_key(j, key);
    if (!isfinite(lo) || !isfinite(hi)) {
        prt_json_null(j);
        return;
    }
    prt_json_array(j);
    prt_json_num(j, lo);
    prt_json_num(j, hi);
    prt_json_array_end(j);
}

/* What prob_up is worth (SPEC 3.1); null in records scanned before the
 * fields were stored. */
static void
render_worth(prt_json_t *j, const prt_pred_rec_t *p)
{
    prt_json_knum(j, "n_eff", p->n_eff);
    prt_render_interval(j, "prob_up_ci", p->prob_up_ci_lo, p->prob_up_ci_hi);
    prt_json_knum(j, "prob_up_calibrated", p->prob_up_cal);
    prt_json_knum(j, "prob_down_calibrated", 1.0 - p->prob_up_cal);
    prt_json_knum(j, "edge_calibrated", p->edge_cal);
    prt_json_kuint(j, "calibration_n", p->calibration_n);
    if (p->status == PRT_PRED_VERIFIED && p->calibration_seq) {
        prt_json_kuint(j, "calibration_seq", p->calibration_seq);
    } else {
        prt_json_knull(j, "calibration_seq");
    }
}

/* A result: edge, prob_up and mean_return are never null (SPEC 5.1); the
 * verification fields are null until the prediction is verified. */
void
prt_render_result(prt_json_t *j, const prt_pred_rec_t *p)
{
    int  verified = p->status == PRT_PRED_VERIFIED;

    prt_json_open(j);
    prt_json_kuint(j, "id", p->id);
    prt_json_kuint(j, "prediction_id", p->id);
    job_id(j, "job_id", p->job);
    prt_json_kstr(j, "symbol", p->symbol);
    prt_json_ktime(j, "scan_time", p->scan_time_ms);
    prt_json_ktime(j, "bar_time", p->bar_time * 1000);
    prt_json_kstr(j, "session", prt_session_name(p->session));
    prt_json_kint(j, "horizon", p->horizon);
    prt_json_knum(j, "prob_up", p->prob_up);
    prt_json_knum(j, "prob_down", p->prob_down);
    prt_json_knum(j, "mean_return", p->mean_return);
    prt_json_knum(j, "edge", p->edge);
    prt_json_kstr(j, "direction", prt_direction_name(p->direction));
    prt_json_kint(j, "n_neighbors", p->n_neighbors);
    prt_json_knum(j, "dist1", p->dist1);
    prt_json_knum(j, "p10", p->p10);
    prt_json_knum(j, "p90", p->p90);
    render_worth(j, p);
    prt_json_knum(j, "price_at_scan", p->price_at_scan);
    prt_json_knum(j, "price_at_horizon", verified ? p->price_at_horizon : NAN);
    prt_json_knum(j, "actual_return", verified ? p->actual_return : NAN);
    if (verified) {
        prt_json_kbool(j, "was_correct", p->was_correct == 1);
    } else {
        prt_json_knull(j, "was_correct");
    }
    prt_json_knum(j, "pnl", verified ? p->pnl : NAN);
    if (p->verified_at_ms) {
        prt_json_ktime(j, "verified_at", p->verified_at_ms);
    } else {
        prt_json_knull(j, "verified_at");
    }
    prt_json_kstr(j, "verification",
                  p->status == PRT_PRED_VERIFIED ? "verified"
                  : p->status == PRT_PRED_UNVERIFIABLE ? "unverifiable"
                  : "pending");
    if (p->status == PRT_PRED_UNVERIFIABLE) {
        prt_json_kstr(j, "verification_error", "E_PRICE");
        prt_json_kstr(j, "verification_reason", p->verify_note);
    }
    prt_json_close(j);
}

static void
bar_count(prt_json_t *j, const char *key, int v)
{
    if (v < 0) {
        prt_json_knull(j, key);
    } else {
        prt_json_kint(j, key, v);
    }
}

void
prt_render_failure(prt_json_t *j, const prt_fail_rec_t *f)
{
    prt_json_open(j);
    prt_json_kstr(j, "symbol", f->symbol);
    prt_json_ktime(j, "scan_time", f->scan_time_ms);
    prt_json_kstr(j, "error_code", prt_error_name((prt_error_t) f->code));
    prt_json_kstr(j, "reason", f->reason);
    bar_count(j, "bars_since_open", f->bars_since_open);
    bar_count(j, "bars_until_close", f->bars_until_close);
    prt_json_close(j);
}

void
prt_render_params(prt_json_t *j, const prt_job_rec_t *job)
{
    static const struct { uint32_t bit; const char *name; } sessions[] = {
        { PRT_SESSION_BIT_PRE, "pre" },
        { PRT_SESSION_BIT_REGULAR, "regular" },
        { PRT_SESSION_BIT_POST, "post" },
    };

    prt_json_open(j);
    prt_json_kint(j, "k", job->f.k);
    prt_json_kint(j, "horizon", job->f.horizon);
    prt_json_knum(j, "alpha", job->f.alpha);
    prt_json_kint(j, "trim_lo", job->f.trim_lo);
    prt_json_kint(j, "trim_hi", job->f.trim_hi);
    prt_json_kbool(j, "exclude_self", job->f.exclude_self);
    prt_json_kbool(j, "cross_asset", job->f.cross_asset);
    prt_json_knum(j, "min_edge", job->min_edge);
    prt_json_key(j, "sessions");
    prt_json_array(j);
    for (size_t i = 0; i < 3; i++) {
        if (job->sessions & sessions[i].bit) {
            prt_json_str(j, sessions[i].name);
        }
    }
    prt_json_array_end(j);
    prt_json_ktime(j, "scan_time", job->scan_time_ms);
    prt_json_close(j);
}

void
prt_render_progress(prt_json_t *j, const prt_job_rec_t *job)
{
    prt_json_open(j);
    prt_json_kuint(j, "completed", job->completed);
    prt_json_kuint(j, "failed", job->failed);
    prt_json_kuint(j, "total", job->total);
    prt_json_close(j);
}

void
prt_render_job_fields(prt_json_t *j, const prt_job_rec_t *job)
{
    job_id(j, "job_id", job->id);
    prt_json_kstr(j, "status", prt_job_status_name(job->status));
    prt_json_key(j, "params");
    prt_render_params(j, job);
    prt_json_key(j, "progress");
    prt_render_progress(j, job);
    prt_json_kuint(j, "total_symbols", job->total);
    prt_json_ktime(j, "started_at", job->started_at_ms);
    if (job->completed_at_ms) {
        prt_json_ktime(j, "completed_at", job->completed_at_ms);
    } else {
        prt_json_knull(j, "completed_at");
    }
    if (job->reason[0]) {
        prt_json_kstr(j, "reason", job->reason);
    }
}

void
prt_render_price_update(prt_json_t *j, const prt_price_subject_t *s,
    double price, int64_t at_ms, int64_t minutes_left)
{
    double  ret = 100.0 * (price / s->price_at_scan - 1.0);
    double  pnl = s->direction == PRT_DIRECTION_UP ? ret : -ret;

    prt_json_open(j);
    prt_json_key(j, "price_update");
    prt_json_open(j);
    prt_json_kuint(j, "prediction_id", s->prediction_id);
    prt_json_kstr(j, "symbol", s->symbol);
    prt_json_knum(j, "current_price", price);
    prt_json_knum(j, "unrealized_return", ret);
    prt_json_knum(j, "unrealized_pnl", pnl);
    prt_json_kbool(j, "is_currently_correct", pnl > 0);
    prt_json_kint(j, "minutes_remaining", minutes_left);
    prt_json_ktime(j, "timestamp", at_ms);
    prt_json_close(j);
    prt_json_close(j);
}
