/* lab_singlephase: the smallest extension module with *single-phase* initialisation.
 *
 * PyInit_lab_singlephase returns a finished module from PyModule_Create (no module def
 * slots), so the module declares nothing about itself:
 *
 * - no Py_mod_multiple_interpreters slot: an isolated subinterpreter (PEP 684, PEP 734's
 *   concurrent.interpreters) refuses to import it, with "ImportError: module
 *   lab_singlephase does not support loading in subinterpreters";
 * - no Py_mod_gil slot: a free-threaded build turns the GIL back on when it is imported,
 *   with a RuntimeWarning (PEP 703, "Python support for free threading" HOWTO).
 *
 * Its one C-level global, ``calls``, is process-wide state of the kind that makes a
 * single-phase module unsafe to share between interpreters. Built in every image (the
 * `ext` stage of images/Dockerfile) for each interpreter it has, the free-threaded one
 * included; shared by the labs that need such a module (gil_switch, interpreters_limits).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long calls = 0;

static PyObject *
count(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(++calls);
}

static PyMethodDef methods[] = {
    {"count", count, METH_NOARGS, "Add one to a process-wide C counter and return it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lab_singlephase",
    "A single-phase-init extension module (no slots): see labs/lab_singlephase.c.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit_lab_singlephase(void)
{
    return PyModule_Create(&module);
}
