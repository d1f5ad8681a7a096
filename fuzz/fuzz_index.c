/*
 * fuzz_index.c - fuzzes the duplicate index's readers: segment parsing in
 * nf_index_verify, renumbering in nf_index_repair, and loading through
 * nf_dedup_new(index_dir).
 *
 * The input is cut at each "NFSEG001" (the segment magic) into segment
 * files; the harness writes them with correct trailing checksums and a
 * MANIFEST naming them with the document counts their headers claim, so the
 * fuzzer reaches the structure checks behind the checksum gate. (Damage the
 * checksum catches is covered by tests/cli_reliability.sh.) Invariants:
 * verify succeeds and counts its bad segments; repair succeeds and leaves an
 * index that verifies with no problem and the documents repair says it kept;
 * a dedup run loads the repaired index and sees exactly those documents.
 * Seeds: segments of a real index written with --perms 16.
 */
#include <newsfold.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz_util.h"

#define PERMS 16

static char dir[64];

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

/* Where the next segment magic starts after from, or size. */
static size_t next_magic(const uint8_t *data, size_t size, size_t from)
{
    for (size_t i = from + 1; i + 8 <= size; i++)
        if (memcmp(data + i, "NFSEG001", 8) == 0)
            return i;
    return size;
}

static void write_index(const uint8_t *data, size_t size)
{
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    int bands, rows;
    nf_lsh_params(o.threshold, PERMS, &bands, &rows);
    char path[512];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    FILE *m = fopen(path, "wb");
    CHECK(m);
    fprintf(m, "newsfold-index 1\nparams method=minhash perms=%d ngram=%d hamming=%d bands=%d rows=%d samples=winnow8\n", PERMS,
            o.ngram, o.hamming, bands, rows);
    size_t start = 0, n_seg = 0;
    while (start < size && n_seg < 8) {
        size_t end = next_magic(data, size, start);
        uint64_t docs = 0, sum = XXH64(data + start, end - start, 0);
        if (end - start >= 24)
            memcpy(&docs, data + start + 16, 8);
        char name[64];
        snprintf(name, sizeof name, "seg-%06zu-0000000000000000.nfs", ++n_seg);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *s = fopen(path, "wb");
        CHECK(s);
        fwrite(data + start, 1, end - start, s);
        fwrite(&sum, 8, 1, s);
        fclose(s);
        fprintf(m, "segment %s %" PRIu64 " %zu %016" PRIx64 "\n", name, docs, end - start + 8, sum);
        start = end;
    }
    fclose(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        /* tmpfs when there is one: repair and the writer fsync */
        snprintf(dir, sizeof dir, "/dev/shm/fuzz_index.XXXXXX");
        if (!mkdtemp(dir)) {
            snprintf(dir, sizeof dir, "/tmp/fuzz_index.XXXXXX");
            CHECK(mkdtemp(dir));
        }
    }
    clear_dir();
    write_index(data, size);
    nf_index_report v, r, again;
    nf_error err;
    CHECK(nf_index_verify(dir, &v, &err) == NF_OK);
    size_t bad = 0;
    for (size_t i = 0; i < v.n_segments; i++)
        bad += v.segments[i].problem != NULL;
    CHECK(bad + v.n_problems == v.n_bad);
    CHECK(nf_index_repair(dir, &r, &err) == NF_OK);
    CHECK(nf_index_verify(dir, &again, &err) == NF_OK);
    CHECK(again.n_bad == 0);
    CHECK(again.docs == r.docs);
    if (v.n_bad == 0)
        CHECK(r.dropped_docs == 0 && again.docs == v.docs && again.pairs == v.pairs);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    o.perms = PERMS;
    o.index_dir = dir;
    o.threads = 1;
    nf_dedup *d = NULL;
    CHECK(nf_dedup_new(&d, &o, &err) == NF_OK);
    nf_dedup_result res;
    if (nf_dedup_finish(d, &res, &err) == NF_OK) {
        CHECK(res.n_docs == again.docs);
        for (size_t i = 0; i < res.n_docs; i++)
            CHECK(res.docs[i].from_index && res.docs[i].canonical < res.n_docs);
        nf_dedup_result_free(&res);
    }
    nf_dedup_free(d);
    nf_index_report_free(&v);
    nf_index_report_free(&r);
    nf_index_report_free(&again);
    return 0;
}
