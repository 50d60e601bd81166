/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The domain table: what the agent knows of each running domain, the
 * action log every module reports to (and the pass report collects),
 * and what the other domains commit to each node. The bottom of the
 * agent: it calls no other agent module but the connection. */
#include "agent/vnuma-agent-private.h"

#include <string.h>

#include "agent/vnuma-agent-report.h"
#include "xml/vnuma-record.h"

/* Its spans' clear function (memory.c) frees what they hold. */
void
vnuma_agent_follow_free(VnumaFollow *follow)
{
    if (!follow)
        return;
    if (follow->spans)
        g_array_unref(follow->spans);
    g_free(follow);
}

void
vnuma_agent_domain_free(gpointer data)
{
    VnumaAgentDomain *d = data;

    g_free(d->uuid);
    g_free(d->name);
    g_free(d->reason);
    g_strfreev(d->warnings);
    vnuma_agent_state_free(d->state);
    if (d->usable)
        g_ptr_array_unref(d->usable);
    if (d->vcpu_times)
        g_array_unref(d->vcpu_times);
    if (d->demand)
        g_array_unref(d->demand);
    if (d->memory)
        g_array_unref(d->memory);
    if (d->cell_vcpus)
        g_ptr_array_unref(d->cell_vcpus);
    if (d->cell_kib)
        g_array_unref(d->cell_kib);
    if (d->spread)
        g_array_unref(d->spread);
    if (d->regions)
        g_ptr_array_unref(d->regions);
    if (d->ram)
        g_array_unref(d->ram);
    vnuma_agent_follow_free(d->follow);
    g_free(d);
}

static void
record_action(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
              GLogLevelFlags level, gboolean failed, const char *format, va_list args)
{
    static const char *const changing[] = { "place", "define", "move", "vcpus", "memory", NULL };
    gboolean changes = g_strv_contains(changing, action);
    gboolean dry = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0;
    g_autofree char *detail = g_strdup_vprintf(format, args);
    VnumaReportAction *a = vnuma_report_action_new(domain, uuid, action, changes && !failed && !dry, failed, detail);

    if (a->failed)
        agent->errors++;
    g_log_structured(G_LOG_DOMAIN, level,
                     "VNUMA_DOMAIN", domain ? domain : "",
                     "VNUMA_ACTION", action,
                     "MESSAGE", "%s%s%s%s: %s", domain ? domain : "", domain ? ": " : "",
                     changes && dry && !a->failed ? "(dry run) " : "", action, a->detail);
    g_ptr_array_add(agent->actions, a);
}

void
vnuma_agent_record(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
                   GLogLevelFlags level, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    record_action(agent, domain, uuid, action, level, FALSE, format, args);
    va_end(args);
}

/* A warning, not glib's CRITICAL: that would abort under
 * G_DEBUG=fatal-criticals, and a failed action is no programming error. */
void
vnuma_agent_record_failure(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
                           const char *format, ...)
{
    va_list args;

    va_start(args, format);
    record_action(agent, domain, uuid, action, G_LOG_LEVEL_WARNING, TRUE, format, args);
    va_end(args);
}

gboolean
vnuma_agent_in_scope(const VnumaAgent *agent, virDomainPtr dom)
{
    return !agent->only || g_hash_table_contains(agent->only, virDomainGetName(dom));
}

VnumaAgentDomain *
vnuma_agent_domain_add(VnumaAgent *agent, const char *uuid, const char *name)
{
    VnumaAgentDomain *d = g_new0(VnumaAgentDomain, 1);

    d->uuid = g_strdup(uuid);
    d->name = g_strdup(name);
    g_hash_table_replace(agent->domains, d->uuid, d);
    return d;
}

void
vnuma_agent_forget(VnumaAgent *agent, const char *uuid)
{
    g_hash_table_remove(agent->domains, uuid);
}

/* Domains in UUID order, so passes and reports are deterministic. */
static gint
compare_uuid(gconstpointer a, gconstpointer b)
{
    return g_strcmp0((*(VnumaAgentDomain *const *) a)->uuid, (*(VnumaAgentDomain *const *) b)->uuid);
}

GPtrArray *
vnuma_agent_sorted_domains(VnumaAgent *agent)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, agent->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(list, value);
    g_ptr_array_sort(list, compare_uuid);
    return list;
}

/* What the other running domains commit to each node: placement's
 * tie-breaker after SLIT distance. Placed domains count their clients
 * on their home nodes; the others (unmanaged, or whose placement
 * failed) their vCPUs where they may run, and their memory likewise. */
static double
sum_doubles(const GArray *values)
{
    double total = 0;

    for (guint i = 0; values && i < values->len; i++)
        total += g_array_index(values, double, i);
    return total;
}

static void
add_spread(GArray *loads, const VnumaAgentDomain *d)
{
    double vcpus = sum_doubles(d->spread);

    for (guint i = 0; d->spread && vcpus > 0 && i < MIN(d->spread->len, loads->len); i++) {
        double share = g_array_index(d->spread, double, i);

        g_array_index(loads, VnumaNodeLoad, i).vcpus += share;
        g_array_index(loads, VnumaNodeLoad, i).memory_kib +=
            (guint64) ((double) d->memory_kib * share / vcpus);
    }
}

GArray *
vnuma_agent_committed_loads(VnumaAgent *agent, const char *except)
{
    GArray *loads = g_array_new(FALSE, TRUE, sizeof(VnumaNodeLoad));
    GHashTableIter iter;
    gpointer value;

    for (guint i = 0; i < agent->host->nodes->len; i++) {
        VnumaNodeLoad load = { .node_id = ((VnumaHostNode *) agent->host->nodes->pdata[i])->id };

        g_array_append_val(loads, load);
    }
    g_hash_table_iter_init(&iter, agent->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const VnumaAgentDomain *d = value;

        if (g_str_equal(d->uuid, except))
            continue;
        if (!vnuma_agent_placed(d)) {
            add_spread(loads, d);
            continue;
        }
        for (guint c = 0; c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint index = vnuma_host_node_index(agent->host, client->home_node);

            if (index < 0)
                continue;
            g_array_index(loads, VnumaNodeLoad, index).vcpus += vnuma_cpuset_count(client->vcpus);
            g_array_index(loads, VnumaNodeLoad, index).memory_kib += client->memory_kib;
        }
    }
    return loads;
}

/* CPUs an unplaced domain used on node index @n over the last period:
 * its measured demand, spread where its vCPUs may run. */
double
vnuma_agent_unplaced_load(const VnumaAgentDomain *d, guint n)
{
    double vcpus = sum_doubles(d->spread);

    if (vnuma_agent_placed(d) || !d->demand || vcpus <= 0 || n >= d->spread->len)
        return 0;
    return sum_doubles(d->demand) * g_array_index(d->spread, double, n) / vcpus;
}

/* A failed libvirt step on @dom: forget a domain that vanished, report
 * anything else. */
void
vnuma_agent_step_failed(VnumaAgent *agent, virDomainPtr dom, const char *name, const char *uuid,
            const char *action, const char *message)
{
    /* @message may be libvirt's last error, which the next call frees;
     * @name and @uuid may be the table entry's, which forget frees. */
    g_autofree char *copy = g_strdup(message);
    g_autofree char *name_copy = g_strdup(name);
    g_autofree char *uuid_copy = g_strdup(uuid);

    if (vnuma_agent_domain_gone(agent, dom)) {
        vnuma_agent_forget(agent, uuid_copy);
        vnuma_agent_record(agent, name_copy, uuid_copy, "forget", G_LOG_LEVEL_INFO, "stopped during %s", action);
        return;
    }
    vnuma_agent_record_failure(agent, name_copy, uuid_copy, action, "%s", copy);
}
