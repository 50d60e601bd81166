/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measurement of CPU: each pass's vCPU times give each domain's demand
 * (what the rebalancer weighs), and a grown vCPU count means hot-added
 * vCPUs to pin. Memory is measured in vnuma-agent-memory.c. */
#include "agent/vnuma-agent-private.h"

#include "agent/vnuma-agent-hotadd.h"
#include "agent/vnuma-agent-plan.h"
#include "lib/vnuma-demand.h"
#include "xml/vnuma-record.h"

/* vCPUs hot-added since the last pass (current count grew): pinned to
 * their clients' home nodes, by applying the state again. */
static void
pin_hot_added(VnumaAgent *agent, VnumaAgentDomain *d, virDomainStatsRecordPtr stats, guint current)
{
    g_autoptr(VnumaAgentState) again = vnuma_agent_state_copy(d->state);
    g_autoptr(GError) error = NULL;
    guint before = d->vcpus_current;
    g_autoptr(VnumaCpuSet) widen = NULL;
    guint rehomed = vnuma_agent_rehome_hot_added(agent->host, d->usable, again, before, current,
                                                 vnuma_agent_now_s());

    d->vcpus_current = current;
    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        vnuma_agent_record(agent, d->name, d->uuid, "vcpus", G_LOG_LEVEL_MESSAGE,
               "vCPUs %u-%u hot-added: would pin them to their clients' home nodes", before, current - 1);
        return;
    }
    /* Headroom homed with the online clients gets its own node now; its
     * memory follows as after a move. */
    if (rehomed && vnuma_agent_follows_memory(agent, d))
        widen = vnuma_agent_memory_nodes(agent->host, d->state);
    if (!vnuma_agent_apply_state(agent, stats->dom, d, again, d->state, FALSE, widen, &error)) {
        vnuma_agent_step_failed(agent, stats->dom, d->name, d->uuid, "vcpus", error->message);
        return;
    }
    vnuma_agent_state_free(d->state);
    d->state = g_steal_pointer(&again);
    if (widen) {
        vnuma_agent_follow_free(d->follow);
        d->follow = vnuma_agent_follow_new(agent, "the move");
    }
    vnuma_agent_record(agent, d->name, d->uuid, "vcpus", G_LOG_LEVEL_MESSAGE,
           "vCPUs %u-%u hot-added: pinned to their clients' home nodes (%u client(s) of hot-plug "
           "headroom given a node of their own)", before, current - 1, rehomed);
    /* The line above is the logged decision the memory follows. */
    if (d->follow && widen)
        d->follow->decided = TRUE;
}

void
vnuma_agent_measure_cpu(VnumaAgent *agent)
{
    virDomainStatsRecordPtr *records = NULL;
    gint64 now = g_get_monotonic_time();
    int n = virConnectGetAllDomainStats(agent->conn, VIR_DOMAIN_STATS_VCPU, &records,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);

    if (n < 0) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "MESSAGE", "no vCPU stats: %s",
                         vnuma_virt_error_message());
        return;
    }
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        VnumaAgentDomain *d;
        GArray *times;
        guint current = 0;

        if (virDomainGetUUIDString(records[i]->dom, uuid) < 0 ||
            !(d = g_hash_table_lookup(agent->domains, uuid)) || (!vnuma_agent_placed(d) && !d->spread))
            continue;
        times = vnuma_vcpu_times_new();
        for (int p = 0; p < records[i]->nparams; p++) {
            const virTypedParameter *param = &records[i]->params[p];

            if (param->type == VIR_TYPED_PARAM_ULLONG)
                vnuma_vcpu_times_add_field(times, param->field, param->value.ul);
            else if (param->type == VIR_TYPED_PARAM_UINT && g_str_equal(param->field, "vcpu.current"))
                current = param->value.ui;
        }
        g_clear_pointer(&d->demand, g_array_unref);
        /* The first sample has nothing to compare with: no demand yet
         * (a zero would drag the rebalancer's average down). */
        if (d->vcpu_times) {
            d->demand = vnuma_vcpu_demand(d->vcpu_times, times, (double) (now - d->sampled) / G_USEC_PER_SEC);
            g_array_unref(d->vcpu_times);
        }
        d->vcpu_times = times;
        d->sampled = now;
        if (vnuma_agent_placed(d) && !d->planned_only && current > d->vcpus_current && d->vcpus_current > 0)
            pin_hot_added(agent, d, records[i], current);
        else if (current)
            d->vcpus_current = current;
    }
    virDomainStatsRecordListFree(records);
}
