/* test_utf8.c - UTF-8 repair: replacement per maximal invalid subpart,
 * counts, NUL handling, and a round-trip property over random code points. */
#include "test_util.h"

static void repair_case(const char *in, size_t len, const char *want, size_t want_bad)
{
    size_t out_len, bad;
    char *out = nf_utf8_repair(in, len, &out_len, &bad);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(out_len, strlen(want));
    assert_int_equal(bad, want_bad);
    free(out);
}

static void test_valid_unchanged(void **state)
{
    (void)state;
    const char *s = "Grüße aus Pjöngjang — 北京 — 서울 🙂";
    repair_case(s, strlen(s), s, 0);
}

static void test_invalid_sequences(void **state)
{
    (void)state;
    repair_case("a\xFF" "b", 3, "a\xEF\xBF\xBD" "b", 1);                 /* stray byte */
    repair_case("\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD", 2);            /* overlong */
    repair_case("\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3); /* surrogate */
    repair_case("x\xE2\x82", 3, "x\xEF\xBF\xBD", 1);                      /* truncated: one U+FFFD */
    repair_case("a\0b", 3, "a\xEF\xBF\xBD" "b", 1);                       /* NUL */
    repair_case("\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 4); /* > U+10FFFF */
}

static void test_roundtrip_property(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t cp = (uint32_t)(x % 0x110000);
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
            continue;
        char enc[4];
        size_t n = nfi_utf8_encode(cp, enc);
        uint32_t back;
        assert_int_equal(nfi_utf8_decode((const unsigned char *)enc, n, &back), n);
        assert_int_equal(back, cp);
        size_t bad, out_len;
        char *rep = nf_utf8_repair(enc, n, &out_len, &bad);
        assert_int_equal(bad, 0);
        assert_memory_equal(rep, enc, n);
        free(rep);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_unchanged),
        cmocka_unit_test(test_invalid_sequences),
        cmocka_unit_test(test_roundtrip_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
