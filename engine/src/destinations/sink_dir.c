/*
 * The local-folder sink, the embedded default. Layout: PATH/<db>/<collection>/ holds
 * metadata.json and, per window, a data file and its manifest. Every object is written under a
 * temporary name, fsynced, renamed into place and the folder fsynced, so a crash at any moment
 * leaves either the old state or the new one. A lock file (PATH/.cosmocopy.lock, flock) keeps
 * two writers apart, which is also what makes it safe to delete stale temporary files at start.
 *
 * A data file is written in blocks of DIRECT_BLOCK bytes with O_DIRECT where the filesystem
 * takes it, from one aligned buffer per object, and its tail (less than a block) through the
 * page cache before the fsync. A backup then does not fill the page cache with data nobody
 * reads soon, pushing out the host's own, and the kernel does not allocate a page for every
 * 4 KiB written: on a virtual machine that hands freed memory back to its host, that costs
 * about 2.4 s of system CPU per GB (`dd bs=1M conv=fsync` on this project's machine: 2.4 s
 * buffered, 0.2 s with O_DIRECT). A filesystem without O_DIRECT (or a write it refuses) gets
 * the rest of the object through the page cache. Small objects never fill a block and are
 * written through the page cache at commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "sink.h"

#define TMP_PREFIX ".tmp."

/* Temporaries are named for the process and this counter: one per process, not per sink, since
 * two jobs of one process (a Dask worker's threads running the same task twice) may write the
 * same window into the same folder at once, and with a counter each they renamed each other's
 * file into place and failed both. */
static atomic_uint tmp_counter;
#define READ_CHUNK_SIZE ((size_t)1 << 20)
#define DIRECT_BLOCK ((size_t)1 << 20) /* bytes per O_DIRECT write, a multiple of 4096 */
#define DIRECT_ALIGN 4096               /* alignment of the buffer (and so of each block) */

typedef struct dir_sink {
    char *root;
    int lock_fd;
} dir_sink_t;

typedef struct dir_object {
    dir_sink_t *dir;
    char *folder;
    char *tmp_path;
    char *final_path;
    int fd;
    uint8_t *block;  /* DIRECT_BLOCK aligned bytes, allocated at the first append             */
    size_t held;     /* bytes of block not written yet                                         */
    int direct;      /* 0 not tried yet, 1 fd has O_DIRECT, -1 buffered for good               */
} dir_object_t;

static int os_error(ccopy_error_t *error, int err, const char *what, const char *path)
{
    return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_OS, err, "cannot %s %s: %s", what, path,
                            strerror(err));
}

/* Reading something that is not there is ENOTFOUND: callers treat it as "not written yet". */
static int read_error(ccopy_error_t *error, int err, const char *what, const char *path)
{
    if (err == ENOENT)
        return _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_OS, err, "cannot %s %s: %s",
                                what, path, strerror(err));
    return os_error(error, err, what, path);
}

/* Names come from the source server; refuse any that would leave the folder or hide in it
 * ('/' is escaped: _ccopy_sink_component). */
static int check_component(const char *kind, const char *name, ccopy_error_t *error)
{
    const char *others = strcmp(kind, "collection") == 0
                             ? "; to back up the others, name each with option collection"
                             : "";
    char *escaped;
    size_t len;
    if (!name || !*name || name[0] == '.')
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "%s name \"%s\" cannot be used as a folder name%s", kind,
                                name ? name : "", others);
    /* MongoDB takes names that, escaped ('/' is "%2F"), are longer than a folder's name may be:
     * said as such, not as the file system's "File name too long" about a path */
    escaped = _ccopy_sink_component(name);
    len = strlen(escaped);
    free(escaped);
    if (len > NAME_MAX)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "%s name \"%s\" is %zu bytes as a folder name (escaped), more "
                                "than the %d a folder name holds%s",
                                kind, name, len, NAME_MAX, others);
    return 0;
}

static char *folder_of(dir_sink_t *dir, const char *db, const char *coll)
{
    char *d = _ccopy_sink_component(db), *c = _ccopy_sink_component(coll), *folder;
    if (c)
        folder = _ccopy_strdup_printf("%s/%s/%s", dir->root, d, c);
    else if (d)
        folder = _ccopy_strdup_printf("%s/%s", dir->root, d);
    else
        folder = _ccopy_strdup(dir->root);
    free(d);
    free(c);
    return folder;
}

static int mkdir_p(const char *path, ccopy_error_t *error)
{
    char *copy = _ccopy_strdup(path);
    char *p;
    int rc = 0;

    for (p = copy + 1; rc == 0; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            struct stat st;
            *p = '\0';
            if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
                rc = os_error(error, errno, "create folder", copy);
            } else if (stat(copy, &st) != 0) {
                rc = os_error(error, errno, "create folder", copy);
            } else if (!S_ISDIR(st.st_mode)) {
                /* a file where the folder should be: bad input (exit 2), as for reading */
                rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_OS, ENOTDIR,
                                      "cannot create folder %s: %s is not a folder", path, copy);
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(copy);
    return rc;
}

static int fsync_folder(const char *folder, ccopy_error_t *error)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0)
        return os_error(error, errno, "open folder", folder);
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = os_error(error, errno, "sync folder", folder);
    close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *data, size_t len, const char *path, ccopy_error_t *error)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return os_error(error, errno, "write", path);
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Remove temporary files left by a run that was killed; safe because we hold the lock. */
static void remove_stale_temporaries(const char *folder, int depth)
{
    DIR *d = opendir(folder);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *path;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        path = _ccopy_strdup_printf("%s/%s", folder, e->d_name);
        if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
            unlink(path);
        else if (depth < 2 && e->d_name[0] != '.' && e->d_type == DT_DIR)
            remove_stale_temporaries(path, depth + 1);
        free(path);
    }
    closedir(d);
}

static int dir_open(_ccopy_sink_t *sink, int for_writing, ccopy_error_t *error)
{
    dir_sink_t *dir = sink->impl;
    struct stat st;
    char *lock_path;
    int rc;

    if (!for_writing) {
        /* the folder a person named: its absence is bad input, not a failed job */
        if (stat(dir->root, &st) != 0 && errno == ENOENT)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_OS, ENOENT,
                                    "backup folder %s does not exist", dir->root);
        if (stat(dir->root, &st) != 0)
            return read_error(error, errno, "open backup folder", dir->root);
        if (!S_ISDIR(st.st_mode))
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_OS, ENOTDIR,
                                    "cannot open backup folder %s: it is not a folder", dir->root);
        return 0;
    }
    rc = mkdir_p(dir->root, error);
    if (rc != 0 || for_writing == CCOPY_SINK_HELPER)
        return rc; /* the job's lock is held elsewhere, and its temporaries may be in flight */
    lock_path = _ccopy_strdup_printf("%s/.cosmocopy.lock", dir->root);
    dir->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (dir->lock_fd < 0) {
        rc = os_error(error, errno, "write to folder", dir->root);
        free(lock_path);
        return rc;
    }
    if (flock(dir->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_OS, errno,
                              "another cosmocopy job is writing to %s (it holds %s)", dir->root,
                              lock_path);
        free(lock_path);
        return rc;
    }
    free(lock_path);
    remove_stale_temporaries(dir->root, 0);
    return 0;
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

static int list_folder(const char *folder, const char *suffix, int want_dirs, char ***out_names,
                       size_t *out_count, ccopy_error_t *error)
{
    DIR *d = opendir(folder);
    struct dirent *e;
    char **names = NULL;
    size_t count = 0;

    *out_names = NULL;
    *out_count = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0; /* nothing written there yet */
        return os_error(error, errno, "list folder", folder);
    }
    while ((e = readdir(d)) != NULL) {
        int is_dir;
        if (e->d_name[0] == '.')
            continue;
        is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            char *path = _ccopy_strdup_printf("%s/%s", folder, e->d_name);
            is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
            free(path);
        }
        if (want_dirs ? !is_dir : (is_dir || !has_suffix(e->d_name, suffix)))
            continue;
        names = _ccopy_realloc(names, (count + 1) * sizeof *names);
        names[count++] = _ccopy_strdup(e->d_name);
    }
    closedir(d);
    *out_names = names;
    *out_count = count;
    return 0;
}

static int dir_list(_ccopy_sink_t *sink, const char *db, const char *coll, const char *suffix,
                    char ***out_names, size_t *out_count, ccopy_error_t *error)
{
    char *folder;
    int rc;
    if (check_component("database", db, error) || check_component("collection", coll, error))
        return CCOPY_EINVAL;
    folder = folder_of(sink->impl, db, coll);
    rc = list_folder(folder, suffix, 0, out_names, out_count, error);
    free(folder);
    return rc;
}

static int dir_list_groups(_ccopy_sink_t *sink, const char *db, char ***out_names,
                           size_t *out_count, ccopy_error_t *error)
{
    char *folder;
    int rc;
    if (db && check_component("database", db, error))
        return CCOPY_EINVAL;
    folder = folder_of(sink->impl, db, NULL);
    rc = list_folder(folder, "", 1, out_names, out_count, error);
    if (rc == 0)
        _ccopy_sink_component_names(*out_names, *out_count);
    free(folder);
    return rc;
}

static int dir_read_small(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                          char **out, size_t *out_len, ccopy_error_t *error)
{
    char *folder = folder_of(sink->impl, db, coll);
    char *path = _ccopy_strdup_printf("%s/%s", folder, name);
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;

    *out = NULL;
    *out_len = 0;
    if (!f) {
        rc = read_error(error, errno, "read", path);
    } else {
        for (;;) {
            size_t n;
            if (cap - len < 4096) {
                cap = cap ? cap * 2 : 8192;
                buf = _ccopy_realloc(buf, cap + 1);
            }
            n = fread(buf + len, 1, cap - len, f);
            len += n;
            if (n == 0)
                break;
        }
        if (ferror(f))
            rc = os_error(error, errno, "read", path);
        fclose(f);
    }
    if (rc == 0) {
        buf[len] = '\0';
        *out = buf;
        *out_len = len;
    } else {
        free(buf);
    }
    free(folder);
    free(path);
    return rc;
}

static int dir_object_begin(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                            void **out_object, ccopy_error_t *error)
{
    dir_sink_t *dir = sink->impl;
    dir_object_t *o;
    int rc;

    *out_object = NULL;
    if (check_component("database", db, error) || check_component("collection", coll, error))
        return CCOPY_EINVAL;
    o = _ccopy_calloc(1, sizeof *o);
    o->dir = dir;
    o->folder = folder_of(dir, db, coll);
    rc = mkdir_p(o->folder, error);
    if (rc != 0) {
        free(o->folder);
        free(o);
        return rc;
    }
    o->final_path = _ccopy_strdup_printf("%s/%s", o->folder, name);
    o->tmp_path = _ccopy_strdup_printf("%s/" TMP_PREFIX "%s.%ld.%u", o->folder, name, (long)getpid(),
                                       atomic_fetch_add(&tmp_counter, 1));
    o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (o->fd < 0) {
        rc = os_error(error, errno, "create", o->tmp_path);
        free(o->folder);
        free(o->final_path);
        free(o->tmp_path);
        free(o);
        return rc;
    }
    *out_object = o;
    return 0;
}

/* Clear or set O_DIRECT on the object's descriptor; 0 when the filesystem took it. */
static int set_direct(dir_object_t *o, int on)
{
    int flags = fcntl(o->fd, F_GETFL);
    if (flags < 0)
        return -1;
    flags = on ? flags | O_DIRECT : flags & ~O_DIRECT;
    return fcntl(o->fd, F_SETFL, flags);
}

/* From now on through the page cache. */
static void go_buffered(dir_object_t *o)
{
    if (o->direct == 1)
        (void)set_direct(o, 0);
    o->direct = -1;
}

/* Write the full block: with O_DIRECT when the filesystem takes it, else buffered. A direct
 * write refused (EINVAL: a filesystem that took the flag but not the write) or cut short
 * leaves the file where a buffered write continues correctly. */
static int write_block(dir_object_t *o, ccopy_error_t *error)
{
    const uint8_t *data = o->block;
    size_t len = o->held;

    o->held = 0;
    if (o->direct == 0)
        o->direct = set_direct(o, 1) == 0 ? 1 : -1;
    if (o->direct == 1) {
        ssize_t n;
        do
            n = write(o->fd, data, len);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EINVAL)
            return os_error(error, errno, "write", o->tmp_path);
        if (n == (ssize_t)len)
            return 0;
        go_buffered(o);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    return write_all(o->fd, data, len, o->tmp_path, error);
}

static int dir_object_append(void *object, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    dir_object_t *o = object;
    int rc;

    if (o->direct < 0)
        return write_all(o->fd, data, len, o->tmp_path, error);
    while (len > 0) {
        size_t take;
        /* (only the pages written to are touched: a small object costs little more) */
        if (!o->block && posix_memalign((void **)&o->block, DIRECT_ALIGN, DIRECT_BLOCK) != 0)
            _ccopy_out_of_memory(DIRECT_BLOCK);
        take = DIRECT_BLOCK - o->held < len ? DIRECT_BLOCK - o->held : len;
        memcpy(o->block + o->held, data, take);
        o->held += take;
        data += take;
        len -= take;
        if (o->held == DIRECT_BLOCK && (rc = write_block(o, error)) != 0)
            return rc;
    }
    return 0;
}

/* The bytes still held (less than a block), through the page cache. */
static int flush_tail(dir_object_t *o, ccopy_error_t *error)
{
    size_t held = o->held;
    if (held == 0)
        return 0;
    go_buffered(o);
    o->held = 0;
    return write_all(o->fd, o->block, held, o->tmp_path, error);
}

static void object_free(dir_object_t *o)
{
    free(o->block);
    free(o->folder);
    free(o->tmp_path);
    free(o->final_path);
    free(o);
}

static void dir_object_abort(void *object)
{
    dir_object_t *o = object;
    if (!o)
        return;
    if (o->fd >= 0)
        close(o->fd);
    unlink(o->tmp_path);
    object_free(o);
}

static int dir_object_commit(void *object, ccopy_error_t *error)
{
    dir_object_t *o = object;
    int rc = flush_tail(o, error);

    if (rc == 0 && fsync(o->fd) != 0)
        rc = os_error(error, errno, "sync", o->tmp_path);
    if (close(o->fd) != 0 && rc == 0)
        rc = os_error(error, errno, "close", o->tmp_path);
    o->fd = -1;
    if (rc == 0 && rename(o->tmp_path, o->final_path) != 0)
        rc = os_error(error, errno, "rename into place", o->final_path);
    if (rc == 0)
        rc = fsync_folder(o->folder, error);
    if (rc != 0) {
        dir_object_abort(o);
        return rc;
    }
    object_free(o);
    return 0;
}

static int dir_write_small(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                           const char *data, size_t len, ccopy_error_t *error)
{
    void *object;
    int rc = dir_object_begin(sink, db, coll, name, &object, error);
    if (rc != 0)
        return rc;
    ((dir_object_t *)object)->direct = -1; /* a manifest or metadata: no block needed */
    rc = dir_object_append(object, (const uint8_t *)data, len, error);
    if (rc != 0) {
        dir_object_abort(object);
        return rc;
    }
    return dir_object_commit(object, error);
}

static int dir_remove(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                      ccopy_error_t *error)
{
    char *folder = folder_of(sink->impl, db, coll);
    char *path = _ccopy_strdup_printf("%s/%s", folder, name);
    int rc = 0;
    if (unlink(path) == 0)
        rc = fsync_folder(folder, error);
    else if (errno != ENOENT)
        rc = os_error(error, errno, "remove", path);
    free(folder);
    free(path);
    return rc;
}

/* Object names come from manifests, which are files anyone could edit: one that is not a plain
 * file name would read outside the collection's folder. */
static int check_object_name(const char *name, ccopy_error_t *error)
{
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "object name \"%s\" is not a file name in the collection's folder",
                                name ? name : "");
    return 0;
}

static int dir_object_read(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                           _ccopy_stream_out_fn out, void *user_data, ccopy_error_t *error)
{
    char *folder, *path;
    uint8_t *buf;
    int fd, rc = 0;

    if (check_component("database", db, error) || check_component("collection", coll, error) ||
        check_object_name(name, error))
        return CCOPY_EINVAL;
    folder = folder_of(sink->impl, db, coll);
    path = _ccopy_strdup_printf("%s/%s", folder, name);
    free(folder);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = read_error(error, errno, "read", path);
        free(path);
        return rc;
    }
    buf = _ccopy_malloc(READ_CHUNK_SIZE);
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = os_error(error, errno, "read", path);
            break;
        }
        if (n == 0)
            break;
        rc = out(buf, (size_t)n, user_data, error);
        if (rc != 0)
            break;
    }
    close(fd);
    free(buf);
    free(path);
    return rc;
}

static char *dir_describe(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name)
{
    char *folder = folder_of(sink->impl, db, coll);
    char *path = name ? _ccopy_strdup_printf("%s/%s", folder, name) : _ccopy_strdup(folder);
    free(folder);
    return path;
}

static void dir_close(_ccopy_sink_t *sink)
{
    dir_sink_t *dir = sink->impl;
    if (!dir)
        return;
    if (dir->lock_fd >= 0)
        close(dir->lock_fd); /* releases the flock */
    free(dir->root);
    free(dir);
}

static const _ccopy_sink_ops_t dir_ops = {
    .scheme = "dir",
    .open = dir_open,
    .list = dir_list,
    .list_groups = dir_list_groups,
    .read_small = dir_read_small,
    .write_small = dir_write_small,
    .remove = dir_remove,
    .object_begin = dir_object_begin,
    .object_append = dir_object_append,
    .object_commit = dir_object_commit,
    .object_abort = dir_object_abort,
    .object_read = dir_object_read,
    .describe = dir_describe,
    .close = dir_close,
};

int _ccopy_sink_dir_new(_ccopy_sink_t **out, const char *path, ccopy_error_t *error)
{
    _ccopy_sink_t *sink;
    dir_sink_t *dir;
    size_t len;

    *out = NULL;
    if (!path || !*path)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "destination dir: needs a folder, as in dir:/backups/cosmos");
    dir = _ccopy_calloc(1, sizeof *dir);
    dir->root = _ccopy_strdup(path);
    len = strlen(dir->root);
    while (len > 1 && dir->root[len - 1] == '/')
        dir->root[--len] = '\0';
    dir->lock_fd = -1;
    sink = _ccopy_calloc(1, sizeof *sink);
    sink->ops = &dir_ops;
    sink->impl = dir;
    *out = sink;
    return 0;
}
