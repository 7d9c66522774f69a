# The same script with the guard: safe under every start method.
# Run it as a script: python snippets/guarded.py fork|spawn|forkserver|default
import multiprocessing as mp
import sys

print("module body runs", flush=True)


def dummy():
    print("Dummy", flush=True)


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "default"
    context = mp if method == "default" else mp.get_context(method)
    process = context.Process(target=dummy)
    process.start()
    process.join()
    print("child exitcode", process.exitcode, flush=True)
