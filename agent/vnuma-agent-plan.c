/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-plan.h"

#include <string.h>

#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-sizing.h"
#include "xml/vnuma-domain.h"
#include "xml/vnuma-rewrite.h"

void
vnuma_agent_placement_free(VnumaAgentPlacement *placement)
{
    if (!placement)
        return;
    g_free(placement->reason);
    vnuma_request_free(placement->request);
    vnuma_cpuset_free(placement->live_nodeset);
    vnuma_layout_free(placement->layout);
    g_free(placement->fingerprint);
    g_free(placement);
}

static VnumaRequest *
read_request(const char *xml, gsize len, VnumaPlanFlags flags, VnumaXmlSource **src_out,
             GError **error)
{
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(xml, len, "domain XML", error);
    VnumaRequest *request;

    if (!src || !(request = vnuma_request_from_domain(src, error)))
        return NULL;
    if (flags & VNUMA_PLAN_TEST_AS_KVM)
        vnuma_request_take_test_as_kvm(request);
    if (src_out)
        *src_out = g_steal_pointer(&src);
    return request;
}

static gboolean
state_matches(const VnumaAgentState *state, const VnumaRequest *request, const char *fingerprint)
{
    g_autofree char *digest = NULL;

    if (!state || g_strcmp0(state->host, fingerprint) != 0)
        return FALSE;
    digest = vnuma_pinset_digest(request->pins);
    return g_strcmp0(state->pins_digest, digest) == 0;
}

VnumaAgentPlacement *
vnuma_agent_place(const VnumaHost *host, const VnumaSettings *settings, const char *xml, gsize len,
                  const VnumaAgentState *state, const VnumaNodeLoad *loads, guint n_loads,
                  VnumaPlanFlags flags, GError **error)
{
    g_autoptr(VnumaAgentPlacement) p = g_new0(VnumaAgentPlacement, 1);
    g_autoptr(VnumaLayout) layout = NULL;
    const VnumaPinSet *pins;

    if (!(p->request = read_request(xml, len, flags, NULL, error)))
        return NULL;
    p->fingerprint = vnuma_host_fingerprint(host);
    pins = p->request->pins;
    p->numatune_absent = !pins->has_numatune;
    p->nodeset_live = !pins->has_numatune || g_strcmp0(pins->memory_mode, "restrictive") == 0;
    p->resumed = state_matches(state, p->request, p->fingerprint);
    p->recovered = !p->resumed && state && state->pending;
    if (pins->memory_nodeset)
        p->live_nodeset = vnuma_cpuset_copy(pins->memory_nodeset);
    if (p->resumed || p->recovered) {
        /* The pins are the agent's own: sizing must not take them for an
         * admin's. What is left to check is the rest of rule 9. */
        vnuma_pinset_free(p->request->pins);
        p->request->pins = vnuma_pinset_new();
    }
    layout = vnuma_pipeline_run(host, settings, p->request, loads, n_loads, NULL,
                                p->resumed ? VNUMA_PIPELINE_SIZE_ONLY : 0);
    /* VDSM re-pins such a domain's vCPUs to its shared pool (oVirt's
     * cpuPolicy none): live pins from vnumad would fight it. */
    if (layout->managed && !layout->pin_vcpus)
        vnuma_layout_set_unmanaged(layout, "oVirt cpuPolicy '%s': VDSM pins its vCPUs to the "
                                   "shared pool", p->request->cpu_owner_policy);
    p->managed = layout->managed;
    if (!layout->managed) {
        p->reason = g_strdup(layout->reason);
        p->resumed = FALSE;
        p->recovered = FALSE;
        return g_steal_pointer(&p);
    }
    p->layout = g_steal_pointer(&layout);
    return g_steal_pointer(&p);
}

VnumaAgentState *
vnuma_agent_state_from_layout(const VnumaLayout *layout, const char *fingerprint,
                              const VnumaAgentState *previous, gint64 now)
{
    VnumaAgentState *state = vnuma_agent_state_new();

    state->host = g_strdup(fingerprint);
    state->placed = now;
    if (previous)
        memcpy(state->migrations, previous->migrations, sizeof(state->migrations));
    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];

        vnuma_agent_state_add_client(state, vnuma_cpuset_copy(client->vcpus),
                                     (guint) MAX(client->home_node, 0), client->memory_kib, -1);
    }
    return state;
}

/* A definition sized for this host when it was defined — by the Nova
 * driver, an adapter, or this agent: it carries vnuma's record for this
 * host's shape, and the pins it has are the ones the record wrote. Its
 * guest topology is settled; the agent places it live and leaves the
 * definition alone, even when its own settings would write it otherwise. */
static gboolean
sized_at_define(const VnumaHost *host, const VnumaRequest *request)
{
    g_autofree char *fingerprint = NULL;
    g_autofree char *digest = NULL;

    if (!request->stamp || !request->stamp->pins_digest || vnuma_pinset_is_empty(request->pins))
        return FALSE;
    fingerprint = vnuma_host_fingerprint(host);
    digest = vnuma_pinset_digest(request->pins);
    return g_strcmp0(request->stamp->host, fingerprint) == 0 &&
           g_str_equal(digest, request->stamp->pins_digest);
}

char *
vnuma_agent_size_definition(const VnumaHost *host, const VnumaSettings *settings, const char *xml,
                            gsize len, VnumaPlanFlags flags, char **skip, GError **error)
{
    g_autoptr(VnumaXmlSource) src = NULL;
    g_autoptr(VnumaRequest) request = read_request(xml, len, flags, &src, error);
    g_autoptr(VnumaLayout) layout = NULL;
    g_autofree char *output = NULL;
    gsize output_len = 0;

    *skip = NULL;
    if (!request)
        return NULL;
    if (sized_at_define(host, request)) {
        *skip = g_strdup("already sized (vnuma's record, for this host, matches its pins)");
        return NULL;
    }
    layout = vnuma_pipeline_run(host, settings, request, NULL, 0, NULL, 0);
    if (!layout->managed) {
        *skip = g_strdup_printf("not managed: %s", layout->reason);
        return NULL;
    }
    /* libvirt keeps one <metadata> element per namespace URI, the first:
     * with the admin's <vnuma:policy> first, the <vnuma:layout> record
     * would be dropped at define time, and the next plan would take
     * vnuma's own pins for an admin's. Better not size than corrupt. */
    if (request->policy_present) {
        *skip = g_strdup("the domain has <vnuma:policy>: libvirt would drop the <vnuma:layout> "
                         "record (one metadata element per namespace)");
        return NULL;
    }
    if (!(output = vnuma_domain_rewrite(src, request, layout, &output_len, error)))
        return NULL;
    if (output_len == len && memcmp(output, xml, len) == 0) {
        *skip = g_strdup("already sized");
        return NULL;
    }
    return g_steal_pointer(&output);
}

VnumaCpuSet *
vnuma_agent_memory_nodes(const VnumaHost *host, const VnumaAgentState *state)
{
    VnumaCpuSet *nodes = vnuma_cpuset_new();

    for (guint c = 0; c < state->clients->len; c++)
        vnuma_cpuset_add(nodes, vnuma_host_memory_node(host,
                         g_array_index(state->clients, VnumaAgentClient, c).home_node));
    return nodes;
}

char *
vnuma_agent_pins_digest(const char *xml, gsize len, GError **error)
{
    g_autoptr(VnumaRequest) request = read_request(xml, len, 0, NULL, error);

    return request ? vnuma_pinset_digest(request->pins) : NULL;
}
