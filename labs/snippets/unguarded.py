# The course notebook's script, with no `if __name__ == "__main__":` guard.
# Run it as a script: python snippets/unguarded.py fork|spawn|forkserver|default
import multiprocessing as mp
import sys

print("module body runs", flush=True)


def dummy():
    print("Dummy", flush=True)


method = sys.argv[1] if len(sys.argv) > 1 else "default"
context = mp if method == "default" else mp.get_context(method)
process = context.Process(target=dummy)
process.start()
process.join()
print("child exitcode", process.exitcode, flush=True)
