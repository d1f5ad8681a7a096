/*
 * outfile.c - output files that appear complete or not at all.
 *
 * nf_outfile_open() creates a temporary file beside the target (same
 * directory, so the final rename never crosses a file system) named
 * ".<name>.XXXXXX.tmp": hidden, so input walkers pass over it, and ending in
 * ".tmp", so the index recognises a crashed writer's leftovers. The caller
 * writes through an ordinary FILE*. nf_outfile_commit() flushes, fsyncs,
 * renames over the target and fsyncs the directory: after a crash at any
 * moment the target holds either its previous content (or is absent) or the
 * complete new one, never a prefix. nf_outfile_abort() removes the
 * temporary. Both free the handle, which has exactly one owner: whoever
 * opened it.
 *
 * The new file takes the mode of the file it replaces, or 0644.
 *
 * The stream writes through a buffer of NFI_STREAM_BUFFER bytes
 * (nfi_stream_buffer; stdio's default is one 4 KB block): run's outputs are tens of megabytes written a record
 * at a time, which took one write(2) per 4 KB.
 *
 * Only a regular file (or a new name) is replaced that way. A target that
 * exists as anything else - a device such as /dev/null, a FIFO, a symbolic
 * link - is opened and written in place: renaming over it would replace the
 * device or the link itself (as root, /dev/null would become a file).
 */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct nf_outfile {
    FILE *f;
    char *path; /* the target */
    char *tmp;  /* the temporary beside it; NULL when writing in place */
    char *buf;  /* f's buffer (freed after f is closed) */
};

char *nfi_stream_buffer(FILE *f)
{
    char *buf = malloc(NFI_STREAM_BUFFER);
    if (buf && setvbuf(f, buf, _IOFBF, NFI_STREAM_BUFFER) != 0) {
        free(buf); /* stdio keeps its own */
        buf = NULL;
    }
    return buf;
}

/* A target that is not a regular file: written in place. */
static nf_status open_in_place(nf_outfile *o, nf_outfile **out, nf_error *err)
{
    o->f = fopen(o->path, "wb");
    if (!o->f) {
        nf_status st = nfi_fail(err, NF_ERR_IO, "%s: cannot write: %s", o->path, strerror(errno));
        nf_outfile_abort(o);
        return st;
    }
    o->buf = nfi_stream_buffer(o->f);
    *out = o;
    return NF_OK;
}

/* The directory part of path ("." when it has none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return nfi_strdup(".");
    if (slash == path)
        return nfi_strdup("/");
    return nfi_strndup(path, (size_t)(slash - path));
}

nf_status nf_outfile_open(nf_outfile **out, const char *path, nf_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return nfi_fail(err, NF_ERR_ARG, "no output file name given");
    nf_outfile *o = calloc(1, sizeof *o);
    struct stat sb;
    if (o && lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        o->path = nfi_strdup(path);
        if (o->path)
            return open_in_place(o, out, err);
    }
    char *dir = dir_of(path);
    const char *slash = strrchr(path, '/');
    nfi_buf t;
    nfi_buf_init(&t);
    nfi_buf_printf(&t, "%s/.%s.XXXXXX.tmp", dir ? dir : ".", slash ? slash + 1 : path);
    free(dir);
    if (o) {
        o->tmp = nfi_buf_take(&t, NULL);
        o->path = nfi_strdup(path);
    } else {
        nfi_buf_free(&t);
    }
    if (!o || !o->tmp || !o->path) {
        nf_outfile_abort(o);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    int fd = mkstemps(o->tmp, 4);
    if (fd < 0) {
        nf_status st = nfi_fail(err, NF_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                                strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        nf_outfile_abort(o);
        return st;
    }
    fchmod(fd, stat(path, &sb) == 0 ? sb.st_mode & 07777 : 0644);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        nf_outfile_abort(o);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    o->buf = nfi_stream_buffer(o->f);
    *out = o;
    return NF_OK;
}

FILE *nf_outfile_stream(nf_outfile *o) { return o ? o->f : NULL; }

const char *nf_outfile_path(const nf_outfile *o) { return o ? o->path : NULL; }

static nf_status fsync_dir(const char *path, nf_error *err)
{
    char *dir = dir_of(path);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    nf_status st = NF_OK;
    if (dfd < 0 || fsync(dfd) != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: cannot sync its directory: %s", path, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return st;
}

nf_status nf_outfile_commit(nf_outfile *o, nf_error *err)
{
    if (!o)
        return nfi_fail(err, NF_ERR_ARG, "no output file");
    nf_status st = NF_OK;
    int bad = fflush(o->f) != 0 || ferror(o->f);
    if (bad)
        st = nfi_fail(err, NF_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    if (st == NF_OK && o->tmp && fsync(fileno(o->f)) != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: fsync failed: %s", o->path, strerror(errno));
    int closed = fclose(o->f);
    o->f = NULL;
    if (st == NF_OK && closed != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    if (st == NF_OK && o->tmp && rename(o->tmp, o->path) != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: cannot rename the finished file into place: %s", o->path,
                      strerror(errno));
    if (st == NF_OK && o->tmp) {
        free(o->tmp); /* renamed: nothing left to remove */
        o->tmp = NULL;
        st = fsync_dir(o->path, err);
    }
    nf_outfile_abort(o);
    return st;
}

void nf_outfile_abort(nf_outfile *o)
{
    if (!o)
        return;
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->buf);
    free(o->tmp);
    free(o->path);
    free(o);
}
