/*
 * report.c - what shmkv-bench prints: the header, a block per phase of each
 * run as it ends, medians over the runs; or all of it as JSON (--json); and
 * a TSV line per system and phase (--tsv, read by bench/compare.sh and
 * bench/cache.sh).
 */
#include "bench.h"
#include "shmkv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- text ---------------------------------------------------------------- */

static const char *const mix_op_name[] = { [MIX_DELPUT] = "delete+put", [MIX_PUT] = "put",
                                           [MIX_INCR] = "incr" };

static double mops_of(const struct measure *m)
{
    return m && m->secs > 0 ? (double)m->total / m->secs / 1e6 : 0;
}

/* The workers' CPU time per operation, us: what an operation costs even
 * where other jobs share the CPUs, when wall-clock rates say little. */
static double cpu_us_of(const struct measure *m)
{
    return m && m->total ? m->cpu / (double)m->total * 1e6 : 0;
}

void report_header(const struct bench *b)
{
    const struct config *cfg = &b->cfg;
    printf("# shmkv-bench: %d procs x %d thread%s, %" PRIu64 " keys, key ", cfg->procs,
           cfg->threads, cfg->threads > 1 ? "s" : "", cfg->nkeys);
    if (cfg->key.min == cfg->key.max)
        printf("%zu B", cfg->key.min);
    else
        printf("%zu-%zu B", cfg->key.min, cfg->key.max);
    if (cfg->mix_op == MIX_INCR)
        printf(", values counters (decimal text)");
    else if (cfg->val.min == cfg->val.max)
        printf(", value %zu B", cfg->val.min);
    else
        printf(", value %zu-%zu B", cfg->val.min, cfg->val.max);
    printf(", keys %s", cfg->zipf ? "Zipf" : "uniform");
    if (cfg->zipf)
        printf(" s=%.2f", cfg->zipf_s);
    if (cfg->phase_on[PH_MIX]) {
        printf(", MIX %.0f%% get ", cfg->mix_get * 100);
        if (cfg->mix_ops)
            printf("for %" PRIu64 " steps", cfg->mix_ops);
        else
            printf("for %.3g s", cfg->mix_seconds);
        printf(", updates by %s", mix_op_name[cfg->mix_op]);
    }
    if (cfg->put_batch > 1)
        printf(", puts in batches of %u", cfg->put_batch);
    if (cfg->batch > 1)
        printf(", gets in batches of %u", cfg->batch);
    printf(", %d run%s, %ld cpus, files in %s%s%s\n", b->cfg.runs, b->cfg.runs > 1 ? "s" : "",
           sysconf(_SC_NPROCESSORS_ONLN), cfg->dir, cfg->presize ? ", shmkv presized" : "",
           cfg->prefault ? "" : ", no prefault");
    if (cfg->cache_pct > 0)
        printf("# cache mode (--cache %g): working set %" PRIu64 " bytes as a store holds "
               "them; shmkv-cache max_bytes %" PRIu64 " (%.1f %%)%s; memcached -m %" PRIu64 " MiB without -M "
               "(evicting); a get that misses, or a delete that finds nothing, is no error "
               "for these\n", cfg->cache_pct, cfg->ws_bytes, cfg->cache_bytes,
               100.0 * (double)cfg->cache_bytes / (double)cfg->ws_bytes,
               cfg->cache_bytes == SHMKV_MIN_BYTES ? " (SHMKV_MIN_BYTES)" : "", cfg->cache_mc_mib);
    printf("# systems:");
    for (int i = 0; i < b->sys.n; i++)
        printf("%s %s%s%s%s", i ? ";" : "", b->sys.d[i].name,
               b->sys.d[i].ops->version ? " (" : "",
               b->sys.d[i].ops->version ? b->sys.d[i].ops->version() : "",
               b->sys.d[i].ops->version ? ")" : "");
    if (b->sys.skipped[0])
        printf("\n# not available here: %s", b->sys.skipped);
    printf("\n# latency: every %u%s operation timed with clock_gettime(CLOCK_MONOTONIC) "
           "at %.1f ns a call (%.2f ns per operation on average); batches and pipelines "
           "are timed as a whole\n", cfg->sample, cfg->sample == 1 ? "" :
           cfg->sample % 10 == 1 && cfg->sample % 100 != 11 ? "st" :
           cfg->sample % 10 == 2 && cfg->sample % 100 != 12 ? "nd" :
           cfg->sample % 10 == 3 && cfg->sample % 100 != 13 ? "rd" : "th",
           b->timer_ns, 2 * b->timer_ns / cfg->sample);
    fflush(stdout);
}

static int prec_of(double v)
{
    return v >= 0.995 ? 2 : v >= 0.00995 ? 3 : 5;
}

static void print_lat(const char *indent, const struct hist *h, const char *what)
{
    if (!h->count)
        return;
    printf("%s%s  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f us  (%" PRIu64 " timed)\n", indent,
           what, hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99),
           hist_quantile_us(h, 0.999), (double)h->max_ns / 1000.0, h->count);
}

void report_phase(const struct bench *b, const struct sysdef *sd, enum phase ph,
                  const struct measure *m, int run)
{
    const char *ind = "                ";
    double total = mops_of(m);
    int prec = prec_of(total);
    printf("%-13s %s %10" PRIu64 " ops %9.*f M ops/s  [", sd->name, ph_name[ph], m->total,
           prec, total);
    for (int w = 0; w < b->cfg.workers; w++)
        printf("%s%.*f", w ? " " : "", prec, m->wmops ? m->wmops[w] : 0.0);
    printf("]");
    if (m->bpp > 0)
        printf("  %.1f B/pair", m->bpp);
    if (m->total)
        printf("  %.2f faults/op  %.3f us CPU/op", (double)m->faults / (double)m->total,
               cpu_us_of(m));
    if (b->cfg.runs > 1)
        printf("  [run %d/%d]", run + 1, b->cfg.runs);
    if (!m->ok)
        printf("  FAILED");
    printf("\n");
    for (int t = 0; t < NOPT; t++)
        print_lat(ind, &m->lat[t], op_name[t]);
    if (ph == PH_MIX && m->ops[OP_INCR])
        printf("%s%" PRIu64 " gets, %" PRIu64 " increments, each result checked; ", ind,
               m->ops[OP_GET], m->ops[OP_INCR]);
    else if (ph == PH_MIX)
        printf("%s%" PRIu64 " gets, %" PRIu64 " deletes, %" PRIu64 " puts; ", ind,
               m->ops[OP_GET], m->ops[OP_DEL], m->ops[OP_PUT]);
    if (ph == PH_MIX || ph == PH_GET) {
        printf("%s%" PRIu64 " values checked, %" PRIu64 " wrong", ph == PH_GET ? ind : "",
               m->checked, m->wrong);
        if (sd->cache)
            printf(", %" PRIu64 " misses (hit ratio %.1f %%)", m->misses,
                   m->ops[OP_GET] ? 100.0 * (double)(m->ops[OP_GET] - m->misses) /
                                        (double)m->ops[OP_GET] : 0.0);
        if (ph == PH_MIX)
            printf(", %" PRIu64 " raced an update (%" PRIu64 " absent, %" PRIu64
                   " another version)", m->absent_race + m->other_ver, m->absent_race,
                   m->other_ver);
        printf("\n");
    }
    if (ph == PH_DEL)
        printf("%s%" PRIu64 " deletes, %" PRIu64 " found nothing%s\n", ind, m->ops[OP_DEL],
               m->wrong + m->del_absent, sd->cache ? " (evicted)" : "");
    if (m->have_si && (ph == PH_PUT || ph == PH_MIX) && m->si.detail[0])
        printf("%s%s\n", ind, m->si.detail);
    fflush(stdout);
}

/* ---- over the runs ----------------------------------------------------- */

/* One system's phase over the runs that reached it. */
struct summary {
    int runs, ok;
    double mops, mops_lo, mops_hi;     /* median, min, max */
    double bpp;                        /* median */
    double cpu_us;                     /* median CPU us per operation */
    uint64_t wrong, gets, misses;      /* all runs' */
    struct hist lat[NOPT];             /* all runs' samples */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median (and min, max) of the n > 0 values v, which it sorts. */
static double median(double *v, int n, double *lo, double *hi)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    *lo = v[0];
    *hi = v[n - 1];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Returns 0 if no run reached the phase. */
static int summarize(const struct bench *b, int sys, enum phase ph, struct summary *s)
{
    double mops[MAX_RUNS], bpp[MAX_RUNS], cpu[MAX_RUNS], lo, hi;
    memset(s, 0, sizeof *s);
    s->ok = 1;
    for (int r = 0; r < b->cfg.runs; r++) {
        const struct measure *m = b->meas[sys][ph][r];
        if (!m)
            continue;
        mops[s->runs] = mops_of(m);
        bpp[s->runs] = m->bpp;
        cpu[s->runs] = cpu_us_of(m);
        s->runs++;
        s->ok &= m->ok;
        s->wrong += m->wrong;
        s->gets += m->ops[OP_GET];
        s->misses += m->misses;
        for (int t = 0; t < NOPT; t++)
            hist_merge(&s->lat[t], &m->lat[t]);
    }
    if (!s->runs)
        return 0;
    s->mops = median(mops, s->runs, &s->mops_lo, &s->mops_hi);
    s->bpp = median(bpp, s->runs, &lo, &hi);
    s->cpu_us = median(cpu, s->runs, &lo, &hi);
    return 1;
}

void report_summary(const struct bench *b)
{
    printf("# medians of %d runs (min, max); latency over all runs' samples, us\n", b->cfg.runs);
    for (int sys = 0; sys < b->sys.n; sys++)
        for (int ph = 0; ph < NPH; ph++) {
            struct summary s;
            if (!summarize(b, sys, (enum phase)ph, &s))
                continue;
            int prec = prec_of(s.mops);
            printf("%-13s %s median %.*f M ops/s (%.*f, %.*f), CPU %.3f us/op", b->sys.d[sys].name,
                   ph_name[ph], prec, s.mops, prec, s.mops_lo, prec, s.mops_hi, s.cpu_us);
            for (int t = 0; t < NOPT; t++) {
                const struct hist *h = &s.lat[t];
                if (h->count)
                    printf("  %s p50 %.2f p99 %.2f p99.9 %.2f max %.2f", op_name[t],
                           hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99),
                           hist_quantile_us(h, 0.999), (double)h->max_ns / 1000.0);
            }
            printf("\n");
        }
}

/* ---- JSON and TSV ----------------------------------------------------- */

static void json_lat(const struct hist *h)
{
    printf("{\"samples\": %" PRIu64 ", \"mean\": %.3f, \"p50\": %.3f, \"p99\": %.3f, "
           "\"p999\": %.3f, \"max\": %.3f}", h->count,
           h->count ? (double)h->sum_ns / (double)h->count / 1000.0 : 0.0,
           hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99), hist_quantile_us(h, 0.999),
           (double)h->max_ns / 1000.0);
}

/* {"get": {...}, ...} of the types that have samples. */
static void json_lats(const struct hist lat[NOPT])
{
    const char *sep = "";
    printf("{");
    for (int t = 0; t < NOPT; t++)
        if (lat[t].count) {
            printf("%s\"%s\": ", sep, op_name[t]);
            json_lat(&lat[t]);
            sep = ", ";
        }
    printf("}");
}

static void print_config_json(const struct bench *b)
{
    const struct config *cfg = &b->cfg;
    printf("  \"shmkv_version\": \"%s\",\n  \"procs\": %d,\n  \"threads\": %d,\n"
           "  \"keys\": %" PRIu64 ",\n  \"key_size\": [%zu, %zu],\n  \"val_size\": [%zu, %zu],\n"
           "  \"runs\": %d,\n  \"presize\": %s,\n  \"prefault\": %s,\n  \"batch\": %u,\n"
           "  \"put_batch\": %u,\n  \"op\": \"%s\",\n  \"pipeline\": %u,\n"
           "  \"dist\": \"%s\",\n  \"zipf_s\": %.3f,\n  \"mix_get\": %.4f,\n"
           "  \"mix_seconds\": %.3f,\n  \"mix_ops\": %" PRIu64 ",\n  \"cpus\": %ld,\n"
           "  \"timer\": {\"clock\": \"CLOCK_MONOTONIC\", \"ns_per_call\": %.1f, "
           "\"sample_every\": %u},\n", SHMKV_VERSION_STRING, cfg->procs, cfg->threads,
           cfg->nkeys, cfg->key.min, cfg->key.max, cfg->val.min, cfg->val.max, cfg->runs,
           cfg->presize ? "true" : "false", cfg->prefault ? "true" : "false", cfg->batch,
           cfg->put_batch, mix_op_name[cfg->mix_op], cfg->pipeline,
           cfg->zipf ? "zipf" : "uniform", cfg->zipf_s, cfg->mix_get, cfg->mix_seconds,
           cfg->mix_ops, sysconf(_SC_NPROCESSORS_ONLN), b->timer_ns, cfg->sample);
    printf("  \"cache_pct\": %.3f,\n  \"working_set_bytes\": %" PRIu64 ",\n"
           "  \"cache_max_bytes\": %" PRIu64 ",\n  \"cache_memcached_mib\": %" PRIu64 ",\n",
           cfg->cache_pct, cfg->ws_bytes, cfg->cache_bytes, cfg->cache_mc_mib);
    printf("  \"systems\": [");
    for (int i = 0; i < b->sys.n; i++)
        printf("%s{\"name\": \"%s\", \"version\": \"%s\", \"depth\": %u, \"pipelined\": %s, "
               "\"cache\": %s}", i ? ", " : "", b->sys.d[i].name,
               b->sys.d[i].ops->version ? b->sys.d[i].ops->version() : "",
               b->sys.d[i].depth, b->sys.d[i].pipelined ? "true" : "false",
               b->sys.d[i].cache ? "true" : "false");
    printf("],\n");
}

/* One run of one system's phase. */
static void json_result(const struct bench *b, int sys, enum phase ph, int run,
                        const struct measure *m)
{
    printf("\n    {\"system\": \"%s\", \"phase\": \"%s\", \"run\": %d, "
           "\"ok\": %s, \"seconds\": %.6f, \"ops\": %" PRIu64 ", \"mops\": %.4f, "
           "\"ops_by_type\": {\"get\": %" PRIu64 ", \"put\": %" PRIu64
           ", \"del\": %" PRIu64 ", \"incr\": %" PRIu64 "}, \"worker_mops\": [",
           b->sys.d[sys].name, ph_name[ph], run + 1, m->ok ? "true" : "false", m->secs, m->total,
           mops_of(m), m->ops[OP_GET], m->ops[OP_PUT], m->ops[OP_DEL], m->ops[OP_INCR]);
    for (int w = 0; w < b->cfg.workers; w++)
        printf("%s%.4f", w ? ", " : "", m->wmops ? m->wmops[w] : 0.0);
    printf("], \"checks\": {\"values_checked\": %" PRIu64 ", \"wrong\": %" PRIu64
           ", \"absent_during_update\": %" PRIu64
           ", \"other_version_during_update\": %" PRIu64 ", \"cache_misses\": %"
           PRIu64 ", \"cache_deletes_absent\": %" PRIu64 "}, "
           "\"page_faults\": %" PRIu64 ", \"cpu_seconds\": %.6f, \"cpu_us_per_op\": %.4f, "
           "\"latency_us\": ", m->checked, m->wrong, m->absent_race, m->other_ver, m->misses,
           m->del_absent, m->faults, m->cpu, cpu_us_of(m));
    json_lats(m->lat);
    if (m->have_si)
        printf(", \"memory\": {\"what\": \"%s\", \"bytes\": %" PRIu64 ", \"rss\": %"
               PRIu64 ", \"bytes_per_pair\": %.2f}, \"stats\": %s",
               m->si.mem_what ? m->si.mem_what : "", m->si.mem_bytes, m->si.rss,
               m->bpp, m->si.json[0] ? m->si.json : "{}");
    printf("}");
}

void report_json(const struct bench *b)
{
    printf("{\n");
    print_config_json(b);
    printf("  \"results\": [");
    const char *sep = "";
    for (int r = 0; r < b->cfg.runs; r++)
        for (int sys = 0; sys < b->sys.n; sys++)
            for (int ph = 0; ph < NPH; ph++)
                if (b->meas[sys][ph][r]) {
                    printf("%s", sep);
                    json_result(b, sys, (enum phase)ph, r, b->meas[sys][ph][r]);
                    sep = ",";
                }
    printf("\n  ],\n  \"summary\": [");
    sep = "";
    for (int sys = 0; sys < b->sys.n; sys++)
        for (int ph = 0; ph < NPH; ph++) {
            struct summary s;
            if (!summarize(b, sys, (enum phase)ph, &s))
                continue;
            printf("%s\n    {\"system\": \"%s\", \"phase\": \"%s\", \"runs\": %d, \"ok\": %s, "
                   "\"mops_median\": %.4f, \"mops_min\": %.4f, \"mops_max\": %.4f, "
                   "\"bytes_per_pair\": %.2f, \"cpu_us_per_op_median\": %.4f, \"latency_us\": ",
                   sep, b->sys.d[sys].name, ph_name[ph], s.runs, s.ok ? "true" : "false", s.mops,
                   s.mops_lo, s.mops_hi, s.bpp, s.cpu_us);
            sep = ",";
            json_lats(s.lat);
            printf("}");
        }
    printf("\n  ]\n}\n");
}

static void tsv_lat_names(FILE *f, enum optype t)
{
    fprintf(f, "\t%s_p50\t%s_p99\t%s_p999\t%s_max", op_name[t], op_name[t], op_name[t],
            op_name[t]);
}

static void tsv_lat(FILE *f, const struct hist *h)
{
    if (!h->count)
        fprintf(f, "\t-\t-\t-\t-");
    else
        fprintf(f, "\t%.3f\t%.3f\t%.3f\t%.3f", hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99),
                hist_quantile_us(h, 0.999), (double)h->max_ns / 1000.0);
}

/* One line per system and phase: medians over the runs, latency (us) over
 * all runs' samples; "-" where there is none.  The columns of incr and the
 * CPU time come last, so those of the scripts that read the file stay
 * where they were. */
int report_tsv(const struct bench *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "shmkv-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "system\tphase\truns\tok\tmops\tmops_min\tmops_max\tbytes_per_pair\twrong");
    for (int t = 0; t < OP_INCR; t++)
        tsv_lat_names(f, (enum optype)t);
    fprintf(f, "\tcache\tgets\tmisses");
    tsv_lat_names(f, OP_INCR);
    fprintf(f, "\tcpu_us_per_op\n");
    for (int sys = 0; sys < b->sys.n; sys++)
        for (int ph = 0; ph < NPH; ph++) {
            struct summary s;
            if (!summarize(b, sys, (enum phase)ph, &s))
                continue;
            fprintf(f, "%s\t%s\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.2f\t%" PRIu64, b->sys.d[sys].name,
                    ph_name[ph], s.runs, s.ok, s.mops, s.mops_lo, s.mops_hi, s.bpp, s.wrong);
            for (int t = 0; t < OP_INCR; t++)
                tsv_lat(f, &s.lat[t]);
            fprintf(f, "\t%d\t%" PRIu64 "\t%" PRIu64, b->sys.d[sys].cache, s.gets, s.misses);
            tsv_lat(f, &s.lat[OP_INCR]);
            fprintf(f, "\t%.4f\n", s.cpu_us);
        }
    return fclose(f) == 0 ? 0 : -1;
}
