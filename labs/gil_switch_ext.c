/* undeclared_ext: the gil_switch lab's own C extension, built into free-threaded images.
 *
 * A single-phase module that does NOT declare that it can run without the GIL: it has no
 * Py_mod_gil slot and never calls PyUnstable_Module_SetGIL(). A free-threaded CPython
 * therefore turns the GIL back on when it is imported, with a RuntimeWarning naming the
 * module, unless PYTHON_GIL=0 or -X gil=0 says otherwise (PEP 703; C API docs, "Supporting
 * Free Threading": "Declaring free-threaded support"; free-threading HOWTO).
 *
 *   gcc -shared -fPIC $(python3.13t-config --includes) gil_switch_ext.c \
 *       -o undeclared_ext$(python3.13t -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
 */
#include <Python.h>

static PyObject *
answer(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "Return 42."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "undeclared_ext",
    "A C extension that has not declared free-threading support.", -1, methods,
};

PyMODINIT_FUNC
PyInit_undeclared_ext(void)
{
    return PyModule_Create(&module);
}
