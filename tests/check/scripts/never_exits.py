# Never exits: bounded by --timeout, then killed with its process group.
import threading

threading.Event().wait()
