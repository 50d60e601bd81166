/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl advise: the Nova flavor extra specs that give an instance the
 * layout vnuma would choose. Nova defines and starts a domain at once,
 * with no XML hook (docs/spec.md §6), so for guest-visible vNUMA at first
 * boot the flavor must ask for it.
 *
 * The layout comes from libvnuma itself: a domain with the flavor's
 * vCPUs and RAM is planned on the host, and its clients, cells and guest
 * topology are translated. Nova's rules (nova/virt/hardware.py):
 * - hw:numa_nodes alone splits vCPUs and RAM evenly, and Nova refuses a
 *   split that is not even (ImageNUMATopologyAsymmetric), so an uneven
 *   layout is spelled out with hw:numa_cpus.N and hw:numa_mem.N;
 * - those must then be given for every node (ImageNUMATopologyIncomplete),
 *   cover every vCPU (ImageNUMATopologyCPUsUnassigned) and sum, in MiB,
 *   to the flavor's RAM (ImageNUMATopologyMemoryOutOfRange).
 * - every guest node goes to a distinct host node with CPUs
 *   (numa_fit_instance_to_host), so a layout with more cells than the
 *   host has CPU-bearing nodes is planned again with coresPerSocket =
 *   V / k: k guest nodes, the most ≤ those nodes that divide V (none
 *   when only 1 does).
 * Without guest cells no hw:numa_* is written: such an instance gets no
 * <numatune>, and vnumad places its clients live. */
#include <stdlib.h>
#include <string.h>

#include "cli/vnumactl.h"
#include "lib/vnuma-json.h"
#include "plugin/vnuma.h"
#include "xml/vnuma-caps.h"

typedef struct {
    char *key;
    char *value;
} ExtraSpec;

static void
extra_spec_clear(gpointer data)
{
    ExtraSpec *spec = data;

    g_free(spec->key);
    g_free(spec->value);
}

static void G_GNUC_PRINTF(3, 4)
add_spec(GArray *specs, const char *key, const char *format, ...)
{
    va_list args;
    ExtraSpec spec = { g_strdup(key), NULL };

    va_start(args, format);
    spec.value = g_strdup_vprintf(format, args);
    va_end(args);
    g_array_append_val(specs, spec);
}

/* SIZE in MiB: a number with an optional binary unit (K, M, G, T, with
 * or without "iB"); no unit means MiB, Nova's unit for flavor RAM. */
static gboolean
parse_mib(const char *text, guint64 *mib, GError **error)
{
    static const struct { const char *suffix; int shift; } units[] = {
        { "", 20 }, { "k", 10 }, { "kib", 10 }, { "m", 20 }, { "mib", 20 },
        { "g", 30 }, { "gib", 30 }, { "t", 40 }, { "tib", 40 },
    };
    guint64 value;
    char *end = NULL;

    if (!text || !g_ascii_isdigit(*text) || (value = g_ascii_strtoull(text, &end, 10)) == 0 || value > (1ULL << 40)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--memory '%s' is not a size", text ? text : "");
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(units); i++) {
        guint64 bytes = value << units[i].shift;

        if (g_ascii_strcasecmp(end, units[i].suffix) != 0)
            continue;
        if (bytes % (1 << 20)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--memory '%s' is not a whole number of MiB (Nova flavor RAM is in MiB)", text);
            return FALSE;
        }
        *mib = bytes >> 20;
        return TRUE;
    }
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--memory '%s': unknown unit (K, M, G or T, binary; default MiB)", text);
    return FALSE;
}

/* The flavor as a domain vnuma can plan: only what sizing reads. */
static char *
flavor_domain(guint vcpus, guint64 mib, gboolean prefer_ht, guint cores_per_socket, guint max_per_node)
{
    g_autoptr(GString) policy = g_string_new(NULL);

    if (prefer_ht)
        g_string_append(policy, " preferHT='yes'");
    if (cores_per_socket)
        g_string_append_printf(policy, " coresPerSocket='%u'", cores_per_socket);
    if (max_per_node)
        g_string_append_printf(policy, " maxPerMachineNode='%u'", max_per_node);
    return g_strdup_printf("<domain type='kvm'><name>flavor</name>"
                           "<metadata><vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1'%s/></metadata>"
                           "<memory unit='MiB'>%" G_GUINT64_FORMAT "</memory>"
                           "<vcpu placement='static'>%u</vcpu>"
                           "<os><type arch='x86_64'>hvm</type></os></domain>",
                           policy->str, mib, vcpus);
}

/* Usable CPUs (online ∩ host_cpuset) of each host node that has any:
 * Nova puts each guest node on its own such node, within its CPUs. */
static GArray *
cpu_bearing_nodes(const char *caps, const VnumaContext *ctx, GError **error)
{
    g_autoptr(VnumaHost) host = vnuma_host_from_caps_file(caps, error);
    g_autofree char *host_cpuset = host ? vnuma_context_config_string(ctx, "host_cpuset") : NULL;
    g_autoptr(VnumaCpuSet) allowed = NULL;
    g_autoptr(GArray) counts = g_array_new(FALSE, FALSE, sizeof(guint));

    if (!host || (host_cpuset && !(allowed = vnuma_cpuset_parse(host_cpuset, error))))
        return NULL;
    for (guint i = 0; i < host->nodes->len; i++) {
        g_autoptr(VnumaCpuSet) cpus = vnuma_host_node_cpus(host->nodes->pdata[i]);
        guint n;

        if (allowed)
            vnuma_cpuset_intersect(cpus, allowed);
        if ((n = vnuma_cpuset_count(cpus)))
            g_array_append_val(counts, n);
    }
    return g_steal_pointer(&counts);
}

/* The most guest nodes k that Nova can place: k divides @vcpus (an even
 * split) and k host nodes have V/k CPUs or more. 1: no guest NUMA. */
static guint
nova_node_count(guint vcpus, const GArray *nodes)
{
    for (guint k = MIN(nodes->len, vcpus); k > 1; k--) {
        guint fit = 0;

        if (vcpus % k)
            continue;
        for (guint i = 0; i < nodes->len; i++)
            fit += g_array_index(nodes, guint, i) >= vcpus / k;
        if (fit >= k)
            return k;
    }
    return 1;
}

/* Whether Nova can place the plan's cells as they are. */
static gboolean
nova_fits(const VnumaPlan *plan, const GArray *nodes)
{
    guint cells = vnuma_plan_n_cells(plan), biggest = 0, fit = 0;

    for (guint c = 0; c < cells; c++) {
        g_autofree char *cpus = vnuma_plan_cell(plan, c, NULL);
        g_autoptr(VnumaCpuSet) set = vnuma_cpuset_parse(cpus, NULL);

        biggest = MAX(biggest, set ? vnuma_cpuset_count(set) : G_MAXUINT);
    }
    for (guint i = 0; i < nodes->len; i++)
        fit += g_array_index(nodes, guint, i) >= biggest;
    return cells <= fit;
}

/* Whether hw:numa_nodes=K alone gives these cells: Nova cuts vCPUs and
 * RAM into K equal contiguous parts. */
static gboolean
nova_splits_evenly(const VnumaPlan *plan, guint vcpus, guint64 mib)
{
    guint k = vnuma_plan_n_cells(plan);

    if (vcpus % k || mib % k)
        return FALSE;
    for (guint c = 0; c < k; c++) {
        guint64 kib = 0;
        g_autofree char *cpus = vnuma_plan_cell(plan, c, &kib);
        g_autofree char *even = vcpus / k == 1 ? g_strdup_printf("%u", c)
                                               : g_strdup_printf("%u-%u", c * (vcpus / k), (c + 1) * (vcpus / k) - 1);

        if (!g_str_equal(cpus, even) || kib != mib / k * 1024)
            return FALSE;
    }
    return TRUE;
}

/* The extra specs for the plan, checked against Nova's rules. */
static GArray *
nova_extra_specs(const VnumaPlan *plan, guint vcpus, guint64 mib, GError **error)
{
    g_autoptr(GArray) specs = g_array_new(FALSE, TRUE, sizeof(ExtraSpec));
    guint cells = vnuma_plan_n_cells(plan);
    guint sockets = 0, dies = 0, cores = 0, threads = 0;
    guint64 sum_mib = 0;

    g_array_set_clear_func(specs, extra_spec_clear);
    if (cells > 1) {
        gboolean even = nova_splits_evenly(plan, vcpus, mib);

        add_spec(specs, "hw:numa_nodes", "%u", cells);
        for (guint c = 0; c < cells && !even; c++) {
            guint64 kib = 0;
            g_autofree char *cpus = vnuma_plan_cell(plan, c, &kib);
            g_autofree char *key_cpus = g_strdup_printf("hw:numa_cpus.%u", c);
            g_autofree char *key_mem = g_strdup_printf("hw:numa_mem.%u", c);

            if (kib % 1024) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "cell %u has %" G_GUINT64_FORMAT " KiB, not whole MiB as Nova needs", c, kib);
                return NULL;
            }
            sum_mib += kib / 1024;
            add_spec(specs, key_cpus, "%s", cpus);
            add_spec(specs, key_mem, "%" G_GUINT64_FORMAT, kib / 1024);
        }
        if (!even && sum_mib != mib) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "cells sum to %" G_GUINT64_FORMAT " MiB, not the flavor's %" G_GUINT64_FORMAT, sum_mib, mib);
            return NULL;
        }
    }
    vnuma_plan_topology(plan, &sockets, &dies, &cores, &threads);
    if (sockets) {
        add_spec(specs, "hw:cpu_sockets", "%u", sockets * MAX(dies, 1));
        add_spec(specs, "hw:cpu_cores", "%u", cores);
        add_spec(specs, "hw:cpu_threads", "%u", threads);
    }
    return g_steal_pointer(&specs);
}

static char *
render_nova(const VnumaPlan *plan, const GArray *specs, const char *flavor, guint vcpus, guint64 mib,
            const char *note)
{
    g_autoptr(GString) out = g_string_new(note);
    guint clients = vnuma_plan_n_clients(plan);

    g_string_append_printf(out, "# vnuma: %u vCPUs, %" G_GUINT64_FORMAT " MiB: %u NUMA client(s)", vcpus, mib, clients);
    for (guint c = 0; c < clients; c++) {
        gint home = -1;
        g_autofree char *cpus = vnuma_plan_client(plan, c, &home, NULL);

        g_string_append_printf(out, "%s vCPUs %s on node %d", c ? "," : ":", cpus, home);
    }
    g_string_append_printf(out, "; %u vNUMA cell(s)\n", vnuma_plan_n_cells(plan));
    if (!vnuma_plan_n_cells(plan) && clients > 1)
        g_string_append(out, "# no guest NUMA: no hw:numa_* so the instance has no <numatune>,\n"
                             "# and vnumad places its clients on their home nodes live\n");
    for (const char *const *w = vnuma_plan_warnings(plan); *w; w++)
        g_string_append_printf(out, "# warning: %s\n", *w);
    g_string_append_printf(out, "openstack flavor set %s", flavor);
    for (guint i = 0; i < specs->len; i++) {
        const ExtraSpec *spec = &g_array_index(specs, ExtraSpec, i);

        g_string_append_printf(out, " \\\n    --property %s=%s", spec->key, spec->value);
    }
    g_string_append_c(out, '\n');
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static char *
render_json(const VnumaPlan *plan, const GArray *specs, guint vcpus, guint64 mib)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();

    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "vcpus", vcpus);
    vnuma_json_member_uint(json, "memory_mib", mib);
    vnuma_json_key(json, "clients");
    vnuma_json_begin_array(json);
    for (guint c = 0; c < vnuma_plan_n_clients(plan); c++) {
        gint home = -1;
        guint64 kib = 0;
        g_autofree char *cpus = vnuma_plan_client(plan, c, &home, &kib);

        vnuma_json_begin_object(json);
        vnuma_json_member_string(json, "vcpus", cpus);
        vnuma_json_member_int(json, "home_node", home);
        vnuma_json_member_uint(json, "memory_kib", kib);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
    vnuma_json_member_uint(json, "vnuma_cells", vnuma_plan_n_cells(plan));
    vnuma_json_key(json, "extra_specs");
    vnuma_json_begin_object(json);
    for (guint i = 0; i < specs->len; i++) {
        const ExtraSpec *spec = &g_array_index(specs, ExtraSpec, i);

        vnuma_json_member_string(json, spec->key, spec->value);
    }
    vnuma_json_end_object(json);
    vnuma_json_key(json, "warnings");
    vnuma_json_begin_array(json);
    for (const char *const *w = vnuma_plan_warnings(plan); *w; w++)
        vnuma_json_string(json, *w);
    vnuma_json_end_array(json);
    vnuma_json_end_object(json);
    return vnuma_json_steal(json);
}

int
vnumactl_advise(int argc, char **argv)
{
    g_autofree char *caps = NULL;
    g_autofree char *config = NULL;
    g_autofree char *memory = NULL;
    g_autofree char *format = NULL;
    g_autofree char *flavor = NULL;
    gint vcpus = 0, cores_per_socket = 0, max_per_node = 0;
    gboolean prefer_ht = FALSE;
    const GOptionEntry entries[] = {
        { "caps", 'c', 0, G_OPTION_ARG_FILENAME, &caps, "Compute node capabilities XML (virsh capabilities)", "HOST.xml" },
        { "vcpus", 0, 0, G_OPTION_ARG_INT, &vcpus, "The flavor's vCPUs", "N" },
        { "memory", 0, 0, G_OPTION_ARG_STRING, &memory, "The flavor's RAM (MiB, or with K/M/G/T)", "SIZE" },
        { "prefer-ht", 0, 0, G_OPTION_ARG_NONE, &prefer_ht, "Count hyperthreads in the client limit (preferHT)", NULL },
        { "cores-per-socket", 0, 0, G_OPTION_ARG_INT, &cores_per_socket, "coresPerSocket override", "N" },
        { "max-per-node", 0, 0, G_OPTION_ARG_INT, &max_per_node, "maxPerMachineNode override", "N" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "vnuma.conf of the compute node", "FILE" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "nova (default: openstack flavor set) or json", "FORMAT" },
        { "flavor", 0, 0, G_OPTION_ARG_STRING, &flavor, "Flavor name in the printed command", "NAME" },
        { NULL },
    };
    g_autoptr(GOptionContext) options = g_option_context_new("- Nova flavor extra specs for vnuma's layout");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(VnumaPlan) plan = NULL;
    g_autoptr(GArray) specs = NULL;
    g_autofree char *domain = NULL;
    g_autofree char *output = NULL;
    g_autofree char *note = NULL;
    g_autoptr(GArray) nodes = NULL;
    guint64 mib = 0;
    gboolean json;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "%s", error->message);
    if (argc != 1 || !caps || vcpus <= 0 || !memory)
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "advise needs --caps HOST.xml, --vcpus N (> 0) and --memory SIZE");
    if (cores_per_socket < 0 || max_per_node < 0)
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "--cores-per-socket and --max-per-node must be positive");
    if (!parse_mib(memory, &mib, &error))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "%s", error->message);
    if (format && !g_str_equal(format, "nova") && !g_str_equal(format, "json"))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "--format '%s' is not nova or json", format);
    json = format && g_str_equal(format, "json");

    if (!vnuma_context_load_caps_file(ctx, caps, &error) ||
        (config && !vnuma_context_load_config(ctx, config, &error)))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
    domain = flavor_domain((guint) vcpus, mib, prefer_ht, (guint) cores_per_socket, (guint) max_per_node);
    if (!(plan = vnuma_plan_new(ctx, domain, strlen(domain), &error)))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
    if (!vnuma_plan_is_managed(plan))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "vnuma would not manage this flavor: %s",
                             vnuma_plan_reason(plan));
    if (!(nodes = cpu_bearing_nodes(caps, ctx, &error)))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
    if (!nova_fits(plan, nodes)) {
        guint k = nova_node_count((guint) vcpus, nodes);

        note = g_strdup_printf("# Nova puts each guest node on its own host node, within its CPUs: %u "
                               "node(s) with CPUs here, so %u guest node(s) instead of vnuma's %u\n",
                               nodes->len, k > 1 ? k : 0, vnuma_plan_n_cells(plan));
        g_free(domain);
        domain = flavor_domain((guint) vcpus, mib, prefer_ht, (guint) vcpus / k, (guint) max_per_node);
        vnuma_plan_free(plan);
        if (!(plan = vnuma_plan_new(ctx, domain, strlen(domain), &error)))
            return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
    }
    if (!(specs = nova_extra_specs(plan, (guint) vcpus, mib, &error)))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
    output = json ? render_json(plan, specs, (guint) vcpus, mib)
                  : render_nova(plan, specs, flavor ? flavor : "FLAVOR", (guint) vcpus, mib, note);
    if (!vnumactl_print(output) || (json && !vnumactl_print("\n")))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "cannot write the result");
    return EXIT_SUCCESS;
}
