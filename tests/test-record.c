/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's record in the domain's metadata: written, read back as
 * libvirt returns it, and refused when it is not ours. */
#include "tests/testutil.h"

#include "xml/vnuma-record.h"

static VnumaAgentState *
sample(void)
{
    VnumaAgentState *state = vnuma_agent_state_new();

    state->host = g_strdup("86277bd8b1e6fe57");
    state->pins_digest = g_strdup("0123456789abcdef");
    state->placed = 1700000000;
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(0, 5), 0, 262144, -1);
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(6, 11), 1, 262144, 1700000100);
    state->migrations[VNUMA_MOVE_LOCALITY] = 2;
    state->migrations[VNUMA_MOVE_SWAP] = 1;
    return state;
}

static void
assert_sample(const VnumaAgentState *state)
{
    const VnumaAgentClient *a = &g_array_index(state->clients, VnumaAgentClient, 0);
    const VnumaAgentClient *b = &g_array_index(state->clients, VnumaAgentClient, 1);
    g_autofree char *a_vcpus = vnuma_cpuset_format(a->vcpus);
    g_autofree char *b_vcpus = vnuma_cpuset_format(b->vcpus);

    assert_str_equal(state->host, "86277bd8b1e6fe57");
    assert_str_equal(state->pins_digest, "0123456789abcdef");
    assert_int_equal(state->placed, 1700000000);
    assert_int_equal(state->clients->len, 2);
    assert_str_equal(a_vcpus, "0-5");
    assert_int_equal(a->home_node, 0);
    assert_int_equal(a->memory_kib, 262144);
    assert_int_equal(a->moved, -1);
    assert_str_equal(b_vcpus, "6-11");
    assert_int_equal(b->home_node, 1);
    assert_int_equal(b->moved, 1700000100);
    assert_int_equal(state->migrations[VNUMA_MOVE_BALANCE], 0);
    assert_int_equal(state->migrations[VNUMA_MOVE_LOCALITY], 2);
    assert_int_equal(state->migrations[VNUMA_MOVE_SWAP], 1);
    assert_int_equal(vnuma_agent_state_migrations_total(state), 3);
}

static void
test_round_trip(void **unused)
{
    g_autoptr(VnumaAgentState) state = sample();
    g_autofree char *xml = vnuma_agent_state_format(state);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaAgentState) back = vnuma_agent_state_parse(xml, &error);
    g_autoptr(VnumaAgentState) copy = vnuma_agent_state_copy(state);

    /* No namespace of its own: virDomainSetMetadata adds it. */
    assert_null(strstr(xml, "xmlns"));
    assert_non_null(back);
    assert_sample(back);
    assert_sample(copy);
    /* Not pending: the attribute is left out (older readers never see it). */
    assert_null(strstr(xml, "pending"));
    assert_false(back->pending);
}

static void
test_pending(void **unused)
{
    g_autoptr(VnumaAgentState) state = sample();
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaAgentState) back = NULL;
    g_autoptr(VnumaAgentState) copy = NULL;

    state->pending = TRUE;
    xml = vnuma_agent_state_format(state);
    assert_non_null(strstr(xml, " pending=\"yes\">"));
    back = vnuma_agent_state_parse(xml, &error);
    assert_non_null(back);
    assert_true(back->pending);
    assert_sample(back);
    copy = vnuma_agent_state_copy(back);
    assert_true(copy->pending);
}

/* What virDomainGetMetadata returns (namespace stripped, re-indented),
 * and what the domain XML shows (in our namespace). */
static void
test_parse_libvirt_forms(void **unused)
{
    static const char *const forms[] = {
        "<state version=\"1\" host=\"86277bd8b1e6fe57\" pins=\"0123456789abcdef\" placed=\"1700000000\">\n"
        "  <client vcpus=\"0-5\" node=\"0\" memory=\"262144\"/>\n"
        "  <client vcpus=\"6-11\" node=\"1\" memory=\"262144\" moved=\"1700000100\"/>\n"
        "  <migrations balance=\"0\" locality=\"2\" swap=\"1\"/>\n"
        "</state>",
        "<vnumad:state xmlns:vnumad=\"urn:x-vnuma:agent:1\" version=\"1\" host=\"86277bd8b1e6fe57\" "
        "pins=\"0123456789abcdef\" placed=\"1700000000\">"
        "<vnumad:client vcpus=\"0-5\" node=\"0\" memory=\"262144\"/>"
        "<vnumad:client vcpus=\"6-11\" node=\"1\" memory=\"262144\" moved=\"1700000100\"/>"
        "<vnumad:migrations balance=\"0\" locality=\"2\" swap=\"1\"/></vnumad:state>",
    };

    for (guint i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VnumaAgentState) state = vnuma_agent_state_parse(forms[i], &error);

        if (!state)
            print_error("%s\n", error->message);
        assert_non_null(state);
        assert_sample(state);
    }
}

static void
test_refused(void **unused)
{
    static const struct {
        const char *xml;
        const char *message;
    } cases[] = {
        { "<layout version='1'/>", "not <state>" },
        { "<x:state xmlns:x='urn:other' version='1'><x:client vcpus='0' node='0'/></x:state>", "not <state>" },
        { "<state version='2'><client vcpus='0' node='0'/></state>", "version 2" },
        { "<state><client vcpus='0' node='0'/></state>", "'version'" },
        { "<state version='1'/>", "no <client>" },
        { "<state version='1'><client vcpus='x' node='0'/></state>", "vCPU list" },
        { "<state version='1'><client vcpus='0' node='many'/></state>", "node" },
        { "<state version='1'><client vcpus='0'/></state>", "'node'" },
        { "not xml", "not XML" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VnumaAgentState) state = vnuma_agent_state_parse(cases[i].xml, &error);

        assert_null(state);
        if (!strstr(error->message, cases[i].message))
            print_error("case %u: '%s' lacks '%s'\n", i, error->message, cases[i].message);
        assert_non_null(strstr(error->message, cases[i].message));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_parse_libvirt_forms),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
