/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Applying a state (home nodes) to a running domain through libvirt:
 * pins, nodeset and the agent's record, all or nothing (docs/agent.md,
 * "All or nothing"), and the test-only fault points on that path. */
#include "agent/vnuma-agent-private.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vnuma-error.h"

VNUMA_ENUM_IMPL(vnuma_agent_fault, VnumaAgentFault, VNUMA_AGENT_FAULT_LAST,
                "", "stop-before-apply", "stop-after-pins", "fail-record");

VnumaAgentFault
vnuma_agent_read_fault(void)
{
    const char *value = getenv("VNUMA_AGENT_FAULT");
    gint fault = value && value[0] ? vnuma_agent_fault_from_string(value) : -1;

    if (fault <= VNUMA_AGENT_FAULT_NONE)
        return VNUMA_AGENT_FAULT_NONE;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                     "test fault point armed: VNUMA_AGENT_FAULT=%s", value);
    return (VnumaAgentFault) fault;
}

/* A fault point: the process stops itself, for a test to act meanwhile
 * (destroy the domain, kill libvirtd, SIGKILL the agent). */
static void
fault_stop(VnumaAgent *agent, VnumaAgentFault point, const char *where)
{
    if (agent->fault != point)
        return;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "test fault point: stopping %s", where);
    raise(SIGSTOP);
}

unsigned char *
vnuma_agent_cpumap_new(const VnumaAgent *agent, const VnumaCpuSet *cpus)
{
    unsigned char *map = g_new0(unsigned char, agent->cpumap_len);

    VNUMA_CPUSET_FOREACH(cpus, id) {
        if (id < agent->cpumap_len * 8)
            VIR_USE_CPU(map, id);
    }
    return map;
}

/* The CPUs of a client's home node as this domain may use them. */
static const VnumaCpuSet *
home_cpus(const VnumaAgent *agent, const VnumaAgentDomain *d, guint home_node)
{
    gint index = vnuma_host_node_index(agent->host, home_node);

    return index < 0 ? NULL : d->usable->pdata[index];
}

/* The first @online vCPUs, counted from vCPU 0, whose live pin is their
 * client's home node; the rest were hot-added since the state was
 * applied (or are not the agent's). */
guint
vnuma_agent_vcpus_on_home(const VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d,
                          guint online)
{
    g_autofree unsigned char *maps = g_new0(unsigned char, (gsize) MAX(online, 1) * agent->cpumap_len);
    int n = virDomainGetVcpuPinInfo(dom, (int) online, maps, agent->cpumap_len, VIR_DOMAIN_AFFECT_LIVE);

    for (int v = 0; v < n; v++) {
        const VnumaCpuSet *cpus = NULL;
        g_autofree unsigned char *want = NULL;

        for (guint c = 0; c < d->state->clients->len && !cpus; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);

            if (vnuma_cpuset_contains(client->vcpus, (guint) v))
                cpus = home_cpus(agent, d, client->home_node);
        }
        if (!cpus)
            return (guint) v;
        want = vnuma_agent_cpumap_new(agent, cpus);
        if (memcmp(want, maps + (gsize) v * agent->cpumap_len, agent->cpumap_len) != 0)
            return (guint) v;
    }
    return n < 0 ? online : (guint) n;
}

/* A vCPU not online yet (hot-pluggable, beyond the current count) may
 * refuse a live pin; it is pinned when it comes (see measure_cpu). */
static gboolean
vcpu_offline(const VnumaAgentDomain *d, int vcpu)
{
    return d->vcpus_current > 0 && (guint) vcpu >= d->vcpus_current;
}

static gboolean
pin_vcpus(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d, const VnumaAgentState *state,
          GError **error)
{
    g_autoptr(VnumaCpuSet) emulator = vnuma_cpuset_new();

    for (guint c = 0; c < state->clients->len; c++) {
        const VnumaAgentClient *client = &g_array_index(state->clients, VnumaAgentClient, c);
        const VnumaCpuSet *cpus = home_cpus(agent, d, client->home_node);
        g_autofree unsigned char *map = NULL;

        if (!cpus || vnuma_cpuset_is_empty(cpus)) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "node %u has no usable CPU",
                        client->home_node);
            return FALSE;
        }
        map = vnuma_agent_cpumap_new(agent, cpus);
        vnuma_cpuset_union(emulator, cpus);
        VNUMA_CPUSET_FOREACH(client->vcpus, vcpu) {
            if (virDomainPinVcpuFlags(dom, (unsigned int) vcpu, map, agent->cpumap_len,
                                      agent->pin_flags) < 0 && !vcpu_offline(d, vcpu)) {
                vnuma_virt_set_error(error, "pinning vCPU %d", vcpu);
                return FALSE;
            }
        }
    }
    g_autofree unsigned char *map = vnuma_agent_cpumap_new(agent, emulator);
    if (virDomainPinEmulator(dom, map, agent->cpumap_len, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vnuma_virt_set_error(error, "pinning the emulator");
        return FALSE;
    }
    return TRUE;
}

/* The memory nodeset of a running domain. libvirt allows the change only
 * without a <numatune> yet or in mode restrictive; setting it without
 * one makes the mode strict and locks it, so the first change also asks
 * for restrictive. */
gboolean
vnuma_agent_set_nodeset(virDomainPtr dom, const VnumaCpuSet *nodes, gboolean numatune_absent, GError **error)
{
    g_autofree char *nodeset = vnuma_cpuset_format(nodes);
    virTypedParameterPtr params = NULL;
    int n_params = 0, max_params = 0;
    gboolean ok;

    ok = virTypedParamsAddString(&params, &n_params, &max_params, VIR_DOMAIN_NUMA_NODESET, nodeset) == 0 &&
         (!numatune_absent ||
          virTypedParamsAddInt(&params, &n_params, &max_params, VIR_DOMAIN_NUMA_MODE,
                               VIR_DOMAIN_NUMATUNE_MEM_RESTRICTIVE) == 0) &&
         virDomainSetNumaParameters(dom, params, n_params, VIR_DOMAIN_AFFECT_LIVE) == 0;
    if (!ok)
        vnuma_virt_set_error(error, "memory nodeset %s refused", nodeset);
    virTypedParamsFree(params, n_params);
    return ok;
}

/* Whether the agent changes this domain's nodeset at all. */
gboolean
vnuma_agent_nodeset_applies(const VnumaAgent *agent, const VnumaAgentDomain *d)
{
    return agent->nodeset_possible && d->nodeset_live &&
           agent->config->settings.memory_mode == VNUMA_MEMORY_MODE_RESTRICTIVE;
}

static gboolean
write_record(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentState *state, GError **error)
{
    g_autofree char *record_xml = vnuma_agent_state_format(state);

    if (agent->fault == VNUMA_AGENT_FAULT_FAIL_RECORD && !state->pending) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO,
                    "saving the record: refused (test fault point VNUMA_AGENT_FAULT=fail-record)");
        return FALSE;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, record_xml, VNUMA_AGENT_PREFIX,
                             VNUMA_AGENT_NAMESPACE, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vnuma_virt_set_error(error, "saving the record");
        return FALSE;
    }
    return TRUE;
}

VnumaAgentState *
vnuma_agent_read_record(virDomainPtr dom, GError **error)
{
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VNUMA_AGENT_NAMESPACE,
                                                VIR_DOMAIN_AFFECT_LIVE);

    if (!xml)
        return NULL;   /* VIR_ERR_NO_DOMAIN_METADATA: never placed */
    return vnuma_agent_state_parse(xml, error);
}

/* The record, complete: with the digest of the pins as libvirt now
 * reports them, which is how a later pass knows they are the agent's. */
gboolean
vnuma_agent_save_record(VnumaAgent *agent, virDomainPtr dom, VnumaAgentState *state, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);

    if (!xml) {
        vnuma_virt_set_error(error, "reading the pins back");
        return FALSE;
    }
    g_free(state->pins_digest);
    if (!(state->pins_digest = vnuma_agent_pins_digest(xml, strlen(xml), error)))
        return FALSE;
    state->pending = FALSE;
    return write_record(agent, dom, state, error);
}

/* The pins and nodeset a domain had before an apply, to roll back to.
 * A part libvirt would not report (the test driver has no emulator pin
 * info) is restored as unpinned: all CPUs. */
typedef struct {
    unsigned char *vcpus;        /* n_vcpus maps; NULL: not read */
    int n_vcpus;
    unsigned char *emulator;     /* NULL: not read */
    char *nodeset;               /* NULL: not read */
} PinSnapshot;

static void
pin_snapshot_clear(PinSnapshot *snap)
{
    g_free(snap->vcpus);
    g_free(snap->emulator);
    g_free(snap->nodeset);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PinSnapshot, pin_snapshot_clear)

static guint
state_max_vcpus(const VnumaAgentState *state)
{
    gint last = -1;

    for (guint c = 0; c < state->clients->len; c++)
        last = MAX(last, vnuma_cpuset_last(g_array_index(state->clients, VnumaAgentClient, c).vcpus));
    return (guint) (last + 1);
}

static char *
read_nodeset(virDomainPtr dom)
{
    virTypedParameterPtr params = NULL;
    int n_params = 0;
    const char *nodeset = NULL;
    char *copy = NULL;

    if (virDomainGetNumaParameters(dom, NULL, &n_params, VIR_DOMAIN_AFFECT_LIVE) < 0 || n_params <= 0)
        return NULL;
    params = g_new0(virTypedParameter, n_params);
    if (virDomainGetNumaParameters(dom, params, &n_params, VIR_DOMAIN_AFFECT_LIVE) == 0 &&
        virTypedParamsGetString(params, n_params, VIR_DOMAIN_NUMA_NODESET, &nodeset) == 1 && nodeset)
        copy = g_strdup(nodeset);
    virTypedParamsClear(params, n_params);
    g_free(params);
    return copy;
}

static void
read_snapshot(const VnumaAgent *agent, virDomainPtr dom, guint max_vcpus, PinSnapshot *snap)
{
    snap->vcpus = g_new0(unsigned char, (gsize) max_vcpus * agent->cpumap_len);
    snap->n_vcpus = virDomainGetVcpuPinInfo(dom, (int) max_vcpus, snap->vcpus, agent->cpumap_len,
                                            VIR_DOMAIN_AFFECT_LIVE);
    if (snap->n_vcpus < 0)
        g_clear_pointer(&snap->vcpus, g_free);
    snap->emulator = g_new0(unsigned char, agent->cpumap_len);
    if (virDomainGetEmulatorPinInfo(dom, snap->emulator, agent->cpumap_len, VIR_DOMAIN_AFFECT_LIVE) < 0)
        g_clear_pointer(&snap->emulator, g_free);
    snap->nodeset = read_nodeset(dom);
}

static gboolean
restore_snapshot(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d, const PinSnapshot *snap,
                 guint max_vcpus, gboolean nodeset_changed, GError **error)
{
    g_autofree unsigned char *all = vnuma_agent_cpumap_new(agent, agent->host_cpus);

    for (guint v = 0; v < max_vcpus; v++) {
        const unsigned char *map = snap->vcpus && (int) v < snap->n_vcpus
                                   ? snap->vcpus + (gsize) v * agent->cpumap_len : all;

        if (virDomainPinVcpuFlags(dom, v, (unsigned char *) map, agent->cpumap_len, agent->pin_flags) < 0 &&
            !vcpu_offline(d, (int) v)) {
            vnuma_virt_set_error(error, "restoring vCPU %u's pins", v);
            return FALSE;
        }
    }
    if (virDomainPinEmulator(dom, snap->emulator ? snap->emulator : all, agent->cpumap_len,
                             VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vnuma_virt_set_error(error, "restoring the emulator's pins");
        return FALSE;
    }
    if (nodeset_changed && snap->nodeset) {
        g_autoptr(VnumaCpuSet) nodes = vnuma_cpuset_parse(snap->nodeset, NULL);

        if (nodes && !vnuma_cpuset_is_empty(nodes) && !vnuma_agent_set_nodeset(dom, nodes, FALSE, error))
            return FALSE;
    }
    return TRUE;
}

/* Undoes a failed apply (docs/spec.md §7: no half-applied state): the pins and
 * nodeset go back to what they were; a move's record goes back to the
 * previous one. A first placement's record stays pending, so whatever
 * libvirt now shows of its pins is never taken for an admin's. */
static void
roll_back(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d, const PinSnapshot *snap,
          guint max_vcpus, gboolean nodeset_changed, const VnumaAgentState *previous, GError **error)
{
    g_autoptr(GError) again = NULL;
    g_autoptr(VnumaAgentState) back = previous ? vnuma_agent_state_copy(previous) : NULL;

    if (vnuma_agent_domain_gone(agent, dom))
        return;   /* nothing left to undo: the caller forgets it */
    if (restore_snapshot(agent, dom, d, snap, max_vcpus, nodeset_changed, &again) &&
        (!back || vnuma_agent_save_record(agent, dom, back, &again))) {
        g_prefix_error(error, "rolled back (pins%s restored%s) after: ",
                       nodeset_changed ? " and nodeset" : "",
                       back ? ", previous record kept" : ", record left pending");
        return;
    }
    g_prefix_error(error, "ROLLBACK FAILED (%s; the record stays pending: the domain is placed afresh "
                   "next time) after: ", again->message);
}

/* Applies @next to the running domain (pins, nodeset, record) as one
 * step that either completes or is rolled back. A pending record goes
 * first (write-ahead), so an agent killed half way leaves a mark that
 * the pins may be its own. @previous is the state now applied (a move,
 * vCPUs hot-added) or NULL (a first placement); @widen adds nodes to
 * the nodeset while memory follows a move. */
gboolean
vnuma_agent_apply_state(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d,
                        VnumaAgentState *next, const VnumaAgentState *previous, gboolean numatune_absent,
                        const VnumaCpuSet *widen, GError **error)
{
    g_auto(PinSnapshot) snap = { 0 };
    guint max_vcpus = state_max_vcpus(next);
    gboolean nodeset_changed = FALSE;
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, next);

    fault_stop(agent, VNUMA_AGENT_FAULT_STOP_BEFORE_APPLY, "before applying");
    read_snapshot(agent, dom, max_vcpus, &snap);
    next->pending = TRUE;
    if (!write_record(agent, dom, next, error)) {
        next->pending = FALSE;
        g_prefix_error(error, "nothing applied: ");
        return FALSE;
    }
    if (widen)
        vnuma_cpuset_union(nodes, widen);
    if (pin_vcpus(agent, dom, d, next, error)) {
        fault_stop(agent, VNUMA_AGENT_FAULT_STOP_AFTER_PINS, "after the pins");
        if (vnuma_agent_nodeset_applies(agent, d))
            nodeset_changed = vnuma_agent_set_nodeset(dom, nodes, numatune_absent, error);
        if ((nodeset_changed || !vnuma_agent_nodeset_applies(agent, d)) &&
            vnuma_agent_save_record(agent, dom, next, error))
            return TRUE;
    }
    roll_back(agent, dom, d, &snap, max_vcpus, nodeset_changed, previous, error);
    return FALSE;
}
