/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "xml/vnuma-record.h"

#include <string.h>

#include "lib/vnuma-error.h"
#include "xml/vnuma-xmlutil.h"

#define STATE_VERSION 1
#define WHAT "vnumad state"

/* migrations[] is indexed by VnumaMoveKind. */
G_STATIC_ASSERT(VNUMA_MOVE_BALANCE == 0 && VNUMA_MOVE_LOCALITY == 1 && VNUMA_MOVE_SWAP == 2);

static void
client_clear(gpointer data)
{
    vnuma_cpuset_free(((VnumaAgentClient *) data)->vcpus);
}

VnumaAgentState *
vnuma_agent_state_new(void)
{
    VnumaAgentState *state = g_new0(VnumaAgentState, 1);

    state->clients = g_array_new(FALSE, TRUE, sizeof(VnumaAgentClient));
    g_array_set_clear_func(state->clients, client_clear);
    return state;
}

void
vnuma_agent_state_free(VnumaAgentState *state)
{
    if (!state)
        return;
    g_array_unref(state->clients);
    g_free(state->host);
    g_free(state->pins_digest);
    g_free(state);
}

void
vnuma_agent_state_add_client(VnumaAgentState *state, VnumaCpuSet *vcpus, guint home_node,
                             guint64 memory_kib, gint64 moved)
{
    VnumaAgentClient client = {
        .vcpus = vcpus, .home_node = home_node, .memory_kib = memory_kib, .moved = moved,
    };

    g_array_append_val(state->clients, client);
}

VnumaAgentState *
vnuma_agent_state_copy(const VnumaAgentState *state)
{
    VnumaAgentState *copy = vnuma_agent_state_new();

    copy->host = g_strdup(state->host);
    copy->pins_digest = g_strdup(state->pins_digest);
    copy->placed = state->placed;
    copy->pending = state->pending;
    memcpy(copy->migrations, state->migrations, sizeof(copy->migrations));
    for (guint i = 0; i < state->clients->len; i++) {
        const VnumaAgentClient *c = &g_array_index(state->clients, VnumaAgentClient, i);

        vnuma_agent_state_add_client(copy, vnuma_cpuset_copy(c->vcpus), c->home_node,
                                     c->memory_kib, c->moved);
    }
    return copy;
}

guint64
vnuma_agent_state_migrations_total(const VnumaAgentState *state)
{
    guint64 total = 0;

    for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++)
        total += state->migrations[k];
    return total;
}

/* virDomainGetMetadata returns the element without its namespace;
 * the domain XML has it in ours. */
static gboolean
is_ours(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE &&
           (!node->ns || xmlStrEqual(node->ns->href, BAD_CAST VNUMA_AGENT_NAMESPACE)) &&
           xmlStrEqual(node->name, BAD_CAST name);
}

static gboolean
required_uint(const xmlNode *node, const char *name, guint64 max, guint64 *value, GError **error)
{
    gboolean present;

    if (!vnuma_xml_prop_uint(node, name, value, &present, error)) {
        g_prefix_error(error, WHAT ": ");
        return FALSE;
    }
    if (!present || *value > max) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, WHAT ": <%s> needs '%s' (at most %"
                    G_GUINT64_FORMAT ")", (const char *) node->name, name, max);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_client(VnumaAgentState *state, const xmlNode *node, GError **error)
{
    g_autofree char *text = vnuma_xml_prop(node, "vcpus");
    g_autoptr(VnumaCpuSet) vcpus = NULL;
    guint64 home, memory = 0, moved = 0;
    gboolean present;

    if (!text || !(vcpus = vnuma_cpuset_parse(text, NULL))) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, WHAT ": <client> needs a vCPU list in 'vcpus'");
        return FALSE;
    }
    if (!required_uint(node, "node", VNUMA_CPUSET_MAX_ID, &home, error) ||
        !vnuma_xml_prop_uint(node, "memory", &memory, &present, error) ||
        !vnuma_xml_prop_uint(node, "moved", &moved, &present, error))
        return FALSE;
    vnuma_agent_state_add_client(state, g_steal_pointer(&vcpus), (guint) home, memory,
                                 present ? (gint64) MIN(moved, (guint64) G_MAXINT64) : -1);
    return TRUE;
}

static gboolean
parse_migrations(VnumaAgentState *state, const xmlNode *node, GError **error)
{
    for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++) {
        gboolean present;

        if (!vnuma_xml_prop_uint(node, vnuma_move_kind_to_string(k), &state->migrations[k], &present, error))
            return FALSE;
    }
    return TRUE;
}

VnumaAgentState *
vnuma_agent_state_parse(const char *xml, GError **error)
{
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse_read_only(xml, strlen(xml), WHAT, error);
    g_autoptr(VnumaAgentState) state = vnuma_agent_state_new();
    xmlNode *root;
    guint64 version, placed = 0;
    g_autofree char *pending = NULL;
    gboolean present;

    if (!src)
        return NULL;
    root = xmlDocGetRootElement(vnuma_xml_source_doc(src));
    if (!is_ours(root, "state")) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, WHAT ": the root is not <state>");
        return NULL;
    }
    if (!required_uint(root, "version", G_MAXUINT, &version, error) ||
        !vnuma_xml_prop_uint(root, "placed", &placed, &present, error))
        return NULL;
    if (version != STATE_VERSION) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ": version %" G_GUINT64_FORMAT " is not %u", version, STATE_VERSION);
        return NULL;
    }
    state->placed = (gint64) MIN(placed, (guint64) G_MAXINT64);
    state->host = vnuma_xml_prop(root, "host");
    state->pins_digest = vnuma_xml_prop(root, "pins");
    pending = vnuma_xml_prop(root, "pending");
    state->pending = g_strcmp0(pending, "yes") == 0;
    for (xmlNode *child = root->children; child; child = child->next) {
        if (is_ours(child, "client") && !parse_client(state, child, error))
            return NULL;
        if (is_ours(child, "migrations") && !parse_migrations(state, child, error))
            return NULL;
    }
    if (state->clients->len == 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, WHAT ": no <client>");
        return NULL;
    }
    return g_steal_pointer(&state);
}

/* Attribute values come from our own digests and fingerprints, but
 * escape anyway: they end up inside the domain's XML. */
static void
append_attr(GString *out, const char *name, const char *value)
{
    g_autofree char *escaped = g_markup_escape_text(value ? value : "", -1);

    g_string_append_printf(out, " %s=\"%s\"", name, escaped);
}

char *
vnuma_agent_state_format(const VnumaAgentState *state)
{
    GString *out = g_string_new("<state");

    g_string_append_printf(out, " version=\"%u\"", STATE_VERSION);
    append_attr(out, "host", state->host);
    append_attr(out, "pins", state->pins_digest);
    g_string_append_printf(out, " placed=\"%" G_GINT64_FORMAT "\"", MAX(state->placed, 0));
    if (state->pending)
        g_string_append(out, " pending=\"yes\"");
    g_string_append_c(out, '>');
    for (guint i = 0; i < state->clients->len; i++) {
        const VnumaAgentClient *c = &g_array_index(state->clients, VnumaAgentClient, i);
        g_autofree char *vcpus = vnuma_cpuset_format(c->vcpus);

        g_string_append_printf(out, "<client vcpus=\"%s\" node=\"%u\" memory=\"%"
                               G_GUINT64_FORMAT "\"", vcpus, c->home_node, c->memory_kib);
        if (c->moved >= 0)
            g_string_append_printf(out, " moved=\"%" G_GINT64_FORMAT "\"", c->moved);
        g_string_append(out, "/>");
    }
    g_string_append(out, "<migrations");
    for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++)
        g_string_append_printf(out, " %s=\"%" G_GUINT64_FORMAT "\"", vnuma_move_kind_to_string(k), state->migrations[k]);
    g_string_append(out, "/></state>");
    return g_string_free(out, FALSE);
}

GArray *
vnuma_agent_state_memory_clients(const VnumaAgentState *state)
{
    GArray *clients = g_array_new(FALSE, TRUE, sizeof(VnumaMemoryClient));

    for (guint c = 0; c < state->clients->len; c++) {
        const VnumaAgentClient *client = &g_array_index(state->clients, VnumaAgentClient, c);
        VnumaMemoryClient mc = { client->vcpus, client->home_node, client->memory_kib };

        g_array_append_val(clients, mc);
    }
    return clients;
}
