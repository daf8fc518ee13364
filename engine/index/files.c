#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "index/files.h"

int
prt_file_create(prt_file_writer_t *w, const char *path, const char *magic,
    uint32_t record_size, uint32_t width)
{
    memset(w, 0, sizeof(*w));
    memcpy(w->hdr.magic, magic, sizeof(w->hdr.magic));
    w->hdr.version = PRT_INDEX_FILE_VERSION;
    w->hdr.record_size = record_size;
    w->hdr.width = width;

    w->path = strdup(path);
    w->f = fopen(path, "wb");
    if (w->path == NULL || w->f == NULL) {
        prt_error("creating %s: %s", path, strerror(errno));
        prt_file_abort(w);
        return -1;
    }
    /* the header is rewritten with the final count by prt_file_finish() */
    if (fwrite(&w->hdr, sizeof(w->hdr), 1, w->f) != 1) {
        prt_error("writing %s: %s", path, strerror(errno));
        prt_file_abort(w);
        return -1;
    }
    return 0;
}

int
prt_file_reopen(prt_file_writer_t *w, const char *path, const char *magic,
    uint32_t record_size, uint32_t width)
{
    long  end;

    memset(w, 0, sizeof(*w));
    w->path = strdup(path);
    w->f = fopen(path, "r+b");
    if (w->path == NULL || w->f == NULL
        || fread(&w->hdr, sizeof(w->hdr), 1, w->f) != 1
        || fseek(w->f, 0, SEEK_END) != 0 || (end = ftell(w->f)) < 0)
    {
        prt_error("opening %s to append: %s", path, strerror(errno));
        prt_file_abort(w);
        return -1;
    }
    if (memcmp(w->hdr.magic, magic, sizeof(w->hdr.magic)) != 0
        || w->hdr.version != PRT_INDEX_FILE_VERSION
        || w->hdr.record_size != record_size || w->hdr.width != width
        || (uint64_t) end != sizeof(w->hdr) + w->hdr.count * record_size)
    {
        prt_error("%s: not a valid %.8s file", path, magic);
        prt_file_abort(w);
        return -1;
    }
    return 0;
}

int
prt_file_append(prt_file_writer_t *w, const void *records, size_t n)
{
    if (n && fwrite(records, w->hdr.record_size, n, w->f) != n) {
        prt_error("writing %s: %s", w->path, strerror(errno));
        return -1;
    }
    w->hdr.count += n;
    return 0;
}

int
prt_file_finish(prt_file_writer_t *w)
{
    int  rc = 0;

    if (fseek(w->f, 0, SEEK_SET) != 0
        || fwrite(&w->hdr, sizeof(w->hdr), 1, w->f) != 1
        || fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
    {
        prt_error("finishing %s: %s", w->path, strerror(errno));
        rc = -1;
    }
    if (fclose(w->f) != 0) {
        rc = -1;
    }
    w->f = NULL;
    free(w->path);
    w->path = NULL;
    return rc;
}

void
prt_file_abort(prt_file_writer_t *w)
{
    if (w->f) {
        fclose(w->f);
        w->f = NULL;
    }
    free(w->path);
    w->path = NULL;
}

int
prt_file_map(prt_file_map_t *m, const char *path, const char *magic,
    uint32_t record_size, uint32_t width, char *err, size_t errlen)
{
    const prt_file_hdr_t  *h;
    struct stat            st;
    int                    fd;

    memset(m, 0, sizeof(*m));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 || fstat(fd, &st) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd != -1) {
            close(fd);
        }
        return -1;
    }
    if ((size_t) st.st_size < sizeof(prt_file_hdr_t)) {
        close(fd);
        snprintf(err, errlen, "%s: truncated", path);
        return -1;
    }

    m->size = (size_t) st.st_size;
    m->base = mmap(NULL, m->size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m->base == MAP_FAILED) {
        m->base = NULL;
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return -1;
    }

    h = m->base;
    if (memcmp(h->magic, magic, sizeof(h->magic)) != 0
        || h->version != PRT_INDEX_FILE_VERSION
        || h->record_size != record_size || h->width != width
        || h->count > (m->size - sizeof(*h)) / record_size
        || sizeof(*h) + h->count * record_size != m->size)
    {
        snprintf(err, errlen, "%s: not a valid %.8s file (wrong magic, "
                 "version, record size or length)", path, magic);
        prt_file_unmap(m);
        return -1;
    }

    m->records = (const char *) m->base + sizeof(*h);
    m->count = h->count;
    return 0;
}

void
prt_file_unmap(prt_file_map_t *m)
{
    if (m->base) {
        munmap(m->base, m->size);
    }
    memset(m, 0, sizeof(*m));
}

int
prt_fsync_path(const char *path)
{
    int  fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd == -1) {
        return -1;
    }
    rc = fsync(fd);
    close(fd);
    return rc;
}

int
prt_copy_file(const char *from, const char *to)
{
    struct stat  st;
    int          in, out = -1, rc = -1;
    ssize_t      n;
    off_t        left;

    in = open(from, O_RDONLY | O_CLOEXEC);
    if (in == -1 || fstat(in, &st) == -1) {
        goto done;
    }
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out == -1) {
        goto done;
    }
    for (left = st.st_size; left > 0; left -= n) {
        n = copy_file_range(in, NULL, out, NULL, (size_t) left, 0);
        if (n <= 0) {
            goto done;
        }
    }
    rc = fsync(out);

done:
    if (rc != 0) {
        prt_error("copying %s to %s: %s", from, to, strerror(errno));
    }
    if (in != -1) {
        close(in);
    }
    if (out != -1) {
        close(out);
    }
    return rc;
}
