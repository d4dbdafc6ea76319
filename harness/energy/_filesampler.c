/* A sampler thread in C for power sensors that are plain sysfs files (INA3221, INA219/226).
 *
 * Python's own sampler thread costs 1.4 % of a core at 100 Hz on a virtual machine before it reads a single
 * file: each tick wakes the interpreter and waits for the GIL held by the pipeline. This thread never takes
 * the GIL. Every period it re-reads each open file at offset 0 with one pread (a sysfs attribute runs the
 * driver's show again), parses the number and appends (time, values) to a buffer under a mutex; Python
 * drains the buffer when it attributes frames (harness.energy.native). Deadlines advance by whole periods;
 * a tick that could not run on time is skipped, not caught up. A file that cannot be read marks that
 * sample failed; its descriptor is closed and opened again at the next tick, which fails while the file is
 * gone. Outside sysfs (fake trees, which replace files atomically) the link count is checked each read,
 * as harness.energy.base.OpenFiles does, and numbers are parsed as harness.energy.base.parse_number does.
 *
 * After fork() the child has no sampler thread: there the object reports it stopped and is never torn down.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 22) /* undrained samples kept at most; later ones are dropped and counted */
#define READ_BYTES 64         /* as OpenFiles: a file this long or longer does not hold one number */
#define MESSAGE_BYTES 512

typedef struct {
    PyObject_HEAD
    Py_ssize_t nfiles;
    char **paths;
    int *fds;
    int *check_links;
    double *row; /* the sample being read: the thread's only */
    dev_t sysfs_dev;
    int64_t period_ns;
    /* guarded by lock: the buffer of undrained samples and the counts */
    int64_t *times;
    double *values; /* nfiles per sample */
    unsigned char *ok;
    Py_ssize_t len, cap;
    int64_t errors, dropped, samples;
    char first_error[MESSAGE_BYTES];
    /* guarded by lock: the thread's state */
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* the thread waits here for its next tick or stop */
    pthread_cond_t ended; /* stop waits here for the thread to end */
    int stop, started, running, joined, stuck;
    pid_t pid; /* the process that started the thread */
    pthread_t thread;
    clockid_t cpu_clock;
    double cpu_s_final;
    int64_t started_ns, ended_ns;
} FileSampler;

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec timespec_of(int64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    return ts;
}

static double thread_cpu_s(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return -1.0;
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether this object's thread was started in another process (we are a forked child: no thread here). */
static int forked(const FileSampler *self) { return self->started && self->pid != getpid(); }

/* The lock, except in a forked child, where no other thread exists and the lock may have been copied held. */
static void lock(FileSampler *self) {
    if (!forked(self)) pthread_mutex_lock(&self->lock);
}

static void unlock(FileSampler *self) {
    if (!forked(self)) pthread_mutex_unlock(&self->lock);
}

static int open_file(FileSampler *self, Py_ssize_t i) {
    int fd = open(self->paths[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    self->fds[i] = fd;
    self->check_links[i] = st.st_dev != self->sysfs_dev;
    return 0;
}

static void drop_file(FileSampler *self, Py_ssize_t i) {
    if (self->fds[i] >= 0) close(self->fds[i]);
    self->fds[i] = -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\0'; }

/* The decimal number that starts `text` (after blanks and NULs), as parse_number accepts it: [+-]digits[.digits][e[+-]digits],
 * finite, then a blank, a NUL or the end (a unit may follow after a blank, as JetPack 4's "350 ma"). */
static int parse_number(const char *text, ssize_t n, double *value) {
    const char *p = text, *end_of_text = text + n;
    while (p < end_of_text && is_space(*p)) p++;
    const char *start = p;
    if (*p == '+' || *p == '-') p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        if (*q == '+' || *q == '-') q++;
        if (!(*q >= '0' && *q <= '9')) return -1;
        while (*q >= '0' && *q <= '9') q++;
        p = q;
    }
    if (!is_space(*p)) return -1;
    char *end = NULL;
    *value = strtod(start, &end);
    return end == p && isfinite(*value) ? 0 : -1;
}

/* Read one number from file i into *value; on failure write a message and return -1. */
static int read_file(FileSampler *self, Py_ssize_t i, double *value, char *message, size_t size) {
    char text[READ_BYTES + 1];
    if (self->fds[i] >= 0 && self->check_links[i]) {
        struct stat st;
        if (fstat(self->fds[i], &st) != 0 || st.st_nlink == 0) drop_file(self, i); /* replaced or removed */
    }
    if (self->fds[i] < 0 && open_file(self, i) != 0) {
        snprintf(message, size, "cannot read %s: %s", self->paths[i], strerror(errno));
        return -1;
    }
    ssize_t n = pread(self->fds[i], text, READ_BYTES, 0);
    if (n < 0) {
        snprintf(message, size, "cannot read %s: %s", self->paths[i], strerror(errno));
        drop_file(self, i);
        return -1;
    }
    text[n] = '\0';
    if (n == READ_BYTES || parse_number(text, n, value) != 0) {
        ssize_t first = 0, last = n < 40 ? n : 40; /* as parse_number in Python: 40 bytes, blanks around them dropped */
        while (first < last && is_space(text[first])) first++;
        while (last > first && is_space(text[last - 1])) last--;
        snprintf(message, size, "%s holds '%.*s', not a number", self->paths[i], (int)(last - first), text + first);
        return -1;
    }
    return 0;
}

/* Append one sample (lock held); 0 when the buffer is full and it was dropped. */
static int append(FileSampler *self, int64_t t_ns, const double *row, int ok) {
    if (self->len == self->cap) {
        Py_ssize_t cap = self->cap ? self->cap * 2 : 256;
        if (cap > MAX_SAMPLES) return 0;
        int64_t *times = realloc(self->times, cap * sizeof *times);
        if (times) self->times = times;
        double *values = realloc(self->values, cap * self->nfiles * sizeof *values);
        if (values) self->values = values;
        unsigned char *oks = realloc(self->ok, cap);
        if (oks) self->ok = oks;
        if (!times || !values || !oks) return 0;
        self->cap = cap;
    }
    self->times[self->len] = t_ns;
    memcpy(self->values + self->len * self->nfiles, row, self->nfiles * sizeof *row);
    self->ok[self->len] = (unsigned char)ok;
    self->len++;
    self->samples++;
    return 1;
}

static void *run(void *arg) {
    FileSampler *self = arg;
    double *row = self->row;
    char message[MESSAGE_BYTES];
    pthread_mutex_lock(&self->lock);
    int64_t due = self->started_ns;
    while (!self->stop) {
        int64_t now = monotonic_ns();
        if (now >= due) {
            pthread_mutex_unlock(&self->lock);
            int ok = 1;
            message[0] = '\0';
            int64_t t0 = monotonic_ns();
            for (Py_ssize_t i = 0; ok && i < self->nfiles; i++) ok = read_file(self, i, &row[i], message, sizeof message) == 0;
            int64_t t_ns = t0 + (monotonic_ns() - t0) / 2; /* the middle of the reads */
            pthread_mutex_lock(&self->lock);
            if (!append(self, t_ns, row, ok)) {
                self->dropped++;
                if (!self->first_error[0]) snprintf(self->first_error, sizeof self->first_error, "sample buffer full (nobody drained it)");
            } else if (!ok) {
                self->errors++;
                if (!self->first_error[0]) snprintf(self->first_error, sizeof self->first_error, "%s", message);
            }
            due += self->period_ns;
            if (due <= now) due = now + self->period_ns; /* fell behind: skip the missed ticks */
            continue;
        }
        struct timespec until = timespec_of(due);
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
    }
    self->cpu_s_final = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID);
    self->ended_ns = monotonic_ns();
    self->running = 0;
    pthread_cond_broadcast(&self->ended);
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

static void close_files(FileSampler *self) {
    for (Py_ssize_t i = 0; self->fds && i < self->nfiles; i++) drop_file(self, i);
}

static void free_files(FileSampler *self) {
    close_files(self);
    for (Py_ssize_t i = 0; self->paths && i < self->nfiles; i++) free(self->paths[i]);
    free(self->paths);
    free(self->fds);
    free(self->check_links);
    free(self->row);
    self->paths = NULL;
    self->fds = NULL;
    self->check_links = NULL;
    self->row = NULL;
}

/* Stop the thread and wait up to timeout_s for it to end, then join it (once, whoever calls) and close its
 * files. Never touches Python: call it without the GIL. Returns whether the thread has ended. */
static int stop_thread(FileSampler *self, double timeout_s) {
    if (!self->started || forked(self)) return 1;
    if (!(timeout_s >= 0)) timeout_s = 0;
    if (timeout_s > 3600) timeout_s = 3600;
    int64_t deadline = monotonic_ns() + (int64_t)(timeout_s * 1e9);
    struct timespec until = timespec_of(deadline);
    pthread_mutex_lock(&self->lock);
    self->stop = 1;
    pthread_cond_signal(&self->wake);
    while (self->running && pthread_cond_timedwait(&self->ended, &self->lock, &until) != ETIMEDOUT) {
    }
    int ended = !self->running, join = ended && !self->joined;
    if (join) self->joined = 1;
    self->stuck = !ended;
    pthread_mutex_unlock(&self->lock);
    if (join) {
        pthread_join(self->thread, NULL); /* it has ended its loop: this returns at once */
        close_files(self);                /* the thread is gone: nobody else uses them */
    }
    return ended;
}

static int FileSampler_init(FileSampler *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"paths", "period_s", "sysfs_dev", NULL};
    PyObject *paths;
    double period_s;
    long long sysfs_dev;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OdL", keywords, &paths, &period_s, &sysfs_dev)) return -1;
    if (self->paths) {
        PyErr_SetString(PyExc_RuntimeError, "FileSampler is already initialised");
        return -1;
    }
    if (!(period_s >= 1e-6 && period_s <= 3600)) {
        PyErr_SetString(PyExc_ValueError, "period_s must be between 1e-6 and 3600 seconds");
        return -1;
    }
    PyObject *seq = PySequence_Fast(paths, "paths must be a sequence of str");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "paths must not be empty");
        return -1;
    }
    self->paths = calloc(n, sizeof *self->paths);
    self->fds = malloc(n * sizeof *self->fds);
    self->check_links = calloc(n, sizeof *self->check_links);
    self->row = calloc(n, sizeof *self->row);
    if (!self->paths || !self->fds || !self->check_links || !self->row) {
        Py_DECREF(seq);
        free_files(self);
        PyErr_NoMemory();
        return -1;
    }
    self->nfiles = n;
    for (Py_ssize_t i = 0; i < n; i++) self->fds[i] = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *encoded = NULL;
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &encoded)) { /* rejects embedded NULs */
            Py_DECREF(seq);
            free_files(self);
            return -1;
        }
        self->paths[i] = strdup(PyBytes_AS_STRING(encoded));
        Py_DECREF(encoded);
        if (!self->paths[i]) {
            Py_DECREF(seq);
            free_files(self);
            PyErr_NoMemory();
            return -1;
        }
    }
    Py_DECREF(seq);
    self->period_ns = (int64_t)(period_s * 1e9);
    self->sysfs_dev = (dev_t)sysfs_dev;
    return 0;
}

static PyObject *FileSampler_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwargs)) {
    FileSampler *self = (FileSampler *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attr);
    pthread_cond_init(&self->ended, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&self->lock, NULL);
    return (PyObject *)self;
}

static PyObject *FileSampler_start(FileSampler *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->paths) {
        PyErr_SetString(PyExc_RuntimeError, "FileSampler is not initialised");
        return NULL;
    }
    if (self->started) {
        PyErr_SetString(PyExc_RuntimeError, "a FileSampler starts once");
        return NULL;
    }
    pthread_mutex_lock(&self->lock);
    self->started_ns = monotonic_ns();
    self->running = 1;
    int rc = pthread_create(&self->thread, NULL, run, self);
    if (rc != 0) {
        self->running = 0;
    } else {
        self->started = 1;
        self->pid = getpid();
        if (pthread_getcpuclockid(self->thread, &self->cpu_clock) != 0) self->cpu_clock = (clockid_t)-1;
    }
    pthread_mutex_unlock(&self->lock);
    if (rc != 0) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *FileSampler_stop(FileSampler *self, PyObject *args) {
    double timeout_s = 5.0;
    if (!PyArg_ParseTuple(args, "|d", &timeout_s)) return NULL;
    int ended;
    Py_BEGIN_ALLOW_THREADS
    ended = stop_thread(self, timeout_s);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(ended);
}

/* Samples taken since the last drain: (times in ns, rows of one float per file, or None where a read failed). */
static PyObject *FileSampler_drain(FileSampler *self, PyObject *Py_UNUSED(ignored)) {
    lock(self);
    int64_t *times = self->times;
    double *values = self->values;
    unsigned char *ok = self->ok;
    Py_ssize_t len = self->len;
    self->times = NULL;
    self->values = NULL;
    self->ok = NULL;
    self->len = self->cap = 0;
    unlock(self);
    PyObject *stamps = PyList_New(len), *rows = PyList_New(len), *result = NULL;
    if (!stamps || !rows) goto done;
    for (Py_ssize_t s = 0; s < len; s++) {
        PyObject *stamp = PyLong_FromLongLong(times[s]);
        if (!stamp) goto done;
        PyList_SET_ITEM(stamps, s, stamp);
        PyObject *row;
        if (ok[s]) {
            row = PyTuple_New(self->nfiles);
            if (!row) goto done;
            for (Py_ssize_t i = 0; i < self->nfiles; i++) {
                PyObject *number = PyFloat_FromDouble(values[s * self->nfiles + i]);
                if (!number) {
                    Py_DECREF(row);
                    goto done;
                }
                PyTuple_SET_ITEM(row, i, number);
            }
        } else {
            row = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(rows, s, row);
    }
    result = PyTuple_Pack(2, stamps, rows);
done:
    Py_XDECREF(stamps);
    Py_XDECREF(rows);
    free(times);
    free(values);
    free(ok);
    return result;
}

static PyObject *FileSampler_counts(FileSampler *self, PyObject *Py_UNUSED(ignored)) {
    char first[MESSAGE_BYTES];
    lock(self);
    long long samples = self->samples, errors = self->errors, dropped = self->dropped;
    memcpy(first, self->first_error, sizeof first);
    unlock(self);
    PyObject *message = first[0] ? PyUnicode_DecodeFSDefault(first) : Py_NewRef(Py_None); /* decoded without the lock held */
    if (!message) return NULL;
    return Py_BuildValue("{s:L,s:L,s:L,s:N}", "samples", samples, "errors", errors, "dropped", dropped, "first_error", message);
}

static PyObject *FileSampler_cpu_s(FileSampler *self, void *Py_UNUSED(closure)) {
    lock(self);
    int live = self->running && !forked(self) && self->cpu_clock != (clockid_t)-1;
    double cpu = live ? thread_cpu_s(self->cpu_clock) : self->cpu_s_final;
    unlock(self);
    return PyFloat_FromDouble(cpu < 0 ? 0.0 : cpu);
}

static PyObject *FileSampler_wall_s(FileSampler *self, void *Py_UNUSED(closure)) {
    lock(self);
    int live = self->running && !forked(self);
    int64_t end = live ? monotonic_ns() : self->ended_ns;
    double wall = self->started && end > self->started_ns ? (end - self->started_ns) / 1e9 : 0.0;
    unlock(self);
    return PyFloat_FromDouble(wall);
}

static PyObject *FileSampler_running(FileSampler *self, void *Py_UNUSED(closure)) {
    lock(self);
    int running = self->running && !forked(self);
    unlock(self);
    return PyBool_FromLong(running);
}

static void FileSampler_dealloc(FileSampler *self) {
    if (forked(self)) { /* the lock and conditions may be copied mid-use: tearing them down could block forever */
        Py_TYPE(self)->tp_free((PyObject *)self);
        return;
    }
    if (self->started && !self->joined) {
        int ended;
        double timeout_s = self->stuck ? 0.0 : 1.0; /* a thread that did not end when stopped is not waited for again */
        Py_BEGIN_ALLOW_THREADS
        ended = stop_thread(self, timeout_s);
        Py_END_ALLOW_THREADS
        if (!ended) { /* stuck in a read: it still uses this object, which is therefore never freed */
            pthread_detach(self->thread);
            return;
        }
    }
    free_files(self);
    free(self->times);
    free(self->values);
    free(self->ok);
    pthread_cond_destroy(&self->wake);
    pthread_cond_destroy(&self->ended);
    pthread_mutex_destroy(&self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef FileSampler_methods[] = {
    {"start", (PyCFunction)FileSampler_start, METH_NOARGS, "Start the thread (once)."},
    {"stop", (PyCFunction)FileSampler_stop, METH_VARARGS,
     "stop(timeout_s=5.0) -> bool: stop the thread, wait for it, close its files; whether it ended."},
    {"drain", (PyCFunction)FileSampler_drain, METH_NOARGS,
     "drain() -> (times_ns, rows): samples since the last drain; a row is one float per file, None where a read failed."},
    {"counts", (PyCFunction)FileSampler_counts, METH_NOARGS, "{samples, errors, dropped, first_error} so far."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef FileSampler_getset[] = {
    {"cpu_s", (getter)FileSampler_cpu_s, NULL, "CPU seconds the thread has used (so far, while it runs).", NULL},
    {"wall_s", (getter)FileSampler_wall_s, NULL, "Seconds the thread has run (so far, while it runs).", NULL},
    {"running", (getter)FileSampler_running, NULL, "Whether the thread runs (never in a forked child).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject FileSamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "harness.energy._filesampler.FileSampler",
    .tp_doc = PyDoc_STR("FileSampler(paths, period_s, sysfs_dev): a C thread reading numbers from files every period."),
    .tp_basicsize = sizeof(FileSampler),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = FileSampler_new,
    .tp_init = (initproc)FileSampler_init,
    .tp_dealloc = (destructor)FileSampler_dealloc,
    .tp_methods = FileSampler_methods,
    .tp_getset = FileSampler_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_filesampler", "A sampler thread in C for file-backed power sensors (see harness.energy.native).", -1, NULL,
};

PyMODINIT_FUNC PyInit__filesampler(void) {
    if (PyType_Ready(&FileSamplerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&FileSamplerType);
    if (PyModule_AddObject(m, "FileSampler", (PyObject *)&FileSamplerType) < 0) {
        Py_DECREF(&FileSamplerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
