/*
 * fuzz_warc.c - fuzzes the WARC reader through the public reader API:
 * record framing, header fields, HTTP status/headers, chunked and gzip
 * payloads, resynchronisation after corrupt records, and (for .warc.gz)
 * member-by-member inflation with recovery from corrupt members.
 *
 * The first byte picks the mode; the rest is the archive.
 * - bit 0 clear: the bytes are written as crawl.warc, as they are.
 * - bit 0 set: the bytes are cut before every "WARC/1." and each piece
 *   becomes one gzip member of crawl.warc.gz (as WARC writers do); bits 1-7
 *   then, when non-zero, pick a byte of the compressed file to flip, so
 *   corrupt members are exercised with well-formed records around them.
 * - bit 1 also defers extraction (nf_doc_extract runs after reading).
 * Invariants: nf_reader_next returns NF_OK, NF_SKIPPED (with a message
 * naming the file) or NF_END (NF_ERR_NOMEM tolerated), and reaches NF_END
 * within a bounded number of calls; every document has a non-empty id,
 * valid UTF-8 text with text_len == strlen(text), and extract info marked
 * as coming from a WARC record at an offset inside the file.
 */
#include <newsfold.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_util.h"

static char dir[64];

static void cleanup(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/crawl.warc", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/crawl.warc.gz", dir);
    unlink(path);
    rmdir(dir);
}

static const char *workdir(void)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/fuzz_warc.XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
        atexit(cleanup);
    }
    return dir;
}

static void put_member(FILE *f, const uint8_t *p, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    uLong cap = deflateBound(&z, (uLong)n);
    unsigned char *out = malloc(cap);
    CHECK(out != NULL);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    fwrite(out, 1, z.total_out, f);
    deflateEnd(&z);
    free(out);
}

static size_t write_archive(const char *path, const uint8_t *p, size_t n, bool gz, unsigned flip)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!gz) {
        fwrite(p, 1, n, f);
    } else {
        size_t start = 0;
        for (size_t i = 1; i + 7 <= n; i++) {
            if (memcmp(p + i, "WARC/1.", 7) == 0) {
                put_member(f, p + start, i - start);
                start = i;
            }
        }
        if (n > start)
            put_member(f, p + start, n - start);
    }
    long size = ftell(f);
    if (gz && flip && size > 0) {
        long at = (long)((flip * 2654435761u) % (unsigned long)size);
        fseek(f, at, SEEK_SET);
        fputc(0xA5, f);
    }
    fclose(f);
    return size > 0 ? (size_t)size : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool gz = data[0] & 1, defer = data[0] & 2;
    char path[128];
    snprintf(path, sizeof path, "%s/crawl.warc%s", workdir(), gz ? ".gz" : "");
    size_t file_size = write_archive(path, data + 1, size - 1, gz, data[0] >> 1);
    nf_reader *r = NULL;
    nf_error err = {NF_OK, ""};
    nf_reader_options o = {.max_page_bytes = 1u << 20, .defer_extract = defer};
    const char *paths[] = {path};
    CHECK(nf_reader_open(&r, paths, 1, &o, &err) == NF_OK);
    for (size_t calls = 0;; calls++) {
        CHECK(calls <= size + 16);
        nf_doc d;
        nf_status st = nf_reader_next(r, &d, &err);
        if (st == NF_END || st == NF_ERR_NOMEM)
            break;
        if (st == NF_SKIPPED) {
            CHECK(strstr(err.message, "crawl.warc") != NULL);
            continue;
        }
        CHECK(st == NF_OK);
        st = nf_doc_extract(&d, NULL, &err);
        CHECK(st == NF_OK || st == NF_SKIPPED || st == NF_ERR_NOMEM);
        CHECK(d.id != NULL && d.id[0] != '\0');
        CHECK(d.text != NULL && d.text_len == strlen(d.text));
        CHECK(fuzz_valid_utf8(d.text, d.text_len, true));
        CHECK(d.extract != NULL && d.extract->from_warc);
        CHECK(d.extract->offset < (gz ? file_size : size));
        nf_doc_free(&d);
    }
    nf_reader_close(r);
    return 0;
}
