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
 * as harness.energy.base.OpenFiles does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 22) /* undrained samples kept at most; later ones are counted as dropped */

typedef struct {
    PyObject_HEAD
    Py_ssize_t nfiles;
    char **paths;
    int *fds;
    int *check_links;
    double *row; /* the sample being read, used by the thread only */
    dev_t sysfs_dev;
    int64_t period_ns;
    /* buffer of undrained samples, guarded by lock */
    int64_t *times;
    double *values; /* nfiles per sample */
    unsigned char *ok;
    Py_ssize_t len, cap;
    int64_t errors, dropped, samples;
    char first_error[320];
    /* thread state, guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, started, running, joined;
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

static double thread_cpu_s(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return -1.0;
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Record the first failure's message (called with lock held). */
static void note_error(FileSampler *self, const char *message) {
    if (self->first_error[0] == '\0') snprintf(self->first_error, sizeof self->first_error, "%s", message);
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

/* Read one number from file i into *value; on failure write a message and return -1. */
static int read_file(FileSampler *self, Py_ssize_t i, double *value, char *message, size_t size) {
    char text[72];
    if (self->fds[i] >= 0 && self->check_links[i]) {
        struct stat st;
        if (fstat(self->fds[i], &st) != 0 || st.st_nlink == 0) drop_file(self, i); /* replaced or removed */
    }
    if (self->fds[i] < 0 && open_file(self, i) != 0) {
        snprintf(message, size, "cannot read %s: %s", self->paths[i], strerror(errno));
        return -1;
    }
    ssize_t n = pread(self->fds[i], text, sizeof text - 1, 0);
    if (n < 0) {
        snprintf(message, size, "cannot read %s: %s", self->paths[i], strerror(errno));
        drop_file(self, i);
        return -1;
    }
    text[n] = '\0';
    char *start = text, *end = NULL;
    while (*start == ' ' || *start == '\t' || *start == '\n') start++;
    errno = 0;
    *value = strtod(start, &end);
    /* the number may be followed by a unit, as JetPack 4's "350 ma", never glued to other characters */
    if (end == start || errno == ERANGE || (*end != '\0' && *end != ' ' && *end != '\n' && *end != '\t')) {
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '\0')) text[--n] = '\0';
        snprintf(message, size, "%s holds '%.40s', not a number", self->paths[i], text);
        return -1;
    }
    return 0;
}

/* Append one sample (called with lock held). */
static void append(FileSampler *self, int64_t t_ns, const double *row, int ok) {
    if (self->len == self->cap) {
        Py_ssize_t cap = self->cap ? self->cap * 2 : 256;
        if (cap > MAX_SAMPLES) {
            self->dropped++;
            return;
        }
        int64_t *times = realloc(self->times, cap * sizeof *times);
        if (times) self->times = times;
        double *values = realloc(self->values, cap * self->nfiles * sizeof *values);
        if (values) self->values = values;
        unsigned char *oks = realloc(self->ok, cap);
        if (oks) self->ok = oks;
        if (!times || !values || !oks) {
            self->dropped++;
            return;
        }
        self->cap = cap;
    }
    self->times[self->len] = t_ns;
    memcpy(self->values + self->len * self->nfiles, row, self->nfiles * sizeof *row);
    self->ok[self->len] = (unsigned char)ok;
    self->len++;
    self->samples++;
}

static void *run(void *arg) {
    FileSampler *self = arg;
    double *row = self->row;
    char message[320];
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
            if (!ok) {
                self->errors++;
                note_error(self, message);
            }
            append(self, t_ns, row, ok);
            due += self->period_ns;
            if (due <= now) due = now + self->period_ns; /* fell behind: skip the missed ticks */
            continue;
        }
        struct timespec until = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
    }
    self->cpu_s_final = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID);
    self->ended_ns = monotonic_ns();
    self->running = 0;
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

static void free_files(FileSampler *self) {
    for (Py_ssize_t i = 0; self->paths && i < self->nfiles; i++) {
        free(self->paths[i]);
        if (self->fds && self->fds[i] >= 0) close(self->fds[i]);
    }
    free(self->paths);
    free(self->fds);
    free(self->check_links);
    free(self->row);
    self->row = NULL;
    self->paths = NULL;
    self->fds = NULL;
    self->check_links = NULL;
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
    if (!(period_s > 0)) {
        PyErr_SetString(PyExc_ValueError, "period_s must be > 0");
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
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *encoded = PyUnicode_EncodeFSDefault(item);
        if (!encoded) {
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
    if (self->period_ns < 1) self->period_ns = 1;
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
    if (rc != 0) self->running = 0;
    else self->started = 1;
    pthread_mutex_unlock(&self->lock);
    if (rc != 0) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (pthread_getcpuclockid(self->thread, &self->cpu_clock) != 0) self->cpu_clock = (clockid_t)-1;
    Py_RETURN_NONE;
}

/* Stop the thread and join it (waiting at most timeout_s); returns whether it ended. */
static PyObject *FileSampler_stop(FileSampler *self, PyObject *args) {
    double timeout_s = 5.0;
    if (args && !PyArg_ParseTuple(args, "|d", &timeout_s)) return NULL;
    if (!self->started || self->joined) Py_RETURN_TRUE;
    int ended;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->lock);
    self->stop = 1;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    until.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    ended = pthread_timedjoin_np(self->thread, NULL, &until) == 0;
    Py_END_ALLOW_THREADS
    if (ended) self->joined = 1;
    return PyBool_FromLong(ended);
}

/* Samples taken since the last drain: (times in ns, rows of one float per file, or None where a read failed). */
static PyObject *FileSampler_drain(FileSampler *self, PyObject *Py_UNUSED(ignored)) {
    pthread_mutex_lock(&self->lock);
    int64_t *times = self->times;
    double *values = self->values;
    unsigned char *ok = self->ok;
    Py_ssize_t len = self->len;
    self->times = NULL;
    self->values = NULL;
    self->ok = NULL;
    self->len = self->cap = 0;
    pthread_mutex_unlock(&self->lock);
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

static PyObject *FileSampler_cpu_s(FileSampler *self, void *Py_UNUSED(closure)) {
    pthread_mutex_lock(&self->lock);
    double cpu = self->running && self->cpu_clock != (clockid_t)-1 ? thread_cpu_s(self->cpu_clock) : self->cpu_s_final;
    pthread_mutex_unlock(&self->lock);
    return PyFloat_FromDouble(cpu < 0 ? 0.0 : cpu);
}

static PyObject *FileSampler_wall_s(FileSampler *self, void *Py_UNUSED(closure)) {
    pthread_mutex_lock(&self->lock);
    int64_t end = self->running ? monotonic_ns() : self->ended_ns;
    double wall = self->started ? (end - self->started_ns) / 1e9 : 0.0;
    pthread_mutex_unlock(&self->lock);
    return PyFloat_FromDouble(wall);
}

static PyObject *FileSampler_running(FileSampler *self, void *Py_UNUSED(closure)) {
    pthread_mutex_lock(&self->lock);
    int running = self->running;
    pthread_mutex_unlock(&self->lock);
    return PyBool_FromLong(running);
}

static PyObject *FileSampler_counts(FileSampler *self, PyObject *Py_UNUSED(ignored)) {
    pthread_mutex_lock(&self->lock);
    long long samples = self->samples, errors = self->errors, dropped = self->dropped;
    PyObject *first = self->first_error[0] ? PyUnicode_DecodeFSDefault(self->first_error) : Py_NewRef(Py_None);
    pthread_mutex_unlock(&self->lock);
    if (!first) return NULL;
    return Py_BuildValue("{s:L,s:L,s:L,s:N}", "samples", samples, "errors", errors, "dropped", dropped, "first_error", first);
}

static void FileSampler_dealloc(FileSampler *self) {
    if (self->started && !self->joined) {
        PyObject *ended = FileSampler_stop(self, NULL);
        if (ended != Py_True) { /* stuck in a read: it still uses this object, which is therefore never freed */
            PyErr_Clear();
            Py_XDECREF(ended);
            pthread_detach(self->thread);
            return;
        }
        Py_DECREF(ended);
    }
    free_files(self);
    free(self->times);
    free(self->values);
    free(self->ok);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef FileSampler_methods[] = {
    {"start", (PyCFunction)FileSampler_start, METH_NOARGS, "Start the thread (once)."},
    {"stop", (PyCFunction)FileSampler_stop, METH_VARARGS, "stop(timeout_s=5.0) -> bool: stop and join the thread; whether it ended."},
    {"drain", (PyCFunction)FileSampler_drain, METH_NOARGS,
     "drain() -> (times_ns, rows): samples since the last drain; a row is one float per file, None where a read failed."},
    {"counts", (PyCFunction)FileSampler_counts, METH_NOARGS, "{samples, errors, dropped, first_error} so far."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef FileSampler_getset[] = {
    {"cpu_s", (getter)FileSampler_cpu_s, NULL, "CPU seconds the thread has used (so far, while it runs).", NULL},
    {"wall_s", (getter)FileSampler_wall_s, NULL, "Seconds the thread has run (so far, while it runs).", NULL},
    {"running", (getter)FileSampler_running, NULL, "Whether the thread runs.", NULL},
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
