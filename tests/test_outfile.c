/*
 * test_outfile.c - outputs that appear complete or not at all: one file
 * (nf_outfile) and a directory of files that change together (nf_outdir):
 * contents, kept foreign entries, symbolic links, abort, the working-
 * directory fallback, and no staging leftovers. The kill-at-random-moments
 * property is tested on the real command in cli_reliability.sh.
 */
#include "test_util.h"

#include <dirent.h>

#include "newsfold.h"

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void assert_file_is(const char *dir, const char *name, const char *want)
{
    char *p = path_in(dir, name);
    size_t len = 0;
    char *got = tu_read_file(p, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
    free(p);
}

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void write_set(const char *dir, const char *a, const char *b)
{
    nf_outdir *d;
    nf_error err = {NF_OK, ""};
    assert_int_equal(nf_outdir_open(&d, dir, &err), NF_OK);
    FILE *f;
    assert_int_equal(nf_outdir_file(d, "a.txt", &f, &err), NF_OK);
    fputs(a, f);
    assert_int_equal(nf_outdir_file(d, "b.txt", &f, &err), NF_OK);
    fputs(b, f);
    assert_int_equal(nf_outdir_commit(d, &err), NF_OK);
}

static void test_outfile_replaces(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    tu_write(dir, "out.txt", "old", 3);
    char *p = path_in(dir, "out.txt");
    nf_outfile *o;
    nf_error err = {NF_OK, ""};
    assert_int_equal(nf_outfile_open(&o, p, &err), NF_OK);
    fputs("new", nf_outfile_stream(o));
    assert_file_is(dir, "out.txt", "old"); /* not yet */
    assert_int_equal(nf_outfile_commit(o, &err), NF_OK);
    assert_file_is(dir, "out.txt", "new");
    assert_int_equal(nf_outfile_open(&o, p, &err), NF_OK);
    fputs("lost", nf_outfile_stream(o));
    nf_outfile_abort(o);
    assert_file_is(dir, "out.txt", "new");
    assert_int_equal(count_prefixed(dir, "."), 2); /* "." and "..": no temporaries */
    free(p);
    tu_rmtree(dir);
    free(dir);
}

static void test_outdir_new_with_parents(void **state)
{
    (void)state;
    char *top = tu_tempdir();
    char *dir = path_in(top, "x/y/out");
    write_set(dir, "one", "two");
    assert_file_is(dir, "a.txt", "one");
    assert_file_is(dir, "b.txt", "two");
    char *parent = path_in(top, "x/y");
    assert_int_equal(count_prefixed(parent, ".out."), 0);
    free(parent);
    tu_rmtree(top);
    free(dir);
    free(top);
}

static void test_outdir_replaces_and_keeps_others(void **state)
{
    (void)state;
    char *top = tu_tempdir();
    char *dir = path_in(top, "out");
    write_set(dir, "old a", "old b");
    tu_write(dir, "notes.txt", "mine", 4);
    char *sub = path_in(dir, "sub");
    assert_int_equal(mkdir(sub, 0755), 0);
    tu_write(sub, "deep.txt", "deep", 4);
    struct stat before;
    char *notes = path_in(dir, "notes.txt");
    assert_int_equal(stat(notes, &before), 0);

    write_set(dir, "new a", "new b");
    assert_file_is(dir, "a.txt", "new a");
    assert_file_is(dir, "b.txt", "new b");
    assert_file_is(dir, "notes.txt", "mine");
    assert_file_is(sub, "deep.txt", "deep");
    struct stat after;
    assert_int_equal(stat(notes, &after), 0);
    assert_true(before.st_ino == after.st_ino); /* carried, not copied */
    assert_int_equal(count_prefixed(top, ".out."), 0);
    free(notes);
    free(sub);
    tu_rmtree(top);
    free(dir);
    free(top);
}

static void test_outdir_abort_keeps_old(void **state)
{
    (void)state;
    char *top = tu_tempdir();
    char *dir = path_in(top, "out");
    write_set(dir, "old a", "old b");
    nf_outdir *d;
    nf_error err = {NF_OK, ""};
    assert_int_equal(nf_outdir_open(&d, dir, &err), NF_OK);
    FILE *f;
    assert_int_equal(nf_outdir_file(d, "a.txt", &f, &err), NF_OK);
    fputs("half", f);
    assert_int_not_equal(nf_outdir_file(d, "../escape", &f, &err), NF_OK);
    assert_non_null(strstr(err.message, "escape"));
    nf_outdir_abort(d);
    assert_file_is(dir, "a.txt", "old a");
    assert_file_is(dir, "b.txt", "old b");
    assert_int_equal(count_prefixed(top, ".out."), 0);
    tu_rmtree(top);
    free(dir);
    free(top);
}

static void test_outdir_through_link(void **state)
{
    (void)state;
    char *top = tu_tempdir();
    char *real = path_in(top, "real"), *link = path_in(top, "link");
    write_set(real, "old a", "old b");
    assert_int_equal(symlink(real, link), 0);
    write_set(link, "new a", "new b");
    struct stat sb;
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    assert_file_is(real, "a.txt", "new a");
    tu_rmtree(top);
    free(real);
    free(link);
    free(top);
}

static void test_outdir_working_directory(void **state)
{
    (void)state;
    char *top = tu_tempdir();
    char *dir = path_in(top, "out");
    write_set(dir, "old a", "old b");
    char here[4096];
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(dir), 0);
    write_set(".", "new a", "new b");
    assert_file_is(".", "a.txt", "new a"); /* still inside the live folder */
    assert_int_equal(chdir(here), 0);
    assert_file_is(dir, "b.txt", "new b");
    assert_int_equal(count_prefixed(top, ".out."), 0);
    tu_rmtree(top);
    free(dir);
    free(top);
}

static void test_outdir_not_a_directory(void **state)
{
    (void)state;
    char *top = tu_tempdir();
    tu_write(top, "file", "x", 1);
    char *p = path_in(top, "file");
    nf_outdir *d;
    nf_error err = {NF_OK, ""};
    assert_int_equal(nf_outdir_open(&d, p, &err), NF_ERR_ARG);
    assert_null(d);
    assert_non_null(strstr(err.message, "not a directory"));
    free(p);
    tu_rmtree(top);
    free(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outfile_replaces),
        cmocka_unit_test(test_outdir_new_with_parents),
        cmocka_unit_test(test_outdir_replaces_and_keeps_others),
        cmocka_unit_test(test_outdir_abort_keeps_old),
        cmocka_unit_test(test_outdir_through_link),
        cmocka_unit_test(test_outdir_working_directory),
        cmocka_unit_test(test_outdir_not_a_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
