/* test_ingest.c - the reader: formats, ids, gzip, recursion order, and that
 * bad records are skipped with their file and line while the rest is read. */
#include "test_util.h"

#include <zlib.h>

typedef struct read_result {
    char ids[32][128]; /* the first 32 */
    char last[128];
    size_t n;
    char messages[16][NF_ERROR_MESSAGE_MAX];
    size_t n_skipped;
    size_t invalid_utf8;
} read_result;

static read_result read_all(const char *path, size_t max_record)
{
    read_result rr;
    memset(&rr, 0, sizeof rr);
    nf_reader *r;
    nf_error err;
    nf_reader_options o = {.max_record_bytes = max_record};
    const char *paths[] = {path};
    assert_int_equal(nf_reader_open(&r, paths, 1, &o, &err), NF_OK);
    for (;;) {
        nf_doc d;
        nf_status st = nf_reader_next(r, &d, &err);
        if (st == NF_END)
            break;
        if (st == NF_SKIPPED) {
            assert_true(rr.n_skipped < 16);
            snprintf(rr.messages[rr.n_skipped++], NF_ERROR_MESSAGE_MAX, "%s", err.message);
            continue;
        }
        assert_int_equal(st, NF_OK);
        assert_non_null(d.text);
        assert_int_equal(strlen(d.text), d.text_len);
        if (rr.n < 32)
            snprintf(rr.ids[rr.n], 128, "%s", d.id);
        snprintf(rr.last, sizeof rr.last, "%s", d.id);
        rr.n++;
        rr.invalid_utf8 += d.invalid_utf8;
        nf_doc_free(&d);
    }
    nf_reader_close(r);
    return rr;
}

static void test_formats_and_errors(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    const char jsonl[] = "{\"id\":\"a1\",\"text\":\"first\",\"lang\":\"en\",\"extra\":{\"x\":1}}\n"
                         "\n"
                         "{\"id\":\"a2\",\"text\":\"broken\"\n"
                         "{\"title\":\"no text\"}\n"
                         "{\"id\":\"a1\",\"text\":\"duplicate id\"}\n"
                         "{\"id\":7,\"text\":\"bad \xFF byte\"}\n"
                         "{\"text\":\"no id\"}\n";
    tu_write(dir, "b.jsonl", jsonl, sizeof jsonl - 1);
    const char json[] = "[{\"id\":\"j1\",\"text\":\"x\"}, 3, {\"id\":\"j2\",\"text\":\"y\"}]";
    tu_write(dir, "c.json", json, sizeof json - 1);
    tu_write(dir, "a.txt", "Title\n\nBody.\n", 13);
    tu_write(dir, "notes.xyz", "?", 1);
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/site", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    char gz[1100];
    snprintf(gz, sizeof gz, "%s/d.jsonl.gz", sub);
    gzFile g = gzopen(gz, "wb");
    gzputs(g, "{\"id\":\"gz1\",\"text\":\"compressed\"}\n");
    gzclose(g);

    read_result rr = read_all(dir, 0);
    const char *want[] = {"a.txt", "a1", "7", "b.jsonl:7", "j1", "j2", "gz1"};
    assert_int_equal(rr.n, sizeof want / sizeof *want);
    for (size_t i = 0; i < rr.n; i++) {
        if (strcmp(want[i], "b.jsonl:7") == 0) /* default ids carry the file path */
            assert_non_null(strstr(rr.ids[i], "b.jsonl:7"));
        else
            assert_string_equal(rr.ids[i], want[i]);
    }
    assert_int_equal(rr.invalid_utf8, 1);
    /* broken JSON, missing text, duplicate id, non-object, unknown file type */
    assert_int_equal(rr.n_skipped, 5);
    assert_non_null(strstr(rr.messages[0], "b.jsonl:3"));
    assert_non_null(strstr(rr.messages[1], "b.jsonl:4"));
    assert_non_null(strstr(rr.messages[2], "duplicate id \"a1\""));
    assert_non_null(strstr(rr.messages[3], "c.json:2"));
    assert_non_null(strstr(rr.messages[4], "notes.xyz"));
    tu_rmtree(dir);
    free(dir);
}

static void test_oversized_record_is_skipped(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    nfi_buf b;
    nfi_buf_init(&b);
    nfi_buf_puts(&b, "{\"id\":\"small\",\"text\":\"ok\"}\n{\"id\":\"big\",\"text\":\"");
    for (int i = 0; i < 5000; i++)
        nfi_buf_puts(&b, "0123456789");
    nfi_buf_puts(&b, "\"}\n{\"id\":\"after\",\"text\":\"still read\"}\n");
    tu_write(dir, "big.jsonl", b.data, b.len);
    nfi_buf_free(&b);
    read_result rr = read_all(dir, 4096);
    assert_int_equal(rr.n, 2);
    assert_string_equal(rr.ids[0], "small");
    assert_string_equal(rr.ids[1], "after");
    assert_int_equal(rr.n_skipped, 1);
    assert_non_null(strstr(rr.messages[0], "big.jsonl:2"));
    tu_rmtree(dir);
    free(dir);
}

static void test_truncated_gzip_reports_and_continues(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[1100];
    snprintf(path, sizeof path, "%s/a.jsonl.gz", dir);
    gzFile g = gzopen(path, "wb");
    for (int i = 0; i < 2000; i++)
        gzprintf(g, "{\"id\":\"r%d\",\"text\":\"record number %d with some words\"}\n", i, i * 7919);
    gzclose(g);
    size_t len;
    char *data = tu_read_file(path, &len);
    tu_write(dir, "a.jsonl.gz", data, len / 2); /* cut it in half */
    free(data);
    tu_write(dir, "b.jsonl", "{\"id\":\"z\",\"text\":\"after\"}\n", 27);
    read_result rr = read_all(dir, 0);
    assert_true(rr.n_skipped >= 1);
    assert_true(rr.n > 1 && rr.n < 2001);
    assert_string_equal(rr.last, "z");
    tu_rmtree(dir);
    free(dir);
}

/* Flat string records are read by a fast scanner, anything else by cJSON.
 * Each record here is read as it is and with a numeric field put first,
 * which sends it through cJSON: both documents must be the same. */
static void assert_same_field(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void test_fast_json_path_matches_cjson(void **state)
{
    (void)state;
    const char *records[] = {
        "{\"id\": \"a\", \"text\": \"q\\\"u\\\\o\\/t\\ne\\tb\\bf\\fr\\r end\"}",
        "{\"text\": \"first\", \"text\": \"second\", \"id\": \"\", \"id\": \"x\"}",
        " \t{ \"text\" : \"t\" , \"title\":\"\" , \"lang\" : \"de\"}  trailing ignored",
        "{\"text\": \"\", \"title\": \"Headline only\"}",
        "{\"text\": \"a\", \"published\": \"2024-01-02\", \"published_at\": \"2024-01-02T10:00:00Z\"}",
        "{\"text\": \"caf\xC3\xA9 \xEF\xB7\x90 mark\", \"source\": \"s\", \"url\": \"http://x/y\"}",
        "{\"other\": \"x\\\"y\", \"text\": \"after an ignored key\"}",
        "{\"text\": \"with \\u00e9 escape\"}",
        "{\"text\": \"ends in backslash\\\\\"}",
    };
    for (size_t i = 0; i < sizeof records / sizeof *records; i++) {
        const char *r = records[i];
        const char *brace = strchr(r, '{');
        char slow[512];
        snprintf(slow, sizeof slow, "%.*s{\"zz\":0,%s", (int)(brace - r), r, brace + 1);
        nf_doc a, b;
        nf_error err;
        assert_int_equal(nf_doc_from_json(r, strlen(r), "mem", 3, &a, &err), NF_OK);
        assert_int_equal(nf_doc_from_json(slow, strlen(slow), "mem", 3, &b, &err), NF_OK);
        assert_int_equal(a.text_len, b.text_len);
        assert_memory_equal(a.text, b.text, a.text_len);
        assert_same_field(a.id, b.id);
        assert_same_field(a.title, b.title);
        assert_same_field(a.lang, b.lang);
        assert_same_field(a.source, b.source);
        assert_same_field(a.published, b.published);
        assert_same_field(a.url, b.url);
        assert_int_equal(a.invalid_utf8, b.invalid_utf8);
        nf_doc_free(&a);
        nf_doc_free(&b);
    }
    nf_doc d;
    nf_error err;
    const char *dup = "{\"text\": \"first\", \"text\": \"second\", \"id\": \"\", \"id\": \"x\"}";
    assert_int_equal(nf_doc_from_json(dup, strlen(dup), "mem", 3, &d, &err), NF_OK);
    assert_string_equal(d.text, "first"); /* the first of repeated keys, as cJSON */
    assert_string_equal(d.id, "mem:3");   /* an empty id is none */
    nf_doc_free(&d);
    const char *bad[][2] = {
        {"{\"text\": \"bad \\x escape\"}", "mem:3: invalid JSON near byte"},
        {"{\"other\": \"bad \\d escape\", \"text\": \"t\"}", "mem:3: invalid JSON near byte"}, /* found by fuzz_jsonl */
        {"{\"text\": \"unterminated}", "mem:3: invalid JSON near byte"},
        {"{\"text\": \"a\",}", "mem:3: invalid JSON near byte"},
        {"{\"title\": \"no text\"}", "mem:3: no \"text\" string field, skipped"},
        {"[\"text\"]", "mem:3: not a JSON object, skipped"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(nf_doc_from_json(bad[i][0], strlen(bad[i][0]), "mem", 3, &d, &err), NF_SKIPPED);
        assert_non_null(strstr(err.message, bad[i][1]));
    }
}

static void test_missing_input_is_an_error(void **state)
{
    (void)state;
    nf_reader *r;
    nf_error err;
    const char *paths[] = {"/nonexistent/newsfold"};
    assert_int_equal(nf_reader_open(&r, paths, 1, NULL, &err), NF_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/newsfold"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_and_errors),
        cmocka_unit_test(test_oversized_record_is_skipped),
        cmocka_unit_test(test_truncated_gzip_reports_and_continues),
        cmocka_unit_test(test_missing_input_is_an_error),
        cmocka_unit_test(test_fast_json_path_matches_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
