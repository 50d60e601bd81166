/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The connection to libvirt and its events: connecting, reading the
 * host and what differs between drivers, watching lifecycle events and
 * the connection's close, handing them to the agent's own context. */
#include "agent/vnuma-agent-private.h"

#include <string.h>

#include <libvirt/virterror.h>

#include "lib/vnuma-error.h"
#include "xml/vnuma-caps.h"

#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* libvirt 7.3.0: the first with <numatune> mode restrictive. */
#define LIBVIRT_RESTRICTIVE_VERSION 7003000
#define NUMA_BALANCING_SYSCTL "/proc/sys/kernel/numa_balancing"

/* The host's capabilities: the connection's, or the file named by the
 * `capabilities` key (as for the hook: a host whose libvirt misreports
 * its topology, or a test that describes this machine another way). */
static char *
read_caps(VnumaAgent *agent, GError **error)
{
    const char *file = agent->config->capabilities;
    g_autoptr(GError) local = NULL;
    char *caps = NULL;

    if (file) {
        if (!g_file_get_contents(file, &caps, NULL, &local))
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read capabilities: %s", local->message);
        return caps;
    }
    if (!(caps = virConnectGetCapabilities(agent->conn)))
        vnuma_virt_set_error(error, "cannot read capabilities");
    return caps;
}

gboolean
vnuma_agent_read_host(VnumaAgent *agent, GError **error)
{
    g_autofree char *caps = read_caps(agent, error);
    g_autoptr(VnumaHost) host = NULL;

    if (!caps || !(host = vnuma_host_from_caps_xml(caps, strlen(caps), error)))
        return FALSE;
    g_clear_pointer(&agent->usable, g_ptr_array_unref);
    g_clear_pointer(&agent->host_cpus, vnuma_cpuset_free);
    agent->usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    agent->host_cpus = vnuma_cpuset_new();
    for (guint i = 0; i < host->nodes->len; i++) {
        VnumaCpuSet *cpus = vnuma_host_node_cpus(host->nodes->pdata[i]);

        vnuma_cpuset_union(agent->host_cpus, cpus);
        if (agent->config->settings.host_cpuset)
            vnuma_cpuset_intersect(cpus, agent->config->settings.host_cpuset);
        g_ptr_array_add(agent->usable, cpus);
    }
    vnuma_host_free(agent->host);
    agent->host = g_steal_pointer(&host);
    g_free(agent->fingerprint);
    agent->fingerprint = vnuma_host_fingerprint(agent->host);
    /* Maps cover every host CPU: pin info read back for a rollback. */
    agent->cpumap_len = VIR_CPU_MAPLEN(MAX(vnuma_cpuset_last(agent->host_cpus), 0) + 1);
    return TRUE;
}

/* The kernel's automatic NUMA balancing migrates the pages a pinned
 * guest touches on its own, at no rate of ours: said once per connection
 * (docs/agent.md). */
static void
warn_numa_balancing(void)
{
    g_autofree char *mode = NULL;

    if (g_file_get_contents(NUMA_BALANCING_SYSCTL, &mode, NULL, NULL) && g_strstrip(mode)[0] != '0')
        g_warning("%s is %s: the kernel also migrates guest pages itself, beside memory_migrate_rate; "
                  "set it to 0 on hosts vnumad manages", NUMA_BALANCING_SYSCTL, mode);
}

/* What differs between hypervisor drivers. */
void
vnuma_agent_read_driver(VnumaAgent *agent)
{
    const char *type = virConnectGetType(agent->conn);
    unsigned long version = 0;

    agent->plan_flags = 0;
    agent->pin_flags = VIR_DOMAIN_AFFECT_LIVE;
    agent->read_numa_maps = FALSE;
    if (g_strcmp0(type, "TEST") == 0) {
        agent->plan_flags |= VNUMA_PLAN_TEST_AS_KVM;
        /* The test driver's virDomainPinVcpuFlags accepts no flags at
         * all; CURRENT is LIVE on its running domains. */
        agent->pin_flags = VIR_DOMAIN_AFFECT_CURRENT;
    }
    /* numa_maps of the QEMU process: only for a local system qemu
     * driver, whose pid files sit in /run/libvirt/qemu. */
    agent->nodeset_possible = TRUE;
    if (g_strcmp0(type, "QEMU") == 0) {
        g_autofree char *hostname = virConnectGetHostname(agent->conn);
        g_autofree char *uri = virConnectGetURI(agent->conn);

        agent->read_numa_maps = hostname && g_str_equal(hostname, g_get_host_name());
        /* An unprivileged (session) qemu driver has no cgroups: it cannot
         * change a running domain's nodeset at all. Pins only. */
        agent->nodeset_possible = !uri || !strstr(uri, "/session");
    }
    if (agent->read_numa_maps && agent->config->memory_migrate_rate > 0)
        warn_numa_balancing();
    if (agent->config->memory_mode_auto && virConnectGetLibVersion(agent->conn, &version) == 0)
        agent->config->settings.memory_mode = version >= LIBVIRT_RESTRICTIVE_VERSION
                                              ? VNUMA_MEMORY_MODE_RESTRICTIVE
                                              : VNUMA_MEMORY_MODE_STRICT;
}

static gboolean
setup_connection(VnumaAgent *agent, GError **error)
{
    if (!vnuma_agent_read_host(agent, error)) {
        vnuma_agent_disconnect(agent);
        return FALSE;
    }
    vnuma_agent_read_driver(agent);
    g_atomic_int_inc(&agent->generation);
    agent->sweep_definitions = agent->config->define_sizing;
    g_hash_table_remove_all(agent->domains);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE",
                     "connected to %s: %u host node(s), host %s", agent->uri,
                     agent->host->nodes->len, agent->fingerprint);
    return TRUE;
}

gboolean
vnuma_agent_connect(VnumaAgent *agent, GError **error)
{
    vnuma_agent_disconnect(agent);
    if (!(agent->conn = virConnectOpen(agent->uri))) {
        vnuma_virt_set_error(error, "cannot connect to %s", agent->uri);
        return FALSE;
    }
    return setup_connection(agent, error);
}

gboolean
vnuma_agent_adopt(VnumaAgent *agent, virConnectPtr conn, GError **error)
{
    vnuma_agent_disconnect(agent);
    virConnectRef(conn);
    agent->conn = conn;
    return setup_connection(agent, error);
}

static void on_close(virConnectPtr conn, int reason, void *opaque);

void
vnuma_agent_disconnect(VnumaAgent *agent)
{
    if (!agent->conn)
        return;
    if (agent->lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(agent->conn, agent->lifecycle_id);
    agent->lifecycle_id = -1;
    if (agent->close_registered)
        virConnectUnregisterCloseCallback(agent->conn, on_close);
    agent->close_registered = FALSE;
    virConnectClose(agent->conn);
    agent->conn = NULL;
    g_atomic_int_inc(&agent->generation);
    g_hash_table_remove_all(agent->domains);
}

/* After a failed call: is the connection still there? libvirtd going
 * away shows up as failed calls before the close callback arrives. */
gboolean
vnuma_agent_connection_alive(VnumaAgent *agent)
{
    return agent->conn && virConnectIsAlive(agent->conn) == 1;
}

/* After a failed call on @dom: did it stop or vanish meanwhile? Then
 * the failure is the domain's doing, not ours. (With the connection
 * gone, nothing can be told: not gone.) */
gboolean
vnuma_agent_domain_gone(VnumaAgent *agent, virDomainPtr dom)
{
    int active = virDomainIsActive(dom);

    return active == 0 || (active < 0 && vnuma_agent_connection_alive(agent));
}

/* Always queued, never run in place: libvirt also calls the close
 * callback from the main thread itself (an RPC there finds the socket
 * dead), holding a lock that disconnecting takes; g_main_context_invoke
 * would then run dispatch() right there, on a thread that owns the
 * context, and deadlock (found by test-agent-faults). */
static void
hand_off(VnumaAgent *agent, Handoff *h)
{
    GSource *source = g_idle_source_new();

    h->agent = agent;
    h->generation = g_atomic_int_get(&agent->generation);
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, agent->dispatch, h, g_free);
    g_source_attach(source, agent->context);
    g_source_unref(source);
}

/* In libvirt's event thread. */
static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    Handoff *h = g_new0(Handoff, 1);

    if (virDomainGetUUIDString(dom, h->uuid) < 0) {
        g_free(h);
        return 0;
    }
    h->event = event;
    h->detail = detail;
    hand_off(opaque, h);
    return 0;
}

/* In libvirt's event thread. */
static void
on_close(virConnectPtr conn, int reason, void *opaque)
{
    Handoff *h = g_new0(Handoff, 1);

    h->closed = TRUE;
    hand_off(opaque, h);
}

gboolean
vnuma_agent_watch(VnumaAgent *agent, GSourceFunc dispatch)
{
    agent->dispatch = dispatch;
    /* Keepalive notices a libvirtd that hangs or vanished without a
     * clean close; refused by drivers without a remote side (test). */
    virConnectSetKeepAlive(agent->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
    agent->lifecycle_id = virConnectDomainEventRegisterAny(agent->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                                           agent, NULL);
    if (agent->lifecycle_id < 0) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                         "cannot register for domain events: %s", vnuma_virt_error_message());
        return FALSE;
    }
    agent->close_registered = virConnectRegisterCloseCallback(agent->conn, on_close, agent, NULL) == 0;
    return TRUE;
}
