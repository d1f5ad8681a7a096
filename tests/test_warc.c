/* test_warc.c - the WARC reader: which records become documents (HTML
 * responses and resources) and which are counted and passed over, HTTP
 * decoding (charset, chunked, gzip), .warc.gz with one member per record,
 * and recovery from corrupt records and members, each reported by file and
 * offset while the rest of the file is read. The archives are built here. */
#include "test_util.h"

#include <zlib.h>

#define BODY1 "<html><head><title>Harbour news</title></head><body><p>The new ferry terminal opened on " \
              "Monday after three years of building work, and the first boats left on time.</p></body></html>"
#define BODY2 "<html><body><p>Chunked transfer coding splits this page into pieces that the reader " \
              "must put back together before the parser sees a single byte of it.</p></body></html>"
#define BODY3 "<html><body><p>This page was sent compressed with gzip content coding, which the reader " \
              "undoes before the charset is even looked at by the decoder.</p></body></html>"
#define BODY4 "<html><body><p>A resource record carries the page itself, with no HTTP response around " \
              "it, as some archiving tools write when they save local files.</p></body></html>"

typedef struct archive {
    nfi_buf data;
    uint64_t offsets[32];
    size_t n;
    bool gz;
} archive;

static void deflate_into(nfi_buf *out, const char *p, size_t n, bool gzip)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    nfi_buf_reserve(out, deflateBound(&z, (uLong)n));
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)(out->cap - out->len - 1);
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len += z.total_out;
    deflateEnd(&z);
}

static void record(archive *a, const char *type, const char *uri, const char *ctype, const char *block,
                   size_t block_len)
{
    nfi_buf r;
    nfi_buf_init(&r);
    nfi_buf_printf(&r, "WARC/1.0\r\nWARC-Type: %s\r\nWARC-Date: 2024-05-06T07:08:09Z\r\n", type);
    nfi_buf_printf(&r, "WARC-Record-ID: <urn:uuid:%zu>\r\n", a->n);
    if (uri)
        nfi_buf_printf(&r, "WARC-Target-URI: %s\r\n", uri);
    nfi_buf_printf(&r, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, block_len);
    nfi_buf_append(&r, block, block_len);
    nfi_buf_puts(&r, "\r\n\r\n");
    a->offsets[a->n++] = a->data.len;
    if (a->gz)
        deflate_into(&a->data, r.data, r.len, true);
    else
        nfi_buf_append(&a->data, r.data, r.len);
    nfi_buf_free(&r);
}

static void response(archive *a, const char *uri, const char *status_headers, const char *body, size_t len)
{
    nfi_buf h;
    nfi_buf_init(&h);
    nfi_buf_printf(&h, "%s\r\n\r\n", status_headers);
    nfi_buf_append(&h, body, len);
    record(a, "response", uri, "application/http; msgtype=response", h.data, h.len);
    nfi_buf_free(&h);
}

/* Ten records: four pages, six passed over. */
static void build(archive *a, bool gz)
{
    memset(a, 0, sizeof *a);
    a->gz = gz;
    record(a, "warcinfo", NULL, "application/warc-fields", "software: test\r\n", 16);
    record(a, "request", "http://a.example/1", "application/http; msgtype=request",
           "GET /1 HTTP/1.1\r\nHost: a.example\r\n\r\n", 36);
    const char latin[] = "<html><body><p>Caf\xE9 society returned to the old harbour this summer, with more "
                         "terraces than before and long queues for the ferries to the islands.</p></body></html>";
    response(a, "http://a.example/1",
             "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=windows-1252\r\n"
             "Last-Modified: Sun, 05 May 2024 10:00:00 GMT",
             latin, strlen(latin));
    response(a, "http://a.example/logo.png", "HTTP/1.1 200 OK\r\nContent-Type: image/png", "\x89PNG\r\n", 6);
    response(a, "http://a.example/old", "HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Type: text/html",
             "<a href=/new>moved</a>", 22);
    nfi_buf chunked;
    nfi_buf_init(&chunked);
    size_t half = strlen(BODY2) / 2;
    nfi_buf_printf(&chunked, "%zx\r\n", half);
    nfi_buf_append(&chunked, BODY2, half);
    const char *body2 = BODY2;
    nfi_buf_printf(&chunked, "\r\n%zx\r\n%s\r\n0\r\n\r\n", strlen(body2) - half, body2 + half);
    response(a, "http://a.example/2", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked",
             chunked.data, chunked.len);
    nfi_buf_free(&chunked);
    nfi_buf zipped;
    nfi_buf_init(&zipped);
    deflate_into(&zipped, BODY3, strlen(BODY3), true);
    response(a, "http://a.example/3", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip",
             zipped.data, zipped.len);
    nfi_buf_free(&zipped);
    record(a, "metadata", "http://a.example/3", "application/warc-fields", "via: test\r\n", 11);
    record(a, "revisit", "http://a.example/3", "application/http; msgtype=response", "HTTP/1.1 200 OK\r\n\r\n", 19);
    record(a, "resource", "file:///local/4.html", "text/html", BODY4, strlen(BODY4));
}

typedef struct result {
    char ids[16][128];
    size_t n, skipped;
    char messages[8][NF_ERROR_MESSAGE_MAX];
    uint64_t ignored;
    char first_text[512], first_charset[40], first_fetched[40], first_published[16];
} result;

static result read_archive(const char *dir, const char *name, const archive *a, size_t max_page, int defer)
{
    tu_write(dir, name, a->data.data ? a->data.data : "", a->data.len);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    result r;
    memset(&r, 0, sizeof r);
    nf_reader *rd;
    nf_error err;
    nf_reader_options o = {.max_page_bytes = max_page, .defer_extract = defer};
    const char *paths[] = {path};
    assert_int_equal(nf_reader_open(&rd, paths, 1, &o, &err), NF_OK);
    for (;;) {
        nf_doc d;
        nf_status st = nf_reader_next(rd, &d, &err);
        if (st == NF_END)
            break;
        if (st == NF_SKIPPED) {
            if (r.skipped < 8)
                snprintf(r.messages[r.skipped], NF_ERROR_MESSAGE_MAX, "%s", err.message);
            r.skipped++;
            continue;
        }
        assert_int_equal(st, NF_OK);
        assert_int_equal(nf_doc_extract(&d, NULL, &err), NF_OK);
        assert_non_null(d.extract);
        assert_true(d.extract->from_warc);
        if (r.n == 0) {
            snprintf(r.first_text, sizeof r.first_text, "%s", d.text);
            snprintf(r.first_charset, sizeof r.first_charset, "%s", d.extract->charset);
            snprintf(r.first_fetched, sizeof r.first_fetched, "%s", d.extract->fetched ? d.extract->fetched : "");
            snprintf(r.first_published, sizeof r.first_published, "%s", d.published ? d.published : "");
        }
        snprintf(r.ids[r.n++], 128, "%s", d.id);
        nf_doc_free(&d);
    }
    r.ignored = nf_reader_records_ignored(rd);
    nf_reader_close(rd);
    return r;
}

static void check_good(const result *r)
{
    const char *want[] = {"http://a.example/1", "http://a.example/2", "http://a.example/3", "file:///local/4.html"};
    assert_int_equal(r->n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(r->ids[i], want[i]);
    assert_int_equal(r->skipped, 0);
    assert_int_equal(r->ignored, 6);
    assert_non_null(strstr(r->first_text, "Caf\xC3\xA9 society"));
    assert_string_equal(r->first_charset, "windows-1252");
    assert_string_equal(r->first_fetched, "2024-05-06T07:08:09Z");
    assert_string_equal(r->first_published, "2024-05-05"); /* from Last-Modified */
}

static void test_plain_and_gz(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    for (int gz = 0; gz < 2; gz++) {
        for (int defer = 0; defer < 2; defer++) {
            archive a;
            build(&a, gz);
            result r = read_archive(dir, gz ? "crawl.warc.gz" : "crawl.warc", &a, 0, defer);
            check_good(&r);
            nfi_buf_free(&a.data);
        }
    }
    tu_rmtree(dir);
    free(dir);
}

static void test_corrupt_member(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    archive a;
    build(&a, true);
    /* garble the deflate data of record 5 (the chunked page) */
    uint64_t at = a.offsets[5] + 30;
    for (int i = 0; i < 12; i++)
        a.data.data[at + (uint64_t)i] ^= 0x5A;
    result r = read_archive(dir, "bad.warc.gz", &a, 0, 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.ids[1], "http://a.example/3"); /* reading went on after the bad member */
    assert_int_equal(r.skipped, 1);
    char where[64];
    snprintf(where, sizeof where, "offset %llu", (unsigned long long)a.offsets[5]);
    if (!strstr(r.messages[0], where) || !strstr(r.messages[0], "bad.warc.gz"))
        fail_msg("message should name the file and %s: %s", where, r.messages[0]);
    /* a member cut short at the end of the file */
    a.data.len = a.offsets[9] + 20;
    r = read_archive(dir, "cut.warc.gz", &a, 0, 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.skipped, 2);
    assert_non_null(strstr(r.messages[1], "truncated"));
    nfi_buf_free(&a.data);
    tu_rmtree(dir);
    free(dir);
}

static void test_corrupt_plain(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    archive a;
    build(&a, false);
    /* Content-Length of record 2 made unreadable, junk before record 6 */
    char *cl = strstr(a.data.data + a.offsets[2], "Content-Length: ");
    assert_non_null(cl);
    memcpy(cl + 16, "x", 1);
    nfi_buf fixed;
    nfi_buf_init(&fixed);
    nfi_buf_append(&fixed, a.data.data, a.offsets[6]);
    nfi_buf_puts(&fixed, "garbage line\r\nmore garbage\r\n");
    nfi_buf_append(&fixed, a.data.data + a.offsets[6], a.data.len - a.offsets[6]);
    nfi_buf_free(&a.data);
    a.data = fixed;
    result r = read_archive(dir, "bad.warc", &a, 0, 0);
    assert_int_equal(r.n, 3); /* record 2's page is lost, the others are read */
    assert_string_equal(r.ids[0], "http://a.example/2");
    assert_int_equal(r.skipped, 2);
    char where[64];
    snprintf(where, sizeof where, "offset %llu", (unsigned long long)a.offsets[2]);
    assert_non_null(strstr(r.messages[0], where));
    assert_non_null(strstr(r.messages[0], "Content-Length"));
    assert_non_null(strstr(r.messages[1], "no WARC record"));
    /* the last record truncated */
    a.data.len -= 60;
    r = read_archive(dir, "cut.warc", &a, 0, 0);
    assert_int_equal(r.n, 2);
    assert_non_null(strstr(r.messages[2], "truncated"));
    nfi_buf_free(&a.data);
    tu_rmtree(dir);
    free(dir);
}

static void test_page_limit(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    archive a;
    memset(&a, 0, sizeof a);
    nfi_buf big;
    nfi_buf_init(&big);
    nfi_buf_puts(&big, "<html><body>");
    while (big.len < 300000)
        nfi_buf_puts(&big, "<p>A paragraph that repeats to make a page far larger than the limit.</p>");
    response(&a, "http://big.example/", "HTTP/1.1 200 OK\r\nContent-Type: text/html", big.data, big.len);
    response(&a, "http://small.example/", "HTTP/1.1 200 OK\r\nContent-Type: text/html", BODY1, strlen(BODY1));
    result r = read_archive(dir, "big.warc", &a, 100000, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.ids[0], "http://small.example/");
    assert_int_equal(r.skipped, 1);
    assert_non_null(strstr(r.messages[0], "http://big.example/"));
    assert_non_null(strstr(r.messages[0], "larger than 100000"));
    nfi_buf_free(&big);
    nfi_buf_free(&a.data);
    tu_rmtree(dir);
    free(dir);
}

static void test_empty_and_junk_files(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    archive a;
    memset(&a, 0, sizeof a);
    result r = read_archive(dir, "empty.warc", &a, 0, 0);
    assert_int_equal(r.n + r.skipped, 0);
    nfi_buf_puts(&a.data, "this is not a WARC file at all\nnor is this line\n");
    r = read_archive(dir, "junk.warc", &a, 0, 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.skipped, 1);
    nfi_buf_free(&a.data);
    nfi_buf_init(&a.data);
    nfi_buf_puts(&a.data, "not gzip data either");
    r = read_archive(dir, "junk.warc.gz", &a, 0, 0);
    assert_int_equal(r.n, 0);
    assert_true(r.skipped >= 1);
    nfi_buf_free(&a.data);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_gz),
        cmocka_unit_test(test_corrupt_member),
        cmocka_unit_test(test_corrupt_plain),
        cmocka_unit_test(test_page_limit),
        cmocka_unit_test(test_empty_and_junk_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
