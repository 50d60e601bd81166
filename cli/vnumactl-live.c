/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/vnumactl-live.h"

#include <libvirt/virterror.h>
#include <string.h>

#include "lib/vnuma-demand.h"
#include "probe/vnuma-numamaps.h"
#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-locality.h"
#include "xml/vnuma-caps.h"
#include "xml/vnuma-domain.h"
#include "virt/vnuma-virt-error.h"
#include "xml/vnuma-xmlutil.h"

#define QEMU_RUN_DIR "/run/libvirt/qemu"
#ifndef VNUMA_SYSCONFDIR
# define VNUMA_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG VNUMA_SYSCONFDIR "/vnuma/vnuma.conf"

/* libvirt prints every error to stderr unless told otherwise; we name
 * failures ourselves. */
static void
quiet(void *opaque, virErrorPtr err)
{
}

static gboolean
libvirt_failed(GError **error, const char *what)
{
    vnuma_virt_set_error(error, "%s", what);
    return FALSE;
}

static gboolean
load_host(VnumactlLive *live, const char *config, GError **error)
{
    g_autofree char *caps = virConnectGetCapabilities(live->conn);
    g_autoptr(GError) local = NULL;

    if (!caps)
        return libvirt_failed(error, "cannot read the host capabilities");
    live->ctx = vnuma_context_new();
    /* Plan as this host's agent would: with its config. */
    if (!config && g_file_test(DEFAULT_CONFIG, G_FILE_TEST_EXISTS))
        config = DEFAULT_CONFIG;
    if (config && !vnuma_context_load_config(live->ctx, config, error))
        return FALSE;
    /* A host without NUMA cells (some drivers) still has domains and
     * records to show; only planning needs the topology. */
    if (!(live->host = vnuma_host_from_caps_xml(caps, strlen(caps), &local)) ||
        !vnuma_context_load_caps_xml(live->ctx, caps, strlen(caps), NULL)) {
        live->host_error = g_strdup(local ? local->message : "no usable host topology");
        g_clear_pointer(&live->ctx, vnuma_context_free);
    }
    return TRUE;
}

VnumactlLive *
vnumactl_live_open(const char *uri, const char *config, GError **error)
{
    g_autoptr(VnumactlLive) live = g_new0(VnumactlLive, 1);
    const char *type;
    int cpus;

    virSetErrorFunc(NULL, quiet);
    if (!(live->conn = virConnectOpenReadOnly(uri))) {
        libvirt_failed(error, uri);
        return NULL;
    }
    if (!load_host(live, config, error))
        return NULL;
    cpus = virNodeGetCPUMap(live->conn, NULL, NULL, 0);
    live->host_cpus = cpus > 0 ? (guint) cpus : 0;
    type = virConnectGetType(live->conn);
    /* As in vnumad: the test driver's domains are planned as kvm, so
     * test:///default has something to plan. */
    live->plan_flags = g_strcmp0(type, "TEST") == 0 ? VNUMA_PLAN_TEST_AS_KVM : 0;
    if (g_strcmp0(type, "QEMU") == 0) {
        g_autofree char *hostname = virConnectGetHostname(live->conn);

        live->read_numa_maps = hostname && g_str_equal(hostname, g_get_host_name());
    }
    return g_steal_pointer(&live);
}

void
vnumactl_live_free(VnumactlLive *live)
{
    if (!live)
        return;
    if (live->conn)
        virConnectClose(live->conn);
    if (live->host)
        vnuma_host_free(live->host);
    if (live->ctx)
        vnuma_context_free(live->ctx);
    g_free(live->host_error);
    g_free(live);
}

static void
pin_group_clear(gpointer data)
{
    VnumactlPinGroup *group = data;

    g_free(group->vcpus);
    g_free(group->cpus);
}

void
vnumactl_domain_free(VnumactlDomain *domain)
{
    if (!domain)
        return;
    g_free(domain->name);
    if (domain->live)
        vnuma_request_free(domain->live);
    if (domain->plan)
        vnuma_plan_free(domain->plan);
    if (domain->record)
        vnuma_agent_state_free(domain->record);
    g_free(domain->record_error);
    g_array_unref(domain->pins);
    g_free(domain->emulator_pin);
    g_free(domain->memory_mode);
    g_free(domain->memory_nodeset);
    if (domain->memory)
        g_array_unref(domain->memory);
    g_free(domain);
}

static char *
cpumap_format(const unsigned char *map, guint cpus)
{
    g_autoptr(VnumaCpuSet) set = vnuma_cpuset_new();

    for (guint cpu = 0; cpu < cpus; cpu++)
        if (VIR_CPU_USABLE(map, VIR_CPU_MAPLEN(cpus), 0, cpu))
            vnuma_cpuset_add(set, cpu);
    return vnuma_cpuset_format(set);
}

/* Live vCPU pins, consecutive vCPUs with the same CPUs in one group. */
static void
read_pins(VnumactlLive *live, virDomainPtr dom, VnumactlDomain *d)
{
    int maplen = VIR_CPU_MAPLEN(live->host_cpus);
    g_autofree unsigned char *maps = NULL;
    g_autofree unsigned char *emulator = NULL;
    int n;

    if (!live->host_cpus || !d->vcpus)
        return;
    maps = g_malloc0((gsize) maplen * d->vcpus);
    n = virDomainGetVcpuPinInfo(dom, (int) d->vcpus, maps, maplen, VIR_DOMAIN_AFFECT_LIVE);
    for (int v = 0; v < n; v++) {
        g_autofree char *cpus = cpumap_format(VIR_GET_CPUMAP(maps, maplen, v), live->host_cpus);
        VnumactlPinGroup *last = d->pins->len ? &g_array_index(d->pins, VnumactlPinGroup, d->pins->len - 1)
                                              : NULL;
        g_autoptr(VnumaCpuSet) vcpus = NULL;

        if (last && g_str_equal(last->cpus, cpus)) {
            vcpus = vnuma_cpuset_parse(last->vcpus, NULL);
            vnuma_cpuset_add(vcpus, (guint) v);
            g_free(last->vcpus);
            last->vcpus = vnuma_cpuset_format(vcpus);
        } else {
            VnumactlPinGroup group = { g_strdup_printf("%d", v), g_steal_pointer(&cpus) };

            g_array_append_val(d->pins, group);
        }
    }
    emulator = g_malloc0(maplen);
    if (virDomainGetEmulatorPinInfo(dom, emulator, maplen, VIR_DOMAIN_AFFECT_LIVE) >= 0)
        d->emulator_pin = cpumap_format(emulator, live->host_cpus);
}

static void
read_numatune(virDomainPtr dom, VnumactlDomain *d)
{
    static const char *const modes[] = { "strict", "preferred", "interleave", "restrictive" };
    virTypedParameterPtr params = NULL;
    int n = 0;
    int mode = -1;
    const char *nodeset = NULL;

    if (virDomainGetNumaParameters(dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0 || n <= 0)
        return;
    params = g_new0(virTypedParameter, n);
    if (virDomainGetNumaParameters(dom, params, &n, VIR_DOMAIN_AFFECT_LIVE) == 0) {
        if (virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode) == 1 &&
            mode >= 0 && mode < (int) G_N_ELEMENTS(modes))
            d->memory_mode = g_strdup(modes[mode]);
        if (virTypedParamsGetString(params, n, VIR_DOMAIN_NUMA_NODESET, &nodeset) == 1)
            d->memory_nodeset = g_strdup(nodeset);
    }
    virTypedParamsFree(params, n);
}

static void
read_record(virDomainPtr dom, VnumactlDomain *d)
{
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                VNUMA_AGENT_NAMESPACE, VIR_DOMAIN_AFFECT_LIVE);
    g_autoptr(GError) error = NULL;

    if (!xml)
        return;   /* no record: not placed by vnumad */
    if (!(d->record = vnuma_agent_state_parse(xml, &error)))
        d->record_error = g_strdup(error->message);
}

/* Memory per node from numa_maps, and its locality as vnumad measures
 * it (lib/vnuma-locality.h): per client from its own cells' mappings
 * when they are told apart, a CPU-only home counting its memory node. */
static void
read_memory(VnumactlLive *live, VnumactlDomain *d)
{
    g_autoptr(GPtrArray) regions = NULL;
    g_autoptr(GPtrArray) cell_vcpus = NULL;
    g_autoptr(GArray) cell_kib = NULL;
    g_autoptr(GArray) ram = NULL;
    g_autoptr(GArray) total = NULL;
    g_autoptr(GArray) clients = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    VnumaMemoryView view;
    pid_t pid;

    d->locality = -1;
    if (!live->read_numa_maps || !vnuma_qemu_pid_read(QEMU_RUN_DIR, d->name, &pid, NULL) ||
        !(d->memory = vnuma_numa_maps_read(pid, NULL)))
        return;
    if (!d->record || !d->record->clients->len || !live->host || !(regions = vnuma_mem_regions_read(pid, NULL)))
        return;
    total = vnuma_mem_regions_total(regions);
    vnuma_memory_cells(d->live, &cell_vcpus, &cell_kib);
    ram = vnuma_guest_ram_match(regions, (const guint64 *) cell_kib->data, cell_kib->len);
    cells = vnuma_guest_ram_kib(regions, ram);
    clients = vnuma_agent_state_memory_clients(d->record);
    view = (VnumaMemoryView) { total, cell_vcpus, cells };
    d->locality = vnuma_memory_locality(live->host, &view, (const VnumaMemoryClient *) clients->data, clients->len);
}

static const char *
state_name(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "suspended";
    default: return "unknown";
    }
}

static VnumactlDomain *
domain_read(VnumactlLive *live, virDomainPtr dom, GError **error)
{
    g_autoptr(VnumactlDomain) d = g_new0(VnumactlDomain, 1);
    g_autoptr(VnumaXmlSource) src = NULL;
    g_autofree char *xml = NULL;
    virDomainInfo info;
    int vcpus;

    d->name = g_strdup(virDomainGetName(dom));
    d->pins = g_array_new(FALSE, TRUE, sizeof(VnumactlPinGroup));
    g_array_set_clear_func(d->pins, pin_group_clear);
    if (virDomainGetInfo(dom, &info) < 0 || !(xml = virDomainGetXMLDesc(dom, 0))) {
        libvirt_failed(error, d->name);
        return NULL;
    }
    d->state = state_name(info.state);
    d->memory_kib = info.maxMem;
    vcpus = virDomainGetVcpusFlags(dom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM);
    d->vcpus = vcpus > 0 ? (guint) vcpus : info.nrVirtCpu;
    src = vnuma_xml_source_parse(xml, strlen(xml), "live domain XML", error);
    if (!src || !(d->live = vnuma_request_from_domain(src, error)))
        return NULL;
    /* The guest runs: its cells and topology are what it has. */
    if (live->ctx &&
        !(d->plan = vnuma_plan_new_full(live->ctx, xml, strlen(xml),
                                       VNUMA_PLAN_KEEP_GUEST_ABI | live->plan_flags, error)))
        return NULL;
    read_record(dom, d);
    read_pins(live, dom, d);
    read_numatune(dom, d);
    read_memory(live, d);
    return g_steal_pointer(&d);
}

VnumactlDomain *
vnumactl_live_domain(VnumactlLive *live, const char *name, GError **error)
{
    virDomainPtr dom = virDomainLookupByName(live->conn, name);
    VnumactlDomain *d;

    if (!dom) {
        libvirt_failed(error, name);
        return NULL;
    }
    if (!virDomainIsActive(dom)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s is not running (explain shows a live domain; 'vnumactl plan' a definition)", name);
        virDomainFree(dom);
        return NULL;
    }
    d = domain_read(live, dom, error);
    virDomainFree(dom);
    return d;
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
    return g_strcmp0((*(VnumactlDomain *const *) a)->name, (*(VnumactlDomain *const *) b)->name);
}

GPtrArray *
vnumactl_live_domains(VnumactlLive *live, GError **error)
{
    g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func((GDestroyNotify) vnumactl_domain_free);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(live->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    if (n < 0) {
        libvirt_failed(error, "cannot list domains");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        g_autoptr(GError) local = NULL;
        VnumactlDomain *d = domain_read(live, doms[i], &local);

        /* A domain that stopped meanwhile is simply gone. */
        if (d)
            g_ptr_array_add(domains, d);
        virDomainFree(doms[i]);
    }
    free(doms);
    g_ptr_array_sort(domains, by_name);
    return g_steal_pointer(&domains);
}

gboolean
vnumactl_domain_managed(const VnumactlLive *live, const VnumactlDomain *d, const char **reason)
{
    *reason = NULL;
    if (d->record)
        return TRUE;
    if (!d->plan) {
        *reason = live->host_error;
        return FALSE;
    }
    *reason = vnuma_plan_reason(d->plan);
    return vnuma_plan_is_managed(d->plan);
}

static void
client_clear(gpointer data)
{
    g_free(((VnumactlClient *) data)->vcpus);
}

GArray *
vnumactl_domain_clients(const VnumactlDomain *d)
{
    GArray *clients = g_array_new(FALSE, TRUE, sizeof(VnumactlClient));

    g_array_set_clear_func(clients, client_clear);
    for (guint c = 0; d->record && c < d->record->clients->len; c++) {
        const VnumaAgentClient *agent = &g_array_index(d->record->clients, VnumaAgentClient, c);
        VnumactlClient client = { vnuma_cpuset_format(agent->vcpus), (gint) agent->home_node,
                                  agent->memory_kib, agent->moved };

        g_array_append_val(clients, client);
    }
    for (guint c = 0; !d->record && d->plan && c < vnuma_plan_n_clients(d->plan); c++) {
        VnumactlClient client = { NULL, -1, 0, -1 };

        client.vcpus = vnuma_plan_client(d->plan, c, &client.home_node, &client.memory_kib);
        g_array_append_val(clients, client);
    }
    return clients;
}

char *
vnumactl_domain_home_nodes(const VnumactlDomain *d)
{
    g_autoptr(GArray) clients = vnumactl_domain_clients(d);
    g_autoptr(VnumaCpuSet) nodes = vnuma_cpuset_new();

    for (guint c = 0; c < clients->len; c++) {
        gint home = g_array_index(clients, VnumactlClient, c).home_node;

        if (home >= 0)
            vnuma_cpuset_add(nodes, (guint) home);
    }
    return vnuma_cpuset_is_empty(nodes) ? NULL : vnuma_cpuset_format(nodes);
}

/* Busy and total ns of one CPU; FALSE when libvirt has no counters. */
static gboolean
cpu_times(virConnectPtr conn, int cpu, guint64 *busy, guint64 *total)
{
    virNodeCPUStatsPtr params = NULL;
    int n = 0;
    gboolean ok = FALSE;

    if (virNodeGetCPUStats(conn, cpu, NULL, &n, 0) < 0 || n <= 0)
        return FALSE;
    params = g_new0(virNodeCPUStats, n);
    if (virNodeGetCPUStats(conn, cpu, params, &n, 0) == 0) {
        *busy = *total = 0;
        for (int i = 0; i < n; i++) {
            const char *field = params[i].field;

            if (g_str_equal(field, VIR_NODE_CPU_STATS_KERNEL) || g_str_equal(field, VIR_NODE_CPU_STATS_USER))
                *busy += params[i].value;
            if (g_str_equal(field, VIR_NODE_CPU_STATS_KERNEL) || g_str_equal(field, VIR_NODE_CPU_STATS_USER) ||
                g_str_equal(field, VIR_NODE_CPU_STATS_IDLE) || g_str_equal(field, VIR_NODE_CPU_STATS_IOWAIT))
                *total += params[i].value;
        }
        ok = TRUE;
    }
    g_free(params);
    return ok;
}

/* Per host CPU id: busy and total counters, two guint64 each. */
static GArray *
sample_cpus(VnumactlLive *live)
{
    g_autoptr(GArray) sample = g_array_new(FALSE, TRUE, sizeof(guint64));

    g_array_set_size(sample, 2 * (gsize) live->host_cpus);
    for (guint cpu = 0; cpu < live->host_cpus; cpu++) {
        guint64 *at = &g_array_index(sample, guint64, 2 * cpu);

        if (!cpu_times(live->conn, (int) cpu, &at[0], &at[1]))
            return NULL;
    }
    return g_steal_pointer(&sample);
}

GArray *
vnumactl_live_node_load(VnumactlLive *live, double seconds)
{
    g_autoptr(GArray) before = NULL;
    g_autoptr(GArray) after = NULL;
    GArray *load;

    if (!live->host || !(before = sample_cpus(live)))
        return NULL;
    g_usleep((gulong) (seconds * G_USEC_PER_SEC));
    if (!(after = sample_cpus(live)))
        return NULL;
    load = g_array_new(FALSE, TRUE, sizeof(double));
    for (guint i = 0; i < live->host->nodes->len; i++) {
        const VnumaHostNode *node = live->host->nodes->pdata[i];
        double busy = 0;

        /* Each CPU's busy share of its own elapsed time, summed: CPUs busy. */
        for (guint c = 0; c < node->cpus->len; c++) {
            guint id = g_array_index(node->cpus, VnumaHostCpu, c).id;
            guint64 db, dt;

            if (id >= live->host_cpus)
                continue;
            db = g_array_index(after, guint64, 2 * id) - g_array_index(before, guint64, 2 * id);
            dt = g_array_index(after, guint64, 2 * id + 1) - g_array_index(before, guint64, 2 * id + 1);
            if (dt > 0 && db <= dt)
                busy += (double) db / (double) dt;
        }
        g_array_append_val(load, busy);
    }
    return load;
}

gint64
vnumactl_live_node_free(VnumactlLive *live, guint id)
{
    unsigned long long free_bytes = 0;

    if (virNodeGetCellsFreeMemory(live->conn, &free_bytes, (int) id, 1) != 1)
        return -1;
    return (gint64) (free_bytes / 1024);
}
