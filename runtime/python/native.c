/* pockettorch.runtime._native: a thin CPython binding over the C API (pockettorch.h).
 * Program(path | bytes) validates a program; Session(program, num_threads) prepares it and runs
 * with buffers given through the buffer protocol. Errors raise NativeError(code, detail); the
 * Python layer (runtime/module.py) maps codes onto the catalogue's exception classes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pockettorch/pockettorch.h"
#include "cpu.h"     /* PKT_ISA_PORTABLE */
#include "program.h" /* pkt_session_required_arena_isa */

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

static int Program_init(ProgramObject* self, PyObject* args, PyObject* kwds) {
  PyObject* source;
  if (!PyArg_ParseTuple(args, "O", &source)) return -1;
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
  size_t len = 0;
  const char* text = pkt_program_metadata(self->program, &len);
  return PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
}

static PyObject* Program_arena_bytes(ProgramObject* self, PyObject* unused) {
  return PyLong_FromSize_t(pkt_program_arena_bytes(self->program));
}

static PyObject* Program_instructions(ProgramObject* self, PyObject* unused) {
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

static PyMethodDef Program_methods[] = {
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
  pkt_session* session;
  ProgramObject* program;
} SessionObject;

static void Session_dealloc(SessionObject* self) {
  pkt_session_free(self->session);
  Py_XDECREF(self->program);
  Py_TYPE(self)->tp_free((PyObject*)self);
}

static int Session_init(SessionObject* self, PyObject* args, PyObject* kwds) {
  PyObject* program;
  int threads = 1;
  if (!PyArg_ParseTuple(args, "O!|i", &ProgramType, &program, &threads)) return -1;
  pkt_session_options opt = pkt_session_options_default();
  opt.num_threads = threads;
  char err[512] = "";
  pkt_status st;
  pkt_program* prog = ((ProgramObject*)program)->program;
  Py_BEGIN_ALLOW_THREADS st = pkt_session_create(prog, &opt, &self->session, err, sizeof err);
  Py_END_ALLOW_THREADS if (st != PKT_OK) {
    raise_status(st, err);
    return -1;
  }
  Py_INCREF(program);
  self->program = (ProgramObject*)program;
  return 0;
}

/* run(inputs: sequence of buffers, outputs: sequence of writable buffers) */
static PyObject* Session_run(SessionObject* self, PyObject* args) {
  PyObject *inputs, *outputs;
  if (!PyArg_ParseTuple(args, "OO", &inputs, &outputs)) return NULL;
  const pkt_program* prog = self->program->program;
  int ni = pkt_program_num_inputs(prog), no = pkt_program_num_outputs(prog);
  if (PySequence_Length(inputs) != ni || PySequence_Length(outputs) != no) {
    if (!PyErr_Occurred()) raise_status(PKT_INPUT_COUNT, "wrong number of input or output buffers");
    return NULL;
  }
  /* Inputs are read in place from the callers' buffers (held until the run ends), copied only when a
   * buffer is not aligned for its dtype; the arena buffers are bound again after the run. */
  Py_buffer stack_views[8];
  Py_buffer* views = ni <= 8 ? stack_views : PyMem_Malloc((size_t)ni * sizeof(Py_buffer));
  if (!views) return PyErr_NoMemory();
  int held = 0;
  pkt_status st = PKT_OK;
  const char* what = NULL;
  for (; held < ni; held++) {
    PyObject* item = PySequence_GetItem(inputs, held);
    if (!item) break;
    int rc = PyObject_GetBuffer(item, &views[held], PyBUF_C_CONTIGUOUS);
    Py_DECREF(item);
    if (rc) break;
    st = pkt_session_bind_input(self->session, held, views[held].buf, (size_t)views[held].len);
    if (st == PKT_BAD_ALIGNMENT) {
      pkt_session_bind_input(self->session, held, NULL, 0);
      st = pkt_session_set_input(self->session, held, views[held].buf, (size_t)views[held].len);
    }
    if (st) {
      what = "has the wrong byte size";
      held++;
      break;
    }
  }
  if (held == ni && !st) {
    Py_BEGIN_ALLOW_THREADS st = pkt_session_run(self->session);
    Py_END_ALLOW_THREADS
  }
  for (int i = 0; i < held; i++) {
    pkt_session_bind_input(self->session, i, NULL, 0);
    PyBuffer_Release(&views[i]);
  }
  if (views != stack_views) PyMem_Free(views);
  if (PyErr_Occurred()) return NULL;
  if (st && what) {
    char msg[128];
    snprintf(msg, sizeof msg, "input %d %s", held - 1, what);
    return raise_status(st, msg);
  }
  if (st) return raise_status(st, NULL);
  for (int i = 0; i < no; i++) {
    PyObject* item = PySequence_GetItem(outputs, i);
    if (!item) return NULL;
    Py_buffer view;
    int rc = PyObject_GetBuffer(item, &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE);
    Py_DECREF(item);
    if (rc) return NULL;
    pkt_tensor_info info;
    pkt_program_output_info(prog, i, &info);
    if ((size_t)view.len != info.nbytes) {
      PyBuffer_Release(&view);
      return raise_status(PKT_INVALID_ARGUMENT, "output buffer has the wrong byte size");
    }
    memcpy(view.buf, pkt_session_output_data(self->session, i), info.nbytes);
    PyBuffer_Release(&view);
  }
  Py_RETURN_NONE;
}

static PyObject* Session_set_profiling(SessionObject* self, PyObject* arg) {
  pkt_session_enable_profiling(self->session, PyObject_IsTrue(arg));
  Py_RETURN_NONE;
}

static PyObject* Session_profile_ns(SessionObject* self, PyObject* unused) {
  int n = pkt_program_num_instructions(self->program->program);
  const uint64_t* ns = pkt_session_profile_ns(self->session);
  PyObject* list = PyList_New(n);
  if (!list) return NULL;
  for (int i = 0; i < n; i++) PyList_SET_ITEM(list, i, PyLong_FromUnsignedLongLong(ns[i]));
  return list;
}

static PyObject* Session_num_threads(SessionObject* self, PyObject* unused) {
  return PyLong_FromLong(pkt_session_num_threads(self->session));
}

static PyObject* Session_packed_bytes(SessionObject* self, PyObject* unused) {
  return PyLong_FromSize_t(pkt_session_packed_bytes(self->session));
}

static PyObject* Session_isa(SessionObject* self, PyObject* unused) {
  return PyUnicode_FromString(pkt_session_isa(self->session));
}

static PyMethodDef Session_methods[] = {
    {"packed_bytes", (PyCFunction)Session_packed_bytes, METH_NOARGS, "bytes of weights repacked at load"},
    {"isa", (PyCFunction)Session_isa, METH_NOARGS, "SIMD instruction set in use"},
    {"run", (PyCFunction)Session_run, METH_VARARGS, "run(inputs, outputs): read inputs in place, execute, copy outputs out"},
    {"set_profiling", (PyCFunction)Session_set_profiling, METH_O, "record per-instruction times"},
    {"profile_ns", (PyCFunction)Session_profile_ns, METH_NOARGS, "per-instruction times of the last run"},
    {"num_threads", (PyCFunction)Session_num_threads, METH_NOARGS, "threads in use"},
    {NULL}};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pockettorch.runtime._native.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Session_init,
    .tp_dealloc = (destructor)Session_dealloc,
    .tp_methods = Session_methods,
    .tp_doc = "Session(program, num_threads=1): a prepared program ready to run.",
};

static PyObject* status_info(PyObject* self, PyObject* arg) {
  long code = PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
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
