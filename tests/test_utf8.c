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

static size_t lead(const char *s, size_t max, bool *cut) { return nfi_utf8_lead(s, strlen(s), max, cut); }

/* The lead of an overlong derived title: first sentence, else words, else
 * whole characters; never a split character, never over max. */
static void test_lead(void **state)
{
    (void)state;
    bool cut;
    assert_int_equal(lead("short", 40, &cut), 5);
    assert_false(cut);
    const char *two = "The first sentence ends here. The second one is longer than that.";
    assert_int_equal(lead(two, 40, &cut), strlen("The first sentence ends here."));
    assert_false(cut);
    const char *abbr = "The U.S. Senate voted on the bill late on Tuesday night again";
    assert_int_equal(lead(abbr, 40, &cut), strlen("The U.S. Senate voted on the bill late"));
    assert_true(cut);
    const char *ja = "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xa7\xe5\x9c\xb0\xe9\x9c\x87\xe3\x80\x82"
                     "\xe5\xa4\xa7\xe3\x81\x8d\xe3\x81\xaa\xe8\xa2\xab\xe5\xae\xb3"; /* 東京で地震。大きな被害 */
    assert_int_equal(lead(ja, 20, &cut), 18); /* up to and with the ideographic full stop */
    assert_false(cut);
    const char *zh = "\xe5\x8c\x97\xe4\xba\xac\xe5\x8c\x97\xe4\xba\xac\xe5\x8c\x97\xe4\xba\xac"; /* no break at all */
    assert_int_equal(lead(zh, 10, &cut), 9); /* three whole characters of 3 bytes */
    assert_true(cut);
    uint64_t x = 88172645463325252ULL; /* property: random UTF-8, any max */
    for (int i = 0; i < 2000; i++) {
        char buf[64];
        size_t n = 0;
        while (n < 48) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t cp = (x & 3) == 0 ? ' ' : (x & 3) == 1 ? '.' : (uint32_t)(0x41 + (x >> 8) % 0x3000);
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 'a';
            n += nfi_utf8_encode(cp, buf + n);
        }
        size_t max = 4 + (size_t)(x >> 40) % 40, got = nfi_utf8_lead(buf, n, max, &cut);
        assert_true(got <= max);
        size_t bad, out_len;
        char *rep = nf_utf8_repair(buf, got, &out_len, &bad);
        assert_int_equal(bad, 0);
        free(rep);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_unchanged),
        cmocka_unit_test(test_invalid_sequences),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_lead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
