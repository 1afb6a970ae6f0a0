/* Events: a note over the API's 1 KiB is cut on a UTF-8 character boundary
 * and the Event is still posted (a cut inside a sequence made it
 * unencodable, and it was dropped without a word). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakeapi.h"

static void test_note_cut_on_characters(void **state)
{
    json_t *srv = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "name", "fetch", "namespace",
                            "default", "uid", "u1");
    char note[3001];

    (void)state;
    for (int shift = 0; shift < 3; shift++) {
        fake_t api;
        const char *k, *got = NULL;
        json_t *v;
        size_t o = 0;

        fake_init(&api);
        for (int i = 0; i < shift; i++)
            note[o++] = 'x';
        while (o + 3 < sizeof(note)) { /* "€" is three bytes */
            memcpy(note + o, "\xE2\x82\xAC", 3);
            o += 3;
        }
        note[o] = '\0';
        assert_int_equal(
            ctl_event_post(&api.super, "me", srv, "Warning", "Failed", "Reconcile", note, 0), 0);
        assert_int_equal(api.events, 1);
        json_object_foreach(api.objs, k, v)
        {
            if (strstr(k, "/events/"))
                got = mcp_json_str(v, "note");
        }
        assert_non_null(got);
        assert_true(strlen(got) <= 1024 && strlen(got) > 1020);
        assert_memory_equal(got, note, strlen(got));
        fake_dispose(&api);
    }
    json_decref(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_cut_on_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
