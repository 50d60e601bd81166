/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's decisions on one domain, without libvirt: live placement
 * with loads, resuming from its record, what it leaves alone, and
 * sizing on define. */
#include "tests/testutil.h"

#include "agent/vnuma-agent-plan.h"
#include "lib/vnuma-placement.h"

static VnumaSettings settings;

static int
setup(void **state)
{
    vnuma_settings_init(&settings);
    return 0;
}

static int
teardown(void **state)
{
    vnuma_settings_clear(&settings);
    return 0;
}

static VnumaAgentPlacement *
place(const VnumaHost *host, const char *xml, const VnumaAgentState *record,
      const VnumaNodeLoad *loads, guint n_loads, VnumaPlanFlags flags)
{
    g_autoptr(GError) error = NULL;
    VnumaAgentPlacement *p = vnuma_agent_place(host, &settings, xml, strlen(xml), record, loads,
                                               n_loads, flags, &error);

    if (!p)
        print_error("%s\n", error->message);
    assert_non_null(p);
    return p;
}

static guint
home_of(const VnumaAgentPlacement *p, guint client)
{
    return (guint) ((VnumaClient *) p->layout->clients->pdata[client])->home_node;
}

static char *
replace(const char *text, const char *from, const char *to)
{
    g_auto(GStrv) parts = g_strsplit(text, from, -1);

    assert_int_equal(g_strv_length(parts), 2);
    return g_strjoinv(to, parts);
}

/* 8 vCPUs fit one node of a 2 × 10-core host: the idle node wins. */
static void
test_live_load_decides(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *xml = vnuma_test_read("examples/domains/narrow-8vcpu.xml", NULL);
    VnumaNodeLoad loads[] = { { .node_id = 0, .vcpus = 16, .memory_kib = 1 << 20 }, { .node_id = 1 } };
    g_autoptr(VnumaAgentPlacement) idle = place(host, xml, NULL, NULL, 0, 0);
    g_autoptr(VnumaAgentPlacement) busy = place(host, xml, NULL, loads, 2, 0);
    g_autoptr(VnumaAgentState) state = NULL;

    assert_true(idle->managed);
    assert_false(idle->resumed);
    assert_int_equal(idle->layout->clients->len, 1);
    assert_int_equal(home_of(idle, 0), 0);
    assert_int_equal(home_of(busy, 0), 1);
    /* No <numatune>: the nodeset may change live, with the mode set too. */
    assert_true(busy->nodeset_live);
    assert_true(busy->numatune_absent);

    state = vnuma_agent_state_from_layout(busy->layout, busy->fingerprint, NULL, 1700000000);
    assert_int_equal(state->clients->len, 1);
    assert_int_equal(g_array_index(state->clients, VnumaAgentClient, 0).home_node, 1);
    assert_int_equal(g_array_index(state->clients, VnumaAgentClient, 0).moved, -1);
    assert_str_equal(state->host, busy->fingerprint);
}

/* The agent's own pins, recognised by the digest in its record, are not
 * an admin's: it resumes. Without the record they are foreign. */
static void
test_resume_from_record(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *xml = vnuma_test_read("examples/domains/narrow-8vcpu.xml", NULL);
    g_autofree char *pinned = replace(xml, "</vcpu>",
                                      "</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='10-19,30-39'/>\n"
                                      "  </cputune>");
    g_autoptr(GError) error = NULL;
    g_autofree char *digest = vnuma_agent_pins_digest(pinned, strlen(pinned), &error);
    g_autoptr(VnumaAgentPlacement) first = place(host, xml, NULL, NULL, 0, 0);
    g_autoptr(VnumaAgentState) record = vnuma_agent_state_from_layout(first->layout, first->fingerprint,
                                                                      NULL, 1700000000);
    g_autoptr(VnumaAgentPlacement) foreign = place(host, pinned, NULL, NULL, 0, 0);

    assert_non_null(digest);
    assert_false(foreign->managed);
    assert_non_null(foreign->reason);

    record->pins_digest = g_strdup(digest);
    g_autoptr(VnumaAgentPlacement) resumed = place(host, pinned, record, NULL, 0, 0);
    assert_true(resumed->managed);
    assert_true(resumed->resumed);
    assert_non_null(resumed->layout);

    /* Another host shape (a migration): the record's nodes mean nothing. */
    g_free(record->host);
    record->host = g_strdup("another-host");
    g_autoptr(VnumaAgentPlacement) moved = place(host, pinned, record, NULL, 0, 0);
    assert_false(moved->resumed);
    assert_false(moved->managed);
}

/* A record left pending (the agent was killed, or rolled back, half way
 * through applying): the pins, whatever their digest, are the agent's;
 * the domain is placed afresh, not left alone as admin-pinned. */
static void
test_recover_pending(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *xml = vnuma_test_read("examples/domains/narrow-8vcpu.xml", NULL);
    g_autofree char *half = replace(xml, "</vcpu>",
                                    "</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='10-19,30-39'/>\n"
                                    "  </cputune>");
    g_autoptr(VnumaAgentPlacement) first = place(host, xml, NULL, NULL, 0, 0);
    g_autoptr(VnumaAgentState) record = vnuma_agent_state_from_layout(first->layout, first->fingerprint,
                                                                      NULL, 1700000000);
    g_autoptr(VnumaAgentPlacement) recovered = NULL;
    g_autoptr(VnumaAgentPlacement) other_host = NULL;

    record->pins_digest = g_strdup("not-these-pins");
    record->pending = TRUE;
    recovered = place(host, half, record, NULL, 0, 0);
    assert_true(recovered->managed);
    assert_true(recovered->recovered);
    assert_false(recovered->resumed);
    assert_int_equal(home_of(recovered, 0), 0);
    /* Pending whatever host it names: the pins are still suspect as the
     * agent's own (it was killed, or rolled back, mid-apply). */
    g_free(record->host);
    record->host = g_strdup("another-host");
    other_host = place(host, half, record, NULL, 0, 0);
    assert_true(other_host->recovered);
    assert_true(other_host->managed);
}

/* A CPU-only node's clients keep their memory on the nearest node that
 * has memory. */
static void
test_memory_node(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-4s4c-ht");
    g_autoptr(VnumaAgentState) state = vnuma_agent_state_new();
    g_autoptr(VnumaCpuSet) nodes = NULL;
    g_autofree char *list = NULL;

    ((VnumaHostNode *) host->nodes->pdata[2])->memory_kib = 0;
    assert_int_equal(vnuma_host_memory_node(host, 0), 0);
    /* Equidistant (21) from the other three: the lowest id. */
    assert_int_equal(vnuma_host_memory_node(host, 2), 0);
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(0, 3), 2, 1024, -1);
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(4, 7), 3, 1024, -1);
    nodes = vnuma_agent_memory_nodes(host, state);
    list = vnuma_cpuset_format(nodes);
    assert_string_equal(list, "0,3");
}

static void
test_unmanaged_left_alone(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    static const char *const names[] = { "nova-pinned", "numad-auto", "unmanaged-optout" };

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_strdup_printf("examples/domains/%s.xml", names[i]);
        g_autofree char *xml = vnuma_test_read(path, NULL);
        g_autoptr(VnumaAgentPlacement) p = place(host, xml, NULL, NULL, 0, 0);
        g_autofree char *skip = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *defined = vnuma_agent_size_definition(host, &settings, xml, strlen(xml), 0,
                                                               &skip, &error);

        assert_false(p->managed);
        assert_non_null(p->reason);
        assert_null(p->layout);
        assert_null(defined);
        assert_null(error);
        assert_true(g_str_has_prefix(skip, "not managed"));
    }
}

static void
test_nodeset_modes(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *xml = vnuma_test_read("examples/domains/narrow-8vcpu.xml", NULL);
    g_autofree char *strict = replace(xml, "</vcpu>", "</vcpu>\n  <numatune>\n    <memory mode='strict'/>\n"
                                                      "  </numatune>");
    g_autofree char *restrictive = replace(xml, "</vcpu>", "</vcpu>\n  <numatune>\n    "
                                                           "<memory mode='restrictive'/>\n  </numatune>");
    g_autoptr(VnumaAgentPlacement) s = place(host, strict, NULL, NULL, 0, 0);
    g_autoptr(VnumaAgentPlacement) r = place(host, restrictive, NULL, NULL, 0, 0);

    assert_true(s->managed);
    assert_false(s->nodeset_live);
    assert_true(r->managed);
    assert_true(r->nodeset_live);
    assert_false(r->numatune_absent);
}

/* libvirt's test driver names its domains' type 'test'. */
static void
test_test_driver_stands_in(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("small-2node");
    g_autofree char *xml = vnuma_test_read("examples/domains/narrow-8vcpu.xml", NULL);
    g_autofree char *test = replace(xml, "<domain type='kvm'>", "<domain type='test'>");
    g_autoptr(VnumaAgentPlacement) plain = place(host, test, NULL, NULL, 0, 0);
    g_autoptr(VnumaAgentPlacement) standin = place(host, test, NULL, NULL, 0, VNUMA_PLAN_TEST_AS_KVM);

    assert_false(plain->managed);
    assert_true(standin->managed);
}

static void
test_size_definition(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *xml = vnuma_test_read("examples/domains/wide-12vcpu.xml", NULL);
    g_autofree char *policy = vnuma_test_read("examples/domains/prefer-ht-12vcpu.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *skip = NULL;
    g_autofree char *sized = vnuma_agent_size_definition(host, &settings, xml, strlen(xml), 0, &skip, &error);
    g_autofree char *again = NULL;
    g_autofree char *with_policy = NULL;

    assert_non_null(sized);
    assert_null(skip);
    assert_non_null(strstr(sized, "<vnuma:layout"));
    assert_non_null(strstr(sized, "<numa>"));
    vnuma_test_assert_valid(sized, "domain");
    /* Idempotent: the agent's own define comes back as a DEFINED event. */
    again = vnuma_agent_size_definition(host, &settings, sized, strlen(sized), 0, &skip, &error);
    assert_null(again);
    assert_null(error);
    assert_true(g_str_has_prefix(skip, "already sized"));
    g_clear_pointer(&skip, g_free);
    /* Sized at define time with other settings (the Nova driver with the
     * node's vnuma.conf: strict <numatune>): left as it is. */
    {
        VnumaSettings strict = settings;
        g_autofree char *driver = NULL;
        g_autofree char *other = NULL;

        strict.memory_mode = VNUMA_MEMORY_MODE_STRICT;
        driver = vnuma_agent_size_definition(host, &strict, xml, strlen(xml), 0, &skip, &error);
        assert_non_null(driver);
        assert_non_null(strstr(driver, "mode='strict'"));
        assert_null(vnuma_agent_size_definition(host, &settings, driver, strlen(driver), 0, &skip, &error));
        assert_null(error);
        assert_true(g_str_has_prefix(skip, "already sized"));
        g_clear_pointer(&skip, g_free);
        /* ...but not a definition sized for another host shape. */
        {
            g_autoptr(VnumaHost) four = vnuma_test_host("xeon-4s4c-ht");

            other = vnuma_agent_size_definition(four, &settings, driver, strlen(driver), 0, &skip, &error);
            assert_non_null(other);
            assert_null(skip);
        }
    }
    /* With <vnuma:policy>, libvirt would keep only one of policy and record. */
    with_policy = vnuma_agent_size_definition(host, &settings, policy, strlen(policy), 0, &skip, &error);
    assert_null(with_policy);
    assert_non_null(strstr(skip, "vnuma:policy"));
    g_clear_pointer(&skip, g_free);
    assert_null(vnuma_agent_size_definition(host, &settings, "<domain", 7, 0, &skip, &error));
    assert_non_null(error);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_load_decides),
        cmocka_unit_test(test_resume_from_record),
        cmocka_unit_test(test_recover_pending),
        cmocka_unit_test(test_memory_node),
        cmocka_unit_test(test_unmanaged_left_alone),
        cmocka_unit_test(test_nodeset_modes),
        cmocka_unit_test(test_test_driver_stands_in),
        cmocka_unit_test(test_size_definition),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
