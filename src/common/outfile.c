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
 *
 * nf_outdir is the same promise for a set of files that must change
 * together (run's four outputs): a reader or a crash sees all the old files
 * or all the new ones, never a mix. The files are written into a hidden
 * staging directory ".<dir>.XXXXXXXXXXXX.tmp" beside the target, and commit
 * swaps the two directories in one renameat2(RENAME_EXCHANGE). Entries of
 * the old directory that the set does not write (a user's notes beside the
 * report) are carried over: other files as hard links before the swap (the
 * same inode: nothing copied, nothing to lose), subdirectories moved in just
 * after it. The old directory, now under the staging name, is then emptied
 * and removed; a crash there leaves only that hidden directory beside the
 * target, whose foreign subdirectories (if any) are still inside it. Where
 * the swap cannot be done - a file system without RENAME_EXCHANGE, a target
 * that is a mount point or the process's working directory (the swap would
 * leave the process inside the removed old directory) - each file is
 * renamed in on its own, one after another, as nf_outfile does. A target
 * given through a symbolic link is resolved first, so the link stays.
 */
#define _GNU_SOURCE /* renameat2 */
#include "common/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/* fsyncs directory dir itself, so the entries just renamed in survive a
 * crash of the machine. */
static nf_status sync_dir(const char *dir, nf_error *err)
{
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    nf_status st = NF_OK;
    if (dfd < 0 || fsync(dfd) != 0)
        st = nfi_fail(err, dir ? NF_ERR_IO : NF_ERR_NOMEM, "%s: cannot sync the directory: %s", dir ? dir : "",
                      strerror(errno));
    if (dfd >= 0)
        close(dfd);
    return st;
}

/* fsyncs the directory that holds path. */
static nf_status fsync_dir(const char *path, nf_error *err)
{
    char *dir = dir_of(path);
    nf_status st = sync_dir(dir, err);
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

/* ------------------------------------------------------------ directories */

nf_status nfi_make_dirs(const char *dir, nf_error *err)
{
    char *path = nfi_strdup(dir);
    if (!path)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = NF_OK;
    for (char *p = path + 1; *p && st == NF_OK; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            st = nfi_fail(err, NF_ERR_IO, "%s: cannot create %s: %s", dir, path, strerror(errno));
        *p = '/';
    }
    if (st == NF_OK && mkdir(path, 0777) != 0 && errno != EEXIST)
        st = nfi_fail(err, NF_ERR_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
    free(path);
    return st;
}

#define OUTDIR_MAX_FILES 16

struct nf_outdir {
    char *dir;   /* the target, symbolic links resolved */
    char *stage; /* the staging directory beside it */
    size_t n;
    char *names[OUTDIR_MAX_FILES];
    FILE *files[OUTDIR_MAX_FILES];
    char *bufs[OUTDIR_MAX_FILES];
};

static char *path_join(const char *dir, const char *name)
{
    nfi_buf b;
    nfi_buf_init(&b);
    nfi_buf_printf(&b, "%s/%s", dir, name);
    return nfi_buf_take(&b, NULL);
}

/* The target with symbolic links resolved when it exists; its parent
 * directories are created when it does not. */
static nf_status resolve_target(const char *dir, char **out, nf_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return nfi_fail(err, NF_ERR_ARG, "%s: exists and is not a directory", dir);
        char *real = realpath(dir, NULL);
        if (!real)
            return nfi_fail(err, NF_ERR_IO, "%s: cannot resolve: %s", dir, strerror(errno));
        *out = real;
        return NF_OK;
    }
    char *parent = dir_of(dir);
    nf_status st = parent ? nfi_make_dirs(parent, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    free(parent);
    *out = st == NF_OK ? nfi_strdup(dir) : NULL;
    return st == NF_OK && !*out ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : st;
}

/* Makes the hidden staging directory beside d->dir, with the target's mode
 * when it exists. */
static nf_status make_stage(nf_outdir *d, nf_error *err)
{
    char *parent = dir_of(d->dir);
    const char *slash = strrchr(d->dir, '/');
    const char *base = slash ? slash + 1 : d->dir;
    for (int attempt = 0; parent && attempt < 64; attempt++) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            rnd = nfi_mix64((uint64_t)getpid() << 20 ^ (uint64_t)attempt ^ (uint64_t)(uintptr_t)d);
        nfi_buf b;
        nfi_buf_init(&b);
        nfi_buf_printf(&b, "%s/.%s.%012llx.tmp", parent, base, (unsigned long long)(rnd & 0xffffffffffffull));
        d->stage = nfi_buf_take(&b, NULL);
        if (d->stage && mkdir(d->stage, 0777) == 0) {
            struct stat sb;
            if (stat(d->dir, &sb) == 0)
                chmod(d->stage, sb.st_mode & 07777);
            free(parent);
            return NF_OK;
        }
        int e = errno;
        free(d->stage);
        d->stage = NULL;
        if (e != EEXIST) {
            free(parent);
            return nfi_fail(err, NF_ERR_IO, "%s: cannot create a staging directory beside it: %s", d->dir,
                            strerror(e));
        }
    }
    free(parent);
    return nfi_fail(err, NF_ERR_IO, "%s: cannot create a staging directory beside it", d->dir);
}

nf_status nf_outdir_open(nf_outdir **out, const char *dir, nf_error *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return nfi_fail(err, NF_ERR_ARG, "no output directory given");
    nf_outdir *d = calloc(1, sizeof *d);
    if (!d)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = resolve_target(dir, &d->dir, err);
    if (st == NF_OK)
        st = make_stage(d, err);
    if (st != NF_OK) {
        nf_outdir_abort(d);
        return st;
    }
    *out = d;
    return NF_OK;
}

nf_status nf_outdir_file(nf_outdir *d, const char *name, FILE **f, nf_error *err)
{
    *f = NULL;
    if (!d || !name || !*name || strchr(name, '/') || name[0] == '.')
        return nfi_fail(err, NF_ERR_ARG, "%s: not a plain file name for an output", name ? name : "(null)");
    if (d->n == OUTDIR_MAX_FILES)
        return nfi_fail(err, NF_ERR_ARG, "%s: more than %d outputs in one directory", name, OUTDIR_MAX_FILES);
    char *path = path_join(d->stage, name), *old = path_join(d->dir, name);
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
    nf_status st = fd >= 0 ? NF_OK
                           : nfi_fail(err, path ? NF_ERR_IO : NF_ERR_NOMEM, "%s/%s: cannot create: %s", d->dir,
                                      name, path ? strerror(errno) : "out of memory");
    struct stat sb;
    if (fd >= 0 && old && stat(old, &sb) == 0)
        fchmod(fd, sb.st_mode & 07777);
    free(path);
    free(old);
    if (st != NF_OK)
        return st;
    d->names[d->n] = nfi_strdup(name);
    d->files[d->n] = fdopen(fd, "wb");
    if (!d->names[d->n] || !d->files[d->n]) {
        if (d->files[d->n])
            fclose(d->files[d->n]);
        else
            close(fd);
        free(d->names[d->n]);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    d->bufs[d->n] = nfi_stream_buffer(d->files[d->n]);
    *f = d->files[d->n++];
    return NF_OK;
}

/* Flushes, fsyncs and closes every staged file. */
static nf_status close_files(nf_outdir *d, nf_error *err)
{
    nf_status st = NF_OK;
    for (size_t i = 0; i < d->n; i++) {
        FILE *f = d->files[i];
        d->files[i] = NULL;
        bool bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
        bad = fclose(f) != 0 || bad;
        if (bad && st == NF_OK)
            st = nfi_fail(err, NF_ERR_IO, "%s/%s: write failed: %s", d->dir, d->names[i], strerror(errno));
    }
    return st;
}

static bool is_output(const nf_outdir *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->names[i], name) == 0)
            return true;
    return false;
}

static bool is_dot(const char *name) { return strcmp(name, ".") == 0 || strcmp(name, "..") == 0; }

/* Hard links into the stage every entry of the target that the set does not
 * write and that is not a directory (subdirectories move after the swap). */
static nf_status carry_files(nf_outdir *d, nf_error *err)
{
    DIR *old = opendir(d->dir);
    int stage_fd = open(d->stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    nf_status st = old && stage_fd >= 0
                       ? NF_OK
                       : nfi_fail(err, NF_ERR_IO, "%s: cannot read the directory: %s", d->dir, strerror(errno));
    for (struct dirent *e; st == NF_OK && (e = readdir(old));) {
        struct stat sb;
        if (is_dot(e->d_name) || is_output(d, e->d_name) ||
            fstatat(dirfd(old), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(sb.st_mode))
            continue;
        if (linkat(dirfd(old), e->d_name, stage_fd, e->d_name, 0) != 0)
            st = nfi_fail(err, NF_ERR_IO, "%s/%s: cannot carry it over to the new outputs: %s", d->dir, e->d_name,
                          strerror(errno));
    }
    if (st == NF_OK && fsync(stage_fd) != 0)
        st = nfi_fail(err, NF_ERR_IO, "%s: cannot sync the staged outputs: %s", d->dir, strerror(errno));
    if (old)
        closedir(old);
    if (stage_fd >= 0)
        close(stage_fd);
    return st;
}

/* name in dir_fd is the very file sb describes (a hard link of it). */
static bool same_file(int dir_fd, const char *name, const struct stat *sb)
{
    struct stat other;
    return dir_fd >= 0 && fstatat(dir_fd, name, &other, AT_SYMLINK_NOFOLLOW) == 0 && other.st_dev == sb->st_dev &&
           other.st_ino == sb->st_ino;
}

/* Empties and removes the directory at the staging name. swapped: it holds
 * the old directory, whose outputs and carried files (linked in the target
 * too) are unlinked and whose every other entry (subdirectories; anything
 * that appeared after carry_files) moves into the target. Otherwise it holds
 * only staged outputs and carried links, all unlinked. */
static nf_status remove_stage(nf_outdir *d, bool swapped, nf_error *err)
{
    DIR *dir = opendir(d->stage);
    int target_fd = swapped ? open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    nf_status st = NF_OK;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        struct stat sb;
        if (is_dot(e->d_name) || fstatat(dirfd(dir), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        bool drop = !swapped || is_output(d, e->d_name) || same_file(target_fd, e->d_name, &sb);
        int rc = drop ? (S_ISDIR(sb.st_mode) ? -1 : unlinkat(dirfd(dir), e->d_name, 0))
                      : renameat(dirfd(dir), e->d_name, target_fd, e->d_name);
        if (rc != 0 && st == NF_OK)
            st = nfi_fail(err, NF_ERR_IO, "%s/%s: left there, not moved into %s: %s", d->stage, e->d_name, d->dir,
                          S_ISDIR(sb.st_mode) && drop ? "a directory where an output goes" : strerror(errno));
    }
    if (dir)
        closedir(dir);
    if (target_fd >= 0)
        close(target_fd);
    if (st == NF_OK && rmdir(d->stage) != 0 && errno != ENOENT)
        st = nfi_fail(err, NF_ERR_IO, "%s: cannot remove the old outputs' directory: %s", d->stage, strerror(errno));
    return st;
}

/* The swap would leave this process inside the removed old directory. */
static bool is_working_dir(const char *dir)
{
    struct stat a, b;
    return stat(dir, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* 1 swapped, 0 the file system or the target cannot swap (the caller
 * renames file by file), -1 an error. */
static int swap_dirs(nf_outdir *d, nf_error *err)
{
#ifdef RENAME_EXCHANGE
    if (is_working_dir(d->dir))
        return 0;
    if (carry_files(d, err) != NF_OK)
        return -1;
    if (renameat2(AT_FDCWD, d->stage, AT_FDCWD, d->dir, RENAME_EXCHANGE) == 0)
        return 1;
    if (errno == EINVAL || errno == ENOSYS || errno == EBUSY || errno == EXDEV || errno == ENOTSUP)
        return 0;
    nfi_fail(err, NF_ERR_IO, "%s: cannot put the new outputs in place: %s", d->dir, strerror(errno));
    return -1;
#else
    (void)d, (void)err;
    return 0;
#endif
}

/* The fallback: each staged output renamed over its target on its own. */
static nf_status rename_each(nf_outdir *d, nf_error *err)
{
    nf_status st = NF_OK;
    for (size_t i = 0; i < d->n && st == NF_OK; i++) {
        char *from = path_join(d->stage, d->names[i]), *to = path_join(d->dir, d->names[i]);
        if (!from || !to || rename(from, to) != 0)
            st = nfi_fail(err, NF_ERR_IO, "%s: cannot rename the finished file into place: %s", to ? to : d->dir,
                          strerror(errno));
        free(from);
        free(to);
    }
    return st;
}

/* Moves the finished set into place. d->stage is dropped (set to NULL)
 * once what lies there is no longer abort's to remove: after it was renamed,
 * or swapped (then remove_stage names in err anything it had to leave). */
static nf_status put_in_place(nf_outdir *d, nf_error *err)
{
    struct stat sb;
    nf_status st = NF_OK;
    if (lstat(d->dir, &sb) != 0) {
        if (rename(d->stage, d->dir) != 0)
            return nfi_fail(err, NF_ERR_IO, "%s: cannot put the new outputs in place: %s", d->dir, strerror(errno));
    } else {
        int swapped = swap_dirs(d, err);
        if (swapped < 0)
            return NF_ERR_IO;
        if (!swapped && (st = rename_each(d, err)) != NF_OK)
            return st;
        st = remove_stage(d, swapped, err);
        if (st != NF_OK && !swapped)
            return st;
    }
    free(d->stage);
    d->stage = NULL;
    if (st == NF_OK)
        st = sync_dir(d->dir, err);
    return st == NF_OK ? fsync_dir(d->dir, err) : st;
}

nf_status nf_outdir_commit(nf_outdir *d, nf_error *err)
{
    if (!d)
        return nfi_fail(err, NF_ERR_ARG, "no output directory");
    nf_status st = close_files(d, err);
    if (st == NF_OK)
        st = put_in_place(d, err);
    nf_outdir_abort(d);
    return st;
}

void nf_outdir_abort(nf_outdir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->files[i])
            fclose(d->files[i]);
        free(d->bufs[i]);
        free(d->names[i]);
    }
    if (d->stage)
        remove_stage(d, false, NULL);
    free(d->stage);
    free(d->dir);
    free(d);
}
