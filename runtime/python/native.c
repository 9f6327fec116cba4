/* pockettorch.runtime._native: a thin CPython binding over the C API (pockettorch.h).
 * Program(path | bytes) validates a program; Session(program, num_threads) prepares it and runs
 * with buffers given through the buffer protocol. Errors raise NativeError(code, detail); the
 * Python layer (runtime/module.py) maps codes onto the catalogue's exception classes.
 * A Session may be called from many threads: a lock per session serializes its whole call (bind the
 * inputs, run, copy the outputs out), since one pkt_session must not run on two threads at once, and the
 * GIL is released while the lock is held so other sessions run in parallel. Misuse (__init__ twice,
 * __new__ without __init__, calls after close) raises instead of touching a NULL or freed handle. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pockettorch/pockettorch.h"
#include "backends/cpu/cpu.h"     /* PKT_ISA_PORTABLE */
#include "core/program.h" /* pkt_session_required_arena_isa */

static PyObject* NativeError;

static PyObject* raise_status(pkt_status st, const char* detail) {
  PyObject* args = Py_BuildValue("(is)", (int)st, detail && detail[0] ? detail : pkt_status_message(st));
  if (args) {
    PyErr_SetObject(NativeError, args);
    Py_DECREF(args);
  }
  return NULL;
}

/* ---- Program ---- */
typedef struct {
  PyObject_HEAD
  pkt_program* program;
} ProgramObject;

static void Program_dealloc(ProgramObject* self) {
  pkt_program_free(self->program);
  Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* not_ready(const char* what) { return raise_status(PKT_INVALID_ARGUMENT, what); }

/* The program of an initialized Program, or NULL with an exception set. */
static const pkt_program* program_of(ProgramObject* self) {
  if (!self->program) not_ready("the Program was not initialized (its __init__ did not run or failed)");
  return self->program;
}

static int Program_init(ProgramObject* self, PyObject* args, PyObject* kwds) {
  PyObject* source;
  if (!PyArg_ParseTuple(args, "O", &source)) return -1;
  if (self->program) { /* sessions read this program: replacing it would pull it from under them */
    not_ready("Program.__init__ called on a loaded program; create a new Program instead");
    return -1;
  }
  char err[512] = "";
  pkt_status st;
  if (PyBytes_Check(source)) {
    st = pkt_program_load_buffer(PyBytes_AS_STRING(source), (size_t)PyBytes_GET_SIZE(source), 1, &self->program, err,
                                 sizeof err);
  } else {
    PyObject* path = NULL;
    if (!PyUnicode_FSConverter(source, &path)) return -1;
    Py_BEGIN_ALLOW_THREADS st = pkt_program_load_file(PyBytes_AS_STRING(path), &self->program, err, sizeof err);
    Py_END_ALLOW_THREADS Py_DECREF(path);
  }
  if (st != PKT_OK) {
    raise_status(st, err);
    return -1;
  }
  return 0;
}

static PyObject* info_tuple(const pkt_tensor_info* info) {
  PyObject* dims = PyTuple_New(info->rank);
  if (!dims) return NULL;
  for (int d = 0; d < info->rank; d++) PyTuple_SET_ITEM(dims, d, PyLong_FromLongLong(info->dims[d]));
  return Py_BuildValue("(siNn)", info->name, info->dtype, dims, (Py_ssize_t)info->nbytes);
}

static PyObject* io_list(ProgramObject* self, int outputs) {
  if (!program_of(self)) return NULL;
  int n = outputs ? pkt_program_num_outputs(self->program) : pkt_program_num_inputs(self->program);
  PyObject* list = PyList_New(n);
  if (!list) return NULL;
  for (int i = 0; i < n; i++) {
    pkt_tensor_info info;
    pkt_status st = outputs ? pkt_program_output_info(self->program, i, &info) : pkt_program_input_info(self->program, i, &info);
    if (st) {
      Py_DECREF(list);
      return raise_status(st, NULL);
    }
    PyObject* t = info_tuple(&info);
    if (!t) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, i, t);
  }
  return list;
}

static PyObject* Program_inputs(ProgramObject* self, PyObject* unused) { return io_list(self, 0); }
static PyObject* Program_outputs(ProgramObject* self, PyObject* unused) { return io_list(self, 1); }

static PyObject* Program_metadata(ProgramObject* self, PyObject* unused) {
  if (!program_of(self)) return NULL;
  size_t len = 0;
  const char* text = pkt_program_metadata(self->program, &len);
  return PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
}

static PyObject* Program_arena_bytes(ProgramObject* self, PyObject* unused) {
  if (!program_of(self)) return NULL;
  return PyLong_FromSize_t(pkt_program_arena_bytes(self->program));
}

static PyObject* Program_instructions(ProgramObject* self, PyObject* unused) {
  if (!program_of(self)) return NULL;
  int n = pkt_program_num_instructions(self->program);
  PyObject* list = PyList_New(n);
  if (!list) return NULL;
  for (int i = 0; i < n; i++) {
    PyObject* t = Py_BuildValue("(ss)", pkt_program_instruction_op(self->program, i),
                                pkt_program_instruction_source(self->program, i));
    if (!t) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, i, t);
  }
  return list;
}

static PyObject* Program_symbols(ProgramObject* self, PyObject* unused);

static PyMethodDef Program_methods[] = {
    {"symbols", (PyCFunction)Program_symbols, METH_NOARGS, "([(name, min, max)], [per input: symbol index per dim])"},
    {"inputs", (PyCFunction)Program_inputs, METH_NOARGS, "[(name, dtype code, dims, nbytes)] of the inputs"},
    {"outputs", (PyCFunction)Program_outputs, METH_NOARGS, "[(name, dtype code, dims, nbytes)] of the outputs"},
    {"metadata", (PyCFunction)Program_metadata, METH_NOARGS, "the metadata JSON text"},
    {"arena_bytes", (PyCFunction)Program_arena_bytes, METH_NOARGS, "planned arena size in bytes"},
    {"instructions", (PyCFunction)Program_instructions, METH_NOARGS, "[(op name, source)] per instruction"},
    {NULL}};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pockettorch.runtime._native.Program",
    .tp_basicsize = sizeof(ProgramObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Program_init,
    .tp_dealloc = (destructor)Program_dealloc,
    .tp_methods = Program_methods,
    .tp_doc = "A validated PocketTorch program: Program(path or bytes).",
};

/* ---- Session ---- */
typedef struct {
  PyObject_HEAD
  pkt_session* session; /* NULL before __init__ and after close(); read and written under `lock` */
  ProgramObject* program;
  PyThread_type_lock lock; /* serializes every use of `session` */
  int initialized;
} SessionObject;

static PyObject* Session_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  SessionObject* self = (SessionObject*)PyType_GenericNew(type, args, kwds);
  if (!self) return NULL;
  self->lock = PyThread_allocate_lock();
  if (!self->lock) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  return (PyObject*)self;
}

static void Session_dealloc(SessionObject* self) {
  pkt_session_free(self->session);
  if (self->lock) PyThread_free_lock(self->lock);
  Py_XDECREF(self->program);
  Py_TYPE(self)->tp_free((PyObject*)self);
}

/* Take the session's lock. The GIL is let go while waiting: the holder may be running without it. The lock
 * is never waited for with the GIL held, and its holder never waits for the GIL, so the two cannot deadlock. */
static void lock_session(SessionObject* self) {
  if (PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) return;
  Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
  Py_END_ALLOW_THREADS
}

/* The error for a session that was never initialized or is closed. */
static PyObject* session_gone(SessionObject* self) {
  return not_ready(self->initialized ? "the Session is closed"
                                     : "the Session was not initialized (its __init__ did not run or failed)");
}

/* Lock the session and return it, or unlock and raise when it was never initialized or is closed. */
static pkt_session* locked_session(SessionObject* self) {
  lock_session(self);
  if (self->session) return self->session;
  PyThread_release_lock(self->lock);
  session_gone(self);
  return NULL;
}

static int Session_init(SessionObject* self, PyObject* args, PyObject* kwds) {
  PyObject* program;
  int threads = 1, strict_backends = 0;
  const char* backends = NULL; /* None: every backend compiled in */
  if (!PyArg_ParseTuple(args, "O!|ipz", &ProgramType, &program, &threads, &strict_backends, &backends)) return -1;
  const pkt_program* prog = program_of((ProgramObject*)program);
  if (!prog) return -1;
  if (self->initialized) {
    not_ready("Session.__init__ called on a session that was already initialized; create a new Session instead");
    return -1;
  }
  self->initialized = 1;
  pkt_session_options opt = pkt_session_options_default();
  opt.num_threads = threads;
  opt.strict_backends = strict_backends;
  opt.backends = backends; /* read during pkt_session_create only */
  char err[512] = "";
  pkt_status st;
  pkt_session* session = NULL;
  Py_BEGIN_ALLOW_THREADS st = pkt_session_create(prog, &opt, &session, err, sizeof err);
  Py_END_ALLOW_THREADS if (st != PKT_OK) {
    self->initialized = 0;
    raise_status(st, err);
    return -1;
  }
  Py_INCREF(program);
  self->program = (ProgramObject*)program;
  lock_session(self);
  self->session = session;
  PyThread_release_lock(self->lock);
  return 0;
}

/* A buffer whose format names the other byte order ('>' or '!' on a little-endian host): its bytes would be
 * misread, since the runtime reads native values. */
static int foreign_byte_order(const char* format) {
  if (!format) return 0;
  const int little = PY_LITTLE_ENDIAN;
  return little ? (format[0] == '>' || format[0] == '!') : format[0] == '<';
}

/* Hold buffers[i] for input i (read) and buffers[ni + i] for output i (written), checked against the program,
 * so the run needs no Python object. Returns how many are held; an exception is set when fewer than ni + no. */
static int hold_buffers(const pkt_program* prog, PyObject* inputs, PyObject* outputs, Py_buffer* views) {
  int ni = pkt_program_num_inputs(prog), no = pkt_program_num_outputs(prog);
  for (int i = 0; i < ni + no; i++) {
    int out = i >= ni, index = out ? i - ni : i;
    PyObject* item = PySequence_GetItem(out ? outputs : inputs, index);
    if (!item) return i;
    int rc = PyObject_GetBuffer(item, &views[i], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (out ? PyBUF_WRITABLE : 0));
    Py_DECREF(item);
    if (rc) return i;
    pkt_tensor_info info;
    (out ? pkt_program_output_info : pkt_program_input_info)(prog, index, &info);
    char msg[160];
    if ((size_t)views[i].len != info.nbytes) {
      snprintf(msg, sizeof msg, "%s %d has %zd bytes, the program's has %zu", out ? "output buffer" : "input", index,
               views[i].len, info.nbytes);
      raise_status(out ? PKT_INVALID_ARGUMENT : PKT_INPUT_SHAPE, msg);
      return i + 1;
    }
    if (views[i].itemsize != 1 && (size_t)views[i].itemsize != pkt_dtype_size(info.dtype)) { /* raw bytes pass */
      snprintf(msg, sizeof msg, "%s %d has %zd-byte elements, the program's %s has %zu-byte ones",
               out ? "output buffer" : "input", index, views[i].itemsize, pkt_dtype_name(info.dtype),
               pkt_dtype_size(info.dtype));
      raise_status(out ? PKT_INVALID_ARGUMENT : PKT_INPUT_DTYPE, msg);
      return i + 1;
    }
    if (foreign_byte_order(views[i].format)) {
      snprintf(msg, sizeof msg, "%s %d is not in the native byte order (format '%.8s'); convert it first",
               out ? "output buffer" : "input", index, views[i].format);
      raise_status(out ? PKT_INVALID_ARGUMENT : PKT_INPUT_DTYPE, msg);
      return i + 1;
    }
  }
  return ni + no;
}

/* Session.run_capture: every instruction's outputs copied, as each instruction ends, to their offsets in one
 * caller buffer, in program order. The hook only copies: nothing is allocated while the program runs. */
typedef struct capture_state {
  uint8_t* base;
  size_t size;
  const int64_t* offsets; /* one per output of every instruction, in order */
  Py_ssize_t count, next;
  int overflow; /* an output did not fit where its offset put it */
} capture_state;

static void capture_instruction(void* user, const pkt_session* s, int index) {
  capture_state* c = user;
  pkt_tensor_info info;
  const void* data;
  for (int k = 0; (data = pkt_session_instruction_output(s, index, k, &info)) != NULL; k++) {
    if (c->next >= c->count || c->offsets[c->next] < 0 || (uint64_t)c->offsets[c->next] > c->size ||
        info.nbytes > c->size - (size_t)c->offsets[c->next]) {
      c->overflow = 1;
      return;
    }
    memcpy(c->base + c->offsets[c->next++], data, info.nbytes);
  }
}

/* One whole call under the session's lock, without the GIL: inputs are read in place from the held buffers
 * (copied into the arena when not aligned for their dtype), outputs copied out, the arena inputs bound again.
 * With `capture`, the instruction hook copies every intermediate out during this run only. */
static pkt_status run_locked(pkt_session* s, const pkt_program* prog, Py_buffer* views, capture_state* capture) {
  int ni = pkt_program_num_inputs(prog), no = pkt_program_num_outputs(prog);
  pkt_status st = PKT_OK;
  for (int i = 0; i < ni && !st; i++) {
    st = pkt_session_bind_input(s, i, views[i].buf, (size_t)views[i].len);
    if (st == PKT_BAD_ALIGNMENT) {
      pkt_session_bind_input(s, i, NULL, 0);
      st = pkt_session_set_input(s, i, views[i].buf, (size_t)views[i].len);
    }
  }
  if (!st && capture) {
    pkt_session_set_instruction_hook(s, capture_instruction, capture);
    st = pkt_session_run(s);
    pkt_session_set_instruction_hook(s, NULL, NULL);
  } else if (!st) {
    st = pkt_session_run(s);
  }
  for (int i = 0; i < no && !st; i++)
    memcpy(views[ni + i].buf, pkt_session_output_data(s, i), (size_t)views[ni + i].len);
  for (int i = 0; i < ni; i++) pkt_session_bind_input(s, i, NULL, 0);
  return st;
}

/* run(inputs: sequence of buffers, outputs: sequence of writable buffers[, capture buffer, capture offsets]) */
static PyObject* Session_run(SessionObject* self, PyObject* args) {
  PyObject *inputs, *outputs, *capture_buf = NULL, *capture_offsets = NULL;
  if (!PyArg_ParseTuple(args, "OO|OO", &inputs, &outputs, &capture_buf, &capture_offsets)) return NULL;
  if ((capture_buf == NULL) != (capture_offsets == NULL))
    return raise_status(PKT_INVALID_ARGUMENT, "a capture needs both its buffer and its offsets");
  if (!self->program) return session_gone(self);
  const pkt_program* prog = self->program->program; /* kept alive by self->program until dealloc */
  int ni = pkt_program_num_inputs(prog), no = pkt_program_num_outputs(prog);
  Py_ssize_t given_in = PySequence_Length(inputs), given_out = given_in < 0 ? -1 : PySequence_Length(outputs);
  if (given_in < 0 || given_out < 0) return NULL;
  if (given_in != ni || given_out != no) return raise_status(PKT_INPUT_COUNT, "wrong number of input or output buffers");
  Py_buffer stack_views[16];
  Py_buffer* views = ni + no <= 16 ? stack_views : PyMem_Malloc((size_t)(ni + no) * sizeof(Py_buffer));
  if (!views) return PyErr_NoMemory();
  int held = hold_buffers(prog, inputs, outputs, views);
  Py_buffer cap_view = {0}, off_view = {0};
  capture_state cap = {0};
  int captured = 0;
  if (held == ni + no && capture_buf) {
    if (PyObject_GetBuffer(capture_buf, &cap_view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) == 0) {
      captured |= 1;
      if (PyObject_GetBuffer(capture_offsets, &off_view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
        captured |= 2;
        if (off_view.itemsize != sizeof(int64_t) || off_view.len % sizeof(int64_t)) {
          raise_status(PKT_INVALID_ARGUMENT, "capture offsets must be int64");
        } else {
          cap.base = cap_view.buf;
          cap.size = (size_t)cap_view.len;
          cap.offsets = off_view.buf;
          cap.count = off_view.len / (Py_ssize_t)sizeof(int64_t);
          captured |= 4;
        }
      }
    }
  }
  int ready = held == ni + no && (!capture_buf || captured == 7);
  pkt_status st = PKT_OK;
  int closed = 0;
  if (ready) {
    Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
    if (self->session)
      st = run_locked(self->session, prog, views, capture_buf ? &cap : NULL);
    else
      closed = 1;
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
  }
  if (captured & 1) PyBuffer_Release(&cap_view);
  if (captured & 2) PyBuffer_Release(&off_view);
  for (int i = 0; i < held; i++) PyBuffer_Release(&views[i]);
  if (views != stack_views) PyMem_Free(views);
  if (!ready) return NULL;
  if (closed) return session_gone(self);
  if (st) return raise_status(st, NULL);
  if (cap.overflow || cap.next != cap.count)
    return raise_status(PKT_INVALID_ARGUMENT, "the capture offsets do not match the instructions' outputs");
  Py_RETURN_NONE;
}

/* run_shaped(inputs: sequence of C-contiguous buffers, shapes: sequence of dims tuples) -> [(dims, bytearray)]:
 * a program with dynamic dims, whose outputs' shapes are known only once the inputs' are. */
static PyObject* Session_run_shaped(SessionObject* self, PyObject* args) {
  PyObject *inputs, *shapes;
  if (!PyArg_ParseTuple(args, "OO", &inputs, &shapes)) return NULL;
  if (!self->program) return session_gone(self);
  const pkt_program* prog = self->program->program;
  int ni = pkt_program_num_inputs(prog), no = pkt_program_num_outputs(prog);
  if (PySequence_Length(inputs) != ni || PySequence_Length(shapes) != ni)
    return PyErr_Occurred() ? NULL : raise_status(PKT_INPUT_COUNT, "wrong number of inputs or shapes");
  if (ni > 64) return raise_status(PKT_INPUT_COUNT, "run_shaped takes at most 64 inputs");
  Py_buffer views[64];
  int64_t dims[64][PKT_MAX_RANK];
  int ranks[64], held = 0;
  for (; held < ni; held++) {
    PyObject* shape = PySequence_GetItem(shapes, held);
    if (!shape) break;
    Py_ssize_t rank = PySequence_Length(shape);
    int ok = rank >= 0 && rank <= PKT_MAX_RANK;
    for (Py_ssize_t d = 0; ok && d < rank; d++) {
      PyObject* v = PySequence_GetItem(shape, d);
      dims[held][d] = v ? PyLong_AsLongLong(v) : -1;
      Py_XDECREF(v);
      ok = !PyErr_Occurred();
    }
    Py_DECREF(shape);
    if (!ok) {
      if (!PyErr_Occurred()) raise_status(PKT_INPUT_SHAPE, "an input has more dims than a program allows");
      break;
    }
    ranks[held] = (int)rank;
    PyObject* item = PySequence_GetItem(inputs, held);
    if (!item) break;
    int rc = PyObject_GetBuffer(item, &views[held], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT);
    Py_DECREF(item);
    if (rc) break;
  }
  PyObject* result = NULL;
  if (held == ni) {
    pkt_status st = PKT_OK;
    char err[256] = "";
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
    pkt_session* s = self->session;
    if (!s) closed = 1;
    for (int i = 0; i < ni && s && !st; i++) {
      st = pkt_session_set_input_shape(s, i, dims[i], ranks[i], err, sizeof err);
      if (!st) st = pkt_session_bind_input(s, i, views[i].buf, (size_t)views[i].len);
      if (st == PKT_BAD_ALIGNMENT) {
        pkt_session_bind_input(s, i, NULL, 0);
        st = pkt_session_set_input(s, i, views[i].buf, (size_t)views[i].len);
      }
      if (st && !err[0]) snprintf(err, sizeof err, "input %d has %zd bytes, its shape needs another size", i, views[i].len);
    }
    if (s && !st) {
      st = pkt_session_run(s);
      if (st) snprintf(err, sizeof err, "%s", pkt_session_error(s));
    }
    Py_END_ALLOW_THREADS
    if (closed) {
      PyThread_release_lock(self->lock);
      session_gone(self);
    } else if (st) {
      for (int i = 0; i < ni; i++) pkt_session_bind_input(self->session, i, NULL, 0);
      PyThread_release_lock(self->lock);
      raise_status(st, err);
    } else {
      result = PyList_New(no);
      for (int o = 0; result && o < no; o++) {
        pkt_tensor_info info;
        pkt_session_output_info(self->session, o, &info);
        PyObject* shape = PyTuple_New(info.rank);
        PyObject* data = PyByteArray_FromStringAndSize(pkt_session_output_data(self->session, o), (Py_ssize_t)info.nbytes);
        for (int d = 0; shape && d < info.rank; d++) PyTuple_SET_ITEM(shape, d, PyLong_FromLongLong(info.dims[d]));
        PyObject* pair = shape && data ? PyTuple_Pack(2, shape, data) : NULL;
        Py_XDECREF(shape);
        Py_XDECREF(data);
        if (!pair) Py_CLEAR(result);
        else PyList_SET_ITEM(result, o, pair);
      }
      for (int i = 0; i < ni; i++) pkt_session_bind_input(self->session, i, NULL, 0);
      PyThread_release_lock(self->lock);
    }
  }
  for (int i = 0; i < held; i++) PyBuffer_Release(&views[i]);
  return result;
}

/* [(name, min, max)] of the program's symbols, and per input the symbol index of each dim (-1: static). */
static PyObject* Program_symbols(ProgramObject* self, PyObject* unused) {
  const pkt_program* p = program_of(self);
  if (!p) return NULL;
  int n = pkt_program_num_symbols(p), ni = pkt_program_num_inputs(p);
  PyObject* syms = PyList_New(n);
  PyObject* per_input = PyList_New(ni);
  for (int k = 0; syms && k < n; k++) {
    const char* name;
    int64_t lo, hi;
    pkt_program_symbol(p, k, &name, &lo, &hi);
    PyList_SET_ITEM(syms, k, Py_BuildValue("(sLL)", name, (long long)lo, (long long)hi));
  }
  for (int i = 0; per_input && i < ni; i++) {
    pkt_tensor_info info;
    pkt_program_input_info(p, i, &info);
    PyObject* t = PyTuple_New(info.rank);
    for (int d = 0; t && d < info.rank; d++) PyTuple_SET_ITEM(t, d, PyLong_FromLong(pkt_program_input_dim_symbol(p, i, d)));
    PyList_SET_ITEM(per_input, i, t);
  }
  PyObject* r = syms && per_input ? Py_BuildValue("(OO)", syms, per_input) : NULL;
  Py_XDECREF(syms);
  Py_XDECREF(per_input);
  return r;
}

static PyObject* Session_packed_weights(SessionObject* self, PyObject* unused) {
  if (!self->program) return session_gone(self);
  PyThread_acquire_lock(self->lock, WAIT_LOCK);
  PyObject* r = self->session ? PyBytes_FromStringAndSize(pkt_session_packed_data(self->session),
                                                          (Py_ssize_t)pkt_session_packed_bytes(self->session))
                              : PyBytes_FromStringAndSize("", 0);
  PyThread_release_lock(self->lock);
  return r;
}

/* plan_shapes(shapes) -> ([output dims], used arena bytes): every shape at these input shapes, without running. */
static PyObject* Session_plan_shapes(SessionObject* self, PyObject* shapes) {
  if (!self->program) return session_gone(self);
  const pkt_program* prog = self->program->program;
  int ni = pkt_program_num_inputs(prog), no = pkt_program_num_outputs(prog);
  if (PySequence_Length(shapes) != ni) return PyErr_Occurred() ? NULL : raise_status(PKT_INPUT_COUNT, "one shape per input");
  int64_t dims[64][PKT_MAX_RANK];
  int ranks[64];
  if (ni > 64) return raise_status(PKT_INPUT_COUNT, "at most 64 inputs");
  for (int i = 0; i < ni; i++) {
    PyObject* shape = PySequence_GetItem(shapes, i);
    Py_ssize_t rank = shape ? PySequence_Length(shape) : -1;
    if (rank < 0 || rank > PKT_MAX_RANK) {
      Py_XDECREF(shape);
      return PyErr_Occurred() ? NULL : raise_status(PKT_INPUT_SHAPE, "an input has more dims than a program allows");
    }
    for (Py_ssize_t d = 0; d < rank; d++) {
      PyObject* v = PySequence_GetItem(shape, d);
      dims[i][d] = v ? PyLong_AsLongLong(v) : -1;
      Py_XDECREF(v);
    }
    Py_DECREF(shape);
    if (PyErr_Occurred()) return NULL;
    ranks[i] = (int)rank;
  }
  char err[256] = "";
  pkt_status st = PKT_OK;
  PyThread_acquire_lock(self->lock, WAIT_LOCK);
  pkt_session* s = self->session;
  for (int i = 0; s && i < ni && !st; i++) st = pkt_session_set_input_shape(s, i, dims[i], ranks[i], err, sizeof err);
  if (s && !st && (st = pkt_session_update_shapes(s))) snprintf(err, sizeof err, "%s", pkt_session_error(s));
  PyObject* result = NULL;
  if (s && !st) {
    PyObject* outs = PyList_New(no);
    for (int o = 0; outs && o < no; o++) {
      pkt_tensor_info info;
      pkt_session_output_info(s, o, &info);
      PyObject* t = PyTuple_New(info.rank);
      for (int d = 0; t && d < info.rank; d++) PyTuple_SET_ITEM(t, d, PyLong_FromLongLong(info.dims[d]));
      if (!t) Py_CLEAR(outs);
      else PyList_SET_ITEM(outs, o, t);
    }
    if (outs) result = Py_BuildValue("(Nn)", outs, (Py_ssize_t)pkt_session_used_arena_bytes(s));
  }
  PyThread_release_lock(self->lock);
  if (!s) return session_gone(self);
  if (st) return raise_status(st, err);
  return result;
}

/* Arena bytes the shapes of the last run used (the planned arena is for the bounds). */
static PyObject* Session_used_arena_bytes(SessionObject* self, PyObject* unused) {
  if (!self->program) return session_gone(self);
  PyThread_acquire_lock(self->lock, WAIT_LOCK);
  size_t n = self->session ? pkt_session_used_arena_bytes(self->session) : 0;
  PyThread_release_lock(self->lock);
  return PyLong_FromSize_t(n);
}

static PyObject* Session_set_profiling(SessionObject* self, PyObject* arg) {
  int enabled = PyObject_IsTrue(arg);
  if (enabled < 0) return NULL;
  pkt_session* s = locked_session(self);
  if (!s) return NULL;
  pkt_session_enable_profiling(s, enabled);
  PyThread_release_lock(self->lock);
  Py_RETURN_NONE;
}

static PyObject* Session_profile_ns(SessionObject* self, PyObject* unused) {
  if (!self->program) return session_gone(self);
  int n = pkt_program_num_instructions(self->program->program);
  PyObject* list = PyList_New(n);
  uint64_t* copy = PyMem_Malloc(((size_t)n + 1) * sizeof(uint64_t));
  if (!list || !copy) {
    Py_XDECREF(list);
    PyMem_Free(copy);
    return PyErr_NoMemory();
  }
  pkt_session* s = locked_session(self);
  if (!s) {
    Py_DECREF(list);
    PyMem_Free(copy);
    return NULL;
  }
  memcpy(copy, pkt_session_profile_ns(s), (size_t)n * sizeof(uint64_t));
  PyThread_release_lock(self->lock);
  for (int i = 0; i < n; i++) PyList_SET_ITEM(list, i, PyLong_FromUnsignedLongLong(copy[i]));
  PyMem_Free(copy);
  return list;
}

/* [[(name, dtype code, dims, nbytes) per output] per instruction]: what run()'s capture copies out. */
static PyObject* Session_instruction_outputs(SessionObject* self, PyObject* unused) {
  pkt_session* s = locked_session(self);
  if (!s) return NULL;
  int n = pkt_program_num_instructions(self->program->program);
  PyObject* list = PyList_New(n);
  for (int i = 0; list && i < n; i++) {
    int no = pkt_program_instruction_num_outputs(self->program->program, i);
    PyObject* outs = PyList_New(no);
    for (int k = 0; outs && k < no; k++) {
      pkt_tensor_info info;
      pkt_session_instruction_output(s, i, k, &info);
      PyObject* t = info_tuple(&info);
      if (!t) Py_CLEAR(outs);
      else PyList_SET_ITEM(outs, k, t);
    }
    if (!outs) Py_CLEAR(list);
    else PyList_SET_ITEM(list, i, outs);
  }
  PyThread_release_lock(self->lock);
  return list;
}

static PyObject* Session_num_threads(SessionObject* self, PyObject* unused) {
  pkt_session* s = locked_session(self);
  if (!s) return NULL;
  int n = pkt_session_num_threads(s);
  PyThread_release_lock(self->lock);
  return PyLong_FromLong(n);
}

static PyObject* Session_packed_bytes(SessionObject* self, PyObject* unused) {
  pkt_session* s = locked_session(self);
  if (!s) return NULL;
  size_t n = pkt_session_packed_bytes(s);
  PyThread_release_lock(self->lock);
  return PyLong_FromSize_t(n);
}

static PyObject* Session_isa(SessionObject* self, PyObject* unused) {
  pkt_session* s = locked_session(self);
  if (!s) return NULL;
  const char* isa = pkt_session_isa(s); /* a static string */
  PyThread_release_lock(self->lock);
  return PyUnicode_FromString(isa);
}

/* [{backend, device, driver, active, reason, instruction, fallback, last_device_ns}] per delegate. */
static PyObject* Session_delegates(SessionObject* self, PyObject* unused) {
  pkt_session* s = locked_session(self);
  if (!s) return NULL;
  PyObject* list = PyList_New(0);
  for (int k = 0; list && k < pkt_session_num_delegates(s); k++) {
    pkt_delegate_info d;
    pkt_session_delegate_info(s, k, &d);
    PyObject* item = Py_BuildValue("{s:s,s:s,s:s,s:O,s:s,s:i,s:i,s:K}", "backend", d.backend, "device", d.device,
                                   "driver", d.driver, "active", d.active ? Py_True : Py_False, "reason", d.reason,
                                   "instruction", d.instruction, "fallback", d.fallback, "last_device_ns",
                                   (unsigned long long)d.last_device_ns);
    if (!item || PyList_Append(list, item)) Py_CLEAR(list);
    Py_XDECREF(item);
  }
  PyThread_release_lock(self->lock);
  return list;
}

/* Free the session now (waiting for a run in progress); later calls raise. Calling it again does nothing. */
static PyObject* Session_close(SessionObject* self, PyObject* unused) {
  lock_session(self);
  pkt_session* s = self->session;
  self->session = NULL;
  PyThread_release_lock(self->lock);
  Py_BEGIN_ALLOW_THREADS pkt_session_free(s);
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

static PyMethodDef Session_methods[] = {
    {"packed_bytes", (PyCFunction)Session_packed_bytes, METH_NOARGS, "bytes of weights repacked at load"},
    {"isa", (PyCFunction)Session_isa, METH_NOARGS, "SIMD instruction set in use"},
    {"delegates", (PyCFunction)Session_delegates, METH_NOARGS, "[dict] per delegate: where it runs and why"},
    {"run", (PyCFunction)Session_run, METH_VARARGS,
     "run(inputs, outputs[, capture, offsets]): read inputs in place, execute, copy outputs out; with a capture "
     "buffer and int64 offsets, also copy every instruction's outputs there as it runs"},
    {"instruction_outputs", (PyCFunction)Session_instruction_outputs, METH_NOARGS,
     "[[(name, dtype code, dims, nbytes)] per instruction]"},
    {"run_shaped", (PyCFunction)Session_run_shaped, METH_VARARGS, "run_shaped(inputs, shapes) -> [(dims, bytearray)]"},
    {"used_arena_bytes", (PyCFunction)Session_used_arena_bytes, METH_NOARGS, "arena bytes the last run's shapes used"},
    {"plan_shapes", (PyCFunction)Session_plan_shapes, METH_O, "plan_shapes(input shapes) -> ([output dims], used arena)"},
    {"packed_weights", (PyCFunction)Session_packed_weights, METH_NOARGS, "a copy of the weights repacked at load"},
    {"set_profiling", (PyCFunction)Session_set_profiling, METH_O, "record per-instruction times"},
    {"profile_ns", (PyCFunction)Session_profile_ns, METH_NOARGS, "per-instruction times of the last run"},
    {"num_threads", (PyCFunction)Session_num_threads, METH_NOARGS, "threads in use"},
    {"close", (PyCFunction)Session_close, METH_NOARGS, "free the session now; later calls raise"},
    {NULL}};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pockettorch.runtime._native.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Session_new,
    .tp_init = (initproc)Session_init,
    .tp_dealloc = (destructor)Session_dealloc,
    .tp_methods = Session_methods,
    .tp_doc = "Session(program, num_threads=1): a prepared program ready to run.",
};

static PyObject* status_info(PyObject* self, PyObject* arg) {
  int overflow = 0;
  long code = PyLong_AsLongAndOverflow(arg, &overflow);
  if (code == -1 && PyErr_Occurred()) return NULL;
  if (overflow || code < INT_MIN || code > INT_MAX) return PyErr_Format(PyExc_OverflowError, "status code out of range");
  return Py_BuildValue("(sss)", pkt_status_name((pkt_status)code), pkt_status_message((pkt_status)code),
                       pkt_status_hint((pkt_status)code));
}

/* embedded_sizes(bytes) -> (workspace_bytes, arena_bytes): what the C SDK's embedded profile needs for this
 * program, measured with the runtime itself: the workspace peak of loading it into a pkt_workspace and
 * creating one single-threaded session there, and that session's arena with the portable kernels (the
 * only ones platform_embedded.c runs). Host sizes bound 32-bit targets' (pointers are no larger there). */
static PyObject* embedded_sizes(PyObject* self, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
  size_t size = (size_t)view.len;
  void* data = pkt_aligned_alloc(PKT_ALIGNMENT, size ? size : 1);
  if (!data) {
    PyBuffer_Release(&view);
    return PyErr_NoMemory();
  }
  memcpy(data, view.buf, size);
  PyBuffer_Release(&view);
  char err[512] = "";
  pkt_status st = PKT_OUT_OF_MEMORY;
  size_t workspace = 0, arena = 0;
  for (size_t cap = 64 * 1024; st == PKT_OUT_OF_MEMORY && cap <= ((size_t)1 << 32); cap *= 4) {
    void* memory = malloc(cap);
    if (!memory) break;
    pkt_workspace ws;
    pkt_workspace_init(&ws, memory, cap);
    pkt_program* program = NULL;
    pkt_session* session = NULL;
    pkt_session_options opt = pkt_session_options_default();
    st = pkt_program_load_buffer_in(data, size, &ws, &program, err, sizeof err);
    if (st == PKT_OK) st = pkt_session_create(program, &opt, &session, err, sizeof err);
    if (st == PKT_OK) {
      workspace = pkt_workspace_peak(&ws);
      arena = pkt_session_required_arena_isa(program, 1, PKT_ISA_PORTABLE);
    }
    pkt_session_free(session);
    pkt_program_free(program);
    free(memory);
  }
  pkt_aligned_free(data);
  if (st != PKT_OK) return raise_status(st, err);
  return Py_BuildValue("(nn)", (Py_ssize_t)workspace, (Py_ssize_t)arena);
}

static PyMethodDef module_methods[] = {
    {"status_info", status_info, METH_O, "(name, message, hint) of a C status code"},
    {"embedded_sizes", embedded_sizes, METH_O, "(workspace_bytes, arena_bytes) of the C SDK's embedded profile"},
    {NULL}};

static struct PyModuleDef native_module = {PyModuleDef_HEAD_INIT, "_native", "PocketTorch C runtime binding", -1,
                                           module_methods};

PyMODINIT_FUNC PyInit__native(void) {
  if (PyType_Ready(&ProgramType) < 0 || PyType_Ready(&SessionType) < 0) return NULL;
  PyObject* m = PyModule_Create(&native_module);
  if (!m) return NULL;
  NativeError = PyErr_NewException("pockettorch.runtime._native.NativeError", NULL, NULL);
  Py_INCREF(&ProgramType);
  Py_INCREF(&SessionType);
  PyModule_AddObject(m, "Program", (PyObject*)&ProgramType);
  PyModule_AddObject(m, "Session", (PyObject*)&SessionType);
  PyModule_AddObject(m, "NativeError", NativeError);
  PyModule_AddStringConstant(m, "version", pkt_runtime_version());
  return m;
}
