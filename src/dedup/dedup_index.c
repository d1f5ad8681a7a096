/*
 * dedup_index.c - the incremental duplicate index (--index DIR).
 *
 * Layout: DIR/MANIFEST (text) lists the parameters the index was built with
 * and its segments in order, each with its size and XXH64 checksum; each
 * run that adds documents writes one segment file seg-NNNNNN.nfs holding
 * those documents' ids, hashes, signatures and containment samples plus the
 * verified pairs found in that run, and a trailing XXH64 of its bytes.
 * A later run loads the segments instead of re-sketching old documents,
 * compares only pairs involving new documents, and appends a segment.
 *
 * Crash safety: a segment is written to a temporary name, fsync'ed and
 * renamed; only then is the manifest rewritten the same way (temp, fsync,
 * rename, fsync of the directory). A crash at any point leaves either the
 * old or the new manifest, and every segment the manifest names complete.
 * Leftovers (temporary files, segments no manifest names) are detected on
 * load and removed. A named segment whose size or checksum does not match
 * is corruption, not a torn write, and the index is refused rather than
 * silently used. A directory that is not a newsfold index, or one built
 * with other parameters, is refused with a message saying why.
 */
#include "dedup/dedup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MANIFEST "MANIFEST"
#define MANIFEST_MAGIC "newsfold-index 1"
#define SEGMENT_MAGIC "NFSEG001"

static char *path_in(const char *dir, const char *name)
{
    nfi_buf p;
    nfi_buf_init(&p);
    nfi_buf_printf(&p, "%s/%s", dir, name);
    return nfi_buf_take(&p, NULL);
}

static void params_line(const nf_dedup *d, char *out, size_t cap)
{
    snprintf(out, cap, "params method=%s perms=%d ngram=%d hamming=%d bands=%d rows=%d",
             d->opt.method == NF_DEDUP_SIMHASH ? "simhash" : "minhash", d->opt.perms, d->opt.ngram,
             d->opt.hamming, d->bands, d->rows);
}

/* ------------------------------------------------------------ reading */

typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
} reader;

static void take(reader *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

static uint32_t take_u32(reader *r)
{
    uint32_t v;
    take(r, &v, sizeof v);
    return v;
}

static uint64_t take_u64(reader *r)
{
    uint64_t v;
    take(r, &v, sizeof v);
    return v;
}

static nf_status load_segment_docs(nf_dedup *d, reader *r, uint64_t n_docs, const char *path, nf_error *err)
{
    size_t perms = (size_t)d->opt.perms;
    uint32_t *sig = malloc(perms * sizeof *sig);
    nfi_buf id;
    nfi_buf_init(&id);
    nf_status st = sig ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n_docs && st == NF_OK; i++) {
        uint32_t id_len = take_u32(r);
        if (r->bad || id_len > (size_t)(r->end - r->p))
            return free(sig), nfi_buf_free(&id), nfi_fail(err, NF_ERR_PARSE, "%s: truncated document %" PRIu64, path, i);
        id.len = 0;
        nfi_buf_append(&id, r->p, id_len);
        r->p += id_len;
        nfi_sketch s;
        memset(&s, 0, sizeof s);
        s.exact_lo = take_u64(r);
        s.exact_hi = take_u64(r);
        s.simhash = take_u64(r);
        s.n_shingles = take_u32(r);
        uint32_t text_len = take_u32(r);
        int32_t published = (int32_t)take_u32(r);
        uint32_t flags = take_u32(r);
        s.n_samples = take_u32(r);
        if (r->bad || s.n_samples > (size_t)(r->end - r->p) / 8) {
            st = nfi_fail(err, NF_ERR_PARSE, "%s: truncated document %" PRIu64, path, i);
            break;
        }
        s.samples = malloc((s.n_samples ? s.n_samples : 1) * sizeof *s.samples);
        if (!s.samples) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        take(r, s.samples, s.n_samples * sizeof *s.samples);
        take(r, sig, perms * sizeof *sig);
        if (r->bad)
            st = nfi_fail(err, NF_ERR_PARSE, "%s: truncated document %" PRIu64, path, i);
        else
            st = nfi_dedup_append(d, id.data, &s, sig, text_len, published, flags | DOC_FROM_INDEX, err);
        free(s.samples);
    }
    free(sig);
    nfi_buf_free(&id);
    return st;
}

static nf_status load_segment(nf_dedup *d, const char *path, uint64_t size, uint64_t checksum, nf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nfi_fail(err, NF_ERR_IO, "%s: index segment named in the manifest is missing: %s", path,
                       strerror(errno));
    unsigned char *data = malloc(size ? size : 1);
    size_t got = data ? fread(data, 1, size, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (!data)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (got != size || extra != EOF || size < 48 || XXH64(data, size - 8, 0) != checksum ||
        memcmp(data + size - 8, &checksum, 8) != 0) {
        free(data);
        return nfi_fail(err, NF_ERR_PARSE,
                       "%s: index segment is corrupt (size or checksum mismatch); the index cannot be used", path);
    }
    reader r = {data, data + size - 8, false};
    char magic[8];
    take(&r, magic, 8);
    uint32_t perms = take_u32(&r);
    take_u32(&r); /* reserved */
    uint64_t n_docs = take_u64(&r), n_edges = take_u64(&r);
    uint64_t first = take_u64(&r);
    nf_status st = NF_OK;
    if (memcmp(magic, SEGMENT_MAGIC, 8) != 0 || perms != (uint32_t)d->opt.perms || first != d->n_docs)
        st = nfi_fail(err, NF_ERR_PARSE, "%s: not a segment of this index", path);
    if (st == NF_OK)
        st = load_segment_docs(d, &r, n_docs, path, err);
    for (uint64_t k = 0; k < n_edges && st == NF_OK; k++) {
        nfi_edge e;
        e.a = take_u32(&r);
        e.b = take_u32(&r);
        uint32_t rel = take_u32(&r);
        take(&r, &e.score, sizeof e.score);
        e.relation = (uint8_t)rel;
        if (r.bad || e.a >= d->n_docs || e.b >= d->n_docs) {
            st = nfi_fail(err, NF_ERR_PARSE, "%s: bad pair record %" PRIu64, path, k);
            break;
        }
        nfi_edge *g = realloc(d->index_edges, (d->n_index_edges + 1) * sizeof *g);
        if (!g) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        d->index_edges = g;
        d->index_edges[d->n_index_edges++] = e;
    }
    free(data);
    d->index_segments++;
    return st;
}

/* Removes files a crashed run may have left: temporaries and segments the
 * manifest does not name. */
static void remove_leftovers(const char *dir, const char *manifest_text)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return;
    struct dirent *e;
    while ((e = readdir(dd))) {
        size_t n = strlen(e->d_name);
        bool tmp = n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0;
        bool seg = strncmp(e->d_name, "seg-", 4) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".nfs") == 0;
        if (!tmp && !(seg && (!manifest_text || !strstr(manifest_text, e->d_name))))
            continue;
        char *p = path_in(dir, e->d_name);
        if (p)
            unlink(p);
        free(p);
    }
    closedir(dd);
}

static bool dir_is_empty(const char *dir)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(dd)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(dd);
    return empty;
}

static nf_status parse_manifest(nf_dedup *d, const char *dir, char *text, nf_error *err)
{
    char expect[256];
    params_line(d, expect, sizeof expect);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line || strcmp(line, MANIFEST_MAGIC) != 0)
        return nfi_fail(err, NF_ERR_PARSE, "%s: not a newsfold index (bad manifest header)", dir);
    line = strtok_r(NULL, "\n", &save);
    if (!line || strcmp(line, expect) != 0)
        return nfi_fail(err, NF_ERR_ARG, "%s: index built with other options (%s); this run uses %s", dir,
                       line ? line : "none", expect);
    nf_status st = NF_OK;
    while (st == NF_OK && (line = strtok_r(NULL, "\n", &save))) {
        char name[64];
        uint64_t docs, size, sum;
        if (sscanf(line, "segment %63s %" SCNu64 " %" SCNu64 " %" SCNx64, name, &docs, &size, &sum) != 4)
            return nfi_fail(err, NF_ERR_PARSE, "%s/" MANIFEST ": bad line '%s'", dir, line);
        char *p = path_in(dir, name);
        st = p ? load_segment(d, p, size, sum, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        free(p);
    }
    return st;
}

nf_status nfi_index_load(nf_dedup *d, nf_error *err)
{
    const char *dir = d->opt.index_dir;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (mkdir(dir, 0755) != 0)
            return nfi_fail(err, NF_ERR_IO, "%s: cannot create index directory: %s", dir, strerror(errno));
        return NF_OK;
    }
    if (!S_ISDIR(sb.st_mode))
        return nfi_fail(err, NF_ERR_ARG, "%s: not a directory", dir);
    char *mpath = path_in(dir, MANIFEST);
    char *text = mpath ? nfi_read_file(mpath, NULL) : NULL;
    free(mpath);
    if (!text) {
        remove_leftovers(dir, NULL); /* a first run that crashed leaves only these */
        if (dir_is_empty(dir))
            return NF_OK;
        return nfi_fail(err, NF_ERR_ARG, "%s: not a newsfold index (no readable " MANIFEST "), refusing to use it",
                       dir);
    }
    remove_leftovers(dir, text);
    char *copy = nfi_strdup(text);
    nf_status st = copy ? parse_manifest(d, dir, copy, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    free(copy);
    free(text);
    d->n_index_docs = d->n_docs;
    return st;
}

/* ------------------------------------------------------------ writing */

static nf_status write_durably(const char *dir, const char *name, const void *data, size_t len, nf_error *err)
{
    char *tmp = NULL, *final = path_in(dir, name);
    nfi_buf t;
    nfi_buf_init(&t);
    nfi_buf_printf(&t, "%s/%s.tmp", dir, name);
    tmp = nfi_buf_take(&t, NULL);
    nf_status st = NF_OK;
    int fd = tmp && final ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    if (fd < 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: cannot write %s: %s", dir, name, strerror(errno));
    for (size_t off = 0; st == NF_OK && off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w <= 0)
            st = nfi_fail(err, NF_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        else
            off += (size_t)w;
    }
    if (st == NF_OK && fsync(fd) != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (st == NF_OK && rename(tmp, final) != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: rename failed: %s", final, strerror(errno));
    if (st == NF_OK) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (st != NF_OK && tmp)
        unlink(tmp);
    free(tmp);
    free(final);
    return st;
}

static void put(nfi_buf *b, const void *p, size_t n) { nfi_buf_append(b, p, n); }
static void put_u32(nfi_buf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(nfi_buf *b, uint64_t v) { put(b, &v, sizeof v); }

static nf_status read_back(FILE *f, uint64_t off, void *out, size_t len, nf_error *err)
{
    if (len == 0)
        return NF_OK;
    if (fflush(f) != 0 || pread(fileno(f), out, len, (off_t)off) != (ssize_t)len)
        return nfi_fail(err, NF_ERR_IO, "cannot read back a temporary file");
    return NF_OK;
}

static nf_status encode_segment(nf_dedup *d, const nf_dedup_result *res, nfi_buf *b, nf_error *err)
{
    size_t perms = (size_t)d->opt.perms, first = d->n_index_docs;
    size_t n_new_edges = 0;
    for (size_t k = 0; k < res->n_pairs; k++)
        n_new_edges += res->pairs[k].a >= first || res->pairs[k].b >= first;
    put(b, SEGMENT_MAGIC, 8);
    put_u32(b, (uint32_t)perms);
    put_u32(b, 0);
    put_u64(b, d->n_docs - first);
    put_u64(b, n_new_edges);
    put_u64(b, first);
    uint32_t *sig = malloc(perms * sizeof *sig);
    nf_status st = sig ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = first; i < d->n_docs && st == NF_OK; i++) {
        const doc_meta *m = &d->docs[i];
        const char *id = d->ids.data + m->id_off;
        put_u32(b, (uint32_t)strlen(id));
        put(b, id, strlen(id));
        put_u64(b, m->exact_lo);
        put_u64(b, m->exact_hi);
        put_u64(b, m->simhash);
        put_u32(b, m->n_shingles);
        put_u32(b, m->text_len);
        put_u32(b, (uint32_t)m->published);
        put_u32(b, m->flags & ~(uint32_t)DOC_FROM_INDEX);
        put_u32(b, m->n_samples);
        if (!nfi_buf_reserve(b, (size_t)m->n_samples * 8)) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        st = read_back(d->sample_file, m->sample_off, b->data + b->len, (size_t)m->n_samples * 8, err);
        b->len += (size_t)m->n_samples * 8;
        if (st == NF_OK)
            st = read_back(d->sig_file, i * perms * sizeof *sig, sig, perms * sizeof *sig, err);
        put(b, sig, perms * sizeof *sig);
    }
    free(sig);
    for (size_t k = 0; k < res->n_pairs && st == NF_OK; k++) {
        const nf_dedup_pair *p = &res->pairs[k];
        if (p->a < first && p->b < first)
            continue;
        float score = (float)p->score;
        put_u32(b, p->a);
        put_u32(b, p->b);
        put_u32(b, (uint32_t)p->relation);
        put(b, &score, sizeof score);
    }
    if (st == NF_OK && b->oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

nf_status nfi_index_save(nf_dedup *d, const nf_dedup_result *res, nf_error *err)
{
    if (d->n_docs == d->n_index_docs)
        return NF_OK; /* nothing new */
    nfi_buf seg;
    nfi_buf_init(&seg);
    nf_status st = encode_segment(d, res, &seg, err);
    uint64_t sum = st == NF_OK ? XXH64(seg.data, seg.len, 0) : 0;
    put_u64(&seg, sum);
    char name[64];
    snprintf(name, sizeof name, "seg-%06zu.nfs", d->index_segments + 1);
    if (st == NF_OK)
        st = write_durably(d->opt.index_dir, name, seg.data, seg.len, err);
    nfi_buf manifest;
    nfi_buf_init(&manifest);
    if (st == NF_OK) {
        char *mpath = path_in(d->opt.index_dir, MANIFEST);
        size_t old_len = 0;
        char *old = mpath ? nfi_read_file(mpath, &old_len) : NULL;
        free(mpath);
        if (old) {
            nfi_buf_append(&manifest, old, old_len);
            free(old);
        } else {
            char params[256];
            params_line(d, params, sizeof params);
            nfi_buf_printf(&manifest, "%s\n%s\n", MANIFEST_MAGIC, params);
        }
        nfi_buf_printf(&manifest, "segment %s %zu %zu %016" PRIx64 "\n", name, d->n_docs - d->n_index_docs,
                      seg.len, sum);
        st = manifest.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory")
                          : write_durably(d->opt.index_dir, MANIFEST, manifest.data, manifest.len, err);
    }
    nfi_buf_free(&manifest);
    nfi_buf_free(&seg);
    return st;
}
